package neptune_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// snap is a snapshot of scope observed at 'at' holding vertices named by ids
// and edges "a>b" between them, cut into one data batch per element group
// (groups: each string of ids/edges separated by '|'), plus its seal.
func snap(source, scope string, at time.Time, groups ...string) []*edgebatch.Batch {
	id := scope + "/" + at.Format(time.RFC3339)
	var out []*edgebatch.Batch
	for seq, g := range groups {
		b := &edgebatch.Batch{V: 1, Source: source, ObservedAt: at, Snapshot: &edgebatch.Snapshot{ID: id, Scope: scope, Seq: seq}}
		seen := map[string]bool{}
		addV := func(v string) {
			if !seen[v] {
				seen[v] = true
				b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: "arn:test:" + v, Label: "Thing", Props: map[string]any{"name": v}})
			}
		}
		for _, item := range strings.Fields(g) {
			from, to, isEdge := strings.Cut(item, ">")
			addV(from)
			if isEdge {
				addV(to)
				label := "uses"
				if source == "deepflow" {
					label = edgebatch.CallsLabel
				}
				f, t := "arn:test:"+from, "arn:test:"+to
				b.Edges = append(b.Edges, edgebatch.Edge{ID: edgebatch.EdgeID(label, f, t), Label: label, From: f, To: t})
			}
		}
		out = append(out, b)
	}
	out = append(out, &edgebatch.Batch{V: 1, Source: source, ObservedAt: at,
		Snapshot: &edgebatch.Snapshot{ID: id, Scope: scope, Seq: len(groups)}, Seal: &edgebatch.Seal{Batches: len(groups)}})
	return out
}

// deliver does what the worker's handler does with one message.
func deliver(t *testing.T, w *neptune.Writer, b *edgebatch.Batch) (superseded, swept bool, sr neptune.SweepResult) {
	t.Helper()
	ctx := context.Background()
	sup, err := w.Superseded(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if sup {
		return true, false, sr
	}
	if b.Seal == nil {
		if _, err := w.Write(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Record(ctx, b); err != nil {
		t.Fatal(err)
	}
	swept, sr, err = w.Settle(ctx, b, fmt.Sprintf("%s#%d", b.Snapshot.ID, b.Snapshot.Seq))
	if err != nil {
		t.Fatal(err)
	}
	return false, swept, sr
}

// graphOf lists the data elements of the graph (bookkeeping left out) as
// "name" for vertices and "a>b" for edges, with "(inactive)" marked.
func graphOf(srv *neptunelocal.Server) []string {
	var out []string
	d := srv.Graph().Dump()
	for _, v := range d.Vertices {
		if strings.HasPrefix(v.ID, edgebatch.ReservedIDPrefix) {
			continue
		}
		out = append(out, strings.TrimPrefix(v.ID, "arn:test:"))
	}
	for _, e := range d.Edges {
		s := strings.TrimPrefix(e.From, "arn:test:") + ">" + strings.TrimPrefix(e.To, "arn:test:")
		if e.Properties[neptune.PropActive] == false {
			s += "(inactive)"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func want(items ...string) []string {
	slices.Sort(items)
	return items
}

func TestSnapshotsSweepWhatTheyDidNotSee(t *testing.T) {
	t.Parallel()

	t.Run("a second snapshot missing some elements leaves exactly the elements it saw", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
		for _, b := range snap("aws", "aws/1/r", t0, "a>b", "b>c d") {
			deliver(t, w, b)
		}
		if got := graphOf(srv); !slices.Equal(got, want("a", "b", "c", "d", "a>b", "b>c")) {
			t.Fatalf("after the first snapshot: %v", got)
		}
		second := snap("aws", "aws/1/r", t0.Add(time.Minute), "a>b", "d")
		var sweeps int
		for _, b := range second {
			if _, swept, sr := deliver(t, w, b); swept {
				sweeps++
				if sr.Removed != 2 {
					t.Errorf("removed %d; want c and b>c", sr.Removed)
				}
			}
		}
		if got := graphOf(srv); sweeps != 1 || !slices.Equal(got, want("a", "b", "d", "a>b")) {
			t.Fatalf("%d sweeps; graph %v", sweeps, got)
		}
	})

	t.Run("a snapshot with a batch never delivered never sweeps", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
		for _, b := range snap("aws", "aws/1/r", t0, "a>b", "c") {
			deliver(t, w, b)
		}
		second := snap("aws", "aws/1/r", t0.Add(time.Minute), "a", "b", "x")
		for i, b := range second {
			if i == 1 {
				continue // lost
			}
			if _, swept, _ := deliver(t, w, b); swept {
				t.Fatal("an incomplete snapshot swept")
			}
		}
		if got := graphOf(srv); !slices.Equal(got, want("a", "b", "c", "x", "a>b")) {
			t.Fatalf("graph %v; the first snapshot's elements must stay", got)
		}
		if n, err := w.OpenSnapshots(context.Background()); err != nil || n != 1 {
			t.Fatalf("open snapshots %d (%v); want 1, the second, waiting for its batch", n, err)
		}
		// The lost batch comes back (a redelivery): complete, swept, none open.
		if _, swept, _ := deliver(t, w, second[1]); !swept {
			t.Fatal("the last batch did not complete the snapshot")
		}
		if n, err := w.OpenSnapshots(context.Background()); err != nil || n != 0 {
			t.Fatalf("open snapshots %d (%v); want 0", n, err)
		}
	})

	t.Run("the seal arriving first still sweeps exactly once, after the last batch", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
		for _, b := range snap("aws", "aws/1/r", t0, "a>b c") {
			deliver(t, w, b)
		}
		second := snap("aws", "aws/1/r", t0.Add(time.Minute), "a", "b")
		order := []*edgebatch.Batch{second[2], second[0], second[0], second[1], second[1], second[2]}
		var sweptAt []int
		for i, b := range order {
			if _, swept, _ := deliver(t, w, b); swept {
				sweptAt = append(sweptAt, i)
			}
		}
		if !slices.Equal(sweptAt, []int{3}) {
			t.Fatalf("swept at deliveries %v; want once, at the last batch (3)", sweptAt)
		}
		if got := graphOf(srv); !slices.Equal(got, want("a", "b")) {
			t.Fatalf("graph %v", got)
		}
	})

	t.Run("a batch of an old snapshot after a newer one completed changes nothing and resurrects nothing", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
		first := snap("aws", "aws/1/r", t0, "a>b c")
		second := snap("aws", "aws/1/r", t0.Add(time.Minute), "a")
		for _, b := range second {
			deliver(t, w, b)
		}
		before := graphOf(srv)
		for _, b := range first {
			if sup, _, _ := deliver(t, w, b); !sup {
				t.Fatalf("batch %d of the older snapshot was not skipped", b.Snapshot.Seq)
			}
		}
		if got := graphOf(srv); !slices.Equal(got, before) || !slices.Equal(got, want("a")) {
			t.Fatalf("graph %v, was %v", got, before)
		}
	})

	t.Run("two scopes and two sources never touch each other; a vertex another source uses stays", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
		// The CloudFormation source reports b, and an edge to it; then the
		// AWS source sees b later, so b's last writer is aws/1/r.
		for _, b := range snap("cloudformation", "cloudformation/1/r", t0, "s>b") {
			deliver(t, w, b)
		}
		for _, b := range snap("aws", "aws/1/r", t0.Add(10*time.Second), "a>b") {
			deliver(t, w, b)
		}
		for _, b := range snap("aws", "aws/1/other", t0, "x>y") {
			deliver(t, w, b)
		}
		// aws/1/r's next snapshot sees nothing: a and a>b go; b stays,
		// because the CloudFormation edge s>b still uses it; aws/1/other
		// and the CloudFormation scope are untouched.
		for _, b := range snap("aws", "aws/1/r", t0.Add(time.Minute), "") {
			deliver(t, w, b)
		}
		if got := graphOf(srv); !slices.Equal(got, want("b", "s", "s>b", "x", "y", "x>y")) {
			t.Fatalf("graph %v", got)
		}
	})

	t.Run("a vertex an edge of another scope of the same source uses stays", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
		// Two stacks: the exporter's scope holds e and e>r; the importer's
		// snapshot, later, carries i>e and so writes e last.
		for _, b := range snap("cloudformation", "cloudformation/1/r/exporter", t0, "e>r") {
			deliver(t, w, b)
		}
		for _, b := range snap("cloudformation", "cloudformation/1/r/importer", t0.Add(10*time.Second), "i>e") {
			deliver(t, w, b)
		}
		// The importer stops importing: i>e goes, e stays for the
		// exporter's edge; the exporter's scope is untouched.
		for _, b := range snap("cloudformation", "cloudformation/1/r/importer", t0.Add(time.Minute), "i") {
			deliver(t, w, b)
		}
		if got := graphOf(srv); !slices.Equal(got, want("e", "r", "e>r", "i")) {
			t.Fatalf("graph %v", got)
		}
		// The exporter's own empty snapshot (its stack deleted) removes
		// e>r and r. e was last written by the importer's snapshot, so it
		// is the importer's scope's to remove: its next snapshot does.
		for _, b := range snap("cloudformation", "cloudformation/1/r/exporter", t0.Add(2*time.Minute), "") {
			deliver(t, w, b)
		}
		if got := graphOf(srv); !slices.Equal(got, want("e", "i")) {
			t.Fatalf("graph after the exporter's empty snapshot %v", got)
		}
		for _, b := range snap("cloudformation", "cloudformation/1/r/importer", t0.Add(3*time.Minute), "i") {
			deliver(t, w, b)
		}
		if got := graphOf(srv); !slices.Equal(got, want("i")) {
			t.Fatalf("graph after the importer's next snapshot %v", got)
		}
	})

	t.Run("DeepFlow calls not seen are marked inactive, not removed, and come back active", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
		for _, b := range snap("deepflow", "deepflow/prod", t0, "a>b b>c") {
			deliver(t, w, b)
		}
		for _, b := range snap("deepflow", "deepflow/prod", t0.Add(time.Minute), "a>b") {
			deliver(t, w, b)
		}
		if got := graphOf(srv); !slices.Equal(got, want("a", "b", "c", "a>b", "b>c(inactive)")) {
			t.Fatalf("graph %v", got)
		}
		for _, b := range snap("deepflow", "deepflow/prod", t0.Add(2*time.Minute), "a>b b>c") {
			deliver(t, w, b)
		}
		if got := graphOf(srv); !slices.Equal(got, want("a", "b", "c", "a>b", "b>c")) {
			t.Fatalf("graph %v", got)
		}
	})

	t.Run("two consecutive snapshots in a shuffled order with duplicates end as in order", func(t *testing.T) {
		t.Parallel()
		inOrder := func(order func([]*edgebatch.Batch) []*edgebatch.Batch) []string {
			srv := startStandIn(t, neptunelocal.Options{})
			w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
			all := append(snap("aws", "aws/1/r", t0, "a>b", "c>d e"), snap("aws", "aws/1/r", t0.Add(time.Minute), "a>b", "e f")...)
			for _, b := range order(all) {
				deliver(t, w, b)
			}
			return graphOf(srv)
		}
		straight := inOrder(func(bs []*edgebatch.Batch) []*edgebatch.Batch { return bs })
		for seed := range 5 {
			shuffled := inOrder(func(bs []*edgebatch.Batch) []*edgebatch.Batch {
				out := append(slices.Clone(bs), bs[seed%len(bs)], bs[(seed*3+1)%len(bs)])
				// A fixed permutation per seed: reverse, then rotate.
				slices.Reverse(out)
				k := seed % len(out)
				return append(out[k:], out[:k]...)
			})
			// The newer snapshot's sweep may run before the older
			// snapshot's batches arrive, which are then superseded; either
			// way the graph is the newer snapshot's.
			if !slices.Equal(shuffled, straight) {
				t.Errorf("seed %d: graph %v; in order %v", seed, shuffled, straight)
			}
		}
		if !slices.Equal(straight, want("a", "b", "e", "f", "a>b")) {
			t.Fatalf("in order: %v", straight)
		}
	})
}
