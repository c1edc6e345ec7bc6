package graph

import (
	"context"
	"errors"
	"reflect"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

// tb builds bytecode the way gremlin-go does: g() for a traversal source,
// anon() for __ (anonymous traversals); s(op, args...) appends a step.
type tb struct{ bc *graphbinary.Bytecode }

func g() *tb    { return &tb{bc: &graphbinary.Bytecode{}} }
func anon() *tb { return &tb{bc: &graphbinary.Bytecode{}} }

func (t *tb) s(op string, args ...any) *tb {
	t.bc.Steps = append(t.bc.Steps, graphbinary.Instruction{Operator: op, Args: args})
	return t
}

func (t *tb) src(op string, args ...any) *tb {
	t.bc.Sources = append(t.bc.Sources, graphbinary.Instruction{Operator: op, Args: args})
	return t
}

// Bytecode lets a builder be used as an argument (an anonymous traversal).
func (t *tb) B() *graphbinary.Bytecode { return t.bc }

// Gremlin enums as gremlin-go v3.7.4 serialises them.
var (
	tID       = graphbinary.Enum{Type: graphbinary.EnumT, Value: "id"}
	tLabel    = graphbinary.Enum{Type: graphbinary.EnumT, Value: "label"}
	tValue    = graphbinary.Enum{Type: graphbinary.EnumT, Value: "value"}
	dOut      = graphbinary.Enum{Type: graphbinary.EnumDirection, Value: "OUT"} // Direction.from too
	dIn       = graphbinary.Enum{Type: graphbinary.EnumDirection, Value: "IN"}  // Direction.to too
	onCreate  = graphbinary.Enum{Type: graphbinary.EnumMerge, Value: "onCreate"}
	onMatch   = graphbinary.Enum{Type: graphbinary.EnumMerge, Value: "onMatch"}
	mOutV     = graphbinary.Enum{Type: graphbinary.EnumMerge, Value: "outV"}
	mInV      = graphbinary.Enum{Type: graphbinary.EnumMerge, Value: "inV"}
	single    = graphbinary.Enum{Type: graphbinary.EnumCardinality, Value: "single"}
	set       = graphbinary.Enum{Type: graphbinary.EnumCardinality, Value: "set"}
	list      = graphbinary.Enum{Type: graphbinary.EnumCardinality, Value: "list"}
	popAll    = graphbinary.Enum{Type: graphbinary.EnumPop, Value: "all"}
	popFirst  = graphbinary.Enum{Type: graphbinary.EnumPop, Value: "first"}
	orderDesc = graphbinary.Enum{Type: graphbinary.EnumOrder, Value: "desc"}
)

// cv is CardinalityValue.single(x) and friends, as gremlin-go v3.7.4 sends them.
func cv(card graphbinary.Enum, v any) *graphbinary.Bytecode {
	return &graphbinary.Bytecode{Sources: []graphbinary.Instruction{
		{Operator: "CardinalityValueTraversal", Args: []any{card, v}},
	}}
}

func p(op string, vals ...any) graphbinary.P { return graphbinary.P{Operator: op, Values: vals} }

func textP(op string, v string) graphbinary.P {
	return graphbinary.P{Operator: op, Values: []any{v}, Text: true}
}

func m(kv ...any) map[any]any {
	out := make(map[any]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func vx(id, label string) graphbinary.Vertex { return graphbinary.Vertex{ID: id, Label: label} }

func ex(id, label string, from, to graphbinary.Vertex) graphbinary.Edge {
	return graphbinary.Edge{ID: id, Label: label, OutV: from, InV: to}
}

func run(t *testing.T, gr *Graph, b *tb) []any {
	t.Helper()
	res, err := gr.Execute(context.Background(), b.B())
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	return res
}

func mustFail(t *testing.T, gr *Graph, b *tb, code, contains string) *Error {
	t.Helper()
	res, err := gr.Execute(context.Background(), b.B())
	if err == nil {
		t.Fatalf("Execute succeeded with %v; want %s", res, code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if e.Code != code || !strings.Contains(e.Message, contains) {
		t.Fatalf("error = %s: %q; want %s containing %q", e.Code, e.Message, code, contains)
	}
	return e
}

func same(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %#v\nwant %#v", got, want)
	}
}

func vertexOf(t *testing.T, gr *Graph, id string) DumpVertex {
	t.Helper()
	for _, v := range gr.Dump().Vertices {
		if v.ID == id {
			return v
		}
	}
	t.Fatalf("no vertex %q", id)
	return DumpVertex{}
}

func edgeOf(t *testing.T, gr *Graph, id string) DumpEdge {
	t.Helper()
	for _, e := range gr.Dump().Edges {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no edge %q", id)
	return DumpEdge{}
}

func sortedAny(vals []any) []any {
	out := append([]any(nil), vals...)
	sort.Slice(out, func(i, j int) bool { return describe(out[i]) < describe(out[j]) })
	return out
}

// countdownCtx is a context that reports itself cancelled after its Done
// channel has been looked at n times, to cancel a traversal between steps.
type countdownCtx struct {
	context.Context
	left      atomic.Int64
	cancelled atomic.Bool
	closed    chan struct{}
}

func newCountdownCtx(n int64) *countdownCtx {
	c := &countdownCtx{Context: context.Background(), closed: make(chan struct{})}
	close(c.closed)
	c.left.Store(n)
	return c
}

func (c *countdownCtx) Done() <-chan struct{} {
	if c.left.Add(-1) < 0 {
		c.cancelled.Store(true)
		return c.closed
	}
	return nil
}

func (c *countdownCtx) Err() error {
	if c.cancelled.Load() {
		return context.Canceled
	}
	return nil
}

// modern seeds the graph every read test runs against: TinkerPop's "modern"
// graph with string ids.
func modern(t *testing.T) *Graph {
	t.Helper()
	gr := New()
	run(t, gr, g().
		s("addV", "person").s("property", tID, "marko").s("property", "name", "marko").s("property", "age", int32(29)).s("as", "marko").
		s("addV", "person").s("property", tID, "vadas").s("property", "name", "vadas").s("property", "age", int32(27)).s("as", "vadas").
		s("addV", "software").s("property", tID, "lop").s("property", "name", "lop").s("property", "lang", "java").s("as", "lop").
		s("addV", "person").s("property", tID, "josh").s("property", "name", "josh").s("property", "age", int32(32)).s("as", "josh").
		s("addV", "software").s("property", tID, "ripple").s("property", "name", "ripple").s("property", "lang", "java").s("as", "ripple").
		s("addV", "person").s("property", tID, "peter").s("property", "name", "peter").s("property", "age", int32(35)).s("as", "peter").
		s("addE", "knows").s("from", "marko").s("to", "vadas").s("property", tID, "k1").s("property", "weight", 0.5).
		s("addE", "knows").s("from", "marko").s("to", "josh").s("property", tID, "k2").s("property", "weight", 1.0).
		s("addE", "created").s("from", "marko").s("to", "lop").s("property", tID, "c1").s("property", "weight", 0.4).
		s("addE", "created").s("from", "josh").s("to", "ripple").s("property", tID, "c2").s("property", "weight", 1.0).
		s("addE", "created").s("from", "josh").s("to", "lop").s("property", tID, "c3").s("property", "weight", 0.4).
		s("addE", "created").s("from", "peter").s("to", "lop").s("property", tID, "c4").s("property", "weight", 0.2).
		s("none"))
	if v, e := gr.Counts(); v != 6 || e != 6 {
		t.Fatalf("modern graph has %d vertices and %d edges", v, e)
	}
	return gr
}

var (
	marko  = vx("marko", "person")
	vadas  = vx("vadas", "person")
	lop    = vx("lop", "software")
	josh   = vx("josh", "person")
	ripple = vx("ripple", "software")
	peter  = vx("peter", "person")
	k1     = ex("k1", "knows", marko, vadas)
	k2     = ex("k2", "knows", marko, josh)
	c1     = ex("c1", "created", marko, lop)
	c3     = ex("c3", "created", josh, lop)
	c4     = ex("c4", "created", peter, lop)
)
