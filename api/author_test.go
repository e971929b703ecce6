package api_test

import (
	"testing"
)

// TestAuthorData: expand=authorData adds the owner's author object to
// repository info and listings, and only then.
func TestAuthorData(t *testing.T) {
	h := newHub(t)
	h.createRepo(h.tokens["alice"], "m", false)
	h.createRepo(h.tokens["bob"], "b", false)
	type author struct {
		ID            string `json:"_id"`
		Name          string
		Fullname      string
		AvatarURL     string
		Type          string
		FollowerCount *int
	}
	type info struct {
		ID         string
		Downloads  *int
		Likes      *int
		AuthorData *author
	}
	var got info
	h.do("GET", "/api/models/alice/m?expand=authorData", "", "", nil).json(t, &got)
	if a := got.AuthorData; a == nil || a.Name != "alice" || a.Type != "user" || len(a.ID) != 24 || a.AvatarURL == "" ||
		a.FollowerCount == nil || *a.FollowerCount != 0 || got.Likes != nil {
		t.Fatalf("info with authorData: %+v %+v", got, got.AuthorData)
	}
	got = info{}
	h.do("GET", "/api/models/alice/m", "", "", nil).json(t, &got)
	if got.AuthorData != nil {
		t.Fatalf("authorData without expand: %+v", got.AuthorData)
	}
	var list []info
	h.do("GET", "/api/models?expand[]=authorData&expand[]=downloads", "", "", nil).json(t, &list)
	if len(list) != 2 {
		t.Fatalf("listing: %+v", list)
	}
	for _, m := range list {
		if m.AuthorData == nil || m.ID[:len(m.AuthorData.Name)] != m.AuthorData.Name || m.Downloads == nil || m.Likes != nil {
			t.Errorf("listed %s: %+v", m.ID, m.AuthorData)
		}
	}
}
