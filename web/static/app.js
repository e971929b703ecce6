// Haven pages: the parts that need the browser. Every page works without
// this script for reading; changes (likes, uploads, edits, settings) call
// the JSON API with the session cookie.
"use strict";

(function () {
	const $ = (sel, root) => (root || document).querySelector(sel);
	const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

	// api calls the JSON API as the signed-in user. The origin header lets
	// the server tell the hub's own pages from other sites.
	async function api(method, url, body, headers) {
		const opts = { method, credentials: "same-origin", headers: Object.assign({ "X-Haven-Origin": location.origin }, headers || {}) };
		if (body !== undefined) {
			if (typeof body === "string" || body instanceof Blob || body instanceof ArrayBuffer) {
				opts.body = body;
			} else {
				opts.body = JSON.stringify(body);
				opts.headers["Content-Type"] = "application/json";
			}
		}
		const res = await fetch(url, opts);
		const text = await res.text();
		let data = null;
		try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
		if (!res.ok) {
			const msg = (data && data.error) || res.headers.get("X-Error-Message") || res.statusText || ("HTTP " + res.status);
			const err = new Error(msg);
			err.status = res.status;
			throw err;
		}
		return data;
	}

	function show(el, text) {
		if (!el) return;
		el.textContent = text;
		el.hidden = !text;
		if (text) el.scrollIntoView({ block: "nearest" });
	}

	// --- Quick search: an ARIA combobox over /api/quicksearch. ---
	function quickSearch() {
		const form = $("[data-quicksearch]");
		if (!form) return;
		const input = $("input", form);
		const list = $(".qs-list", form);
		let items = [], active = -1, timer = 0, seq = 0;

		function close() {
			list.hidden = true;
			input.setAttribute("aria-expanded", "false");
			input.removeAttribute("aria-activedescendant");
			active = -1;
		}
		function select(i) {
			const opts = $$("[role=option]", list);
			opts.forEach((o, j) => o.setAttribute("aria-selected", j === i ? "true" : "false"));
			active = i;
			if (i >= 0 && opts[i]) {
				input.setAttribute("aria-activedescendant", opts[i].id);
				opts[i].scrollIntoView({ block: "nearest" });
			} else {
				input.removeAttribute("aria-activedescendant");
			}
		}
		function render(data, q) {
			list.textContent = "";
			items = [];
			const groups = [
				["Models", data.models, (x) => "/" + x.id],
				["Datasets", data.datasets, (x) => "/datasets/" + x.id],
				["Spaces", data.spaces, (x) => "/spaces/" + x.id],
				["Organisations", data.orgs, (x) => "/" + x.name],
				["Users", data.users, (x) => "/" + x.user],
			];
			for (const [label, entries, href] of groups) {
				if (!entries || !entries.length) continue;
				const g = document.createElement("li");
				g.className = "group";
				g.setAttribute("role", "presentation");
				g.textContent = label;
				list.appendChild(g);
				for (const e of entries) {
					const li = document.createElement("li");
					li.id = "qs-opt-" + items.length;
					li.setAttribute("role", "option");
					li.textContent = e.id || e.name || e.user;
					const url = href(e);
					li.addEventListener("mousedown", (ev) => { ev.preventDefault(); location.href = url; });
					items.push(url);
					list.appendChild(li);
				}
			}
			const all = document.createElement("li");
			all.id = "qs-opt-" + items.length;
			all.setAttribute("role", "option");
			all.textContent = "Search all models for “" + q + "”";
			const allURL = "/models?search=" + encodeURIComponent(q);
			all.addEventListener("mousedown", (ev) => { ev.preventDefault(); location.href = allURL; });
			items.push(allURL);
			list.appendChild(all);
			list.hidden = false;
			input.setAttribute("aria-expanded", "true");
			select(-1);
		}
		async function lookup() {
			const q = input.value.trim();
			const mine = ++seq;
			if (!q) { close(); return; }
			try {
				const data = await api("GET", "/api/quicksearch?limit=5&q=" + encodeURIComponent(q));
				if (mine === seq) render(data, q);
			} catch (e) { close(); }
		}
		input.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(lookup, 120); });
		input.addEventListener("keydown", (ev) => {
			if (list.hidden) {
				if (ev.key === "ArrowDown" && input.value.trim()) { lookup(); ev.preventDefault(); }
				return;
			}
			if (ev.key === "ArrowDown") { select(Math.min(active + 1, items.length - 1)); ev.preventDefault(); }
			else if (ev.key === "ArrowUp") { select(Math.max(active - 1, -1)); ev.preventDefault(); }
			else if (ev.key === "Escape") { close(); ev.preventDefault(); }
			else if (ev.key === "Enter" && active >= 0) { location.href = items[active]; ev.preventDefault(); }
		});
		input.addEventListener("blur", () => setTimeout(close, 100));
	}

	// --- Like button. ---
	function likes() {
		for (const btn of $$("[data-like]")) {
			btn.addEventListener("click", async () => {
				const liked = btn.getAttribute("aria-pressed") === "true";
				btn.disabled = true;
				try {
					await api(liked ? "DELETE" : "POST", btn.dataset.like);
					const count = $(".like-count", btn);
					const n = parseInt(count.textContent, 10) + (liked ? -1 : 1);
					count.textContent = n;
					const side = $(".like-count-side");
					if (side) side.textContent = n;
					btn.setAttribute("aria-pressed", liked ? "false" : "true");
					$(".like-label", btn).textContent = liked ? "Like" : "Liked";
				} catch (e) {
					alert("Could not update the like: " + e.message);
				} finally {
					btn.disabled = false;
				}
			});
		}
	}

	// --- Copy buttons and confirmations. ---
	function small() {
		for (const btn of $$("[data-copy], [data-copy-text]")) {
			btn.addEventListener("click", async () => {
				const text = btn.dataset.copyText || ($("pre", btn.parentElement) || {}).textContent || "";
				try {
					await navigator.clipboard.writeText(text);
					btn.textContent = "Copied";
				} catch (e) {
					btn.textContent = "Select and copy";
				}
				setTimeout(() => { btn.textContent = "Copy"; }, 1500);
			});
		}
		for (const form of $$("form[data-confirm]")) {
			form.addEventListener("submit", (ev) => { if (!confirm(form.dataset.confirm)) ev.preventDefault(); });
		}
		for (const form of $$("form[data-autosubmit]")) {
			const sel = $("select", form);
			if (sel) sel.addEventListener("change", () => form.submit());
		}
		// Menus built on <details> close with Escape and when clicking elsewhere.
		document.addEventListener("keydown", (ev) => {
			if (ev.key !== "Escape") return;
			for (const d of $$("details[data-menu][open]")) { d.open = false; $("summary", d).focus(); }
		});
		document.addEventListener("click", (ev) => {
			for (const d of $$("details[data-menu][open]")) if (!d.contains(ev.target)) d.open = false;
		});
	}

	// --- New repository. ---
	// A pull mirror from the new-repository page; the server reads the
	// type from the source's URL and syncs it at once.
	function newMirror() {
		const form = $("form[data-new-mirror]");
		if (!form) return;
		const err = $("[data-mirror-error]");
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			show(err, "");
			const f = form.elements;
			const source = f.source.value.trim().replace(/\/+$/, "");
			const name = f.name.value.trim() || source.split("/").pop().replace(/\.git$/, "");
			const button = $("button[type=submit]", form);
			button.disabled = true;
			try {
				const m = await api("POST", "/api/mirrors", { source, repo: f.owner.value + "/" + name, token: f.token.value, interval: Number(f.interval.value) });
				const prefix = m.repoType === "model" ? "" : m.repoType + "s/";
				const path = m.repo.split("/").map(encodeURIComponent).join("/");
				// The first sync runs on the server now; its page shows the
				// repository once it has a commit.
				button.textContent = "Syncing…";
				for (let i = 0; i < 600; i++) {
					const list = await api("GET", "/api/" + m.repoType + "s/" + path + "/mirrors");
					const mine = list.find((x) => x.id === m.id);
					if (mine && mine.lastError) throw new Error("The first sync failed: " + mine.lastError);
					if (mine && mine.lastSuccessAt) break;
					await new Promise((r) => setTimeout(r, 1000));
				}
				location.href = "/" + prefix + path;
			} catch (e) {
				show(err, e.message);
				button.disabled = false;
			}
		});
	}

	function newRepo() {
		newMirror();
		const form = $("form[data-new-repo]");
		if (!form) return;
		const err = $("[data-error]");
		const sdk = $("[data-sdk-field]");
		const sync = () => { sdk.hidden = form.elements.type.value !== "space"; };
		form.addEventListener("change", sync);
		sync();
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			show(err, "");
			const f = form.elements;
			const type = f.type.value;
			const body = { name: f.name.value.trim(), organization: f.owner.value, type, private: f.visibility.value === "private" };
			if (type === "space") body.sdk = f.sdk.value;
			if (f.license.value.trim()) body.license = f.license.value.trim();
			try {
				await api("POST", "/api/repos/create", body);
				const prefix = type === "model" ? "" : type + "s/";
				const url = "/" + prefix + encodeURIComponent(body.organization) + "/" + encodeURIComponent(body.name);
				if (body.license && type !== "space") {
					// The license goes into the card, where the hub reads it from.
					const readme = "---\nlicense: " + body.license + "\n---\n\n# " + body.name + "\n";
					await commit("/api/" + type + "s/" + encodeURIComponent(body.organization) + "/" + encodeURIComponent(body.name), "main",
						"Add README.md", "", [{ key: "file", value: { path: "README.md", content: b64text(readme), encoding: "base64" } }]);
				}
				location.href = url;
			} catch (e) {
				show(err, e.message);
			}
		});
	}

	// --- Repository settings. ---
	function settings() {
		const root = $("[data-repo-settings]");
		if (!root) return;
		const err = $("[data-error]", root), ok = $("[data-ok]", root);
		const type = root.dataset.type, id = root.dataset.id;
		const prefix = type === "model" ? "" : type + "s/";
		const run = (form, fn) => form && form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			show(err, ""); show(ok, "");
			try { await fn(form.elements); } catch (e) { show(err, e.message); }
		});
		run($("form[data-visibility]", root), async (f) => {
			await api("PUT", root.dataset.api + "/settings", { private: f.visibility.value === "private" });
			show(ok, "Visibility saved: the repository is now " + f.visibility.value + ".");
		});
		run($("form[data-gated]", root), async (f) => {
			const g = f.gated.value;
			await api("PUT", root.dataset.api + "/settings", { gated: g === "off" ? false : g });
			location.reload();
		});
		run($("form[data-discussions]", root), async (f) => {
			await api("PUT", root.dataset.api + "/settings", { discussionsDisabled: f.disabled.checked });
			show(ok, f.disabled.checked ? "Discussions are now disabled." : "Discussions are now enabled.");
		});
		run($("form[data-push-mirror]", root), async (f) => {
			await api("POST", root.dataset.api + "/mirrors", { pushTo: f.pushTo.value.trim(), token: f.token.value });
			location.reload();
		});
		root.addEventListener("click", async (ev) => {
			const b = ev.target.closest("[data-mirror-sync], [data-mirror-remove]");
			if (!b) return;
			show(err, ""); show(ok, "");
			try {
				if (b.dataset.mirrorSync) {
					await api("POST", root.dataset.api + "/mirrors/" + b.dataset.mirrorSync + "/sync");
					show(ok, "Sync queued: it runs within seconds.");
				} else {
					await api("DELETE", root.dataset.api + "/mirrors/" + b.dataset.mirrorRemove);
					location.reload();
				}
			} catch (e) { show(err, e.message); }
		});
		run($("form[data-move]", root), async (f) => {
			const to = f.to.value.trim();
			await api("POST", "/api/repos/move", { fromRepo: id, toRepo: to, type });
			location.href = "/" + prefix + to.split("/").map(encodeURIComponent).join("/");
		});
		run($("form[data-delete]", root), async (f) => {
			if (f.confirm.value.trim() !== id) throw new Error("Type " + id + " exactly to confirm.");
			const [ns, name] = id.split("/");
			await api("DELETE", "/api/repos/delete", { name, organization: ns, type });
			location.href = "/" + encodeURIComponent(ns);
		});
	}

	// --- Branches and tags. After a change the page reloads to list the
	// refs afresh; the message to show survives the reload in
	// sessionStorage. ---
	function refs() {
		const root = $("[data-refs]");
		if (!root) return;
		const err = $("[data-error]", root), ok = $("[data-ok]", root);
		const noticeKey = "haven-refs-notice";
		const saved = sessionStorage.getItem(noticeKey);
		if (saved) { sessionStorage.removeItem(noticeKey); show(ok, saved); }
		const done = (msg) => { sessionStorage.setItem(noticeKey, msg); location.reload(); };
		const path = (kind, name) => root.dataset.api + "/" + kind + "/" + encodeURIComponent(name);
		const run = (form, fn) => {
			if (!form) return;
			form.addEventListener("submit", async (ev) => {
				ev.preventDefault();
				show(err, ""); show(ok, "");
				const button = $("button[type=submit]", form);
				button.disabled = true;
				try { await fn(form.elements); } catch (e) { show(err, e.message); button.disabled = false; }
			});
		};
		// The API names a new branch in the path and its start in the body,
		// and a new tag the other way round.
		run($("form[data-new-ref=branch]", root), async (f) => {
			const name = f.name.value.trim();
			await api("POST", path("branch", name), { startingPoint: f.rev.value.trim() });
			done("Branch " + name + " created.");
		});
		run($("form[data-new-ref=tag]", root), async (f) => {
			const name = f.name.value.trim();
			await api("POST", path("tag", f.rev.value.trim()), { tag: name });
			done("Tag " + name + " created.");
		});
		for (const btn of $$("[data-delete-ref]", root)) {
			btn.addEventListener("click", async () => {
				const kind = btn.dataset.deleteRef, name = btn.dataset.name;
				if (!confirm("Delete the " + kind + " " + name + "? Commits only it reaches can be lost.")) return;
				show(err, ""); show(ok, "");
				btn.disabled = true;
				try {
					await api("DELETE", path(kind, name));
					done((kind === "branch" ? "Branch " : "Tag ") + name + " deleted.");
				} catch (e) {
					show(err, e.message);
					btn.disabled = false;
				}
			});
		}
	}

	// --- Commits through the API. ---
	function b64bytes(bytes) {
		let s = "";
		for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
		return btoa(s);
	}
	function b64text(text) { return b64bytes(new TextEncoder().encode(text)); }

	async function commit(apiPath, rev, summary, description, ops) {
		const lines = [JSON.stringify({ key: "header", value: { summary, description } })];
		for (const op of ops) lines.push(JSON.stringify(op));
		return api("POST", apiPath + "/commit/" + encodeURIComponent(rev), lines.join("\n") + "\n", { "Content-Type": "application/x-ndjson" });
	}

	async function sha256hex(bytes) {
		if (window.crypto && crypto.subtle) {
			const d = await crypto.subtle.digest("SHA-256", bytes);
			return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
		}
		return sha256Fallback(bytes);
	}

	// sha256Fallback hashes where crypto.subtle is missing (pages served
	// over plain http from another host than localhost).
	function sha256Fallback(msg) {
		const K = new Uint32Array([
			0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
			0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
			0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
			0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
			0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
			0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
			0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
			0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2]);
		const H = new Uint32Array([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
		const len = msg.length, total = Math.ceil((len + 9) / 64) * 64;
		const buf = new Uint8Array(total);
		buf.set(msg);
		buf[len] = 0x80;
		const dv = new DataView(buf.buffer);
		dv.setUint32(total - 8, Math.floor(len / 0x20000000));
		dv.setUint32(total - 4, (len * 8) >>> 0);
		const w = new Uint32Array(64);
		const rotr = (x, n) => (x >>> n) | (x << (32 - n));
		for (let off = 0; off < total; off += 64) {
			for (let i = 0; i < 16; i++) w[i] = dv.getUint32(off + i * 4);
			for (let i = 16; i < 64; i++) {
				const s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >>> 3);
				const s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >>> 10);
				w[i] = (w[i - 16] + s0 + w[i - 7] + s1) >>> 0;
			}
			let [a, b, c, d, e, f, g, h] = H;
			for (let i = 0; i < 64; i++) {
				const t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i]) >>> 0;
				const t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c))) >>> 0;
				h = g; g = f; f = e; e = (d + t1) >>> 0; d = c; c = b; b = a; a = (t1 + t2) >>> 0;
			}
			H[0] += a; H[1] += b; H[2] += c; H[3] += d; H[4] += e; H[5] += f; H[6] += g; H[7] += h;
		}
		return Array.from(H, (x) => x.toString(16).padStart(8, "0")).join("");
	}

	// --- Upload: preupload decides regular or LFS; LFS objects go through
	// the batch API first, then one commit names every file. ---
	function upload() {
		const root = $("[data-upload]");
		if (!root) return;
		const form = $("form[data-upload-form]", root);
		const input = form.elements.files;
		const err = $("[data-error]", root), status = $("[data-status]", root);
		const listEl = $("[data-file-list]", root), drop = $("[data-drop]", root);
		let dropped = null;
		const files = () => dropped || Array.from(input.files);
		const describe = () => { listEl.textContent = files().map((f) => f.name).join(", "); };
		input.addEventListener("change", () => { dropped = null; describe(); });
		drop.addEventListener("dragover", (ev) => { ev.preventDefault(); drop.classList.add("over"); });
		drop.addEventListener("dragleave", () => drop.classList.remove("over"));
		drop.addEventListener("drop", (ev) => {
			ev.preventDefault();
			drop.classList.remove("over");
			dropped = Array.from(ev.dataTransfer.files);
			input.required = false;
			describe();
		});
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			show(err, "");
			const chosen = files();
			if (!chosen.length) { show(err, "Choose at least one file."); return; }
			const apiPath = root.dataset.api, rev = root.dataset.rev;
			const dir = root.dataset.dir ? root.dataset.dir.replace(/\/+$/, "") + "/" : "";
			const button = $("button[type=submit]", form);
			button.disabled = true;
			try {
				show(status, "Reading " + chosen.length + " file(s)…");
				const entries = [];
				for (const f of chosen) {
					const bytes = new Uint8Array(await f.arrayBuffer());
					entries.push({ path: dir + f.name, bytes, sample: b64bytes(bytes.subarray(0, 512)) });
				}
				const pre = await api("POST", apiPath + "/preupload/" + encodeURIComponent(rev),
					{ files: entries.map((e) => ({ path: e.path, size: e.bytes.length, sample: e.sample })) });
				const modes = {};
				for (const r of pre.files) modes[r.path] = r.uploadMode;
				const ops = [];
				const lfsEntries = entries.filter((e) => modes[e.path] === "lfs");
				for (const e of lfsEntries) {
					show(status, "Hashing " + e.path + "…");
					e.oid = await sha256hex(e.bytes);
				}
				if (lfsEntries.length) {
					show(status, "Uploading large files…");
					const batch = await api("POST", root.dataset.git + "/info/lfs/objects/batch", {
						operation: "upload", transfers: ["basic"], hash_algo: "sha256",
						ref: { name: "refs/heads/" + rev },
						objects: lfsEntries.map((e) => ({ oid: e.oid, size: e.bytes.length })),
					}, { Accept: "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json" });
					for (const obj of batch.objects) {
						if (obj.error) throw new Error(obj.error.message);
						const e = lfsEntries.find((x) => x.oid === obj.oid);
						const acts = obj.actions || {};
						if (acts.upload) {
							const res = await fetch(acts.upload.href, { method: "PUT", headers: acts.upload.header || {}, body: e.bytes });
							if (!res.ok) throw new Error("Uploading " + e.path + " failed: HTTP " + res.status);
						}
						if (acts.verify) {
							await api("POST", acts.verify.href, { oid: obj.oid, size: obj.size },
								Object.assign({ "Content-Type": "application/vnd.git-lfs+json" }, acts.verify.header || {}));
						}
					}
				}
				for (const e of entries) {
					if (modes[e.path] === "lfs") ops.push({ key: "lfsFile", value: { path: e.path, algo: "sha256", oid: e.oid, size: e.bytes.length } });
					else ops.push({ key: "file", value: { path: e.path, content: b64bytes(e.bytes), encoding: "base64" } });
				}
				show(status, "Committing…");
				const summary = form.elements.summary.value.trim() || ("Upload " + (entries.length === 1 ? entries[0].path : entries.length + " files"));
				await commit(apiPath, rev, summary, form.elements.description.value, ops);
				location.href = root.dataset.done + (dir ? "/" + dir.replace(/\/$/, "").split("/").map(encodeURIComponent).join("/") : "");
			} catch (e) {
				show(status, "");
				show(err, e.message);
			} finally {
				button.disabled = false;
			}
		});
	}

	// --- Editing a text file (the card included). ---
	function edit() {
		const root = $("[data-edit]");
		if (!root) return;
		const form = $("form[data-edit-form]", root);
		const err = $("[data-error]", root);
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			show(err, "");
			const f = form.elements;
			try {
				await commit(root.dataset.api, root.dataset.rev, f.summary.value.trim() || ("Update " + root.dataset.path), "",
					[{ key: "file", value: { path: root.dataset.path, content: b64text(f.content.value), encoding: "base64" } }]);
				location.href = root.dataset.done;
			} catch (e) {
				show(err, e.message);
			}
		});
	}

	// --- Spaces. The stage names and their colours follow the Hub's. ---
	function stageClass(stage) {
		if (stage === "RUNNING") return "running";
		if (["BUILDING", "APP_STARTING", "RUNNING_BUILDING", "RUNNING_APP_STARTING"].includes(stage)) return "busy";
		if (/_ERROR$/.test(stage) || stage === "NO_APP_FILE") return "error";
		return "idle";
	}
	function stageLabel(stage) {
		if (!stage) return "Unknown";
		const s = stage.replace(/_/g, " ").toLowerCase();
		return s.charAt(0).toUpperCase() + s.slice(1);
	}
	function setBadge(stage) {
		for (const b of $$("[data-stage-badge]")) {
			b.className = "badge stage " + stageClass(stage);
			b.textContent = stageLabel(stage);
			b.title = "Stage of the app: " + stage;
		}
	}

	// The app page follows the runtime while the app is not running: once it
	// runs, the frame (re)loads the app; any other change reloads the page,
	// which says what happened.
	function spaceApp() {
		const root = $("[data-space-app]");
		if (!root) return;
		const frame = $("[data-space-frame]", root), note = $("[data-space-note]", root);
		let stage = root.dataset.stage;
		const running = (s) => s === "RUNNING" || s === "RUNNING_BUILDING" || s === "RUNNING_APP_STARTING";
		async function poll() {
			let rt;
			try { rt = await api("GET", root.dataset.runtime); } catch (e) { setTimeout(poll, 5000); return; }
			if (rt.stage !== stage) {
				const was = stage;
				stage = rt.stage;
				if (!running(stage)) { location.reload(); return; }
				setBadge(stage);
				if (stage === "RUNNING") note.hidden = true;
				if (!running(was) || frame.hidden) {
					frame.hidden = false;
					frame.src = frame.dataset.src;
				}
			}
			if (stage !== "RUNNING") setTimeout(poll, 2000);
		}
		if (stage !== "RUNNING") setTimeout(poll, 2000);
	}

	// Logs follow the API's event streams. Every connection replays the
	// attempt from its first line: a reconnection skips what is shown, and
	// a new attempt (another first line) starts the view afresh.
	function spaceLogs() {
		for (const pre of $$("[data-log]")) {
			const status = $("[data-log-status]", pre.parentElement);
			let first = null, seen = 0;
			const connect = () => {
				const es = new EventSource(pre.dataset.log);
				let n = 0, got = false;
				es.addEventListener("open", () => { n = 0; status.textContent = "Following…"; });
				es.addEventListener("message", (ev) => {
					let line;
					try { line = JSON.parse(ev.data); } catch (e) { return; }
					got = true;
					const i = n++;
					if (i === 0 && line.timestamp !== first) {
						first = line.timestamp;
						seen = 0;
						pre.textContent = "";
					}
					if (i < seen) return;
					seen++;
					const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
					pre.appendChild(document.createTextNode(line.data));
					if (atEnd) pre.scrollTop = pre.scrollHeight;
				});
				es.addEventListener("error", () => {
					if (es.readyState !== EventSource.CLOSED) return; // the browser reconnects
					es.close();
					status.textContent = got || seen ? "Disconnected; reconnecting…" : "No logs yet; this page checks again every few seconds.";
					setTimeout(connect, 5000);
				});
			};
			connect();
		}
	}

	// Space settings call the Spaces API, then reload the page to show the
	// new state; the message to show survives the reload.
	function spaceSettings() {
		const root = $("[data-space-settings]");
		if (!root) return;
		const err = $("[data-error]", root), ok = $("[data-ok]", root);
		const noticeKey = "haven-space-notice";
		const saved = sessionStorage.getItem(noticeKey);
		if (saved) { sessionStorage.removeItem(noticeKey); show(ok, saved); }
		const done = (msg) => { sessionStorage.setItem(noticeKey, msg); location.reload(); };
		const base = root.dataset.api;
		const act = async (button, fn) => {
			show(err, ""); show(ok, "");
			button.disabled = true;
			try { await fn(); } catch (e) { show(err, e.message); button.disabled = false; }
		};
		const onSubmit = (form, fn) => {
			if (!form) return;
			form.addEventListener("submit", (ev) => {
				ev.preventDefault();
				act($("button[type=submit]", form), () => fn(form.elements));
			});
		};
		onSubmit($("form[data-space-hardware]", root), async (f) => {
			await api("POST", base + "/hardware", { flavor: f.flavor.value });
			done("Hardware saved: " + f.flavor.value + ".");
		});
		onSubmit($("form[data-space-sleep]", root), async (f) => {
			await api("POST", base + "/sleeptime", { seconds: parseInt(f.seconds.value, 10) });
			done("Sleep time saved.");
		});
		for (const form of $$("form[data-space-env]", root)) {
			const kind = form.dataset.spaceEnv;
			onSubmit(form, async (f) => {
				const key = f.key.value.trim();
				const body = { key, value: f.value.value };
				if (f.description.value.trim()) body.description = f.description.value.trim();
				await api("POST", base + "/" + kind, body);
				done((kind === "secrets" ? "Secret " : "Variable ") + key + " saved.");
			});
		}
		for (const btn of $$("[data-env-delete]", root)) {
			btn.addEventListener("click", () => {
				const kind = btn.dataset.envDelete, key = btn.dataset.key;
				if (!confirm("Delete " + key + "? The app restarts without it.")) return;
				act(btn, async () => {
					await api("DELETE", base + "/" + kind, { key });
					done((kind === "secrets" ? "Secret " : "Variable ") + key + " deleted.");
				});
			});
		}
		const actions = {
			restart: [base + "/restart", "The app is restarting."],
			factory: [base + "/restart?factory=true", "The app is being rebuilt from scratch."],
			pause: [base + "/pause", "The app is paused."],
		};
		for (const btn of $$("[data-space-action]", root)) {
			btn.addEventListener("click", () => {
				if (btn.dataset.confirm && !confirm(btn.dataset.confirm)) return;
				const [url, msg] = actions[btn.dataset.spaceAction];
				act(btn, async () => { await api("POST", url); done(msg); });
			});
		}
	}

	// --- Gated repositories: the request form on the card page, and the
	// owners' page of requests. The form also works without the script (the
	// API sends a form post back to the page); with it, errors show in place. ---
	function gate() {
		const form = $("form[data-gate-form]");
		if (form) form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			const answers = {};
			for (const el of form.elements) {
				if (!el.name) continue;
				answers[el.name] = el.type === "checkbox" ? el.checked : el.value;
			}
			try {
				await api("POST", form.getAttribute("action"), answers);
				location.reload();
			} catch (e) { show($("[data-error]", form), e.message); }
		});
		const root = $("[data-access-requests]");
		if (!root) return;
		const err = $("[data-error]", root);
		const base = root.dataset.api + "/user-access-request/";
		for (const btn of $$("[data-access-handle]", root)) {
			btn.addEventListener("click", async () => {
				const body = { user: btn.dataset.user, status: btn.dataset.accessHandle };
				if (body.status === "rejected") {
					const reason = prompt("Reason shown to the user (optional, at most 200 characters):", "");
					if (reason === null) return;
					if (reason.trim()) body.rejectionReason = reason.trim();
				}
				try { await api("POST", base + "handle", body); location.reload(); } catch (e) { show(err, e.message); }
			});
		}
		const grant = $("form[data-access-grant]", root);
		if (grant) grant.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			try { await api("POST", base + "grant", { user: grant.elements.user.value.trim() }); location.reload(); } catch (e) { show(err, e.message); }
		});
	}

	function init() {
		quickSearch();
		likes();
		small();
		newRepo();
		settings();
		gate();
		refs();
		upload();
		edit();
		spaceApp();
		spaceLogs();
		spaceSettings();
	}
	if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
	else init();
})();
