package graph

import (
	"sort"
	"strings"

	"github.com/google/uuid"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

// mergeV() and mergeE() follow TinkerPop 3.7's MergeVertexStep and
// MergeEdgeStep (validation, search, onCreate inheritance and override
// checks, onMatch, Merge.outV/inV), with Neptune's storage rules: string ids,
// set as the default cardinality of values without an explicit one, and
// existing ids refused on create.

// mergeOpt is the merge map argument or one option(): a constant Map (which
// may be nil, as in option(onCreate, null)) or a traversal producing one.
type mergeOpt struct {
	set bool
	m   map[any]any
	tr  *traversal
}

type mergeStep struct {
	edge     bool
	start    bool
	arg      mergeOpt // unset: mergeV()/mergeE() use the incoming Map
	onCreate mergeOpt
	onMatch  mergeOpt
	outV     mergeOpt
	inV      mergeOpt
}

func (s *mergeStep) op() string {
	if s.edge {
		return "mergeE"
	}
	return "mergeV"
}

func (s *mergeStep) stepClass() string {
	if s.edge {
		return "MergeEdgeStep"
	}
	return "MergeVertexStep"
}

func (c *compiler) newMerge(edge bool, args []any, start bool) (stepImpl, error) {
	s := &mergeStep{edge: edge, start: start}
	switch len(args) {
	case 0:
		if start {
			return nil, malformed("%s() needs a Map argument when it starts a traversal", s.op())
		}
	case 1:
		o, err := c.mergeOption(s, args[0], false)
		if err != nil {
			return nil, err
		}
		if o.tr == nil {
			if err := s.validate(o.m, false); err != nil {
				return nil, err
			}
		}
		s.arg = o
	default:
		return nil, malformed("%s() takes one Map or traversal, got %d arguments", s.op(), len(args))
	}
	return s, nil
}

// mergeOption compiles a Map or traversal argument. Search maps may not carry
// cardinalities; option maps of mergeV() may.
func (c *compiler) mergeOption(s *mergeStep, v any, isOption bool) (mergeOpt, error) {
	if v == nil {
		return mergeOpt{set: true}, nil
	}
	if m, ok := v.(map[any]any); ok {
		nm, err := normalizeMergeMap(m, s.edge, isOption)
		if err != nil {
			return mergeOpt{}, err
		}
		return mergeOpt{set: true, m: nm}, nil
	}
	if bc, ok := asBytecode(v); ok {
		if _, isCard, err := cardinalityValue(bc); err != nil || isCard {
			if err != nil {
				return mergeOpt{}, err
			}
			return mergeOpt{}, malformed("%s() takes a Map or a traversal, not a CardinalityValue", s.op())
		}
		tr, err := c.compile(bc, false)
		if err != nil {
			return mergeOpt{}, err
		}
		return mergeOpt{set: true, tr: tr}, nil
	}
	return mergeOpt{}, malformed("%s() takes a Map or a traversal, got %s", s.op(), javaClass(v))
}

// normalizeMergeMap turns CardinalityValue traversals into cardValues,
// copying the map only when there is one.
func normalizeMergeMap(m map[any]any, edge, isOption bool) (map[any]any, error) {
	var out map[any]any
	for k, v := range m {
		cv, isCard, err := cardinalityValue(v)
		if err != nil {
			return nil, err
		}
		if !isCard {
			continue
		}
		if edge {
			return nil, invalid("option() with the Cardinality argument can only be used following mergeV()")
		}
		if !isOption {
			return nil, invalid("mergeV() search maps can not carry a CardinalityValue (key %s); use it in option(onCreate) or option(onMatch)", describe(k))
		}
		if out == nil {
			out = make(map[any]any, len(m))
			for k2, v2 := range m {
				out[k2] = v2
			}
		}
		out[k] = cv
	}
	if out == nil {
		return m, nil
	}
	return out, nil
}

func (s *mergeStep) addOption(c *compiler, args []any) error {
	if len(args) != 2 && len(args) != 3 {
		return malformed("option() takes a Merge token and a Map or traversal")
	}
	tok, ok := asEnum(args[0], graphbinary.EnumMerge)
	if !ok {
		return malformed("option() of %s() takes a Merge token, got %s", s.op(), describe(args[0]))
	}
	var target *mergeOpt
	switch tok {
	case "onCreate":
		target = &s.onCreate
	case "onMatch":
		target = &s.onMatch
	case "outV", "inV":
		if !s.edge {
			return unsupported("Option %s for Merge is not supported", tok)
		}
		if tok == "outV" {
			target = &s.outV
		} else {
			target = &s.inV
		}
	default:
		return unsupported("Option %s for Merge is not supported", tok)
	}
	val := args[1]
	if len(args) == 3 {
		card, ok := asEnum(args[2], graphbinary.EnumCardinality)
		if !ok {
			return malformed("option(Merge, Map, Cardinality) takes a Cardinality, got %s", describe(args[2]))
		}
		if s.edge {
			return invalid("option() with the Cardinality argument can only be used following mergeV()")
		}
		if card == cardList {
			return unsupported("Cardinality list is not supported by Neptune; use single or set")
		}
		m, ok := val.(map[any]any)
		if !ok {
			return malformed("option(Merge, Map, Cardinality) takes a Map, got %s", javaClass(val))
		}
		wrapped := make(map[any]any, len(m))
		for k, v := range m {
			cv, isCard, err := cardinalityValue(v)
			if err != nil {
				return err
			}
			if isCard {
				wrapped[k] = cv
			} else {
				wrapped[k] = cardValue{card: card, val: v}
			}
		}
		val = wrapped
	}
	o, err := c.mergeOption(s, val, true)
	if err != nil {
		return err
	}
	if tok == "onMatch" && o.tr == nil {
		if err := s.validate(o.m, true); err != nil {
			return err
		}
	}
	*target = o
	return nil
}

// ---- validation (MergeStep.validate) ----

func (s *mergeStep) validate(m map[any]any, onMatch bool) error {
	op := s.op()
	for k, v := range m {
		if v == nil {
			return invalid("%s() does not allow null Map values - check: %s", op, describe(k))
		}
		if onMatch {
			ks, ok := k.(string)
			if !ok {
				return invalid("option(onMatch) expects keys in Map to be of String - check: %s", describe(k))
			}
			if err := checkKey(ks); err != nil {
				return err
			}
			continue
		}
		if ks, ok := k.(string); ok {
			if err := checkKey(ks); err != nil {
				return err
			}
			continue
		}
		allowed := "[id, label]"
		if s.edge {
			allowed = "[id, label, IN, OUT]"
		}
		bad := invalid("%s() and option(onCreate) args expect keys in Map to be either String or %s - check: %s", op, allowed, describe(k))
		if tok, ok := asEnum(k, graphbinary.EnumT); ok {
			switch tok {
			case "label":
				l, isStr := v.(string)
				if !isStr {
					return invalid("%s() and option(onCreate) args expect T.label value to be of String - found: %s", op, simpleClass(v))
				}
				if s.edge {
					if err := edgeLabel(l); err != nil {
						return err
					}
				} else if _, err := vertexLabels(l); err != nil {
					return err
				}
			case "id":
				if _, err := idOf(v); err != nil {
					return err
				}
			default:
				return bad
			}
			continue
		}
		if dir, ok := asEnum(k, graphbinary.EnumDirection); ok && s.edge && (dir == "OUT" || dir == "IN") {
			if mt, isMerge := asEnum(v, graphbinary.EnumMerge); isMerge {
				if dir == "OUT" && mt != "outV" {
					return invalid("Only Merge.outV token may be used for Direction.OUT, found: %s", mt)
				}
				if dir == "IN" && mt != "inV" {
					return invalid("Only Merge.inV token may be used for Direction.IN, found: %s", mt)
				}
			}
			continue
		}
		return bad
	}
	return nil
}

func simpleClass(v any) string {
	c := javaClass(v)
	return c[strings.LastIndex(c, ".")+1:]
}

func validateNoOverrides(mergeMap, onCreate map[any]any) error {
	for k, v := range onCreate {
		if mv, ok := mergeMap[k]; ok && !strictEquals(v, mv) {
			return invalid("option(onCreate) cannot override values from merge() argument: (%s, %s)", describe(k), describe(v))
		}
	}
	return nil
}

// ---- running ----

func (s *mergeStep) run(x *execCtx, in []*trav) ([]*trav, error) {
	tx := x.writable()
	out := make([]*trav, 0, len(in))
	for _, t := range in {
		var r []*trav
		var err error
		if s.edge {
			r, err = s.mergeE(x, tx, t)
		} else {
			r, err = s.mergeV(x, tx, t)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r...)
	}
	return out, nil
}

// materialize evaluates a merge map or option for one traverser; a missing
// or null map is nil (an empty map).
func (s *mergeStep) materialize(x *execCtx, o mergeOpt, t *trav, isOption bool) (map[any]any, error) {
	if o.tr == nil {
		return o.m, nil
	}
	v, err := x.mustFirst(o.tr, t, s.op()+"() option")
	if err != nil {
		return nil, err
	}
	return s.asMergeMap(v, isOption)
}

func (s *mergeStep) asMergeMap(v any, isOption bool) (map[any]any, error) {
	if v == nil {
		return nil, nil
	}
	m, ok := v.(map[any]any)
	if !ok {
		return nil, invalid("%s() expects a Map, got %s", s.op(), javaClass(v))
	}
	return normalizeMergeMap(m, s.edge, isOption)
}

func (s *mergeStep) mergeMap(x *execCtx, t *trav) (map[any]any, error) {
	if s.arg.set && s.arg.tr == nil {
		return s.arg.m, nil // validated when compiled
	}
	var m map[any]any
	var err error
	if s.arg.set {
		m, err = s.materialize(x, s.arg, t, false)
	} else {
		m, err = s.asMergeMap(t.val, false)
	}
	if err != nil {
		return nil, err
	}
	if err := s.validate(m, false); err != nil {
		return nil, err
	}
	return m, nil
}

func isElement(v any) bool {
	switch v.(type) {
	case *vertex, *edge, *vpropRef, *epropRef:
		return true
	}
	return false
}

// onMatchMap materialises option(onMatch) for one matched element.
func (s *mergeStep) onMatchMap(x *execCtx, t *trav, matched any) (map[any]any, error) {
	cur := t
	if s.start {
		cur = t.to(matched)
	} else if s.onMatch.tr != nil && isElement(t.val) {
		return nil, invalid("The incoming traverser for %s cannot be an Element", s.stepClass())
	}
	m, err := s.materialize(x, s.onMatch, cur, true)
	if err != nil {
		return nil, err
	}
	if err := s.validate(m, true); err != nil {
		return nil, err
	}
	return m, nil
}

// onCreateMap is the union of the merge map and option(onCreate), which may
// not override the merge map's values.
func (s *mergeStep) onCreateMap(x *execCtx, t *trav, unresolved, merged map[any]any) (map[any]any, error) {
	if !s.onCreate.set {
		return merged, nil
	}
	oc, err := s.materialize(x, s.onCreate, t, true)
	if err != nil {
		return nil, err
	}
	if len(oc) == 0 {
		return merged, nil
	}
	if err := s.validate(oc, false); err != nil {
		return nil, err
	}
	if len(unresolved) == 0 {
		return oc, nil
	}
	if err := validateNoOverrides(unresolved, oc); err != nil {
		return nil, err
	}
	combined := make(map[any]any, len(oc)+len(merged))
	for k, v := range oc {
		combined[k] = v
	}
	for k, v := range merged {
		combined[k] = v
	}
	return combined, nil
}

func stringKeys(m map[any]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if ks, ok := k.(string); ok {
			keys = append(keys, ks)
		}
	}
	sort.Strings(keys)
	return keys
}

func searchPredicate(v any) (*predicate, error) {
	if p, ok := asP(v); ok {
		return compilePredicate(p)
	}
	return &predicate{op: "eq", vals: []any{v}}, nil
}

type propTest struct {
	key  string
	pred *predicate
}

// propTests compiles the has(key, value) part of a merge search.
func propTests(m map[any]any) ([]propTest, error) {
	var out []propTest
	for k, v := range m {
		ks, ok := k.(string)
		if !ok {
			continue
		}
		p, err := searchPredicate(v)
		if err != nil {
			return nil, err
		}
		out = append(out, propTest{key: ks, pred: p})
	}
	return out, nil
}

func propsMatch(tests []propTest, get func(string) []any) bool {
	for _, pt := range tests {
		found := false
		for _, x := range get(pt.key) {
			if pt.pred.test(x) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func vertexValues(v *vertex) func(string) []any {
	return func(k string) []any {
		if _, p := v.prop(k); p != nil {
			return p.values
		}
		return nil
	}
}

func edgeValues(e *edge) func(string) []any {
	return func(k string) []any {
		if _, p := e.prop(k); p != nil {
			return []any{p.value}
		}
		return nil
	}
}

func (x *execCtx) searchVertices(m map[any]any) ([]*vertex, error) {
	var cands []*vertex
	if idv, ok := m[tokenID]; ok {
		id, err := idOf(idv)
		if err != nil {
			return nil, err
		}
		if v := x.g.vertices[id]; v != nil {
			cands = []*vertex{v}
		}
	} else {
		cands = make([]*vertex, 0, len(x.g.vertices))
		for _, v := range x.g.vlist {
			if !v.dead {
				cands = append(cands, v)
			}
		}
	}
	label, hasLabel := m[tokenLabel].(string)
	tests, err := propTests(m)
	if err != nil {
		return nil, err
	}
	out := cands[:0]
	for _, v := range cands {
		if hasLabel && !v.hasLabel(label) {
			continue
		}
		if propsMatch(tests, vertexValues(v)) {
			out = append(out, v)
		}
	}
	return out, nil
}

// ---- mergeV ----

func (s *mergeStep) mergeV(x *execCtx, tx *txn, t *trav) ([]*trav, error) {
	m, err := s.mergeMap(x, t)
	if err != nil {
		return nil, err
	}
	matches, err := x.searchVertices(m)
	if err != nil {
		return nil, err
	}
	if len(matches) > 0 {
		out := make([]*trav, 0, len(matches))
		for _, v := range matches {
			if s.onMatch.set {
				mm, err := s.onMatchMap(x, t, v)
				if err != nil {
					return nil, err
				}
				if err := applyVertexProps(tx, v, mm); err != nil {
					return nil, err
				}
			}
			out = append(out, t.to(v))
		}
		return out, nil
	}

	cm, err := s.onCreateMap(x, t, m, m)
	if err != nil {
		return nil, err
	}
	label := "vertex"
	if l, ok := cm[tokenLabel]; ok {
		label = l.(string) // validated
	}
	labels, err := vertexLabels(label)
	if err != nil {
		return nil, err
	}
	var id string
	if idv, ok := cm[tokenID]; ok {
		if id, err = newElementID(idv); err != nil {
			return nil, err
		}
		if x.g.vertices[id] != nil {
			return nil, errf(CodeConstraintViolation, "Vertex with id already exists: %s", id)
		}
	} else {
		id = uuid.NewString()
	}
	v := tx.addVertex(id, labels)
	if err := applyVertexProps(tx, v, cm); err != nil {
		return nil, err
	}
	return []*trav{t.to(v)}, nil
}

// applyVertexProps writes a merge map's String keys: a CardinalityValue with
// its cardinality, anything else with Neptune's default (set).
func applyVertexProps(tx *txn, v *vertex, m map[any]any) error {
	for _, k := range stringKeys(m) {
		val, card := m[k], cardSet
		if cv, ok := val.(cardValue); ok {
			val, card = cv.val, cv.card
		}
		if val != nil {
			var err error
			if val, err = storedValue(k, val); err != nil {
				return err
			}
		}
		tx.setVertexProperty(v, card, k, val)
	}
	return nil
}

// ---- mergeE ----

func (s *mergeStep) mergeE(x *execCtx, tx *txn, t *trav) ([]*trav, error) {
	um, err := s.mergeMap(x, t)
	if err != nil {
		return nil, err
	}
	m, err := s.resolveVertices(x, t, um)
	if err != nil {
		return nil, err
	}
	matches, err := x.searchEdges(m)
	if err != nil {
		return nil, err
	}
	if len(matches) > 0 {
		out := make([]*trav, 0, len(matches))
		for _, e := range matches {
			if s.onMatch.set {
				mm, err := s.onMatchMap(x, t, e)
				if err != nil {
					return nil, err
				}
				for _, k := range stringKeys(mm) {
					val, err := storedValue(k, mm[k])
					if err != nil {
						return nil, err
					}
					tx.setEdgeProperty(e, k, val)
				}
			}
			out = append(out, t.to(e))
		}
		return out, nil
	}

	cm, err := s.onCreateMap(x, t, um, m)
	if err != nil {
		return nil, err
	}
	if s.onCreate.set && len(cm) > 0 {
		if cm, err = s.resolveVertices(x, t, cm); err != nil {
			return nil, err
		}
	}
	if _, ok := cm[dirOut]; !ok {
		return nil, invalid("Out Vertex not specified in onCreate - edge cannot be created")
	}
	if _, ok := cm[dirIn]; !ok {
		return nil, invalid("In Vertex not specified in onCreate - edge cannot be created")
	}
	from, err := x.mergeEndpoint(cm[dirOut])
	if err != nil {
		return nil, err
	}
	to, err := x.mergeEndpoint(cm[dirIn])
	if err != nil {
		return nil, err
	}
	label := "edge"
	if l, ok := cm[tokenLabel]; ok {
		label = l.(string) // validated
	}
	var id string
	if idv, ok := cm[tokenID]; ok {
		if id, err = newElementID(idv); err != nil {
			return nil, err
		}
		if x.g.edges[id] != nil {
			return nil, errf(CodeConstraintViolation, "Edge with id already exists: %s", id)
		}
	} else {
		id = uuid.NewString()
	}
	keys := stringKeys(cm)
	vals := make([]any, len(keys))
	for i, k := range keys {
		if vals[i], err = storedValue(k, cm[k]); err != nil {
			return nil, err
		}
	}
	e := tx.addEdge(id, label, from, to)
	for i, k := range keys {
		tx.setEdgeProperty(e, k, vals[i])
	}
	return []*trav{t.to(e)}, nil
}

// resolveVertices replaces Merge.outV/inV tokens and Vertex values under
// Direction.OUT/IN by vertex ids, in a copy of the map.
func (s *mergeStep) resolveVertices(x *execCtx, t *trav, m map[any]any) (map[any]any, error) {
	var out map[any]any
	for _, d := range []struct {
		dir graphbinary.Enum
		tok string
		opt mergeOpt
	}{{dirOut, "outV", s.outV}, {dirIn, "inV", s.inV}} {
		v, ok := m[d.dir]
		if !ok {
			continue
		}
		var id string
		if tok, isMerge := asEnum(v, graphbinary.EnumMerge); isMerge && tok == d.tok {
			if !d.opt.set {
				return nil, invalid("option(%s) must be specified if it is used for %s", d.tok, d.dir.Value)
			}
			vert, err := s.optionVertex(x, t, d.opt)
			if err != nil {
				return nil, err
			}
			id = vert.id
		} else if isElement(v) || isVertexRef(v) {
			var err error
			if id, err = idOf(v); err != nil {
				return nil, err
			}
		} else {
			continue
		}
		if out == nil {
			out = make(map[any]any, len(m))
			for k, val := range m {
				out[k] = val
			}
		}
		out[d.dir] = id
	}
	if out == nil {
		return m, nil
	}
	return out, nil
}

func isVertexRef(v any) bool {
	switch v.(type) {
	case graphbinary.Vertex, *graphbinary.Vertex:
		return true
	}
	return false
}

// optionVertex resolves option(Merge.outV/inV, ...): a traversal or Map
// giving a Vertex, or a Map used to search for one.
func (s *mergeStep) optionVertex(x *execCtx, t *trav, o mergeOpt) (*vertex, error) {
	var v any = o.m
	if o.tr != nil {
		var err error
		if v, err = x.mustFirst(o.tr, t, "option(Merge)"); err != nil {
			return nil, err
		}
	}
	switch r := v.(type) {
	case *vertex:
		if r.dead {
			return nil, invalid("Vertex does not exist for mergeE: %s", r.id)
		}
		return r, nil
	case graphbinary.Vertex, *graphbinary.Vertex:
		return x.mergeEndpoint(r)
	case map[any]any:
		found, err := x.searchVertices(r)
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, invalid("Vertex does not exist for mergeE: no vertex matches %s", describe(r))
		}
		return found[0], nil
	}
	return nil, invalid("Vertex could not be resolved from mergeE: %s", describe(v))
}

// mergeEndpoint finds the vertex a mergeE() create refers to; it must exist.
func (x *execCtx) mergeEndpoint(v any) (*vertex, error) {
	id, err := idOf(v)
	if err != nil {
		return nil, err
	}
	if found := x.g.vertices[id]; found != nil {
		return found, nil
	}
	return nil, invalid("Vertex does not exist for mergeE: %s", id)
}

func (x *execCtx) searchEdges(m map[any]any) ([]*edge, error) {
	optID := func(k graphbinary.Enum) (string, bool, error) {
		v, ok := m[k]
		if !ok {
			return "", false, nil
		}
		id, err := idOf(v)
		return id, true, err
	}
	eid, hasEID, err := optID(tokenID)
	if err != nil {
		return nil, err
	}
	from, hasFrom, err := optID(dirOut)
	if err != nil {
		return nil, err
	}
	to, hasTo, err := optID(dirIn)
	if err != nil {
		return nil, err
	}
	label, hasLabel := m[tokenLabel].(string)

	var cands []*edge
	switch {
	case hasEID:
		if e := x.g.edges[eid]; e != nil {
			cands = []*edge{e}
		}
	case hasFrom:
		if v := x.g.vertices[from]; v != nil {
			cands = v.out
		}
	case hasTo:
		if v := x.g.vertices[to]; v != nil {
			cands = v.in
		}
	default:
		for _, e := range x.g.elist {
			if !e.dead {
				cands = append(cands, e)
			}
		}
	}
	tests, err := propTests(m)
	if err != nil {
		return nil, err
	}
	var out []*edge
	for _, e := range cands {
		if hasLabel && e.label != label {
			continue
		}
		if hasFrom && e.from.id != from {
			continue
		}
		if hasTo && e.to.id != to {
			continue
		}
		if propsMatch(tests, edgeValues(e)) {
			out = append(out, e)
		}
	}
	return out, nil
}
