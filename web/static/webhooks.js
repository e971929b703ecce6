// Haven pages: webhook settings. Creating, editing, enabling, disabling and
// deleting webhooks and replaying deliveries, all through the JSON API with
// the session cookie.
"use strict";

(function () {
	const $ = (sel, root) => (root || document).querySelector(sel);
	const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

	// api calls the JSON API as the signed-in user, as app.js does.
	async function api(method, url, body) {
		const opts = { method, credentials: "same-origin", headers: { "X-Haven-Origin": location.origin } };
		if (body !== undefined) {
			opts.body = JSON.stringify(body);
			opts.headers["Content-Type"] = "application/json";
		}
		const res = await fetch(url, opts);
		let data = null;
		try { data = await res.json(); } catch (e) { data = null; }
		if (!res.ok) {
			throw new Error((data && data.error) || res.headers.get("X-Error-Message") || ("HTTP " + res.status));
		}
		return data;
	}

	function say(el, text, ok) {
		if (!el) return;
		el.textContent = text;
		el.hidden = !text;
		el.classList.toggle("ok", !!ok);
		el.classList.toggle("error", !ok);
	}

	// watched parses the "type name" lines of the form.
	function watched(text) {
		const out = [];
		for (const line of text.split("\n")) {
			const parts = line.trim().split(/\s+/);
			if (parts.length === 1 && parts[0] === "") continue;
			if (parts.length !== 2) throw new Error("Each watched line is a type and a name, e.g. \"user alice\": " + line.trim());
			out.push({ type: parts[0], name: parts[1] });
		}
		return out;
	}

	for (const form of $$("form[data-webhook-form]")) {
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			try {
				const body = {
					url: form.elements.url.value.trim(),
					watched: watched(form.elements.watched.value),
					domains: $$("input[name=domain]:checked", form).map((c) => c.value),
				};
				const secret = form.elements.secret.value;
				if (secret !== "") body.secret = secret;
				const res = await api("POST", form.dataset.api, body);
				location.href = "/settings/webhooks/" + res.webhook.id;
			} catch (e) {
				say($(".notice", form), "Could not save the webhook: " + e.message, false);
			}
		});
	}

	for (const btn of $$("[data-webhook-call]")) {
		btn.addEventListener("click", async () => {
			if (btn.dataset.confirm && !confirm(btn.dataset.confirm)) return;
			btn.disabled = true;
			try {
				await api(btn.dataset.method, btn.dataset.webhookCall);
				if (btn.dataset.then) location.href = btn.dataset.then;
				else location.reload();
			} catch (e) {
				alert("Could not change the webhook: " + e.message);
				btn.disabled = false;
			}
		});
	}

	const status = $("[data-replay-status]");
	for (const btn of $$("[data-replay]")) {
		btn.addEventListener("click", async () => {
			btn.disabled = true;
			try {
				const res = await api("POST", btn.dataset.replay);
				const ok = res.status >= 200 && res.status < 300;
				say(status, ok ? "Replayed: the receiver answered " + res.status + "."
					: "Replayed, but the receiver answered " + (res.status || "nothing") + "; it will be retried.", ok);
				setTimeout(() => location.reload(), 1200);
			} catch (e) {
				say(status, "Could not replay: " + e.message, false);
				btn.disabled = false;
			}
		});
	}
})();
