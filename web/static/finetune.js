// Haven pages: the fine-tune form (/finetune/new). The page works as a
// plain form; this script adds what depends on other choices: only the
// chosen task's columns (and LoRA settings) are shown and sent, the
// config, split and column fields become selects filled from the dataset
// viewer (/datasets-server/info) with columns guessed by name and type,
// the model name follows the base model and dataset until it is typed,
// and the hardware list comes from the Jobs API.
"use strict";

(function () {
	const $ = (sel, root) => (root || document).querySelector(sel);
	const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

	// Column names that usually play a role, best first.
	const names = {
		text: ["text", "sentence", "content", "review", "document", "input"],
		label: ["label", "labels", "class", "category", "target", "sentiment"],
		tokens: ["tokens", "words"],
		tags: ["tags", "ner_tags", "labels", "pos_tags", "label"],
		prompt: ["prompt", "instruction", "question", "input", "query"],
		completion: ["completion", "response", "answer", "output", "chosen"],
		messages: ["messages", "conversations", "conversation", "chat"],
		anchor: ["anchor", "query", "question", "sentence1"],
		positive: ["positive", "pos", "answer", "sentence2"],
		negative: ["negative", "neg"],
		sentence1: ["sentence1", "sentence_a", "text1", "premise"],
		sentence2: ["sentence2", "sentence_b", "text2", "hypothesis"],
		score: ["score", "similarity", "label"],
	};

	// kind reads a datasets feature type: "string", "int", "float",
	// "class", "list:<kind>" or "other".
	function kind(f) {
		if (Array.isArray(f)) return "list:" + kind(f[0]);
		if (!f || typeof f !== "object") return "other";
		switch (f._type) {
		case "Value": {
			const d = f.dtype || "";
			if (d === "string" || d === "large_string") return "string";
			if (/^u?int|^bool/.test(d)) return "int";
			if (/^float|^double/.test(d)) return "float";
			return "other";
		}
		case "ClassLabel": return "class";
		case "List": case "Sequence": case "LargeList": return "list:" + kind(f.feature);
		}
		return "other";
	}

	function describe(f) {
		if (f && f._type === "ClassLabel" && Array.isArray(f.names)) {
			const shown = f.names.slice(0, 4).join(", ") + (f.names.length > 4 ? ", …" : "");
			return "class label: " + shown;
		}
		const k = kind(f);
		return k.startsWith("list:") ? "list of " + k.slice(5) : k;
	}

	// fits says whether a column of kind k can play role.
	function fits(role, k) {
		switch (role) {
		case "label": return k === "class" || k === "int" || k === "string";
		case "tokens": return k === "list:string";
		case "tags": return k === "list:class" || k === "list:int" || k === "list:string";
		case "messages": return k.startsWith("list:");
		case "score": return k === "int" || k === "float";
		}
		return k === "string";
	}

	// byName finds the column usually named for role that fits it.
	function byName(role, cols) {
		for (const n of names[role] || [role]) {
			const c = cols.find((c) => c.name.toLowerCase() === n && fits(role, c.kind));
			if (c) return c.name;
		}
		return "";
	}

	function toSelect(input) {
		if (input.tagName === "SELECT") return input;
		const sel = document.createElement("select");
		sel.id = input.id;
		sel.name = input.name;
		for (const k in input.dataset) sel.dataset[k] = input.dataset[k];
		sel.dataset.value = input.value;
		input.replaceWith(sel);
		return sel;
	}

	// fill replaces the options of sel, keeping its value when offered,
	// else choosing pick.
	function fill(sel, options, pick) {
		const current = sel.value || sel.dataset.value || "";
		sel.textContent = "";
		for (const [value, text] of options) {
			const o = document.createElement("option");
			o.value = value;
			o.textContent = text;
			sel.appendChild(o);
		}
		const values = options.map((o) => o[0]);
		sel.value = values.includes(current) ? current : (values.includes(pick) ? pick : (values[0] || ""));
		delete sel.dataset.value;
	}

	function page() {
		const form = $("[data-ft-form]");
		if (!form) return;
		const task = $("[data-ft-task]", form);
		const base = $("[data-ft-base]", form), dataset = $("[data-ft-dataset]", form);
		const output = $("[data-ft-output]", form), edited = $("[data-ft-name-edited]", form);
		const lr = $("[data-ft-lr]", form), lrHint = $("[data-ft-lr-hint]", form);
		const status = $("[data-ft-dataset-status]", form);
		let info = null; // the viewer's dataset_info: config → {features, splits}
		const touchedFormat = {};

		const lrOf = (name) => { const o = Array.from(task.options).find((o) => o.value === name); return o ? o.dataset.lr : ""; };
		let shownTask = task.value;

		// show hides (and keeps out of the submission) what another task
		// or column format would use.
		function show() {
			for (const fs of $$("[data-ft-columns]", form)) {
				const on = fs.dataset.ftColumns === task.value;
				fs.hidden = !on;
				fs.disabled = !on;
				const chosen = $("[data-ft-format]:checked", fs);
				for (const g of $$("[data-ft-form-index]", fs)) {
					const gon = !chosen || g.dataset.ftFormIndex === chosen.value;
					g.hidden = !gon;
					for (const el of $$("input, select", g)) el.disabled = !gon;
				}
			}
			const lora = task.value.includes("lora");
			for (const f of $$("[data-ft-lora]", form)) {
				f.hidden = !lora;
				for (const el of $$("input", f)) el.disabled = !lora;
			}
			if (lr.value === "" || lr.value === lrOf(shownTask)) lr.value = lrOf(task.value);
			lrHint.textContent = "default for this task: " + lrOf(task.value);
			shownTask = task.value;
		}
		task.addEventListener("change", show);
		for (const r of $$("[data-ft-format]", form)) {
			r.addEventListener("change", () => { touchedFormat[r.name] = true; show(); });
		}

		// The model name follows the base model and dataset until typed.
		const tail = (id) => id.trim().split("/").pop();
		function rename() {
			if (edited.value || !base.value.trim() || !dataset.value.trim()) return;
			output.value = (tail(base.value) + "-finetuned-" + tail(dataset.value)).slice(0, 96);
		}
		output.addEventListener("input", () => { edited.value = output.value ? "1" : ""; });
		base.addEventListener("input", rename);

		// The columns of the chosen config, with their kinds.
		function columns() {
			const c = info && info[$("[data-ft-dep=config]", form).value];
			if (!c) return [];
			return Object.keys(c.features || {}).map((name) => ({ name, kind: kind(c.features[name]), text: name + " · " + describe(c.features[name]) }));
		}

		function fillSplits() {
			const c = info[$("[data-ft-dep=config]", form).value];
			const splits = Object.keys((c && c.splits) || {});
			fill(toSelect($("[data-ft-dep=train]", form)), splits.map((s) => [s, s]), "train");
			const ev = toSelect($("[data-ft-dep=eval]", form));
			fill(ev, [["", "Automatic"]].concat(splits.map((s) => [s, s])), "");
		}

		function fillColumns() {
			const cols = columns();
			for (const fs of $$("[data-ft-columns]", form)) {
				const groups = $$("[data-ft-form-index]", fs);
				// A task with several column formats takes the first whose
				// columns are all there by name, unless one was chosen.
				const radios = $$("[data-ft-format]", fs);
				if (radios.length && !touchedFormat[radios[0].name]) {
					const fitting = groups.find((g) => $$("[data-ft-role]", g).every((el) => "ftOptional" in el.dataset || byName(el.dataset.ftRole, cols)));
					if (fitting) radios.forEach((r) => { r.checked = r.value === fitting.dataset.ftFormIndex; });
				}
				for (const g of groups) {
					const used = new Set();
					for (const el of $$("[data-ft-role]", g)) {
						const role = el.dataset.ftRole, optional = "ftOptional" in el.dataset;
						const sel = toSelect(el);
						let pick = byName(role, cols);
						if (!pick && !optional) {
							const c = cols.find((c) => fits(role, c.kind) && !used.has(c.name));
							pick = c ? c.name : "";
						}
						const current = sel.value || sel.dataset.value || "";
						if (!cols.some((c) => c.name === current)) sel.dataset.value = "";
						const opts = cols.map((c) => [c.name, c.text]);
						fill(sel, optional ? [["", "None"]].concat(opts) : opts, pick);
						used.add(sel.value);
					}
				}
			}
			show();
		}

		// load asks the viewer for the dataset's configs, splits and
		// features; it retries while the viewer is still reading it.
		let seq = 0, timer = 0;
		async function load(tries) {
			const id = dataset.value.trim(), mine = ++seq;
			clearTimeout(timer);
			if (!/^[^/\s]+\/[^/\s]+$/.test(id)) {
				status.textContent = id ? "Write the dataset as namespace/name." : "";
				return;
			}
			status.textContent = "Reading the dataset's columns…";
			let res, body = {};
			try {
				res = await fetch("/datasets-server/info?dataset=" + encodeURIComponent(id), { credentials: "same-origin" });
				body = await res.json().catch(() => ({}));
			} catch (e) {
				res = null;
			}
			if (mine !== seq) return;
			if (!res || !res.ok || !body.dataset_info) {
				const busy = !res || res.status >= 500;
				if (busy && tries < 60) {
					status.textContent = "The dataset viewer is still reading " + id + "…";
					timer = setTimeout(() => load(tries + 1), 3000);
					return;
				}
				status.textContent = (body && body.error) ? "The dataset viewer cannot read " + id + ": " + body.error : "No dataset " + id + ", or you may not read it.";
				return;
			}
			info = body.dataset_info;
			const configs = Object.keys(info);
			if (!configs.length) {
				status.textContent = "The dataset viewer found no data in " + id + ".";
				return;
			}
			const cfg = toSelect($("[data-ft-dep=config]", form));
			fill(cfg, configs.map((c) => [c, c]), configs.includes("default") ? "default" : configs[0]);
			fillSplits();
			fillColumns();
			const n = columns().length;
			status.textContent = configs.length + (configs.length === 1 ? " config, " : " configs, ") + n + (n === 1 ? " column" : " columns") + ".";
		}
		form.addEventListener("change", (ev) => {
			if (ev.target.dataset && ev.target.dataset.ftDep === "config" && info) {
				fillSplits();
				fillColumns();
			}
		});
		let debounce = 0;
		dataset.addEventListener("input", () => {
			rename();
			clearTimeout(debounce);
			debounce = setTimeout(() => load(0), 400);
		});
		dataset.addEventListener("change", () => { clearTimeout(debounce); load(0); });

		// The hardware this hub offers, GPUs included.
		(async () => {
			const sel = $("[data-ft-flavor]", form);
			try {
				const res = await fetch("/api/jobs/hardware", { credentials: "same-origin" });
				if (!res.ok) return;
				const list = await res.json();
				if (!Array.isArray(list) || !list.length) return;
				fill(sel, list.map((f) => {
					const acc = f.accelerator ? " · " + f.accelerator.quantity + "× " + (f.accelerator.model || "GPU") : "";
					return [f.name, (f.prettyName || f.name) + " · " + f.cpu + " · " + f.ram + acc];
				}), sel.value);
			} catch (e) { /* the server's list stays */ }
		})();

		show();
		if (dataset.value.trim()) load(0);
	}

	if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", page);
	else page();
})();
