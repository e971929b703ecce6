// Browser test of a gated repository: another user fills the access-request
// form built from the card, sees the request pending, the owner accepts it
// on the access-requests page, and the files open. Run by
// e2e/browser_test.go with the environment described in web.test.mjs.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.HAVEN_URL;
const user = process.env.HAVEN_USER;
const token = process.env.HAVEN_TOKEN;
const shots = process.env.HAVEN_SCREENSHOTS;
const other = process.env.HAVEN_OTHER;
const repo = "browser-gated";
const repoPath = `/${user}/${repo}`;

const card = `---
license: other
extra_gated_heading: Ask for the weights
extra_gated_prompt: The weights are for research only.
extra_gated_button_content: Send my request
extra_gated_fields:
  Company: text
  Country: country
  Purpose:
    type: select
    options:
      - Research
      - label: Business use
        value: business
  Date of birth: date_picker
  I agree to the licence: checkbox
---
# A gated model
`;

const browsers = [];

// signedIn opens a browser of its own, signed in as name.
async function signedIn(name) {
	const profile = mkdtempSync(join(tmpdir(), "haven-chromium-"));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.HAVEN_CHROMIUM || "/usr/bin/chromium",
		headless: true,
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync"],
		viewport: { width: 1280, height: 860 },
		baseURL: base,
	});
	browsers.push({ context, profile });
	const page = context.pages()[0] || (await context.newPage());
	page.setDefaultTimeout(20000);
	page.on("pageerror", (err) => { throw err; });
	await page.goto("/login");
	await page.getByLabel("User name").fill(name);
	await page.getByLabel("Password").fill(`pw-${name}-e2e-secret`);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.waitForURL(base + "/");
	return page;
}

async function api(method, path, body, contentType = "application/json") {
	const res = await fetch(base + path, {
		method,
		headers: { Authorization: "Bearer " + token, "Content-Type": contentType },
		body,
	});
	const text = await res.text();
	assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
	return text;
}

let owner, requester;

before(async () => {
	mkdirSync(shots, { recursive: true });
	await api("POST", "/api/repos/create", JSON.stringify({ name: repo }));
	const lines = [
		{ key: "header", value: { summary: "A gated model" } },
		{ key: "file", value: { path: "README.md", encoding: "base64", content: Buffer.from(card).toString("base64") } },
		{ key: "file", value: { path: "weights.txt", encoding: "base64", content: Buffer.from("the weights\n").toString("base64") } },
	];
	await api("POST", `/api/models${repoPath}/commit/main`, lines.map((l) => JSON.stringify(l)).join("\n") + "\n", "application/x-ndjson");
	await api("PUT", `/api/models${repoPath}/settings`, JSON.stringify({ gated: "manual" }));
	requester = await signedIn(other);
	owner = await signedIn(user);
});

after(async () => {
	for (const b of browsers) {
		await b.context.close();
		rmSync(b.profile, { recursive: true, force: true });
	}
});

test("another user asks for access through the card's form", async () => {
	await requester.goto(repoPath);
	await requester.getByRole("heading", { name: "Ask for the weights" }).waitFor();
	await requester.getByText("The weights are for research only.").waitFor();
	await requester.getByLabel("Company").fill("ACME");
	await requester.getByLabel("Country").fill("FR");
	await requester.getByLabel("Purpose").selectOption("business");
	await requester.getByLabel("Date of birth").fill("1990-01-02");
	await requester.getByLabel("I agree to the licence").check();
	await requester.screenshot({ path: join(shots, "gated-01-form.png"), fullPage: true });
	await requester.getByRole("button", { name: "Send my request" }).click();
	await requester.locator('[data-gate-status="pending"]').waitFor();
	await requester.screenshot({ path: join(shots, "gated-02-pending.png"), fullPage: true });
	const res = await requester.goto(`${repoPath}/blob/main/weights.txt`);
	assert.equal(res.status(), 403);
});

test("the owner accepts the request on the access-requests page", async () => {
	await owner.goto(`${repoPath}/settings`);
	await owner.getByRole("link", { name: "Access requests" }).click();
	const row = owner.locator(`tr[data-request="${other}"]`);
	await row.waitFor();
	for (const answer of ["ACME", "FR", "business", "1990-01-02", "true"]) {
		await row.getByText(answer, { exact: true }).waitFor();
	}
	await owner.screenshot({ path: join(shots, "gated-03-requests.png"), fullPage: true });
	await row.getByRole("button", { name: "Accept" }).click();
	await owner.getByText("No pending requests.").waitFor();
	await owner.getByRole("link", { name: "accepted" }).click();
	await owner.locator(`tr[data-request="${other}"]`).waitFor();
});

test("the accepted user opens the files", async () => {
	await requester.goto(repoPath);
	assert.equal(await requester.locator("[data-gate]").count(), 0);
	const res = await requester.goto(`${repoPath}/blob/main/weights.txt`);
	assert.equal(res.status(), 200);
	await requester.getByText("the weights").first().waitFor();
});
