// The official JavaScript client against Haven's /inference routes, with
// endpointUrl (run by test_inference.py with e2e/js as the working folder).
import assert from "node:assert/strict";
import { InferenceClient } from "@huggingface/inference";

const H = process.env.HAVEN_URL;
const models = JSON.parse(process.env.MODELS);
const url = (id) => `${H}/inference/hf-inference/models/${id}`;

const embed = new InferenceClient(process.env.HAVEN_TOKEN, { endpointUrl: url(models.minilm) });
const vec = await embed.featureExtraction({ inputs: "Haven serves models" });
assert.equal(vec.flat().length, 384);

const classify = new InferenceClient(process.env.HAVEN_TOKEN, { endpointUrl: url(models.classifier) });
const labels = await classify.textClassification({ inputs: "the movie was great" });
assert.equal(labels.length, 2);

const chat = new InferenceClient(process.env.HAVEN_TOKEN, { endpointUrl: url(models.llama) });
const out = await chat.chatCompletion({ messages: [{ role: "user", content: "hi" }], max_tokens: 8 });
assert.equal(out.choices[0].message.role, "assistant");
let chunks = 0;
for await (const c of chat.chatCompletionStream({ messages: [{ role: "user", content: "hi" }], max_tokens: 8 })) {
	if (c.choices?.length) chunks++;
}
assert.ok(chunks > 0);
console.log("js ok");
