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
}

// flavors are the Hub's CPU flavors; GPU flavors are offered only where
// GPUs exist (none are detected yet, so none are offered).
var flavors = []flavor{
	{"cpu-basic", "CPU basic", 2, 16},
	{"cpu-upgrade", "CPU upgrade", 8, 32},
}

const defaultFlavor = "cpu-basic"

func flavorByName(name string) (flavor, bool) {
	for _, f := range flavors {
		if f.Name == name {
			return f, true
		}
	}
	return flavor{}, false
}

// limits maps a flavor onto local limits, never beyond the machine.
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
	return map[string]any{
		"name":             f.Name,
		"prettyName":       f.Pretty,
		"cpu":              fmt.Sprintf("%d vCPU", f.CPUs),
		"ram":              fmt.Sprintf("%d GB", f.MemoryGiB),
		"ephemeralStorage": "50 GB",
		"accelerator":      nil,
		"unitCostMicroUSD": 0,
		"unitCostUSD":      0,
		"unitLabel":        "hour",
	}
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
