package neptunelocal_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
)

// BenchmarkStandIn measures what the stand-in sustains over the real driver
// on this machine: requests/s and records/s for writer-shaped requests of
// about 200 records (20 id-keyed vertex upserts of 10 records each), sent by
// 8 concurrent clients, so that load tests know whether it is the bottleneck.
//
//	go test -run '^$' -bench StandIn ./shared/devtools/neptunelocal/
func BenchmarkStandIn(b *testing.B) {
	srv := start(b, neptunelocal.Options{})
	const clients, perRequest = 8, 20
	gs := make([]*gremlingo.GraphTraversalSource, clients)
	for i := range gs {
		gs[i] = connect(b, srv.URL())
	}
	var next atomic.Int64
	build := func(g *gremlingo.GraphTraversalSource, n int64) *gremlingo.GraphTraversal {
		var t *gremlingo.GraphTraversal
		for j := range perRequest {
			id := fmt.Sprintf("svc:%d", (n*perRequest+int64(j))%50_000)
			search := map[any]any{gremlingo.T.Id: id}
			if t == nil {
				t = g.MergeV(search)
			} else {
				t = t.MergeV(search)
			}
			t = t.Option(gremlingo.Merge.OnCreate, map[any]any{gremlingo.T.Label: "Service", "name": id, "namespace": "bench", "source": "bench", "first_seen": n}).
				Option(gremlingo.Merge.OnMatch, map[any]any{"name": id, "last_seen": n, "requests": n}, gremlingo.Cardinality.Single)
		}
		return t.Id()
	}
	before := srv.Stats()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	var failed atomic.Int64
	for c := range clients {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(b.N) {
					return
				}
				if _, err := build(gs[c], n).ToList(); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d requests failed", failed.Load())
	}
	after := srv.Stats()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "requests/s")
	b.ReportMetric(float64(after.Records-before.Records)/elapsed.Seconds(), "records/s")
}
