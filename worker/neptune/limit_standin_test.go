package neptune_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// writeConcurrently writes the petsite batch n times at once, in small
// requests, so many more requests are ready than any limit lets through.
func writeConcurrently(t *testing.T, w *neptune.Writer, n int) {
	t.Helper()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := w.Write(context.Background(), petsite()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// The stand-in never sees more requests at once than the writer's limit
// allows, and a stand-in that throttles past its capacity brings the limit
// down without a failed write.
func TestLimitAgainstTheStandIn(t *testing.T) {
	t.Parallel()
	t.Run("a fixed limit is never exceeded", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{Faults: neptunelocal.Faults{Latency: 2 * time.Millisecond}})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL(), Writers: 3, MinWriters: 3, MaxWriters: 3, RecordsPerRequest: 20})
		writeConcurrently(t, w, 20)
		if st := srv.Stats(); st.MaxInFlight != 3 {
			t.Fatalf("the stand-in saw at most %d requests at once; want exactly the limit, 3", st.MaxInFlight)
		}
	})
	t.Run("throttling past the stand-in's capacity shrinks the limit", func(t *testing.T) {
		t.Parallel()
		// Two query workers and a queue of two: past four requests at
		// once, the stand-in throttles, as Neptune does past its queue.
		srv := startStandIn(t, neptunelocal.Options{Workers: 2, QueueCapacity: 2, Faults: neptunelocal.Faults{Latency: 2 * time.Millisecond}})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL(), Writers: 16, MinWriters: 1, MaxWriters: 16, RecordsPerRequest: 20, MaxAttempts: 20})
		writeConcurrently(t, w, 30)
		st, lim := srv.Stats(), w.Limit()
		if st.Throttled == 0 || lim.Decreases["throttling"] == 0 || lim.Limit >= 16 {
			t.Fatalf("throttled %d, limit %+v; want throttling to have brought the limit down from 16", st.Throttled, lim)
		}
		if st.MaxInFlight > int64(lim.Max) {
			t.Fatalf("the stand-in saw %d at once, above the limit's bound %d", st.MaxInFlight, lim.Max)
		}
		if lim.InFlight != 0 {
			t.Fatalf("%+v; want nothing in flight after the writes", lim)
		}
	})
}
