package graph

import (
	"sort"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

// compiler turns bytecode into traversals of step implementations, attaching
// modulators (as, by, option, from, to, with) to the step they modulate and
// folding property() calls into addV()/addE() the way GraphTraversal does.
type compiler struct {
	mutating bool // some step (at any depth) writes to the graph
}

type traversal struct {
	steps []*stepNode
}

type stepNode struct {
	name   string
	impl   stepImpl
	labels []string // as() labels
}

type stepImpl interface {
	run(x *execCtx, in []*trav) ([]*trav, error)
}

// Modulator receivers.
type byTaker interface{ addBy(b *byMod) error }
type optionTaker interface {
	addOption(c *compiler, args []any) error
}
type endTaker interface {
	setEnd(c *compiler, which string, arg any) error
}
type withTaker interface{ addWith(args []any) error }

var startSteps = map[string]bool{
	"V": true, "E": true, "addV": true, "addE": true, "mergeV": true, "mergeE": true, "inject": true,
}

func (c *compiler) compile(bc *graphbinary.Bytecode, root bool) (*traversal, error) {
	if !root && len(bc.Sources) > 0 {
		if _, ok, _ := cardinalityValue(bc); ok {
			return nil, invalid("A CardinalityValue can only be used as a value of a mergeV() map")
		}
		return nil, malformed("An anonymous traversal cannot have source instructions (%s)", bc.Sources[0].Operator)
	}
	// c.mutating is reset for this traversal so that it tells whether a
	// step so far (nested ones included) writes; it is or-ed back at the end.
	outer := c.mutating
	c.mutating = false
	defer func() { c.mutating = outer || c.mutating }()
	tr := &traversal{}
	for _, ins := range bc.Steps {
		op, args := ins.Operator, ins.Args
		var last *stepNode
		if len(tr.steps) > 0 {
			last = tr.steps[len(tr.steps)-1]
		}
		switch op {
		case "as":
			if len(args) == 0 {
				return nil, malformed("as() needs at least one label")
			}
			labels, err := stringArgs(op, args)
			if err != nil {
				return nil, err
			}
			if last == nil {
				if root {
					return nil, malformed("as() cannot start a traversal")
				}
				last = &stepNode{name: "identity", impl: identityStep{}}
				tr.steps = append(tr.steps, last)
			}
			last.labels = append(last.labels, labels...)
			continue
		case "by":
			if last == nil {
				return nil, malformed("by() must follow the step it modulates")
			}
			bt, ok := last.impl.(byTaker)
			if !ok {
				return nil, unsupported("by() modulating %s() is not supported", last.name)
			}
			b, err := c.byModulator(args)
			if err != nil {
				return nil, err
			}
			if err := bt.addBy(b); err != nil {
				return nil, err
			}
			continue
		case "option":
			if last == nil {
				return nil, malformed("option() must follow mergeV() or mergeE()")
			}
			ot, ok := last.impl.(optionTaker)
			if !ok {
				return nil, malformed("option() cannot modulate %s(); it is only supported after mergeV() and mergeE()", last.name)
			}
			if err := ot.addOption(c, args); err != nil {
				return nil, err
			}
			continue
		case "from", "to":
			if last == nil {
				return nil, malformed("%s() must follow addE()", op)
			}
			et, ok := last.impl.(endTaker)
			if !ok {
				return nil, malformed("%s() cannot modulate %s(); it is only supported after addE()", op, last.name)
			}
			if len(args) != 1 {
				return nil, malformed("%s() takes one argument, got %d", op, len(args))
			}
			if err := et.setEnd(c, op, args[0]); err != nil {
				return nil, err
			}
			continue
		case "with":
			if last == nil {
				return nil, malformed("with() must follow the step it configures")
			}
			wt, ok := last.impl.(withTaker)
			if !ok {
				return nil, unsupported("with() configuring %s() is not supported", last.name)
			}
			if err := wt.addWith(args); err != nil {
				return nil, err
			}
			continue
		case "property":
			if root && last == nil {
				return nil, malformed("property() cannot start a traversal")
			}
			c.mutating = true
			if err := c.property(tr, args); err != nil {
				return nil, err
			}
			continue
		}
		start := root && len(tr.steps) == 0
		if start && !startSteps[op] {
			return nil, malformed("%s() cannot start a traversal; a traversal starts with V(), E(), addV(), addE(), mergeV(), mergeE() or inject()", op)
		}
		if (op == "limit" || op == "range") && c.mutating {
			// TinkerPop evaluates lazily: how many upstream writes happen
			// before limit() stops pulling is an artefact of its iterators
			// (it pulls one traverser past the limit). Refuse rather than
			// guess.
			return nil, unsupported("%s() after a step that writes to the graph is not supported by the local Neptune stand-in: TinkerPop's lazy evaluation decides how many writes happen", op)
		}
		impl, err := c.step(op, args, start)
		if err != nil {
			return nil, err
		}
		tr.steps = append(tr.steps, &stepNode{name: op, impl: impl})
	}
	return tr, nil
}

// sub compiles an anonymous traversal argument.
func (c *compiler) sub(op string, v any) (*traversal, error) {
	bc, ok := asBytecode(v)
	if !ok {
		return nil, malformed("%s() takes a traversal, got %s", op, javaClass(v))
	}
	return c.compile(bc, false)
}

func (c *compiler) subs(op string, args []any) ([]*traversal, error) {
	out := make([]*traversal, 0, len(args))
	for _, a := range args {
		t, err := c.sub(op, a)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (c *compiler) step(op string, args []any, start bool) (stepImpl, error) {
	noArgs := func(s stepImpl) (stepImpl, error) {
		if len(args) != 0 {
			return nil, unsupported("%s() with arguments is not supported", op)
		}
		return s, nil
	}
	switch op {
	case "V", "E":
		return newGraphStep(op == "E", args), nil
	case "inject":
		return &injectStep{start: start, vals: args}, nil
	case "addV":
		c.mutating = true
		return c.newAddV(args)
	case "addE":
		c.mutating = true
		return c.newAddE(args, start)
	case "mergeV", "mergeE":
		c.mutating = true
		return c.newMerge(op == "mergeE", args, start)
	case "drop":
		c.mutating = true
		return noArgs(dropStep{})
	case "has":
		return c.newHas(args)
	case "hasLabel":
		return newHasLabel(args)
	case "hasId":
		return newHasID(args)
	case "hasNot":
		if len(args) != 1 {
			return nil, malformed("hasNot() takes one property key")
		}
		k, ok := args[0].(string)
		if !ok {
			return nil, unsupported("hasNot(%s) is not supported", javaClass(args[0]))
		}
		return &hasNotStep{key: k}, nil
	case "is":
		if len(args) != 1 {
			return nil, malformed("is() takes one value or predicate")
		}
		p, err := predicateArg(args[0])
		if err != nil {
			return nil, err
		}
		return &isStep{pred: p}, nil
	case "id":
		return noArgs(idStep{})
	case "label":
		return noArgs(labelStep{})
	case "key":
		return noArgs(keyStep{})
	case "value":
		return noArgs(valueStep{})
	case "values", "properties":
		keys, err := stringArgs(op, args)
		if err != nil {
			return nil, err
		}
		return &propertiesStep{keys: keys, asProperties: op == "properties"}, nil
	case "valueMap":
		return newValueMap(args)
	case "elementMap":
		keys, err := stringArgs(op, args)
		if err != nil {
			return nil, err
		}
		return &elementMapStep{keys: keys}, nil
	case "count":
		return noArgs(countStep{})
	case "fold":
		return noArgs(foldStep{})
	case "unfold":
		return noArgs(unfoldStep{})
	case "identity":
		return noArgs(identityStep{})
	case "none":
		return noArgs(noneStep{})
	case "dedup":
		return noArgs(dedupStep{})
	case "limit":
		if len(args) != 1 {
			return nil, unsupported("limit() with %d arguments (local scope) is not supported", len(args))
		}
		n, ok := asInt(args[0])
		if !ok {
			return nil, malformed("limit() takes a number, got %s", javaClass(args[0]))
		}
		return &rangeStep{lo: 0, hi: n}, nil
	case "range":
		if len(args) != 2 {
			return nil, unsupported("range() with %d arguments (local scope) is not supported", len(args))
		}
		lo, ok1 := asInt(args[0])
		hi, ok2 := asInt(args[1])
		if !ok1 || !ok2 {
			return nil, malformed("range() takes two numbers")
		}
		return &rangeStep{lo: lo, hi: hi}, nil
	case "constant":
		if len(args) != 1 {
			return nil, malformed("constant() takes one value")
		}
		if _, ok := asBytecode(args[0]); ok {
			return nil, invalid("constant() takes a value, not a traversal")
		}
		return &constantStep{val: args[0]}, nil
	case "coalesce", "union", "and", "or":
		trs, err := c.subs(op, args)
		if err != nil {
			return nil, err
		}
		switch op {
		case "coalesce":
			return &coalesceStep{trs: trs}, nil
		case "union":
			return &unionStep{trs: trs}, nil
		case "and":
			return &andOrStep{trs: trs, and: true}, nil
		}
		return &andOrStep{trs: trs}, nil
	case "sideEffect", "optional", "not", "where":
		if len(args) != 1 {
			return nil, unsupported("%s() with %d arguments is not supported", op, len(args))
		}
		if _, ok := asBytecode(args[0]); !ok && op == "where" {
			return nil, unsupported("where() with a predicate is not supported; use where(traversal)")
		}
		tr, err := c.sub(op, args[0])
		if err != nil {
			return nil, err
		}
		switch op {
		case "sideEffect":
			return &sideEffectStep{tr: tr}, nil
		case "optional":
			return &optionalStep{tr: tr}, nil
		case "not":
			return &filterTraversalStep{tr: tr, negate: true}, nil
		}
		return &filterTraversalStep{tr: tr}, nil
	case "select":
		return newSelect(args)
	case "project":
		keys, err := stringArgs(op, args)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, malformed("project() needs at least one key")
		}
		return &projectStep{keys: keys}, nil
	case "out", "in", "both", "outE", "inE", "bothE":
		labels, err := stringArgs(op, args)
		if err != nil {
			return nil, err
		}
		dir := op
		edges := false
		if op[len(op)-1] == 'E' {
			dir, edges = op[:len(op)-1], true
		}
		return &adjacentStep{dir: dir, edges: edges, labels: labels}, nil
	case "outV", "inV", "bothV":
		return noArgs(&edgeVertexStep{dir: op[:len(op)-1]})
	case "otherV":
		return noArgs(otherVStep{})
	}
	return nil, unsupported("Gremlin step %s() is not supported by the local Neptune stand-in", op)
}

// ---- property() and its folding into addV()/addE() ----

func (c *compiler) property(tr *traversal, args []any) error {
	card := ""
	if len(args) > 0 {
		if cv, ok := asEnum(args[0], graphbinary.EnumCardinality); ok {
			card, args = cv, args[1:]
		}
	}
	if card == cardList {
		return unsupported("Cardinality list is not supported by Neptune; use single or set")
	}
	if len(args) == 1 {
		// property(Map) / property(Cardinality, Map)
		if args[0] == nil {
			return nil
		}
		m, ok := args[0].(map[any]any)
		if !ok {
			return malformed("property() takes a key and a value, or a Map")
		}
		for _, k := range sortedKeys(m) {
			v := m[k]
			kc := card
			cv, isCard, err := cardinalityValue(v)
			if err != nil {
				return err
			}
			if isCard {
				kc, v = cv.card, cv.val
			}
			if err := c.addProperty(tr, kc, k, v); err != nil {
				return err
			}
		}
		return nil
	}
	if len(args) < 2 {
		return malformed("property() takes a key and a value")
	}
	if len(args) > 2 {
		return unsupported("Neptune does not support meta-properties: property(%s, ..., %d more arguments)", describe(args[0]), len(args)-2)
	}
	return c.addProperty(tr, card, args[0], args[1])
}

// sortedKeys orders a map's keys for deterministic application: tokens first,
// then strings.
func sortedKeys(m map[any]any) []any {
	keys := make([]any, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		si, iStr := keys[i].(string)
		sj, jStr := keys[j].(string)
		if iStr != jStr {
			return !iStr
		}
		if iStr {
			return si < sj
		}
		return describe(keys[i]) < describe(keys[j])
	})
	return keys
}

type propValue struct {
	val any
	tr  *traversal // when the value is a traversal
}

func (c *compiler) propValue(v any) (propValue, error) {
	if bc, ok := asBytecode(v); ok {
		if _, isCard, err := cardinalityValue(bc); err != nil || isCard {
			if err != nil {
				return propValue{}, err
			}
			return propValue{}, invalid("A CardinalityValue can only be used as a value of a mergeV() map")
		}
		tr, err := c.compile(bc, false)
		if err != nil {
			return propValue{}, err
		}
		return propValue{tr: tr}, nil
	}
	return propValue{val: v}, nil
}

func (c *compiler) addProperty(tr *traversal, card string, key, value any) error {
	tok, isT := asEnum(key, graphbinary.EnumT)
	if isT {
		if tok != "id" && tok != "label" {
			return invalid("T.%s can not be set with property()", tok)
		}
		if value == nil {
			return invalid("Value of T cannot be null")
		}
	} else if _, ok := key.(string); !ok {
		return unsupported("property() with a key of type %s is not supported", javaClass(key))
	}
	if card == cardList {
		return unsupported("Cardinality list is not supported by Neptune; use single or set")
	}
	pv, err := c.propValue(value)
	if err != nil {
		return err
	}
	// Find the step property() follows, looking through unfolded property() steps.
	var end stepImpl
	for i := len(tr.steps) - 1; i >= 0; i-- {
		if _, ok := tr.steps[i].impl.(*propertyStep); !ok {
			end = tr.steps[i].impl
			break
		}
	}
	switch s := end.(type) {
	case *addEStep:
		if card != "" && card != cardSingle {
			return invalid("Multi-property cardinality of [%s] can only be set for a Vertex but is being used for addE() with key: %s", card, describe(key))
		}
		return s.fold(key, pv)
	case *addVStep:
		if isT || card == "" {
			return s.fold(key, pv)
		}
	}
	tr.steps = append(tr.steps, &stepNode{name: "property", impl: &propertyStep{card: card, key: key, value: pv}})
	return nil
}

// ---- argument helpers ----

func asBytecode(v any) (*graphbinary.Bytecode, bool) {
	switch b := v.(type) {
	case *graphbinary.Bytecode:
		return b, b != nil
	case graphbinary.Bytecode:
		return &b, true
	}
	return nil, false
}

func asEnum(v any, t graphbinary.EnumType) (string, bool) {
	switch e := v.(type) {
	case graphbinary.Enum:
		if e.Type == t {
			return e.Value, true
		}
	case *graphbinary.Enum:
		if e != nil && e.Type == t {
			return e.Value, true
		}
	}
	return "", false
}

func asInt(v any) (int64, bool) {
	i, _, isInt, ok := toNumber(v)
	return i, ok && isInt
}

func stringArgs(op string, args []any) ([]string, error) {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if l, ok := listOf(a); ok && len(args) == 1 {
			return stringArgs(op, l)
		}
		s, ok := a.(string)
		if !ok {
			return nil, malformed("%s() takes Strings, got %s", op, javaClass(a))
		}
		out = append(out, s)
	}
	return out, nil
}

// predicateArg turns a has()/is() argument into a predicate: a P as is,
// anything else as P.eq.
func predicateArg(v any) (*predicate, error) {
	if p, ok := asP(v); ok {
		return compilePredicate(p)
	}
	if _, ok := asBytecode(v); ok {
		return nil, unsupported("A traversal as a has()/is() argument is not supported")
	}
	return &predicate{op: "eq", vals: []any{v}}, nil
}

const (
	cardSingle = "single"
	cardSet    = "set"
	cardList   = "list"
)

// cardValue is a value tagged with a cardinality (CardinalityValue.single(x)
// and friends), as found in mergeV() maps.
type cardValue struct {
	card string
	val  any
}

// cardinalityValue recognises gremlin-go's CardinalityValue: a bytecode whose
// only source instruction is CardinalityValueTraversal(cardinality, value).
func cardinalityValue(v any) (cardValue, bool, error) {
	if cv, ok := v.(cardValue); ok {
		return cv, true, nil
	}
	bc, ok := asBytecode(v)
	if !ok || len(bc.Sources) != 1 || bc.Sources[0].Operator != "CardinalityValueTraversal" {
		return cardValue{}, false, nil
	}
	args := bc.Sources[0].Args
	if len(bc.Steps) != 0 || len(args) != 2 {
		return cardValue{}, false, malformed("A CardinalityValue takes a cardinality and a value")
	}
	card, ok := asEnum(args[0], graphbinary.EnumCardinality)
	if !ok {
		return cardValue{}, false, malformed("A CardinalityValue takes a Cardinality, got %s", javaClass(args[0]))
	}
	if card == cardList {
		return cardValue{}, false, unsupported("Cardinality list is not supported by Neptune; use single or set")
	}
	if card != cardSingle && card != cardSet {
		return cardValue{}, false, malformed("Unknown cardinality %s", card)
	}
	return cardValue{card: card, val: args[1]}, true, nil
}
