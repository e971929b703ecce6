package runner

import (
	"reflect"
	"testing"
)

func TestParseGPUs(t *testing.T) {
	out := []byte("0, NVIDIA H100 80GB HBM3, 81559\n1, NVIDIA H100 80GB HBM3, 81559\n[N/A], broken, x\n")
	want := []GPU{{"0", "NVIDIA H100 80GB HBM3", 81559}, {"1", "NVIDIA H100 80GB HBM3", 81559}}
	if got := parseGPUs(out); !reflect.DeepEqual(got, want) {
		t.Errorf("got %+v, want %+v", got, want)
	}
}

func TestGPUPool(t *testing.T) {
	p := NewGPUPool([]GPU{{ID: "0"}, {ID: "1"}, {ID: "2"}})
	steps := []struct {
		holder string
		n      int
		want   []string
		fails  bool
	}{
		{"a", 2, []string{"0", "1"}, false},
		{"b", 2, nil, true},                 // one free
		{"b", 1, []string{"2"}, false},      // the free one
		{"a", 2, []string{"0", "1"}, false}, // a restart keeps its own
		{"c", 1, nil, true},
	}
	for i, s := range steps {
		got, err := p.Acquire(s.holder, s.n)
		if (err != nil) != s.fails || !reflect.DeepEqual(got, s.want) {
			t.Fatalf("step %d: Acquire(%s, %d) = %v, %v", i, s.holder, s.n, got, err)
		}
	}
	p.Release("a")
	if _, err := p.Acquire("c", 1); err == nil {
		t.Fatal("a's GPUs were freed while a still held them once")
	}
	p.Release("a")
	if got, err := p.Acquire("c", 2); err != nil || !reflect.DeepEqual(got, []string{"0", "1"}) {
		t.Errorf("after release: %v, %v", got, err)
	}
}
