package graph

import (
	"testing"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

func TestReadSteps(t *testing.T) {
	gr := modern(t)
	cases := []struct {
		name string
		q    *tb
		want []any
	}{
		// V() and E()
		{"V counts every vertex", g().s("V").s("count"), []any{int64(6)}},
		{"V with several ids returns them in order", g().s("V", "josh", "marko"), []any{josh, marko}},
		{"V with a list of ids returns them in order", g().s("V", []any{"vadas", "lop"}), []any{vadas, lop}},
		{"V with an unknown id returns nothing", g().s("V", "nobody"), nil},
		{"V with an empty list returns every vertex as in TinkerPop", g().s("V", []any{}).s("count"), []any{int64(6)}},
		{"V given a vertex reference uses its id", g().s("V", marko).s("id"), []any{"marko"}},
		{"E with an id returns the reference edge", g().s("E", "k1"), []any{k1}},
		{"E counts every edge", g().s("E").s("count"), []any{int64(6)}},
		{"V mid-traversal starts again for each traverser", g().s("V", "marko", "vadas").s("V", "lop").s("id"), []any{"lop", "lop"}},

		// has() family
		{"hasLabel keeps vertices with the label", g().s("V").s("hasLabel", "software").s("id"), []any{"lop", "ripple"}},
		{"hasLabel with several labels keeps any of them", g().s("V").s("hasLabel", "software", "nothing").s("count"), []any{int64(2)}},
		{"has key value matches a property", g().s("V").s("has", "name", "josh"), []any{josh}},
		{"has label key value also checks the label", g().s("V").s("has", "software", "name", "josh").s("count"), []any{int64(0)}},
		{"has with a key alone keeps elements that have it", g().s("V").s("has", "lang").s("id"), []any{"lop", "ripple"}},
		{"hasNot keeps elements without the key", g().s("V").s("hasNot", "age").s("id"), []any{"lop", "ripple"}},
		{"hasId keeps elements by id", g().s("V").s("hasId", "vadas", "peter").s("id"), []any{"vadas", "peter"}},
		{"hasId takes a predicate", g().s("V").s("hasId", p("within", "lop", "josh")).s("id"), []any{"lop", "josh"}},
		{"has T.id matches the id", g().s("V").s("has", tID, "ripple").s("id"), []any{"ripple"}},
		{"has T.label matches the label", g().s("E").s("has", tLabel, "knows").s("id"), []any{"k1", "k2"}},
		{"numbers compare by value across int64 and int32", g().s("V").s("has", "age", int64(29)).s("id"), []any{"marko"}},
		{"numbers compare by value across double and int32", g().s("V").s("has", "age", 27.0).s("id"), []any{"vadas"}},
		{"edge properties filter edges", g().s("E").s("has", "weight", 0.4).s("id"), []any{"c1", "c3"}},

		// predicates
		{"P.lt", g().s("V").s("has", "age", p("lt", int32(29))).s("id"), []any{"vadas"}},
		{"P.lte", g().s("V").s("has", "age", p("lte", int32(29))).s("id"), []any{"marko", "vadas"}},
		{"P.gt compares an int64 bound with int32 values", g().s("V").s("has", "age", p("gt", int64(32))).s("id"), []any{"peter"}},
		{"P.gte compares a double bound with int32 values", g().s("V").s("has", "age", p("gte", 31.5)).s("id"), []any{"josh", "peter"}},
		{"P.eq", g().s("V").s("has", "name", p("eq", "lop")).s("id"), []any{"lop"}},
		{"P.neq", g().s("V").s("has", "age", p("neq", int32(29))).s("id"), []any{"vadas", "josh", "peter"}},
		{"P.within with several values", g().s("V").s("has", "age", p("within", int32(27), int64(35))).s("id"), []any{"vadas", "peter"}},
		{"P.within with one list", g().s("V").s("has", "name", p("within", []any{"lop", "ripple"})).s("id"), []any{"lop", "ripple"}},
		{"P.without", g().s("V").s("has", "age", p("without", int32(27), int32(29))).s("id"), []any{"josh", "peter"}},
		{"P.between is inclusive below and exclusive above", g().s("V").s("has", "age", p("between", int32(29), int32(35))).s("id"), []any{"marko", "josh"}},
		{"P.inside is exclusive", g().s("V").s("has", "age", p("inside", int32(27), int32(35))).s("id"), []any{"marko", "josh"}},
		{"P.outside", g().s("V").s("has", "age", p("outside", int32(28), int32(33))).s("id"), []any{"vadas", "peter"}},
		{"P.and combines predicates", g().s("V").s("has", "age", graphbinary.P{Operator: "and", Values: []any{p("gt", int32(27)), p("lt", int32(35))}}).s("id"), []any{"marko", "josh"}},
		{"P.or combines predicates", g().s("V").s("has", "age", graphbinary.P{Operator: "or", Values: []any{p("lt", int32(28)), p("gt", int32(34))}}).s("id"), []any{"vadas", "peter"}},
		{"P.not negates", g().s("V").s("has", "age", graphbinary.P{Operator: "not", Values: []any{p("lt", int32(30))}}).s("id"), []any{"josh", "peter"}},
		{"comparing a string with a number matches nothing", g().s("V").s("has", "name", p("gt", int32(1))).s("count"), []any{int64(0)}},
		{"TextP.startingWith", g().s("V").s("has", "name", textP("startingWith", "r")).s("id"), []any{"ripple"}},
		{"TextP.containing", g().s("V").s("has", "name", textP("containing", "a")).s("id"), []any{"marko", "vadas"}},

		// maps of elements
		{"id returns ids", g().s("V", "marko").s("outE").s("id"), []any{"k1", "k2", "c1"}},
		{"label returns labels", g().s("V", "marko", "lop").s("label"), []any{"person", "software"}},
		{"values returns the values of the keys", g().s("V", "marko").s("values", "name", "age"), []any{"marko", int32(29)}},
		{"values without keys returns every value", g().s("V", "lop").s("values"), []any{"lop", "java"}},
		{"valueMap lists vertex values", g().s("V", "marko").s("valueMap"), []any{m("name", []any{"marko"}, "age", []any{int32(29)})}},
		{"valueMap with keys keeps those", g().s("V", "marko").s("valueMap", "age"), []any{m("age", []any{int32(29)})}},
		{"valueMap(true) adds id and label", g().s("V", "lop").s("valueMap", true), []any{m(tID, "lop", tLabel, "software", "name", []any{"lop"}, "lang", []any{"java"})}},
		{"valueMap with tokens adds id and label", g().s("V", "lop").s("valueMap", "name").s("with", "~tinkerpop.valueMap.tokens"), []any{m(tID, "lop", tLabel, "software", "name", []any{"lop"})}},
		{"valueMap by unfold unwraps the lists", g().s("V", "lop").s("valueMap").s("by", anon().s("unfold").B()), []any{m("name", "lop", "lang", "java")}},
		{"valueMap of an edge has plain values", g().s("E", "k1").s("valueMap"), []any{m("weight", 0.5)}},
		{"elementMap of a vertex", g().s("V", "vadas").s("elementMap"), []any{m(tID, "vadas", tLabel, "person", "name", "vadas", "age", int32(27))}},
		{"elementMap of an edge names its vertices", g().s("E", "k1").s("elementMap"), []any{m(tID, "k1", tLabel, "knows", dIn, m(tID, "vadas", tLabel, "person"), dOut, m(tID, "marko", tLabel, "person"), "weight", 0.5)}},
		{"properties and key/value", g().s("E", "k2").s("properties").s("key"), []any{"weight"}},
		{"properties of a vertex are vertex properties", g().s("V", "marko").s("properties", "name").s("value"), []any{"marko"}},

		// collections
		{"fold gathers every value", g().s("V").s("hasLabel", "software").s("values", "name").s("fold"), []any{[]any{"lop", "ripple"}}},
		{"fold of nothing is an empty list", g().s("V", "nobody").s("fold"), []any{[]any{}}},
		{"unfold spreads a list", g().s("inject", []any{int32(1), int32(2)}).s("unfold"), []any{int32(1), int32(2)}},
		{"count of nothing is zero", g().s("V", "nobody").s("count"), []any{int64(0)}},
		{"limit keeps the first values", g().s("V").s("limit", int32(2)).s("id"), []any{"marko", "vadas"}},
		{"range keeps a slice", g().s("V").s("range", int64(1), int64(3)).s("id"), []any{"vadas", "lop"}},
		{"dedup removes repeats", g().s("V").s("out").s("dedup").s("id"), []any{"vadas", "josh", "lop", "ripple"}},
		{"inject injects values", g().s("inject", int32(1), "a", nil), []any{int32(1), "a", nil}},
		{"constant replaces each value", g().s("V", "marko", "josh").s("constant", "x"), []any{"x", "x"}},
		{"identity passes values on", g().s("V", "lop").s("identity").s("id"), []any{"lop"}},
		{"is filters values", g().s("V").s("values", "age").s("is", p("gt", int32(30))), []any{int32(32), int32(35)}},
		{"none discards everything", g().s("V").s("none"), nil},

		{"is compares booleans", g().s("inject", true, false, true).s("is", true).s("count"), []any{int64(2)}},
		{"dedup compares lists by value", g().s("inject", []any{int32(1)}, []any{int32(1)}, []any{int32(2)}).s("dedup").s("count"), []any{int64(2)}},
		{"P.within finds vertex references", g().s("V").s("is", p("within", lop, marko)).s("id"), []any{"marko", "lop"}},
		{"hasLabel on edges", g().s("E").s("hasLabel", "knows").s("count"), []any{int64(2)}},

		// branches
		{"coalesce takes the first productive branch", g().s("V", "marko", "lop").s("coalesce", anon().s("values", "age").B(), anon().s("constant", "none").B()), []any{int32(29), "none"}},
		{"union concatenates branches", g().s("V", "marko").s("union", anon().s("values", "name").B(), anon().s("values", "age").B()), []any{"marko", int32(29)}},
		{"optional keeps the traverser when the branch is empty", g().s("V", "vadas").s("optional", anon().s("out").B()).s("id"), []any{"vadas"}},
		{"not keeps traversers whose branch is empty", g().s("V").s("not", anon().s("outE").B()).s("id"), []any{"vadas", "lop", "ripple"}},
		{"where keeps traversers whose branch yields", g().s("V").s("where", anon().s("out", "created").B()).s("id"), []any{"marko", "josh", "peter"}},
		{"and needs every branch", g().s("V").s("and", anon().s("out", "knows").B(), anon().s("out", "created").B()).s("id"), []any{"marko"}},
		{"or needs one branch", g().s("V").s("or", anon().s("has", "lang").B(), anon().s("has", "age", int32(35)).B()).s("id"), []any{"lop", "ripple", "peter"}},
		{"sideEffect passes traversers on", g().s("V", "marko").s("sideEffect", anon().s("out").B()).s("id"), []any{"marko"}},

		// select, as, project
		{"select of as labels", g().s("V", "marko").s("as", "a").s("out", "knows").s("as", "b").s("select", "a", "b").s("by", "name"),
			[]any{m("a", "marko", "b", "vadas"), m("a", "marko", "b", "josh")}},
		{"select one label", g().s("V", "marko").s("as", "a").s("out").s("select", "a").s("id"), []any{"marko", "marko", "marko"}},
		{"select a key of a map", g().s("inject", m("k", int32(1), "j", int32(2))).s("select", "k"), []any{int32(1)}},
		{"select with a missing label filters", g().s("V", "marko").s("select", "nope"), nil},
		{"select Pop.all lists every labelled value", g().s("V", "marko").s("as", "x").s("out", "knows").s("as", "x").s("select", popAll, "x").s("limit", int32(1)),
			[]any{[]any{marko, vadas}}},
		{"select Pop.first takes the oldest", g().s("V", "marko").s("as", "x").s("out", "created").s("as", "x").s("select", popFirst, "x").s("id"), []any{"marko"}},
		{"select a side effect", g().src("withSideEffect", "s", "se").s("inject", int32(1)).s("select", "s"), []any{"se"}},
		{"project with by modulators", g().s("V", "marko").s("project", "name", "out", "id").s("by", "name").s("by", anon().s("out").s("count").B()).s("by", tID),
			[]any{m("name", "marko", "out", int64(3), "id", "marko")}},
		{"select by a token", g().s("V", "lop").s("as", "a").s("select", "a").s("by", tLabel), []any{"software"}},
		{"project leaves out keys whose by yields nothing", g().s("V", "lop").s("project", "age").s("by", "age"), []any{m()}},

		// adjacency
		{"out follows out edges", g().s("V", "marko").s("out").s("id"), []any{"vadas", "josh", "lop"}},
		{"out with labels", g().s("V", "marko").s("out", "created"), []any{lop}},
		{"in follows in edges", g().s("V", "lop").s("in").s("id"), []any{"marko", "josh", "peter"}},
		{"both follows both", g().s("V", "josh").s("both").s("id"), []any{"ripple", "lop", "marko"}},
		{"outE returns edges", g().s("V", "marko").s("outE", "knows"), []any{k1, k2}},
		{"inE returns edges", g().s("V", "lop").s("inE"), []any{c1, c3, c4}},
		{"bothE returns edges", g().s("V", "vadas").s("bothE").s("id"), []any{"k1"}},
		{"outV and inV", g().s("E", "k1").s("union", anon().s("outV").B(), anon().s("inV").B()).s("id"), []any{"marko", "vadas"}},
		{"bothV", g().s("E", "c4").s("bothV").s("id"), []any{"peter", "lop"}},
		{"otherV returns the far end", g().s("V", "lop").s("inE").s("otherV").s("id"), []any{"marko", "josh", "peter"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := run(t, gr, c.q)
			if c.want == nil {
				if len(got) != 0 {
					t.Fatalf("got %#v, want nothing", got)
				}
				return
			}
			same(t, got, c.want)
		})
	}
}

func TestReadOnlyTraversalsLeaveTheGraphAlone(t *testing.T) {
	gr := modern(t)
	before := gr.Dump()
	run(t, gr, g().s("V").s("out").s("in").s("valueMap", true))
	same(t, gr.Dump(), before)
}

func TestVertexPropertyResults(t *testing.T) {
	gr := modern(t)
	t.Run("properties returns VertexProperty references with an id", func(t *testing.T) {
		res := run(t, gr, g().s("V", "marko").s("properties", "age"))
		if len(res) != 1 {
			t.Fatalf("got %v", res)
		}
		vp, ok := res[0].(graphbinary.VertexProperty)
		if !ok || vp.Label != "age" || vp.Value != int32(29) || vp.ID == nil {
			t.Fatalf("got %#v", res[0])
		}
	})
	t.Run("edge properties are Property values", func(t *testing.T) {
		res := run(t, gr, g().s("E", "c4").s("properties"))
		same(t, res, []any{graphbinary.Property{Key: "weight", Value: 0.2}})
	})
}
