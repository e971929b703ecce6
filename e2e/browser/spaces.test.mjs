// Browser tests of the pages of a static Space: the app shows in its frame
// under a running badge, /spaces lists it as running, and variables and
// secrets are set from the settings page, secret values never shown. Run
// by e2e/browser_spaces_test.go, which starts the server and passes
// HAVEN_URL, HAVEN_USER, HAVEN_PASSWORD, HAVEN_TOKEN (write token of the
// user), HAVEN_CHROMIUM and HAVEN_SCREENSHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.HAVEN_URL;
const user = process.env.HAVEN_USER;
const password = process.env.HAVEN_PASSWORD;
const token = process.env.HAVEN_TOKEN;
const shots = process.env.HAVEN_SCREENSHOTS;
const space = "browser-site";
const spacePath = `/spaces/${user}/${space}`;
const secretValue = "browser-secret-" + Date.now();

let context, page, profile;

before(async () => {
	mkdirSync(shots, { recursive: true });
	profile = mkdtempSync(join(tmpdir(), "haven-chromium-"));
	context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.HAVEN_CHROMIUM || "/usr/bin/chromium",
		headless: true,
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync"],
		viewport: { width: 1280, height: 860 },
		baseURL: base,
	});
	page = context.pages()[0] || (await context.newPage());
	page.setDefaultTimeout(20000);
	page.on("pageerror", (err) => { throw err; });
	page.on("dialog", (d) => d.accept());
});

after(async () => {
	if (context) await context.close();
	if (profile) rmSync(profile, { recursive: true, force: true });
});

async function shot(name) {
	await page.screenshot({ path: join(shots, name + ".png"), fullPage: true });
}

async function api(method, path, body) {
	const res = await fetch(base + path, {
		method,
		headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
	return text ? JSON.parse(text) : null;
}

test("a static Space shows its app in a frame", async () => {
	await api("POST", "/api/repos/create", { name: space, organization: user, type: "space", sdk: "static" });
	await page.goto(spacePath);
	const badge = page.locator(".repo-title [data-stage-badge]");
	await assert.doesNotReject(badge.waitFor());
	assert.equal((await badge.textContent()).trim(), "Running");
	assert.match(await badge.getAttribute("class"), /\brunning\b/);
	const frame = page.frameLocator("iframe[data-space-frame]");
	await frame.getByRole("heading", { name: "Welcome to your static Space!" }).waitFor();
	assert.equal(await page.getByRole("link", { name: "Logs" }).count(), 0, "a static Space has no logs tab");
	await shot("spaces-01-app");
});

test("the listing shows the Space running", async () => {
	await page.goto("/spaces");
	const item = page.locator("li.repo-item", { hasText: `${user}/${space}` });
	await item.locator("[data-stage-badge]", { hasText: "Running" }).waitFor();
	await shot("spaces-02-listing");
});

test("settings set a variable the app sees and a secret nobody sees", async () => {
	await page.goto("/login");
	await page.getByLabel("User name").fill(user);
	await page.getByLabel("Password").fill(password);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.waitForURL(base + "/");
	await page.goto(spacePath);
	await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "Settings" }).click();
	await page.waitForURL(base + spacePath + "/settings");

	const vars = page.getByRole("region", { name: "Variables" });
	await vars.getByLabel("Key").fill("GREETING");
	await vars.getByLabel("Value").fill("hello from the settings");
	await vars.getByRole("button", { name: "Save variable" }).click();
	await page.getByRole("status").filter({ hasText: "Variable GREETING saved." }).waitFor();
	await page.getByRole("table", { name: "Variables" }).getByRole("cell", { name: "hello from the settings" }).waitFor();

	const secrets = page.getByRole("region", { name: "Secrets" });
	await secrets.getByLabel("Key").fill("API_KEY");
	await secrets.getByLabel("Value").fill(secretValue);
	await secrets.getByRole("button", { name: "Save secret" }).click();
	await page.getByRole("status").filter({ hasText: "Secret API_KEY saved." }).waitFor();
	await page.getByRole("table", { name: "Secrets" }).getByRole("cell", { name: "API_KEY" }).waitFor();
	assert.ok(!(await page.content()).includes(secretValue), "the secret's value is on the page");
	await shot("spaces-03-settings");

	// The app's pages get the variable. It is asked for afresh: the browser
	// holds the page from the first visit under the same validator.
	await page.goto(spacePath);
	const host = await page.locator("iframe[data-space-frame]").getAttribute("data-src");
	const html = await (await page.request.get(host, { headers: { Accept: "text/html" } })).text();
	assert.ok(html.includes('"GREETING":"hello from the settings"'), "the app's page lacks the variable");
	assert.ok(!html.includes(secretValue), "the app's page has the secret");
});

test("a Space that builds has a logs tab that follows its logs", async () => {
	const name = "browser-app";
	await api("POST", "/api/repos/create", { name, organization: user, type: "space", sdk: "gradio" });
	await page.goto(`/spaces/${user}/${name}`);
	await page.locator(".repo-title [data-stage-badge]").waitFor();
	await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "Logs" }).click();
	await page.waitForURL(base + `/spaces/${user}/${name}/logs`);
	// Whatever this server can do with the app, each log says where it is.
	for (const status of await page.locator("[data-log-status]").all()) {
		await assert.doesNotReject(async () => {
			for (let i = 0; i < 100 && (await status.textContent()) === "Connecting…"; i++) await page.waitForTimeout(100);
		});
		assert.notEqual(await status.textContent(), "Connecting…");
	}
	await shot("spaces-04-logs");
});
