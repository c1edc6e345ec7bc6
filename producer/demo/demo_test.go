package demo_test

import (
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/producer/demo"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

func TestDemoTopology(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)

	t.Run("one copy is 40 services and 100 calls, the size the old ETL was measured on", func(t *testing.T) {
		b := demo.New(1, 1).Calls(at)
		if len(b.Vertices) != 40 || len(b.Edges) != 100 {
			t.Fatalf("%d services and %d calls", len(b.Vertices), len(b.Edges))
		}
	})

	t.Run("every snapshot is a valid batch that splits into messages with a seal", func(t *testing.T) {
		for _, snap := range demo.New(3, 1).Snapshots(at) {
			if err := edgebatch.Validate(snap); err != nil {
				t.Fatalf("%s: %v", snap.Source, err)
			}
			batches, err := edgebatch.Split(snap, edgebatch.SplitLimits{})
			if err != nil {
				t.Fatalf("%s: %v", snap.Source, err)
			}
			last := batches[len(batches)-1]
			if last.Seal == nil || last.Seal.Batches != len(batches)-1 {
				t.Fatalf("%s: last batch is not the seal of %d batches", snap.Source, len(batches)-1)
			}
			for _, b := range batches {
				if _, err := edgebatch.Encode(b); err != nil {
					t.Fatalf("%s: %v", snap.Source, err)
				}
			}
		}
	})

	t.Run("the topology is the same every run and only metrics change", func(t *testing.T) {
		a, b := demo.New(2, 1).Calls(at), demo.New(2, 1).Calls(at.Add(time.Minute))
		for i := range a.Edges {
			if a.Edges[i].ID != b.Edges[i].ID {
				t.Fatalf("edge %d is %s, then %s", i, a.Edges[i].ID, b.Edges[i].ID)
			}
		}
		src := demo.New(1, 1)
		x, y := src.Calls(at), src.Calls(at)
		same := 0
		for i := range x.Edges {
			if x.Edges[i].Props["requests"] == y.Edges[i].Props["requests"] {
				same++
			}
		}
		if same == len(x.Edges) {
			t.Fatal("two observations carried identical metrics")
		}
	})
}
