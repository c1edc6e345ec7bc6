package changes_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/changes"
)

// BenchmarkFeed is the feed catching up on a fresh graph of 5,000 services
// and 20,000 calls written by the writer: reading the stream, mapping,
// PutEvents to the local bus (10 a call) and the checkpoint.
//
//	go test -run '^$' -bench Feed -benchtime 1x ./worker/changes/
func BenchmarkFeed(b *testing.B) {
	for range b.N {
		b.StopTimer()
		r := newRig(b, 1_000_000)
		batch := &edgebatch.Batch{V: 1, Source: "deepflow", ObservedAt: t0}
		id := func(i int) string { return fmt.Sprintf("svc:bench/s%d", i) }
		for i := range 5000 {
			batch.Vertices = append(batch.Vertices, edgebatch.Vertex{ID: id(i), Label: "Service", Props: map[string]any{"name": fmt.Sprint(i)}})
		}
		for i := range 5000 {
			for j := 1; j <= 4; j++ {
				f, to := id(i), id((i+j)%5000)
				batch.Edges = append(batch.Edges, edgebatch.Edge{ID: edgebatch.EdgeID("calls", f, to), Label: "calls", From: f, To: to})
			}
		}
		if _, err := r.writer.Write(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		start := time.Now()
		f, stop := r.start(b, changes.Config{Name: "bench", Limit: 10_000})
		r.settled(b, f)
		elapsed := time.Since(start)
		stop()
		st := f.Status()
		n := len(r.bus.Events())
		if n != 25_000 {
			b.Fatalf("%d events, want 25,000", n)
		}
		b.ReportMetric(float64(n)/elapsed.Seconds(), "events/s")
		b.ReportMetric(float64(st.Records)/elapsed.Seconds(), "records/s")
		b.ReportMetric(float64(r.bus.Calls()), "putevents_calls")
	}
}
