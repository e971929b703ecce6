package web_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/havenhub/haven"
)

// TestListingCardScoreSort checks that the model and dataset listings
// offer the card score sort and order by it, and that Space listings,
// whose cards are not scored, do not.
func TestListingCardScoreSort(t *testing.T) {
	s := newSite(t)
	ctx := context.Background()
	for name, score := range map[string]int{"sparse": 10, "documented": 90, "middling": 50} {
		s.createRepo("alice", name, false)
		r, err := s.meta.RepoByName(ctx, haven.Model, "alice", name)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.meta.SetCardIndex(ctx, r.ID, score, nil); err != nil {
			t.Fatal(err)
		}
	}
	b := s.browser()
	p := b.get("/models?sort=cardScore")
	if p.status != 200 {
		t.Fatalf("/models?sort=cardScore: %d", p.status)
	}
	if !strings.Contains(p.body, `value="cardScore" selected`) {
		t.Error("the card score sort is not offered or not selected")
	}
	results := between(p.body, `id="results-title"`, "</section>")
	d, m, sp := strings.Index(results, "alice/documented"), strings.Index(results, "alice/middling"), strings.Index(results, "alice/sparse")
	if d < 0 || m < d || sp < m {
		t.Errorf("order by card score: documented %d, middling %d, sparse %d", d, m, sp)
	}
	if p := b.get("/datasets"); !strings.Contains(p.body, `value="cardScore"`) {
		t.Error("datasets do not offer the card score sort")
	}
	if p := b.get("/spaces?sort=cardScore"); p.status != 200 || strings.Contains(p.body, `value="cardScore"`) {
		t.Errorf("spaces: %d, offers the card score sort: %v", p.status, strings.Contains(p.body, `value="cardScore"`))
	}
}

// safetensorsHeader is the start of a safetensors file with one tensor of
// each given shape, all F32 but the last BF16.
func safetensorsHeader(shapes ...string) string {
	var tensors []string
	for i, sh := range shapes {
		dtype := "F32"
		if i == len(shapes)-1 {
			dtype = "BF16"
		}
		tensors = append(tensors, `"t`+string(rune('a'+i))+`":{"dtype":"`+dtype+`","shape":`+sh+`,"data_offsets":[0,0]}`)
	}
	h := "{" + strings.Join(tensors, ",") + "}"
	return string(binary.LittleEndian.AppendUint64(nil, uint64(len(h)))) + h
}

// TestModelInfoParamsAndChildren checks the safetensors parameter counts a
// push derives, served as model info's "safetensors", and the public-only
// childrenModelCount.
func TestModelInfoParamsAndChildren(t *testing.T) {
	s := newSite(t)
	s.createRepo("alice", "base", false)
	s.commit("alice", "alice/base", "weights", map[string]string{
		"model-00001-of-00002.safetensors": safetensorsHeader("[10,20]", "[5]"),
		"model-00002-of-00002.safetensors": safetensorsHeader("[3]", "[2,2]"),
		"broken.safetensors":               "not a header",
	})
	s.createRepo("alice", "tuned", false)
	s.createRepo("bob", "secret", true)
	s.commit("alice", "alice/tuned", "card", map[string]string{"README.md": "---\nbase_model: Alice/Base\n---\n"})
	s.commit("bob", "bob/secret", "card", map[string]string{"README.md": "---\nbase_model: alice/base\n---\n"})

	info := func(path, token string) map[string]any {
		t.Helper()
		p := s.apiDo("GET", path, token, "", nil)
		if p.status != 200 {
			t.Fatalf("%s: %d %s", path, p.status, p.body)
		}
		var m map[string]any
		json.Unmarshal([]byte(p.body), &m)
		return m
	}
	st, _ := info("/api/models/alice/base", "")["safetensors"].(map[string]any)
	want := `{"parameters":{"BF16":9,"F32":203},"total":212}`
	if b, _ := json.Marshal(st); string(b) != want {
		t.Errorf("safetensors = %s, want %s", b, want)
	}
	expanded := info("/api/models/alice/base?expand=safetensors", "")
	if _, ok := expanded["safetensors"]; !ok || expanded["siblings"] != nil {
		t.Errorf("expand=safetensors: %v", expanded)
	}
	// A card edit reads no header again (the stored counts stay, here a
	// marker); new weights are read.
	base, err := s.meta.RepoByName(context.Background(), haven.Model, "alice", "base")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.meta.SetRepoParams(context.Background(), base.ID, map[string]int64{"F32": 999}); err != nil {
		t.Fatal(err)
	}
	s.commit("alice", "alice/base", "card", map[string]string{"README.md": "# Base\n"})
	if st, _ := info("/api/models/alice/base", "")["safetensors"].(map[string]any); st["total"] != 999.0 {
		t.Errorf("after a card edit: %v", st)
	}
	s.commit("alice", "alice/base", "weights", map[string]string{"model-00002-of-00002.safetensors": safetensorsHeader("[7]", "[8]")})
	if st, _ := info("/api/models/alice/base", "")["safetensors"].(map[string]any); st["total"] != 220.0 {
		t.Errorf("after new weights: %v", st)
	}
	if _, ok := info("/api/models/alice/tuned", "")["safetensors"]; ok {
		t.Error("a model without safetensors files has parameters")
	}
	// Bob's private fine-tune is not counted, not even for bob.
	for _, token := range []string{"", s.tokens["bob"]} {
		m := info("/api/models/alice/base?expand=childrenModelCount", token)
		if n, _ := m["childrenModelCount"].(float64); n != 1 {
			t.Errorf("childrenModelCount = %v, want 1", m["childrenModelCount"])
		}
	}
	if _, ok := info("/api/models/alice/base", "")["childrenModelCount"]; ok {
		t.Error("childrenModelCount without expand")
	}
	// The base_model filter matches the id in any letter case.
	p := s.apiDo("GET", "/api/models?filter=base_model:finetune:ALICE/base", "", "", nil)
	if !strings.Contains(p.body, `"alice/tuned"`) || strings.Contains(p.body, "bob/secret") {
		t.Errorf("filter in another case: %s", p.body)
	}
}
