package spaces

import (
	"fmt"
	"os"
	"runtime"

	haverunner "github.com/havenhub/haven/runner"
)

// flavor is a hardware choice, mapped onto what this machine has.
type flavor struct {
	Name      string
	Pretty    string
	CPUs      int
	MemoryGiB int
	GPUs      int    // GPUs the flavor asks of the machine's
	GPUName   string // what they are, for people: the machine's, not the Hub's
}

// cpuFlavors are the Hub's CPU flavors, offered everywhere.
var cpuFlavors = []flavor{
	{Name: "cpu-basic", Pretty: "CPU basic", CPUs: 2, MemoryGiB: 16},
	{Name: "cpu-upgrade", Pretty: "CPU upgrade", CPUs: 8, MemoryGiB: 32},
}

// gpuFlavors are the Hub's GPU flavors by the number of GPUs they hold.
// Where the machine has GPUs, those that fit are offered and given the
// machine's own GPUs, whatever model the Hub's name says: a Space asking
// for "t4-small" on a machine of H100s gets one H100.
var gpuFlavors = []flavor{
	{Name: "t4-small", Pretty: "Nvidia T4 small", CPUs: 4, MemoryGiB: 15, GPUs: 1},
	{Name: "t4-medium", Pretty: "Nvidia T4 medium", CPUs: 8, MemoryGiB: 30, GPUs: 1},
	{Name: "l4x1", Pretty: "1x Nvidia L4", CPUs: 8, MemoryGiB: 30, GPUs: 1},
	{Name: "a10g-small", Pretty: "Nvidia A10G small", CPUs: 4, MemoryGiB: 15, GPUs: 1},
	{Name: "a10g-large", Pretty: "Nvidia A10G large", CPUs: 12, MemoryGiB: 46, GPUs: 1},
	{Name: "a100-large", Pretty: "Nvidia A100", CPUs: 12, MemoryGiB: 142, GPUs: 1},
	{Name: "h100", Pretty: "Nvidia H100", CPUs: 23, MemoryGiB: 240, GPUs: 1},
	{Name: "a10g-largex2", Pretty: "2x Nvidia A10G large", CPUs: 24, MemoryGiB: 92, GPUs: 2},
	{Name: "l4x4", Pretty: "4x Nvidia L4", CPUs: 48, MemoryGiB: 186, GPUs: 4},
	{Name: "a10g-largex4", Pretty: "4x Nvidia A10G large", CPUs: 48, MemoryGiB: 184, GPUs: 4},
	{Name: "h100x8", Pretty: "8x Nvidia H100", CPUs: 184, MemoryGiB: 1920, GPUs: 8},
}

const defaultFlavor = "cpu-basic"

// offered lists the flavors of this hub: the CPU ones, then the GPU ones
// that fit the machine's GPUs.
func (s *Service) offered() []flavor {
	out := append([]flavor(nil), cpuFlavors...)
	if s.cfg.GPUs == nil || s.cfg.GPUs.Len() == 0 {
		return out
	}
	name := s.cfg.GPUs.GPUs()[0].Name
	for _, f := range gpuFlavors {
		if f.GPUs <= s.cfg.GPUs.Len() {
			f.GPUName = name
			out = append(out, f)
		}
	}
	return out
}

func (s *Service) flavorByName(name string) (flavor, bool) {
	for _, f := range s.offered() {
		if f.Name == name {
			return f, true
		}
	}
	return flavor{}, false
}

// limits maps a flavor onto local limits, never beyond the machine. GPUs
// are handed out when the app starts (Service.acquireGPUs).
func (f flavor) limits() haverunner.Limits {
	cpus := min(f.CPUs, runtime.NumCPU())
	mem := int64(f.MemoryGiB) << 10
	if total := machineMemoryMB(); total > 0 {
		mem = min(mem, total)
	}
	return haverunner.Limits{CPUs: float64(cpus), MemoryMB: mem, Pids: 4096}
}

// hardwareInfo is the Hub's Hardware object (GET /api/spaces/hardware).
func (f flavor) hardwareInfo() map[string]any {
	var accel any
	if f.GPUs > 0 {
		accel = map[string]any{"quantity": fmt.Sprint(f.GPUs), "kind": "gpu", "model": f.GPUName, "vram": ""}
	}
	return map[string]any{
		"name":             f.Name,
		"prettyName":       f.Pretty,
		"cpu":              fmt.Sprintf("%d vCPU", f.CPUs),
		"ram":              fmt.Sprintf("%d GB", f.MemoryGiB),
		"ephemeralStorage": "50 GB",
		"accelerator":      accel,
		"unitCostMicroUSD": 0,
		"unitCostUSD":      0,
		"unitLabel":        "hour",
	}
}

// describe is the flavor for people, with the machine's GPUs.
func (f flavor) describe() string {
	d := fmt.Sprintf("%s · %d vCPU · %d GB", f.Pretty, f.CPUs, f.MemoryGiB)
	if f.GPUs > 0 {
		d += fmt.Sprintf(" · %d× %s here", f.GPUs, f.GPUName)
	}
	return d
}

// machineMemoryMB reads the machine's memory from /proc/meminfo (0 if unknown).
func machineMemoryMB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	var kb int64
	if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err != nil {
		return 0
	}
	return kb >> 10
}

// acquireGPUs gives w the GPUs its flavor asks for, held until release.
func (s *Service) acquireGPUs(w *haverunner.Workload, n int) (release func(), err error) {
	if n == 0 {
		return func() {}, nil
	}
	if s.cfg.GPUs == nil {
		return nil, &haverunner.Error{Message: "This hardware needs GPUs, and this machine has none"}
	}
	ids, err := s.cfg.GPUs.Acquire(w.ID, n)
	if err != nil {
		return nil, err
	}
	w.Limits.GPUs = ids
	w.Env["ACCELERATOR"] = "gpu"
	return func() { s.cfg.GPUs.Release(w.ID) }, nil
}
