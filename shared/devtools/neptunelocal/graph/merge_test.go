package graph

import (
	"testing"
)

// upsertV is the writer's vertex upsert (DESIGN.md "Writing to Neptune").
func upsertV(b *tb, id, label string, props map[any]any) *tb {
	create := m(tLabel, label, "source", "test", "first_seen", int64(1))
	refresh := m()
	for k, v := range props {
		create[k] = v
		refresh[k] = cv(single, v)
	}
	return b.s("mergeV", m(tID, id)).s("option", onCreate, create).s("option", onMatch, refresh)
}

func TestMergeV(t *testing.T) {
	cases := []struct {
		name    string
		q       *tb
		results []any
		check   func(t *testing.T, gr *Graph)
	}{
		{
			name:    "mergeV creates a vertex from the search map and onCreate",
			q:       g().s("mergeV", m(tID, "v-1")).s("option", onCreate, m(tLabel, "PERSON", "email", "p@example.org")),
			results: []any{vx("v-1", "PERSON")},
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "v-1").Properties, map[string][]any{"email": {"p@example.org"}})
			},
		},
		{
			name:    "mergeV matches by id and leaves onCreate fields alone",
			q:       g().s("mergeV", m(tID, "marko")).s("option", onCreate, m(tLabel, "person", "name", "other", "first", int32(1))),
			results: []any{marko},
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "marko").Properties, map[string][]any{"name": {"marko"}, "age": {int32(29)}})
			},
		},
		{
			name: "onMatch values without a cardinality are added to the set, as Neptune does",
			q:    g().s("mergeV", m(tID, "marko")).s("option", onMatch, m("age", int32(30))),
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "marko").Properties["age"], []any{int32(29), int32(30)})
			},
		},
		{
			name: "onMatch with CardinalityValue.single replaces the value",
			q:    g().s("mergeV", m(tID, "marko")).s("option", onMatch, m("age", cv(single, int32(30)), "name", "m2")),
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "marko").Properties, map[string][]any{"name": {"marko", "m2"}, "age": {int32(30)}})
			},
		},
		{
			name: "option(onMatch, map, single) applies single to every key",
			q:    g().s("mergeV", m(tID, "marko")).s("option", onMatch, m("age", int32(30), "name", "m2"), single),
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "marko").Properties, map[string][]any{"name": {"m2"}, "age": {int32(30)}})
			},
		},
		{
			name: "a CardinalityValue.set in an onMatch map keeps its own cardinality",
			q:    g().s("mergeV", m(tID, "marko")).s("option", onMatch, m("age", cv(set, int32(30)), "name", "m2"), single),
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "marko").Properties, map[string][]any{"name": {"m2"}, "age": {int32(29), int32(30)}})
			},
		},
		{
			name: "onCreate with CardinalityValue.single creates the value",
			q:    g().s("mergeV", m(tID, "n")).s("option", onCreate, m("age", cv(single, int32(81)))),
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "n"), DumpVertex{ID: "n", Label: "vertex", Properties: map[string][]any{"age": {int32(81)}}})
			},
		},
		{
			name:    "chained mergeV steps each run once",
			q:       g().s("mergeV", m(tID, "a")).s("mergeV", m(tID, "b")).s("mergeV", m(tID, "marko")).s("id"),
			results: []any{"marko"},
			check: func(t *testing.T, gr *Graph) {
				if n, _ := gr.Counts(); n != 8 {
					t.Fatalf("%d vertices, want 8", n)
				}
			},
		},
		{
			name:    "a mid-traversal mergeV with a map runs once per incoming traverser",
			q:       g().s("inject", int32(1), int32(2), int32(3)).s("mergeV", m(tID, "x")).s("option", onCreate, m("n", "first")).s("option", onMatch, m("n", "again")).s("id"),
			results: []any{"x", "x", "x"},
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "x").Properties, map[string][]any{"n": {"first", "again"}})
			},
		},
		{
			name:    "mergeV without an argument merges the incoming maps",
			q:       g().s("inject", m(tID, "i1", tLabel, "L"), m(tID, "marko")).s("mergeV").s("label"),
			results: []any{"L", "person"},
		},
		{
			name:    "mergeV searches by properties when no id is given",
			q:       g().s("mergeV", m("name", "vadas", tLabel, "person")),
			results: []any{vadas},
		},
		{
			name:    "mergeV with an empty map matches every vertex",
			q:       g().s("mergeV", m()).s("count"),
			results: []any{int64(6)},
		},
		{
			name:    "mergeV with a traversal argument merges the map it gives",
			q:       g().s("inject", m("k", m(tID, "fromsel"))).s("mergeV", anon().s("select", "k").B()).s("id"),
			results: []any{"fromsel"},
		},
		{
			name: "a start mergeV gives option(onMatch) traversals the matched vertex",
			q:    g().s("mergeV", m(tID, "vadas")).s("option", onMatch, anon().s("project", "copy").s("by", "name").B()),
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "vadas").Properties["copy"], []any{"vadas"})
			},
		},
		{
			name: "the pre-3.7 sideEffect(property(single)) onMatch pattern replaces values",
			q: g().s("mergeV", m(tID, "marko")).s("option", onMatch,
				anon().s("sideEffect", anon().s("property", single, "age", int32(20)).B()).s("constant", m()).B()),
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "marko").Properties["age"], []any{int32(20)})
			},
		},
		{
			name: "the fold/coalesce/unfold upsert creates once and then matches",
			q: g().s("V", "fc").s("fold").s("coalesce", anon().s("unfold").B(), anon().s("addV", "L").s("property", tID, "fc").B()).
				s("V", "fc").s("fold").s("coalesce", anon().s("unfold").B(), anon().s("addV", "L").s("property", tID, "fc").B()).s("id"),
			results: []any{"fc"},
			check: func(t *testing.T, gr *Graph) {
				if n, _ := gr.Counts(); n != 7 {
					t.Fatalf("%d vertices, want 7", n)
				}
			},
		},
		{
			name: "the writer's upsert pattern creates then refreshes with single",
			q: upsertV(upsertV(g(), "svc:a", "Service", m("requests", int64(1))), "marko", "person",
				m("age", int32(40))).s("id"),
			results: []any{"marko"},
			check: func(t *testing.T, gr *Graph) {
				same(t, vertexOf(t, gr, "svc:a"), DumpVertex{ID: "svc:a", Label: "Service", Properties: map[string][]any{
					"source": {"test"}, "first_seen": {int64(1)}, "requests": {int64(1)}}})
				same(t, vertexOf(t, gr, "marko").Properties, map[string][]any{"name": {"marko"}, "age": {int32(40)}})
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gr := modern(t)
			res := run(t, gr, c.q)
			if c.results != nil {
				same(t, res, c.results)
			}
			if c.check != nil {
				c.check(t, gr)
			}
		})
	}
}

func TestMergeE(t *testing.T) {
	cases := []struct {
		name    string
		q       *tb
		results []any
		check   func(t *testing.T, gr *Graph)
	}{
		{
			name:    "mergeE creates an edge by id with from, to and label from onCreate",
			q:       g().s("mergeE", m(tID, "e-1")).s("option", onCreate, m(dOut, "vadas", dIn, "ripple", tLabel, "KNOWS", "weight", 1.0)).s("option", onMatch, m("weight", 0.5)),
			results: []any{ex("e-1", "KNOWS", vadas, ripple)},
			check: func(t *testing.T, gr *Graph) {
				same(t, edgeOf(t, gr, "e-1").Properties, map[string]any{"weight": 1.0})
			},
		},
		{
			name:    "mergeE matches by id, keeps onCreate fields and applies onMatch",
			q:       g().s("mergeE", m(tID, "k1")).s("option", onCreate, m(dOut, "vadas", dIn, "ripple", tLabel, "KNOWS", "since", int32(2000))).s("option", onMatch, m("weight", 0.25)),
			results: []any{k1},
			check: func(t *testing.T, gr *Graph) {
				same(t, edgeOf(t, gr, "k1"), DumpEdge{ID: "k1", Label: "knows", From: "marko", To: "vadas", Properties: map[string]any{"weight": 0.25}})
			},
		},
		{
			name:    "mergeE without an id matches by from, to and label",
			q:       g().s("mergeE", m(dOut, "marko", dIn, "josh", tLabel, "knows")),
			results: []any{k2},
		},
		{
			name: "mergeE without an id creates when nothing matches",
			q:    g().s("mergeE", m(dOut, "josh", dIn, "marko", tLabel, "knows")).s("count"),
			check: func(t *testing.T, gr *Graph) {
				same(t, run(t, gr, g().s("V", "josh").s("out", "knows").s("id")), []any{"marko"})
			},
		},
		{
			name:    "mergeE takes vertex references under Direction.OUT and IN",
			q:       g().s("mergeE", m(dOut, marko, dIn, vadas, tLabel, "knows")).s("id"),
			results: []any{"k1"},
		},
		{
			name: "mergeE resolves Merge.outV and Merge.inV from options",
			q: g().s("V", "peter").s("as", "a").s("V", "ripple").s("as", "b").
				s("mergeE", m(tLabel, "likes", dOut, mOutV, dIn, mInV)).
				s("option", mOutV, anon().s("select", "a").B()).s("option", mInV, anon().s("select", "b").B()).s("label"),
			results: []any{"likes"},
			check: func(t *testing.T, gr *Graph) {
				same(t, run(t, gr, g().s("V", "peter").s("out", "likes").s("id")), []any{"ripple"})
			},
		},
		{
			name:    "mergeE searches edge properties too",
			q:       g().s("mergeE", m(dOut, "marko", dIn, "lop", tLabel, "created", "weight", 0.4)).s("id"),
			results: []any{"c1"},
		},
		{
			name: "option(Merge.outV) may be a Map used to find the vertex",
			q: g().s("mergeE", m(tLabel, "likes", dOut, mOutV, dIn, "lop")).
				s("option", mOutV, m(tLabel, "person", "name", "vadas")).s("outV").s("id"),
			results: []any{"vadas"},
		},
		{
			name: "mergeE after mergeV in one request can use the new vertices",
			q: g().s("mergeV", m(tID, "s1")).s("mergeV", m(tID, "s2")).
				s("mergeE", m(tID, "s1>s2")).s("option", onCreate, m(dOut, "s1", dIn, "s2", tLabel, "calls")).s("id"),
			results: []any{"s1>s2"},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gr := modern(t)
			res := run(t, gr, c.q)
			if c.results != nil {
				same(t, res, c.results)
			}
			if c.check != nil {
				c.check(t, gr)
			}
		})
	}
}

func TestMergeRefusals(t *testing.T) {
	cases := []struct {
		name     string
		q        *tb
		code     string
		contains string
	}{
		{"mergeE to a missing vertex fails", g().s("mergeE", m(tID, "e-9")).s("option", onCreate, m(dOut, "marko", dIn, "ghost", tLabel, "x")), CodeInvalidParameter, "Vertex does not exist for mergeE: ghost"},
		{"mergeE from a missing vertex fails", g().s("mergeE", m(dOut, "ghost", dIn, "marko", tLabel, "x")), CodeInvalidParameter, "Vertex does not exist for mergeE: ghost"},
		{"mergeE without an out vertex fails", g().s("mergeE", m(tLabel, "x", dIn, "marko")), CodeInvalidParameter, "Out Vertex not specified"},
		{"mergeE without an in vertex fails", g().s("mergeE", m(tID, "new")).s("option", onCreate, m(dOut, "marko")), CodeInvalidParameter, "In Vertex not specified"},
		{"mergeE with an existing id but other endpoints hits the existing id", g().s("mergeE", m(tID, "k1", dOut, "peter", dIn, "lop")), CodeConstraintViolation, "Edge with id already exists: k1"},
		{"mergeE with Merge.outV needs option(outV)", g().s("mergeE", m(tLabel, "x", dOut, mOutV, dIn, "lop")), CodeInvalidParameter, "option(outV) must be specified"},
		{"mergeE with a CardinalityValue is refused", g().s("mergeE", m(tID, "k1")).s("option", onMatch, m("weight", cv(single, 1.0))), CodeInvalidParameter, "only be used following mergeV()"},
		{"option with a cardinality after mergeE is refused", g().s("mergeE", m(tID, "k1")).s("option", onMatch, m("weight", 1.0), single), CodeInvalidParameter, "only be used following mergeV()"},
		{"mergeV with T.id and another label hits the existing id", g().s("mergeV", m(tID, "marko", tLabel, "software")), CodeConstraintViolation, "Vertex with id already exists: marko"},
		{"mergeV does not allow null map values", g().s("mergeV", m(tID, "n", "k", nil)), CodeInvalidParameter, "mergeV() does not allow null Map values - check: k"},
		{"onCreate cannot override the search map", g().s("mergeV", m(tID, "n")).s("option", onCreate, m(tID, "other")), CodeInvalidParameter, "option(onCreate) cannot override values from merge() argument"},
		{"onMatch keys must be strings", g().s("mergeV", m(tID, "marko")).s("option", onMatch, m(tLabel, "x")), CodeInvalidParameter, "option(onMatch) expects keys in Map to be of String"},
		{"hidden keys are refused in onCreate", g().s("mergeV", m(tID, "new")).s("option", onCreate, m("~id", "x")), CodeInvalidParameter, "Property key can not be a hidden key: ~id"},
		{"a label must be a string", g().s("mergeV", m(tLabel, int32(1))), CodeInvalidParameter, "expect T.label value to be of String - found: Integer"},
		{"a hidden label value is refused", g().s("mergeV", m(tID, "new")).s("option", onCreate, m(tLabel, "~vertex")), CodeInvalidParameter, "Label can not be a hidden key: ~vertex"},
		{"Direction keys are not allowed in mergeV", g().s("mergeV", m(dOut, "x")), CodeInvalidParameter, "expect keys in Map to be either String or [id, label]"},
		{"a CardinalityValue in the search map is refused", g().s("mergeV", m(tID, "n", "k", cv(single, "v"))), CodeInvalidParameter, "search maps"},
		{"list cardinality in a CardinalityValue is refused", g().s("mergeV", m(tID, "n")).s("option", onCreate, m("k", cv(list, "v"))), CodeUnsupportedOperation, "list"},
		{"Merge.outV is not an option of mergeV", g().s("mergeV", m(tID, "n")).s("option", mOutV, m()), CodeUnsupportedOperation, "Option outV for Merge is not supported"},
		{"a mid-traversal mergeV refuses a vertex for an onMatch traversal", g().s("V", "marko").s("mergeV", m(tID, "marko")).s("option", onMatch, anon().s("constant", m("a", "b")).B()), CodeInvalidParameter, "The incoming traverser for MergeVertexStep cannot be an Element"},
		{"option(onCreate, map, single) also wraps T.label, which TinkerPop then refuses", g().s("mergeV", m(tID, "new")).s("option", onCreate, m(tLabel, "L", "k", "v"), single), CodeInvalidParameter, "expect T.label value to be of String - found: CardinalityValueTraversal"},
		{"a start mergeV needs a map", g().s("mergeV"), CodeMalformedQuery, "needs a Map"},
		{"an onCreate property value of an unsupported type is refused", g().s("mergeV", m(tID, "n")).s("option", onCreate, m("k", []any{int32(1)})), CodeUnsupportedOperation, "java.util.ArrayList"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gr := modern(t)
			before := gr.Dump()
			mustFail(t, gr, c.q, c.code, c.contains)
			same(t, gr.Dump(), before)
		})
	}
}
