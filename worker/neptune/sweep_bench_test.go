package neptune_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// BenchmarkSweep measures the sweep of a scope of 100,000 elements (25,000
// vertices, 75,000 edges) of which 1% went stale: a first snapshot writes
// them all, a second sees 99%, and the op is the second snapshot's sweep
// alone. The stand-in delays every request by 10 ms and runs 16 at once, as
// in the ingest benchmark.
//
//	go test -run '^$' -bench Sweep -benchtime 1x ./worker/neptune/
func BenchmarkSweep(b *testing.B) {
	const nv, fanout = 25_000, 3
	srv := startStandIn(b, neptunelocal.Options{Workers: 16, Faults: neptunelocal.Faults{Latency: 10 * time.Millisecond}})
	w := newWriter(b, neptune.Config{Endpoint: srv.URL(), Writers: 16})
	ctx := context.Background()
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

	// write writes a snapshot of vertices [0, nv) and their edges, leaving
	// out every element i with i%100 == skip (skip < 0: none).
	write := func(at time.Time, skip int) string {
		scope := "aws/bench/r"
		id := scope + "/" + at.Format(time.RFC3339)
		full := &edgebatch.Batch{V: 1, Source: "aws", ObservedAt: at, Snapshot: &edgebatch.Snapshot{ID: id, Scope: scope}}
		vid := func(i int) string { return fmt.Sprintf("arn:aws:test:::thing/%d", i%nv) }
		for i := range nv {
			if i%100 != skip {
				full.Vertices = append(full.Vertices, edgebatch.Vertex{ID: vid(i), Label: "Thing", Props: map[string]any{"name": fmt.Sprint(i)}})
			}
		}
		for i := range nv {
			for j := 1; j <= fanout; j++ {
				if i%100 == skip || (i+j)%nv%100 == skip {
					continue
				}
				f, t := vid(i), vid(i+j)
				full.Edges = append(full.Edges, edgebatch.Edge{ID: edgebatch.EdgeID("uses", f, t), Label: "uses", From: f, To: t})
			}
		}
		batches, err := edgebatch.Split(full, edgebatch.SplitLimits{})
		if err != nil {
			b.Fatal(err)
		}
		for _, bt := range batches {
			if bt.Seal == nil {
				if _, err := w.Write(ctx, bt); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Record(ctx, bt); err != nil {
				b.Fatal(err)
			}
		}
		return id
	}

	var res neptune.SweepResult
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		at := t0.Add(time.Duration(2*i) * time.Hour)
		write(at, -1)
		second := write(at.Add(time.Hour), 7)
		before := srv.Stats().Committed
		b.StartTimer()
		var err error
		res, err = w.Sweep(ctx, second)
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		if res.Removed == 0 {
			b.Fatal("nothing removed")
		}
		b.ReportMetric(float64(srv.Stats().Committed-before), "committed-requests")
		b.StartTimer()
	}
	b.ReportMetric(float64(res.Removed), "removed")
	b.ReportMetric(float64(res.Requests), "requests")
}
