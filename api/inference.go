package api

import "github.com/havenhub/haven"

// InferenceDescriber says how the hub serves a model, for the "inference"
// and "inferenceProviderMapping" properties of model info and listings.
type InferenceDescriber interface {
	// ModelInference returns the task the hub serves repo for ("" when it
	// serves none) and whether a replica of it is loaded now.
	ModelInference(repo *haven.Repo) (task string, warm bool)
}

// inferenceFields adds the inference properties asked for with expand:
// "inference" ("warm" while a replica is loaded, absent otherwise) and
// "inferenceProviderMapping" (the hub as provider "hf-inference"; a dict by
// provider in model info, a list in listings, as the Hub answers).
func (s *Server) inferenceFields(m map[string]any, repo *haven.Repo, expand map[string]bool, list bool) {
	if s.infer == nil || repo.Type != haven.Model || !expand["inference"] && !expand["inferenceProviderMapping"] {
		return
	}
	task, warm := s.infer.ModelInference(repo)
	if expand["inference"] && warm {
		m["inference"] = "warm"
	}
	if !expand["inferenceProviderMapping"] {
		return
	}
	var entry map[string]any
	if task != "" {
		entry = map[string]any{"status": "live", "providerId": repo.FullName(), "task": task}
	}
	switch {
	case list && entry == nil:
		m["inferenceProviderMapping"] = []any{}
	case list:
		entry["provider"] = "hf-inference"
		m["inferenceProviderMapping"] = []any{entry}
	case entry == nil:
		m["inferenceProviderMapping"] = map[string]any{}
	default:
		m["inferenceProviderMapping"] = map[string]any{"hf-inference": entry}
	}
}
