package runner

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// GPU is an accelerator of this machine.
type GPU struct {
	ID        string // the index CUDA_VISIBLE_DEVICES names
	Name      string // "NVIDIA H100 80GB HBM3"
	MemoryMiB int
}

// DetectGPUs lists the machine's NVIDIA GPUs through nvidia-smi; none when
// it is missing or fails.
func DetectGPUs(ctx context.Context) []GPU {
	path, err := exec.LookPath("nvidia-smi")
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, path, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits").Output()
	if err != nil {
		return nil
	}
	return parseGPUs(out)
}

// parseGPUs reads nvidia-smi's CSV: "0, NVIDIA H100 80GB HBM3, 81559".
func parseGPUs(out []byte) []GPU {
	var gpus []GPU
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 3 {
			continue
		}
		id := strings.TrimSpace(f[0])
		if _, err := strconv.Atoi(id); err != nil {
			continue
		}
		mem, _ := strconv.Atoi(strings.TrimSpace(f[2]))
		gpus = append(gpus, GPU{ID: id, Name: strings.TrimSpace(f[1]), MemoryMiB: mem})
	}
	return gpus
}

// GPUPool hands out GPUs so that no two workloads hold the same one. A
// holder (a Space, a job) may acquire several times, as when a new revision
// starts beside the old: it keeps its GPUs until each Acquire is released.
type GPUPool struct {
	mu   sync.Mutex
	gpus []GPU
	held map[string]string // GPU id → holder
	refs map[string]int    // holder → Acquires not yet released
}

// NewGPUPool returns a pool of gpus.
func NewGPUPool(gpus []GPU) *GPUPool {
	return &GPUPool{gpus: gpus, held: map[string]string{}, refs: map[string]int{}}
}

// Len is the number of GPUs in the pool.
func (p *GPUPool) Len() int { return len(p.gpus) }

// GPUs lists the pool's GPUs.
func (p *GPUPool) GPUs() []GPU { return append([]GPU(nil), p.gpus...) }

// Acquire gives holder n free GPUs, or an *Error saying how many are free.
// A holder that already has GPUs gets those back first, so a restart of a
// workload does not need twice its share.
func (p *GPUPool) Acquire(holder string, n int) ([]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var ids []string
	for _, g := range p.gpus {
		if p.held[g.ID] == holder && len(ids) < n {
			ids = append(ids, g.ID)
		}
	}
	for _, g := range p.gpus {
		if len(ids) == n {
			break
		}
		if _, taken := p.held[g.ID]; !taken {
			ids = append(ids, g.ID)
		}
	}
	if len(ids) < n {
		return nil, &Error{Message: fmt.Sprintf("Not enough free GPUs: %d asked, %d of %d free", n, len(ids), len(p.gpus)-len(p.held)+p.heldBy(holder))}
	}
	for _, id := range ids {
		p.held[id] = holder
	}
	p.refs[holder]++
	return ids, nil
}

func (p *GPUPool) heldBy(holder string) int {
	n := 0
	for _, h := range p.held {
		if h == holder {
			n++
		}
	}
	return n
}

// Release undoes one Acquire of holder; its GPUs are free once every
// Acquire is released.
func (p *GPUPool) Release(holder string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.refs[holder]--; p.refs[holder] > 0 {
		return
	}
	delete(p.refs, holder)
	for id, h := range p.held {
		if h == holder {
			delete(p.held, id)
		}
	}
}

// Assign gives w n GPUs of the pool (none when n is 0), setting its limits
// and ACCELERATOR variable, held until release. A nil pool has no GPUs.
func (p *GPUPool) Assign(w *Workload, n int) (release func(), err error) {
	if n == 0 {
		return func() {}, nil
	}
	if p == nil {
		return nil, &Error{Message: "This hardware needs GPUs, and this machine has none"}
	}
	ids, err := p.Acquire(w.ID, n)
	if err != nil {
		return nil, err
	}
	w.Limits.GPUs = ids
	if w.Env == nil {
		w.Env = map[string]string{}
	}
	w.Env["ACCELERATOR"] = "gpu"
	return func() { p.Release(w.ID) }, nil
}
