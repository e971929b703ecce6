package meta

import (
	"context"
	"encoding/json"
	"hash/fnv"

	"github.com/havenhub/haven"
)

// Listings filtered by several common tags (a pipeline, a library and a
// license, say) match few repositories although each tag matches many, so
// neither starting from one tag's rows nor walking the sort order and
// looking each repository's tags up is cheap. repos.tag_bits, a Bloom
// filter of the tags kept in every sort index, lets the walk reject most
// rows from the index alone; the tags are then looked up for the few rows
// that pass. The bits a tag sets are stored, so tagBit must never change.

// tagBit returns the two bits (of 63, so the value stays positive) that tag
// sets.
func tagBit(tag string) int64 {
	h := fnv.New64a()
	h.Write([]byte(tag))
	v := h.Sum64()
	return 1<<(v%63) | 1<<((v>>32)%63)
}

// tagBits is the filter of a repository's tags.
func tagBits(tags []string) int64 {
	var b int64
	for _, t := range tags {
		b |= tagBit(t)
	}
	return b
}

// tagMask is the bits a repository needs for a listing to keep it: those
// of the tags stored in repo_tags. The model-tree tags that tagCond looks
// up in repo_links are left out, as a repository need not carry them.
func tagMask(typ haven.RepoType, tags []string) int64 {
	var m int64
	for _, t := range tags {
		if _, _, ok := baseModelTag(t); ok && typ == haven.Model {
			continue
		}
		m |= tagBit(t)
	}
	return m
}

// fillTagBits computes tag_bits for the rows that lack it (-1: those from
// before the column, which pass every test until then), a batch at a time.
func (s *Store) fillTagBits(ctx context.Context) error {
	for {
		n := 0
		err := s.inTx(ctx, func(c conn) error {
			rows, err := c.query(ctx, "SELECT id, tags FROM repos WHERE tag_bits = -1 LIMIT 1000")
			if err != nil {
				return err
			}
			type row struct {
				id   int64
				bits int64
			}
			var todo []row
			for rows.Next() {
				var (
					id   int64
					tags string
					list []string
				)
				if err := rows.Scan(&id, &tags); err != nil {
					rows.Close()
					return err
				}
				if tags != "" {
					if err := json.Unmarshal([]byte(tags), &list); err != nil {
						rows.Close()
						return err
					}
				}
				todo = append(todo, row{id, tagBits(list)})
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
			for _, r := range todo {
				if _, err := c.exec(ctx, "UPDATE repos SET tag_bits = ? WHERE id = ?", r.bits, r.id); err != nil {
					return err
				}
			}
			n = len(todo)
			return nil
		})
		if err != nil || n == 0 {
			return err
		}
	}
}
