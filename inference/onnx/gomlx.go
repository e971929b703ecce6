package onnx

import (
	"errors"
	"fmt"
	"os"

	"github.com/gomlx/gomlx/backends"
	_ "github.com/gomlx/gomlx/backends/simplego" // the pure-Go backend
	gmgraph "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	onnxgomlx "github.com/gomlx/onnx-gomlx/onnx"
)

// goGraph runs the graph on GoMLX's pure-Go backend (simplego), converted
// from ONNX by onnx-gomlx: what hugot's GO runtime does, driven directly
// because hugot's loader finds no graph in a subfolder (onnx/model.onnx)
// and Haven tokenizes and pools itself. onnx-gomlx converts the op set of
// classic BERT-family exports; graphs with newer ops fail at load, and
// ONNX Runtime serves them.
type goGraph struct {
	backend backends.Backend
	ctx     *context.Context
	exec    *context.Exec
	inputs  []string
}

// newGoMLX loads the graph in file.
func newGoMLX(file string) (graph, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	m, err := onnxgomlx.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("reading the ONNX graph: %w", err)
	}
	g := &goGraph{inputs: m.InputsNames}
	for _, name := range g.inputs {
		if _, err := (&batch{}).input(name); err != nil {
			return nil, err
		}
	}
	if len(m.OutputsNames) == 0 {
		return nil, errors.New("the ONNX graph has no output")
	}
	out := m.OutputsNames[0]
	g.ctx = context.New().Reuse()
	if err := m.VariablesToContext(g.ctx); err != nil {
		return nil, fmt.Errorf("loading the ONNX graph's weights: %w", err)
	}
	if g.backend, err = backends.NewWithConfig("go"); err != nil {
		return nil, err
	}
	call := func(ctx *context.Context, in []*gmgraph.Node) []*gmgraph.Node {
		named := make(map[string]*gmgraph.Node, len(in))
		for i, name := range g.inputs {
			named[name] = in[i]
		}
		return m.CallGraph(ctx, in[0].Graph(), named, out)
	}
	if g.exec, err = context.NewExec(g.backend, g.ctx, call); err != nil {
		g.backend.Finalize()
		return nil, err
	}
	// Each batch and sequence length compiles once; simplego's programs
	// are cheap to keep.
	g.exec.SetMaxCache(-1)
	return g, nil
}

func (g *goGraph) run(b *batch) (out tensor, err error) {
	inputs := make([]*tensors.Tensor, len(g.inputs))
	for i, name := range g.inputs {
		data, _ := b.input(name)
		inputs[i] = tensors.FromFlatDataAndDimensions(data, b.n, b.seq)
	}
	defer func() {
		for _, t := range inputs {
			t.FinalizeAll()
		}
	}()
	outs, err := g.exec.Exec(inputs)
	if err != nil {
		return tensor{}, err
	}
	defer func() {
		for _, t := range outs {
			t.FinalizeAll()
		}
	}()
	if len(outs) == 0 {
		return tensor{}, errors.New("the graph has no output")
	}
	first := outs[0]
	first.MaterializeLocal()
	out.shape = first.Shape().Dimensions
	err = tensors.ConstFlatData(first, func(flat []float32) {
		out.data = append([]float32(nil), flat...)
	})
	if err != nil {
		return tensor{}, fmt.Errorf("the graph's first output: %w", err)
	}
	return out, nil
}

func (g *goGraph) close() {
	g.exec.Finalize()
	g.ctx.Finalize()
	g.backend.Finalize()
}

// input returns the batch's values for a graph input, by its name in
// Hugging Face exports.
func (b *batch) input(name string) ([]int64, error) {
	switch name {
	case "input_ids":
		return b.ids, nil
	case "attention_mask":
		return b.mask, nil
	case "token_type_ids":
		return b.types, nil
	}
	return nil, fmt.Errorf("the graph takes an input %q; the Go engine feeds input_ids, attention_mask and token_type_ids", name)
}
