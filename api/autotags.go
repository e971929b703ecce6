package api

import (
	"encoding/json"
	"path"
	"strings"

	"github.com/havenhub/haven"
)

// autoTags derives the tags the Hub adds from a repository's files, as it
// does whatever the card says: weight formats (safetensors, gguf, onnx, …),
// the library the files are made for, and a model's model_type from
// config.json. config reads a file at the root of the revision (nil when
// absent). library is "" when the files name none.
func autoTags(t haven.RepoType, files []string, config func(name string) []byte) (tags []string, library string) {
	has := map[string]bool{}
	for _, f := range files {
		base := path.Base(f)
		ext := strings.ToLower(path.Ext(base))
		switch {
		case ext == ".safetensors":
			has["safetensors"] = true
		case ext == ".gguf":
			has["gguf"] = true
		case ext == ".onnx":
			has["onnx"] = true
		case strings.HasPrefix(base, "pytorch_model") && ext == ".bin":
			has["pytorch"] = true
		case strings.HasPrefix(base, "tf_model") && ext == ".h5":
			has["tf"] = true
		case strings.HasPrefix(base, "flax_model") && ext == ".msgpack":
			has["jax"] = true
		case ext == ".tflite":
			has["tflite"] = true
		case ext == ".mlmodel" || strings.Contains(f, ".mlpackage/"):
			has["coreml"] = true
		}
		if t == haven.Dataset {
			switch ext {
			case ".parquet":
				has["format:parquet"] = true
			case ".csv", ".tsv":
				has["format:csv"] = true
			case ".json", ".jsonl":
				has["format:json"] = true
			case ".arrow":
				has["format:arrow"] = true
			case ".txt":
				has["format:text"] = true
			}
		}
		if f == base {
			has["file:"+base] = true
		}
	}
	if t == haven.Model {
		switch {
		case has["file:model_index.json"]:
			library = "diffusers"
		case has["file:config_sentence_transformers.json"] || has["file:modules.json"]:
			library = "sentence-transformers"
		case has["file:adapter_config.json"]:
			library = "peft"
		}
		if has["file:config.json"] {
			var cfg struct {
				ModelType string `json:"model_type"`
			}
			if b := config("config.json"); b != nil && json.Unmarshal(b, &cfg) == nil && cfg.ModelType != "" {
				if library == "" {
					library = "transformers"
				}
				tags = append(tags, cfg.ModelType)
			}
		}
		if library == "" && has["gguf"] {
			library = "gguf"
		}
	}
	for _, tag := range []string{"pytorch", "tf", "jax", "safetensors", "onnx", "gguf", "tflite", "coreml",
		"format:parquet", "format:csv", "format:json", "format:arrow", "format:text"} {
		if has[tag] && tag != library {
			tags = append(tags, tag)
		}
	}
	return tags, library
}

// addTags appends the tags not in list yet.
func addTags(list []string, tags ...string) []string {
	seen := make(map[string]bool, len(list))
	for _, t := range list {
		seen[t] = true
	}
	for _, t := range tags {
		if t != "" && !seen[t] {
			seen[t] = true
			list = append(list, t)
		}
	}
	return list
}
