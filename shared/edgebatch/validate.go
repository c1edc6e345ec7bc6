package edgebatch

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of a batch. Validate enforces every one of them.
const (
	// MaxSourceLen is the longest source token ([a-z0-9-]{1,32}).
	MaxSourceLen = 32
	// MaxIDBytes is the longest id in bytes (vertex, edge, from, to, snapshot
	// id and scope).
	MaxIDBytes = 512
	// MaxLabelLen is the longest label ([A-Za-z][A-Za-z0-9_:]{0,127}).
	MaxLabelLen = 128
	// MaxPropKeyLen is the longest property key ([a-z][a-z0-9_]{0,63}).
	MaxPropKeyLen = 64
	// MaxProps is the most properties one vertex or edge may carry. Every
	// property is a record of the Neptune upsert (about 200 per request), so an
	// element with more would need a request of its own.
	MaxProps = 64
	// MaxStringBytes is the longest string property value in bytes (64 KiB).
	// The graph is a dependency map, not a document store.
	MaxStringBytes = 64 << 10
	// MaxBatchElements is the most vertices plus edges one batch may carry.
	// It bounds the work of one message (and so the visibility timeout it
	// needs) whatever the sizes; Split packs DefaultMaxElements by default.
	MaxBatchElements = 10_000
	// MaxProblems is how many problems a ValidationError keeps; it counts the rest.
	MaxProblems = 100
	// MaxReasonBytes is the longest Reason, sized for the DLQ's "error" attribute.
	MaxReasonBytes = 256
)

// Problem is one broken rule: where (a path into the batch such as
// `edges[3].from` or `vertices[0].props["name"]`) and what.
type Problem struct {
	Path string
	Msg  string
}

func (p *Problem) Error() string { return p.Path + ": " + p.Msg }

// ValidationError is every problem Validate found in a batch, in document
// order. It unwraps to the problems, so it behaves like errors.Join of them.
// A batch that fails validation must never be retried: the same bytes fail
// the same way every time.
type ValidationError struct {
	// Problems holds at most MaxProblems problems.
	Problems []*Problem
	// Omitted counts the problems found beyond MaxProblems.
	Omitted int
}

// Error lists the problems, one a line, like errors.Join.
func (e *ValidationError) Error() string {
	var sb strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			sb.WriteByte('\n')
		}
		sb.WriteString(p.Error())
	}
	if e.Omitted > 0 {
		fmt.Fprintf(&sb, "\n(and %d more problems)", e.Omitted)
	}
	return sb.String()
}

// Unwrap returns the problems, so errors.As finds a *Problem.
func (e *ValidationError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Reason is a one-line summary of at most MaxReasonBytes bytes that is a valid
// SQS attribute value: the number of problems and as many of them as fit. The
// worker puts it in the DLQ message's "error" attribute.
func (e *ValidationError) Reason() string {
	n := len(e.Problems) + e.Omitted
	var sb strings.Builder
	if n == 1 {
		sb.WriteString("invalid edge batch: ")
	} else {
		fmt.Fprintf(&sb, "invalid edge batch (%d problems): ", n)
	}
	for i, p := range e.Problems {
		if i > 0 {
			sb.WriteString("; ")
		}
		sb.WriteString(p.Error())
		if sb.Len() > MaxReasonBytes {
			break
		}
	}
	return shorten(sb.String(), MaxReasonBytes)
}

// Validate checks b against every rule of edge batch v1 and returns nil or a
// *ValidationError listing every problem. Producers, the push API and workers
// all call it (Encode and Decode do); nothing else decides whether a batch is
// valid.
//
// Beyond DESIGN.md's rules, this package decides:
//   - A vertex id (or edge id) that appears twice in one batch is accepted when
//     both have the same content (label, props and, for edges, from and to),
//     as when a producer emits the endpoint of every edge it sees; differing
//     content is ambiguous and refused.
//   - An edge's id must be the one EdgeID or EdgeIDWithKey gives for its label,
//     from and to.
//   - Property values are strings (valid UTF-8, at most MaxStringBytes), bools,
//     or finite numbers. Go integer types are integers (Longs in Neptune),
//     float32 and float64 are Doubles, whatever their value; a json.Number is
//     what its literal says (see Props). Decode yields int64 and float64.
//     null, arrays and objects are refused.
//   - The writer-owned keys source, first_seen, last_seen, snapshot, scope and
//     active are refused.
//   - A batch with neither snapshot nor seal must carry at least one vertex or
//     edge; a snapshot data batch may be empty (an empty discovery is one empty
//     batch and a seal).
//   - A seal batch has a snapshot and no vertices or edges; Seal.Batches is at
//     least 1 and the seal's own snapshot seq equals Seal.Batches, so the seal
//     is numbered right after the last data batch (seq N-1).
//   - observed_at must be set and writable as RFC 3339 (year 1 to 9999).
func Validate(b *Batch) error {
	var c checker
	c.batch(b, false)
	return c.err()
}

// checker gathers problems.
type checker struct {
	problems []*Problem
	omitted  int
}

func (c *checker) add(path, msg string) {
	if len(c.problems) >= MaxProblems {
		c.omitted++
		return
	}
	c.problems = append(c.problems, &Problem{Path: path, Msg: msg})
}

func (c *checker) addf(path, format string, args ...any) {
	c.add(path, fmt.Sprintf(format, args...))
}

func (c *checker) err() error {
	if len(c.problems) == 0 && c.omitted == 0 {
		return nil
	}
	return &ValidationError{Problems: c.problems, Omitted: c.omitted}
}

// batch checks b. whole is true when b is the input of Split, which may be of
// any size and may be empty.
func (c *checker) batch(b *Batch, whole bool) {
	if b == nil {
		c.add("batch", "is nil")
		return
	}
	if b.V != Version {
		c.addf("v", "is %d; want %d", b.V, Version)
	}
	if msg := sourceProblem(b.Source); msg != "" {
		c.add("source", msg)
	}
	if b.ObservedAt.IsZero() {
		c.add("observed_at", "is not set")
	} else if _, err := b.ObservedAt.MarshalText(); err != nil {
		c.addf("observed_at", "cannot be written as RFC 3339: %v", err)
	}
	if s := b.Snapshot; s != nil {
		if msg := idProblem(s.ID); msg != "" {
			c.add("snapshot.id", msg)
		}
		if msg := idProblem(s.Scope); msg != "" {
			c.add("snapshot.scope", msg)
		}
		if s.Seq < 0 && !whole {
			c.addf("snapshot.seq", "is %d; want 0 or more", s.Seq)
		}
	}
	n := len(b.Vertices) + len(b.Edges)
	switch {
	case b.Seal != nil:
		if b.Snapshot == nil {
			c.add("seal", "is set but snapshot is not: a seal closes a snapshot")
		}
		if b.Seal.Batches < 1 {
			c.addf("seal.batches", "is %d; want 1 or more (an empty snapshot is one empty batch and its seal)", b.Seal.Batches)
		} else if b.Snapshot != nil && b.Snapshot.Seq != b.Seal.Batches {
			c.addf("snapshot.seq", "is %d; a seal's seq must equal seal.batches (%d)", b.Snapshot.Seq, b.Seal.Batches)
		}
		if n > 0 {
			c.addf("seal", "is set but the batch has %d vertices and %d edges: a seal carries none", len(b.Vertices), len(b.Edges))
		}
	case n == 0 && b.Snapshot == nil && !whole:
		c.add("batch", "has no vertices or edges (only a snapshot batch may be empty)")
	case n > MaxBatchElements && !whole:
		c.addf("batch", "has %d vertices and edges; at most %d (Split makes smaller batches)", n, MaxBatchElements)
	}

	vertexAt := make(map[string]int, len(b.Vertices))
	for i := range b.Vertices {
		v := &b.Vertices[i]
		if msg := idProblem(v.ID); msg != "" {
			c.add(elemPath("vertices", i, "id"), msg)
		}
		if msg := labelProblem(v.Label); msg != "" {
			c.add(elemPath("vertices", i, "label"), msg)
		}
		c.props("vertices", i, v.Props)
		if j, dup := vertexAt[v.ID]; dup {
			if !sameVertex(&b.Vertices[j], v) {
				c.addf(elemPath("vertices", i, "id"), "%s repeats vertices[%d] with different content", quote(truncateID(v.ID)), j)
			}
		} else {
			vertexAt[v.ID] = i
		}
	}

	edgeAt := make(map[string]int, len(b.Edges))
	for i := range b.Edges {
		e := &b.Edges[i]
		idMsg := idProblem(e.ID)
		if idMsg != "" {
			if len(e.ID) > MaxIDBytes {
				idMsg += " (EdgeID hashes the endpoints of edges whose id would be longer)"
			}
			c.add(elemPath("edges", i, "id"), idMsg)
		}
		labelMsg := labelProblem(e.Label)
		if labelMsg != "" {
			c.add(elemPath("edges", i, "label"), labelMsg)
		}
		if _, ok := vertexAt[e.From]; !ok {
			c.addf(elemPath("edges", i, "from"), "%s is not among the batch's vertices", quote(truncateID(e.From)))
		}
		if _, ok := vertexAt[e.To]; !ok {
			c.addf(elemPath("edges", i, "to"), "%s is not among the batch's vertices", quote(truncateID(e.To)))
		}
		if idMsg == "" && labelMsg == "" {
			if msg := edgeIDProblem(e.ID, e.Label, e.From, e.To); msg != "" {
				c.add(elemPath("edges", i, "id"), msg)
			}
		}
		c.props("edges", i, e.Props)
		if j, dup := edgeAt[e.ID]; dup {
			if !sameEdge(&b.Edges[j], e) {
				c.addf(elemPath("edges", i, "id"), "%s repeats edges[%d] with different content", quote(truncateID(e.ID)), j)
			}
		} else {
			edgeAt[e.ID] = i
		}
	}
}

// props checks the properties of element i of kind ("vertices" or "edges").
// Problems are reported in key order, so the same batch always gives the same
// error.
func (c *checker) props(kind string, i int, props map[string]any) {
	if len(props) > MaxProps {
		c.addf(elemPath(kind, i, "props"), "has %d properties; at most %d", len(props), MaxProps)
	}
	var bad []*Problem
	for k, v := range props {
		if msg := keyProblem(k); msg != "" {
			bad = append(bad, &Problem{Path: propPath(kind, i, k), Msg: msg})
		}
		if msg := propProblem(v); msg != "" {
			bad = append(bad, &Problem{Path: propPath(kind, i, k), Msg: msg})
		}
	}
	slices.SortStableFunc(bad, func(a, b *Problem) int { return cmp.Compare(a.Path, b.Path) })
	for _, p := range bad {
		c.add(p.Path, p.Msg)
	}
}

func elemPath(kind string, i int, field string) string {
	return kind + "[" + strconv.Itoa(i) + "]." + field
}

func propPath(kind string, i int, key string) string {
	return kind + "[" + strconv.Itoa(i) + "].props[" + quote(truncateID(key)) + "]"
}

// sourceProblem checks a source token: [a-z0-9-]{1,32}.
func sourceProblem(s string) string {
	if s == "" {
		return "is empty; want [a-z0-9-]{1,32}"
	}
	if len(s) > MaxSourceLen {
		return fmt.Sprintf("is %d bytes; want [a-z0-9-]{1,32}", len(s))
	}
	for i := 0; i < len(s); i++ {
		if ch := s[i]; !isLower(ch) && !isDigit(ch) && ch != '-' {
			return quote(s) + " does not match [a-z0-9-]{1,32}"
		}
	}
	return ""
}

// idProblem checks an id: non-empty valid UTF-8 of at most MaxIDBytes bytes.
func idProblem(id string) string {
	switch {
	case id == "":
		return "is empty"
	case len(id) > MaxIDBytes:
		return fmt.Sprintf("is %d bytes; at most %d", len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return quote(truncateID(id)) + " is not valid UTF-8"
	case strings.HasPrefix(id, ReservedIDPrefix):
		return quote(truncateID(id)) + " starts with " + quote(ReservedIDPrefix) + ", which the writer reserves for its own bookkeeping"
	}
	return ""
}

// labelProblem checks a label: [A-Za-z][A-Za-z0-9_:]{0,127}.
func labelProblem(l string) string {
	const rule = "[A-Za-z][A-Za-z0-9_:]{0,127}"
	if l == "" {
		return "is empty; want " + rule
	}
	if len(l) > MaxLabelLen {
		return fmt.Sprintf("is %d bytes; want %s", len(l), rule)
	}
	for i := 0; i < len(l); i++ {
		ch := l[i]
		if !isLetter(ch) && (i == 0 || !isDigit(ch) && ch != '_' && ch != ':') {
			return quote(l) + " does not match " + rule
		}
	}
	return ""
}

// keyProblem checks a property key: [a-z][a-z0-9_]{0,63}, not writer-owned.
func keyProblem(k string) string {
	const rule = "[a-z][a-z0-9_]{0,63}"
	if k == "" {
		return "key is empty; want " + rule
	}
	if len(k) > MaxPropKeyLen {
		return fmt.Sprintf("key is %d bytes; want %s", len(k), rule)
	}
	for i := 0; i < len(k); i++ {
		ch := k[i]
		if !isLower(ch) && (i == 0 || !isDigit(ch) && ch != '_') {
			return "key does not match " + rule
		}
	}
	if writerOwned(k) {
		return "key is owned by the writer (source, first_seen, last_seen, snapshot, scope, active)"
	}
	return ""
}

// writerOwned reports whether the writer sets property k; a batch may not.
func writerOwned(k string) bool {
	switch k {
	case "source", "first_seen", "last_seen", "snapshot", "scope", "active":
		return true
	}
	return false
}

func isLower(ch byte) bool  { return 'a' <= ch && ch <= 'z' }
func isDigit(ch byte) bool  { return '0' <= ch && ch <= '9' }
func isLetter(ch byte) bool { return isLower(ch) || 'A' <= ch && ch <= 'Z' }

// propProblem is propValue's message alone: without the value, a number
// need not be boxed.
func propProblem(v any) string {
	switch v := v.(type) {
	case string, bool:
		if s, ok := v.(string); ok && (len(s) > MaxStringBytes || !utf8.ValidString(s)) {
			_, msg := propValue(s)
			return msg
		}
		return ""
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "number is not finite"
		}
		return ""
	case int64:
		return ""
	}
	_, msg := propValue(v)
	return msg
}

// propValue returns a property value as it reaches the writer after a trip
// through JSON (see Props): string, bool, int64 for integers, float64 for
// every other number; or a message saying why it is refused.
func propValue(v any) (any, string) {
	switch v := v.(type) {
	case string:
		if len(v) > MaxStringBytes {
			return nil, fmt.Sprintf("string is %d bytes; at most %d", len(v), MaxStringBytes)
		}
		if !utf8.ValidString(v) {
			return nil, "string is not valid UTF-8"
		}
		return v, ""
	case bool:
		return v, ""
	case float64:
		return finite(v)
	case float32:
		return finite(float64(v))
	case int:
		return int64(v), ""
	case int8:
		return int64(v), ""
	case int16:
		return int64(v), ""
	case int32:
		return int64(v), ""
	case int64:
		return v, ""
	case uint:
		return unsigned(uint64(v)), ""
	case uint8:
		return int64(v), ""
	case uint16:
		return int64(v), ""
	case uint32:
		return int64(v), ""
	case uint64:
		return unsigned(v), ""
	case json.Number:
		if !isJSONNumber(string(v)) {
			return nil, quote(truncateID(string(v))) + " is not a JSON number"
		}
		n := numberValue(string(v))
		if f, ok := n.(float64); ok {
			return finite(f)
		}
		return n, ""
	case nil:
		return nil, "is null; want a string, a finite number or a bool"
	case []any, map[string]any:
		return nil, fmt.Sprintf("is a %s; want a string, a finite number or a bool", jsonKind(v))
	default:
		return nil, fmt.Sprintf("is a %T; want a string, a finite number or a bool", v)
	}
}

func jsonKind(v any) string {
	if _, ok := v.([]any); ok {
		return "JSON array"
	}
	return "JSON object"
}

func finite(f float64) (any, string) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, "number is not finite"
	}
	return f, ""
}

// unsigned is a uint64 as it reads back: an integer beyond int64 is written
// as one but can only be read as a Double.
func unsigned(n uint64) any {
	if n > math.MaxInt64 {
		return float64(n)
	}
	return int64(n)
}

// isJSONNumber reports whether s is a JSON number literal (RFC 8259).
func isJSONNumber(s string) bool {
	if s == "" {
		return false
	}
	if s[0] == '-' {
		s = s[1:]
		if s == "" {
			return false
		}
	}
	switch {
	case s[0] == '0':
		s = s[1:]
	case '1' <= s[0] && s[0] <= '9':
		s = s[1:]
		for len(s) > 0 && isDigit(s[0]) {
			s = s[1:]
		}
	default:
		return false
	}
	if len(s) >= 2 && s[0] == '.' && isDigit(s[1]) {
		s = s[2:]
		for len(s) > 0 && isDigit(s[0]) {
			s = s[1:]
		}
	}
	if len(s) >= 2 && (s[0] == 'e' || s[0] == 'E') {
		s = s[1:]
		if s[0] == '+' || s[0] == '-' {
			s = s[1:]
			if s == "" {
				return false
			}
		}
		for len(s) > 0 && isDigit(s[0]) {
			s = s[1:]
		}
	}
	return s == ""
}

// sameProps reports whether a and b hold the same properties as the writer
// would see them.
func sameProps(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, av := range a {
		bv, ok := b[k]
		if !ok {
			return false
		}
		an, amsg := propValue(av)
		bn, bmsg := propValue(bv)
		if amsg != "" || bmsg != "" || an != bn {
			return false
		}
	}
	return true
}

func sameVertex(a, b *Vertex) bool {
	return a.ID == b.ID && a.Label == b.Label && sameProps(a.Props, b.Props)
}

func sameEdge(a, b *Edge) bool {
	return a.ID == b.ID && a.Label == b.Label && a.From == b.From && a.To == b.To && sameProps(a.Props, b.Props)
}

func quote(s string) string { return strconv.Quote(s) }

func itoa(n int) string { return strconv.Itoa(n) }

// truncateUTF8 cuts s to at most n bytes without splitting a rune.
func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// shorten makes s a single line of at most n bytes (n > 3) holding only
// characters SQS accepts in an attribute value, marking a cut with "...".
// Line breaks and tabs become spaces, so a reason stays one line in a log;
// other control characters, bytes that are not UTF-8 and characters SQS
// refuses become '?', one byte each. The cut comes after that, on valid
// UTF-8, so it never splits a character.
func shorten(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\r' || r == '\t' || r == '\u0085' || r == '\u2028' || r == '\u2029':
			return ' '
		case r < 0x20 || 0x7f <= r && r < 0xa0, !sqsChar(r), r == utf8.RuneError:
			return '?'
		}
		return r
	}, s)
	if len(s) <= n {
		return s
	}
	return truncateUTF8(s, n-3) + "..."
}

// sqsChar reports whether SQS accepts r in a message body or attribute value:
// #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF.
func sqsChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD ||
		0x20 <= r && r <= 0xD7FF ||
		0xE000 <= r && r <= 0xFFFD ||
		0x10000 <= r && r <= 0x10FFFF
}
