// Haven pages: the Inference panel of a model page. It sends the text to the
// hub's /inference routes with the visitor's session and shows the answer;
// the first request waits while the model loads.
"use strict";

(function () {
	const panel = document.querySelector("[data-inference]");
	if (!panel) return;
	const form = panel.querySelector("[data-inference-form]");
	const status = panel.querySelector("[data-inference-status]");
	const output = panel.querySelector("[data-inference-output]");
	const model = panel.dataset.model;
	const task = panel.dataset.task;
	const base = "/inference/hf-inference/models/" + model.split("/").map(encodeURIComponent).join("/");

	function show(text, isError) {
		output.hidden = false;
		output.textContent = text;
		output.classList.toggle("error", !!isError);
	}

	function render(body) {
		if (task === "feature-extraction") {
			const row = Array.isArray(body[0]) ? body[0] : body;
			return row.length + " dimensions: [" + row.slice(0, 6).map((x) => x.toFixed(4)).join(", ") + ", …]";
		}
		if (task === "text-classification") {
			const labels = Array.isArray(body[0]) ? body[0] : body;
			return labels.map((l) => l.label + "  " + l.score.toFixed(4)).join("\n");
		}
		return body.choices[0].message.content;
	}

	form.addEventListener("submit", async (ev) => {
		ev.preventDefault();
		const text = form.elements.inputs.value;
		const chat = task === "text-generation";
		const url = chat ? base + "/v1/chat/completions" : base;
		const payload = chat ? { model: model, messages: [{ role: "user", content: text }], max_tokens: 64 } : { inputs: text };
		status.hidden = false;
		status.textContent = "Computing… (a cold model loads first)";
		output.hidden = true;
		const started = performance.now();
		try {
			const res = await fetch(url, {
				method: "POST",
				headers: { "Content-Type": "application/json", "X-Haven-Origin": location.origin },
				body: JSON.stringify(payload),
				credentials: "same-origin",
			});
			const body = await res.json().catch(() => ({ error: res.statusText }));
			if (!res.ok) {
				show(body.error || "Error " + res.status, true);
			} else {
				show(render(body));
			}
		} catch (e) {
			show(String(e), true);
		}
		status.textContent = "Took " + ((performance.now() - started) / 1000).toFixed(1) + " s";
	});
})();
