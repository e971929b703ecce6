package onnx

import "errors"

// batcher runs the inputs of concurrent requests through the model in
// shared forward passes: one pass at a time, each taking every request
// waiting when it starts (up to max inputs). Under load requests join
// batches without a timed window, so a lone request pays no wait.
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

func newBatcher(run func([]item) ([][]float32, error), max int, seen func(n int)) *batcher {
	b := &batcher{run: run, max: max, seen: seen, reqs: make(chan *request, 1024), stop: make(chan struct{})}
	go b.loop()
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
