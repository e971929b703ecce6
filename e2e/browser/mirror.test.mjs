// Browser tests of mirroring: a repository of another hub mirrored from the
// new-repository page (the page waits for the first sync, then opens the
// mirror, which says where it comes from), and a push mirror added,
// synced and stopped in the repository's settings. Run by
// e2e/browser_mirror_test.go, which starts both servers and passes
// HAVEN_URL, HAVEN_USER, HAVEN_PASSWORD, HAVEN_SOURCE (the other hub's
// URL), HAVEN_SOURCE_REPO (a public model there), HAVEN_SOURCE_TOKEN (a
// write token there), HAVEN_CHROMIUM and HAVEN_SCREENSHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { signedIn, shot } from "./session.mjs";

const base = process.env.HAVEN_URL;
const user = process.env.HAVEN_USER;
const source = process.env.HAVEN_SOURCE;
const sourceRepo = process.env.HAVEN_SOURCE_REPO;
const sourceToken = process.env.HAVEN_SOURCE_TOKEN;

let page, close;

before(async () => {
	({ page, close } = await signedIn());
});

after(async () => {
	if (close) await close();
});

test("a repository of another hub is mirrored from the new-repository page", async () => {
	await page.goto("/new");
	const form = page.locator("form[data-new-mirror]");
	await form.locator("#mirror-source").fill(source + "/" + sourceRepo);
	await form.locator("#mirror-name").fill("mirrored");
	await form.getByRole("button", { name: "Mirror it" }).click();
	await page.waitForURL(base + "/" + user + "/mirrored", { timeout: 60000 });
	const note = page.locator("[data-mirror]");
	await note.waitFor();
	assert.match(await note.innerText(), /Mirrored from .*last synced/);
	assert.equal(await note.locator("a").getAttribute("href"), source + "/" + sourceRepo);
	await page.getByRole("link", { name: "Files" }).click();
	await page.locator("text=weights.bin").first().waitFor();
	await shot(page, "mirror-pull");
});

test("a push mirror is added, synced and stopped in the settings", async () => {
	await page.goto("/" + user + "/published/settings");
	const section = page.locator("section[data-mirrors]");
	await section.getByLabel("Remote repository").fill(source + "/" + sourceRepo.split("/")[0] + "/from-browser");
	await section.getByLabel("Token with write access there").fill(sourceToken);
	await section.getByRole("button", { name: "Add push mirror" }).click();
	const row = section.locator("tr[data-mirror-id]");
	await row.waitFor();
	// The first push runs on the server; the table shows it once done.
	for (let i = 0; i < 60; i++) {
		if (/ok/.test(await row.locator("td").nth(4).innerText())) break;
		await page.waitForTimeout(1000);
		await page.reload();
	}
	assert.match(await row.locator("td").nth(4).innerText(), /ok/);
	const res = await fetch(source + "/api/models/" + sourceRepo.split("/")[0] + "/from-browser/revision/main",
		{ headers: { Authorization: "Bearer " + sourceToken } });
	assert.equal(res.status, 200, "the remote repository exists");
	await row.getByRole("button", { name: "Sync now" }).click();
	await section.page().locator("[data-ok]").filter({ hasText: "Sync queued" }).waitFor();
	await shot(page, "mirror-settings");
	await row.getByRole("button", { name: "Stop" }).click();
	await section.getByText("This repository has no mirrors.").waitFor();
});
