package neptune_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// BenchmarkLimitThrottled writes 1,000 petsite batches (100k edges, 40k
// vertex upserts) at once into a stand-in that sustains four requests at a
// time (two query workers, a queue of two, 2 ms a request) and throttles
// past that, as Neptune does past its queue, plus 2 % of requests throttled
// at random. It compares the adaptive limit with a fixed one at 16:
//
//	go test -run '^$' -bench LimitThrottled -benchtime 1x ./worker/neptune/
func BenchmarkLimitThrottled(b *testing.B) {
	for _, bc := range []struct {
		name          string
		start, lo, hi int
	}{
		{"adaptive-8-in-1..32", 8, 1, 32},
		{"fixed-16", 16, 16, 16},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				srv := startStandIn(b, neptunelocal.Options{Workers: 2, QueueCapacity: 2,
					Faults: neptunelocal.Faults{Latency: 2 * time.Millisecond, ThrottleRate: 0.02}})
				w := newWriter(b, neptune.Config{Endpoint: srv.URL(), Writers: bc.start, MinWriters: bc.lo, MaxWriters: bc.hi,
					MaxAttempts: 30, BaseBackoff: 5 * time.Millisecond})
				start := time.Now()
				var wg sync.WaitGroup
				var mu sync.Mutex
				var attempts, requests, failed int
				work := make(chan struct{})
				go func() {
					for range 1000 {
						work <- struct{}{}
					}
					close(work)
				}()
				for range 64 {
					wg.Go(func() {
						for range work {
							r, err := w.Write(context.Background(), petsite())
							mu.Lock()
							attempts += r.Attempts
							requests += r.Requests
							if err != nil {
								failed++
							}
							mu.Unlock()
						}
					})
				}
				wg.Wait()
				took := time.Since(start)
				st, lim := srv.Stats(), w.Limit()
				b.ReportMetric(100_000/took.Seconds(), "edges/s")
				b.ReportMetric(float64(lim.Limit), "final-limit")
				b.ReportMetric(float64(st.MaxInFlight), "max-in-flight")
				b.ReportMetric(float64(st.Throttled), "throttled")
				b.ReportMetric(float64(attempts-requests), "retries")
				b.ReportMetric(float64(failed), "failed-batches")
			}
		})
	}
}
