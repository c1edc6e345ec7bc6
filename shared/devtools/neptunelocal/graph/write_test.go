package graph

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/google/uuid"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

func TestAddV(t *testing.T) {
	t.Run("addV with an id, label and properties creates the vertex", func(t *testing.T) {
		gr := New()
		res := run(t, gr, g().s("addV", "Service").s("property", tID, "svc:a").s("property", "name", "a").s("property", "port", int32(80)))
		same(t, res, []any{vx("svc:a", "Service")})
		same(t, vertexOf(t, gr, "svc:a"), DumpVertex{ID: "svc:a", Label: "Service", Properties: map[string][]any{"name": {"a"}, "port": {int32(80)}}})
	})
	t.Run("addV without an id generates a UUID string id", func(t *testing.T) {
		gr := New()
		res := run(t, gr, g().s("addV").s("id"))
		id, ok := res[0].(string)
		if !ok {
			t.Fatalf("id %#v is not a string", res[0])
		}
		if _, err := uuid.Parse(id); err != nil {
			t.Fatalf("id %q is not a UUID: %v", id, err)
		}
		same(t, run(t, gr, g().s("V", id).s("label")), []any{"vertex"})
	})
	t.Run("addV with an existing id and label is a constraint violation", func(t *testing.T) {
		gr := modern(t)
		mustFail(t, gr, g().s("addV", "person").s("property", tID, "marko"), CodeConstraintViolation, "Vertex with id already exists: marko")
	})
	t.Run("addV with an existing id and a new label adds the label as Neptune does", func(t *testing.T) {
		gr := New()
		run(t, gr, g().s("addV", "label1").s("property", tID, "customid"))
		run(t, gr, g().s("addV", "label2").s("property", tID, "customid").s("property", "k", "v"))
		same(t, run(t, gr, g().s("V", "customid").s("label")), []any{"label1::label2"})
		same(t, run(t, gr, g().s("V").s("hasLabel", "label2").s("values", "k")), []any{"v"})
		if n, _ := gr.Counts(); n != 1 {
			t.Fatalf("%d vertices, want 1", n)
		}
	})
	t.Run("a label with :: gives the vertex several labels", func(t *testing.T) {
		gr := New()
		run(t, gr, g().s("addV", "A::B").s("property", tID, "x"))
		same(t, run(t, gr, g().s("V").s("hasLabel", "B").s("id")), []any{"x"})
		same(t, run(t, gr, g().s("V").s("hasLabel", "A::B").s("count")), []any{int64(0)})
	})
	t.Run("addV takes its label from a traversal", func(t *testing.T) {
		gr := New()
		same(t, run(t, gr, g().s("inject", "Dyn").s("addV", anon().s("identity").B()).s("label")), []any{"Dyn"})
	})
	t.Run("addV mid-traversal adds one vertex per traverser", func(t *testing.T) {
		gr := New()
		run(t, gr, g().s("inject", int32(1), int32(2), int32(3)).s("addV", "n"))
		if n, _ := gr.Counts(); n != 3 {
			t.Fatalf("%d vertices, want 3", n)
		}
	})
	t.Run("property folded into addV may be a traversal on the incoming traverser", func(t *testing.T) {
		gr := New()
		run(t, gr, g().s("inject", "from-inject").s("addV", "n").s("property", tID, "x").s("property", "src", anon().s("identity").B()))
		same(t, vertexOf(t, gr, "x").Properties, map[string][]any{"src": {"from-inject"}})
	})
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		name     string
		q        *tb
		code     string
		contains string
	}{
		{"a numeric vertex id is refused", g().s("addV", "a").s("property", tID, int32(1)), CodeUnsupportedOperation, "Expected an id that is convertible to String but received class java.lang.Integer"},
		{"a long vertex id is refused", g().s("addV", "a").s("property", tID, int64(1)), CodeUnsupportedOperation, "java.lang.Long"},
		{"a numeric id in mergeV is refused", g().s("mergeV", m(tID, int64(7))), CodeUnsupportedOperation, "convertible to String"},
		{"a numeric edge id in mergeE is refused", g().s("mergeE", m(tID, 1.5, dOut, "a", dIn, "b")), CodeUnsupportedOperation, "java.lang.Double"},
		{"a numeric id lookup is refused", g().s("V", int32(1)), CodeUnsupportedOperation, "convertible to String"},
		{"an empty id is refused", g().s("addV", "a").s("property", tID, ""), CodeInvalidParameter, "empty"},
		{"the neptune_reserved id prefix is refused", g().s("addV", "a").s("property", tID, "neptune_reserved_1"), CodeInvalidParameter, "reserved"},
		{"an empty label is refused", g().s("addV", ""), CodeInvalidParameter, "Label can not be empty"},
		{"a hidden label is refused", g().s("addV", "~x"), CodeInvalidParameter, "Label can not be a hidden key: ~x"},
		{"an empty label between :: is refused", g().s("addV", "a::"), CodeInvalidParameter, "empty"},
		{"an edge label with :: is refused", g().s("addV").s("as", "a").s("addE", "x::y").s("to", "a"), CodeInvalidParameter, "::"},
		{"an empty property key is refused", g().s("addV", "a").s("property", "", "v"), CodeInvalidParameter, "Property key can not be empty"},
		{"a hidden property key is refused", g().s("addV", "a").s("property", "~k", "v"), CodeInvalidParameter, "hidden"},
		{"list cardinality is refused", g().s("addV", "a").s("property", list, "k", "v"), CodeUnsupportedOperation, "list"},
		{"meta-properties are refused", g().s("addV", "a").s("property", "k", "v", "meta", "m"), CodeUnsupportedOperation, "meta-properties"},
		{"a list property value is refused", g().s("addV", "a").s("property", "k", []any{"a", "b"}), CodeUnsupportedOperation, "java.util.ArrayList"},
		{"a map property value is refused", g().s("addV", "a").s("property", "k", m("a", "b")), CodeUnsupportedOperation, "java.util.LinkedHashMap"},
		{"cardinality on an edge property is refused", g().s("addV").s("as", "a").s("addE", "e").s("to", "a").s("property", set, "k", "v"), CodeInvalidParameter, "Multi-property cardinality of [set]"},
		{"T.id on an existing element is refused", g().s("inject", int32(1)).s("addV", "a").s("property", single, "x", int32(1)).s("V").s("property", tID, "new"), CodeInvalidParameter, "immutable"},
		{"an unknown step names the step", g().s("V").s("order").s("by", "name", orderDesc), CodeUnsupportedOperation, "order()"},
		{"repeat is not supported and says so", g().s("V").s("repeat", anon().s("out").B()).s("times", int32(2)), CodeUnsupportedOperation, "repeat()"},
		{"lambdas are refused", g().s("V").s("map", graphbinary.Lambda{Script: "it.get()", Language: "gremlin-groovy"}), CodeUnsupportedOperation, "Lambda"},
		{"an unsupported strategy is refused", g().src("withStrategies", graphbinary.Strategy{Class: "org.apache.tinkerpop.gremlin.process.traversal.strategy.decoration.PartitionStrategy"}).s("V"), CodeUnsupportedOperation, "PartitionStrategy"},
		{"ReadOnlyStrategy refuses writes", g().src("withStrategies", graphbinary.Strategy{Class: "org.apache.tinkerpop.gremlin.process.traversal.strategy.verification.ReadOnlyStrategy"}).s("addV"), CodeInvalidParameter, "not read only"},
		{"an unknown source instruction is refused", g().src("withComputer").s("V"), CodeUnsupportedOperation, "withComputer()"},
		{"a traversal cannot start with out", g().s("out"), CodeMalformedQuery, "out() cannot start a traversal"},
		{"option without mergeV is malformed", g().s("V").s("option", onCreate, m()), CodeMalformedQuery, "option()"},
		{"by after a step that takes none is refused", g().s("V").s("count").s("by", "x"), CodeUnsupportedOperation, "by() modulating count() is not supported"},
		{"addE from a traversal that finds no vertex fails", g().s("addV").s("addE", "e").s("from", anon().s("V", "ghost").B()), CodeInvalidParameter, "from() traversal (which should give a Vertex) failed"},
		{"addE at the start needs from and to", g().s("addE", "e"), CodeInvalidParameter, "must resolve to a Vertex but null"},
		{"addE from an unknown step label fails", g().s("addV").s("addE", "e").s("from", "nope"), CodeInvalidParameter, "from()"},
		{"addE from a traversal giving an id string fails as in TinkerPop 3.7", g().s("addV").s("addE", "e").s("from", anon().s("constant", "x").B()), CodeInvalidParameter, "must resolve to a Vertex but java.lang.String"},
		{"drop of a non-element fails", g().s("inject", int32(1)).s("drop"), CodeInvalidParameter, "not removable"},
		{"has on a non-element fails", g().s("inject", int32(1)).s("has", "k", "v"), CodeInvalidParameter, "elements"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gr := New()
			mustFail(t, gr, c.q, c.code, c.contains)
			if v, e := gr.Counts(); v != 0 || e != 0 {
				t.Fatalf("refused traversal left %d vertices and %d edges", v, e)
			}
		})
	}
}

func TestAddE(t *testing.T) {
	t.Run("addE with from and to traversals", func(t *testing.T) {
		gr := modern(t)
		res := run(t, gr, g().s("addE", "likes").s("from", anon().s("V", "vadas").B()).s("to", anon().s("V", "ripple").B()).s("property", tID, "l1").s("property", "w", int32(3)))
		same(t, res, []any{ex("l1", "likes", vadas, ripple)})
		same(t, edgeOf(t, gr, "l1"), DumpEdge{ID: "l1", Label: "likes", From: "vadas", To: "ripple", Properties: map[string]any{"w": int32(3)}})
	})
	t.Run("addE mid-traversal starts from the incoming vertex", func(t *testing.T) {
		gr := modern(t)
		run(t, gr, g().s("V", "peter").s("addE", "knows").s("to", vx("vadas", "person")).s("property", tID, "pk"))
		same(t, edgeOf(t, gr, "pk").From, "peter")
		same(t, edgeOf(t, gr, "pk").To, "vadas")
	})
	t.Run("addE to a vertex reference that does not exist fails", func(t *testing.T) {
		gr := modern(t)
		mustFail(t, gr, g().s("V", "peter").s("addE", "knows").s("to", vx("ghost", "person")), CodeInvalidParameter, "does not exist: ghost")
	})
	t.Run("addE with an existing edge id is a constraint violation", func(t *testing.T) {
		gr := modern(t)
		mustFail(t, gr, g().s("V", "peter").s("addE", "knows").s("to", anon().s("V", "lop").B()).s("property", tID, "k1"), CodeConstraintViolation, "Edge with id already exists: k1")
	})
	t.Run("a vertex and an edge may share an id", func(t *testing.T) {
		gr := modern(t)
		run(t, gr, g().s("V", "peter").s("addE", "self").s("to", anon().s("V", "peter").B()).s("property", tID, "marko"))
		same(t, edgeOf(t, gr, "marko").Label, "self")
	})
	t.Run("edge properties are single-valued", func(t *testing.T) {
		gr := modern(t)
		run(t, gr, g().s("E", "k1").s("property", "weight", 0.9).s("property", "weight", 0.7))
		same(t, edgeOf(t, gr, "k1").Properties, map[string]any{"weight": 0.7})
	})
}

func TestProperty(t *testing.T) {
	cases := []struct {
		name string
		q    *tb
		want map[string][]any
	}{
		{"the default cardinality is set, so a second value is kept beside the first", g().s("V", "marko").s("property", "name", "marko2"),
			map[string][]any{"name": {"marko", "marko2"}, "age": {int32(29)}}},
		{"set cardinality does not repeat a value it has", g().s("V", "marko").s("property", set, "age", int64(29)),
			map[string][]any{"name": {"marko"}, "age": {int32(29)}}},
		{"single cardinality replaces every value", g().s("V", "marko").s("property", "name", "x").s("property", single, "name", "only"),
			map[string][]any{"name": {"only"}, "age": {int32(29)}}},
		{"a null value removes the property", g().s("V", "marko").s("property", single, "age", nil),
			map[string][]any{"name": {"marko"}}},
		{"property(map) applies each entry with the default cardinality", g().s("V", "marko").s("property", m("name", "m2", "lang", "go")),
			map[string][]any{"name": {"marko", "m2"}, "age": {int32(29)}, "lang": {"go"}}},
		{"property(single, map) applies each entry with single", g().s("V", "marko").s("property", single, m("name", "m2", "age", int32(30))),
			map[string][]any{"name": {"m2"}, "age": {int32(30)}}},
		{"property with a traversal value uses its first result", g().s("V", "marko").s("property", single, "age", anon().s("V", "peter").s("values", "age").B()),
			map[string][]any{"name": {"marko"}, "age": {int32(35)}}},
		{"dropping one value of a vertex property keeps the others", g().s("V", "marko").s("property", "name", "m2").s("properties", "name").s("has", tValue, "marko").s("drop"),
			map[string][]any{"name": {"m2"}, "age": {int32(29)}}},
		{"dropping properties removes them", g().s("V", "marko").s("properties", "age").s("drop"),
			map[string][]any{"name": {"marko"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gr := modern(t)
			run(t, gr, c.q)
			same(t, vertexOf(t, gr, "marko").Properties, c.want)
		})
	}
}

func TestDrop(t *testing.T) {
	t.Run("dropping a vertex drops its edges", func(t *testing.T) {
		gr := modern(t)
		run(t, gr, g().s("V", "josh").s("drop"))
		if v, e := gr.Counts(); v != 5 || e != 3 {
			t.Fatalf("%d vertices, %d edges; want 5 and 3", v, e)
		}
		same(t, run(t, gr, g().s("V", "marko").s("out").s("id")), []any{"vadas", "lop"})
	})
	t.Run("dropping edges keeps their vertices", func(t *testing.T) {
		gr := modern(t)
		run(t, gr, g().s("E").s("hasLabel", "created").s("drop"))
		if v, e := gr.Counts(); v != 6 || e != 2 {
			t.Fatalf("%d vertices, %d edges; want 6 and 2", v, e)
		}
	})
	t.Run("dropping an edge property", func(t *testing.T) {
		gr := modern(t)
		run(t, gr, g().s("E", "k1").s("properties", "weight").s("drop"))
		same(t, edgeOf(t, gr, "k1").Properties, map[string]any{})
	})
	t.Run("a vertex can be added again after it was dropped", func(t *testing.T) {
		gr := modern(t)
		run(t, gr, g().s("V", "vadas").s("drop"))
		run(t, gr, g().s("addV", "person").s("property", tID, "vadas"))
		same(t, run(t, gr, g().s("V").s("count")), []any{int64(6)})
	})
}

func TestManyDropsKeepScanOrder(t *testing.T) {
	gr := New()
	for part := 0; part < 2; part++ {
		b := g().s("inject", int32(0))
		for i := part * 300; i < (part+1)*300; i++ {
			b.s("addV", "n").s("property", tID, fmt.Sprintf("n%03d", i)).s("property", "i", int32(i))
		}
		run(t, gr, b.s("none"))
	}
	// Drop 500 in one request (a commit compacts the scan lists), then check
	// the survivors still come back in creation order and a rollback after
	// compaction is clean.
	run(t, gr, g().s("V").s("has", "i", p("lt", int32(500))).s("drop"))
	got := run(t, gr, g().s("V").s("values", "i").s("limit", int32(3)))
	same(t, got, []any{int32(500), int32(501), int32(502)})
	mustFail(t, gr, g().s("V", "n599").s("drop").s("inject", int32(1)).s("mergeE", m(dOut, "x", dIn, "y")), CodeInvalidParameter, "Vertex does not exist")
	same(t, run(t, gr, g().s("V").s("count")), []any{int64(100)})
	same(t, run(t, gr, g().s("V").s("id").s("fold")), []any{func() []any {
		var ids []any
		for i := 500; i < 600; i++ {
			ids = append(ids, fmt.Sprintf("n%03d", i))
		}
		return ids
	}()})
}

func TestDumpIsJSON(t *testing.T) {
	gr := modern(t)
	run(t, gr, g().s("V", "marko").s("property", "nan", 0.0).s("property", "x", "y"))
	b, err := json.Marshal(gr.Dump())
	if err != nil {
		t.Fatal(err)
	}
	var back Dump
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Vertices) != 6 || len(back.Edges) != 6 || back.Edges[0].ID != "c1" || back.Edges[0].From != "marko" {
		t.Fatalf("round trip: %s", b)
	}
	gr.Reset()
	if v, e := gr.Counts(); v != 0 || e != 0 {
		t.Fatalf("after Reset: %d, %d", v, e)
	}
}
