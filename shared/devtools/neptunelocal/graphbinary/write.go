package graphbinary

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"slices"
	"time"

	"github.com/google/uuid"
)

// writer encodes into a buffer. depth stops a map or slice that contains
// itself from recursing forever.
type writer struct {
	buf   bytes.Buffer
	depth int
}

// Fixed-size integers, big-endian, appended in place (AvailableBuffer) so
// writing a number allocates nothing.
func (w *writer) int16(v int16) {
	w.buf.Write(binary.BigEndian.AppendUint16(w.buf.AvailableBuffer(), uint16(v)))
}

func (w *writer) int32(v int32) {
	w.buf.Write(binary.BigEndian.AppendUint32(w.buf.AvailableBuffer(), uint32(v)))
}

func (w *writer) int64(v int64) {
	w.buf.Write(binary.BigEndian.AppendUint64(w.buf.AvailableBuffer(), uint64(v)))
}

// count writes a length as an Int, refusing one that does not fit.
func (w *writer) count(n int) error {
	if n > math.MaxInt32 {
		return fmt.Errorf("graphbinary: length %d does not fit an Int", n)
	}
	w.int32(int32(n))
	return nil
}

// string writes a bare String: {length}{utf-8 bytes}.
func (w *writer) string(s string) error {
	if err := w.count(len(s)); err != nil {
		return err
	}
	w.buf.WriteString(s)
	return nil
}

// head writes {type_code}{value_flag = none}.
func (w *writer) head(c typeCode) {
	w.buf.WriteByte(byte(c))
	w.buf.WriteByte(flagNone)
}

// null writes the untyped null: what references put in their parent and
// properties slots, and what gremlin-go expects there (it skips exactly two
// bytes for an edge's parent).
func (w *writer) null() {
	w.buf.WriteByte(byte(codeNull))
	w.buf.WriteByte(flagNull)
}

// value writes v fully qualified: {type_code}{value_flag}{value}.
func (w *writer) value(v any) error {
	w.depth++
	defer func() { w.depth-- }()
	if w.depth > MaxDepth {
		return fmt.Errorf("graphbinary: values nest deeper than %d levels (a map or list containing itself?)", MaxDepth)
	}

	switch v := deref(v).(type) {
	case nil:
		w.null()
	case bool:
		w.head(codeBoolean)
		if v {
			w.buf.WriteByte(1)
		} else {
			w.buf.WriteByte(0)
		}
	case uint8:
		w.head(codeByte)
		w.buf.WriteByte(v)
	case int16:
		w.head(codeShort)
		w.int16(v)
	case int32:
		w.head(codeInt)
		w.int32(v)
	case int64:
		w.head(codeLong)
		w.int64(v)
	case int: // Go's default integer: Long, as gremlin-go writes it
		w.head(codeLong)
		w.int64(int64(v))
	case float32:
		w.head(codeFloat)
		w.int32(int32(math.Float32bits(v)))
	case float64:
		w.head(codeDouble)
		w.int64(int64(math.Float64bits(v)))
	case string:
		w.head(codeString)
		return w.string(v)
	case time.Time:
		w.head(codeDate) // millisecond precision, as the format has
		w.int64(v.UnixMilli())
	case time.Duration:
		w.head(codeDuration)
		w.duration(v)
	case uuid.UUID:
		w.head(codeUUID)
		w.buf.Write(v[:])
	case *big.Int:
		w.head(codeBigInteger)
		return w.bigInt(v)
	case BigDecimal:
		if v.Unscaled == nil {
			return fmt.Errorf("graphbinary: BigDecimal without an unscaled value")
		}
		w.head(codeBigDecimal)
		w.int32(v.Scale)
		return w.bigInt(v.Unscaled)
	case []byte:
		w.head(codeByteBuffer)
		if err := w.count(len(v)); err != nil {
			return err
		}
		w.buf.Write(v)
	case Class:
		w.head(codeClass)
		return w.string(v.Name)
	case []any:
		w.head(codeList)
		return w.list(v)
	case Set:
		w.head(codeSet)
		return w.list(v)
	case map[any]any:
		w.head(codeMap)
		return w.mapBody(v)
	case map[string]any:
		w.head(codeMap)
		return w.stringMap(v)
	case Enum:
		c, ok := enumTypeCodes[v.Type]
		if !ok {
			return fmt.Errorf("graphbinary: unknown enum type %q", v.Type)
		}
		w.head(c)
		w.head(codeString)
		return w.string(v.Value)
	case Vertex:
		w.head(codeVertex)
		return w.vertex(v)
	case Edge:
		w.head(codeEdge)
		return w.edge(v)
	case VertexProperty:
		w.head(codeVertexProperty)
		return w.vertexProperty(v)
	case Property:
		w.head(codeProperty)
		if err := w.string(v.Key); err != nil {
			return err
		}
		if err := w.value(v.Value); err != nil {
			return err
		}
		w.null() // parent
	case Path:
		w.head(codePath)
		labels := make([]any, len(v.Labels))
		for i, l := range v.Labels {
			labels[i] = l
		}
		if err := w.value(labels); err != nil {
			return err
		}
		return w.value(v.Objects)
	case Traverser:
		w.head(codeTraverser)
		w.int64(v.Bulk)
		return w.value(v.Value)
	case *Bytecode:
		w.head(codeBytecode)
		return w.bytecode(v)
	case P:
		if v.Text {
			w.head(codeTextP)
		} else {
			w.head(codeP)
		}
		if err := w.string(v.Operator); err != nil {
			return err
		}
		return w.list(v.Values)
	case Binding:
		w.head(codeBinding)
		if err := w.string(v.Key); err != nil {
			return err
		}
		return w.value(v.Value)
	case Lambda:
		w.head(codeLambda)
		if err := w.string(v.Language); err != nil {
			return err
		}
		if err := w.string(v.Script); err != nil {
			return err
		}
		w.int32(v.Args)
	case Strategy:
		w.head(codeTraversalStrategy)
		if err := w.string(v.Class); err != nil {
			return err
		}
		return w.stringMap(v.Config)
	default:
		return fmt.Errorf("graphbinary: no GraphBinary type for Go type %T", v)
	}
	return nil
}

// deref turns a pointer to a model type into the value it points to (nil for
// a nil pointer), so WriteValue takes either form; and a Bytecode into the
// *Bytecode the model uses.
func deref(v any) any {
	switch p := v.(type) {
	case *Vertex:
		return orNil(p)
	case *Edge:
		return orNil(p)
	case *VertexProperty:
		return orNil(p)
	case *Property:
		return orNil(p)
	case *Path:
		return orNil(p)
	case *Traverser:
		return orNil(p)
	case *P:
		return orNil(p)
	case *Enum:
		return orNil(p)
	case *Binding:
		return orNil(p)
	case *Lambda:
		return orNil(p)
	case *Strategy:
		return orNil(p)
	case *BigDecimal:
		return orNil(p)
	case Bytecode:
		return &p
	case *Bytecode:
		if p == nil {
			return nil
		}
	case *big.Int:
		if p == nil {
			return nil
		}
	}
	return v
}

func orNil[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// duration writes {seconds}{nanos} with nanos in [0, 1e9), as Java's
// Duration holds it.
func (w *writer) duration(d time.Duration) {
	sec, nanos := int64(d/time.Second), int64(d%time.Second)
	if nanos < 0 {
		sec, nanos = sec-1, nanos+int64(time.Second)
	}
	w.int64(sec)
	w.int32(int32(nanos))
}

// bigInt writes {length}{minimal two's complement big-endian bytes}.
func (w *writer) bigInt(v *big.Int) error {
	// n bytes hold -2^(8n-1) .. 2^(8n-1)-1; for v < 0 the magnitude that
	// matters is -v-1 (e.g. -128 fits one byte, 0x80).
	m := new(big.Int).Set(v)
	if v.Sign() < 0 {
		m.Neg(m).Sub(m, big.NewInt(1))
	}
	n := m.BitLen()/8 + 1
	u := new(big.Int).Set(v)
	if v.Sign() < 0 {
		u.Add(u, new(big.Int).Lsh(big.NewInt(1), uint(8*n)))
	}
	if err := w.count(n); err != nil {
		return err
	}
	w.buf.Write(u.FillBytes(make([]byte, n)))
	return nil
}

func (w *writer) list(l []any) error {
	if err := w.count(len(l)); err != nil {
		return err
	}
	for _, v := range l {
		if err := w.value(v); err != nil {
			return err
		}
	}
	return nil
}

// mapBody writes {length}{key}{value}... with the entries ordered by their
// encoded keys, so the same map always encodes to the same bytes (Go's map
// order is random; GraphBinary's has no meaning).
func (w *writer) mapBody(m map[any]any) error {
	type entry struct {
		key []byte
		val any
	}
	entries := make([]entry, 0, len(m))
	for k, v := range m {
		kw := &writer{depth: w.depth}
		if err := kw.value(k); err != nil {
			return err
		}
		entries = append(entries, entry{kw.buf.Bytes(), v})
	}
	slices.SortFunc(entries, func(a, b entry) int { return bytes.Compare(a.key, b.key) })
	if err := w.count(len(entries)); err != nil {
		return err
	}
	for _, e := range entries {
		w.buf.Write(e.key)
		if err := w.value(e.val); err != nil {
			return err
		}
	}
	return nil
}

func (w *writer) stringMap(m map[string]any) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if err := w.count(len(keys)); err != nil {
		return err
	}
	for _, k := range keys {
		w.head(codeString)
		if err := w.string(k); err != nil {
			return err
		}
		if err := w.value(m[k]); err != nil {
			return err
		}
	}
	return nil
}

// vertex writes a reference vertex: {id}{label}{properties = null}.
func (w *writer) vertex(v Vertex) error {
	if err := w.idLabel(v.ID, v.Label); err != nil {
		return err
	}
	w.null()
	return nil
}

func (w *writer) idLabel(id any, label string) error {
	if err := w.value(id); err != nil {
		return err
	}
	return w.string(label)
}

// edge writes {id}{label}{inVId}{inVLabel}{outVId}{outVLabel}{parent}{properties},
// the last two null as for every reference edge.
func (w *writer) edge(e Edge) error {
	if err := w.idLabel(e.ID, e.Label); err != nil {
		return err
	}
	if err := w.idLabel(e.InV.ID, e.InV.Label); err != nil {
		return err
	}
	if err := w.idLabel(e.OutV.ID, e.OutV.Label); err != nil {
		return err
	}
	w.null()
	w.null()
	return nil
}

// vertexProperty writes {id}{label}{value}{parent = null}{properties = null}.
func (w *writer) vertexProperty(vp VertexProperty) error {
	if err := w.idLabel(vp.ID, vp.Label); err != nil {
		return err
	}
	if err := w.value(vp.Value); err != nil {
		return err
	}
	w.null()
	w.null()
	return nil
}

// bytecode writes the steps, then the source instructions.
func (w *writer) bytecode(b *Bytecode) error {
	if err := w.instructions(b.Steps); err != nil {
		return err
	}
	return w.instructions(b.Sources)
}

func (w *writer) instructions(ins []Instruction) error {
	if err := w.count(len(ins)); err != nil {
		return err
	}
	for _, in := range ins {
		if err := w.string(in.Operator); err != nil {
			return err
		}
		if err := w.list(in.Args); err != nil {
			return err
		}
	}
	return nil
}

// WriteValue encodes v as one fully-qualified value. v is a value of the
// model (see the package doc); any other Go type is an error naming it. Go
// int is written as a Long.
func WriteValue(v any) ([]byte, error) {
	var w writer
	if err := w.value(v); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}
