package graph

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

// Execute runs one traversal as ONE transaction: if it fails, nothing it
// changed remains. Results are the traversal's output values in order, with
// elements as reference elements (graphbinary.Vertex, Edge, VertexProperty,
// Property) and collections as []any / map[any]any.
//
// Errors are *Error values carrying Neptune's exception name. A traversal of
// more than MaxSteps steps is refused before anything runs. The context is
// checked between steps; cancellation rolls back.
func (g *Graph) Execute(ctx context.Context, bc *graphbinary.Bytecode) (results []any, err error) {
	return g.ExecuteWith(ctx, bc, ExecOptions{})
}

// ExecOptions change how ExecuteWith treats one traversal. The zero value is
// Execute.
type ExecOptions struct {
	// ReadOnly refuses a traversal that writes with ReadOnlyViolationException
	// before it runs, as a Neptune read replica (or a writer demoted by a
	// failover) does. Reads run as usual.
	ReadOnly bool
	// RefuseWrite, when set, is asked once about a traversal that writes,
	// before it runs; a non-nil error refuses the traversal with it. The
	// server uses it to inject Neptune's errors into writes only, so that
	// reads (a client's health probe) still succeed.
	RefuseWrite func() *Error
}

// ExecuteWith is Execute with options. Whether a traversal writes is decided
// by compiling it (any write step at any depth), so the refusals happen
// before the graph is locked and nothing is applied.
func (g *Graph) ExecuteWith(ctx context.Context, bc *graphbinary.Bytecode, opts ExecOptions) (results []any, err error) {
	if bc == nil {
		return nil, malformed("no traversal was given")
	}
	if n := CountSteps(bc); n > MaxSteps {
		return nil, errf(CodeQueryTooLarge,
			"The traversal has %d steps, more than the limit of %d steps per request; split it into smaller requests", n, MaxSteps)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	if err := ctxError(ctx.Err()); err != nil {
		return nil, err
	}
	if err := checkLambdas(bc); err != nil {
		return nil, err
	}
	if hasBinding(bc) {
		bc = unbind(bc).(*graphbinary.Bytecode)
	}
	src, err := readSources(bc)
	if err != nil {
		return nil, err
	}
	c := &compiler{}
	tr, err := c.compile(bc, true)
	if err != nil {
		return nil, err
	}
	if src.readOnly && c.mutating {
		return nil, invalid("The provided traversal has a mutating step and thus is not read only: ReadOnlyStrategy")
	}
	if c.mutating && opts.ReadOnly {
		return nil, errf(CodeReadOnlyViolation, "%s", MsgReadOnlyViolation)
	}
	if c.mutating && opts.RefuseWrite != nil {
		if e := opts.RefuseWrite(); e != nil {
			return nil, e
		}
	}

	x := &execCtx{ctx: ctx, g: g, sideEffects: src.sideEffects}
	if c.mutating {
		g.mu.Lock()
		defer g.mu.Unlock()
		x.tx = g.begin()
	} else {
		g.mu.RLock()
		defer g.mu.RUnlock()
	}
	defer func() {
		if r := recover(); r != nil {
			if x.tx != nil {
				x.tx.rollback()
			}
			results, err = nil, errf("InternalFailureException", "internal error while executing the traversal: %v", r)
		}
	}()

	out, err := x.run(tr, []*trav{{}})
	if err != nil {
		if x.tx != nil {
			x.tx.rollback()
		}
		return nil, err
	}
	results = make([]any, len(out))
	for i, t := range out {
		results[i] = exportValue(t.val)
	}
	if x.tx != nil {
		x.tx.commit()
	}
	return results, nil
}

func ctxError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, context.DeadlineExceeded):
		return errf(CodeTimeLimitExceeded, "Operation terminated (deadline exceeded): %v", err)
	}
	return errf(CodeCancelledByUser, "Operation terminated (cancelled by user): %v", err)
}

// CountSteps counts every instruction of the traversal: source instructions
// and steps, including those of nested (anonymous) traversals wherever they
// appear in arguments (inside maps and lists too, e.g. CardinalityValue
// traversals inside mergeV maps).
func CountSteps(bc *graphbinary.Bytecode) int {
	if bc == nil {
		return 0
	}
	n := len(bc.Sources) + len(bc.Steps)
	for _, list := range [][]graphbinary.Instruction{bc.Sources, bc.Steps} {
		for _, ins := range list {
			for _, a := range ins.Args {
				n += countNested(a)
			}
		}
	}
	return n
}

func countNested(v any) int {
	switch x := v.(type) {
	case *graphbinary.Bytecode:
		return CountSteps(x)
	case graphbinary.Bytecode:
		return CountSteps(&x)
	case []any:
		n := 0
		for _, e := range x {
			n += countNested(e)
		}
		return n
	case graphbinary.Set:
		return countNested([]any(x))
	case map[any]any:
		n := 0
		for k, e := range x {
			n += countNested(k) + countNested(e)
		}
		return n
	case graphbinary.P:
		return countNested(x.Values)
	case *graphbinary.P:
		if x != nil {
			return countNested(x.Values)
		}
	case graphbinary.Binding:
		return countNested(x.Value)
	case *graphbinary.Binding:
		if x != nil {
			return countNested(x.Value)
		}
	}
	return 0
}

// walk calls fn on v and every value nested in it (through bytecode
// arguments, lists, maps, predicates and bindings) until fn returns false.
func walk(v any, fn func(any) bool) bool {
	if !fn(v) {
		return false
	}
	switch x := v.(type) {
	case *graphbinary.Bytecode:
		if x == nil {
			return true
		}
		for _, list := range [][]graphbinary.Instruction{x.Sources, x.Steps} {
			for _, ins := range list {
				for _, a := range ins.Args {
					if !walk(a, fn) {
						return false
					}
				}
			}
		}
	case graphbinary.Bytecode:
		return walk(&x, fn)
	case []any:
		for _, e := range x {
			if !walk(e, fn) {
				return false
			}
		}
	case graphbinary.Set:
		return walk([]any(x), fn)
	case map[any]any:
		for k, e := range x {
			if !walk(k, fn) || !walk(e, fn) {
				return false
			}
		}
	case graphbinary.P:
		return walk(x.Values, fn)
	case *graphbinary.P:
		if x != nil {
			return walk(x.Values, fn)
		}
	case graphbinary.Binding:
		return walk(x.Value, fn)
	case *graphbinary.Binding:
		if x != nil {
			return walk(x.Value, fn)
		}
	}
	return true
}

func checkLambdas(bc *graphbinary.Bytecode) error {
	var found *graphbinary.Lambda
	walk(bc, func(v any) bool {
		switch l := v.(type) {
		case graphbinary.Lambda:
			found = &l
		case *graphbinary.Lambda:
			found = l
		}
		return found == nil
	})
	if found != nil {
		return unsupported("Lambda steps are not supported by Neptune (found lambda %q)", found.Script)
	}
	return nil
}

func hasBinding(bc *graphbinary.Bytecode) bool {
	found := false
	walk(bc, func(v any) bool {
		switch v.(type) {
		case graphbinary.Binding, *graphbinary.Binding:
			found = true
		}
		return !found
	})
	return found
}

// unbind replaces bindings by their values (Neptune ignores binding names).
func unbind(v any) any {
	switch x := v.(type) {
	case graphbinary.Binding:
		return unbind(x.Value)
	case *graphbinary.Binding:
		if x == nil {
			return nil
		}
		return unbind(x.Value)
	case *graphbinary.Bytecode:
		if x == nil {
			return x
		}
		out := &graphbinary.Bytecode{}
		for _, ins := range x.Sources {
			out.Sources = append(out.Sources, graphbinary.Instruction{Operator: ins.Operator, Args: unbind(ins.Args).([]any)})
		}
		for _, ins := range x.Steps {
			out.Steps = append(out.Steps, graphbinary.Instruction{Operator: ins.Operator, Args: unbind(ins.Args).([]any)})
		}
		return out
	case graphbinary.Bytecode:
		return unbind(&x)
	case []any:
		if x == nil {
			return []any(nil)
		}
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = unbind(e)
		}
		return out
	case graphbinary.Set:
		return graphbinary.Set(unbind([]any(x)).([]any))
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, e := range x {
			out[unbind(k)] = unbind(e)
		}
		return out
	case graphbinary.P:
		x.Values = unbind(x.Values).([]any)
		return x
	case *graphbinary.P:
		if x == nil {
			return x
		}
		p := *x
		p.Values = unbind(p.Values).([]any)
		return p
	}
	return v
}

// ---- source instructions ----

type sources struct {
	sideEffects map[string]any
	readOnly    bool
}

func readSources(bc *graphbinary.Bytecode) (sources, error) {
	var s sources
	for _, ins := range bc.Sources {
		switch ins.Operator {
		case "withStrategies":
			for _, a := range ins.Args {
				var class string
				switch st := a.(type) {
				case graphbinary.Strategy:
					class = st.Class
				case *graphbinary.Strategy:
					if st != nil {
						class = st.Class
					}
				default:
					return s, malformed("withStrategies() takes strategies, got %s", javaClass(a))
				}
				name := class[strings.LastIndex(class, ".")+1:]
				switch name {
				case "OptionsStrategy":
					// Request options and Neptune query hints: nothing to do here.
				case "ReadOnlyStrategy":
					s.readOnly = true
				case "LambdaRestrictionStrategy":
					// Lambdas are refused whatever the strategies say.
				default:
					return s, unsupported("Traversal strategy %s is not supported by the local Neptune stand-in", name)
				}
			}
		case "withoutStrategies":
			// Optimisation strategies only; the stand-in applies none.
		case "withSideEffect":
			if len(ins.Args) != 2 {
				return s, unsupported("withSideEffect() with %d arguments (a reducer) is not supported", len(ins.Args))
			}
			k, ok := ins.Args[0].(string)
			if !ok {
				return s, malformed("withSideEffect() takes a String key, got %s", javaClass(ins.Args[0]))
			}
			if s.sideEffects == nil {
				s.sideEffects = map[string]any{}
			}
			s.sideEffects[k] = ins.Args[1]
		case "withPath", "withBulk":
			// Paths are always kept; bulking is not used.
		default:
			return s, unsupported("Source instruction %s() is not supported by the local Neptune stand-in", ins.Operator)
		}
	}
	return s, nil
}

// ---- runtime ----

// trav is a traverser: a value, the labelled path that led to it (for
// select()) and, after outE()/inE()/bothE(), the vertex it came from (for
// otherV()).
type trav struct {
	val  any
	path *pathNode
	prev *vertex
}

type pathNode struct {
	label string
	val   any
	next  *pathNode
}

func (t *trav) to(v any) *trav { return &trav{val: v, path: t.path} }

func (t *trav) clone() *trav { c := *t; return &c }

// vpropRef is one value of a vertex property, as properties() yields it.
type vpropRef struct {
	v     *vertex
	key   string
	value any
}

// epropRef is an edge property.
type epropRef struct {
	e     *edge
	key   string
	value any
}

type execCtx struct {
	ctx         context.Context
	g           *Graph
	tx          *txn
	sideEffects map[string]any
}

func (x *execCtx) check() error {
	select {
	case <-x.ctx.Done():
		if err := x.ctx.Err(); err != nil {
			return ctxError(err)
		}
		return ctxError(context.Canceled)
	default:
		return nil
	}
}

func (x *execCtx) run(tr *traversal, in []*trav) ([]*trav, error) {
	cur := in
	for _, s := range tr.steps {
		if err := x.check(); err != nil {
			return nil, err
		}
		out, err := s.impl.run(x, cur)
		if err != nil {
			return nil, err
		}
		if len(s.labels) > 0 {
			for _, t := range out {
				for _, l := range s.labels {
					t.path = &pathNode{label: l, val: t.val, next: t.path}
				}
			}
		}
		cur = out
	}
	return cur, nil
}

// sub runs a nested traversal on a copy of one traverser.
func (x *execCtx) sub(tr *traversal, t *trav) ([]*trav, error) {
	return x.run(tr, []*trav{t.clone()})
}

// first runs a nested traversal until its first value, the way TinkerPop's
// next() does: steps up to the last barrier (count, fold, dedup, range) run
// over all traversers, the rest depth-first, one traverser at a time, so
// writes after the last barrier happen only for the traverser that yields
// the first value.
func (x *execCtx) first(tr *traversal, t *trav) (any, bool, error) {
	steps := tr.steps
	cur := []*trav{t.clone()}
	last := -1
	for i, s := range steps {
		switch s.impl.(type) {
		case countStep, foldStep, dedupStep, *rangeStep:
			last = i
		}
	}
	if last >= 0 {
		var err error
		if cur, err = x.run(&traversal{steps: steps[:last+1]}, cur); err != nil {
			return nil, false, err
		}
		steps = steps[last+1:]
	}
	for _, c := range cur {
		r, err := x.depthFirst(steps, c)
		if err != nil || r != nil {
			return valOf(r), r != nil, err
		}
	}
	return nil, false, nil
}

func valOf(t *trav) any {
	if t == nil {
		return nil
	}
	return t.val
}

func (x *execCtx) depthFirst(steps []*stepNode, t *trav) (*trav, error) {
	if len(steps) == 0 {
		return t, nil
	}
	out, err := x.run(&traversal{steps: steps[:1]}, []*trav{t})
	if err != nil {
		return nil, err
	}
	for _, o := range out {
		r, err := x.depthFirst(steps[1:], o)
		if err != nil || r != nil {
			return r, err
		}
	}
	return nil, nil
}

// exists reports whether a nested traversal yields anything (hasNext()).
func (x *execCtx) exists(tr *traversal, t *trav) (bool, error) {
	_, ok, err := x.first(tr, t)
	return ok, err
}

// mustFirst is TraversalUtil.apply: the traversal must produce a value.
func (x *execCtx) mustFirst(tr *traversal, t *trav, what string) (any, error) {
	v, ok, err := x.first(tr, t)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, invalid("The provided traverser does not map to a value: %s -> %s", describe(t.val), what)
	}
	return v, nil
}

func (x *execCtx) writable() *txn {
	if x.tx == nil {
		// compile() marks every mutating step; reaching here is a bug.
		panic("mutation in a read-only traversal")
	}
	return x.tx
}

// scope finds the value select(key) refers to: a key of the current Map, a
// side effect, or a labelled step in the path.
func (x *execCtx) scope(t *trav, key, pop string) (any, bool) {
	if m, ok := t.val.(map[any]any); ok {
		if v, ok := m[key]; ok {
			return v, true
		}
	}
	if v, ok := x.sideEffects[key]; ok {
		return v, true
	}
	switch pop {
	case "first":
		var v any
		found := false
		for n := t.path; n != nil; n = n.next {
			if n.label == key {
				v, found = n.val, true
			}
		}
		return v, found
	case "all", "mixed":
		var all []any
		for n := t.path; n != nil; n = n.next {
			if n.label == key {
				all = append(all, n.val)
			}
		}
		if len(all) == 0 {
			return nil, false
		}
		for i, j := 0, len(all)-1; i < j; i, j = i+1, j-1 {
			all[i], all[j] = all[j], all[i]
		}
		if pop == "mixed" && len(all) == 1 {
			return all[0], true
		}
		return all, true
	}
	for n := t.path; n != nil; n = n.next {
		if n.label == key {
			return n.val, true
		}
	}
	return nil, false
}

// ---- results ----

func exportValue(v any) any {
	switch x := v.(type) {
	case *vertex:
		return graphbinary.Vertex{ID: x.id, Label: x.label}
	case *edge:
		return graphbinary.Edge{
			ID: x.id, Label: x.label,
			OutV: graphbinary.Vertex{ID: x.from.id, Label: x.from.label},
			InV:  graphbinary.Vertex{ID: x.to.id, Label: x.to.label},
		}
	case *vpropRef:
		return graphbinary.VertexProperty{ID: vertexPropertyID(x), Label: x.key, Value: x.value}
	case *epropRef:
		return graphbinary.Property{Key: x.key, Value: x.value}
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = exportValue(e)
		}
		return out
	case graphbinary.Set:
		return graphbinary.Set(exportValue([]any(x)).([]any))
	case map[any]any:
		out := make(map[any]any, len(x))
		for k, e := range x {
			out[exportValue(k)] = exportValue(e)
		}
		return out
	case cardValue:
		return exportValue(x.val)
	}
	return v
}

// vertexPropertyID is a stable, generated VertexProperty id. Neptune's are
// generated numbers that may be negative, and so is this one.
func vertexPropertyID(p *vpropRef) int64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s\x00%s\x00%T:%v", p.v.id, p.key, p.value, p.value)
	return int64(h.Sum64())
}

// describe renders a value for error messages.
func describe(v any) string {
	switch x := v.(type) {
	case *vertex:
		return "v[" + x.id + "]"
	case *edge:
		return "e[" + x.id + "][" + x.from.id + "-" + x.label + "->" + x.to.id + "]"
	case *vpropRef:
		return fmt.Sprintf("vp[%s->%v]", x.key, x.value)
	case *epropRef:
		return fmt.Sprintf("p[%s->%v]", x.key, x.value)
	case graphbinary.Enum:
		return x.Value
	case nil:
		return "null"
	}
	return fmt.Sprint(v)
}
