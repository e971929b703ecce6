package uploadmem

import (
	"testing"
	"time"
)

func TestMemReleaserWaitsForTheLastUpload(t *testing.T) {
	freed := make(chan struct{}, 4)
	m := &memReleaser{delay: 20 * time.Millisecond, free: func() { freed <- struct{}{} }}
	first, second := m.track(), m.track()
	first()
	select {
	case <-freed:
		t.Fatal("memory released while an upload was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	second()
	select {
	case <-freed:
	case <-time.After(2 * time.Second):
		t.Fatal("memory not released after the last upload")
	}
	// A new upload within the delay postpones the release.
	m.track()()
	third := m.track()
	select {
	case <-freed:
		t.Fatal("memory released while an upload was in flight")
	case <-time.After(100 * time.Millisecond):
	}
	third()
	select {
	case <-freed:
	case <-time.After(2 * time.Second):
		t.Fatal("memory not released after the last upload")
	}
}
