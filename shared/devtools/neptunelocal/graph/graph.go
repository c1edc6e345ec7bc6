package graph

import (
	"math"
	"sort"
	"strings"
	"sync"
)

// MaxSteps is the most steps (instructions, nested traversals included) one
// traversal may have; Neptune advises never to send more than 1,500.
const MaxSteps = 1500

// Graph is an in-memory property graph. The zero value is not usable; call New.
type Graph struct {
	mu       sync.RWMutex
	vertices map[string]*vertex
	edges    map[string]*edge
	// vlist and elist keep creation order for full scans. Dropped elements
	// stay in the lists (marked dead) until a commit compacts them, so that
	// a rollback can always truncate what a transaction appended.
	vlist []*vertex
	elist []*edge
	vdead int
	edead int
	txgen uint64
	// stream is the change log (Neptune Streams); nil while off.
	stream *stream
}

type vertex struct {
	id     string
	labels []string
	label  string // labels joined with "::"
	props  []vprop
	out    []*edge
	in     []*edge
	dead   bool
	gen    uint64 // transaction that created it
}

type vprop struct {
	key    string
	values []any
}

type edge struct {
	id    string
	label string
	from  *vertex
	to    *vertex
	props []eprop
	dead  bool
	gen   uint64
}

type eprop struct {
	key   string
	value any
}

// New returns an empty graph.
func New() *Graph {
	return &Graph{vertices: map[string]*vertex{}, edges: map[string]*edge{}}
}

// Counts returns how many vertices and edges the graph holds.
func (g *Graph) Counts() (vertices, edges int) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.vertices), len(g.edges)
}

// Reset removes every vertex and edge.
func (g *Graph) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.vertices = map[string]*vertex{}
	g.edges = map[string]*edge{}
	g.vlist, g.elist = nil, nil
	g.vdead, g.edead = 0, 0
	// The change log goes too, as if its records had expired: a feed's
	// position in it no longer means anything.
	if s := g.stream; s != nil && len(s.records) > 0 {
		s.trimmed, s.records = s.records[len(s.records)-1], nil
	}
}

// Dump is a JSON-serialisable copy of the whole graph, sorted by id.
type Dump struct {
	Vertices []DumpVertex `json:"vertices"`
	Edges    []DumpEdge   `json:"edges"`
}

// DumpVertex is one vertex of a Dump. Label is Neptune's label string (several
// labels joined with "::"). Properties maps each key to its values in the order
// they were added.
type DumpVertex struct {
	ID         string           `json:"id"`
	Label      string           `json:"label"`
	Properties map[string][]any `json:"properties"`
}

// DumpEdge is one edge of a Dump; From and To are vertex ids.
type DumpEdge struct {
	ID         string         `json:"id"`
	Label      string         `json:"label"`
	From       string         `json:"from"`
	To         string         `json:"to"`
	Properties map[string]any `json:"properties"`
}

// Dump returns a consistent snapshot of the graph. Non-finite floats are
// written as the strings "NaN", "+Inf" and "-Inf" so the result always
// marshals to JSON.
func (g *Graph) Dump() Dump {
	g.mu.RLock()
	defer g.mu.RUnlock()
	d := Dump{Vertices: make([]DumpVertex, 0, len(g.vertices)), Edges: make([]DumpEdge, 0, len(g.edges))}
	for _, v := range g.vertices {
		props := make(map[string][]any, len(v.props))
		for _, p := range v.props {
			vals := make([]any, len(p.values))
			for i, x := range p.values {
				vals[i] = dumpValue(x)
			}
			props[p.key] = vals
		}
		d.Vertices = append(d.Vertices, DumpVertex{ID: v.id, Label: v.label, Properties: props})
	}
	for _, e := range g.edges {
		props := make(map[string]any, len(e.props))
		for _, p := range e.props {
			props[p.key] = dumpValue(p.value)
		}
		d.Edges = append(d.Edges, DumpEdge{ID: e.id, Label: e.label, From: e.from.id, To: e.to.id, Properties: props})
	}
	sort.Slice(d.Vertices, func(i, j int) bool { return d.Vertices[i].ID < d.Vertices[j].ID })
	sort.Slice(d.Edges, func(i, j int) bool { return d.Edges[i].ID < d.Edges[j].ID })
	return d
}

func dumpValue(v any) any {
	switch f := v.(type) {
	case float64:
		switch {
		case math.IsNaN(f):
			return "NaN"
		case math.IsInf(f, 1):
			return "+Inf"
		case math.IsInf(f, -1):
			return "-Inf"
		}
	case float32:
		return dumpValue(float64(f))
	}
	return v
}

// ---- element helpers ----

func (v *vertex) prop(key string) (int, *vprop) {
	for i := range v.props {
		if v.props[i].key == key {
			return i, &v.props[i]
		}
	}
	return -1, nil
}

func (v *vertex) hasLabel(l string) bool {
	for _, x := range v.labels {
		if x == l {
			return true
		}
	}
	return false
}

func (e *edge) prop(key string) (int, *eprop) {
	for i := range e.props {
		if e.props[i].key == key {
			return i, &e.props[i]
		}
	}
	return -1, nil
}

func joinLabels(l []string) string { return strings.Join(l, "::") }

// ---- transactions ----

// txn is the undo log of one Execute. It is only used with g.mu held for
// writing. Undo entries run in reverse order, so each one sees the graph
// exactly as it was right after its change.
type txn struct {
	g       *Graph
	gen     uint64
	undo    []func()
	changes []Change // for the stream, published on commit
}

func (g *Graph) begin() *txn {
	g.txgen++
	return &txn{g: g, gen: g.txgen}
}

func (t *txn) rollback() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.undo, t.changes = nil, nil
}

func (t *txn) commit() {
	g := t.g
	if g.stream != nil {
		g.stream.publish(t.changes)
		t.changes = nil
	}
	if g.vdead > 256 && g.vdead*2 > len(g.vlist) {
		live := g.vlist[:0]
		for _, v := range g.vlist {
			if !v.dead {
				live = append(live, v)
			}
		}
		clear(g.vlist[len(live):])
		g.vlist, g.vdead = live, 0
	}
	if g.edead > 256 && g.edead*2 > len(g.elist) {
		live := g.elist[:0]
		for _, e := range g.elist {
			if !e.dead {
				live = append(live, e)
			}
		}
		clear(g.elist[len(live):])
		g.elist, g.edead = live, 0
	}
	t.undo = nil
}

func (t *txn) addVertex(id string, labels []string) *vertex {
	g := t.g
	v := &vertex{id: id, labels: labels, label: joinLabels(labels), gen: t.gen}
	for _, l := range labels {
		t.record(Change{Op: "ADD", Type: "vl", ID: id, Key: "label", Value: l})
	}
	g.vertices[id] = v
	g.vlist = append(g.vlist, v)
	t.undo = append(t.undo, func() {
		delete(g.vertices, id)
		g.vlist[len(g.vlist)-1] = nil
		g.vlist = g.vlist[:len(g.vlist)-1]
	})
	return v
}

func (t *txn) addLabels(v *vertex, labels []string) {
	old, oldLabel := v.labels, v.label
	nl := make([]string, 0, len(old)+len(labels))
	nl = append(nl, old...)
	nl = append(nl, labels...)
	v.labels, v.label = nl, joinLabels(nl)
	for _, l := range labels {
		t.record(Change{Op: "ADD", Type: "vl", ID: v.id, Key: "label", Value: l})
	}
	t.undo = append(t.undo, func() { v.labels, v.label = old, oldLabel })
}

func (t *txn) addEdge(id, label string, from, to *vertex) *edge {
	g := t.g
	e := &edge{id: id, label: label, from: from, to: to, gen: t.gen}
	t.record(Change{Op: "ADD", Type: "e", ID: id, Key: "label", Value: label, From: from.id, To: to.id})
	g.edges[id] = e
	g.elist = append(g.elist, e)
	from.out = append(from.out, e)
	to.in = append(to.in, e)
	t.undo = append(t.undo, func() {
		delete(g.edges, id)
		g.elist[len(g.elist)-1] = nil
		g.elist = g.elist[:len(g.elist)-1]
		from.out[len(from.out)-1] = nil
		from.out = from.out[:len(from.out)-1]
		to.in[len(to.in)-1] = nil
		to.in = to.in[:len(to.in)-1]
	})
	return e
}

func indexOfEdge(list []*edge, e *edge) int {
	for i, x := range list {
		if x == e {
			return i
		}
	}
	return -1
}

func removeEdgeAt(list []*edge, i int) []*edge {
	copy(list[i:], list[i+1:])
	list[len(list)-1] = nil
	return list[:len(list)-1]
}

func insertEdgeAt(list []*edge, i int, e *edge) []*edge {
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = e
	return list
}

func (t *txn) dropEdge(e *edge) {
	if e.dead {
		return
	}
	g := t.g
	from, to := e.from, e.to
	for _, p := range e.props {
		t.record(Change{Op: "REMOVE", Type: "ep", ID: e.id, Key: p.key, Value: p.value})
	}
	t.record(Change{Op: "REMOVE", Type: "e", ID: e.id, Key: "label", Value: e.label, From: from.id, To: to.id})
	io := indexOfEdge(from.out, e)
	from.out = removeEdgeAt(from.out, io)
	ii := indexOfEdge(to.in, e)
	to.in = removeEdgeAt(to.in, ii)
	delete(g.edges, e.id)
	e.dead = true
	g.edead++
	t.undo = append(t.undo, func() {
		e.dead = false
		g.edead--
		g.edges[e.id] = e
		to.in = insertEdgeAt(to.in, ii, e)
		from.out = insertEdgeAt(from.out, io, e)
	})
}

func (t *txn) dropVertex(v *vertex) {
	if v.dead {
		return
	}
	for len(v.out) > 0 {
		t.dropEdge(v.out[len(v.out)-1])
	}
	for len(v.in) > 0 {
		t.dropEdge(v.in[len(v.in)-1])
	}
	g := t.g
	for _, p := range v.props {
		for _, x := range p.values {
			t.record(Change{Op: "REMOVE", Type: "vp", ID: v.id, Key: p.key, Value: x})
		}
	}
	for _, l := range v.labels {
		t.record(Change{Op: "REMOVE", Type: "vl", ID: v.id, Key: "label", Value: l})
	}
	delete(g.vertices, v.id)
	v.dead = true
	g.vdead++
	t.undo = append(t.undo, func() {
		v.dead = false
		g.vdead--
		g.vertices[v.id] = v
	})
}

// saveVertexProp records the state of one key of v so a rollback restores it.
// Vertices created by this transaction need no record: rolling back their
// creation removes them whole.
func (t *txn) saveVertexProp(v *vertex, key string) {
	if v.gen == t.gen {
		return
	}
	i, p := v.prop(key)
	if p == nil {
		t.undo = append(t.undo, func() {
			if j, _ := v.prop(key); j >= 0 {
				v.props = append(v.props[:j], v.props[j+1:]...)
			}
		})
		return
	}
	old := append([]any(nil), p.values...)
	t.undo = append(t.undo, func() {
		if _, q := v.prop(key); q != nil {
			q.values = old
			return
		}
		v.props = append(v.props, vprop{})
		copy(v.props[i+1:], v.props[i:])
		v.props[i] = vprop{key: key, values: old}
	})
}

func (t *txn) saveEdgeProp(e *edge, key string) {
	if e.gen == t.gen {
		return
	}
	i, p := e.prop(key)
	if p == nil {
		t.undo = append(t.undo, func() {
			if j, _ := e.prop(key); j >= 0 {
				e.props = append(e.props[:j], e.props[j+1:]...)
			}
		})
		return
	}
	old := p.value
	t.undo = append(t.undo, func() {
		if _, q := e.prop(key); q != nil {
			q.value = old
			return
		}
		e.props = append(e.props, eprop{})
		copy(e.props[i+1:], e.props[i:])
		e.props[i] = eprop{key: key, value: old}
	})
}

// setVertexProperty applies property(card, key, value) to v with Neptune's
// semantics: single replaces every value, set adds the value unless an equal
// one is there, a nil value removes the key.
func (t *txn) setVertexProperty(v *vertex, card, key string, value any) {
	t.saveVertexProp(v, key)
	i, p := v.prop(key)
	vp := func(op string, x any) { t.record(Change{Op: op, Type: "vp", ID: v.id, Key: key, Value: x}) }
	if value == nil {
		if p != nil {
			for _, x := range p.values {
				vp("REMOVE", x)
			}
			v.props = append(v.props[:i], v.props[i+1:]...)
		}
		return
	}
	if p == nil {
		vp("ADD", value)
		v.props = append(v.props, vprop{key: key, values: []any{value}})
		return
	}
	if card == cardSingle {
		if len(p.values) == 1 && valuesEqual(p.values[0], value) && sameKind(p.values[0], value) {
			return
		}
		for _, x := range p.values {
			vp("REMOVE", x)
		}
		vp("ADD", value)
		p.values = []any{value}
		return
	}
	for _, x := range p.values {
		if valuesEqual(x, value) {
			return
		}
	}
	vp("ADD", value)
	p.values = append(p.values, value)
}

// removeVertexPropertyValue drops one value of a vertex property (a
// VertexProperty reached through properties()).
func (t *txn) removeVertexPropertyValue(v *vertex, key string, value any) {
	i, p := v.prop(key)
	if p == nil {
		return
	}
	for j, x := range p.values {
		if valuesEqual(x, value) {
			t.saveVertexProp(v, key)
			t.record(Change{Op: "REMOVE", Type: "vp", ID: v.id, Key: key, Value: x})
			if len(p.values) == 1 {
				v.props = append(v.props[:i], v.props[i+1:]...)
			} else {
				nv := make([]any, 0, len(p.values)-1)
				nv = append(nv, p.values[:j]...)
				nv = append(nv, p.values[j+1:]...)
				p.values = nv
			}
			return
		}
	}
}

func (t *txn) setEdgeProperty(e *edge, key string, value any) {
	t.saveEdgeProp(e, key)
	i, p := e.prop(key)
	ep := func(op string, x any) { t.record(Change{Op: op, Type: "ep", ID: e.id, Key: key, Value: x}) }
	if value == nil {
		if p != nil {
			ep("REMOVE", p.value)
			e.props = append(e.props[:i], e.props[i+1:]...)
		}
		return
	}
	if p == nil {
		ep("ADD", value)
		e.props = append(e.props, eprop{key: key, value: value})
		return
	}
	if valuesEqual(p.value, value) && sameKind(p.value, value) {
		return
	}
	ep("REMOVE", p.value)
	ep("ADD", value)
	p.value = value
}

// sameKind reports whether two equal values also have the same stored
// type (1 and 1.0 are equal in Gremlin, but writing one over the other
// changes the stored value's type, which the stream reports).
func sameKind(a, b any) bool { return DataType(a) == DataType(b) }
