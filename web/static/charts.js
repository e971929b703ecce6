// Haven pages: small SVG charts. One helper (plot) draws lines and points
// into an SVG; the Resources panel of Space logs and job pages draws the
// last two minutes of CPU and memory from a metrics event stream with it,
// and the job page draws its training loss with it.
"use strict";

(function () {
	const NS = "http://www.w3.org/2000/svg";

	// plot draws series into svg, whose viewBox is the drawing's space (the
	// SVG is stretched with preserveAspectRatio="none"; strokes keep their
	// width). A series is {name, points: [[x, y], …], dots, cls}: a line,
	// or with dots a point per value. dom {x0, x1, y0, y1} is mapped onto
	// the box; values outside it are clamped.
	function plot(svg, series, dom) {
		const vb = svg.viewBox.baseVal, w = vb.width, h = vb.height, pad = 2;
		const sx = (x) => (dom.x1 === dom.x0 ? w : ((x - dom.x0) / (dom.x1 - dom.x0)) * w).toFixed(2);
		const sy = (y) => {
			const f = dom.y1 === dom.y0 ? 0 : (y - dom.y0) / (dom.y1 - dom.y0);
			return (h - pad - (h - 2 * pad) * Math.min(Math.max(f, 0), 1)).toFixed(2);
		};
		for (const s of series) {
			const tag = s.dots ? "path" : "polyline";
			let el = svg.querySelector(tag + "[data-series=\"" + s.name + "\"]");
			if (!el) {
				el = document.createElementNS(NS, tag);
				el.setAttribute("data-series", s.name);
				el.setAttribute("fill", "none");
				el.setAttribute("vector-effect", "non-scaling-stroke");
				if (s.dots) {
					el.setAttribute("stroke-linecap", "round");
					el.setAttribute("stroke-width", "7");
				}
				if (s.cls) el.setAttribute("class", s.cls);
				svg.appendChild(el);
			}
			if (s.dots) el.setAttribute("d", s.points.map((p) => "M" + sx(p[0]) + " " + sy(p[1]) + "h0").join(""));
			else el.setAttribute("points", s.points.map((p) => sx(p[0]) + "," + sy(p[1])).join(" "));
		}
	}

	// metrics follows root's metrics stream (data-metrics, one event a
	// second while the workload runs) until a "haven:stop" event on root.
	function metrics(root) {
		const keep = 120, cpu = [], mem = [];
		const status = root.querySelector("[data-metric-status]");
		const draw = (name, values, max) => {
			const pts = values.map((v, i) => [keep - values.length + i, v]);
			plot(root.querySelector("svg[data-metric-chart=" + name + "]"), [{ name: "line", points: pts }], { x0: 0, x1: keep, y0: 0, y1: max });
		};
		const es = new EventSource(root.dataset.metrics);
		root.addEventListener("haven:stop", () => es.close());
		es.addEventListener("metric", (ev) => {
			let m;
			try { m = JSON.parse(ev.data); } catch (e) { return; }
			status.textContent = "";
			cpu.push(m.cpu_usage_pct || 0);
			mem.push(m.memory_used_bytes || 0);
			if (cpu.length > keep) { cpu.shift(); mem.shift(); }
			draw("cpu", cpu, 100);
			// Scaled to what is used, not to the limit, so that changes
			// show; the limit is in the caption.
			draw("mem", mem, Math.max(...mem, 1) * 1.25);
			root.querySelector("[data-metric-now=cpu]").textContent = (m.cpu_usage_pct || 0).toFixed(1) + " %";
			root.querySelector("[data-metric-now=mem]").textContent = ((m.memory_used_bytes || 0) / 1048576).toFixed(0) + " MiB" +
				(m.memory_total_bytes ? " of " + (m.memory_total_bytes / 1073741824).toFixed(1) + " GiB" : "");
		});
	}

	window.HavenCharts = { plot };

	function init() {
		for (const root of document.querySelectorAll("[data-metrics]")) metrics(root);
	}
	if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
	else init();
})();
