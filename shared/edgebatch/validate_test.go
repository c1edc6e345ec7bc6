package edgebatch

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	long := func(prefix string, n int) string { return prefix + strings.Repeat("x", n-len(prefix)) }
	setProp := func(k string, v any) func(*Batch) {
		return func(b *Batch) { b.Vertices[0].Props[k] = v }
	}
	seal := func(b *Batch) {
		b.Vertices, b.Edges = nil, nil
		b.Snapshot = &Snapshot{ID: "deepflow/prod/1", Scope: "deepflow/prod", Seq: 3}
		b.Seal = &Seal{Batches: 3}
	}
	// twoLong makes the edge join two vertices whose ids are 300 bytes each.
	twoLong := func(b *Batch) {
		b.Vertices[0].ID, b.Vertices[1].ID = long("arn:a:", 300), long("arn:b:", 300)
		e := &b.Edges[0]
		e.From, e.To = b.Vertices[0].ID, b.Vertices[1].ID
		e.ID = EdgeID(e.Label, e.From, e.To)
	}

	// ends renames the vertices to from and to and gives the edge the id id,
	// or EdgeID's when id is "".
	ends := func(from, to, id string) func(*Batch) {
		return func(b *Batch) {
			b.Vertices[0].ID, b.Vertices[1].ID = from, to
			e := &b.Edges[0]
			e.From, e.To, e.ID = from, to, id
			if id == "" {
				e.ID = EdgeID(e.Label, from, to)
			}
		}
	}

	tests := []struct {
		name   string
		mutate func(*Batch)
		want   []string // problem paths; nil for a valid batch
	}{
		// Accepted.
		{"a batch with two vertices and an edge between them is valid", func(*Batch) {}, nil},
		{"a batch with one vertex and no edges is valid", func(b *Batch) { b.Vertices, b.Edges = b.Vertices[:1], nil }, nil},
		{"a source of 32 characters from [a-z0-9-] is valid", func(b *Batch) { b.Source = "aws-123456789012-" + strings.Repeat("z", 15) }, nil},
		{"an observed_at with a zone offset is valid", func(b *Batch) { b.ObservedAt = testTime.In(time.FixedZone("x", 3600)) }, nil},
		{"a vertex id of exactly 512 bytes is valid", func(b *Batch) { b.Vertices = b.Vertices[:1]; b.Edges = nil; b.Vertices[0].ID = long("arn:", 512) }, nil},
		{"a vertex id of multibyte UTF-8 is valid", func(b *Batch) { b.Vertices = b.Vertices[:1]; b.Edges = nil; b.Vertices[0].ID = "svc:ns/café" }, nil},
		{"a label of 128 characters with digits, '_' and ':' is valid", func(b *Batch) { b.Vertices[0].Label = "A1_:" + strings.Repeat("b", 124) }, nil},
		{"a string, a float, an int and a bool are valid values", func(b *Batch) {
			b.Vertices[0].Props = map[string]any{"s": "x", "f": 1.5, "i": 7, "b": true}
		}, nil},
		{"every Go integer type, to the ends of int64 and uint64, is a valid value", func(b *Batch) {
			b.Vertices[0].Props = map[string]any{"a": int8(1), "b": int16(1), "c": int32(1), "d": int64(math.MaxInt64), "e": int64(math.MinInt64),
				"f": uint(1), "g": uint8(1), "h": uint16(1), "i": uint32(1), "j": uint64(math.MaxUint64), "k": float32(1.5)}
		}, nil},
		{"a json.Number is a valid value", setProp("n", json.Number("-1.5e3")), nil},
		{"an empty string is a valid value", setProp("s", ""), nil},
		{"a string of exactly 64 KiB is a valid value", setProp("s", strings.Repeat("x", MaxStringBytes)), nil},
		{"a key of 64 characters is valid", setProp("k"+strings.Repeat("_", 63), 1), nil},
		{"64 properties are valid", func(b *Batch) {
			for i := range MaxProps - 2 {
				b.Vertices[0].Props[fmt.Sprintf("p%d", i)] = i
			}
		}, nil},
		{"a vertex repeated with the same content is valid", func(b *Batch) {
			v := b.Vertices[0]
			v.Props = map[string]any{"name": "payforadoption", "namespace": "petsite"}
			b.Vertices = append(b.Vertices, v)
		}, nil},
		{"an edge repeated with the same content, integers of different Go types, is valid", func(b *Batch) {
			e := b.Edges[0]
			e.Props = map[string]any{"requests": int64(1200), "server_errors": int32(3), "client_errors": json.Number("0"), "timeouts": uint8(0), "rrt_avg_us": json.Number("1530.2")}
			b.Edges = append(b.Edges, e)
		}, nil},
		{"an edge id with a key suffix is valid", func(b *Batch) {
			e := &b.Edges[0]
			e.ID = EdgeIDWithKey(e.Label, e.From, e.To, "8080")
		}, nil},
		{"a hashed edge id between two long ids is valid", twoLong, nil},
		{"a hashed edge id with a key between two long ids is valid", func(b *Batch) {
			twoLong(b)
			e := &b.Edges[0]
			e.ID = EdgeIDWithKey(e.Label, e.From, e.To, "export-a")
		}, nil},
		{"a hashed edge id between endpoints holding '>' is valid", ends("svc:a>b", "svc:c", ""), nil},
		{"a hashed edge id with a key between endpoints holding '#' is valid", func(b *Batch) {
			ends("arn:aws:logs:eu-west-1:1:log-group:/app#blue", "svc:c", "")(b)
			e := &b.Edges[0]
			e.ID = EdgeIDWithKey(e.Label, e.From, e.To, "k#>")
		}, nil},
		{"a hashed edge id with a label holding ':' is valid", func(b *Batch) {
			e := &b.Edges[0]
			e.Label = "calls:http"
			e.ID = EdgeID(e.Label, e.From, e.To)
		}, nil},
		{"an edge from a vertex to itself is valid", func(b *Batch) {
			e := &b.Edges[0]
			e.To = e.From
			e.ID = EdgeID(e.Label, e.From, e.To)
		}, nil},
		{"a snapshot batch is valid", func(b *Batch) { b.Snapshot = &Snapshot{ID: "deepflow/prod/1", Scope: "deepflow/prod", Seq: 7} }, nil},
		{"an empty snapshot batch is valid", func(b *Batch) {
			b.Vertices, b.Edges = nil, nil
			b.Snapshot = &Snapshot{ID: "deepflow/prod/1", Scope: "deepflow/prod"}
		}, nil},
		{"a seal batch whose seq equals its batch count is valid", seal, nil},
		{"a batch of exactly 10,000 vertices and edges is valid", func(b *Batch) {
			for i := len(b.Vertices) + len(b.Edges); i < MaxBatchElements; i++ {
				b.Vertices = append(b.Vertices, Vertex{ID: fmt.Sprintf("v%d", i), Label: "L"})
			}
		}, nil},

		// Refused: the header.
		{"v 0 is refused", func(b *Batch) { b.V = 0 }, []string{"v"}},
		{"v 2 is refused", func(b *Batch) { b.V = 2 }, []string{"v"}},
		{"an empty source is refused", func(b *Batch) { b.Source = "" }, []string{"source"}},
		{"a source with upper case is refused", func(b *Batch) { b.Source = "DeepFlow" }, []string{"source"}},
		{"a source with '_' is refused", func(b *Batch) { b.Source = "deep_flow" }, []string{"source"}},
		{"a source of 33 characters is refused", func(b *Batch) { b.Source = strings.Repeat("a", 33) }, []string{"source"}},
		{"an unset observed_at is refused", func(b *Batch) { b.ObservedAt = time.Time{} }, []string{"observed_at"}},
		{"an observed_at after year 9999 is refused", func(b *Batch) { b.ObservedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, []string{"observed_at"}},
		{"an empty batch without a snapshot is refused", func(b *Batch) { b.Vertices, b.Edges = nil, nil }, []string{"batch"}},
		{"a batch of 10,001 vertices and edges is refused", func(b *Batch) {
			for i := len(b.Vertices) + len(b.Edges); i <= MaxBatchElements; i++ {
				b.Vertices = append(b.Vertices, Vertex{ID: fmt.Sprintf("v%d", i), Label: "L"})
			}
		}, []string{"batch"}},

		// Refused: snapshot and seal.
		{"a snapshot without an id is refused", func(b *Batch) { b.Snapshot = &Snapshot{Scope: "s"} }, []string{"snapshot.id"}},
		{"a snapshot without a scope is refused", func(b *Batch) { b.Snapshot = &Snapshot{ID: "s/1"} }, []string{"snapshot.scope"}},
		{"a snapshot with a negative seq is refused", func(b *Batch) { b.Snapshot = &Snapshot{ID: "s/1", Scope: "s", Seq: -1} }, []string{"snapshot.seq"}},
		{"a snapshot id over 512 bytes is refused", func(b *Batch) { b.Snapshot = &Snapshot{ID: long("s/", 513), Scope: "s"} }, []string{"snapshot.id"}},
		{"a seal without a snapshot is refused", func(b *Batch) { seal(b); b.Snapshot = nil }, []string{"seal"}},
		{"a seal of zero batches is refused", func(b *Batch) { seal(b); b.Seal.Batches, b.Snapshot.Seq = 0, 0 }, []string{"seal.batches"}},
		{"a seal whose seq differs from its batch count is refused", func(b *Batch) { seal(b); b.Snapshot.Seq = 2 }, []string{"snapshot.seq"}},
		{"a seal with vertices and edges is refused", func(b *Batch) {
			vs, es := b.Vertices, b.Edges
			seal(b)
			b.Vertices, b.Edges = vs, es
		}, []string{"seal"}},

		// Refused: ids and labels.
		{"an empty vertex id is refused", func(b *Batch) { b.Vertices = b.Vertices[:1]; b.Edges = nil; b.Vertices[0].ID = "" }, []string{"vertices[0].id"}},
		{"a vertex id of 513 bytes is refused", func(b *Batch) { b.Vertices = b.Vertices[:1]; b.Edges = nil; b.Vertices[0].ID = long("arn:", 513) }, []string{"vertices[0].id"}},
		{"a vertex id that is not UTF-8 is refused", func(b *Batch) { b.Vertices = b.Vertices[:1]; b.Edges = nil; b.Vertices[0].ID = "svc:\xff" }, []string{"vertices[0].id"}},
		{"an empty label is refused", func(b *Batch) { b.Vertices[1].Label = "" }, []string{"vertices[1].label"}},
		{"a label starting with a digit is refused", func(b *Batch) { b.Vertices[0].Label = "1Service" }, []string{"vertices[0].label"}},
		{"a label starting with '_' is refused", func(b *Batch) { b.Vertices[0].Label = "_Service" }, []string{"vertices[0].label"}},
		{"a label with '-' is refused", func(b *Batch) { b.Vertices[0].Label = "Lambda-Function" }, []string{"vertices[0].label"}},
		{"a label of 129 characters is refused", func(b *Batch) { b.Vertices[0].Label = strings.Repeat("L", 129) }, []string{"vertices[0].label"}},
		{"an edge label with a space is refused", func(b *Batch) { b.Edges[0].Label = "calls x" }, []string{"edges[0].label"}},
		{"an empty edge id is refused", func(b *Batch) { b.Edges[0].ID = "" }, []string{"edges[0].id"}},
		{"an edge id of over 512 bytes is refused", func(b *Batch) {
			twoLong(b)
			e := &b.Edges[0]
			e.ID = e.Label + ":" + e.From + ">" + e.To
		}, []string{"edges[0].id"}},
		{"an edge id that is not its endpoints' is refused", func(b *Batch) { b.Edges[0].ID = "calls:a>b" }, []string{"edges[0].id"}},
		{"an edge id with an empty key is refused", func(b *Batch) { b.Edges[0].ID += "#" }, []string{"edges[0].id"}},
		{"an edge id of another label is refused", func(b *Batch) { b.Edges[0].Label = "depends_on" }, []string{"edges[0].id"}},
		{"a hashed edge id where the readable one fits is refused", func(b *Batch) {
			e := &b.Edges[0]
			e.ID = e.Label + hashedMarker + edgeDigest(e.From, e.To)
		}, []string{"edges[0].id"}},
		{"a readable edge id whose from holds '>' is refused", ends("svc:a>b", "svc:c", "calls:svc:a>b>svc:c"), []string{"edges[0].id"}},
		{"a readable edge id whose to holds '>' is refused", ends("svc:a", "b>svc:c", "calls:svc:a>b>svc:c"), []string{"edges[0].id"}},
		{"a readable edge id whose to holds '#' is refused", ends("svc:a", "svc:b#c", "calls:svc:a>svc:b#c"), []string{"edges[0].id"}},
		{"a readable edge id whose label holds ':' is refused", func(b *Batch) {
			e := &b.Edges[0]
			e.Label = "calls:http"
			e.ID = e.Label + ":" + e.From + ">" + e.To
		}, []string{"edges[0].id"}},
		{"an edge from a vertex outside the batch is refused", func(b *Batch) {
			e := &b.Edges[0]
			e.From = "svc:x"
			e.ID = EdgeID(e.Label, e.From, e.To)
		}, []string{"edges[0].from"}},
		{"an edge to a vertex outside the batch is refused", func(b *Batch) {
			e := &b.Edges[0]
			e.To = "svc:x"
			e.ID = EdgeID(e.Label, e.From, e.To)
		}, []string{"edges[0].to"}},
		{"a vertex repeated with another label is refused", func(b *Batch) {
			v := b.Vertices[0]
			v.Label = "Other"
			b.Vertices = append(b.Vertices, v)
		}, []string{"vertices[2].id"}},
		{"a vertex repeated with other props is refused", func(b *Batch) {
			v := b.Vertices[0]
			v.Props = map[string]any{"name": "x"}
			b.Vertices = append(b.Vertices, v)
		}, []string{"vertices[2].id"}},
		{"an edge repeated with other props is refused", func(b *Batch) {
			e := b.Edges[0]
			e.Props = map[string]any{"requests": 1}
			b.Edges = append(b.Edges, e)
		}, []string{"edges[1].id"}},

		// Refused: props.
		{"a null value is refused", setProp("n", nil), []string{`vertices[0].props["n"]`}},
		{"an array value is refused", setProp("a", []any{"x"}), []string{`vertices[0].props["a"]`}},
		{"an object value is refused", setProp("o", map[string]any{"x": 1}), []string{`vertices[0].props["o"]`}},
		{"NaN is refused", setProp("n", math.NaN()), []string{`vertices[0].props["n"]`}},
		{"+Inf is refused", setProp("n", math.Inf(1)), []string{`vertices[0].props["n"]`}},
		{"-Inf as float32 is refused", setProp("n", float32(math.Inf(-1))), []string{`vertices[0].props["n"]`}},
		{"a json.Number beyond float64 is refused", setProp("n", json.Number("1e400")), []string{`vertices[0].props["n"]`}},
		{"a json.Number that is not a number is refused", setProp("n", json.Number("0x10")), []string{`vertices[0].props["n"]`}},
		{"an edge repeated with an integer once and a float of the same value once is refused (Long and Double differ)", func(b *Batch) {
			e := b.Edges[0]
			e.Props = map[string]any{"requests": 1200.0, "server_errors": 3, "client_errors": 0, "timeouts": 0, "rrt_avg_us": 1530.2}
			b.Edges = append(b.Edges, e)
		}, []string{"edges[1].id"}},
		{"a time.Time value is refused", setProp("t", testTime), []string{`vertices[0].props["t"]`}},
		{"a vertex id in the writer's reserved graphfleet: namespace is refused", func(b *Batch) {
			b.Vertices = b.Vertices[:1]
			b.Edges = nil
			b.Vertices[0].ID = "graphfleet:scope:aws/1/us-east-1"
		}, []string{"vertices[0].id"}},
		{"a string that is not UTF-8 is refused", setProp("s", "\xc3"), []string{`vertices[0].props["s"]`}},
		{"a string over 64 KiB is refused", setProp("s", strings.Repeat("x", MaxStringBytes+1)), []string{`vertices[0].props["s"]`}},
		{"an upper-case key is refused", setProp("Name", "x"), []string{`vertices[0].props["Name"]`}},
		{"a key starting with a digit is refused", setProp("1x", "x"), []string{`vertices[0].props["1x"]`}},
		{"a key starting with '_' is refused", setProp("_x", "x"), []string{`vertices[0].props["_x"]`}},
		{"a key with '-' is refused", setProp("rrt-avg", "x"), []string{`vertices[0].props["rrt-avg"]`}},
		{"an empty key is refused", setProp("", "x"), []string{`vertices[0].props[""]`}},
		{"a key of 65 characters is refused", setProp("k"+strings.Repeat("x", 64), 1), []string{`vertices[0].props["k` + strings.Repeat("x", 64) + `"]`}},
		{"65 properties are refused", func(b *Batch) {
			for i := range MaxProps - 1 {
				b.Vertices[0].Props[fmt.Sprintf("p%d", i)] = i
			}
		}, []string{"vertices[0].props"}},
		{"an invalid edge prop is refused with the edge's path", func(b *Batch) { b.Edges[0].Props["rrt_avg_us"] = math.NaN() }, []string{`edges[0].props["rrt_avg_us"]`}},
		{"a zero batch breaks every header rule at once", func(b *Batch) { *b = Batch{} }, []string{"v", "source", "observed_at", "batch"}},
	}
	for _, key := range []string{"source", "first_seen", "last_seen", "snapshot", "scope", "active"} {
		tests = append(tests, struct {
			name   string
			mutate func(*Batch)
			want   []string
		}{fmt.Sprintf("the writer-owned key %q is refused", key), setProp(key, "x"), []string{fmt.Sprintf("vertices[0].props[%q]", key)}})
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := testBatch()
			tt.mutate(b)
			err := Validate(b)
			if got := problemPaths(t, err); !slices.Equal(got, tt.want) {
				t.Errorf("problem paths = %q, want %q; error:\n%v", got, tt.want, err)
			}
		})
	}
}

func TestValidateNilBatch(t *testing.T) {
	t.Parallel()
	t.Run("a nil batch is refused, not a panic", func(t *testing.T) {
		t.Parallel()
		if got := problemPaths(t, Validate(nil)); !slices.Equal(got, []string{"batch"}) {
			t.Errorf("paths = %q", got)
		}
	})
}

func TestValidationError(t *testing.T) {
	t.Parallel()

	t.Run("every problem is reported, in document order, with its path", func(t *testing.T) {
		t.Parallel()
		b := testBatch()
		b.Source = "Bad"
		b.Vertices[1].Label = "1x"
		e := &b.Edges[0]
		e.From = "svc:x"
		e.ID = EdgeID(e.Label, e.From, e.To)
		e.Props["b_bad"] = nil
		e.Props["a_bad"] = math.Inf(1)
		err := Validate(b)
		want := []string{
			`source: "Bad" does not match [a-z0-9-]{1,32}`,
			`vertices[1].label: "1x" does not match [A-Za-z][A-Za-z0-9_:]{0,127}`,
			`edges[0].from: "svc:x" is not among the batch's vertices`,
			`edges[0].props["a_bad"]: number is not finite`,
			`edges[0].props["b_bad"]: is null; want a string, a finite number or a bool`,
		}
		if got := err.Error(); got != strings.Join(want, "\n") {
			t.Errorf("Error() =\n%s\nwant\n%s", got, strings.Join(want, "\n"))
		}
		p, ok := errors.AsType[*Problem](err)
		if !ok || p.Path != "source" {
			t.Errorf("errors.AsType[*Problem] = %v, %v; want the first problem", p, ok)
		}
	})

	t.Run("an ambiguous readable edge id is refused with the id it needs", func(t *testing.T) {
		t.Parallel()
		b := testBatch()
		b.Vertices[0].ID, b.Vertices[1].ID = "svc:a>b", "svc:c"
		e := &b.Edges[0]
		e.From, e.To, e.ID = "svc:a>b", "svc:c", "calls:svc:a>b>svc:c"
		want := `edges[0].id: is the readable form, but from "svc:a>b" holds '>', so another edge could have this id: want "calls:sha256:` + edgeDigest("svc:a>b", "svc:c") + `" (see EdgeID)`
		if got := Validate(b); got == nil || got.Error() != want {
			t.Errorf("Validate() = %v\nwant %s", got, want)
		}
	})

	t.Run("the reason is one short line fit for an SQS attribute", func(t *testing.T) {
		t.Parallel()
		b := testBatch()
		for i := range 50 {
			b.Vertices[0].Props[fmt.Sprintf("bad\n\uffff%d", i)] = nil
		}
		err := Validate(b)
		r := Reason(err)
		if len(r) > MaxReasonBytes || strings.ContainsAny(r, "\n\r") {
			t.Errorf("Reason() is %d bytes or has a newline: %q", len(r), r)
		}
		if msg := attributeProblem(AttrError, r); msg != "" {
			t.Errorf("Reason() is not a valid attribute value: %s: %q", msg, r)
		}
		if !strings.HasPrefix(r, "invalid edge batch (100 problems): vertices[0].props[") {
			t.Errorf("Reason() = %q", r)
		}
	})

	t.Run("a batch with thousands of problems keeps the first hundred and counts the rest", func(t *testing.T) {
		t.Parallel()
		b := testBatch()
		for i := range 500 {
			b.Vertices = append(b.Vertices, Vertex{ID: fmt.Sprintf("v%d", i), Label: "-"})
		}
		ve, ok := errors.AsType[*ValidationError](Validate(b))
		if !ok || len(ve.Problems) != MaxProblems || ve.Omitted != 400 {
			t.Fatalf("got %d problems and %d omitted, want %d and 400", len(ve.Problems), ve.Omitted, MaxProblems)
		}
		if !strings.HasSuffix(ve.Error(), "(and 400 more problems)") {
			t.Errorf("Error() does not say how many were left out")
		}
	})

	t.Run("the same batch always gives the same error", func(t *testing.T) {
		t.Parallel()
		b := testBatch()
		for i := range 20 {
			b.Vertices[0].Props[fmt.Sprintf("K%d", i)] = nil
		}
		first := Validate(b).Error()
		for range 20 {
			if got := Validate(b).Error(); got != first {
				t.Fatalf("errors differ:\n%s\n%s", got, first)
			}
		}
	})

	t.Run("the reason of any error is short and of one line", func(t *testing.T) {
		t.Parallel()
		err := fmt.Errorf("wrapped: %w", errors.New(strings.Repeat("long\nline ", 100)))
		if r := Reason(err); len(r) > MaxReasonBytes || strings.Contains(r, "\n") || !strings.HasSuffix(r, "...") {
			t.Errorf("Reason() = %q", r)
		}
		if r := Reason(nil); r != "" {
			t.Errorf("Reason(nil) = %q", r)
		}
	})
}

func TestIsJSONNumber(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"0", true}, {"-0", true}, {"12", true}, {"1.5", true}, {"1e5", true}, {"1E+5", true}, {"-1.25e-3", true},
		{"", false}, {"-", false}, {"01", false}, {"1.", false}, {".5", false}, {"1e", false}, {"1e+", false},
		{"+1", false}, {"0x10", false}, {"NaN", false}, {"Inf", false}, {"1_000", false}, {"1 ", false},
	} {
		t.Run(fmt.Sprintf("%q is a JSON number: %v", tt.s, tt.want), func(t *testing.T) {
			t.Parallel()
			if got := isJSONNumber(tt.s); got != tt.want {
				t.Errorf("isJSONNumber(%q) = %v", tt.s, got)
			}
			if tt.want != json.Valid([]byte(tt.s)) && tt.s != "1 " {
				t.Errorf("disagrees with json.Valid")
			}
		})
	}
}
