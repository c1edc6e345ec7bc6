package graphbinary

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// FuzzReadRequest feeds arbitrary frames to ReadRequest. Its seed corpus is
// testdata/fuzz/FuzzReadRequest: frames gremlin-go v3.7.4 really sent
// (regenerate with `go test -run TestGremlinGoRequestsDecode -update-seeds`),
// plus the hand-built requests added below.
//
// Run it with: go test -run '^$' -fuzz FuzzReadRequest -fuzztime 60s
//
// Properties: ReadRequest never panics; whatever it accepts re-encodes, and
// re-encoding is stable (encode, decode, encode gives the same bytes), so the
// server can always echo what it understood.
func FuzzReadRequest(f *testing.F) {
	for _, req := range []*Request{
		{ID: someUUID, Op: "bytecode", Processor: "traversal", Args: map[string]any{
			"gremlin": &Bytecode{Steps: []Instruction{
				{Operator: "V", Args: []any{"a"}},
				{Operator: "has", Args: []any{"k", P{Operator: "within", Values: []any{"x", "y"}}}},
				{Operator: "count"},
			}},
			"aliases": map[any]any{"g": "g"},
		}},
		{ID: someUUID, Op: "authentication", Processor: "traversal", Args: map[string]any{"sasl": "AHVzZXIAcGFzcw=="}},
		{ID: someUUID, Op: "eval", Args: map[string]any{"gremlin": "g.V()", "bindings": map[any]any{"x": int32(1)}}},
	} {
		b, err := WriteRequest(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		req, err := ReadRequest(frame)
		if err != nil {
			return
		}
		again, err := WriteRequest(req)
		if err != nil {
			t.Fatalf("a request ReadRequest accepted does not re-encode: %v", err)
		}
		req2, err := ReadRequest(again)
		if err != nil {
			t.Fatalf("a re-encoded request does not decode: %v", err)
		}
		third, err := WriteRequest(req2)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(again, third) {
			t.Fatalf("re-encoding is not stable:\n% x\n% x", again, third)
		}
	})
}

// The seed corpus must hold requests that decode, or the fuzzer starts from
// noise rather than from what gremlin-go sends.
func TestTheSeedCorpusHoldsRealRequestsThatDecode(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "fuzz", "FuzzReadRequest", "gremlin-go*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 5 {
		t.Fatalf("found %d gremlin-go seeds, want the frames TestGremlinGoRequestsDecode writes", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file)+" decodes", func(t *testing.T) {
			text, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(text)), "\n")
			if len(lines) != 2 || lines[0] != "go test fuzz v1" ||
				!strings.HasPrefix(lines[1], "[]byte(") || !strings.HasSuffix(lines[1], ")") {
				t.Fatalf("not a go test fuzz v1 file with one []byte")
			}
			frame, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
			if err != nil {
				t.Fatal(err)
			}
			req, err := ReadRequest([]byte(frame))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := req.Args["gremlin"].(*Bytecode); !ok {
				t.Fatalf("args[gremlin] is %T, want *Bytecode", req.Args["gremlin"])
			}
		})
	}
}
