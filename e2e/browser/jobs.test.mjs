// Browser tests of the job pages: a job run through the API shows its log
// live, its training progress and loss chart, and ends COMPLETED; a long
// job is cancelled with the page's button and ends CANCELED; the list of
// the namespace's jobs shows both with their badges. Run by
// e2e/browser_jobs_test.go, which starts the server (jobs run as local
// processes, python:3.12 as a uv environment) and passes HAVEN_URL,
// HAVEN_USER, HAVEN_PASSWORD, HAVEN_TOKEN (write token of the user),
// HAVEN_CHROMIUM and HAVEN_SCREENSHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { signedIn, shot as shotOf } from "./session.mjs";

const base = process.env.HAVEN_URL;
const user = process.env.HAVEN_USER;
const token = process.env.HAVEN_TOKEN;

// The first job builds the python:3.12 environment; later ones reuse it.
const buildTimeout = 4 * 60 * 1000;

const ids = {};

let page, close;

before(async () => {
	({ page, close } = await signedIn({ viewport: { width: 1280, height: 900 } }));
});

after(async () => {
	if (close) await close();
});

async function shot(name) {
	await shotOf(page, name);
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

const badge = () => page.locator(".page-head [data-job-stage-badge]");
const log = () => page.locator("pre[data-job-log]");

test("a job's page follows its log, its training progress and its end", async () => {
	const script = [
		"import time",
		"print('hello from the job', flush=True)",
		"time.sleep(3)",
		"print('progress step=1/4 epoch=0.25 loss=0.9100 learning_rate=5e-05 samples_per_second=12.5 eta=6s', flush=True)",
		"time.sleep(2)",
		"print('progress step=2/4 epoch=0.50 loss=0.6931 learning_rate=4.5e-05 samples_per_second=31.2 eta=4s', flush=True)",
		"print('eval step=2 epoch=0.50 eval_loss=0.41 eval_accuracy=0.90', flush=True)",
		"time.sleep(3)",
		"print('all done', flush=True)",
	].join("\n");
	const job = await api("POST", `/api/jobs/${user}`, {
		dockerImage: "python:3.12", command: ["python", "-c", script], flavor: "cpu-basic",
		environment: { MODE: "browser" }, labels: { suite: "browser" },
	});
	ids.done = job.id;
	await page.goto(`/jobs/${user}/${job.id}`);
	await page.getByRole("heading", { name: new RegExp("job " + job.id.slice(0, 8)) }).waitFor();
	assert.match(await badge().textContent(), /Scheduling|Running/);
	assert.equal(await page.getByRole("button", { name: "Cancel job" }).count(), 1);

	// The first line arrives while the job still runs: the log is live.
	await log().filter({ hasText: "hello from the job" }).waitFor({ timeout: buildTimeout });
	assert.equal((await badge().textContent()).trim(), "Running");
	await shot("jobs-01-running");

	// Progress lines fill the bar, the text and the loss chart.
	const bar = page.locator("progress[data-progress-bar]");
	await page.locator("[data-progress-text]").filter({ hasText: "Step 2 of 4" }).waitFor();
	assert.equal(await bar.evaluate((el) => el.value), 2);
	assert.equal(await bar.evaluate((el) => el.max), 4);
	const text = await page.locator("[data-progress-text]").textContent();
	assert.match(text, /epoch 0\.50/);
	assert.match(text, /ETA 4s/);
	assert.equal((await page.locator("[data-loss-now]").textContent()).trim(), "0.6931");
	await page.locator("[data-eval-now]").filter({ hasText: "eval_accuracy 0.90" }).waitFor();
	const points = await page.locator("svg[data-loss-chart] polyline[data-series=loss]").getAttribute("points");
	assert.equal(points.trim().split(/\s+/).length, 2, "the loss line has a point per progress line");
	assert.equal(await page.locator("svg[data-loss-chart] path[data-series=eval_loss]").count(), 1);

	// The stage becomes COMPLETED without a reload; the button goes.
	await badge().filter({ hasText: "Completed" }).waitFor({ timeout: 60000 });
	await log().filter({ hasText: "all done" }).waitFor();
	await page.locator("[data-job-log-status]").filter({ hasText: "The job has ended." }).waitFor();
	assert.equal(await page.getByRole("button", { name: "Cancel job" }).isVisible(), false);
	assert.equal((await log().textContent()).match(/hello from the job/g).length, 1, "a line shows twice");
	await shot("jobs-02-completed");

	// A visit after the end shows the same from the stored log.
	await page.reload();
	await page.locator("[data-progress-text]").filter({ hasText: "Step 2 of 4" }).waitFor();
	await log().filter({ hasText: "all done" }).waitFor();
	assert.equal((await badge().textContent()).trim(), "Completed");
	assert.equal(await page.getByRole("button", { name: "Cancel job" }).count(), 0);
	await page.getByRole("list", { name: "Variables" }).getByText("MODE").waitFor();
	assert.ok(!(await page.content()).includes("browser</code>"), "an environment value is shown");
});

test("a long job is cancelled from its page", async () => {
	const job = await api("POST", `/api/jobs/${user}`, {
		dockerImage: "python:3.12", flavor: "cpu-basic",
		command: ["python", "-c", "import time\nprint('sleeping', flush=True)\ntime.sleep(300)"],
	});
	ids.canceled = job.id;
	await page.goto(`/jobs/${user}/${job.id}`);
	await log().filter({ hasText: "sleeping" }).waitFor({ timeout: buildTimeout });
	await badge().filter({ hasText: "Running" }).waitFor();
	await page.getByRole("button", { name: "Cancel job" }).click();
	await page.waitForURL(base + `/jobs/${user}/${job.id}`);
	await badge().filter({ hasText: "Canceled" }).waitFor({ timeout: 30000 });
	await shot("jobs-03-canceled");
	const info = await api("GET", `/api/jobs/${user}/${job.id}`);
	assert.equal(info.status.stage, "CANCELED");
});

test("the namespace's jobs list both with their badges", async () => {
	await page.goto(`/${user}`);
	await page.getByRole("link", { name: "Jobs", exact: true }).click();
	await page.waitForURL(base + `/jobs/${user}`);
	const row = (id) => page.locator(`tr[data-job="${id}"]`);
	await row(ids.done).locator("[data-job-stage-badge]", { hasText: "Completed" }).waitFor();
	assert.match(await row(ids.done).locator("[data-job-stage-badge]").getAttribute("class"), /\bjob-completed\b/);
	await row(ids.canceled).locator("[data-job-stage-badge]", { hasText: "Canceled" }).waitFor();
	assert.match(await row(ids.canceled).locator("[data-job-stage-badge]").getAttribute("class"), /\bjob-canceled\b/);
	assert.match(await row(ids.done).textContent(), /suite/);
	await shot("jobs-04-list");

	// Filtered by stage, only the cancelled one is left.
	await page.getByRole("navigation", { name: "Filter by stage" }).getByRole("link", { name: "Canceled" }).click();
	await row(ids.canceled).waitFor();
	assert.equal(await row(ids.done).count(), 0);
	await row(ids.canceled).getByRole("link").click();
	await page.waitForURL(base + `/jobs/${user}/${ids.canceled}`);
});
