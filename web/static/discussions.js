// Haven pages: discussions and pull requests. Opening, commenting, editing
// and hiding comments, reacting, renaming, closing, reopening, pinning,
// locking, deleting and merging all go
// through the JSON API with the session cookie; the page then reloads.
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
			const err = new Error((data && data.error) || res.headers.get("X-Error-Message") || ("HTTP " + res.status));
			err.status = res.status;
			throw err;
		}
		return data;
	}

	function fail(root, e) {
		const el = $("[data-error]", root);
		if (!el) return;
		el.textContent = e.message;
		el.hidden = false;
		el.scrollIntoView({ block: "nearest" });
	}

	// act runs fn when el is used, with the button disabled meanwhile, and
	// reloads the page when it succeeds.
	function act(root, el, event, fn) {
		el.addEventListener(event, async (ev) => {
			ev.preventDefault();
			const button = el.tagName === "FORM" ? $("button[type=submit]", el) : el;
			button.disabled = true;
			try {
				const next = await fn();
				if (next === false) { button.disabled = false; return; } // cancelled
				if (typeof next === "string") location.href = next; else location.reload();
			} catch (e) {
				fail(root, e);
				button.disabled = false;
			}
		});
	}

	function list() {
		const root = $("[data-discussions]");
		if (!root) return;
		const form = $("form[data-new-discussion]", root);
		if (form) act(root, form, "submit", async () => {
			const f = form.elements;
			const res = await api("POST", root.dataset.api, {
				title: f.title.value.trim(), description: f.description.value, pullRequest: f.pullRequest.checked,
			});
			return root.dataset.page + res.num;
		});
	}

	function thread() {
		const root = $("[data-thread]");
		if (!root) return;
		const base = root.dataset.api;
		const form = $("form[data-comment]", root);
		if (form) act(root, form, "submit", () => api("POST", base + "/comment", { comment: form.elements.comment.value }));
		for (const b of $$("[data-status]", root)) {
			act(root, b, "click", () => api("POST", base + "/status", { status: b.dataset.status }));
		}
		const merge = $("[data-merge]", root);
		if (merge) act(root, merge, "click", async () => {
			if (!confirm("Merge this pull request?")) return false;
			return api("POST", base + "/merge");
		});
		const rename = $("[data-rename]", root);
		if (rename) act(root, rename, "click", async () => {
			const title = prompt("New title", $("[data-title]", root).textContent);
			if (title === null) return false;
			return api("POST", base + "/title", { title: title.trim() });
		});
		for (const b of $$("[data-edit-comment]", root)) {
			act(root, b, "click", async () => {
				const content = prompt("Edit the comment", b.dataset.raw);
				if (content === null) return false;
				return api("POST", base + "/comment/" + b.dataset.editComment + "/edit", { content });
			});
		}
		for (const b of $$("[data-react]", root)) {
			act(root, b, "click", () => api("POST", base + "/comment/" + b.dataset.comment + "/reaction",
				{ action: b.dataset.on === "true" ? "add" : "remove", reaction: b.dataset.react }));
		}
		const pin = $("[data-pin]", root);
		if (pin) act(root, pin, "click", () => api("POST", base + "/pin", { pinned: pin.dataset.pin === "true" }));
		const lock = $("[data-lock]", root);
		if (lock) act(root, lock, "click", () => api("POST", base + "/lock", { locked: lock.dataset.lock === "true" }));
		const del = $("[data-delete-discussion]", root);
		if (del) act(root, del, "click", async () => {
			if (!confirm("Delete this discussion and its comments for good?")) return false;
			await api("DELETE", base);
			return root.dataset.list;
		});
		for (const b of $$("[data-hide-comment]", root)) {
			act(root, b, "click", async () => {
				if (!confirm("Hide this comment? Its text cannot be shown again.")) return false;
				return api("POST", base + "/comment/" + b.dataset.hideComment + "/hide");
			});
		}
	}

	function init() { list(); thread(); }
	if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
	else init();
})();
