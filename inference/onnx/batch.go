package onnx

import (
	"errors"
	"slices"
)

// batcher runs the inputs of concurrent requests through the model in
// shared forward passes: workers batches at a time, each taking every
// request waiting when it starts (up to max inputs), which run then cuts
// into passes of similar length (split). Under load requests join batches
// without a timed window, so a lone request pays no wait.
type batcher struct {
	run  func([]item) ([][]float32, error)
	max  int
	seen func(n int) // told the inputs of each pass
	reqs chan *request
	stop chan struct{}
}

type request struct {
	items []item
	rows  [][]float32
	err   error
	done  chan struct{}
}

var errClosed = errors.New("the model was unloaded")

func newBatcher(run func([]item) ([][]float32, error), max, workers int, seen func(n int)) *batcher {
	b := &batcher{run: run, max: max, seen: seen, reqs: make(chan *request, 1024), stop: make(chan struct{})}
	go b.loop()
	for range workers - 1 { // none when workers is 0 or 1
		go b.loop()
	}
	return b
}

// submit runs items (at most max) and returns one row each.
func (b *batcher) submit(items []item) ([][]float32, error) {
	r := &request{items: items, done: make(chan struct{})}
	select {
	case b.reqs <- r:
	case <-b.stop:
		return nil, errClosed
	}
	select {
	case <-r.done:
		return r.rows, r.err
	case <-b.stop:
		return nil, errClosed
	}
}

func (b *batcher) close() {
	select {
	case <-b.stop:
	default:
		close(b.stop)
	}
}

func (b *batcher) loop() {
	var next *request
	for {
		first := next
		next = nil
		if first == nil {
			select {
			case first = <-b.reqs:
			case <-b.stop:
				return
			}
		}
		group := []*request{first}
		n := len(first.items)
	gather:
		for n < b.max {
			select {
			case r := <-b.reqs:
				if n+len(r.items) > b.max {
					next = r // it starts the next pass
					break gather
				}
				group = append(group, r)
				n += len(r.items)
			default:
				break gather
			}
		}
		items := make([]item, 0, n)
		for _, r := range group {
			items = append(items, r.items...)
		}
		if b.seen != nil {
			b.seen(n)
		}
		rows, err := b.run(items)
		for _, r := range group {
			if err != nil {
				r.err = err
			} else {
				r.rows, rows = rows[:len(r.items)], rows[len(r.items):]
			}
			close(r.done)
		}
	}
}

// The cost model of a forward pass on the CPU, in token positions: a pass
// of n inputs padded to seq tokens costs about passCost + n×seq. The fixed
// part is what a pass pays whatever its size (waking the intra-op threads
// for each operator, the small matrices of one short input); passes past
// passTokens positions no longer get faster per token and run out of
// cache. Measured on all-MiniLM-L6-v2 on ONNX Runtime, 2 threads
// (bench/README.md).
const (
	passCost   = 8
	passTokens = 256
)

// split cuts a gathered batch into passes of inputs of similar length: the
// indices of lens sorted by length, cut where the padding a longer input
// forces on shorter ones would cost more than another pass (cost + n×seq
// per pass, at most maxTokens padded positions in a pass unless one input
// alone has more). It returns the passes, shortest inputs first.
func split(lens []int, cost, maxTokens int) [][]int {
	order := make([]int, len(lens))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return lens[a] - lens[b] })
	// best[j] is the least cost of the first j sorted inputs, the last
	// pass starting at from[j].
	n := len(order)
	best := make([]int, n+1)
	from := make([]int, n+1)
	for j := 1; j <= n; j++ {
		seq := lens[order[j-1]]
		best[j] = -1
		for i := j - 1; i >= 0; i-- {
			if i < j-1 && (j-i)*seq > maxTokens {
				break
			}
			if c := best[i] + cost + (j-i)*seq; best[j] < 0 || c < best[j] {
				best[j], from[j] = c, i
			}
		}
	}
	var parts [][]int
	for j := n; j > 0; j = from[j] {
		parts = append(parts, order[from[j]:j])
	}
	slices.Reverse(parts)
	return parts
}
