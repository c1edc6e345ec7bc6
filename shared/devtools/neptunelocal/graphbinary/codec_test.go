package graphbinary

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math"
	"math/big"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

// unhex turns "01 00 00 00 01" into bytes; spaces are for the reader.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// sameValue is reflect.DeepEqual, except that big integers compare by value
// (a decoded zero and big.NewInt(0) differ in their internal slices).
func sameValue(a, b any) bool {
	if x, ok := a.(*big.Int); ok {
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	}
	return reflect.DeepEqual(a, b)
}

var (
	someUUID = uuid.MustParse("00112233-4455-6677-8899-aabbccddeeff")
	someTime = time.Date(2026, 11, 21, 10, 5, 0, 123_000_000, time.UTC)
)

func TestEveryValueTypeSurvivesARoundTrip(t *testing.T) {
	hugeInt, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	cases := []struct {
		name  string
		value any
	}{
		{"a null comes back as nil", nil},
		{"an Int comes back as int32", int32(-7)},
		{"the largest Int survives", int32(math.MaxInt32)},
		{"the smallest Long survives", int64(math.MinInt64)},
		{"a Short comes back as int16", int16(-300)},
		{"a Byte comes back as uint8", uint8(200)},
		{"true survives", true},
		{"false survives", false},
		{"a Double survives", 1530.25},
		{"a Float survives", float32(0.375)},
		{"an empty String survives", ""},
		{"a String with multi-byte characters survives", "svc:petsite/pay€"},
		{"a Date to the millisecond survives", someTime},
		{"a Date before 1970 survives", time.Date(1969, 12, 31, 23, 59, 59, 999_000_000, time.UTC)},
		{"a Duration survives", 90*time.Second + 5*time.Millisecond},
		{"a negative Duration survives", -1500 * time.Millisecond},
		{"the most negative Duration survives", time.Duration(math.MinInt64)},
		{"a UUID survives", someUUID},
		{"a ByteBuffer comes back as []byte", []byte{0, 1, 0xff}},
		{"an empty ByteBuffer survives", []byte{}},
		{"a BigInteger zero survives", big.NewInt(0)},
		{"a BigInteger 128 survives", big.NewInt(128)},
		{"a BigInteger -128 survives", big.NewInt(-128)},
		{"a BigInteger -129 survives", big.NewInt(-129)},
		{"a huge negative BigInteger survives", hugeInt},
		{"a BigDecimal survives", BigDecimal{Unscaled: big.NewInt(-12345), Scale: 2}},
		{"a Class survives", Class{Name: "java.lang.String"}},
		{"an empty List survives", []any{}},
		{"a List of mixed values survives", []any{int32(1), "a", nil, []any{int64(2)}}},
		{"a Set stays a Set", Set{"a", "b"}},
		{"a Map with T keys survives", map[any]any{
			Enum{EnumT, "id"}: "v1", Enum{EnumT, "label"}: "Service", "name": "x", nil: int64(1),
		}},
		{"a Map nested in a List survives", []any{map[any]any{"k": []any{Set{int32(1)}}}}},
		{"a T enum survives", Enum{EnumT, "id"}},
		{"a Direction enum survives", Enum{EnumDirection, "OUT"}},
		{"a Merge enum survives", Enum{EnumMerge, "onCreate"}},
		{"a Cardinality enum survives", Enum{EnumCardinality, "single"}},
		{"an Order enum survives", Enum{EnumOrder, "desc"}},
		{"a Scope enum survives", Enum{EnumScope, "local"}},
		{"a Column enum survives", Enum{EnumColumn, "keys"}},
		{"a Pop enum survives", Enum{EnumPop, "last"}},
		{"a Pick enum survives", Enum{EnumPick, "none"}},
		{"a Barrier enum survives", Enum{EnumBarrier, "normSack"}},
		{"an Operator enum survives", Enum{EnumOperator, "sum"}},
		{"a DT enum survives", Enum{EnumDT, "day"}},
		{"a Vertex survives", Vertex{ID: "v1", Label: "Service"}},
		{"an Edge survives", Edge{ID: "e1", Label: "calls",
			OutV: Vertex{ID: "a", Label: "Service"}, InV: Vertex{ID: "b", Label: "Service"}}},
		{"a VertexProperty survives", VertexProperty{ID: int64(3), Label: "name", Value: "x"}},
		{"a Property survives", Property{Key: "requests", Value: int64(1200)}},
		{"a Path survives", Path{Labels: []Set{{"a"}, {}}, Objects: []any{Vertex{ID: "v1", Label: "S"}, "x"}}},
		{"a Traverser keeps its bulk", Traverser{Bulk: 3, Value: "x"}},
		{"a Bytecode with a nested anonymous traversal survives", &Bytecode{
			Sources: []Instruction{{Operator: "withStrategies", Args: []any{
				Strategy{Class: "org.example.S", Config: map[string]any{"k": int64(1)}}}}},
			Steps: []Instruction{
				{Operator: "V", Args: []any{"a"}},
				{Operator: "coalesce", Args: []any{&Bytecode{Steps: []Instruction{{Operator: "constant", Args: []any{"x"}}}}}},
				{Operator: "count"},
			},
		}},
		{"a CardinalityValue bytecode survives", &Bytecode{Sources: []Instruction{
			{Operator: "CardinalityValueTraversal", Args: []any{Enum{EnumCardinality, "single"}, "x"}}}}},
		{"a P survives", P{Operator: "within", Values: []any{"x", "y"}}},
		{"a TextP stays a TextP", P{Operator: "startingWith", Values: []any{"svc"}, Text: true}},
		{"a P of Ps survives", P{Operator: "and", Values: []any{
			P{Operator: "gt", Values: []any{int64(1)}}, P{Operator: "lt", Values: []any{int64(5)}}}}},
		{"a Binding survives", Binding{Key: "b", Value: "v"}},
		{"a Lambda survives", Lambda{Script: "it.get()", Language: "gremlin-groovy", Args: -1}},
		{"a Strategy with an empty configuration survives", Strategy{Class: "org.example.ReadOnly", Config: map[string]any{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := WriteValue(tc.value)
			if err != nil {
				t.Fatalf("WriteValue: %v", err)
			}
			got, err := ReadValue(b)
			if err != nil {
				t.Fatalf("ReadValue(% x): %v", b, err)
			}
			if !sameValue(got, tc.value) {
				t.Fatalf("round trip changed the value:\n got  %#v\n want %#v", got, tc.value)
			}
		})
	}
}

func TestWriteValueAcceptsConvenienceFormsAndReadsBackTheModel(t *testing.T) {
	cases := []struct {
		name  string
		value any
		want  any
	}{
		{"a Go int is written as a Long", 42, int64(42)},
		{"a map with string keys reads back as map[any]any", map[string]any{"k": "v"}, map[any]any{"k": "v"}},
		{"a *Vertex is written as the Vertex", &Vertex{ID: "v", Label: "L"}, Vertex{ID: "v", Label: "L"}},
		{"a nil *Vertex is written as null", (*Vertex)(nil), nil},
		{"a Bytecode value reads back as *Bytecode", Bytecode{Steps: []Instruction{{Operator: "V"}}},
			&Bytecode{Steps: []Instruction{{Operator: "V"}}}},
		{"a nil *Bytecode is written as null", (*Bytecode)(nil), nil},
		{"a nil *big.Int is written as null", (*big.Int)(nil), nil},
		{"a time in another zone reads back in UTC", someTime.In(time.FixedZone("X", 3600)), someTime},
		{"a time is cut to the millisecond", someTime.Add(999 * time.Microsecond), someTime},
		{"a *Traverser is written as the Traverser", &Traverser{Bulk: 2, Value: int64(1)}, Traverser{Bulk: 2, Value: int64(1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := WriteValue(tc.value)
			if err != nil {
				t.Fatalf("WriteValue: %v", err)
			}
			got, err := ReadValue(b)
			if err != nil {
				t.Fatalf("ReadValue: %v", err)
			}
			if !sameValue(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

// The wire bytes below are the IO reference's own examples, or follow its
// format tables by hand, so a mistake made the same way in both directions
// still fails here.
func TestValuesHaveTheBytesTheIOReferenceGives(t *testing.T) {
	cases := []struct {
		name  string
		value any
		wire  string
	}{
		{"Int 1", int32(1), "01 00 00000001"},
		{"Int 256", int32(256), "01 00 00000100"},
		{"Int -2", int32(-2), "01 00 fffffffe"},
		{"Long 1", int64(1), "02 00 0000000000000001"},
		{"String abc", "abc", "03 00 00000003 616263"},
		{"the empty String", "", "03 00 00000000"},
		{"Date at the epoch", time.UnixMilli(0).UTC(), "04 00 0000000000000000"},
		{"Date one millisecond before the epoch", time.UnixMilli(-1).UTC(), "04 00 ffffffffffffffff"},
		{"Double 0.1", 0.1, "07 00 3fb999999999999a"},
		{"Float 0.375", float32(0.375), "08 00 3ec00000"},
		{"UUID", someUUID, "0c 00 00112233445566778899aabbccddeeff"},
		{"BigInteger 0", big.NewInt(0), "23 00 00000001 00"},
		{"BigInteger 127", big.NewInt(127), "23 00 00000001 7f"},
		{"BigInteger 128", big.NewInt(128), "23 00 00000002 0080"},
		{"BigInteger -1", big.NewInt(-1), "23 00 00000001 ff"},
		{"BigInteger -128", big.NewInt(-128), "23 00 00000001 80"},
		{"BigInteger -129", big.NewInt(-129), "23 00 00000002 ff7f"},
		{"Boolean true", true, "27 00 01"},
		{"Short -1", int16(-1), "26 00 ffff"},
		{"Byte 255", uint8(255), "24 00 ff"},
		{"Duration 1.5 s", 1500 * time.Millisecond, "81 00 0000000000000001 1dcd6500"},
		{"Duration -1.5 s with nanos kept positive", -1500 * time.Millisecond, "81 00 fffffffffffffffe 1dcd6500"},
		{"List [1]", []any{int32(1)}, "09 00 00000001 01 00 00000001"},
		{"Set [null]", Set{nil}, "0b 00 00000001 fe 01"},
		{"Map {a: 1}", map[any]any{"a": int32(1)}, "0a 00 00000001 03 00 00000001 61 01 00 00000001"},
		{"T.id as an enum code then a qualified String", Enum{EnumT, "id"}, "20 00 03 00 00000002 6964"},
		{"Merge.onCreate qualified too", Enum{EnumMerge, "onCreate"}, "2e 00 03 00 00000008 6f6e437265617465"},
		{"a reference Vertex with null properties", Vertex{ID: "v", Label: "L"},
			"11 00 03 00 00000001 76 00000001 4c fe 01"},
		{"a reference Edge: in-vertex before out-vertex, null parent and properties",
			Edge{ID: "e", Label: "c", OutV: Vertex{ID: "a", Label: "A"}, InV: Vertex{ID: "b", Label: "B"}},
			"0d 00 03 00 00000001 65 00000001 63 03 00 00000001 62 00000001 42 03 00 00000001 61 00000001 41 fe 01 fe 01"},
		{"a Property with a null parent", Property{Key: "k", Value: int32(1)},
			"0f 00 00000001 6b 01 00 00000001 fe 01"},
		{"a VertexProperty with null parent and properties", VertexProperty{ID: int64(1), Label: "k", Value: "x"},
			"12 00 02 00 0000000000000001 00000001 6b 03 00 00000001 78 fe 01 fe 01"},
		{"a Traverser: bulk Long then the value", Traverser{Bulk: 2, Value: int32(1)},
			"21 00 0000000000000002 01 00 00000001"},
		{"a Bytecode: steps first, then sources", &Bytecode{
			Sources: []Instruction{{Operator: "s", Args: nil}},
			Steps:   []Instruction{{Operator: "V", Args: []any{int32(1)}}},
		}, "15 00 00000001 00000001 56 00000001 01 00 00000001 00000001 00000001 73 00000000"},
		{"a P: name, count, qualified values", P{Operator: "gt", Values: []any{int32(3)}},
			"1e 00 00000002 6774 00000001 01 00 00000003"},
		{"a Lambda: language, script, argument count", Lambda{Language: "l", Script: "s", Args: -1},
			"1d 00 00000001 6c 00000001 73 ffffffff"},
		{"a TraversalStrategy: class then configuration", Strategy{Class: "C", Config: map[string]any{"k": true}},
			"29 00 00000001 43 00000001 03 00 00000001 6b 27 00 01"},
		{"null", nil, "fe 01"},
	}
	for _, tc := range cases {
		t.Run(tc.name+" encodes as the reference says", func(t *testing.T) {
			want := unhex(t, tc.wire)
			got, err := WriteValue(tc.value)
			if err != nil {
				t.Fatalf("WriteValue: %v", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("wire mismatch:\n got  % x\n want % x", got, want)
			}
			back, err := ReadValue(want)
			if err != nil {
				t.Fatalf("ReadValue: %v", err)
			}
			if !sameValue(back, tc.value) {
				t.Fatalf("decoded %#v, want %#v", back, tc.value)
			}
		})
	}
}

func TestEveryTypeReadsItsValueFlagNullAsNil(t *testing.T) {
	tried := 0
	defer func() {
		if tried != 44 { // every code in codes.go's const block
			t.Errorf("tried %d type codes, want 44", tried)
		}
	}()
	for code := range codeNames {
		if !readable(code) {
			continue // see TestUnknownTypesAreErrorsNamingTheCode
		}
		tried++
		t.Run("a null "+code.String()+" reads as nil", func(t *testing.T) {
			got, err := ReadValue([]byte{byte(code), flagNull})
			if err != nil || got != nil {
				t.Fatalf("got %#v, %v; want nil, nil", got, err)
			}
		})
	}
}

func TestUnknownTypesAreErrorsNamingTheCode(t *testing.T) {
	cases := []struct {
		name string
		wire string
		want string
	}{
		{"an unassigned code is named in hex", "99 00", "0x99"},
		{"a BulkSet is named", "2a 00 00000000", "0x2a (BulkSet)"},
		{"a Custom type is named", "00 00", "0x00 (Custom)"},
		{"a Char is named", "80 00 61", "0x80 (Char)"},
		{"a null of an unknown type is still an error", "99 01", "0x99"},
		{"a null BulkSet is still an error", "2a 01", "BulkSet"},
		{"an unknown code deep in a list is still named", "09 00 00000001 09 00 00000001 77 00", "0x77"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadValue(unhex(t, tc.wire))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMalformedValuesAreErrorsNotPanics(t *testing.T) {
	deep := bytes.Repeat(unhex(t, "09 00 00000001"), MaxDepth+1)
	deep = append(deep, 0xfe, 0x01)
	cases := []struct {
		name      string
		wire      []byte
		want      string
		truncated bool
	}{
		{"empty input", nil, "", true},
		{"a type code without a flag", []byte{0x01}, "", true},
		{"an Int cut short", unhex(t, "01 00 0000"), "", true},
		{"a String longer than the input", unhex(t, "03 00 00000010 61"), "", true},
		{"a String with a negative length", unhex(t, "03 00 ffffffff"), "negative", false},
		{"a List declaring two billion items", unhex(t, "09 00 7fffffff 01 00"), "list item count", true},
		{"a Map declaring more entries than bytes", unhex(t, "0a 00 00000100 fe 01 fe 01"), "map entry count", true},
		{"a ByteBuffer declaring more bytes than remain", unhex(t, "25 00 7fffffff 00"), "", true},
		{"a Bytecode declaring a million steps", unhex(t, "15 00 000f4240"), "step count", true},
		{"a value flag other than none or null", unhex(t, "01 02 00000001"), "value flag 0x02", false},
		{"the null type without the null flag", unhex(t, "fe 00"), "null type", false},
		{"a Boolean byte other than 0 or 1", unhex(t, "27 00 02"), "boolean", false},
		{"an enum whose value is not a String", unhex(t, "20 00 01 00 00000001"), "must be a String", false},
		{"an enum whose value is null", unhex(t, "20 00 03 01"), "must not be null", false},
		{"a Map keyed by a List", unhex(t, "0a 00 00000001 09 00 00000000 fe 01"), "cannot be a Go map key", false},
		{"a Map keyed by a Vertex whose id is a List", unhex(t,
			"0a 00 00000001 11 00 09 00 00000000 00000000 fe 01 fe 01"), "cannot be a Go map key", false},
		{"a Map keyed by a P", unhex(t, "0a 00 00000001 1e 00 00000002 6774 00000000 fe 01"), "cannot be a Go map key", false},
		{"a Path whose labels are not a List", unhex(t, "0e 00 03 00 00000000 09 00 00000000"), "path labels", false},
		{"a Duration too long for Go", unhex(t, "81 00 7fffffffffffffff 00000000"), "does not fit", false},
		{"a strategy configuration keyed by an Int", unhex(t,
			"29 00 00000001 43 00000001 01 00 00000001 fe 01"), "not a String", false},
		{"bytes after the value", unhex(t, "01 00 00000001 00"), "trailing", false},
		{"lists nested deeper than the limit", deep, "deeper than 64", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ReadValue(tc.wire)
			if err == nil {
				t.Fatalf("decoded %#v, want an error", got)
			}
			if tc.truncated && !errors.Is(err, ErrTruncated) {
				t.Fatalf("error %v does not wrap ErrTruncated", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestADeclaredLengthDoesNotDecideHowMuchIsAllocated(t *testing.T) {
	// 60 nested lists, each declaring as many items as the bytes after it
	// could hold, over 1 MiB of padding the innermost list fails on.
	const levels, padding = 60, 1 << 20
	var nested []byte
	for i := range levels {
		remaining := (levels-i-1)*6 + padding
		nested = append(nested, 0x09, 0x00)
		nested = binary.BigEndian.AppendUint32(nested, uint32(remaining/2))
	}
	nested = append(nested, make([]byte, padding)...)

	cases := []struct {
		name  string
		wire  []byte
		limit uint64
	}{
		{"a 12-byte List claiming two billion items allocates next to nothing",
			unhex(t, "09 00 7fffffff 01 00 00000001"), 64 << 10},
		{"nested Lists each claiming the rest of a 1 MiB frame allocate about the frame's size",
			nested, 8 << 20},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			if _, err := ReadValue(tc.wire); err == nil {
				t.Fatal("want an error")
			}
			runtime.ReadMemStats(&after)
			if grew := after.TotalAlloc - before.TotalAlloc; grew > tc.limit {
				t.Fatalf("decoding %d bytes allocated %d bytes, want at most %d", len(tc.wire), grew, tc.limit)
			}
		})
	}
}

func TestWriteValueRefusesWhatItCannotEncode(t *testing.T) {
	selfMap := map[any]any{}
	selfMap["me"] = selfMap
	cases := []struct {
		name  string
		value any
		want  string
	}{
		{"a Go type outside the model is named", struct{ X int }{1}, "struct { X int }"},
		{"a uint64 is not guessed at", uint64(1), "uint64"},
		{"a map containing itself stops at the depth limit", selfMap, "deeper than 64"},
		{"an enum of an unknown type", Enum{Type: "Nope", Value: "x"}, `unknown enum type "Nope"`},
		{"a BigDecimal without its unscaled value", BigDecimal{Scale: 1}, "unscaled"},
		{"an unknown type inside a Traverser", Traverser{Bulk: 1, Value: []string{"a"}}, "[]string"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := WriteValue(tc.value)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMapsEncodeTheSameWayEveryTime(t *testing.T) {
	m := map[any]any{}
	for i := range 50 {
		m[int32(i)] = i
	}
	first, err := WriteValue(m)
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		again, _ := WriteValue(m)
		if !bytes.Equal(first, again) {
			t.Fatal("the same map encoded to different bytes")
		}
	}
}
