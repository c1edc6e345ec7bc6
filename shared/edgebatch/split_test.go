package edgebatch

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// splitStats describes the batches of one Split.
type splitStats struct {
	batches  int     // data batches
	fill     float64 // mean fill of the data batches but the last: the larger of bytes and elements over their limits
	repeat   float64 // vertices sent over distinct vertices
	gzipped  int
	maxBytes int
}

func (s splitStats) String() string {
	return fmt.Sprintf("%d batches, mean fill %.1f%% (all but the last), vertices sent %.2fx, %d gzipped, largest message %d bytes",
		s.batches, 100*s.fill, s.repeat, s.gzipped, s.maxBytes)
}

// checkSplit checks every promise of Split for in and its output.
func checkSplit(t testing.TB, in *Batch, lim SplitLimits) splitStats {
	t.Helper()
	out, sizes, err := split(in, lim)
	if err != nil {
		t.Fatalf("Split: %v", err)
	}
	lim, _ = lim.withDefaults()

	wantEdges := make(map[string]bool)
	for _, e := range in.Edges {
		wantEdges[e.ID] = true
	}
	wantVerts := make(map[string]bool)
	for _, v := range in.Vertices {
		wantVerts[v.ID] = true
	}
	gotEdges := make(map[string]int)
	gotVerts := make(map[string]bool)
	var st splitStats
	sent := 0
	data := out
	if in.Snapshot != nil {
		data = out[:len(out)-1]
		seal := out[len(out)-1]
		if seal.Seal == nil || seal.Seal.Batches != len(data) || seal.Snapshot.Seq != len(data) || seal.Snapshot.ID != in.Snapshot.ID {
			t.Fatalf("last batch is not the seal of %d batches: %+v %+v", len(data), seal.Seal, seal.Snapshot)
		}
	}
	st.batches = len(data)
	var buf bytes.Buffer
	for i, b := range out {
		if err := Validate(b); err != nil {
			t.Fatalf("batch %d is invalid: %v", i, err)
		}
		if in.Snapshot != nil && (b.Snapshot == nil || b.Snapshot.Seq != i || b.Snapshot.Scope != in.Snapshot.Scope) {
			t.Fatalf("batch %d has snapshot %+v", i, b.Snapshot)
		}
		if n := len(b.Vertices) + len(b.Edges); n > lim.MaxElements {
			t.Fatalf("batch %d has %d elements; limit %d", i, n, lim.MaxElements)
		}
		m, err := Encode(b)
		if err != nil {
			t.Fatalf("Encode(batch %d): %v", i, err)
		}
		if m.Size() > lim.MaxBytes {
			t.Fatalf("batch %d encodes to %d bytes; limit %d", i, m.Size(), lim.MaxBytes)
		}
		js, err := appendJSON(&buf, b)
		if err != nil {
			t.Fatal(err)
		}
		if plain := len(js) + attributeSize(AttrSchema, Schema) + attributeSize(AttrSource, b.Source); plain != sizes[i] {
			t.Fatalf("batch %d: Split computed %d bytes, the plain message is %d", i, sizes[i], plain)
		}
		if m.Attributes[AttrContentEncoding] == "gzip" {
			st.gzipped++
		} else if m.Size() != sizes[i] {
			t.Fatalf("batch %d: Split computed %d bytes, Encode made %d", i, sizes[i], m.Size())
		}
		st.maxBytes = max(st.maxBytes, m.Size())
		for _, e := range b.Edges {
			gotEdges[e.ID]++
		}
		for _, v := range b.Vertices {
			gotVerts[v.ID] = true
		}
		sent += len(b.Vertices)
		if i < len(data)-1 {
			st.fill += max(float64(sizes[i])/float64(lim.MaxBytes), float64(len(b.Vertices)+len(b.Edges))/float64(lim.MaxElements))
		}
	}
	for id := range wantEdges {
		if gotEdges[id] != 1 {
			t.Fatalf("edge %q is in %d batches", id, gotEdges[id])
		}
	}
	if len(gotEdges) != len(wantEdges) {
		t.Fatalf("%d edges out, %d in", len(gotEdges), len(wantEdges))
	}
	for id := range wantVerts {
		if !gotVerts[id] {
			t.Fatalf("vertex %q is in no batch", id)
		}
	}
	if len(gotVerts) != len(wantVerts) {
		t.Fatalf("%d vertices out, %d in", len(gotVerts), len(wantVerts))
	}
	if len(data) > 1 {
		st.fill /= float64(len(data) - 1)
	}
	if len(wantVerts) > 0 {
		st.repeat = float64(sent) / float64(len(wantVerts))
	}
	return st
}

func TestSplitGraph(t *testing.T) {
	t.Parallel()
	t.Run("10,000 edges among 2,000 vertices go out once each in self-contained batches under 1 MiB", func(t *testing.T) {
		t.Parallel()
		in := graph(rand.New(rand.NewPCG(1, 1)), 2000, 10_000, 100)
		in.Snapshot = &Snapshot{ID: "deepflow/prod-eks/2026-11-21T10:05:00Z", Scope: "deepflow/prod-eks"}
		st := checkSplit(t, in, SplitLimits{})
		t.Logf("default limits: %v", st)
		if st.fill < 0.9 {
			t.Errorf("batches are only %.0f%% full", 100*st.fill)
		}
	})

	t.Run("the same graph under a 64 KiB byte limit fills batches by bytes", func(t *testing.T) {
		t.Parallel()
		in := graph(rand.New(rand.NewPCG(1, 1)), 2000, 10_000, 100)
		st := checkSplit(t, in, SplitLimits{MaxBytes: 64 << 10})
		t.Logf("64 KiB: %v", st)
		if st.fill < 0.95 {
			t.Errorf("batches are only %.0f%% full", 100*st.fill)
		}
	})
}

func TestSplitAdversarial(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		lim  SplitLimits
		make func(rng *rand.Rand) *Batch
	}{
		{"vertices of 64 large compressible props fill messages that are then gzipped", SplitLimits{}, func(rng *rand.Rand) *Batch {
			b := bigBatch(nil, 300, 0, false)
			for i := range b.Vertices {
				b.Vertices[i].Props = map[string]any{}
				for k := range MaxProps {
					b.Vertices[i].Props[fmt.Sprintf("p%d", k)] = strings.Repeat(string(rune('a'+k%26)), 1000+rng.IntN(1000))
				}
			}
			return b
		}},
		{"vertices of random incompressible props fill plain messages", SplitLimits{}, func(rng *rand.Rand) *Batch {
			b := &Batch{V: Version, Source: "aws", ObservedAt: testTime}
			for i := range 200 {
				props := map[string]any{}
				for k := range 1 + rng.IntN(20) {
					props[fmt.Sprintf("p%d", k)] = randomText(rng, rng.IntN(MaxStringBytes/8))
				}
				b.Vertices = append(b.Vertices, Vertex{ID: fmt.Sprintf("arn:aws:s3:::bucket-%d", i), Label: "S3_Bucket", Props: props})
			}
			return b
		}},
		{"vertices each just under the limit go one per batch", SplitLimits{}, func(rng *rand.Rand) *Batch {
			b := &Batch{V: Version, Source: "aws", ObservedAt: testTime}
			for i := range 5 {
				props := map[string]any{}
				for k := range 15 {
					props[fmt.Sprintf("p%d", k)] = randomText(rng, MaxStringBytes-rng.IntN(100))
				}
				b.Vertices = append(b.Vertices, Vertex{ID: fmt.Sprintf("v%d", i), Label: "Big", Props: props})
			}
			return b
		}},
		{"heavy vertices joined by heavy edges are repeated and still fit", SplitLimits{}, func(rng *rand.Rand) *Batch {
			b := &Batch{V: Version, Source: "cloudformation", ObservedAt: testTime, Snapshot: &Snapshot{ID: "cfn/x/1", Scope: "cfn/x"}}
			for i := range 60 {
				b.Vertices = append(b.Vertices, Vertex{ID: fmt.Sprintf("arn:aws:cloudformation:eu-west-1:1:stack/s%d", i), Label: StackLabel,
					Props: map[string]any{"template": randomText(rng, 20_000+rng.IntN(40_000))}})
			}
			for range 400 {
				f, to := b.Vertices[rng.IntN(60)].ID, b.Vertices[rng.IntN(60)].ID
				key := randomText(rng, 8)
				b.Edges = append(b.Edges, Edge{ID: EdgeIDWithKey(ImportsLabel, f, to, key), Label: ImportsLabel, From: f, To: to,
					Props: map[string]any{"export": key, "note": randomText(rng, rng.IntN(5000))}})
			}
			return b
		}},
		{"strings full of escapes are measured as escaped", SplitLimits{MaxBytes: 16 << 10, MaxElements: 50}, func(rng *rand.Rand) *Batch {
			b := &Batch{V: Version, Source: "x", ObservedAt: testTime, Snapshot: &Snapshot{ID: "s\"\x01<>&\u2028", Scope: "s\uffff"}}
			odd := []string{"\"", "\\", "\x00", "\x1f", "<", ">", "&", "\u2028", "\u2029", "\uFFFE", "\uFFFF", "é", "\U0001F600", "\t", "\n"}
			text := func(n int) string {
				var sb strings.Builder
				for range n {
					sb.WriteString(odd[rng.IntN(len(odd))])
				}
				return sb.String()
			}
			for i := range 300 {
				b.Vertices = append(b.Vertices, Vertex{ID: fmt.Sprintf("v%d%s", i, text(5)), Label: "L", Props: map[string]any{"s": text(rng.IntN(300))}})
			}
			for range 600 {
				f, to := b.Vertices[rng.IntN(300)].ID, b.Vertices[rng.IntN(300)].ID
				key := fmt.Sprint(rng.Int())
				b.Edges = append(b.Edges, Edge{ID: EdgeIDWithKey("rel", f, to, key), Label: "rel", From: f, To: to, Props: map[string]any{"s": text(rng.IntN(100)), "n": rng.Float64()}})
			}
			return b
		}},
		{"a batch count in the thousands widens the seq without overflowing", SplitLimits{MaxBytes: MinSplitBytes, MaxElements: 3}, func(rng *rand.Rand) *Batch {
			b := graph(rng, 400, 4000, 10)
			b.Snapshot = &Snapshot{ID: "deepflow/x/1", Scope: "deepflow/x"}
			return b
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := tt.make(rand.New(rand.NewPCG(uint64(i), 99)))
			st := checkSplit(t, in, tt.lim)
			t.Logf("%v", st)
		})
	}
}

func TestSplitEdgeCases(t *testing.T) {
	t.Parallel()
	snap := func(b *Batch) *Batch {
		b.Snapshot = &Snapshot{ID: "deepflow/prod/1", Scope: "deepflow/prod", Seq: 9}
		return b
	}

	t.Run("an empty snapshot is one empty batch and a seal of one", func(t *testing.T) {
		t.Parallel()
		out, err := Split(snap(&Batch{V: Version, Source: "deepflow", ObservedAt: testTime}), SplitLimits{})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 2 || out[0].Snapshot.Seq != 0 || len(out[0].Vertices) != 0 || out[1].Seal == nil || out[1].Seal.Batches != 1 || out[1].Snapshot.Seq != 1 {
			t.Fatalf("got %d batches: %+v", len(out), out)
		}
		for _, b := range out {
			mustEncode(t, b)
		}
	})

	t.Run("an empty batch without a snapshot gives no batches", func(t *testing.T) {
		t.Parallel()
		out, err := Split(&Batch{V: Version, Source: "deepflow", ObservedAt: testTime}, SplitLimits{})
		if err != nil || len(out) != 0 {
			t.Fatalf("got %v, %v", out, err)
		}
	})

	t.Run("a small batch stays one batch, plus its seal", func(t *testing.T) {
		t.Parallel()
		out, err := Split(snap(testBatch()), SplitLimits{})
		if err != nil || len(out) != 2 || len(out[0].Vertices) != 2 || len(out[0].Edges) != 1 {
			t.Fatalf("got %v, %v", out, err)
		}
	})

	t.Run("elements repeated with the same content are sent once", func(t *testing.T) {
		t.Parallel()
		b := testBatch()
		b.Vertices = append(b.Vertices, b.Vertices...)
		b.Edges = append(b.Edges, b.Edges...)
		out, err := Split(b, SplitLimits{})
		if err != nil || len(out) != 1 || len(out[0].Vertices) != 2 || len(out[0].Edges) != 1 {
			t.Fatalf("got %+v, %v", out, err)
		}
	})

	t.Run("the output does not depend on the order of the input", func(t *testing.T) {
		t.Parallel()
		rng := rand.New(rand.NewPCG(7, 7))
		in := graph(rng, 300, 2000, 20)
		encodeAll := func(b *Batch) string {
			out, err := Split(b, SplitLimits{MaxElements: 500})
			if err != nil {
				t.Fatal(err)
			}
			var sb strings.Builder
			for _, b := range out {
				sb.WriteString(mustEncode(t, b).Body)
			}
			return sb.String()
		}
		first := encodeAll(in)
		rng.Shuffle(len(in.Vertices), func(i, j int) { in.Vertices[i], in.Vertices[j] = in.Vertices[j], in.Vertices[i] })
		rng.Shuffle(len(in.Edges), func(i, j int) { in.Edges[i], in.Edges[j] = in.Edges[j], in.Edges[i] })
		if encodeAll(in) != first {
			t.Error("shuffled input gives other batches")
		}
	})

	t.Run("an input of more than 10,000 elements is split, not refused", func(t *testing.T) {
		t.Parallel()
		in := graph(rand.New(rand.NewPCG(8, 8)), 3000, 12_000, 0)
		checkSplit(t, in, SplitLimits{MaxElements: MaxBatchElements})
	})

	t.Run("an invalid input gives validation problems with the input's paths", func(t *testing.T) {
		t.Parallel()
		in := graph(rand.New(rand.NewPCG(9, 9)), 100, 500, 0)
		in.Edges[321].From = "svc:gone"
		in.Edges[321].ID = EdgeID(CallsLabel, "svc:gone", in.Edges[321].To)
		_, err := Split(in, SplitLimits{})
		if got := problemPaths(t, err); len(got) != 1 || got[0] != "edges[321].from" {
			t.Errorf("paths = %q", got)
		}
	})

	t.Run("elements too large to fit alone are all named", func(t *testing.T) {
		t.Parallel()
		rng := rand.New(rand.NewPCG(10, 10))
		in := testBatch()
		in.Vertices = append(in.Vertices, Vertex{ID: "huge", Label: "L", Props: map[string]any{}})
		for k := range 20 {
			in.Vertices[2].Props[fmt.Sprintf("p%d", k)] = randomText(rng, MaxStringBytes)
		}
		in.Edges[0].Props["note"] = randomText(rng, 40_000)
		_, err := Split(in, SplitLimits{MaxBytes: 32 << 10})
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("err = %v", err)
		}
		for _, want := range []string{`vertices[2] (id "huge")`, `edges[0] (id "calls:svc:petsite/payforadoption>svc:petsite/petsearch") with its vertices`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not name %s: %v", want, err)
			}
		}
	})

	t.Run("an edge that fits only without one of its vertices is too large", func(t *testing.T) {
		t.Parallel()
		rng := rand.New(rand.NewPCG(11, 11))
		in := testBatch()
		in.Vertices[0].Props = map[string]any{"a": randomText(rng, 3000)}
		in.Vertices[1].Props = map[string]any{"a": randomText(rng, 3000)}
		if _, err := Split(in, SplitLimits{MaxBytes: MinSplitBytes}); !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "edges[0]") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("a seal is not split", func(t *testing.T) {
		t.Parallel()
		b := &Batch{V: 1, Source: "x", ObservedAt: testTime, Snapshot: &Snapshot{ID: "a", Scope: "b", Seq: 1}, Seal: &Seal{Batches: 1}}
		if _, err := Split(b, SplitLimits{}); err == nil {
			t.Fatal("Split of a seal succeeded")
		}
	})

	for _, lim := range []SplitLimits{{MaxElements: 2}, {MaxElements: MaxBatchElements + 1}, {MaxBytes: MinSplitBytes - 1}, {MaxBytes: MaxEncodedBytes + 1}, {MaxBytes: -1}} {
		t.Run(fmt.Sprintf("limits %+v are refused", lim), func(t *testing.T) {
			t.Parallel()
			if _, err := Split(testBatch(), lim); err == nil || !strings.Contains(err.Error(), "SplitLimits") {
				t.Fatalf("err = %v", err)
			}
		})
	}
}

// FuzzSplit is a property test: for any graph shape and limits, Split's
// batches hold every element, each edge once, and each encodes within the
// limits. `go test -fuzz FuzzSplit` explores further.
func FuzzSplit(f *testing.F) {
	f.Add(uint64(1), uint16(50), uint16(300), uint16(3), uint32(8<<10), uint16(2000), true)
	f.Add(uint64(2), uint16(5), uint16(10), uint16(0), uint32(MinSplitBytes), uint16(3), false)
	f.Add(uint64(3), uint16(400), uint16(3000), uint16(50), uint32(MaxEncodedBytes), uint16(100), true)
	f.Add(uint64(4), uint16(30), uint16(200), uint16(5), uint32(200<<10), uint16(60_000), false)
	f.Fuzz(func(t *testing.T, seed uint64, nv, ne, lone uint16, maxBytes uint32, propBytes uint16, snapshot bool) {
		rng := rand.New(rand.NewPCG(seed, seed))
		nv = 1 + nv%500
		ne = ne % 4000
		if int(ne) > int(nv)*int(nv)/2 {
			ne = nv * nv / 2
		}
		lim := SplitLimits{MaxElements: 3 + rng.IntN(MaxBatchElements-2), MaxBytes: MinSplitBytes + int(maxBytes)%(MaxEncodedBytes-MinSplitBytes+1)}
		in := graph(rng, int(nv), int(ne), int(lone%100))
		if snapshot {
			in.Snapshot = &Snapshot{ID: "deepflow/fuzz/1", Scope: "deepflow/fuzz"}
		}
		// Some elements carry a blob; it may be too large for the limit.
		for i := range in.Vertices {
			if rng.IntN(10) == 0 {
				in.Vertices[i].Props["blob"] = randomText(rng, rng.IntN(int(propBytes)+1))
			}
		}
		if _, err := Split(in, lim); errors.Is(err, ErrTooLarge) {
			return
		}
		checkSplit(t, in, lim)
	})
}
