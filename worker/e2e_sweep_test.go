package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// snapshotOf is topology(n, k) as an AWS snapshot of scope observed at at,
// cut into small batches and sealed, as a producer sends it.
func snapshotOf(t *testing.T, scope string, n, k int, at time.Time) []*edgebatch.Batch {
	t.Helper()
	b := topology(n, k, at)
	b.Source = "aws"
	b.Snapshot = &edgebatch.Snapshot{ID: scope + "/" + at.Format(time.RFC3339), Scope: scope}
	batches, err := edgebatch.Split(b, edgebatch.SplitLimits{MaxBytes: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) < 3 {
		t.Fatalf("%d batches; the test wants a snapshot of several", len(batches))
	}
	return batches
}

// dataIDs are the ids of the graph's data elements: the worker's bookkeeping
// vertices (edgebatch.ReservedIDPrefix) left out.
func dataIDs(st *devstack.Stack) (vertices, edges map[string]bool) {
	vertices, edges = map[string]bool{}, map[string]bool{}
	d := st.Neptune.Graph().Dump()
	for _, v := range d.Vertices {
		if !strings.HasPrefix(v.ID, edgebatch.ReservedIDPrefix) {
			vertices[v.ID] = true
		}
	}
	for _, e := range d.Edges {
		edges[e.ID] = true
	}
	return vertices, edges
}

// Through the SQS emulator and a worker process: a second snapshot that no
// longer sees some elements leaves exactly its own, and a batch of the first
// snapshot delivered afterwards (a replay) is skipped and resurrects nothing.
func TestSnapshotsSweepEndToEnd(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{})
	w := startWorker(t, st)
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

	first := snapshotOf(t, "aws/e2e/r", 60, 3, t0)
	send(t, st, first)
	drained(t, st, time.Minute)
	v, e := dataIDs(st)
	if len(v) != 60 || len(e) != 180 {
		t.Fatalf("after the first snapshot: %d vertices, %d edges; want 60 and 180", len(v), len(e))
	}

	second := snapshotOf(t, "aws/e2e/r", 40, 2, t0.Add(time.Minute))
	send(t, st, second)
	drained(t, st, time.Minute)
	want := topology(40, 2, t0)
	v, e = dataIDs(st)
	if len(v) != len(want.Vertices) || len(e) != len(want.Edges) {
		t.Fatalf("after the second snapshot: %d vertices, %d edges; want exactly its %d and %d", len(v), len(e), len(want.Vertices), len(want.Edges))
	}
	for _, x := range want.Edges {
		if !e[x.ID] {
			t.Fatalf("edge %s of the second snapshot is missing", x.ID)
		}
	}

	send(t, st, first[:2]) // a replay of the first snapshot's first batches
	drained(t, st, time.Minute)
	v2, e2 := dataIDs(st)
	if len(v2) != len(v) || len(e2) != len(e) {
		t.Fatalf("a replayed old batch changed the graph: %d vertices, %d edges", len(v2), len(e2))
	}
	dlqEmpty(t, st)

	_, body := get(t, "http://"+w.healthAddr(t)+"/stats")
	var s struct {
		Graph GraphStatus `json:"graph"`
	}
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatal(err)
	}
	// Removed: what the first snapshot had and the second did not.
	old := topology(60, 3, t0)
	removed := 0
	for _, x := range old.Vertices {
		if !v[x.ID] {
			removed++
		}
	}
	for _, x := range old.Edges {
		if !e[x.ID] {
			removed++
		}
	}
	if s.Graph.SupersededBatches != 2 || s.Graph.SnapshotsSwept != 2 || s.Graph.Removed != int64(removed) || s.Graph.SealsRecorded != 2 ||
		s.Graph.SnapshotsOpen != 0 || s.Graph.SnapshotsOpenAt.IsZero() || s.Graph.SnapshotsOpenError != "" {
		t.Fatalf("/stats graph %+v; want 2 seals, 2 superseded batches, 2 sweeps, %d removed, none open", s.Graph, removed)
	}
}
