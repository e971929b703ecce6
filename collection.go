package haven

import (
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"
)

// Collection is a curated, ordered list of repositories, papers and other
// collections, owned by a user or an organisation. Its ID never changes;
// its slug follows the title.
type Collection struct {
	ID      string // 24 lowercase hex digits
	OwnerID int64
	Owner   string // the owning namespace, as spelled now
	// OwnerFullName is the owner's full name, empty where none is set.
	OwnerFullName string
	OwnerIsOrg    bool
	Title         string
	Description   string
	Private       bool
	Theme         string
	Position      int // order among the owner's collections, from 0
	Upvotes       int64
	// Upvoted says whether the user who asks upvoted it; filled in for a
	// signed-in caller.
	Upvoted   bool
	CreatedAt time.Time
	UpdatedAt time.Time
	Items     []CollectionItem
}

// Slug is "owner/title-slug-id", the collection's name in URLs. Only the
// trailing ID identifies it, so slugs made from older titles still work.
func (c *Collection) Slug() string {
	s := Slugify(c.Title)
	if s == "" {
		return c.Owner + "/" + c.ID
	}
	return c.Owner + "/" + s + "-" + c.ID
}

// CollectionThemes are the themes a collection may have; the first is the default.
var CollectionThemes = []string{"orange", "blue", "green", "purple", "pink", "indigo"}

// Kinds of collection items.
const (
	ItemModel      = "model"
	ItemDataset    = "dataset"
	ItemSpace      = "space"
	ItemPaper      = "paper"
	ItemCollection = "collection"
)

// CollectionItem is one entry of a collection. Exactly one of Repo, Paper
// and Collection is set, as Type says.
type CollectionItem struct {
	ID         string // 24 lowercase hex digits
	Type       string // ItemModel, ItemDataset, …
	Position   int
	Note       string // Markdown, as written
	Repo       *Repo
	Paper      string      // arXiv id
	Collection *Collection // without its items
	CreatedAt  time.Time
}

// Slugify lowers s and turns every run of characters other than a-z and 0-9
// into one "-", trimmed at both ends, as the Hub builds collection slugs.
func Slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

// NewObjectID returns a random 24-hex-digit lowercase id, the form of the
// Hub's object ids, which clients put in URLs as they get them.
func NewObjectID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
