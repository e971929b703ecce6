package web

import (
	"fmt"
	"html/template"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/havenhub/haven"
	"github.com/havenhub/haven/gitstore"
	"github.com/havenhub/haven/meta"
)

// The pictures are drawn on the server as SVG, coloured by the stylesheet
// (classes, not inline colours), so they follow the theme and need no
// script. Every text in them is escaped.

// downloadsChart draws daily downloads over the nDays days up to now as
// bars, with the busiest day's count and the date range as labels.
func downloadsChart(days []meta.DayCount, nDays int, now time.Time, width, height int) template.HTML {
	byDay := map[string]int64{}
	for _, d := range days {
		byDay[d.Day.Format("2006-01-02")] += d.Count
	}
	first := dayStart(now).AddDate(0, 0, 1-nDays)
	counts := make([]int64, nDays)
	var peak, total int64
	for i := range counts {
		counts[i] = byDay[first.AddDate(0, 0, i).Format("2006-01-02")]
		peak = max(peak, counts[i])
		total += counts[i]
	}
	const top, bottom, left = 14, 16, 2
	plotH := float64(height - top - bottom)
	barW := float64(width-left*2) / float64(nDays)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="%s">`, width, height,
		template.HTMLEscapeString(fmt.Sprintf("Downloads per day over the last %d days: %d in total, at most %d on one day", nDays, total, peak)))
	fmt.Fprintf(&b, `<line class="axis" x1="0" y1="%d" x2="%d" y2="%d"/>`, height-bottom, width, height-bottom)
	for i, c := range counts {
		if c == 0 {
			continue
		}
		h := plotH * float64(c) / float64(peak)
		x := float64(left) + float64(i)*barW
		fmt.Fprintf(&b, `<rect class="bar" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s: %d</title></rect>`,
			x+0.5, float64(height-bottom)-h, max(barW-1, 1), h, first.AddDate(0, 0, i).Format("2 Jan"), c)
	}
	fmt.Fprintf(&b, `<text x="%d" y="10">%s</text>`, left, template.HTMLEscapeString(fmt.Sprintf("peak %d/day", peak)))
	fmt.Fprintf(&b, `<text x="%d" y="%d">%s</text>`, left, height-3, first.Format("2 Jan"))
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="end">%s</text>`, width-left, height-3, dayStart(now).Format("2 Jan"))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and escaped text
}

func dayStart(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// storageItem is one bar of the storage breakdown.
type storageItem struct {
	Path string
	Size int64
	LFS  bool
}

// maxStorageBars is the number of files drawn; the rest are summed in one bar.
const maxStorageBars = 12

// storageChart draws the largest files as horizontal bars.
func storageChart(items []storageItem, width int) template.HTML {
	if len(items) == 0 {
		return ""
	}
	const rowH, labelW = 22, 0
	var peak int64
	for _, it := range items {
		peak = max(peak, it.Size)
	}
	height := rowH * len(items)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart" viewBox="0 0 %d %d" role="img" aria-label="Storage used by the largest files">`, width, height)
	for i, it := range items {
		w := 1.0
		if peak > 0 {
			w = max(float64(width-labelW)*float64(it.Size)/float64(peak), 1)
		}
		y := i * rowH
		fmt.Fprintf(&b, `<rect class="bar" x="0" y="%d" width="%.1f" height="%d" rx="2"><title>%s: %s</title></rect>`,
			y+3, w, rowH-8, template.HTMLEscapeString(it.Path), humanBytes(it.Size))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // built from numbers and escaped text
}

type insightsData struct {
	*repoView
	Downloads      template.HTML
	DownloadsTotal int64
	Storage        template.HTML
	Files          []storageItem
	StorageTotal   int64
	FileCount      int
}

// insightsDays is the span of the downloads picture.
const insightsDays = 90

// insights answers GET /{repo}/insights: downloads over time and where
// the storage goes.
func (h *Handler) insights(w http.ResponseWriter, r *http.Request, repo *haven.Repo) {
	v, err := h.view(r.Context(), r, repo, "insights", "")
	if err != nil {
		h.fail(w, r, err)
		return
	}
	now := time.Now()
	days, err := h.meta.DownloadsByDay(r.Context(), repo.ID, now.AddDate(0, 0, 1-insightsDays))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := insightsData{repoView: v, Downloads: downloadsChart(days, insightsDays, now, 720, 160)}
	for _, dc := range days {
		d.DownloadsTotal += dc.Count
	}
	entries, err := v.g.List(v.SHA, "", true)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	var files []storageItem
	for _, e := range entries {
		if e.Type != gitstore.TypeFile {
			continue
		}
		it := storageItem{Path: e.Path, Size: e.Size}
		if p, ok := v.g.Pointer(e); ok {
			it.Size, it.LFS = p.Size, true
		}
		d.StorageTotal += it.Size
		files = append(files, it)
	}
	d.FileCount = len(files)
	sort.Slice(files, func(i, j int) bool {
		if files[i].Size != files[j].Size {
			return files[i].Size > files[j].Size
		}
		return files[i].Path < files[j].Path
	})
	if len(files) > maxStorageBars {
		var rest int64
		for _, f := range files[maxStorageBars-1:] {
			rest += f.Size
		}
		files = append(files[:maxStorageBars-1:maxStorageBars-1], storageItem{Path: fmt.Sprintf("%d other files", len(files)-maxStorageBars+1), Size: rest})
	}
	d.Files = files
	d.Storage = storageChart(files, 720)
	h.render(w, r, http.StatusOK, "insights", "Insights of "+repo.FullName(), d)
}
