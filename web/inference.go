package web

import (
	"strings"

	"github.com/havenhub/haven"
)

// inferenceCalls are the tasks Haven's engine serves under /inference, with
// the InferenceClient call a model page shows for each.
var inferenceCalls = map[string]string{
	"feature-extraction":       `client.feature_extraction("Today is a sunny day")`,
	"sentence-similarity":      `client.sentence_similarity("Today is a sunny day", other_sentences=["It is bright outside", "I lost my keys"])`,
	"text-classification":      `client.text_classification("I like you. I love you.")`,
	"token-classification":     `client.token_classification("My name is Sarah and I live in London")`,
	"fill-mask":                `client.fill_mask("Paris is the [MASK] of France.")`,
	"zero-shot-classification": `client.zero_shot_classification("I have a problem with my iphone", candidate_labels=["urgent", "not urgent"])`,
	"question-answering":       `client.question_answering(question="Where do I live?", context="My name is Sarah and I live in London")`,
}

// inferenceSnippet is the "Inference" entry of a model's "Use this model":
// the model called through the hub's /inference routes with
// huggingface_hub, for the tasks the hub serves.
func inferenceSnippet(base string, repo *haven.Repo) (snippet, bool) {
	if repo.Type != haven.Model {
		return snippet{}, false
	}
	id := repo.FullName()
	var b strings.Builder
	b.WriteString("from huggingface_hub import InferenceClient\n\n")
	if repo.PipelineTag == "text-generation" {
		b.WriteString("client = InferenceClient(base_url=\"" + base + "/inference/v1\", api_key=\"hf_…\")\n")
		b.WriteString("out = client.chat_completion(\n    model=\"" + id + "\",\n    messages=[{\"role\": \"user\", \"content\": \"Hello!\"}],\n    max_tokens=64,\n)\n")
		b.WriteString("print(out.choices[0].message.content)\n")
		return snippet{"Inference", b.String()}, true
	}
	call, ok := inferenceCalls[repo.PipelineTag]
	if !ok {
		return snippet{}, false
	}
	b.WriteString("client = InferenceClient(\n    model=\"" + base + "/inference/hf-inference/models/" + id + "\",\n    token=\"hf_…\",\n)\n")
	b.WriteString("print(" + call + ")\n")
	return snippet{"Inference", b.String()}, true
}
