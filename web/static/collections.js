// Haven pages: collections. Creating and deleting collections, upvoting,
// removing items, and the "Add to collection" menu of repository pages, all through
// the JSON API with the session cookie.
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

	function say(el, text, ok) {
		if (!el) return;
		el.textContent = text;
		el.hidden = !text;
		el.classList.toggle("ok", !!ok);
		el.classList.toggle("error", !ok);
	}

	function newCollection() {
		const form = $("form[data-new-collection]");
		if (!form) return;
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			try {
				const c = await api("POST", "/api/collections", {
					title: form.elements.title.value,
					description: form.elements.description.value,
					private: form.elements.private.checked,
					namespace: form.dataset.namespace,
				});
				location.href = "/collections/" + c.slug;
			} catch (e) {
				say($(".notice", form), "Could not create the collection: " + e.message, false);
			}
		});
	}

	function editCollection() {
		for (const btn of $$("[data-remove-item]")) {
			btn.addEventListener("click", async () => {
				btn.disabled = true;
				try {
					await api("DELETE", btn.dataset.removeItem);
					btn.closest("li").remove();
				} catch (e) {
					alert("Could not remove the item: " + e.message);
					btn.disabled = false;
				}
			});
		}
		const up = $("[data-upvote]");
		if (up) up.addEventListener("click", async () => {
			up.disabled = true;
			try {
				const on = up.getAttribute("aria-pressed") !== "true";
				const res = await api(on ? "POST" : "DELETE", up.dataset.upvote);
				up.setAttribute("aria-pressed", String(res.isUpvotedByUser));
				$("[data-upvotes]", up).textContent = res.upvotes;
			} catch (e) {
				alert("Could not upvote: " + e.message);
			}
			up.disabled = false;
		});
		const del = $("[data-delete-collection]");
		if (del) del.addEventListener("click", async () => {
			if (!confirm("Delete this collection? Its items stay where they are.")) return;
			try {
				await api("DELETE", del.dataset.deleteCollection);
				location.href = del.dataset.then;
			} catch (e) {
				alert("Could not delete the collection: " + e.message);
			}
		});
	}

	// The menu lists the collections of the visitor and of the
	// organisations they write in, fetched the first time it opens.
	function addToCollection() {
		const menu = $("details[data-add-collection]");
		if (!menu) return;
		const form = $("form", menu);
		const select = $("select", form);
		const status = $(".notice", form);
		let loaded = false;
		menu.addEventListener("toggle", async () => {
			if (!menu.open || loaded) return;
			loaded = true;
			try {
				const me = await api("GET", "/api/whoami-v2");
				const owners = [me.name].concat((me.orgs || []).filter((o) => o.roleInOrg === "admin" || o.roleInOrg === "write").map((o) => o.name));
				const q = new URLSearchParams(owners.map((o) => ["owner", o]));
				q.set("limit", "100");
				const list = await api("GET", "/api/collections?" + q.toString());
				select.textContent = "";
				for (const c of list) {
					const opt = document.createElement("option");
					opt.value = c.slug;
					opt.textContent = c.owner.name + " / " + c.title + (c.private ? " (private)" : "");
					select.appendChild(opt);
				}
				if (!list.length) {
					say(status, "You have no collection yet: create one on your collections page.", true);
					const a = document.createElement("a");
					a.href = "/collections/" + encodeURIComponent(me.name);
					a.textContent = " Open it";
					status.appendChild(a);
				}
				$("button", form).disabled = !list.length;
			} catch (e) {
				say(status, "Could not list your collections: " + e.message, false);
			}
		});
		form.addEventListener("submit", async (ev) => {
			ev.preventDefault();
			const slug = select.value;
			try {
				await api("POST", "/api/collections/" + slug + "/items", {
					item: { type: menu.dataset.itemType, id: menu.dataset.itemId },
					note: form.elements.note.value || undefined,
				});
				say(status, "Added to " + select.options[select.selectedIndex].textContent + ".", true);
			} catch (e) {
				say(status, e.status === 409 ? "It is already in this collection." : "Could not add it: " + e.message, false);
			}
		});
	}

	function init() {
		newCollection();
		editCollection();
		addToCollection();
	}
	if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
	else init();
})();
