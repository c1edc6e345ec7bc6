package graphbinary

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"time"

	"github.com/google/uuid"
)

// MaxDepth is how deeply values may nest (a list in a map in a bytecode
// argument ... counts one per level). Real traversals stay far below it; the
// limit keeps hostile input from exhausting the stack.
const MaxDepth = 64

// ErrTruncated is wrapped by every error about input that ends too early.
var ErrTruncated = errors.New("graphbinary: input ends too early")

// reader decodes from a byte slice it never retains. Every read goes through
// take, which checks the bytes are there, so no input can make it index out of
// range, and every declared count is checked against the bytes left before
// anything is allocated for it.
type reader struct {
	buf   []byte
	off   int
	depth int
}

func (r *reader) remaining() int { return len(r.buf) - r.off }

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("graphbinary: "+format+" (at byte %d)", append(args, r.off)...)
}

// take returns the next n bytes, or ErrTruncated.
func (r *reader) take(n int) ([]byte, error) {
	if n < 0 || n > r.remaining() {
		return nil, fmt.Errorf("%w: need %d bytes at byte %d, have %d", ErrTruncated, n, r.off, r.remaining())
	}
	b := r.buf[r.off : r.off+n : r.off+n]
	r.off += n
	return b, nil
}

func (r *reader) byte() (byte, error) {
	b, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (r *reader) int16() (int16, error) {
	b, err := r.take(2)
	if err != nil {
		return 0, err
	}
	return int16(binary.BigEndian.Uint16(b)), nil
}

func (r *reader) int32() (int32, error) {
	b, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return int32(binary.BigEndian.Uint32(b)), nil
}

func (r *reader) int64() (int64, error) {
	b, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return int64(binary.BigEndian.Uint64(b)), nil
}

// count reads an Int that counts what follows (items, bytes, instructions),
// each of which takes at least minSize bytes. A count the remaining input
// cannot hold is refused before the caller allocates for it.
func (r *reader) count(what string, minSize int) (int, error) {
	n, err := r.int32()
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, r.errorf("negative %s count %d", what, n)
	}
	if int64(n)*int64(minSize) > int64(r.remaining()) {
		return 0, fmt.Errorf("%w: %s count %d needs at least %d bytes at byte %d, have %d",
			ErrTruncated, what, n, int64(n)*int64(minSize), r.off, r.remaining())
	}
	return int(n), nil
}

// string reads a bare String: {length}{utf-8 bytes}.
func (r *reader) string() (string, error) {
	n, err := r.count("string byte", 1)
	if err != nil {
		return "", err
	}
	b, err := r.take(n)
	return string(b), err
}

func (r *reader) uuid() (uuid.UUID, error) {
	b, err := r.take(16)
	if err != nil {
		return uuid.Nil, err
	}
	return uuid.UUID(b), nil
}

// value reads a fully-qualified value: {type_code}{value_flag}{value}.
func (r *reader) value() (any, error) {
	r.depth++
	defer func() { r.depth-- }()
	if r.depth > MaxDepth {
		return nil, r.errorf("values nest deeper than %d levels", MaxDepth)
	}

	b, err := r.byte()
	if err != nil {
		return nil, err
	}
	code := typeCode(b)
	if !readable(code) {
		return nil, r.errorf("unknown or unsupported type code %v", code)
	}
	flag, err := r.byte()
	if err != nil {
		return nil, err
	}
	switch {
	case flag == flagNull:
		// A null of any type, including the untyped null object.
		return nil, nil
	case flag != flagNone:
		return nil, r.errorf("value flag 0x%02x for type %v: only 0x00 and 0x01 (null) exist", flag, code)
	case code == codeNull:
		return nil, r.errorf("the null type 0xfe must carry the null flag, got 0x%02x", flag)
	}
	return r.bare(code)
}

// bare reads the {value} part of a value of the given type.
func (r *reader) bare(code typeCode) (any, error) {
	if et, ok := enumCodes[code]; ok {
		return r.enum(et)
	}
	switch code {
	case codeInt:
		return r.int32()
	case codeLong:
		return r.int64()
	case codeShort:
		return r.int16()
	case codeByte:
		return r.byte()
	case codeBoolean:
		b, err := r.byte()
		if err != nil {
			return nil, err
		}
		if b > 1 {
			return nil, r.errorf("boolean byte 0x%02x: only 0x00 and 0x01 exist", b)
		}
		return b == 1, nil
	case codeDouble:
		u, err := r.int64()
		return math.Float64frombits(uint64(u)), err
	case codeFloat:
		u, err := r.int32()
		return math.Float32frombits(uint32(u)), err
	case codeString:
		return r.string()
	case codeDate, codeTimestamp:
		ms, err := r.int64()
		return time.UnixMilli(ms).UTC(), err
	case codeDuration:
		return r.duration()
	case codeUUID:
		return r.uuid()
	case codeBigInteger:
		return r.bigInt()
	case codeBigDecimal:
		scale, err := r.int32()
		if err != nil {
			return nil, err
		}
		unscaled, err := r.bigInt()
		if err != nil {
			return nil, err
		}
		return BigDecimal{Unscaled: unscaled, Scale: scale}, nil
	case codeByteBuffer:
		n, err := r.count("byte buffer byte", 1)
		if err != nil {
			return nil, err
		}
		b, err := r.take(n)
		if err != nil {
			return nil, err
		}
		return append([]byte{}, b...), nil // a copy: the frame buffer may be reused
	case codeClass:
		name, err := r.string()
		return Class{Name: name}, err
	case codeList:
		return r.list()
	case codeSet:
		l, err := r.list()
		return Set(l), err
	case codeMap:
		return r.mapBody()
	case codeVertex:
		return r.vertex()
	case codeEdge:
		return r.edge()
	case codeVertexProperty:
		return r.vertexProperty()
	case codeProperty:
		return r.property()
	case codePath:
		return r.path()
	case codeTraverser:
		bulk, err := r.int64()
		if err != nil {
			return nil, err
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		return Traverser{Bulk: bulk, Value: v}, nil
	case codeBytecode:
		return r.bytecode()
	case codeP, codeTextP:
		return r.predicate(code == codeTextP)
	case codeBinding:
		key, err := r.string()
		if err != nil {
			return nil, err
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		return Binding{Key: key, Value: v}, nil
	case codeLambda:
		return r.lambda()
	case codeTraversalStrategy:
		return r.strategy()
	}
	return nil, r.errorf("unknown or unsupported type code %v", code)
}

// enum reads an enum's value: a fully-qualified, non-null String. (The IO
// reference says "a single String" for Merge and DT, but gremlin-go writes
// those fully-qualified too, like every other enum.)
func (r *reader) enum(et EnumType) (any, error) {
	c, err := r.byte()
	if err != nil {
		return nil, err
	}
	if typeCode(c) != codeString {
		return nil, r.errorf("%s enum value must be a String, got type %v", et, typeCode(c))
	}
	flag, err := r.byte()
	if err != nil {
		return nil, err
	}
	if flag != flagNone {
		return nil, r.errorf("%s enum value must not be null", et)
	}
	s, err := r.string()
	if err != nil {
		return nil, err
	}
	return Enum{Type: et, Value: s}, nil
}

func (r *reader) duration() (any, error) {
	sec, err := r.int64()
	if err != nil {
		return nil, err
	}
	nanos, err := r.int32()
	if err != nil {
		return nil, err
	}
	// Java normalises nanos to [0, 1e9) but accepts any adjustment, and
	// gremlin-go sends negative nanos for negative durations: accept both, and
	// refuse what time.Duration cannot hold (about ±292 years).
	total := new(big.Int).Mul(big.NewInt(sec), big.NewInt(int64(time.Second)))
	total.Add(total, big.NewInt(int64(nanos)))
	if !total.IsInt64() {
		return nil, r.errorf("duration of %ds%dns does not fit a time.Duration", sec, nanos)
	}
	return time.Duration(total.Int64()), nil
}

// bigInt reads {length}{two's complement big-endian bytes}.
func (r *reader) bigInt() (*big.Int, error) {
	n, err := r.count("big integer byte", 1)
	if err != nil {
		return nil, err
	}
	b, err := r.take(n)
	if err != nil {
		return nil, err
	}
	v := new(big.Int).SetBytes(b)
	if n > 0 && b[0]&0x80 != 0 {
		// Negative: the bytes are v + 2^(8n).
		v.Sub(v, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	}
	return v, nil
}

// sizeHint caps how much is reserved up front for n declared items. count
// already bounds n by the bytes left, but reserving all of it at every level
// of a nested list would let 1 MiB of input, 64 levels deep, claim gigabytes
// before the first missing byte is noticed; past the cap, append grows with
// the items actually read.
func sizeHint(n int) int { return min(n, 1024) }

// list reads {length}{value}...; each value is at least 2 bytes (type, flag).
func (r *reader) list() ([]any, error) {
	n, err := r.count("list item", 2)
	if err != nil {
		return nil, err
	}
	l := make([]any, 0, sizeHint(n))
	for range n {
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		l = append(l, v)
	}
	return l, nil
}

// mapBody reads {length}{key}{value}... . A key Go cannot hash (a List, a
// Map, a P ...) is an error: putting it in a map[any]any would panic.
func (r *reader) mapBody() (map[any]any, error) {
	n, err := r.count("map entry", 4)
	if err != nil {
		return nil, err
	}
	m := make(map[any]any, sizeHint(n))
	for range n {
		k, err := r.value()
		if err != nil {
			return nil, err
		}
		if k != nil && !reflect.ValueOf(k).Comparable() {
			return nil, r.errorf("map key of Go type %T cannot be a Go map key", k)
		}
		v, err := r.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

// stringMap reads a Map whose keys must all be Strings, as request args,
// status attributes, result meta and strategy configurations are.
func (r *reader) stringMap(what string) (map[string]any, error) {
	m, err := r.mapBody()
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		s, ok := k.(string)
		if !ok {
			return nil, r.errorf("%s key %v (%T) is not a String", what, k, k)
		}
		out[s] = v
	}
	return out, nil
}

// vertex reads {id}{label}{properties}. The stand-in's vertices are
// references, so properties (null from every TinkerPop client) are read and
// dropped.
func (r *reader) vertex() (any, error) {
	id, label, err := r.idLabel()
	if err != nil {
		return nil, err
	}
	if _, err := r.value(); err != nil {
		return nil, err
	}
	return Vertex{ID: id, Label: label}, nil
}

func (r *reader) idLabel() (any, string, error) {
	id, err := r.value()
	if err != nil {
		return nil, "", err
	}
	label, err := r.string()
	return id, label, err
}

// edge reads {id}{label}{inVId}{inVLabel}{outVId}{outVLabel}{parent}{properties}.
func (r *reader) edge() (any, error) {
	id, label, err := r.idLabel()
	if err != nil {
		return nil, err
	}
	inID, inLabel, err := r.idLabel()
	if err != nil {
		return nil, err
	}
	outID, outLabel, err := r.idLabel()
	if err != nil {
		return nil, err
	}
	if err := r.skipValues(2); err != nil { // parent, properties
		return nil, err
	}
	return Edge{ID: id, Label: label, InV: Vertex{ID: inID, Label: inLabel}, OutV: Vertex{ID: outID, Label: outLabel}}, nil
}

// vertexProperty reads {id}{label}{value}{parent}{properties}.
func (r *reader) vertexProperty() (any, error) {
	id, label, err := r.idLabel()
	if err != nil {
		return nil, err
	}
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	if err := r.skipValues(2); err != nil {
		return nil, err
	}
	return VertexProperty{ID: id, Label: label, Value: v}, nil
}

// property reads {key}{value}{parent}.
func (r *reader) property() (any, error) {
	key, err := r.string()
	if err != nil {
		return nil, err
	}
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	if err := r.skipValues(1); err != nil {
		return nil, err
	}
	return Property{Key: key, Value: v}, nil
}

// skipValues reads and drops n fully-qualified values: the parent and
// properties slots that references leave null.
func (r *reader) skipValues(n int) error {
	for range n {
		if _, err := r.value(); err != nil {
			return err
		}
	}
	return nil
}

// path reads {labels: List of Set of String}{objects: List}.
func (r *reader) path() (any, error) {
	labels, err := r.value()
	if err != nil {
		return nil, err
	}
	labelList, ok := labels.([]any)
	if !ok {
		return nil, r.errorf("path labels must be a List, got %T", labels)
	}
	p := Path{Labels: make([]Set, 0, len(labelList))}
	for _, l := range labelList {
		s, ok := l.(Set)
		if !ok {
			return nil, r.errorf("path labels must be Sets, got %T", l)
		}
		p.Labels = append(p.Labels, s)
	}
	objects, err := r.value()
	if err != nil {
		return nil, err
	}
	if p.Objects, ok = objects.([]any); !ok {
		return nil, r.errorf("path objects must be a List, got %T", objects)
	}
	return p, nil
}

// bytecode reads {steps_length}{step}...{sources_length}{source}... where an
// instruction is {name}{values_length}{value}... . Steps come first on the
// wire, sources second.
func (r *reader) bytecode() (any, error) {
	steps, err := r.instructions("step")
	if err != nil {
		return nil, err
	}
	sources, err := r.instructions("source instruction")
	if err != nil {
		return nil, err
	}
	return &Bytecode{Sources: sources, Steps: steps}, nil
}

func (r *reader) instructions(what string) ([]Instruction, error) {
	// Each instruction is at least a name length and an argument count.
	n, err := r.count(what, 8)
	if err != nil {
		return nil, err
	}
	// No instructions, or no arguments, decode as nil rather than empty
	// slices: the engine only ranges over them, and tests can leave them out.
	var out []Instruction
	for range n {
		name, err := r.string()
		if err != nil {
			return nil, err
		}
		args, err := r.list()
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", what, name, err)
		}
		if len(args) == 0 {
			args = nil
		}
		out = append(out, Instruction{Operator: name, Args: args})
	}
	return out, nil
}

// predicate reads P and TextP: {name}{values_length}{value}... .
func (r *reader) predicate(text bool) (any, error) {
	name, err := r.string()
	if err != nil {
		return nil, err
	}
	values, err := r.list()
	if err != nil {
		return nil, err
	}
	return P{Operator: name, Values: values, Text: text}, nil
}

// lambda reads {language}{script}{arguments_length}.
func (r *reader) lambda() (any, error) {
	lang, err := r.string()
	if err != nil {
		return nil, err
	}
	script, err := r.string()
	if err != nil {
		return nil, err
	}
	n, err := r.int32()
	return Lambda{Script: script, Language: lang, Args: n}, err
}

// strategy reads {class: String}{configuration: Map with String keys}.
func (r *reader) strategy() (any, error) {
	class, err := r.string()
	if err != nil {
		return nil, err
	}
	cfg, err := r.stringMap("strategy configuration")
	if err != nil {
		return nil, err
	}
	return Strategy{Class: class, Config: cfg}, nil
}

// ReadValue decodes one fully-qualified value that must fill b exactly.
func ReadValue(b []byte) (any, error) {
	r := &reader{buf: b}
	v, err := r.value()
	if err != nil {
		return nil, err
	}
	if err := r.end(); err != nil {
		return nil, err
	}
	return v, nil
}

// end refuses trailing bytes: a frame holds one message, and bytes after it
// mean the sender and this codec disagree on the format.
func (r *reader) end() error {
	if n := r.remaining(); n != 0 {
		return r.errorf("%d unexpected trailing bytes", n)
	}
	return nil
}
