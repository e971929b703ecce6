// Package uploadmem hands the memory of a burst of uploads back to the
// operating system once they are over, for every server that takes uploads.
package uploadmem

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// process hands the memory of a burst of uploads back to the operating
// system once they are over. Without it the Go runtime keeps the heap that
// a burst grew to until its next forced collection (every two minutes on an
// idle server) and returns it gradually after that, so the server's RSS
// would stay at the burst's height long after the last upload. The heap is
// the process's, hence one for all servers.
var process = &memReleaser{delay: 5 * time.Second, free: freeMemory}

// Track marks an upload as started; call the function it returns when the
// upload is over.
func Track() func() { return process.track() }

// freeMemory collects twice before returning the free heap to the system:
// what sits in a sync.Pool (copy buffers, decompressors) survives one
// collection.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
}

// memReleaser counts the uploads in flight and, when none has been in
// flight for delay, returns the freed heap to the operating system.
type memReleaser struct {
	delay time.Duration
	free  func()

	mu     sync.Mutex
	active int
	timer  *time.Timer
}

// track marks an upload as started; call the function it returns when the
// upload is over.
func (m *memReleaser) track() func() {
	m.mu.Lock()
	m.active++
	m.mu.Unlock()
	return m.done
}

func (m *memReleaser) done() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.active--
	if m.active > 0 {
		return
	}
	if m.timer == nil {
		m.timer = time.AfterFunc(m.delay, m.release)
	} else {
		m.timer.Reset(m.delay)
	}
}

func (m *memReleaser) release() {
	m.mu.Lock()
	idle := m.active == 0
	m.mu.Unlock()
	if idle {
		m.free()
	}
}
