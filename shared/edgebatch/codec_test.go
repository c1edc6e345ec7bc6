package edgebatch

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// mustEncode encodes b or fails the test.
func mustEncode(t testing.TB, b *Batch) Message {
	t.Helper()
	m, err := Encode(b)
	if err != nil {
		t.Fatalf("Encode: %v", err)
	}
	return m
}

// roundTrip checks that m decodes to a batch that encodes to m again.
func roundTrip(t *testing.T, m Message) *Batch {
	t.Helper()
	got, err := Decode(m.Body, m.Attributes)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	again := mustEncode(t, got)
	if again.Body != m.Body || !maps.Equal(again.Attributes, m.Attributes) {
		t.Errorf("decoded batch encodes differently")
	}
	return got
}

// bigBatch is a batch of n vertices whose "blob" prop is text of size bytes,
// random (incompressible) or repetitive.
func bigBatch(rng *rand.Rand, n, size int, random bool) *Batch {
	b := &Batch{V: Version, Source: "aws", ObservedAt: testTime}
	for i := range n {
		blob := strings.Repeat("abcdefgh", size/8+1)[:size]
		if random {
			blob = randomText(rng, size)
		}
		b.Vertices = append(b.Vertices, Vertex{ID: fmt.Sprintf("arn:aws:lambda:eu-west-1:123456789012:function:f%d", i), Label: "Lambda_Function", Props: map[string]any{"blob": blob}})
	}
	return b
}

func TestEncodeDecode(t *testing.T) {
	t.Parallel()

	t.Run("a small batch travels as plain JSON and comes back the same", func(t *testing.T) {
		t.Parallel()
		b := testBatch()
		b.Snapshot = &Snapshot{ID: "deepflow/prod-eks/2026-11-21T10:05:00Z", Scope: "deepflow/prod-eks", Seq: 3}
		m := mustEncode(t, b)
		want := map[string]string{AttrSchema: Schema, AttrSource: "deepflow"}
		if !maps.Equal(m.Attributes, want) {
			t.Errorf("attributes = %v, want %v", m.Attributes, want)
		}
		if !strings.Contains(m.Body, `"id":"calls:svc:petsite/payforadoption>svc:petsite/petsearch"`) {
			t.Errorf("body escapes '>' or lost the edge id: %s", m.Body)
		}
		got := roundTrip(t, m)
		if !got.ObservedAt.Equal(b.ObservedAt) || *got.Snapshot != *b.Snapshot || got.Edges[0].Props["requests"] != int64(1200) || got.Edges[0].Props["rrt_avg_us"] != 1530.2 {
			t.Errorf("decoded batch differs: %+v", got)
		}
		if m.Size() != len(m.Body)+len("schema")+len("String")+len(Schema)+len("source")+len("String")+len("deepflow") {
			t.Errorf("Size() = %d", m.Size())
		}
	})

	t.Run("integers come back as int64 and every other number as float64, whatever their value", func(t *testing.T) {
		t.Parallel()
		b := testBatch()
		b.Vertices[0].Props = map[string]any{
			"i": 7, "u": uint16(7), "f": float32(0.5), "n": 1e300,
			"whole_float": 1200.0, "neg_zero": math.Copysign(0, -1), "tiny": 1e-7, "big_float": 1e21,
			"past_2_53": int64(1<<53 + 1), "max": int64(math.MaxInt64), "min": int64(math.MinInt64),
			"past_int64": uint64(math.MaxUint64), "lit_int": json.Number("42"), "lit_exp": json.Number("42e0"),
		}
		m := mustEncode(t, b)
		if !strings.Contains(m.Body, `"whole_float":1200.0`) {
			t.Errorf("a float with an integral value is not written with a fraction: %s", m.Body)
		}
		// Not roundTrip: literals such as 42e0 and 2^64-1 are written back in
		// their canonical form (42.0, 18446744073709551615.0).
		got, err := Decode(m.Body, m.Attributes)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"i": int64(7), "u": int64(7), "f": 0.5, "n": 1e300,
			"whole_float": 1200.0, "neg_zero": math.Copysign(0, -1), "tiny": 1e-7, "big_float": 1e21,
			"past_2_53": int64(1<<53 + 1), "max": int64(math.MaxInt64), "min": int64(math.MinInt64),
			"past_int64": float64(math.MaxUint64), "lit_int": int64(42), "lit_exp": 42.0,
		}
		if !reflect.DeepEqual(map[string]any(got.Vertices[0].Props), want) {
			t.Errorf("props = %#v, want %#v", got.Vertices[0].Props, want)
		}
		// And a second trip changes nothing: what was decoded encodes the same.
		again := roundTrip(t, mustEncode(t, got))
		if !reflect.DeepEqual(again.Vertices[0].Props, got.Vertices[0].Props) {
			t.Errorf("second trip props = %#v, want %#v", again.Vertices[0].Props, got.Vertices[0].Props)
		}
	})

	t.Run("a seal travels and comes back", func(t *testing.T) {
		t.Parallel()
		b := &Batch{V: 1, Source: "aws", ObservedAt: testTime, Snapshot: &Snapshot{ID: "aws/1/eu-west-1/x", Scope: "aws/1/eu-west-1", Seq: 4}, Seal: &Seal{Batches: 4}}
		got := roundTrip(t, mustEncode(t, b))
		if got.Seal == nil || got.Seal.Batches != 4 {
			t.Errorf("seal = %+v", got.Seal)
		}
	})

	t.Run("a large compressible batch is gzipped, base64-encoded and announced", func(t *testing.T) {
		t.Parallel()
		b := bigBatch(nil, 40, 4000, false)
		m := mustEncode(t, b)
		if m.Attributes[AttrContentEncoding] != "gzip" {
			t.Fatalf("content-encoding = %q, want gzip", m.Attributes[AttrContentEncoding])
		}
		if _, err := base64.StdEncoding.DecodeString(m.Body); err != nil {
			t.Errorf("body is not base64: %v", err)
		}
		if m.Size() > 20_000 {
			t.Errorf("compressed message is %d bytes", m.Size())
		}
		roundTrip(t, m)
	})

	t.Run("a large incompressible batch stays plain because gzip and base64 would grow it", func(t *testing.T) {
		t.Parallel()
		b := bigBatch(rand.New(rand.NewPCG(1, 2)), 40, 4000, true)
		m := mustEncode(t, b)
		if _, ok := m.Attributes[AttrContentEncoding]; ok {
			t.Errorf("content-encoding is set on an incompressible body")
		}
		roundTrip(t, m)
	})

	t.Run("a batch just under the gzip threshold stays plain", func(t *testing.T) {
		t.Parallel()
		b := bigBatch(nil, 1, GzipThreshold-200, false)
		m := mustEncode(t, b)
		if len(m.Body) > GzipThreshold || m.Attributes[AttrContentEncoding] != "" {
			t.Errorf("body is %d bytes with content-encoding %q", len(m.Body), m.Attributes[AttrContentEncoding])
		}
	})

	t.Run("U+FFFE and U+FFFF, which SQS refuses, are escaped and come back", func(t *testing.T) {
		t.Parallel()
		b := testBatch()
		b.Vertices[0].Props["odd"] = "a\uFFFEb\uFFFFc\uFFFDd"
		b.Vertices[1].ID = "svc:\uFFFF"
		b.Edges[0].To = b.Vertices[1].ID
		b.Edges[0].ID = EdgeID(CallsLabel, b.Edges[0].From, b.Edges[0].To)
		m := mustEncode(t, b)
		for _, r := range m.Body {
			if !sqsChar(r) {
				t.Fatalf("body holds %U", r)
			}
		}
		if !strings.Contains(m.Body, `a\ufffeb\uffffc`+"\uFFFD") {
			t.Errorf("body = %s", m.Body)
		}
		got := roundTrip(t, m)
		if got.Vertices[0].Props["odd"] != b.Vertices[0].Props["odd"] || got.Vertices[1].ID != b.Vertices[1].ID {
			t.Errorf("strings changed on the way")
		}
	})

	t.Run("a message without a schema attribute is read from its v", func(t *testing.T) {
		t.Parallel()
		m := mustEncode(t, testBatch())
		if _, err := Decode(m.Body, nil); err != nil {
			t.Errorf("Decode without attributes: %v", err)
		}
	})

	t.Run("extra attributes are kept and counted", func(t *testing.T) {
		t.Parallel()
		tp := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		m, err := EncodeWith(testBatch(), map[string]string{"traceparent": tp})
		if err != nil {
			t.Fatal(err)
		}
		if m.Attributes["traceparent"] != tp || m.Size() != len(m.Body)+attributesSize(m.Attributes) {
			t.Errorf("attributes = %v", m.Attributes)
		}
		if _, err := Decode(m.Body, m.Attributes); err != nil {
			t.Errorf("Decode: %v", err)
		}
	})
}

func TestEncodeRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		b     *Batch
		extra map[string]string
		check func(error) bool
	}{
		{"an invalid batch gives the validation error", func() *Batch { b := testBatch(); b.V = 2; return b }(), nil,
			func(err error) bool { _, ok := errors.AsType[*ValidationError](err); return ok }},
		{"a nil batch gives the validation error", nil, nil,
			func(err error) bool { _, ok := errors.AsType[*ValidationError](err); return ok }},
		{"an incompressible batch over the limit is too large", bigBatch(rand.New(rand.NewPCG(3, 4)), 20, 60_000, true), nil,
			func(err error) bool { return errors.Is(err, ErrTooLarge) }},
		{"an extra attribute may not replace schema", testBatch(), map[string]string{AttrSchema: "x"}, nil},
		{"an extra attribute may not replace content-encoding", testBatch(), map[string]string{AttrContentEncoding: "br"}, nil},
		{"an extra attribute name with a space is refused", testBatch(), map[string]string{"trace parent": "x"}, nil},
		{"an extra attribute name starting with AWS. is refused", testBatch(), map[string]string{"aws.x": "x"}, nil},
		{"an extra attribute name with .. is refused", testBatch(), map[string]string{"a..b": "x"}, nil},
		{"an empty extra attribute value is refused", testBatch(), map[string]string{"x": ""}, nil},
		{"an extra attribute value with a control character is refused", testBatch(), map[string]string{"x": "a\x00b"}, nil},
		{"four extra attributes leave no room for the reserved ones", testBatch(), map[string]string{"a": "1", "b": "1", "c": "1", "d": "1"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := EncodeWith(tt.b, tt.extra)
			if err == nil {
				t.Fatal("EncodeWith succeeded")
			}
			if tt.check != nil && !tt.check(err) {
				t.Errorf("wrong error: %v", err)
			}
		})
	}

	t.Run("three extra attributes are allowed", func(t *testing.T) {
		t.Parallel()
		if _, err := EncodeWith(testBatch(), map[string]string{"a": "1", "b": "1", "c": "1"}); err != nil {
			t.Error(err)
		}
	})
}

// TestEncodeSizeLimit fills a message to exactly MaxEncodedBytes, then one byte over.
func TestEncodeSizeLimit(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	b := bigBatch(rng, 17, 60_000, true)
	last := b.Vertices[len(b.Vertices)-1].Props
	last["pad"] = ""
	m := mustEncode(t, b)
	last["pad"] = randomText(rng, MaxEncodedBytes-m.Size())

	t.Run("a message of exactly MaxEncodedBytes is encoded", func(t *testing.T) {
		m := mustEncode(t, b)
		if m.Size() != MaxEncodedBytes || m.Attributes[AttrContentEncoding] != "" {
			t.Fatalf("size = %d, content-encoding %q; want %d, plain", m.Size(), m.Attributes[AttrContentEncoding], MaxEncodedBytes)
		}
	})
	t.Run("one byte more is too large", func(t *testing.T) {
		last["pad"] = last["pad"].(string) + "x"
		if _, err := Encode(b); !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
}

func gzipped(t testing.TB, data []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
	zw.Write(data)
	zw.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestDecodeRefuses(t *testing.T) {
	t.Parallel()
	valid := mustEncode(t, testBatch()).Body
	plain := map[string]string{AttrSchema: Schema}
	gz := map[string]string{AttrSchema: Schema, AttrContentEncoding: "gzip"}
	replace := func(old, new string) string {
		if !strings.Contains(valid, old) {
			t.Fatalf("body has no %q", old)
		}
		return strings.Replace(valid, old, new, 1)
	}
	bomb := gzipped(t, bytes.Repeat([]byte{' '}, MaxDecodedBytes+1))

	tests := []struct {
		name  string
		body  string
		attrs map[string]string
		want  string // in the error
	}{
		{"an empty body is malformed", "", plain, "not an edge batch"},
		{"a body that is not JSON is malformed", "hello", plain, "not an edge batch"},
		{"a truncated body is malformed", valid[:len(valid)-1], plain, "not an edge batch"},
		{"a second document after the first is malformed", valid + valid, plain, "not an edge batch"},
		{"text after the document is malformed", valid + " x", plain, "not an edge batch"},
		{"a JSON array is malformed", "[" + valid + "]", plain, "not an edge batch"},
		{"JSON null is malformed", "null", plain, "not a JSON object"},
		{"a number where a string belongs is malformed", replace(`"source":"deepflow"`, `"source":5`), plain, "not an edge batch"},
		{"an observed_at that is not RFC 3339 is malformed", replace(`"2026-11-21T10:05:00Z"`, `"21/11/2026"`), plain, "not an edge batch"},
		{"an unknown top-level field is malformed", replace(`{"v":1`, `{"v":1,"observedAt":"x"`), plain, `batch: unknown field "observedAt"`},
		{"a field in the wrong case is malformed", replace(`"source"`, `"Source"`), plain, `unknown field "Source"`},
		{"an unknown field in a vertex is malformed", replace(`"label":"Service"`, `"label":"Service","lable":"x"`), plain, `vertices[0]: unknown field "lable"`},
		{"an unknown field in an edge is malformed", replace(`"label":"calls"`, `"label":"calls","weight":1`), plain, `edges[0]: unknown field "weight"`},
		{"a repeated top-level key is malformed", replace(`{"v":1`, `{"v":1,"v":1`), plain, `batch: key "v" appears twice`},
		{"a repeated key in props is malformed", replace(`"timeouts":0`, `"timeouts":0,"timeouts":1`), plain, `edges[0].props: key "timeouts" appears twice`},
		{"a key repeated through an escape is malformed", replace(`"timeouts":0`, `"timeouts":0,"time\u006futs":1`), plain, `key "timeouts" appears twice`},
		{"a body that is not UTF-8 is malformed", replace(`"petsite"`, "\"pet\xffsite\""), plain, "not valid UTF-8"},
		{"a nested object in props is malformed", replace(`"timeouts":0`, `"timeouts":{"a":1}`), plain, `edges[0].props["timeouts"]: is a JSON object`},
		{"a null prop is malformed", replace(`"timeouts":0`, `"timeouts":null`), plain, `edges[0].props["timeouts"]: is null`},
		{"an invalid batch is malformed", replace(`"v":1`, `"v":2`), plain, "v: is 2; want 1"},
		{"another schema is malformed", valid, map[string]string{AttrSchema: "edgebatch.v2"}, `schema attribute is "edgebatch.v2"`},
		{"a source attribute that differs from the body is malformed", valid, map[string]string{AttrSource: "aws"}, "source attribute"},
		{"an unknown content-encoding is malformed", valid, map[string]string{AttrContentEncoding: "br"}, `content-encoding "br"`},
		{"gzip that is not base64 is malformed", "%%%", gz, "not base64"},
		{"gzip that is not gzip is malformed", base64.StdEncoding.EncodeToString([]byte(valid)), gz, "not gzip"},
		{"truncated gzip is malformed", gzipped(t, []byte(valid))[:40], gz, "unexpected EOF"},
		{"gzip with a bad checksum is malformed", func() string {
			raw, _ := base64.StdEncoding.DecodeString(gzipped(t, []byte(valid)))
			raw[len(raw)-6] ^= 0xff
			return base64.StdEncoding.EncodeToString(raw)
		}(), gz, "cannot decompress"},
		{"gzip with garbage after it is malformed", func() string {
			raw, _ := base64.StdEncoding.DecodeString(gzipped(t, []byte(valid)))
			return base64.StdEncoding.EncodeToString(append(raw, "garbage"...))
		}(), gz, "cannot decompress"},
		{"a gzip bomb stops at MaxDecodedBytes", bomb, gz, "decompresses to more than"},
		{"a plain body over MaxDecodedBytes is malformed", strings.Repeat(" ", MaxDecodedBytes+1), plain, "at most"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b, err := Decode(tt.body, tt.attrs)
			if err == nil {
				t.Fatalf("Decode succeeded: %+v", b)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error does not wrap ErrMalformed: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to contain %q", err, tt.want)
			}
			r := Reason(err)
			if r == "" || len(r) > MaxReasonBytes || !utf8.ValidString(r) || attributeProblem(AttrError, r) != "" {
				t.Errorf("Reason() = %q is not a valid DLQ attribute", r)
			}
		})
	}

	t.Run("a validation failure unwraps to both ErrMalformed and the ValidationError", func(t *testing.T) {
		t.Parallel()
		_, err := Decode(replace(`"v":1`, `"v":2`), nil)
		ve, ok := errors.AsType[*ValidationError](err)
		if !ok || !errors.Is(err, ErrMalformed) || ve.Problems[0].Path != "v" {
			t.Errorf("err = %v", err)
		}
		if r := Reason(err); r != "invalid edge batch: v: is 2; want 1" {
			t.Errorf("Reason() = %q", r)
		}
	})
}
