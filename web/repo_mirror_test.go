package web

import (
	"testing"
	"time"
)

func TestMirrorEvery(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Hour: "1h", 15 * time.Minute: "15m", 30 * time.Second: "30s", 90 * time.Minute: "1h30m", 6*time.Hour + 10*time.Second: "6h0m10s",
	} {
		if got := (mirrorView{Interval: d}).Every(); got != want {
			t.Errorf("Every(%s) = %q, want %q", d, got, want)
		}
	}
}
