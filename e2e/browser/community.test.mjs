// Browser test of the Community tab: bob, who cannot write alice's
// repository, comments on a discussion, reacts to it, reads his pull
// request's diff and has no merge button; alice pins and locks the
// discussion, which bob then cannot comment on, and merges the pull request.
// Run by e2e/browser_community_test.go: HAVEN_URL, HAVEN_USER (alice),
// HAVEN_OTHER (bob), HAVEN_TOKEN and HAVEN_OTHER_TOKEN (their write tokens),
// HAVEN_CHROMIUM, HAVEN_SCREENSHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.HAVEN_URL;
const owner = process.env.HAVEN_USER;
const other = process.env.HAVEN_OTHER;
const shots = process.env.HAVEN_SCREENSHOTS;
const repo = "browser-community";
const repoPath = `/${owner}/${repo}`;

const browsers = [];

// signedIn opens a browser of its own, signed in as name; dialogs
// (confirmations) are accepted.
async function signedIn(name) {
	const profile = mkdtempSync(join(tmpdir(), "haven-chromium-"));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.HAVEN_CHROMIUM || "/usr/bin/chromium",
		headless: true,
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync"],
		viewport: { width: 1280, height: 900 },
		baseURL: base,
	});
	browsers.push({ context, profile });
	const page = context.pages()[0] || (await context.newPage());
	page.setDefaultTimeout(20000);
	page.on("pageerror", (err) => { throw err; });
	page.on("dialog", (d) => d.accept());
	await page.goto("/login");
	await page.getByLabel("User name").fill(name);
	await page.getByLabel("Password").fill(`pw-${name}-e2e-secret`);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.waitForURL(base + "/");
	return page;
}

async function api(token, method, path, body, contentType = "application/json") {
	const res = await fetch(base + path, { method, headers: { Authorization: "Bearer " + token, "Content-Type": contentType }, body });
	const text = await res.text();
	assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
	return JSON.parse(text);
}

function commit(token, revision, summary, files, query = "") {
	const lines = [{ key: "header", value: { summary } }];
	for (const [path, content] of Object.entries(files)) {
		lines.push({ key: "file", value: { path, encoding: "base64", content: Buffer.from(content).toString("base64") } });
	}
	return api(token, "POST", `/api/models${repoPath}/commit/${encodeURIComponent(revision)}${query}`,
		lines.map((l) => JSON.stringify(l)).join("\n") + "\n", "application/x-ndjson");
}

const shot = (page, name) => page.screenshot({ path: join(shots, `community-${name}.png`), fullPage: true });

let alice, bob, discussion, pr;

before(async () => {
	mkdirSync(shots, { recursive: true });
	const aliceToken = process.env.HAVEN_TOKEN, bobToken = process.env.HAVEN_OTHER_TOKEN;
	await api(aliceToken, "POST", "/api/repos/create", JSON.stringify({ name: repo }));
	await commit(aliceToken, "main", "Add the config", { "config.txt": "layers = 12\n" });
	discussion = (await api(bobToken, "POST", `/api/models${repoPath}/discussions`,
		JSON.stringify({ title: "How many layers?", description: "Is **12** enough?" }))).num;
	const res = await commit(bobToken, "main", "Use 24 layers", { "config.txt": "layers = 24\n" }, "?create_pr=1");
	pr = Number(res.pullRequestUrl.match(/\/discussions\/(\d+)$/)[1]);
	bob = await signedIn(other);
	alice = await signedIn(owner);
});

after(async () => {
	for (const b of browsers) {
		await b.context.close();
		rmSync(b.profile, { recursive: true, force: true });
	}
});

test("a user opens a discussion from the Community tab, comments and reacts", async () => {
	await bob.goto(repoPath + "/discussions");
	await bob.getByRole("link", { name: "How many layers?" }).click();
	await bob.waitForURL(`${base}${repoPath}/discussions/${discussion}`);
	await bob.locator(".event-comment strong", { hasText: "12" }).waitFor();
	await bob.getByRole("textbox", { name: "Comment" }).fill("Maybe try *24* instead.");
	await bob.getByRole("button", { name: "Comment", exact: true }).click();
	await bob.locator(".event-comment em", { hasText: "24" }).waitFor();
	const opening = bob.locator(".event-comment").first();
	await opening.getByText("Add reaction").click();
	await opening.locator('.reaction-picker [data-react="🚀"]').click();
	await bob.locator('.event-comment').first().locator('[aria-pressed="true"]', { hasText: "🚀 1" }).waitFor();
	await shot(bob, "01-thread");
});

test("a user reads his pull request's diff and has no merge button", async () => {
	await bob.goto(`${repoPath}/discussions/${pr}`);
	await bob.getByRole("link", { name: "Files changed" }).click();
	await bob.getByText("layers = 24").first().waitFor();
	await shot(bob, "02-diff");
	await bob.goto(`${repoPath}/discussions/${pr}`);
	await bob.locator("[data-status]").first().waitFor(); // he may close his own pull request
	assert.equal(await bob.locator("[data-merge]").count(), 0);
});

test("the owner pins and locks the discussion; the user can no longer comment", async () => {
	await alice.goto(`${repoPath}/discussions/${discussion}`);
	await alice.getByRole("button", { name: "Pin", exact: true }).click();
	await alice.getByRole("button", { name: "Unpin" }).waitFor();
	await alice.getByRole("button", { name: "Lock", exact: true }).click();
	await alice.getByRole("button", { name: "Unlock" }).waitFor();
	await alice.getByText("locked this discussion").waitFor();
	await alice.goto(repoPath + "/discussions");
	const first = alice.locator("table.list tbody tr").first();
	await first.getByText("How many layers?").waitFor();
	await first.locator("[data-pinned]").waitFor();
	await shot(alice, "03-pinned");
	await bob.goto(`${repoPath}/discussions/${discussion}`);
	await bob.locator("[data-locked-notice]").waitFor();
	assert.equal(await bob.locator("form[data-comment]").count(), 0);
});

test("the owner merges the pull request", async () => {
	await alice.goto(`${repoPath}/discussions/${pr}`);
	await alice.getByRole("button", { name: /^Merge into main/ }).click();
	await alice.locator(".badge", { hasText: "merged" }).first().waitFor();
	await shot(alice, "04-merged");
	const res = await fetch(`${base}${repoPath}/resolve/main/config.txt`);
	assert.equal(await res.text(), "layers = 24\n");
});
