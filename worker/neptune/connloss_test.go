//go:build !race

// Connection-loss tests run without the race detector: gremlin-go v3.7.4
// writes a failed connection's state from its read loop without
// synchronisation, and its pool reads it on the next request, a data race
// inside the driver that -race reports whatever the caller does. `make test`
// runs these in a second, race-free pass.

package neptune_test

import (
	"context"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

func TestConnectionLossIsRetried(t *testing.T) {
	t.Parallel()
	t.Run("requests whose connection drops are retried on a new one and the batch is written once in effect", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{Faults: neptunelocal.Faults{DropRate: 0.3}})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL(), MaxAttempts: 30})
		// Five deliveries, about 40 requests: at a 30% drop rate the chance
		// that none is dropped is below one in a million.
		res := writeTimes(t, w, 5)
		if srv.Stats().InjectedConnectionDrops == 0 {
			t.Fatal("no connection was dropped; the test proves nothing")
		}
		if v, e := srv.Graph().Counts(); v != 40 || e != 100 {
			t.Fatalf("graph has %d vertices, %d edges", v, e)
		}
		t.Logf("%d requests, %d attempts, %d drops", res.Requests, res.Attempts, srv.Stats().InjectedConnectionDrops)
	})
	t.Run("an outage is ridden out when Neptune comes back within the retries", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL(), MaxAttempts: 40, BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
		if err := srv.SetDown(true); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := w.Write(context.Background(), petsite())
			done <- err
		}()
		time.Sleep(300 * time.Millisecond) // let some attempts fail against the outage
		if err := srv.SetDown(false); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if v, e := srv.Graph().Counts(); v != 40 || e != 100 {
			t.Fatalf("graph has %d vertices, %d edges", v, e)
		}
	})
	t.Run("connections that keep failing are replaced by a new pool", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL(), MaxAttempts: 100, MaxBackoff: 20 * time.Millisecond})
		writeTimes(t, w, 1)
		if err := srv.SetFaults(neptunelocal.Faults{DropRate: 1}); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := w.Write(context.Background(), petsite())
			done <- err
		}()
		deadline := time.Now().Add(10 * time.Second)
		for w.Stats().Rebuilds == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("writer stats %+v: no rebuild after requests kept losing their connection", w.Stats())
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := srv.SetFaults(neptunelocal.Faults{}); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if st := w.Stats(); st.Pools < 2 {
			t.Fatalf("writer stats %+v; want a second pool", st)
		}
		if v, e := srv.Graph().Counts(); v != 40 || e != 100 {
			t.Fatalf("graph has %d vertices, %d edges", v, e)
		}
	})
}
