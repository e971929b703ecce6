//go:build cgo

package onnx

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sugarme/tokenizer"
)

// benchWords are the words of the sentences bench/inference.py sends.
var benchWords = strings.Fields(`the a one every this that small large quick slow red green old new bright quiet city river model
server request answer cat dog house street market engine garden window teacher student music
morning evening train bridge ocean mountain story picture letter question reason number
runs walks reads writes sings builds opens closes finds keeps holds brings leaves meets sees
near under over beside through across after before with without and but because while`)

// benchSentences are n sentences of 6 to 16 words, as the clients of
// bench/goengine.sh send them.
func benchSentences(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 0))
	out := make([]string, n)
	for i := range out {
		w := make([]string, 6+r.IntN(11))
		for j := range w {
			w[j] = benchWords[r.IntN(len(benchWords))]
		}
		out[i] = strings.ToUpper(w[0][:1]) + strings.Join(w, " ")[1:] + fmt.Sprintf(" %d.", i)
	}
	return out
}

// BenchmarkForward compares, on a real model and ONNX Runtime, the ways to
// run the n sentences a batcher gathers: one pass each (batch 1, the
// baseline), one pass padded to the longest, and the passes of similar
// length that forward runs (split), in turn in each round. Set
// HAVEN_BENCH_ONNX_MODEL to a model folder (bench/inference.py export);
// HAVEN_BENCH_ORT_LIB defaults to the library of e2e/onnxruntime.
//
//	HAVEN_BENCH_ONNX_MODEL=/tmp/minilm-onnx go test -run '^$' -bench Forward -benchtime 20x ./inference/onnx/
func BenchmarkForward(b *testing.B) {
	dir, lib := benchModel(b)
	m, err := Load(dir, Options{Task: "feature-extraction", Name: "bench", ORTLib: lib, Threads: 2, Passes: 1})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	for _, n := range []int{8, 16, 32} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ways := []struct {
				name string
				run  func(encs []*tokenizer.Encoding, rows [][]float32) error
			}{
				{"batch1", func(encs []*tokenizer.Encoding, rows [][]float32) error {
					for i := range encs {
						if err := m.pass(encs, []int{i}, rows); err != nil {
							return err
						}
					}
					return nil
				}},
				{"padded", func(encs []*tokenizer.Encoding, rows [][]float32) error {
					all := make([]int, len(encs))
					for i := range all {
						all[i] = i
					}
					return m.pass(encs, all, rows)
				}},
				{"split", func(encs []*tokenizer.Encoding, rows [][]float32) error {
					lens := make([]int, len(encs))
					for i, e := range encs {
						lens[i] = len(e.Ids)
					}
					for _, part := range split(lens, passCost, passTokens) {
						if err := m.pass(encs, part, rows); err != nil {
							return err
						}
					}
					return nil
				}},
			}
			spent := make([]time.Duration, len(ways))
			b.ResetTimer()
			for it := 0; it < b.N; it++ {
				items := make([]item, n)
				for i, s := range benchSentences(n, uint64(it)) {
					items[i] = item{text: s}
				}
				if _, err := m.count(items); err != nil {
					b.Fatal(err)
				}
				encs := make([]*tokenizer.Encoding, n)
				for i := range items {
					encs[i] = items[i].enc
				}
				for k := range ways {
					w := ways[(k+it)%len(ways)]
					rows := make([][]float32, n)
					start := time.Now()
					if err := w.run(encs, rows); err != nil {
						b.Fatal(err)
					}
					spent[(k+it)%len(ways)] += time.Since(start)
				}
			}
			for k, w := range ways {
				b.ReportMetric(float64(n*b.N)/spent[k].Seconds(), w.name+"_sent/s")
			}
			b.ReportMetric(spent[0].Seconds()/spent[2].Seconds(), "split_vs_batch1")
		})
	}
}

// BenchmarkConcurrent measures the engine under load as an endpoint sees
// it: 32 requests of one sentence at a time (the places Haven gives a
// replica) for a window, on a model with dynamic batching and on one that
// takes one input per pass (maxBatch 1, the baseline), the windows
// alternating. Beside answers/s it reports answers per CPU-second of the
// process (user and system time), which depends far less on the machine's
// other load. Set HAVEN_BENCH_ONNX_MODEL as for BenchmarkForward, and
// HAVEN_BENCH_ORT_THREADS for the threads (2), HAVEN_BENCH_PASSES for the
// passes at once (Options.Passes; the engine's default) and
// HAVEN_BENCH_PLACES for the requests at a time (32).
//
//	HAVEN_BENCH_ONNX_MODEL=/tmp/minilm-onnx go test -run '^$' -bench Concurrent -benchtime 4x ./inference/onnx/
func BenchmarkConcurrent(b *testing.B) {
	dir, lib := benchModel(b)
	threads := 2
	if t := os.Getenv("HAVEN_BENCH_ORT_THREADS"); t != "" {
		fmt.Sscan(t, &threads)
	}
	passes := 0
	if p := os.Getenv("HAVEN_BENCH_PASSES"); p != "" {
		fmt.Sscan(p, &passes)
	}
	models := make([]*Model, 2)
	for i, max := range []int{32, 1} {
		m, err := Load(dir, Options{Task: "feature-extraction", Name: "bench", ORTLib: lib, Threads: threads, Passes: passes, MaxBatch: max})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		models[i] = m
	}
	const window = 5 * time.Second
	places := 32
	if p := os.Getenv("HAVEN_BENCH_PLACES"); p != "" {
		fmt.Sscan(p, &places)
	}
	sentences := benchSentences(1000, 1)
	answers := make([]int64, 2)
	var spent, cpu [2]time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		for k := range models {
			k = (k + it) % 2
			var done atomic.Int64
			var wg sync.WaitGroup
			cpu0 := cpuTime()
			start := time.Now()
			for p := range places {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := p; time.Since(start) < window; i += places {
						if _, _, err := models[k].Embed([]string{sentences[i%len(sentences)]}, true, false); err != nil {
							b.Error(err)
							return
						}
						done.Add(1)
					}
				}()
			}
			wg.Wait()
			spent[k] += time.Since(start)
			cpu[k] += cpuTime() - cpu0
			answers[k] += done.Load()
		}
	}
	batching, one := float64(answers[0])/spent[0].Seconds(), float64(answers[1])/spent[1].Seconds()
	b.ReportMetric(batching, "batching_answers/s")
	b.ReportMetric(one, "batch1_answers/s")
	b.ReportMetric(batching/one, "batching_vs_batch1")
	perCPU := func(k int) float64 { return float64(answers[k]) / cpu[k].Seconds() }
	b.ReportMetric(perCPU(0), "batching_answers/cpu_s")
	b.ReportMetric(perCPU(1), "batch1_answers/cpu_s")
	b.ReportMetric(perCPU(0)/perCPU(1), "batching_vs_batch1_cpu")
}

// cpuTime is the user and system time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCount is the tokenization of one sentence as the clients of
// bench/goengine.sh send them (count, in the request's goroutine), to weigh
// it against a forward pass. Set HAVEN_BENCH_ONNX_MODEL as for
// BenchmarkForward.
func BenchmarkCount(b *testing.B) {
	dir := os.Getenv("HAVEN_BENCH_ONNX_MODEL")
	if dir == "" {
		b.Skip("HAVEN_BENCH_ONNX_MODEL is not set")
	}
	m, err := load(dir, Options{Task: "feature-extraction", Name: "bench"}, func(string) (graph, string, error) {
		return &fakeGraph{}, "fake", nil
	})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	sentences := benchSentences(1000, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := m.count([]item{{text: sentences[i%len(sentences)]}}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSequential measures lone requests, one after another, of 1 and
// of 32 sentences on a model running one pass at a time on 2 threads and
// on one running two passes side by side on one thread each (the default),
// loaded side by side and taking turns in each round. Set
// HAVEN_BENCH_ONNX_MODEL as for BenchmarkForward.
//
//	HAVEN_BENCH_ONNX_MODEL=/tmp/minilm-onnx go test -run '^$' -bench Sequential -benchtime 20x ./inference/onnx/
func BenchmarkSequential(b *testing.B) {
	dir, lib := benchModel(b)
	models := make([]*Model, 2)
	for i, passes := range []int{1, 2} {
		m, err := Load(dir, Options{Task: "feature-extraction", Name: "bench", ORTLib: lib, Threads: 2, Passes: passes})
		if err != nil {
			b.Fatal(err)
		}
		defer m.Close()
		models[i] = m
	}
	for _, n := range []int{1, 32} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			var spent [2]time.Duration
			for it := 0; it < b.N; it++ {
				texts := benchSentences(n, uint64(it))
				for k := range models {
					k = (k + it) % 2
					start := time.Now()
					if _, _, err := models[k].Embed(texts, true, false); err != nil {
						b.Fatal(err)
					}
					spent[k] += time.Since(start)
				}
			}
			b.ReportMetric(float64(n*b.N)/spent[0].Seconds(), "one_pass_sent/s")
			b.ReportMetric(float64(n*b.N)/spent[1].Seconds(), "two_passes_sent/s")
			b.ReportMetric(spent[0].Seconds()/spent[1].Seconds(), "two_vs_one")
		})
	}
}

// benchModel returns the model folder and ONNX Runtime library of the
// benchmarks on a real model, or skips when HAVEN_BENCH_ONNX_MODEL is not set.
func benchModel(b *testing.B) (dir, lib string) {
	dir = os.Getenv("HAVEN_BENCH_ONNX_MODEL")
	if dir == "" {
		b.Skip("HAVEN_BENCH_ONNX_MODEL is not set")
	}
	lib = os.Getenv("HAVEN_BENCH_ORT_LIB")
	if lib == "" {
		lib, _ = filepath.Abs("../../e2e/onnxruntime/node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1")
	}
	return dir, lib
}
