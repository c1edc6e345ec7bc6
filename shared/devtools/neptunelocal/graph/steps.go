package graph

import (
	"fmt"

	"github.com/google/uuid"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

var (
	tokenID    = graphbinary.Enum{Type: graphbinary.EnumT, Value: "id"}
	tokenLabel = graphbinary.Enum{Type: graphbinary.EnumT, Value: "label"}
	tokenKey   = graphbinary.Enum{Type: graphbinary.EnumT, Value: "key"}
	tokenValue = graphbinary.Enum{Type: graphbinary.EnumT, Value: "value"}
	dirOut     = graphbinary.Enum{Type: graphbinary.EnumDirection, Value: "OUT"}
	dirIn      = graphbinary.Enum{Type: graphbinary.EnumDirection, Value: "IN"}
)

// ---- V(), E() ----

type graphStep struct {
	edges bool
	ids   []any
	all   bool
}

func newGraphStep(edges bool, args []any) *graphStep {
	ids := args
	if len(ids) == 1 {
		// V(list) means V(ids...); V([]) means every vertex, as in TinkerPop.
		if l, ok := listOf(ids[0]); ok {
			ids = l
		}
	}
	return &graphStep{edges: edges, ids: ids, all: len(ids) == 0}
}

func (s *graphStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	var ids []string
	if !s.all {
		ids = make([]string, 0, len(s.ids))
		for _, a := range s.ids {
			if a == nil {
				continue
			}
			id, err := idOf(a)
			if err != nil {
				return nil, err
			}
			ids = append(ids, id)
		}
	}
	var out []*trav
	for _, t := range in {
		switch {
		case s.all && s.edges:
			for _, e := range x.g.elist {
				if !e.dead {
					out = append(out, t.to(e))
				}
			}
		case s.all:
			for _, v := range x.g.vlist {
				if !v.dead {
					out = append(out, t.to(v))
				}
			}
		case s.edges:
			for _, id := range ids {
				if e := x.g.edges[id]; e != nil {
					out = append(out, t.to(e))
				}
			}
		default:
			for _, id := range ids {
				if v := x.g.vertices[id]; v != nil {
					out = append(out, t.to(v))
				}
			}
		}
	}
	return out, nil
}

// ---- inject() ----

type injectStep struct {
	start bool
	vals  []any
}

func (s *injectStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, 0, len(s.vals)+len(in))
	for _, v := range s.vals {
		out = append(out, &trav{val: v})
	}
	if !s.start {
		out = append(out, in...)
	}
	return out, nil
}

// ---- addV() ----

type foldedProp struct {
	key string
	val propValue
}

type addVStep struct {
	label    propValue
	hasLabel bool
	id       propValue
	hasID    bool
	props    []foldedProp
}

func (c *compiler) newAddV(args []any) (stepImpl, error) {
	s := &addVStep{}
	switch len(args) {
	case 0:
	case 1:
		switch a := args[0].(type) {
		case nil:
			return nil, invalid("Label can not be null")
		case string:
			if _, err := vertexLabels(a); err != nil {
				return nil, err
			}
			s.label, s.hasLabel = propValue{val: a}, true
		default:
			pv, err := c.propValue(a)
			if err != nil {
				return nil, err
			}
			if pv.tr == nil {
				return nil, malformed("addV() takes a String label or a traversal, got %s", javaClass(a))
			}
			s.label, s.hasLabel = pv, true
		}
	default:
		return nil, malformed("addV() takes at most one label")
	}
	return s, nil
}

func (s *addVStep) fold(key any, pv propValue) error {
	if tok, ok := asEnum(key, graphbinary.EnumT); ok {
		if tok == "id" {
			s.id, s.hasID = pv, true
		} else {
			s.label, s.hasLabel = pv, true
		}
		return nil
	}
	s.props = append(s.props, foldedProp{key: key.(string), val: pv})
	return nil
}

func (x *execCtx) evalProp(pv propValue, t *trav, what string) (any, error) {
	if pv.tr == nil {
		return pv.val, nil
	}
	return x.mustFirst(pv.tr, t, what)
}

// evalFolded evaluates the properties folded into an addV or addE for one
// traverser, checked and converted as they will be stored (nil removes).
func (x *execCtx) evalFolded(props []foldedProp, t *trav) ([]any, error) {
	vals := make([]any, len(props))
	for i, p := range props {
		if err := checkKey(p.key); err != nil {
			return nil, err
		}
		v, err := x.evalProp(p.val, t, p.key)
		if err != nil {
			return nil, err
		}
		if v != nil {
			if v, err = storedValue(p.key, v); err != nil {
				return nil, err
			}
		}
		vals[i] = v
	}
	return vals, nil
}

func (x *execCtx) labelOf(pv propValue, ok bool, t *trav, def string) (string, error) {
	if !ok {
		return def, nil
	}
	v, err := x.evalProp(pv, t, "label")
	if err != nil {
		return "", err
	}
	l, isStr := v.(string)
	if !isStr {
		if v == nil {
			return "", invalid("Label can not be null")
		}
		return "", invalid("A label must be a String, got %s", javaClass(v))
	}
	return l, nil
}

func (s *addVStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	tx := x.writable()
	out := make([]*trav, 0, len(in))
	for _, t := range in {
		l, err := x.labelOf(s.label, s.hasLabel, t, "vertex")
		if err != nil {
			return nil, err
		}
		labels, err := vertexLabels(l)
		if err != nil {
			return nil, err
		}
		vals, err := x.evalFolded(s.props, t)
		if err != nil {
			return nil, err
		}
		var v *vertex
		if s.hasID {
			raw, err := x.evalProp(s.id, t, "id")
			if err != nil {
				return nil, err
			}
			id, err := newElementID(raw)
			if err != nil {
				return nil, err
			}
			if old := x.g.vertices[id]; old != nil {
				// Neptune: an addV() with an existing id fails, unless it
				// names a new label, which it adds (with any properties).
				var added []string
				for _, l := range labels {
					if !old.hasLabel(l) {
						added = append(added, l)
					}
				}
				if len(added) == 0 {
					return nil, errf(CodeConstraintViolation, "Vertex with id already exists: %s", id)
				}
				tx.addLabels(old, added)
				v = old
			} else {
				v = tx.addVertex(id, labels)
			}
		} else {
			v = tx.addVertex(uuid.NewString(), labels)
		}
		for i, p := range s.props {
			tx.setVertexProperty(v, cardSet, p.key, vals[i])
		}
		out = append(out, t.to(v))
	}
	return out, nil
}

// ---- addE() ----

type endSpec struct {
	label string     // from("a"): a step label
	tr    *traversal // from(__.V(...))
	vref  any        // from(Vertex)
}

type addEStep struct {
	start    bool
	label    propValue
	hasLabel bool
	id       propValue
	hasID    bool
	props    []foldedProp
	from, to *endSpec
}

func (c *compiler) newAddE(args []any, start bool) (stepImpl, error) {
	s := &addEStep{start: start}
	if len(args) != 1 {
		return nil, malformed("addE() takes one label")
	}
	switch a := args[0].(type) {
	case nil:
		return nil, invalid("Label can not be null")
	case string:
		if err := edgeLabel(a); err != nil {
			return nil, err
		}
		s.label, s.hasLabel = propValue{val: a}, true
	default:
		pv, err := c.propValue(a)
		if err != nil {
			return nil, err
		}
		if pv.tr == nil {
			return nil, malformed("addE() takes a String label or a traversal, got %s", javaClass(a))
		}
		s.label, s.hasLabel = pv, true
	}
	return s, nil
}

func (s *addEStep) fold(key any, pv propValue) error {
	if tok, ok := asEnum(key, graphbinary.EnumT); ok {
		if tok == "id" {
			s.id, s.hasID = pv, true
		} else {
			s.label, s.hasLabel = pv, true
		}
		return nil
	}
	s.props = append(s.props, foldedProp{key: key.(string), val: pv})
	return nil
}

func (s *addEStep) setEnd(c *compiler, which string, arg any) error {
	var e endSpec
	switch a := arg.(type) {
	case string:
		e.label = a
	case graphbinary.Vertex, *graphbinary.Vertex:
		e.vref = a
	default:
		bc, ok := asBytecode(arg)
		if !ok {
			return malformed("%s() takes a step label, a Vertex or a traversal, got %s", which, javaClass(arg))
		}
		tr, err := c.compile(bc, false)
		if err != nil {
			return err
		}
		e.tr = tr
	}
	if which == "from" {
		s.from = &e
	} else {
		s.to = &e
	}
	return nil
}

func (x *execCtx) resolveEnd(e *endSpec, t *trav, which, label string) (*vertex, error) {
	var v any
	switch {
	case e == nil:
		v = t.val
	case e.vref != nil:
		v = e.vref
	default:
		var ok bool
		var err error
		if e.tr != nil {
			v, ok, err = x.first(e.tr, t)
		} else {
			v, ok = x.scope(t, e.label, "last")
		}
		if err != nil {
			return nil, err
		}
		if !ok {
			what := "traversal"
			if e.tr == nil {
				what = fmt.Sprintf("select(%s)", e.label)
			}
			return nil, invalid("addE(%s) failed because the %s() traversal (which should give a Vertex) failed with: The provided traverser does not map to a value: %s -> %s",
				label, which, describe(t.val), what)
		}
	}
	switch r := v.(type) {
	case *vertex:
		if r.dead {
			return nil, invalid("The vertex given to addE(%s).%s() was removed: %s", label, which, r.id)
		}
		return r, nil
	case graphbinary.Vertex, *graphbinary.Vertex:
		id, err := idOf(r)
		if err != nil {
			return nil, err
		}
		if found := x.g.vertices[id]; found != nil {
			return found, nil
		}
		return nil, invalid("The vertex given to addE(%s).%s() does not exist: %s", label, which, id)
	}
	cls := "null"
	if v != nil {
		cls = javaClass(v)
	}
	return nil, invalid("The value given to addE(%s).%s() must resolve to a Vertex but %s was specified instead", label, which, cls)
}

func (s *addEStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	tx := x.writable()
	out := make([]*trav, 0, len(in))
	for _, t := range in {
		label, err := x.labelOf(s.label, s.hasLabel, t, "edge")
		if err != nil {
			return nil, err
		}
		if err := edgeLabel(label); err != nil {
			return nil, err
		}
		to, err := x.resolveEnd(s.to, t, "to", label)
		if err != nil {
			return nil, err
		}
		from, err := x.resolveEnd(s.from, t, "from", label)
		if err != nil {
			return nil, err
		}
		vals, err := x.evalFolded(s.props, t)
		if err != nil {
			return nil, err
		}
		id := ""
		if s.hasID {
			raw, err := x.evalProp(s.id, t, "id")
			if err != nil {
				return nil, err
			}
			if id, err = newElementID(raw); err != nil {
				return nil, err
			}
			if x.g.edges[id] != nil {
				return nil, errf(CodeConstraintViolation, "Edge with id already exists: %s", id)
			}
		} else {
			id = uuid.NewString()
		}
		e := tx.addEdge(id, label, from, to)
		for i, p := range s.props {
			tx.setEdgeProperty(e, p.key, vals[i])
		}
		out = append(out, t.to(e))
	}
	return out, nil
}

// ---- property() ----

type propertyStep struct {
	card  string
	key   any
	value propValue
}

func (s *propertyStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	tx := x.writable()
	for _, t := range in {
		if tok, ok := asEnum(s.key, graphbinary.EnumT); ok {
			return nil, invalid("T.%s can only be set by property() directly after addV() or addE(); ids and labels of existing elements are immutable", tok)
		}
		key := s.key.(string)
		if err := checkKey(key); err != nil {
			return nil, err
		}
		v, err := x.evalProp(s.value, t, key)
		if err != nil {
			return nil, err
		}
		if v != nil {
			if v, err = storedValue(key, v); err != nil {
				return nil, err
			}
		}
		switch el := t.val.(type) {
		case *vertex:
			card := s.card
			if card == "" {
				card = cardSet // Neptune's default cardinality
			}
			tx.setVertexProperty(el, card, key, v)
		case *edge:
			if s.card != "" {
				return nil, invalid("Property cardinality can only be set for a Vertex but the traversal encountered Edge for key: %s", key)
			}
			tx.setEdgeProperty(el, key, v)
		case *vpropRef:
			return nil, unsupported("Neptune does not support meta-properties (property() on a VertexProperty)")
		default:
			return nil, invalid("property() can only be applied to a Vertex or an Edge, got %s", describe(t.val))
		}
	}
	return in, nil
}

// ---- drop() ----

type dropStep struct{}

func (dropStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	tx := x.writable()
	for _, t := range in {
		switch el := t.val.(type) {
		case *vertex:
			tx.dropVertex(el)
		case *edge:
			tx.dropEdge(el)
		case *vpropRef:
			if !el.v.dead {
				tx.removeVertexPropertyValue(el.v, el.key, el.value)
			}
		case *epropRef:
			if !el.e.dead {
				tx.setEdgeProperty(el.e, el.key, nil)
			}
		default:
			return nil, invalid("The incoming object is not removable: %s", describe(t.val))
		}
	}
	return nil, nil
}

// ---- has() family ----

type hasStep struct {
	label *predicate // has(label, key, value)
	key   string
	tok   string // T.id / T.label / T.key / T.value as the key
	pred  *predicate
}

func (c *compiler) newHas(args []any) (stepImpl, error) {
	s := &hasStep{}
	keyArg := func(k any) error {
		if tok, ok := asEnum(k, graphbinary.EnumT); ok {
			s.tok = tok
			return nil
		}
		ks, ok := k.(string)
		if !ok {
			return malformed("has() takes a String or T key, got %s", javaClass(k))
		}
		s.key = ks
		return nil
	}
	var err error
	switch len(args) {
	case 1:
		return s, keyArg(args[0])
	case 2:
		if err := keyArg(args[0]); err != nil {
			return nil, err
		}
		s.pred, err = predicateArg(args[1])
	case 3:
		l, ok := args[0].(string)
		if !ok {
			return nil, malformed("has(label, key, value) takes a String label, got %s", javaClass(args[0]))
		}
		s.label = &predicate{op: "eq", vals: []any{l}}
		if err := keyArg(args[1]); err != nil {
			return nil, err
		}
		s.pred, err = predicateArg(args[2])
	default:
		return nil, malformed("has() takes one to three arguments, got %d", len(args))
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

func labelMatches(el any, p *predicate) (bool, error) {
	switch e := el.(type) {
	case *vertex:
		for _, l := range e.labels {
			if p.test(l) {
				return true, nil
			}
		}
		return false, nil
	case *edge:
		return p.test(e.label), nil
	case *vpropRef:
		return p.test(e.key), nil
	}
	return false, invalid("A label can only be tested on elements, got %s", describe(el))
}

func (s *hasStep) match(el any) (bool, error) {
	if s.label != nil {
		ok, err := labelMatches(el, s.label)
		if !ok || err != nil {
			return false, err
		}
	}
	test := func(v any) bool { return s.pred == nil || s.pred.test(v) }
	switch s.tok {
	case "id":
		id, err := elementID(el)
		return err == nil && test(id), err
	case "label":
		if s.pred == nil {
			return true, nil
		}
		return labelMatches(el, s.pred)
	case "key", "value":
		p, ok := el.(*vpropRef)
		if !ok {
			return false, invalid("has(T.%s) can only filter vertex properties, got %s", s.tok, describe(el))
		}
		if s.tok == "key" {
			return test(p.key), nil
		}
		return test(p.value), nil
	}
	switch e := el.(type) {
	case *vertex:
		_, p := e.prop(s.key)
		if p == nil {
			return false, nil
		}
		for _, v := range p.values {
			if test(v) {
				return true, nil
			}
		}
		return false, nil
	case *edge:
		_, p := e.prop(s.key)
		return p != nil && test(p.value), nil
	case *vpropRef:
		return false, nil // no meta-properties
	}
	return false, invalid("has() can only filter elements, got %s", describe(el))
}

func (s *hasStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := in[:0:0]
	for _, t := range in {
		ok, err := s.match(t.val)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, t)
		}
	}
	return out, nil
}

type hasLabelStep struct{ preds []*predicate }

func newHasLabel(args []any) (stepImpl, error) {
	if len(args) == 1 {
		if l, ok := listOf(args[0]); ok {
			args = l
		}
	}
	if len(args) == 0 {
		return nil, malformed("hasLabel() needs at least one label")
	}
	s := &hasLabelStep{}
	for _, a := range args {
		p, err := predicateArg(a)
		if err != nil {
			return nil, err
		}
		s.preds = append(s.preds, p)
	}
	return s, nil
}

func (s *hasLabelStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := in[:0:0]
	for _, t := range in {
		for _, p := range s.preds {
			ok, err := labelMatches(t.val, p)
			if err != nil {
				return nil, err
			}
			if ok {
				out = append(out, t)
				break
			}
		}
	}
	return out, nil
}

type hasIDStep struct{ preds []*predicate }

func newHasID(args []any) (stepImpl, error) {
	if len(args) == 1 {
		if l, ok := listOf(args[0]); ok {
			args = l
		}
	}
	if len(args) == 0 {
		return nil, malformed("hasId() needs at least one id")
	}
	s := &hasIDStep{}
	var ids []any
	for _, a := range args {
		if p, ok := asP(a); ok {
			pr, err := compilePredicate(p)
			if err != nil {
				return nil, err
			}
			s.preds = append(s.preds, pr)
			continue
		}
		if a == nil {
			continue
		}
		id, err := idOf(a)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		s.preds = append(s.preds, &predicate{op: "within", vals: ids})
	}
	return s, nil
}

func elementID(el any) (any, error) {
	switch e := el.(type) {
	case *vertex:
		return e.id, nil
	case *edge:
		return e.id, nil
	case *vpropRef:
		return vertexPropertyID(e), nil
	}
	return nil, invalid("id() can only be applied to elements, got %s", describe(el))
}

func (s *hasIDStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := in[:0:0]
	for _, t := range in {
		id, err := elementID(t.val)
		if err != nil {
			return nil, err
		}
		for _, p := range s.preds {
			if p.test(id) {
				out = append(out, t)
				break
			}
		}
	}
	return out, nil
}

type hasNotStep struct{ key string }

func (s *hasNotStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := in[:0:0]
	for _, t := range in {
		switch e := t.val.(type) {
		case *vertex:
			if _, p := e.prop(s.key); p == nil {
				out = append(out, t)
			}
		case *edge:
			if _, p := e.prop(s.key); p == nil {
				out = append(out, t)
			}
		case *vpropRef:
			out = append(out, t)
		default:
			return nil, invalid("hasNot() can only filter elements, got %s", describe(t.val))
		}
	}
	return out, nil
}

type isStep struct{ pred *predicate }

func (s *isStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := in[:0:0]
	for _, t := range in {
		if s.pred.test(t.val) {
			out = append(out, t)
		}
	}
	return out, nil
}

// ---- id(), label(), key(), value() ----

type idStep struct{}

func (idStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, len(in))
	for i, t := range in {
		id, err := elementID(t.val)
		if err != nil {
			return nil, err
		}
		out[i] = t.to(id)
	}
	return out, nil
}

func elementLabel(el any) (string, error) {
	switch e := el.(type) {
	case *vertex:
		return e.label, nil
	case *edge:
		return e.label, nil
	case *vpropRef:
		return e.key, nil
	}
	return "", invalid("label() can only be applied to elements, got %s", describe(el))
}

type labelStep struct{}

func (labelStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, len(in))
	for i, t := range in {
		l, err := elementLabel(t.val)
		if err != nil {
			return nil, err
		}
		out[i] = t.to(l)
	}
	return out, nil
}

type keyStep struct{}

func (keyStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, len(in))
	for i, t := range in {
		switch p := t.val.(type) {
		case *vpropRef:
			out[i] = t.to(p.key)
		case *epropRef:
			out[i] = t.to(p.key)
		default:
			return nil, invalid("key() can only be applied to properties, got %s", describe(t.val))
		}
	}
	return out, nil
}

type valueStep struct{}

func (valueStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, len(in))
	for i, t := range in {
		switch p := t.val.(type) {
		case *vpropRef:
			out[i] = t.to(p.value)
		case *epropRef:
			out[i] = t.to(p.value)
		default:
			return nil, invalid("value() can only be applied to properties, got %s", describe(t.val))
		}
	}
	return out, nil
}

// ---- values(), properties() ----

type propertiesStep struct {
	keys         []string
	asProperties bool
}

func wanted(keys []string, k string) bool {
	if len(keys) == 0 {
		return true
	}
	for _, w := range keys {
		if w == k {
			return true
		}
	}
	return false
}

func (s *propertiesStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	var out []*trav
	for _, t := range in {
		switch e := t.val.(type) {
		case *vertex:
			for _, p := range e.props {
				if !wanted(s.keys, p.key) {
					continue
				}
				for _, v := range p.values {
					if s.asProperties {
						out = append(out, t.to(&vpropRef{v: e, key: p.key, value: v}))
					} else {
						out = append(out, t.to(v))
					}
				}
			}
		case *edge:
			for _, p := range e.props {
				if !wanted(s.keys, p.key) {
					continue
				}
				if s.asProperties {
					out = append(out, t.to(&epropRef{e: e, key: p.key, value: p.value}))
				} else {
					out = append(out, t.to(p.value))
				}
			}
		case *vpropRef:
			// Neptune has no meta-properties.
		default:
			name := "values"
			if s.asProperties {
				name = "properties"
			}
			return nil, invalid("%s() can only be applied to elements, got %s", name, describe(t.val))
		}
	}
	return out, nil
}

// ---- valueMap(), elementMap() ----

type valueMapStep struct {
	tokens int // bit 1: ids, bit 2: labels (WithOptions)
	keys   []string
	bys    []*byMod
}

const (
	withIDs    = 1
	withLabels = 2
)

func newValueMap(args []any) (stepImpl, error) {
	s := &valueMapStep{}
	if len(args) > 0 {
		if b, ok := args[0].(bool); ok {
			if b {
				s.tokens = withIDs | withLabels
			}
			args = args[1:]
		}
	}
	keys, err := stringArgs("valueMap", args)
	if err != nil {
		return nil, err
	}
	s.keys = keys
	return s, nil
}

func (s *valueMapStep) addWith(args []any) error {
	if len(args) == 0 || args[0] != "~tinkerpop.valueMap.tokens" {
		return unsupported("with(%s) is not supported on valueMap()", describe(firstOr(args)))
	}
	if len(args) == 1 {
		s.tokens = withIDs | withLabels
		return nil
	}
	n, ok := asInt(args[1])
	if !ok {
		return malformed("with(WithOptions.tokens, ...) takes a number")
	}
	s.tokens = int(n) & (withIDs | withLabels)
	return nil
}

func firstOr(args []any) any {
	if len(args) == 0 {
		return nil
	}
	return args[0]
}

func (s *valueMapStep) addBy(b *byMod) error {
	if b.kind != byIdentity && b.kind != byTraversal {
		return unsupported("valueMap().by() only supports traversals")
	}
	s.bys = append(s.bys, b)
	return nil
}

func (s *valueMapStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, 0, len(in))
	for _, t := range in {
		m := map[any]any{}
		ring := 0
		apply := func(v any) (any, error) {
			if len(s.bys) == 0 {
				return v, nil
			}
			b := s.bys[ring%len(s.bys)]
			ring++
			if b.kind == byIdentity {
				return v, nil
			}
			r, _, err := x.first(b.tr, t.to(v))
			return r, err
		}
		switch e := t.val.(type) {
		case *vertex:
			if s.tokens&withIDs != 0 {
				m[tokenID] = e.id
			}
			if s.tokens&withLabels != 0 {
				m[tokenLabel] = e.label
			}
			for _, p := range e.props {
				if !wanted(s.keys, p.key) {
					continue
				}
				v, err := apply(append([]any(nil), p.values...))
				if err != nil {
					return nil, err
				}
				m[p.key] = v
			}
		case *edge:
			if s.tokens&withIDs != 0 {
				m[tokenID] = e.id
			}
			if s.tokens&withLabels != 0 {
				m[tokenLabel] = e.label
			}
			for _, p := range e.props {
				if !wanted(s.keys, p.key) {
					continue
				}
				v, err := apply(p.value)
				if err != nil {
					return nil, err
				}
				m[p.key] = v
			}
		case *vpropRef:
			if s.tokens&withIDs != 0 {
				m[tokenID] = vertexPropertyID(e)
			}
			if s.tokens&withLabels != 0 {
				m[tokenKey] = e.key
				m[tokenValue] = e.value
			}
		default:
			return nil, invalid("valueMap() can only be applied to elements, got %s", describe(t.val))
		}
		out = append(out, t.to(m))
	}
	return out, nil
}

type elementMapStep struct{ keys []string }

func vertexStructure(v *vertex) map[any]any {
	return map[any]any{tokenID: v.id, tokenLabel: v.label}
}

func (s *elementMapStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, 0, len(in))
	for _, t := range in {
		m := map[any]any{}
		switch e := t.val.(type) {
		case *vertex:
			m[tokenID], m[tokenLabel] = e.id, e.label
			for _, p := range e.props {
				if wanted(s.keys, p.key) {
					m[p.key] = p.values[len(p.values)-1]
				}
			}
		case *edge:
			m[tokenID], m[tokenLabel] = e.id, e.label
			m[dirIn], m[dirOut] = vertexStructure(e.to), vertexStructure(e.from)
			for _, p := range e.props {
				if wanted(s.keys, p.key) {
					m[p.key] = p.value
				}
			}
		case *vpropRef:
			m[tokenID], m[tokenKey], m[tokenValue] = vertexPropertyID(e), e.key, e.value
		default:
			return nil, invalid("elementMap() can only be applied to elements, got %s", describe(t.val))
		}
		out = append(out, t.to(m))
	}
	return out, nil
}

// ---- count(), fold(), unfold(), dedup(), limit(), range(), constant() ... ----

type countStep struct{}

func (countStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	return []*trav{{val: int64(len(in))}}, nil
}

type foldStep struct{}

func (foldStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	l := make([]any, len(in))
	for i, t := range in {
		l[i] = t.val
	}
	return []*trav{{val: l}}, nil
}

type unfoldStep struct{}

func (unfoldStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	var out []*trav
	for _, t := range in {
		switch c := t.val.(type) {
		case []any:
			for _, e := range c {
				out = append(out, t.to(e))
			}
		case graphbinary.Set:
			for _, e := range c {
				out = append(out, t.to(e))
			}
		case map[any]any:
			for _, k := range sortedKeys(c) {
				out = append(out, t.to(map[any]any{k: c[k]}))
			}
		default:
			out = append(out, t)
		}
	}
	return out, nil
}

type identityStep struct{}

func (identityStep) run(_ *execCtx, in []*trav) ([]*trav, error) { return in, nil }

type noneStep struct{}

func (noneStep) run(_ *execCtx, _ []*trav) ([]*trav, error) { return nil, nil }

type dedupStep struct{}

func (dedupStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	var out []*trav
	seen := map[any]bool{}
	for _, t := range in {
		k := dedupKey(t.val)
		if !seen[k] {
			seen[k] = true
			out = append(out, t)
		}
	}
	return out, nil
}

func dedupKey(v any) any {
	switch x := v.(type) {
	case []any, graphbinary.Set, map[any]any:
		return fmt.Sprintf("%T:%v", exportValue(x), exportValue(x))
	case *vpropRef:
		return fmt.Sprintf("vp:%p:%s:%T:%v", x.v, x.key, x.value, x.value)
	case *epropRef:
		return fmt.Sprintf("p:%p:%s:%T:%v", x.e, x.key, x.value, x.value)
	}
	return v
}

type rangeStep struct{ lo, hi int64 }

func (s *rangeStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	n := int64(len(in))
	lo, hi := s.lo, s.hi
	if lo < 0 {
		return nil, invalid("range() needs a non-negative low bound, got %d", lo)
	}
	if hi < 0 || hi > n {
		hi = n
	}
	if lo >= hi {
		return nil, nil
	}
	return in[lo:hi], nil
}

type constantStep struct{ val any }

func (s *constantStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, len(in))
	for i, t := range in {
		out[i] = t.to(s.val)
	}
	return out, nil
}

// ---- branches and filters over traversals ----

type coalesceStep struct{ trs []*traversal }

func (s *coalesceStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	var out []*trav
	for _, t := range in {
		for _, tr := range s.trs {
			r, err := x.sub(tr, t)
			if err != nil {
				return nil, err
			}
			if len(r) > 0 {
				out = append(out, r...)
				break
			}
		}
	}
	return out, nil
}

type unionStep struct{ trs []*traversal }

func (s *unionStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	var out []*trav
	for _, t := range in {
		for _, tr := range s.trs {
			r, err := x.sub(tr, t)
			if err != nil {
				return nil, err
			}
			out = append(out, r...)
		}
	}
	return out, nil
}

type andOrStep struct {
	trs []*traversal
	and bool
}

func (s *andOrStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	out := in[:0:0]
	for _, t := range in {
		keep := s.and
		for _, tr := range s.trs {
			ok, err := x.exists(tr, t)
			if err != nil {
				return nil, err
			}
			if s.and && !ok {
				keep = false
				break
			}
			if !s.and && ok {
				keep = true
				break
			}
		}
		if keep {
			out = append(out, t)
		}
	}
	return out, nil
}

type sideEffectStep struct{ tr *traversal }

func (s *sideEffectStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	for _, t := range in {
		if _, err := x.sub(s.tr, t); err != nil {
			return nil, err
		}
	}
	return in, nil
}

type optionalStep struct{ tr *traversal }

func (s *optionalStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	var out []*trav
	for _, t := range in {
		r, err := x.sub(s.tr, t)
		if err != nil {
			return nil, err
		}
		if len(r) > 0 {
			out = append(out, r...)
		} else {
			out = append(out, t)
		}
	}
	return out, nil
}

// filterTraversalStep is where(traversal) and not(traversal).
type filterTraversalStep struct {
	tr     *traversal
	negate bool
}

func (s *filterTraversalStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	out := in[:0:0]
	for _, t := range in {
		ok, err := x.exists(s.tr, t)
		if err != nil {
			return nil, err
		}
		if ok != s.negate {
			out = append(out, t)
		}
	}
	return out, nil
}

// ---- by() ----

type byKind int

const (
	byIdentity byKind = iota
	byKey
	byToken
	byTraversal
)

type byMod struct {
	kind byKind
	key  string
	tok  string
	tr   *traversal
}

func (c *compiler) byModulator(args []any) (*byMod, error) {
	switch len(args) {
	case 0:
		return &byMod{kind: byIdentity}, nil
	case 1:
		a := args[0]
		if s, ok := a.(string); ok {
			return &byMod{kind: byKey, key: s}, nil
		}
		if tok, ok := asEnum(a, graphbinary.EnumT); ok {
			return &byMod{kind: byToken, tok: tok}, nil
		}
		if bc, ok := asBytecode(a); ok {
			tr, err := c.compile(bc, false)
			if err != nil {
				return nil, err
			}
			return &byMod{kind: byTraversal, tr: tr}, nil
		}
		if _, ok := asEnum(a, graphbinary.EnumOrder); ok {
			return nil, unsupported("by(Order) modulates order(), which is not supported")
		}
	}
	return nil, unsupported("by(%d arguments) is not supported (comparators and order() are not implemented)", len(args))
}

func (x *execCtx) applyBy(b *byMod, t *trav) (any, bool, error) {
	if b == nil {
		return t.val, true, nil
	}
	switch b.kind {
	case byIdentity:
		return t.val, true, nil
	case byTraversal:
		return x.first(b.tr, t)
	case byToken:
		switch b.tok {
		case "id":
			v, err := elementID(t.val)
			return v, err == nil, err
		case "label":
			v, err := elementLabel(t.val)
			return v, err == nil, err
		case "key", "value":
			switch p := t.val.(type) {
			case *vpropRef:
				if b.tok == "key" {
					return p.key, true, nil
				}
				return p.value, true, nil
			case *epropRef:
				if b.tok == "key" {
					return p.key, true, nil
				}
				return p.value, true, nil
			}
			return nil, false, invalid("by(T.%s) can only be applied to properties, got %s", b.tok, describe(t.val))
		}
	}
	switch e := t.val.(type) {
	case *vertex:
		if _, p := e.prop(b.key); p != nil {
			return p.values[0], true, nil
		}
		return nil, false, nil
	case *edge:
		if _, p := e.prop(b.key); p != nil {
			return p.value, true, nil
		}
		return nil, false, nil
	case *vpropRef:
		return nil, false, nil
	case map[any]any:
		v, ok := e[b.key]
		return v, ok, nil
	}
	return nil, false, invalid("The by(\"%s\") modulator can only be applied to a traverser that is an Element or a Map - it is being applied to [%s]", b.key, describe(t.val))
}

func ringBy(bys []*byMod, i int) *byMod {
	if len(bys) == 0 {
		return nil
	}
	return bys[i%len(bys)]
}

// ---- select(), project() ----

type selectStep struct {
	pop  string
	keys []string
	bys  []*byMod
}

func newSelect(args []any) (stepImpl, error) {
	s := &selectStep{pop: "last"}
	if len(args) > 0 {
		if pop, ok := asEnum(args[0], graphbinary.EnumPop); ok {
			s.pop, args = pop, args[1:]
		}
	}
	if len(args) > 0 {
		if _, ok := asEnum(args[0], graphbinary.EnumColumn); ok {
			return nil, unsupported("select(Column) is not supported")
		}
		if _, ok := asBytecode(args[0]); ok {
			return nil, unsupported("select(traversal) is not supported")
		}
	}
	keys, err := stringArgs("select", args)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, malformed("select() needs at least one key")
	}
	s.keys = keys
	return s, nil
}

func (s *selectStep) addBy(b *byMod) error { s.bys = append(s.bys, b); return nil }

func (s *selectStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, 0, len(in))
	for _, t := range in {
		if len(s.keys) == 1 {
			v, ok := x.scope(t, s.keys[0], s.pop)
			if !ok {
				continue
			}
			if b := ringBy(s.bys, 0); b != nil {
				r, ok, err := x.applyBy(b, t.to(v))
				if err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				v = r
			}
			out = append(out, t.to(v))
			continue
		}
		m := make(map[any]any, len(s.keys))
		keep := true
		for i, k := range s.keys {
			v, ok := x.scope(t, k, s.pop)
			if ok {
				if b := ringBy(s.bys, i); b != nil {
					var err error
					v, ok, err = x.applyBy(b, t.to(v))
					if err != nil {
						return nil, err
					}
				}
			}
			if !ok {
				keep = false
				break
			}
			m[k] = v
		}
		if keep {
			out = append(out, t.to(m))
		}
	}
	return out, nil
}

type projectStep struct {
	keys []string
	bys  []*byMod
}

func (s *projectStep) addBy(b *byMod) error { s.bys = append(s.bys, b); return nil }

func (s *projectStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, 0, len(in))
	for _, t := range in {
		m := make(map[any]any, len(s.keys))
		for i, k := range s.keys {
			v, ok, err := x.applyBy(ringBy(s.bys, i), t)
			if err != nil {
				return nil, err
			}
			if ok {
				m[k] = v
			}
		}
		out = append(out, t.to(m))
	}
	return out, nil
}

// ---- adjacency ----

type adjacentStep struct {
	dir    string // out, in, both
	edges  bool
	labels []string
}

func (s *adjacentStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	var out []*trav
	for _, t := range in {
		v, ok := t.val.(*vertex)
		if !ok {
			name := s.dir
			if s.edges {
				name += "E"
			}
			return nil, invalid("%s() can only be applied to a Vertex, got %s", name, describe(t.val))
		}
		emit := func(e *edge, other *vertex) {
			if !wanted(s.labels, e.label) {
				return
			}
			if s.edges {
				nt := t.to(e)
				nt.prev = v
				out = append(out, nt)
			} else {
				out = append(out, t.to(other))
			}
		}
		if s.dir != "in" {
			for _, e := range v.out {
				emit(e, e.to)
			}
		}
		if s.dir != "out" {
			for _, e := range v.in {
				emit(e, e.from)
			}
		}
	}
	return out, nil
}

type edgeVertexStep struct{ dir string }

func (s *edgeVertexStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, 0, len(in))
	for _, t := range in {
		e, ok := t.val.(*edge)
		if !ok {
			return nil, invalid("%sV() can only be applied to an Edge, got %s", s.dir, describe(t.val))
		}
		if s.dir != "in" {
			out = append(out, t.to(e.from))
		}
		if s.dir != "out" {
			out = append(out, t.to(e.to))
		}
	}
	return out, nil
}

type otherVStep struct{}

func (otherVStep) run(_ *execCtx, in []*trav) ([]*trav, error) {
	out := make([]*trav, 0, len(in))
	for _, t := range in {
		e, ok := t.val.(*edge)
		if !ok {
			return nil, invalid("otherV() can only be applied to an Edge, got %s", describe(t.val))
		}
		if t.prev == nil {
			return nil, invalid("otherV() needs to know which vertex the traverser came from; reach the edge with outE(), inE() or bothE()")
		}
		if e.from == t.prev {
			out = append(out, t.to(e.to))
		} else {
			out = append(out, t.to(e.from))
		}
	}
	return out, nil
}
