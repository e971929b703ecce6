// session.mjs: a headless Chromium signed in to Haven, for the browser
// suites that drive pages as a user (HAVEN_URL, HAVEN_USER,
// HAVEN_PASSWORD, HAVEN_CHROMIUM, HAVEN_SCREENSHOTS from the Go harness).
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

// signedIn opens a browser on a profile of its own and signs the user in;
// close ends both. Dialogs (confirmations) are accepted.
export async function signedIn({ viewport = { width: 1280, height: 900 } } = {}) {
	const base = process.env.HAVEN_URL;
	const profile = mkdtempSync(join(tmpdir(), "haven-chromium-"));
	const context = await chromium.launchPersistentContext(profile, {
		executablePath: process.env.HAVEN_CHROMIUM || "/usr/bin/chromium",
		headless: true,
		args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
			"--disable-background-networking", "--disable-component-update", "--disable-sync"],
		viewport,
		baseURL: base,
	});
	const page = context.pages()[0] || (await context.newPage());
	page.setDefaultTimeout(20000);
	page.on("pageerror", (err) => { throw err; });
	page.on("dialog", (d) => d.accept());
	await page.goto("/login");
	await page.getByLabel("User name").fill(process.env.HAVEN_USER);
	await page.getByLabel("Password").fill(process.env.HAVEN_PASSWORD);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.waitForURL(base + "/");
	const close = async () => {
		await context.close();
		rmSync(profile, { recursive: true, force: true });
	};
	return { page, close };
}

// shot saves a full-page screenshot under HAVEN_SCREENSHOTS.
export async function shot(page, name) {
	const dir = process.env.HAVEN_SCREENSHOTS;
	mkdirSync(dir, { recursive: true });
	await page.screenshot({ path: join(dir, name + ".png"), fullPage: true });
}
