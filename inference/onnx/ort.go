//go:build cgo

package onnx

import (
	"errors"
	"fmt"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
)

// ONNX Runtime's environment is one per process: the first library path
// given is the one loaded.
var (
	ortOnce sync.Once
	ortLib  string
	ortErr  error
)

func initORT(lib string) error {
	ortOnce.Do(func() {
		ortLib = lib
		ort.SetSharedLibraryPath(lib)
		ortErr = ort.InitializeEnvironment()
	})
	if ortErr != nil {
		return fmt.Errorf("loading ONNX Runtime from %s: %w", ortLib, ortErr)
	}
	return nil
}

// ORTVersion loads ONNX Runtime from lib (once per process) and returns
// its version.
func ORTVersion(lib string) (string, error) {
	if err := initORT(lib); err != nil {
		return "", err
	}
	return ort.GetVersion(), nil
}

// ortGraph runs the graph on ONNX Runtime.
type ortGraph struct {
	s      *ort.DynamicAdvancedSession
	inputs []string
}

func newORT(file, lib string, threads int) (graph, error) {
	if err := initORT(lib); err != nil {
		return nil, err
	}
	ins, outs, err := ort.GetInputOutputInfo(file)
	if err != nil {
		return nil, fmt.Errorf("reading the ONNX graph: %w", err)
	}
	if len(outs) == 0 {
		return nil, errors.New("the ONNX graph has no output")
	}
	g := &ortGraph{}
	for _, in := range ins {
		if _, err := (&batch{}).input(in.Name); err != nil {
			return nil, err
		}
		g.inputs = append(g.inputs, in.Name)
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	// Idle threads sleep rather than spin: the engine shares the cores
	// with Haven and, under load, spinning threads take turns from the
	// ones doing the work.
	if err := so.AddSessionConfigEntry("session.intra_op.allow_spinning", "0"); err != nil {
		return nil, err
	}
	if threads > 0 {
		if err := so.SetIntraOpNumThreads(threads); err != nil {
			return nil, err
		}
		if err := so.SetInterOpNumThreads(1); err != nil {
			return nil, err
		}
	}
	g.s, err = ort.NewDynamicAdvancedSession(file, g.inputs, []string{outs[0].Name}, so)
	if err != nil {
		return nil, fmt.Errorf("loading the ONNX graph: %w", err)
	}
	return g, nil
}

func (g *ortGraph) run(b *batch) (tensor, error) {
	shape := ort.NewShape(int64(b.n), int64(b.seq))
	inputs := make([]ort.Value, len(g.inputs))
	defer func() {
		for _, v := range inputs {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, name := range g.inputs {
		data, _ := b.input(name)
		t, err := ort.NewTensor(shape, data)
		if err != nil {
			return tensor{}, err
		}
		inputs[i] = t
	}
	outputs := []ort.Value{nil}
	if err := g.s.Run(inputs, outputs); err != nil {
		return tensor{}, err
	}
	defer outputs[0].Destroy()
	t, ok := outputs[0].(*ort.Tensor[float32])
	if !ok {
		return tensor{}, fmt.Errorf("the graph's first output is %T, not float32", outputs[0])
	}
	var out tensor
	for _, d := range t.GetShape() {
		out.shape = append(out.shape, int(d))
	}
	out.data = append([]float32(nil), t.GetData()...)
	return out, nil
}

func (g *ortGraph) close() { g.s.Destroy() }
