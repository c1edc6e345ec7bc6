package graph

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

// snapshot is everything a rollback must restore, adjacency order included.
func snapshot(t *testing.T, gr *Graph) string {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%#v\n", gr.Dump())
	for _, id := range []string{"marko", "vadas", "lop", "josh", "ripple", "peter"} {
		fmt.Fprintf(&b, "%s out %v in %v\n", id,
			run(t, gr, g().s("V", id).s("outE").s("id")), run(t, gr, g().s("V", id).s("inE").s("id")))
	}
	fmt.Fprintf(&b, "V %v\nE %v\n", run(t, gr, g().s("V").s("id")), run(t, gr, g().s("E").s("id")))
	return b.String()
}

func TestRollback(t *testing.T) {
	failing := func(b *tb) *tb {
		// inject() mid-traversal emits its value even when no traverser
		// arrives (after a drop(), say), so the failing mergeE always runs.
		return b.s("inject", int32(0)).s("mergeE", m(tID, "bad")).s("option", onCreate, m(dOut, "marko", dIn, "ghost", tLabel, "x"))
	}
	cases := []struct {
		name string
		q    *tb
	}{
		{"a mergeV followed by a mergeE to a missing vertex leaves no vertex behind",
			failing(g().s("mergeV", m(tID, "new")).s("option", onCreate, m(tLabel, "L", "k", "v")))},
		{"property changes on existing vertices are undone",
			failing(g().s("V", "marko").s("property", single, "age", int32(99)).s("property", "name", "x").s("property", "new", "n").
				s("V", "lop").s("properties", "lang").s("drop"))},
		{"dropped vertices come back with their edges in their places",
			failing(g().s("V", "josh").s("drop").s("V", "lop").s("inE").s("drop"))},
		{"edge property changes are undone",
			failing(g().s("E", "k1").s("property", "weight", 9.0).s("property", "new", "n").s("E", "k2").s("properties").s("drop"))},
		{"labels added by addV are removed",
			failing(g().s("addV", "extra").s("property", tID, "marko").s("property", "k", "v"))},
		{"new edges are removed from their vertices",
			failing(g().s("V", "marko").s("addE", "e").s("to", anon().s("V", "lop").B()).s("V", "peter").s("addE", "e").s("to", anon().s("V", "marko").B()))},
		{"onMatch changes of many merges are undone",
			failing(upsertV(upsertV(g(), "marko", "person", m("age", int32(1))), "vadas", "person", m("name", "v2", "x", "y")))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gr := modern(t)
			before := snapshot(t, gr)
			mustFail(t, gr, c.q, CodeInvalidParameter, "Vertex does not exist for mergeE")
			if after := snapshot(t, gr); after != before {
				t.Fatalf("graph changed:\nbefore %s\nafter  %s", before, after)
			}
		})
	}
	t.Run("the graph keeps working after a rollback", func(t *testing.T) {
		gr := New()
		mustFail(t, gr, failing(g().s("addV").s("property", tID, "marko")), CodeInvalidParameter, "Vertex does not exist")
		run(t, gr, g().s("addV").s("property", tID, "marko").s("addV").s("property", tID, "ghost"))
		run(t, gr, failing(g().s("inject", int32(1))))
		if v, e := gr.Counts(); v != 2 || e != 1 {
			t.Fatalf("%d vertices, %d edges", v, e)
		}
	})
}

func TestContext(t *testing.T) {
	chain := func(n int) *tb {
		b := g()
		for i := 0; i < n; i++ {
			b.s("mergeV", m(tID, fmt.Sprintf("c%d", i)))
		}
		return b
	}
	t.Run("a context cancelled between steps rolls the traversal back", func(t *testing.T) {
		gr := modern(t)
		before := gr.Dump()
		ctx := newCountdownCtx(5)
		_, err := gr.Execute(ctx, chain(20).B())
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeCancelledByUser {
			t.Fatalf("err = %v, want %s", err, CodeCancelledByUser)
		}
		if !ctx.cancelled.Load() {
			t.Fatal("the context was never cancelled")
		}
		same(t, gr.Dump(), before)
	})
	t.Run("a context that is already cancelled runs nothing", func(t *testing.T) {
		gr := New()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := gr.Execute(ctx, chain(1).B())
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeCancelledByUser {
			t.Fatalf("err = %v", err)
		}
		if n, _ := gr.Counts(); n != 0 {
			t.Fatalf("%d vertices", n)
		}
	})
	t.Run("a passed deadline is a time limit error", func(t *testing.T) {
		gr := New()
		ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
		defer cancel()
		_, err := gr.Execute(ctx, chain(1).B())
		var e *Error
		if !errors.As(err, &e) || e.Code != CodeTimeLimitExceeded {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStepLimit(t *testing.T) {
	upserts := func(n int) *tb {
		b := g()
		for i := 0; i < n; i++ {
			// mergeV + option + a nested CardinalityValue: three steps each
			b.s("mergeV", m(tID, fmt.Sprintf("v%d", i))).s("option", onMatch, m("k", cv(single, int32(i))))
		}
		return b
	}
	plain := func(n int) *tb {
		b := g().s("inject", int32(1))
		for i := 1; i < n; i++ {
			b.s("identity")
		}
		return b
	}
	t.Run("CountSteps counts nested traversals and source instructions", func(t *testing.T) {
		b := g().src("withStrategies").s("V").s("coalesce", anon().s("out").s("limit", int32(1)).B(), anon().s("constant", int32(1)).B()).
			s("mergeV", m(tID, "x")).s("option", onMatch, m("a", cv(single, int32(1)), "b", cv(set, int32(2))))
		same(t, CountSteps(b.B()), 1+4+3+2)
	})
	cases := []struct {
		name  string
		q     *tb
		steps int
		ok    bool
	}{
		{"1,500 plain steps are accepted", plain(1500), 1500, true},
		{"1,501 plain steps are refused", plain(1501), 1501, false},
		{"500 upserts of three steps each are accepted", upserts(500), 1500, true},
		{"one more step is refused", upserts(500).s("id"), 1501, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			same(t, CountSteps(c.q.B()), c.steps)
			gr := New()
			if c.ok {
				run(t, gr, c.q)
				return
			}
			e := mustFail(t, gr, c.q, CodeQueryTooLarge, fmt.Sprintf("%d steps", c.steps))
			if !strings.Contains(e.Message, "1500") {
				t.Fatalf("message %q does not give the limit", e.Message)
			}
			if n, _ := gr.Counts(); n != 0 {
				t.Fatalf("refused traversal wrote %d vertices", n)
			}
		})
	}
}

func TestSourcesAndBindings(t *testing.T) {
	t.Run("withStrategies without strategies is accepted", func(t *testing.T) {
		gr := modern(t)
		same(t, run(t, gr, g().src("withStrategies").s("V").s("count")), []any{int64(6)})
	})
	t.Run("OptionsStrategy is accepted", func(t *testing.T) {
		gr := modern(t)
		opts := graphbinary.Strategy{Class: "org.apache.tinkerpop.gremlin.process.traversal.strategy.decoration.OptionsStrategy", Config: map[string]any{"evaluationTimeout": int64(1000)}}
		same(t, run(t, gr, g().src("withStrategies", opts).s("V").s("count")), []any{int64(6)})
	})
	t.Run("bindings are replaced by their values", func(t *testing.T) {
		gr := New()
		run(t, gr, g().s("mergeV", m(tID, graphbinary.Binding{Key: "id", Value: "b1"})).
			s("option", onCreate, m("k", &graphbinary.Binding{Key: "v", Value: cv(single, "v")})))
		same(t, vertexOf(t, gr, "b1").Properties, map[string][]any{"k": {"v"}})
	})
	t.Run("iterate's none step returns nothing but writes", func(t *testing.T) {
		gr := New()
		same(t, len(run(t, gr, g().s("addV", "x").s("none"))), 0)
		if n, _ := gr.Counts(); n != 1 {
			t.Fatalf("%d vertices", n)
		}
	})
}

func TestLazyEvaluation(t *testing.T) {
	t.Run("a by() traversal stops at its first value, writing only for it", func(t *testing.T) {
		gr := modern(t)
		res := run(t, gr, g().s("V", "marko").s("project", "p").s("by", anon().s("out").s("property", "touched", true).s("values", "name").B()))
		same(t, res, []any{m("p", "vadas")})
		same(t, run(t, gr, g().s("V").s("has", "touched").s("id")), []any{"vadas"})
	})
	t.Run("where() only needs one result", func(t *testing.T) {
		gr := modern(t)
		run(t, gr, g().s("V", "marko").s("where", anon().s("out").s("property", "seen", true).B()))
		same(t, run(t, gr, g().s("V").s("has", "seen").s("count")), []any{int64(1)})
	})
	t.Run("a barrier before the first value runs over every traverser", func(t *testing.T) {
		gr := modern(t)
		res := run(t, gr, g().s("V", "marko").s("project", "n").s("by", anon().s("out").s("property", "seen", true).s("count").B()))
		same(t, res, []any{m("n", int64(3))})
		same(t, run(t, gr, g().s("V").s("has", "seen").s("count")), []any{int64(3)})
	})
	t.Run("limit after a write is refused rather than guessed", func(t *testing.T) {
		gr := New()
		mustFail(t, gr, g().s("inject", int32(1), int32(2), int32(3)).s("addV", "x").s("limit", int32(1)), CodeUnsupportedOperation, "limit() after a step that writes")
		mustFail(t, gr, g().s("inject", int32(1)).s("sideEffect", anon().s("addV", "x").B()).s("range", int32(0), int32(1)), CodeUnsupportedOperation, "range()")
	})
	t.Run("limit before a write is fine", func(t *testing.T) {
		gr := modern(t)
		run(t, gr, g().s("V").s("hasLabel", "person").s("limit", int32(2)).s("property", "top", true))
		same(t, run(t, gr, g().s("V").s("has", "top").s("id")), []any{"marko", "vadas"})
	})
}
