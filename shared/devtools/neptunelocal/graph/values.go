package graph

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

// ---- numbers ----

// toNumber reports v as an int64 (isInt) or a float64.
func toNumber(v any) (i int64, f float64, isInt, ok bool) {
	switch n := v.(type) {
	case int32:
		return int64(n), 0, true, true
	case int64:
		return n, 0, true, true
	case int:
		return int64(n), 0, true, true
	case int16:
		return int64(n), 0, true, true
	case int8:
		return int64(n), 0, true, true
	case uint8:
		return int64(n), 0, true, true
	case uint16:
		return int64(n), 0, true, true
	case uint32:
		return int64(n), 0, true, true
	case uint64:
		if n <= math.MaxInt64 {
			return int64(n), 0, true, true
		}
		return 0, float64(n), false, true
	case float64:
		return 0, n, false, true
	case float32:
		return 0, float64(n), false, true
	case *big.Int:
		if n == nil {
			return 0, 0, false, false
		}
		if n.IsInt64() {
			return n.Int64(), 0, true, true
		}
		f, _ := new(big.Float).SetInt(n).Float64()
		return 0, f, false, true
	}
	return 0, 0, false, false
}

func isNumber(v any) bool {
	_, _, _, ok := toNumber(v)
	return ok
}

// compareNumbers compares two numbers by value whatever their types, as
// Gremlin does. ok is false when either is NaN.
func compareNumbers(a, b any) (int, bool) {
	ai, af, aInt, _ := toNumber(a)
	bi, bf, bInt, _ := toNumber(b)
	if aInt && bInt {
		switch {
		case ai < bi:
			return -1, true
		case ai > bi:
			return 1, true
		}
		return 0, true
	}
	if aInt {
		af = float64(ai)
	}
	if bInt {
		bf = float64(bi)
	}
	if math.IsNaN(af) || math.IsNaN(bf) {
		return 0, false
	}
	switch {
	case af < bf:
		return -1, true
	case af > bf:
		return 1, true
	}
	return 0, true
}

// valuesEqual is Gremlin's equality: numbers by value across types, elements
// by id, containers element-wise.
func valuesEqual(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if isNumber(a) && isNumber(b) {
		c, ok := compareNumbers(a, b)
		return ok && c == 0
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := listOf(b)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case graphbinary.Set:
		return valuesEqual([]any(x), b)
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !valuesEqual(xv, yv) {
				return false
			}
		}
		return true
	case *vertex, *edge, graphbinary.Vertex, graphbinary.Edge, *graphbinary.Vertex, *graphbinary.Edge:
		ak, aok := elementKey(a)
		bk, bok := elementKey(b)
		return aok && bok && ak == bk
	case *vpropRef:
		y, ok := b.(*vpropRef)
		return ok && x.v == y.v && x.key == y.key && valuesEqual(x.value, y.value)
	case *epropRef:
		y, ok := b.(*epropRef)
		return ok && x.e == y.e && x.key == y.key && valuesEqual(x.value, y.value)
	}
	return reflect.DeepEqual(a, b)
}

func listOf(v any) ([]any, bool) {
	switch l := v.(type) {
	case []any:
		return l, true
	case graphbinary.Set:
		return []any(l), true
	}
	return nil, false
}

// elementKey identifies vertices and edges (ours and reference ones) by kind
// and id.
func elementKey(v any) (string, bool) {
	switch e := v.(type) {
	case *vertex:
		return "v:" + e.id, true
	case *edge:
		return "e:" + e.id, true
	case graphbinary.Vertex:
		return fmt.Sprint("v:", e.ID), true
	case *graphbinary.Vertex:
		return fmt.Sprint("v:", e.ID), true
	case graphbinary.Edge:
		return fmt.Sprint("e:", e.ID), true
	case *graphbinary.Edge:
		return fmt.Sprint("e:", e.ID), true
	}
	return "", false
}

// strictEquals is Java's Object.equals as TinkerPop uses it to detect
// overrides in merge maps: the same type and the same value.
func strictEquals(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	if cv, ok := a.(cardValue); ok {
		cw := b.(cardValue)
		return cv.card == cw.card && strictEquals(cv.val, cw.val)
	}
	return valuesEqual(a, b)
}

// compareValues orders two values of comparable kinds (numbers, strings,
// booleans, dates). ok is false for anything else, and for mixed kinds.
func compareValues(a, b any) (int, bool) {
	if a == nil || b == nil {
		return 0, false
	}
	if isNumber(a) && isNumber(b) {
		return compareNumbers(a, b)
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	case bool:
		if y, ok := b.(bool); ok {
			switch {
			case x == y:
				return 0, true
			case !x:
				return -1, true
			}
			return 1, true
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y), true
		}
	}
	return 0, false
}

// ---- predicates ----

type predicate struct {
	op   string
	vals []any
	subs []*predicate
	re   *regexp.Regexp
}

func asP(v any) (graphbinary.P, bool) {
	switch p := v.(type) {
	case graphbinary.P:
		return p, true
	case *graphbinary.P:
		if p != nil {
			return *p, true
		}
	}
	return graphbinary.P{}, false
}

func compilePredicate(p graphbinary.P) (*predicate, error) {
	pr := &predicate{op: p.Operator}
	switch p.Operator {
	case "eq", "neq", "lt", "lte", "gt", "gte":
		if len(p.Values) != 1 {
			return nil, malformed("P.%s() takes one value, got %d", p.Operator, len(p.Values))
		}
		pr.vals = p.Values
	case "between", "inside", "outside":
		if len(p.Values) != 2 {
			return nil, malformed("P.%s() takes two values, got %d", p.Operator, len(p.Values))
		}
		pr.vals = p.Values
	case "within", "without":
		vals := p.Values
		if len(vals) == 1 {
			if l, ok := listOf(vals[0]); ok {
				vals = l
			}
		}
		pr.vals = vals
	case "not":
		if len(p.Values) != 1 {
			return nil, malformed("P.not() takes one predicate")
		}
		sp, ok := asP(p.Values[0])
		if !ok {
			return nil, malformed("P.not() takes a predicate, got %s", javaClass(p.Values[0]))
		}
		sub, err := compilePredicate(sp)
		if err != nil {
			return nil, err
		}
		pr.subs = []*predicate{sub}
	case "and", "or":
		if len(p.Values) < 2 {
			return nil, malformed("P.%s() takes two predicates", p.Operator)
		}
		for _, v := range p.Values {
			sp, ok := asP(v)
			if !ok {
				return nil, malformed("P.%s() takes predicates, got %s", p.Operator, javaClass(v))
			}
			sub, err := compilePredicate(sp)
			if err != nil {
				return nil, err
			}
			pr.subs = append(pr.subs, sub)
		}
	case "containing", "notContaining", "startingWith", "notStartingWith", "endingWith", "notEndingWith":
		if len(p.Values) != 1 {
			return nil, malformed("TextP.%s() takes one value", p.Operator)
		}
		if _, ok := p.Values[0].(string); !ok {
			return nil, invalid("TextP.%s() takes a String, got %s", p.Operator, javaClass(p.Values[0]))
		}
		pr.vals = p.Values
	case "regex", "notRegex":
		if len(p.Values) != 1 {
			return nil, malformed("TextP.%s() takes one value", p.Operator)
		}
		s, ok := p.Values[0].(string)
		if !ok {
			return nil, invalid("TextP.%s() takes a String, got %s", p.Operator, javaClass(p.Values[0]))
		}
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, invalid("TextP.%s(): invalid regular expression %q: %v", p.Operator, s, err)
		}
		pr.re = re
	default:
		return nil, unsupported("Predicate %s is not supported", p.Operator)
	}
	return pr, nil
}

func (p *predicate) test(v any) bool {
	switch p.op {
	case "eq":
		return valuesEqual(v, p.vals[0])
	case "neq":
		return !valuesEqual(v, p.vals[0])
	case "lt", "lte", "gt", "gte":
		c, ok := compareValues(v, p.vals[0])
		if !ok {
			return false
		}
		switch p.op {
		case "lt":
			return c < 0
		case "lte":
			return c <= 0
		case "gt":
			return c > 0
		}
		return c >= 0
	case "between", "inside", "outside":
		lo, ok1 := compareValues(v, p.vals[0])
		hi, ok2 := compareValues(v, p.vals[1])
		if !ok1 || !ok2 {
			return false
		}
		switch p.op {
		case "between":
			return lo >= 0 && hi < 0
		case "inside":
			return lo > 0 && hi < 0
		}
		return lo < 0 || hi > 0
	case "within":
		for _, x := range p.vals {
			if valuesEqual(v, x) {
				return true
			}
		}
		return false
	case "without":
		for _, x := range p.vals {
			if valuesEqual(v, x) {
				return false
			}
		}
		return true
	case "not":
		return !p.subs[0].test(v)
	case "and":
		for _, s := range p.subs {
			if !s.test(v) {
				return false
			}
		}
		return true
	case "or":
		for _, s := range p.subs {
			if s.test(v) {
				return true
			}
		}
		return false
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	switch p.op {
	case "regex":
		return p.re.MatchString(s)
	case "notRegex":
		return !p.re.MatchString(s)
	}
	arg := p.vals[0].(string)
	switch p.op {
	case "containing":
		return strings.Contains(s, arg)
	case "notContaining":
		return !strings.Contains(s, arg)
	case "startingWith":
		return strings.HasPrefix(s, arg)
	case "notStartingWith":
		return !strings.HasPrefix(s, arg)
	case "endingWith":
		return strings.HasSuffix(s, arg)
	case "notEndingWith":
		return !strings.HasSuffix(s, arg)
	}
	return false
}

// ---- validation ----

// javaClass names a value's type the way Neptune (a JVM) reports it.
func javaClass(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "java.lang.String"
	case int32, int:
		return "java.lang.Integer"
	case int64:
		return "java.lang.Long"
	case int16:
		return "java.lang.Short"
	case uint8, int8:
		return "java.lang.Byte"
	case float64:
		return "java.lang.Double"
	case float32:
		return "java.lang.Float"
	case bool:
		return "java.lang.Boolean"
	case time.Time:
		return "java.util.Date"
	case uuid.UUID:
		return "java.util.UUID"
	case *big.Int:
		return "java.math.BigInteger"
	case []any:
		return "java.util.ArrayList"
	case graphbinary.Set:
		return "java.util.HashSet"
	case map[any]any:
		return "java.util.LinkedHashMap"
	case graphbinary.Enum:
		return "org.apache.tinkerpop.gremlin." + string(v.(graphbinary.Enum).Type)
	case graphbinary.P, *graphbinary.P:
		return "org.apache.tinkerpop.gremlin.process.traversal.P"
	case *graphbinary.Bytecode, graphbinary.Bytecode:
		return "org.apache.tinkerpop.gremlin.process.traversal.Traversal"
	case *vertex, graphbinary.Vertex, *graphbinary.Vertex:
		return "org.apache.tinkerpop.gremlin.structure.Vertex"
	case *edge, graphbinary.Edge, *graphbinary.Edge:
		return "org.apache.tinkerpop.gremlin.structure.Edge"
	case *vpropRef:
		return "org.apache.tinkerpop.gremlin.structure.VertexProperty"
	case cardValue:
		return "org.apache.tinkerpop.gremlin.process.traversal.lambda.CardinalityValueTraversal"
	case *epropRef:
		return "org.apache.tinkerpop.gremlin.structure.Property"
	}
	return fmt.Sprintf("%T", v)
}

// idOf converts an id argument (a string, or an element whose id is a string)
// to a string, refusing anything else the way Neptune does.
func idOf(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case *vertex:
		return x.id, nil
	case *edge:
		return x.id, nil
	case graphbinary.Vertex:
		return idOf(x.ID)
	case *graphbinary.Vertex:
		return idOf(x.ID)
	case graphbinary.Edge:
		return idOf(x.ID)
	case *graphbinary.Edge:
		return idOf(x.ID)
	}
	return "", unsupported("Expected an id that is convertible to String but received class %s", javaClass(v))
}

// newElementID validates a user-supplied id for a new vertex or edge.
func newElementID(v any) (string, error) {
	if v == nil {
		return "", invalid("Value of T.id cannot be null")
	}
	id, err := idOf(v)
	if err != nil {
		return "", err
	}
	if id == "" {
		return "", invalid("An element id can not be an empty String")
	}
	if strings.HasPrefix(id, "neptune_reserved") {
		return "", invalid("Ids beginning with the reserved prefix 'neptune_reserved' can not be supplied: %s", id)
	}
	return id, nil
}

// checkLabel is TinkerPop's ElementHelper.validateLabel.
func checkLabel(l string) error {
	if l == "" {
		return invalid("Label can not be empty")
	}
	if strings.HasPrefix(l, "~") {
		return invalid("Label can not be a hidden key: %s", l)
	}
	return nil
}

// vertexLabels splits a Neptune vertex label ("a::b") into its labels.
func vertexLabels(l string) ([]string, error) {
	if err := checkLabel(l); err != nil {
		return nil, err
	}
	if !strings.Contains(l, "::") {
		return []string{l}, nil
	}
	parts := strings.Split(l, "::")
	out := make([]string, 0, len(parts))
	for _, p := range parts {
		if p == "" {
			return nil, invalid("Label can not be empty: %q has an empty label between '::' delimiters", l)
		}
		if err := checkLabel(p); err != nil {
			return nil, err
		}
		dup := false
		for _, q := range out {
			dup = dup || q == p
		}
		if !dup {
			out = append(out, p)
		}
	}
	return out, nil
}

func edgeLabel(l string) error {
	if err := checkLabel(l); err != nil {
		return err
	}
	if strings.Contains(l, "::") {
		return invalid("Edge label %q contains '::', which Neptune reserves for multiple vertex labels", l)
	}
	return nil
}

// checkKey is TinkerPop's ElementHelper.validateProperty for the key.
func checkKey(k string) error {
	if k == "" {
		return invalid("Property key can not be empty")
	}
	if strings.HasPrefix(k, "~") {
		return invalid("Property key can not be a hidden key: %s", k)
	}
	return nil
}

// storedValue checks that v is a property value type Neptune stores and
// normalises Go ints to int64. nil is handled by callers (it removes).
func storedValue(key string, v any) (any, error) {
	switch x := v.(type) {
	case string, bool, int32, int64, int16, uint8, float64, float32, time.Time:
		return v, nil
	case int:
		return int64(x), nil
	case int8:
		return int64(x), nil
	}
	return nil, unsupported("Property value of type %s is not supported (key %q): Neptune stores strings, numbers, booleans and dates", javaClass(v), key)
}
