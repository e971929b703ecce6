// Browser test of sign-in through an OpenID Connect provider: the sign-in
// page's "Sign in with …" button, the provider's own form, and back on the
// hub signed in, twice. Run by e2e/browser_oidc_test.go, which starts the
// provider and the hub, with HAVEN_URL, HAVEN_OIDC_NAME (the button's
// provider name), HAVEN_OIDC_USERNAME and HAVEN_OIDC_PASSWORD (an account
// at the provider), HAVEN_OIDC_USER (the hub user it becomes), HAVEN_ORG
// (the organisation its group maps to), HAVEN_CHROMIUM and
// HAVEN_SCREENSHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.env.HAVEN_URL;
const shots = process.env.HAVEN_SCREENSHOTS;
const env = (k) => {
	assert.ok(process.env[k], `${k} is not set`);
	return process.env[k];
};
const providerName = env("HAVEN_OIDC_NAME");
const user = env("HAVEN_OIDC_USER");

let context, profile;

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
});

after(async () => {
	await context.close();
	rmSync(profile, { recursive: true, force: true });
});

// signIn goes from the hub's sign-in page through the provider's form and
// back to the page it started from.
async function signIn(page, from, shot) {
	await page.goto("/login?next=" + encodeURIComponent(from));
	await page.getByRole("link", { name: `Sign in with ${providerName}` }).click();
	await page.getByLabel("Username:").fill(env("HAVEN_OIDC_USERNAME"));
	await page.getByLabel("Password:").fill(env("HAVEN_OIDC_PASSWORD"));
	if (shot) await page.screenshot({ path: join(shots, "oidc-01-provider.png"), fullPage: true });
	await page.getByRole("button", { name: "Login" }).click();
	await page.waitForURL(base + from);
}

// whoami asks the API from the page, with its session, as the pages' script does.
async function whoami(page) {
	return page.evaluate(async () => {
		const res = await fetch("/api/whoami-v2");
		return { status: res.status, body: await res.json() };
	});
}

test("the first sign-in creates the user and signs in", async () => {
	const page = context.pages()[0] || (await context.newPage());
	page.setDefaultTimeout(20000);
	await page.goto("/login");
	await page.screenshot({ path: join(shots, "oidc-00-login.png"), fullPage: true });
	await signIn(page, "/settings/tokens", true);
	await page.getByText(user, { exact: false }).first().waitFor();
	await page.screenshot({ path: join(shots, "oidc-02-signed-in.png"), fullPage: true });
	const me = await whoami(page);
	assert.equal(me.status, 200);
	assert.equal(me.body.name, user);
	assert.deepEqual(me.body.orgs.map((o) => [o.name, o.roleInOrg]), [[env("HAVEN_ORG"), "write"]]);
});

test("signing out and in again finds the same user", async () => {
	const page = context.pages()[0];
	const before = (await whoami(page)).body.id;
	await page.goto("/");
	await page.getByRole("button", { name: "Sign out" }).click();
	assert.equal((await whoami(page)).status, 401);
	await signIn(page, "/", false);
	const me = await whoami(page);
	assert.equal(me.status, 200);
	assert.equal(me.body.name, user);
	assert.equal(me.body.id, before);
});
