// Browser tests of Haven's pages: a signed-in user creates a repository,
// writes its card, uploads a file, browses a tag, reads a diff, searches,
// likes and manages tokens, all through the pages in headless Chromium.
// Each step saves a screenshot. Run by e2e/browser_test.go, which starts
// the server and passes:
//
//   HAVEN_URL, HAVEN_USER, HAVEN_PASSWORD, HAVEN_TOKEN (write token of the
//   user, for setting up a tag), HAVEN_ORG (an organisation the user
//   administers), HAVEN_OTHER (another user), HAVEN_CHROMIUM,
//   HAVEN_SCREENSHOTS.
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
const org = process.env.HAVEN_ORG;
const other = process.env.HAVEN_OTHER;
const repo = "browser-model";
const repoPath = `/${user}/${repo}`;

let context, page, profile;

before(async () => {
	mkdirSync(shots, { recursive: true });
	profile = mkdtempSync(join(tmpdir(), "haven-chromium-"));
	// A persistent context on a fresh profile folder: Chromium's own
	// --user-data-dir, which the launch flags below must not repeat.
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
});

after(async () => {
	if (context) await context.close();
	if (profile) rmSync(profile, { recursive: true, force: true });
});

async function shot(name) {
	await page.screenshot({ path: join(shots, name + ".png"), fullPage: true });
}

// api calls the JSON API with the user's token, for set-up the pages do
// not offer (tags).
async function api(method, path, body) {
	const res = await fetch(base + path, {
		method,
		headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
		body: body === undefined ? undefined : JSON.stringify(body),
	});
	const text = await res.text();
	assert.ok(res.ok, `${method} ${path}: ${res.status} ${text}`);
	return JSON.parse(text);
}

test("sign in", async () => {
	await page.goto("/login");
	await page.getByLabel("User name").fill(user);
	await page.getByLabel("Password").fill("not the password");
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.getByRole("alert").filter({ hasText: "Wrong user name or password" }).waitFor();
	await page.getByLabel("Password").fill(password);
	await page.getByRole("button", { name: "Sign in" }).click();
	await page.waitForURL(base + "/");
	await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: user }).waitFor();
	await shot("01-signed-in-home");
});

test("create a repository", async () => {
	await page.goto("/new");
	// The page also has the form that mirrors a repository of another hub.
	const form = page.locator("form[data-new-repo]");
	await form.getByLabel("Name").fill(repo);
	await form.getByLabel("License").fill("apache-2.0");
	await page.getByRole("button", { name: "Create repository" }).click();
	await page.waitForURL(base + repoPath);
	await page.getByRole("heading", { name: `${user} / ${repo}` }).waitFor();
	await shot("02-new-repository");
});

test("write the card and read it rendered", async () => {
	await page.goto(repoPath);
	await page.getByRole("link", { name: "Edit the card" }).click();
	const card = [
		"---", "license: apache-2.0", "pipeline_tag: text-classification", "library_name: transformers",
		"language: [en]", "tags: [browser-test]", "---", "",
		"# Browser model", "", "A model whose card was written **in the browser**.", "",
		"| metric | value |", "|---|---|", "| accuracy | 0.97 |", "",
		"<script>window.hacked = true</script>", "",
		"```python", "print('hello')", "```", "",
	].join("\n");
	await page.getByLabel("Content").fill(card);
	await page.getByLabel("Commit message").fill("Write the card");
	await page.getByRole("button", { name: "Commit changes" }).click();
	await page.waitForURL(base + repoPath);
	const article = page.getByRole("article", { name: "Card" });
	await article.getByRole("heading", { name: "Browser model" }).waitFor();
	assert.equal(await article.locator("strong").first().textContent(), "in the browser");
	assert.equal(await article.locator("td").nth(1).textContent(), "0.97");
	assert.equal(await page.evaluate(() => window.hacked), undefined, "the card's script ran");
	await page.getByRole("link", { name: "task: text-classification" }).waitFor();
	await shot("03-rendered-card");
});

test("upload a file from the browser", async () => {
	await page.goto(repoPath + "/upload/main");
	await page.getByLabel("Choose files, or drop them here").setInputFiles([
		{ name: "config.json", mimeType: "application/json", buffer: Buffer.from('{\n  "hidden_size": 768,\n  "layers": 12\n}\n') },
		{ name: "weights.bin", mimeType: "application/octet-stream", buffer: Buffer.alloc(4096, 7) },
	]);
	await page.getByLabel("Commit message").fill("Upload config and weights");
	await page.getByRole("button", { name: /Commit changes/ }).click();
	await page.waitForURL(base + repoPath + "/tree/main");
	const files = page.getByRole("table");
	await files.getByRole("link", { name: "config.json" }).waitFor();
	await files.getByRole("row").filter({ hasText: "weights.bin" }).getByText("LFS").waitFor();
	await files.getByRole("link", { name: "config.json" }).click();
	await page.locator(".chroma").getByText('"hidden_size"').waitFor();
	await shot("04-uploaded-file");
	await page.goto(repoPath + "/blob/main/weights.bin");
	await page.getByText("SHA-256").waitFor();
	await shot("05-lfs-file");
});

test("browse the tree at a tag", async () => {
	await api("POST", `/api/models${repoPath}/tag/main`, { tag: "v1.0" });
	// A commit after the tag, so that the tag and main differ.
	await page.goto(repoPath + "/edit/main/config.json");
	await page.getByLabel("Content").fill('{\n  "hidden_size": 1024,\n  "layers": 24\n}\n');
	await page.getByLabel("Commit message").fill("Grow the model");
	await page.getByRole("button", { name: "Commit changes" }).click();
	await page.waitForURL(/\/blob\/main\/config.json$/);

	await page.goto(repoPath + "/tree/main");
	await page.getByText("main ▾").click();
	await page.locator(".rev-switch .menu").getByRole("link", { name: "v1.0" }).click();
	await page.waitForURL(base + repoPath + "/tree/v1.0");
	await page.getByRole("link", { name: "config.json" }).click();
	await page.waitForURL(base + repoPath + "/blob/v1.0/config.json");
	await page.locator(".chroma").getByText("768").waitFor();
	await shot("06-tree-at-tag");
});

test("open a commit diff", async () => {
	await page.goto(repoPath + "/commits/main");
	await page.getByRole("link", { name: "Grow the model" }).click();
	await page.waitForURL(/\/commit\/[0-9a-f]{40}$/);
	const diff = page.getByRole("region", { name: "config.json" });
	await diff.locator("tr.del").filter({ hasText: "768" }).waitFor();
	await diff.locator("tr.add").filter({ hasText: "1024" }).waitFor();
	await shot("07-commit-diff");
});

test("search and filter", async () => {
	await page.goto("/");
	const box = page.getByRole("combobox", { name: /Search models/ });
	await box.fill("browser-mod");
	const option = page.getByRole("option", { name: `${user}/${repo}` });
	await option.waitFor();
	await shot("08-quick-search");
	await box.press("ArrowDown");
	assert.equal(await option.getAttribute("aria-selected"), "true");
	await box.press("Enter");
	await page.waitForURL(base + repoPath);

	await page.goto("/models");
	await page.getByRole("complementary", { name: "Filters" }).getByRole("link", { name: /^text-classification/ }).click();
	await page.waitForURL(/pipeline_tag=text-classification/);
	await page.getByRole("link", { name: `${user}/${repo}` }).waitFor();
	await page.getByLabel("Filter by name").fill("no-such-model");
	await page.getByRole("button", { name: "Apply" }).click();
	await page.getByText("Nothing matches these filters.").waitFor();
	assert.match(page.url(), /pipeline_tag=text-classification/, "the tag filter was dropped");
	await page.getByLabel("Filter by name").fill("browser");
	await page.getByLabel("Sort").selectOption("likes");
	await page.waitForURL(/sort=likes/);
	await page.getByRole("link", { name: `${user}/${repo}` }).waitFor();
	await shot("09-filtered-listing");
});

test("like a repository", async () => {
	await page.goto(repoPath);
	const like = page.getByRole("button", { name: /Like/ });
	assert.equal(await like.getAttribute("aria-pressed"), "false");
	await like.click();
	await page.getByRole("button", { name: /Liked/ }).waitFor();
	await page.reload();
	const liked = page.getByRole("button", { name: /Liked/ });
	assert.equal(await liked.getAttribute("aria-pressed"), "true");
	assert.equal((await liked.locator(".like-count").textContent()).trim(), "1");
	await shot("10-liked");
});

test("create and revoke a token", async () => {
	await page.goto("/settings/tokens");
	await page.getByLabel("Name", { exact: true }).fill("from-the-browser");
	await page.getByLabel("write", { exact: true }).check();
	await page.getByRole("button", { name: "Create token" }).click();
	const plain = (await page.locator("[data-token]").textContent()).trim();
	assert.match(plain, /^hf_[A-Za-z]{34}$/);
	const who = await fetch(base + "/api/whoami-v2", { headers: { Authorization: "Bearer " + plain } });
	assert.equal(who.status, 200);
	await shot("11-token-created");
	page.once("dialog", (d) => d.accept());
	await page.getByRole("button", { name: "Revoke from-the-browser" }).click();
	await page.getByText("The token was revoked.").waitFor();
	assert.equal(await page.getByRole("button", { name: "Revoke from-the-browser" }).count(), 0);
	const after = await fetch(base + "/api/whoami-v2", { headers: { Authorization: "Bearer " + plain } });
	assert.equal(after.status, 401);
	await shot("12-token-revoked");
});

test("repository settings: visibility", async () => {
	await page.goto(repoPath + "/settings");
	await page.getByLabel("Private").check();
	await page.getByRole("button", { name: "Save visibility" }).click();
	await page.getByRole("status").filter({ hasText: "now private" }).waitFor();
	const anon = await fetch(base + `/api/models${repoPath}`);
	assert.equal(anon.status, 401, "a private repository is visible to visitors");
	await shot("13-settings");
	await page.getByLabel("Public").check();
	await page.getByRole("button", { name: "Save visibility" }).click();
	await page.getByRole("status").filter({ hasText: "now public" }).waitFor();
});

// commitFiles writes text files to a branch with the user's token.
async function commitFiles(apiRepo, summary, files) {
	const lines = [JSON.stringify({ key: "header", value: { summary, description: "" } })];
	for (const [path, text] of Object.entries(files)) {
		lines.push(JSON.stringify({ key: "file", value: { path, content: Buffer.from(text).toString("base64"), encoding: "base64" } }));
	}
	const res = await fetch(base + apiRepo + "/commit/main", {
		method: "POST",
		headers: { Authorization: "Bearer " + token, "Content-Type": "application/x-ndjson" },
		body: lines.join("\n") + "\n",
	});
	assert.ok(res.ok, `commit to ${apiRepo}: ${res.status} ${await res.text()}`);
}

test("browse a private dataset in the viewer tab", async () => {
	const ds = `${user}/browser-rows`;
	await api("POST", "/api/repos/create", { name: "browser-rows", type: "dataset", private: true });
	const csv = ["city,population,country"];
	for (let i = 0; i < 40; i++) csv.push(`city-${i},${1000 * (i + 1)},${i % 2 ? "France" : "Japan"}`);
	await commitFiles(`/api/datasets/${ds}`, "Add cities", { "data/train.csv": csv.join("\n") + "\n" });
	// Conversion runs in the background after the commit.
	const deadline = Date.now() + 90000;
	for (;;) {
		const res = await fetch(`${base}/datasets-server/splits?dataset=${encodeURIComponent(ds)}`, { headers: { Authorization: "Bearer " + token } });
		if (res.ok) break;
		assert.ok(Date.now() < deadline, `the dataset was not converted in time: ${res.status} ${await res.text()}`);
		await new Promise((r) => setTimeout(r, 500));
	}
	const anon = await fetch(`${base}/datasets/${ds}/viewer`);
	assert.equal(anon.status, 404, "a visitor sees the private dataset's viewer");

	await page.goto(`/datasets/${ds}`);
	await page.getByRole("navigation", { name: "Repository" }).getByRole("link", { name: "Viewer" }).click();
	await page.waitForURL(base + `/datasets/${ds}/viewer`);
	const frame = page.frameLocator(`iframe[title="Dataset viewer of ${ds}"]`);
	// The frame's calls carry the session cookie: the private rows show.
	await frame.locator("td").filter({ hasText: /^city-0$/ }).waitFor();
	await frame.locator("th").filter({ hasText: "population" }).waitFor();
	await shot("17-dataset-viewer");
	await frame.getByLabel("Search").fill("city-7");
	await frame.getByLabel("Search").press("Enter");
	await frame.locator("td").filter({ hasText: /^city-7$/ }).waitFor();
	await page.emulateMedia({ colorScheme: "dark" });
	await shot("18-dataset-viewer-dark");
	await page.emulateMedia({ colorScheme: "light" });
});

test("create and delete a branch and a tag", async () => {
	await page.goto(repoPath + "/refs");
	await page.getByLabel("Branch name").fill("experiment");
	await page.getByLabel("From", { exact: true }).fill("v1.0");
	await page.getByRole("button", { name: "Create branch" }).click();
	await page.getByRole("status").filter({ hasText: "Branch experiment created." }).waitFor();
	const branches = page.getByRole("region", { name: "Branches" });
	await branches.getByRole("link", { name: "experiment" }).waitFor();
	const refs = await api("GET", `/api/models${repoPath}/refs`);
	const tagged = refs.tags.find((t) => t.name === "v1.0").targetCommit;
	assert.equal(refs.branches.find((b) => b.name === "experiment").targetCommit, tagged, "the branch does not start at v1.0");

	await page.getByLabel("Tag name").fill("v2.0");
	await page.getByLabel("At", { exact: true }).fill("main");
	await page.getByRole("button", { name: "Create tag" }).click();
	await page.getByRole("status").filter({ hasText: "Tag v2.0 created." }).waitFor();
	await page.getByRole("region", { name: "Tags" }).getByRole("link", { name: "v2.0" }).waitFor();
	// A bad name is refused with the API's message, and nothing reloads.
	await page.getByLabel("Tag name").fill("bad..name");
	await page.getByRole("button", { name: "Create tag" }).click();
	await page.getByRole("alert").filter({ hasText: /Invalid tag name/ }).waitFor();
	await shot("19-branches-and-tags");

	assert.equal(await branches.getByRole("button", { name: "Delete branch main" }).count(), 0, "the default branch offers deletion");
	page.once("dialog", (d) => d.accept());
	await page.getByRole("button", { name: "Delete branch experiment" }).click();
	await page.getByRole("status").filter({ hasText: "Branch experiment deleted." }).waitFor();
	page.once("dialog", (d) => d.accept());
	await page.getByRole("button", { name: "Delete tag v2.0" }).click();
	await page.getByRole("status").filter({ hasText: "Tag v2.0 deleted." }).waitFor();
	const after = await api("GET", `/api/models${repoPath}/refs`);
	assert.deepEqual(after.branches.map((b) => b.name), ["main"]);
	assert.deepEqual(after.tags.map((t) => t.name), ["v1.0"]);
});

test("manage an organisation's members", async () => {
	await page.goto(`/${org}`);
	await page.getByRole("link", { name: "Members and roles" }).click();
	await page.waitForURL(base + `/organizations/${org}/members`);
	// The page also has the invitation form, with fields of the same names.
	await page.locator("#member-name").fill(other);
	await page.locator("#member-role").selectOption("write");
	await page.getByRole("button", { name: "Add member" }).click();
	await page.getByRole("status").filter({ hasText: "The member was added." }).waitFor();
	const row = page.getByRole("row").filter({ hasText: other });
	assert.equal(await row.getByLabel(`Role of ${other}`, { exact: true }).inputValue(), "write");
	await row.getByLabel(`Role of ${other}`, { exact: true }).selectOption("read");
	await row.getByRole("button", { name: `Save the role of ${other}` }).click();
	await page.getByRole("status").filter({ hasText: "The role was changed." }).waitFor();
	assert.equal(await page.getByLabel(`Role of ${other}`, { exact: true }).inputValue(), "read");
	// The only admin cannot step down.
	await page.getByLabel(`Role of ${user}`, { exact: true }).selectOption("write");
	await page.getByRole("button", { name: `Save the role of ${user}` }).click();
	await page.getByRole("alert").filter({ hasText: "only administrator" }).waitFor();
	await page.goto(`/organizations/${org}/members`);
	await shot("20-org-members");
	page.once("dialog", (d) => d.accept());
	await page.getByRole("button", { name: `Remove ${other}` }).click();
	await page.getByRole("status").filter({ hasText: "The member was removed." }).waitFor();
	assert.equal(await page.getByRole("row").filter({ hasText: other }).count(), 0);
});

test("collections: create one, add the repository with a note, remove it", async () => {
	await page.goto(`/collections/${user}`);
	await page.getByLabel("Title").fill("Browser picks");
	await page.getByLabel("Description").fill("Chosen in the browser");
	await page.getByRole("button", { name: "Create" }).click();
	await page.waitForURL(/\/collections\/[^/]+\/browser-picks-[0-9a-f]{24}$/);
	const url = page.url();
	await page.getByText("This collection is empty.").waitFor();
	await page.goto(repoPath);
	const menu = page.locator("details[data-add-collection]");
	await menu.locator("summary").click();
	await menu.getByLabel("Collection").selectOption({ label: `${user} / Browser picks` });
	await menu.getByLabel("Note").fill("A **fine** model <script>alert(1)</script>");
	await menu.getByRole("button", { name: "Add", exact: true }).click();
	await menu.getByRole("status").filter({ hasText: "Added to" }).waitFor();
	await shot("23-add-to-collection");
	await page.goto(url);
	await page.locator(".note strong", { hasText: "fine" }).waitFor();
	assert.equal(await page.locator(".note script").count(), 0, "a note's script reached the page");
	await shot("24-collection");
	await page.getByRole("button", { name: /^Remove/ }).click();
	await page.getByRole("button", { name: /^Remove/ }).waitFor({ state: "detached" });
	page.once("dialog", (d) => d.accept());
	await page.getByRole("button", { name: "Delete this collection" }).click();
	await page.waitForURL(base + `/collections/${user}`);
	await page.getByText("No collections yet.").waitFor();
});

test("pages on a phone and in the dark", async () => {
	await page.setViewportSize({ width: 390, height: 844 });
	await page.goto(repoPath);
	const width = await page.evaluate(() => document.documentElement.scrollWidth);
	assert.ok(width <= 390, `the page is ${width}px wide on a 390px screen`);
	await shot("14-phone");
	for (const [path, name] of [[repoPath + "/refs", "14b-phone-refs"], [`/organizations/${org}/members`, "14c-phone-members"], [`/datasets/${user}/browser-rows/viewer`, "14d-phone-viewer"]]) {
		await page.goto(path);
		const w = await page.evaluate(() => document.documentElement.scrollWidth);
		assert.ok(w <= 390, `${path} is ${w}px wide on a 390px screen`);
		await shot(name);
	}
	await page.emulateMedia({ colorScheme: "dark" });
	await page.setViewportSize({ width: 1280, height: 860 });
	await page.goto(repoPath);
	await shot("15-dark");
	await page.goto(repoPath + "/blob/v1.0/config.json");
	await shot("16-dark-code");
	await page.goto(repoPath + "/refs");
	await shot("21-dark-refs");
	await page.goto(`/organizations/${org}/members`);
	await shot("22-dark-members");
	await page.emulateMedia({ colorScheme: "light" });
});
