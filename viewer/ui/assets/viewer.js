// The page talks to the viewer API next to it: ../splits, ../rows, …
"use strict";
const api = new URL("..", location.href);
const params = new URLSearchParams(location.search);
const dataset = params.get("dataset") || "";
const state = { config: "", split: "", offset: 0, mode: "rows", query: "", where: "", orderby: "", total: 0, stats: {} };
const $ = (id) => document.getElementById(id);

async function call(endpoint, args) {
  const u = new URL(endpoint, api);
  for (const [k, v] of Object.entries(args)) if (v !== "" && v !== undefined) u.searchParams.set(k, v);
  const resp = await fetch(u, { credentials: "same-origin" });
  const body = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const err = new Error(body.error || resp.statusText);
    err.code = resp.headers.get("X-Error-Code");
    throw err;
  }
  return body;
}

function status(msg, isError) {
  $("status").textContent = msg;
  $("status").className = isError ? "error" : "";
}

function option(sel, value) {
  const o = document.createElement("option");
  o.value = o.textContent = value;
  sel.appendChild(o);
}

async function loadSplits() {
  $("title").textContent = dataset ? "Dataset viewer: " + dataset : "Dataset viewer (add ?dataset=namespace/name)";
  if (!dataset) return;
  try {
    const r = await call("splits", { dataset });
    const configs = [...new Set(r.splits.map((s) => s.config))];
    $("config").replaceChildren();
    configs.forEach((c) => option($("config"), c));
    state.splitsByConfig = {};
    r.splits.forEach((s) => (state.splitsByConfig[s.config] ||= []).push(s.split));
    if (configs.length === 0) { status("This dataset has no split that could be converted.", true); return; }
    selectConfig(configs[0]);
  } catch (e) {
    if (e.code === "ResponseNotReady") { status("The dataset is being processed… retrying."); setTimeout(loadSplits, 2000); return; }
    status(e.message, true);
  }
}

function selectConfig(c) {
  state.config = c;
  $("split").replaceChildren();
  state.splitsByConfig[c].forEach((s) => option($("split"), s));
  selectSplit(state.splitsByConfig[c][0]);
}

async function selectSplit(s) {
  state.split = s;
  state.offset = 0;
  state.mode = "rows";
  state.stats = {};
  try {
    const st = await call("statistics", { dataset, config: state.config, split: s });
    for (const c of st.statistics) state.stats[c.column_name] = c;
  } catch (e) { /* statistics are optional */ }
  load();
}

async function load() {
  const base = { dataset, config: state.config, split: state.split, offset: state.offset, length: 100 };
  let r;
  try {
    status("Loading…");
    if (state.mode === "search") r = await call("search", { ...base, query: state.query });
    else if (state.mode === "filter") r = await call("filter", { ...base, where: state.where, orderby: state.orderby });
    else r = await call("rows", base);
  } catch (e) {
    if (e.code === "ResponseNotReady") { status("Not ready yet… retrying."); setTimeout(load, 2000); return; }
    status(e.message, true);
    return;
  }
  state.total = r.num_rows_total;
  render(r);
  const last = Math.min(state.offset + r.rows.length, state.total);
  const what = state.mode === "search" ? "matches" : state.mode === "filter" ? "filtered rows" : "rows";
  status(`${state.total} ${what}`);
  $("pageinfo").textContent = state.total ? `${state.offset + 1}–${last} of ${state.total}` : "";
  $("prev").disabled = state.offset === 0;
  $("next").disabled = state.offset + 100 >= state.total;
}

function histogram(stat) {
  const box = document.createElement("div");
  const s = stat && stat.column_statistics;
  if (!s) return box;
  if (s.histogram) {
    const h = document.createElement("div");
    h.className = "hist";
    const max = Math.max(...s.histogram.hist, 1);
    s.histogram.hist.forEach((n, i) => {
      const bar = document.createElement("div");
      bar.style.height = (100 * n / max) + "%";
      bar.title = `${s.histogram.bin_edges[i]} – ${s.histogram.bin_edges[i + 1]}: ${n}`;
      h.appendChild(bar);
    });
    box.appendChild(h);
  } else if (s.frequencies) {
    const f = document.createElement("div");
    f.className = "freq";
    f.textContent = Object.entries(s.frequencies).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([k, v]) => `${k}: ${v}`).join(" · ");
    box.appendChild(f);
  }
  return box;
}

function typeName(t) {
  if (t._type === "Value") return t.dtype;
  if (t._type) return t._type;
  return Array.isArray(t) ? "list" : "struct";
}

function render(r) {
  const head = document.createElement("tr");
  head.appendChild(document.createElement("th"));
  for (const f of r.features) {
    const th = document.createElement("th");
    th.textContent = f.name + " ";
    const ty = document.createElement("span");
    ty.className = "type";
    ty.textContent = typeName(f.type);
    th.appendChild(ty);
    th.appendChild(histogram(state.stats[f.name]));
    th.title = "Sort by this column";
    th.onclick = () => {
      const q = '"' + f.name.replaceAll('"', '""') + '"';
      state.orderby = state.orderby === q + " ASC" ? q + " DESC" : q + " ASC";
      state.mode = "filter"; state.where = $("where").value.trim(); state.offset = 0; load();
    };
    head.appendChild(th);
  }
  $("table").tHead.replaceChildren(head);
  const body = document.createDocumentFragment();
  for (const row of r.rows) {
    const tr = document.createElement("tr");
    const idx = document.createElement("td");
    idx.className = "idx";
    idx.textContent = row.row_idx;
    tr.appendChild(idx);
    for (const f of r.features) {
      const td = document.createElement("td");
      const v = row.row[f.name];
      td.textContent = v === null || v === undefined ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v);
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
  $("table").tBodies[0].replaceChildren(body);
}

$("config").onchange = (e) => selectConfig(e.target.value);
$("split").onchange = (e) => selectSplit(e.target.value);
$("prev").onclick = () => { state.offset = Math.max(0, state.offset - 100); load(); };
$("next").onclick = () => { state.offset += 100; load(); };
$("searchForm").onsubmit = (e) => {
  e.preventDefault();
  state.query = $("search").value.trim();
  state.mode = state.query ? "search" : "rows";
  state.offset = 0;
  load();
};
$("filterForm").onsubmit = (e) => {
  e.preventDefault();
  state.where = $("where").value.trim();
  state.mode = state.where || state.orderby ? "filter" : "rows";
  state.offset = 0;
  load();
};
loadSplits();
