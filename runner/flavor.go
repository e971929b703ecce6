package runner

import (
	"fmt"
	"os"
	"runtime"
	"strings"
)

// Flavor is a hardware choice of the Hub ("cpu-basic", "t4-small"), mapped
// onto what this machine has.
type Flavor struct {
	Name      string
	Pretty    string
	CPUs      int
	MemoryGiB int
	GPUs      int    // GPUs the flavor asks of the machine's
	GPUName   string // what they are, for people: the machine's, not the Hub's
}

// DefaultFlavor is the flavor of a Space or job that names none.
const DefaultFlavor = "cpu-basic"

// spaceCPUFlavors are the Hub's CPU flavors for Spaces; jobs have two more.
var (
	spaceCPUFlavors = []Flavor{
		{Name: "cpu-basic", Pretty: "CPU basic", CPUs: 2, MemoryGiB: 16},
		{Name: "cpu-upgrade", Pretty: "CPU upgrade", CPUs: 8, MemoryGiB: 32},
	}
	jobCPUFlavors = append(append([]Flavor(nil), spaceCPUFlavors...),
		Flavor{Name: "cpu-performance", Pretty: "CPU performance", CPUs: 8, MemoryGiB: 32},
		Flavor{Name: "cpu-xl", Pretty: "CPU XL", CPUs: 16, MemoryGiB: 124},
	)
)

// gpuFlavors are the Hub's GPU flavors by the number of GPUs they hold.
// Where the machine has GPUs, those that fit are offered and given the
// machine's own GPUs, whatever model the Hub's name says: a workload asking
// for "t4-small" on a machine of H100s gets one H100.
var gpuFlavors = []Flavor{
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

// Flavors is the hardware a hub offers: its CPU flavors, then the GPU ones
// that fit the pool (nil: no GPUs).
type Flavors struct {
	cpu  []Flavor
	pool *GPUPool
}

// SpaceFlavors are the flavors Spaces may ask for.
func SpaceFlavors(pool *GPUPool) Flavors { return Flavors{spaceCPUFlavors, pool} }

// JobFlavors are the flavors jobs may ask for.
func JobFlavors(pool *GPUPool) Flavors { return Flavors{jobCPUFlavors, pool} }

// List returns every flavor offered.
func (fs Flavors) List() []Flavor {
	out := append([]Flavor(nil), fs.cpu...)
	if fs.pool == nil || fs.pool.Len() == 0 {
		return out
	}
	name := fs.pool.GPUs()[0].Name
	for _, f := range gpuFlavors {
		if f.GPUs <= fs.pool.Len() {
			f.GPUName = name
			out = append(out, f)
		}
	}
	return out
}

// Lookup finds an offered flavor by name.
func (fs Flavors) Lookup(name string) (Flavor, bool) {
	for _, f := range fs.List() {
		if f.Name == name {
			return f, true
		}
	}
	return Flavor{}, false
}

// Check refuses a flavor that is not offered with a message naming those
// that are.
func (fs Flavors) Check(name string) error {
	if _, ok := fs.Lookup(name); ok {
		return nil
	}
	var names []string
	for _, f := range fs.List() {
		names = append(names, f.Name)
	}
	return &Error{Message: fmt.Sprintf("Unknown hardware flavor %q: this hub offers %s", name, strings.Join(names, ", "))}
}

// Limits maps the flavor onto local limits, never beyond the machine. GPUs
// are handed out when the workload starts (GPUPool.Acquire).
func (f Flavor) Limits() Limits {
	cpus := min(f.CPUs, runtime.NumCPU())
	mem := int64(f.MemoryGiB) << 10
	if total := MachineMemoryMB(); total > 0 {
		mem = min(mem, total)
	}
	return Limits{CPUs: float64(cpus), MemoryMB: mem, Pids: 4096}
}

// HardwareInfo is the Hub's Hardware object (GET /api/spaces/hardware,
// GET /api/jobs/hardware).
func (f Flavor) HardwareInfo() map[string]any {
	var accel any
	if f.GPUs > 0 {
		accel = map[string]any{"type": "gpu", "kind": "gpu", "quantity": fmt.Sprint(f.GPUs), "model": f.GPUName, "vram": "", "manufacturer": "Nvidia"}
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

// Describe is the flavor for people, with the machine's GPUs.
func (f Flavor) Describe() string {
	d := fmt.Sprintf("%s · %d vCPU · %d GB", f.Pretty, f.CPUs, f.MemoryGiB)
	if f.GPUs > 0 {
		d += fmt.Sprintf(" · %d× %s here", f.GPUs, f.GPUName)
	}
	return d
}

// MachineMemoryMB reads the machine's memory from /proc/meminfo (0 if
// unknown).
func MachineMemoryMB() int64 {
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
