// Haven pages: a job's page. It follows the job through the Jobs API with
// the session cookie: its stage (events stream), its log (logs stream),
// and from the log the progress of a training run — lines such as
// "progress step=12/60 epoch=0.60 loss=0.69 eta=8s" and
// "eval step=20 epoch=1.00 eval_loss=0.41 eval_accuracy=0.90" — drawn with
// the shared chart helper (charts.js), the last eval line as a table, and
// the model a fine-tune pushed ("pushed repo=ns/name revision=sha") as a
// link. The Cancel button is a plain form.
"use strict";

(function () {
	const $ = (sel, root) => (root || document).querySelector(sel);
	const terminal = (s) => s === "COMPLETED" || s === "ERROR" || s === "CANCELED" || s === "DELETED";
	const label = (s) => s ? s.charAt(0) + s.slice(1).toLowerCase().replace(/_/g, " ") : "Unknown";

	function secs(n) {
		n = Math.max(0, Math.round(n));
		if (n < 60) return n + "s";
		const pad = (v) => (v < 10 ? "0" : "") + v;
		if (n < 3600) return Math.floor(n / 60) + "m " + pad(n % 60) + "s";
		return Math.floor(n / 3600) + "h " + pad(Math.floor(n % 3600 / 60)) + "m";
	}

	// fields reads "key=value key=value" into an object.
	function fields(text) {
		const out = {};
		for (const m of text.matchAll(/([\w.]+)=(\S+)/g)) out[m[1]] = m[2];
		return out;
	}

	// training keeps what the progress and eval lines said and draws it.
	function training(root) {
		const panel = $("[data-job-progress]", root);
		if (!panel) return { line() {}, reset() {} };
		const bar = $("[data-progress-bar]", panel), text = $("[data-progress-text]", panel);
		const chart = $("[data-loss-chart]", panel);
		const table = $("[data-eval-table]", panel), model = $("[data-job-model]", panel);
		let loss = [], evals = {}, maxStep = 0, drawn = false;
		// finalEvals shows the metrics of the last eval line.
		function finalEvals(f) {
			const body = $("tbody", table);
			body.textContent = "";
			for (const k in f) {
				if (!k.startsWith("eval_")) continue;
				const tr = document.createElement("tr");
				const name = document.createElement("td"), value = document.createElement("td");
				name.textContent = k.slice(5).replace(/_/g, " ");
				value.textContent = f[k];
				tr.append(name, value);
				body.appendChild(tr);
			}
			if (f.epoch) table.setAttribute("aria-label", "Final evaluation, epoch " + f.epoch);
			table.hidden = !body.children.length;
		}
		function pushed(f) {
			const [ns, name] = (f.repo || "").split("/");
			if (!ns || !name) return;
			const a = $("[data-job-model-link]", model);
			a.href = "/" + encodeURIComponent(ns) + "/" + encodeURIComponent(name);
			a.textContent = f.repo;
			$("[data-job-model-rev]", model).textContent = f.revision ? "at " + f.revision.slice(0, 7) : "";
			model.hidden = false;
			panel.hidden = false;
		}
		function draw() {
			let top = 0, last = 0;
			for (const p of loss) { top = Math.max(top, p[1]); last = Math.max(last, p[0]); }
			for (const k in evals) for (const p of evals[k]) { top = Math.max(top, p[1]); last = Math.max(last, p[0]); }
			const series = [{ name: "loss", points: loss, cls: "loss" }];
			Object.keys(evals).sort().forEach((k, i) => series.push({ name: k, points: evals[k], dots: true, cls: "eval eval-" + (i % 4) }));
			window.HavenCharts.plot(chart, series, { x0: 0, x1: Math.max(maxStep, last, 1), y0: 0, y1: (top || 1) * 1.1 });
		}
		function schedule() {
			if (drawn) return;
			drawn = true;
			requestAnimationFrame(() => { drawn = false; draw(); });
		}
		return {
			reset() { loss = []; evals = {}; maxStep = 0; panel.hidden = true; table.hidden = true; model.hidden = true; },
			line(s) {
				const m = /(?:^|\s)(progress|eval|pushed)((?:\s+[\w.]+=\S+)+)\s*$/.exec(s);
				if (!m) return;
				const f = fields(m[2]);
				if (m[1] === "pushed") {
					pushed(f);
					return;
				}
				const [stepText, maxText] = (f.step || "").split("/");
				const step = parseFloat(stepText);
				if (!isFinite(step)) return;
				panel.hidden = false;
				if (m[1] === "progress") {
					if (maxText) maxStep = parseFloat(maxText) || maxStep;
					bar.max = maxStep || step || 1;
					bar.value = Math.min(step, bar.max);
					const parts = ["Step " + step + (maxStep ? " of " + maxStep : "")];
					if (f.epoch) parts.push("epoch " + f.epoch);
					if (f.eta) parts.push("ETA " + f.eta);
					if (f.samples_per_second) parts.push(f.samples_per_second + " samples/s");
					if (f.learning_rate) parts.push("learning rate " + f.learning_rate);
					text.textContent = parts.join(" · ");
					if (f.loss !== undefined && isFinite(parseFloat(f.loss))) {
						loss.push([step, parseFloat(f.loss)]);
						$("[data-loss-now]", panel).textContent = f.loss;
					}
				} else {
					const shown = [];
					for (const k in f) {
						if (!k.startsWith("eval_") || !isFinite(parseFloat(f[k]))) continue;
						(evals[k] = evals[k] || []).push([step, parseFloat(f[k])]);
						shown.push(k + " " + f[k]);
					}
					$("[data-eval-now]", panel).textContent = shown.join(" · ");
					finalEvals(f);
				}
				schedule();
			},
		};
	}

	function jobPage() {
		const root = $("[data-job-page]");
		if (!root) return;
		const base = root.dataset.api;
		let stage = root.dataset.stage;
		const train = training(root);

		// The log: every connection replays it from its first line, and it
		// ends when the job does, after which the browser would connect
		// again: lines already shown are skipped, and once the job has ended
		// the stream is not opened again.
		const pre = $("[data-job-log]", root), status = $("[data-job-log-status]", root);
		let first = null, seen = 0;
		function follow() {
			const es = new EventSource(pre.dataset.jobLog);
			let n = 0;
			es.addEventListener("open", () => { n = 0; if (!terminal(stage)) status.textContent = "Following…"; });
			es.addEventListener("message", (ev) => {
				let line;
				try { line = JSON.parse(ev.data); } catch (e) { return; }
				const i = n++;
				if (i === 0 && line.timestamp !== first) {
					first = line.timestamp;
					seen = 0;
					pre.textContent = "";
					train.reset();
				}
				if (i < seen) return;
				seen++;
				const atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
				const text = line.data.endsWith("\n") ? line.data : line.data + "\n";
				pre.appendChild(document.createTextNode(text));
				train.line(line.data);
				if (atEnd) pre.scrollTop = pre.scrollHeight;
			});
			es.addEventListener("error", () => {
				if (terminal(stage)) {
					es.close();
					status.textContent = seen ? "The job has ended." : "No log: the job never ran.";
					return;
				}
				if (es.readyState === EventSource.CLOSED) {
					es.close();
					status.textContent = "Disconnected; reconnecting…";
					setTimeout(follow, 5000);
				}
			});
		}
		follow();

		// The stage: the badge, the message, the Cancel button and the
		// times change as the job does.
		async function ended() {
			const metrics = $("[data-metrics]", root);
			if (metrics) {
				metrics.dispatchEvent(new Event("haven:stop"));
				$("[data-metric-status]", metrics).textContent = "The job has ended.";
			}
			const cancel = $("[data-job-cancel]", root);
			if (cancel) cancel.hidden = true;
			try {
				const res = await fetch(base, { credentials: "same-origin" });
				if (!res.ok) return;
				const info = await res.json();
				if (info.finishedAt) $("[data-job-finished]", root).textContent = new Date(info.finishedAt).toISOString().slice(0, 16).replace("T", " ") + " UTC";
				if (info.startedAt && info.durations) $("[data-job-ran]", root).textContent = secs(info.durations.runningSecs);
			} catch (e) { /* the page shows the times it was rendered with */ }
		}
		function setStage(s, message) {
			if (s === stage) return;
			stage = s;
			root.dataset.stage = s;
			const badge = $("[data-job-stage-badge]", root);
			badge.className = "badge stage job-" + s.toLowerCase();
			badge.textContent = label(s);
			badge.title = "Stage of the job: " + s;
			$("[data-job-stage]", root).textContent = label(s);
			const note = $("[data-job-message]", root);
			note.textContent = message || "";
			note.hidden = !message;
			if (s === "RUNNING" && !$("[data-job-started]", root).querySelector("time")) {
				$("[data-job-started]", root).textContent = "just now";
			}
			if (terminal(s)) ended();
		}
		if (!terminal(stage)) {
			const es = new EventSource(base + "/events");
			es.addEventListener("message", (ev) => {
				let e;
				try { e = JSON.parse(ev.data); } catch (err) { return; }
				if (e.type !== "stage") return;
				setStage(e.stage, e.message);
				if (terminal(e.stage)) es.close();
			});
		}
	}

	if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", jobPage);
	else jobPage();
})();
