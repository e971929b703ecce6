package spaces

import (
	"reflect"
	"testing"

	haverunner "github.com/havenhub/haven/runner"
)

func TestOfferedFlavors(t *testing.T) {
	gpus := func(n int) *haverunner.GPUPool {
		var list []haverunner.GPU
		for i := range n {
			list = append(list, haverunner.GPU{ID: string(rune('0' + i)), Name: "NVIDIA H100 80GB HBM3"})
		}
		return haverunner.NewGPUPool(list)
	}
	tests := []struct {
		name    string
		pool    *haverunner.GPUPool
		offered []string
		refused []string
	}{
		{"no GPUs", nil, []string{"cpu-basic", "cpu-upgrade"}, []string{"t4-small", "h100"}},
		{"one GPU", gpus(1), []string{"cpu-basic", "t4-small", "h100"}, []string{"a10g-largex2", "l4x4"}},
		{"two GPUs", gpus(2), []string{"a10g-largex2"}, []string{"l4x4", "h100x8"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &Service{cfg: Config{GPUs: tt.pool}}
			for _, name := range tt.offered {
				if err := s.checkFlavor(name); err != nil {
					t.Errorf("%s not offered: %v", name, err)
				}
			}
			for _, name := range tt.refused {
				if err := s.checkFlavor(name); err == nil {
					t.Errorf("%s offered", name)
				}
			}
		})
	}
}

func TestAcquireGPUs(t *testing.T) {
	s := &Service{cfg: Config{GPUs: haverunner.NewGPUPool([]haverunner.GPU{{ID: "0"}, {ID: "1"}})}}
	a := &haverunner.Workload{ID: "space-1", Env: map[string]string{}}
	release, err := s.acquireGPUs(a, 2)
	if err != nil || !reflect.DeepEqual(a.Limits.GPUs, []string{"0", "1"}) || a.Env["ACCELERATOR"] != "gpu" {
		t.Fatalf("acquire: %v, %+v", err, a)
	}
	b := &haverunner.Workload{ID: "space-2", Env: map[string]string{}}
	if _, err := s.acquireGPUs(b, 1); err == nil {
		t.Fatal("a second Space got a GPU another holds")
	}
	release()
	if _, err := s.acquireGPUs(b, 1); err != nil {
		t.Fatalf("after release: %v", err)
	}
	if _, err := (&Service{}).acquireGPUs(b, 1); err == nil {
		t.Error("a machine without GPUs handed one out")
	}
}
