// Browser test of a no-code fine-tune: the base model's Fine-tune button
// opens the form, the dataset's columns fill the column selects, the job's
// page follows the training to COMPLETED and links the pushed model, whose
// page names its base model; the base model's page counts its fine-tunes.
// Run by e2e/browser_finetune_test.go, which starts the server (jobs run
// as local processes in uv environments), pushes a tiny model and a
// separable labelled dataset, and passes HAVEN_URL, HAVEN_USER,
// HAVEN_PASSWORD, HAVEN_BASE_MODEL, HAVEN_DATASET, HAVEN_CHROMIUM and
// HAVEN_SCREENSHOTS.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { signedIn, shot as shotOf } from "./session.mjs";

const base = process.env.HAVEN_URL;
const user = process.env.HAVEN_USER;
const baseModel = process.env.HAVEN_BASE_MODEL;
const dataset = process.env.HAVEN_DATASET;
const output = baseModel.split("/")[1] + "-finetuned-" + dataset.split("/")[1];

// The first fine-tune builds the training environment (torch, transformers)
// unless another server of this machine built it already.
const trainTimeout = 12 * 60 * 1000;

let page, close;

before(async () => {
	({ page, close } = await signedIn({ viewport: { width: 1280, height: 1000 } }));
});

after(async () => {
	if (close) await close();
});

async function shot(name) {
	await shotOf(page, name);
}

test("a fine-tune started from the form trains, pushes and is linked everywhere", async () => {
	// The base model's Fine-tune button opens the form with it filled in.
	await page.goto("/" + baseModel);
	await page.getByRole("link", { name: "Fine-tune", exact: true }).click();
	await page.waitForURL(base + "/finetune/new?base_model=" + encodeURIComponent(baseModel));
	assert.equal(await page.locator("#ft-base").inputValue(), baseModel);
	assert.equal(await page.locator("#ft-task").inputValue(), "text-classification");
	// LoRA settings are for the LoRA task only.
	assert.equal(await page.locator("#ft-hp-lora_r").isVisible(), false);
	assert.equal(await page.locator("#ft-hp-learning_rate").inputValue(), "5e-5");

	// The dataset: the viewer's columns fill the selects, guessed by name.
	await page.locator("#ft-dataset").fill(dataset);
	await page.locator("[data-ft-dataset-status]").filter({ hasText: /columns?\./ }).waitFor({ timeout: 3 * 60 * 1000 });
	const text = page.locator("select#ft-col-text-classification-text");
	const label = page.locator("select#ft-col-text-classification-label");
	assert.equal(await text.inputValue(), "text");
	assert.equal(await label.inputValue(), "label");
	const options = await label.locator("option").allTextContents();
	assert.ok(options.some((o) => /^label · class label: negative, positive/.test(o)), options.join(" | "));
	assert.equal(await page.locator("select#ft-train").inputValue(), "train");
	assert.equal(await page.locator("#ft-output").inputValue(), output);
	// The other tasks' columns are neither shown nor sent.
	assert.equal(await page.locator("[data-ft-columns=causal-lm-lora]").isVisible(), false);

	await text.selectOption("text");
	await label.selectOption("label");
	// As the fixture suite (e2e/python_finetune) trains the separable set.
	await page.locator("#ft-hp-epochs").fill("5");
	await page.locator("#ft-hp-learning_rate").fill("0.003");
	await shot("finetune-01-form");
	await page.getByRole("button", { name: "Start fine-tune" }).click();

	// The job's page: the progress bar moves, the stage ends COMPLETED.
	await page.waitForURL(new RegExp("/jobs/" + user + "/[0-9a-f]+$"));
	const bar = page.locator("progress[data-progress-bar]");
	const badge = page.locator(".page-head [data-job-stage-badge]");
	const seen = new Set();
	const deadline = Date.now() + trainTimeout;
	for (;;) {
		const [value, stage] = await Promise.all([bar.evaluate((el) => el.value), badge.textContent()]);
		if (value > 0) seen.add(value);
		if (/Completed|Error|Canceled/.test(stage)) break;
		assert.ok(Date.now() < deadline, "the fine-tune did not end in time; last stage " + stage);
		if (seen.size === 1) await shot("finetune-02-training");
		await page.waitForTimeout(250);
	}
	await shot("finetune-03-done");
	const log = await page.locator("pre[data-job-log]").textContent();
	assert.equal((await badge.textContent()).trim(), "Completed", log.slice(-4000));
	assert.ok(seen.size >= 2, "the progress bar showed " + [...seen].join(", "));
	assert.equal(await bar.evaluate((el) => el.value), await bar.evaluate((el) => el.max));

	// The final evaluation, and the pushed model.
	const evals = page.getByRole("table", { name: /Final evaluation/ });
	await evals.waitFor();
	const accuracy = await evals.locator("tr", { hasText: "accuracy" }).locator("td").nth(1).textContent();
	assert.ok(parseFloat(accuracy) >= 0.8, "accuracy " + accuracy);
	const model = page.locator("[data-job-model]");
	await model.waitFor();
	assert.match(await model.textContent(), new RegExp("Model: " + user + "/" + output));
	await model.getByRole("link", { name: user + "/" + output }).click();

	// The fine-tuned model names its base model and dataset.
	await page.waitForURL(base + "/" + user + "/" + output);
	const chips = page.getByRole("list", { name: "Metadata" });
	await chips.getByRole("link", { name: "base model: " + baseModel }).waitFor();
	await chips.getByRole("link", { name: "dataset: " + dataset }).waitFor();
	await shot("finetune-04-model");

	// The base model counts it, and the count lists it.
	await page.goto("/" + baseModel);
	const count = page.getByRole("link", { name: "Fine-tunes of this model: 1" });
	assert.equal((await count.textContent()).trim(), "1");
	await count.click();
	await page.waitForURL(base + "/models?filter=" + encodeURIComponent("base_model:finetune:" + baseModel));
	await page.locator(`a[href="/${user}/${output}"]`).first().waitFor();
	assert.equal(await page.locator(`a[href="/${baseModel}"]`).count(), 0, "the base model lists itself");
	await shot("finetune-05-list");

	// The dataset counts it too.
	await page.goto("/datasets/" + dataset);
	await page.getByRole("link", { name: "Models trained on this dataset: 1" }).waitFor();
});
