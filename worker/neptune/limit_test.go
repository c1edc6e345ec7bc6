package neptune

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Run("grows by one per limit's worth of answers while latency holds, up to its bound", func(t *testing.T) {
		l := newLimiter(4, 1, 6, time.Now)
		for range 4 {
			l.observe(signalOK, 10*time.Millisecond, true)
		}
		if got := l.status().Limit; got != 5 {
			t.Fatalf("limit %d after 4 answers at 4; want 5", got)
		}
		for range 100 {
			l.observe(signalOK, 10*time.Millisecond, true)
		}
		if st := l.status(); st.Limit != 6 || st.Increases != 2 {
			t.Fatalf("%+v; want held at the max, 6", st)
		}
	})
	t.Run("throttling, conflicts, timeouts and rising latency shrink it; a burst counts once; never below min", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(16, 2, 32, time.Now)
			for range 10 { // one burst of throttled requests
				l.observe(signalThrottle, 0, false)
			}
			if st := l.status(); st.Limit != 12 || st.Decreases["throttling"] != 1 {
				t.Fatalf("%+v; want one decrease to 12", st)
			}
			time.Sleep(time.Second)
			l.observe(signalConflict, 0, false)
			time.Sleep(time.Second)
			l.observe(signalTimeout, 0, false)
			if st := l.status(); st.Limit != 6 || st.Decreases["concurrent_modification"] != 1 || st.Decreases["timeout"] != 1 {
				t.Fatalf("%+v; want 12 -> 9 -> 6", st)
			}
			// Latency: a baseline of 10 ms, then Neptune queues.
			for range 20 {
				l.observe(signalOK, 10*time.Millisecond, true)
			}
			before := l.status().Limit
			for range 20 {
				time.Sleep(200 * time.Millisecond)
				l.observe(signalOK, 100*time.Millisecond, true)
			}
			st := l.status()
			if st.Decreases["latency"] == 0 || st.Limit >= before {
				t.Fatalf("%+v; want latency decreases below %d", st, before)
			}
			for range 50 {
				time.Sleep(time.Second)
				l.observe(signalThrottle, 0, false)
			}
			if st := l.status(); st.Limit != 2 {
				t.Fatalf("limit %d; want its floor, 2", st.Limit)
			}
			// Answers that say nothing of load move nothing.
			l.observe(signalNone, time.Hour, true)
			if st := l.status(); st.Limit != 2 || st.LatencyMs > 1000 {
				t.Fatalf("%+v", st)
			}
		})
	})
	t.Run("live waiters go before replay ones; a waiter that gives up leaves nothing behind", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(1, 1, 1, time.Now)
			ctx := context.Background()
			if err := l.acquire(ctx, PriorityLive, nil); err != nil {
				t.Fatal(err)
			}
			var order []Priority
			done := make(chan struct{})
			for _, p := range []Priority{PriorityReplay, PriorityReplay, PriorityLive} {
				go func() {
					if err := l.acquire(ctx, p, nil); err != nil {
						t.Error(err)
					}
					order = append(order, p) // one at a time: each holds the only place
					l.release()
					done <- struct{}{}
				}()
				synctest.Wait()
			}
			gaveUp, cancel := context.WithCancel(ctx)
			errc := make(chan error)
			go func() { errc <- l.acquire(gaveUp, PriorityLive, nil) }()
			synctest.Wait()
			cancel()
			if err := <-errc; !errors.Is(err, context.Canceled) {
				t.Fatalf("err %v", err)
			}
			if st := l.status(); st.WaitingLive != 1 || st.WaitingReplay != 2 {
				t.Fatalf("%+v; want the live and the two replay waiters", st)
			}
			l.release()
			for range 3 {
				<-done
			}
			if len(order) != 3 || order[0] != PriorityLive {
				t.Fatalf("order %v; want the live waiter first", order)
			}
			select {
			case <-l.idleCh():
			default:
				t.Fatalf("%+v; want nothing in flight", l.status())
			}
		})
	})
	t.Run("a shrunk limit admits nothing new until in flight drops below it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(4, 1, 8, time.Now)
			for range 4 {
				if err := l.acquire(context.Background(), PriorityLive, nil); err != nil {
					t.Fatal(err)
				}
			}
			l.observe(signalThrottle, 0, false) // 4 -> 3
			got := make(chan struct{})
			go func() {
				_ = l.acquire(context.Background(), PriorityLive, nil)
				close(got)
			}()
			synctest.Wait()
			l.release() // 3 in flight: still at the limit
			synctest.Wait()
			select {
			case <-got:
				t.Fatal("admitted at the shrunk limit")
			default:
			}
			l.release() // 2: room
			<-got
		})
	})
}
