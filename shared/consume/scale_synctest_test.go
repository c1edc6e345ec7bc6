package consume_test

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/graphfleet/graphfleet/shared/consume"
)

// maxOverlap is the most ReceiveMessage calls that were open at once among
// those that started within [from, to).
func maxOverlap(f *fakeSQS, from, to time.Time) int {
	var calls []fakeCall
	for _, c := range f.Log() {
		if c.API == "ReceiveMessage" && !c.Start.Before(from) && c.Start.Before(to) {
			calls = append(calls, c)
		}
	}
	most := 0
	for _, a := range calls {
		n := 0
		for _, b := range calls {
			if !b.Start.After(a.Start) && b.End.After(a.Start) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

func TestPollersFollowTheBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSQS(5)
		// A receive takes a little time, as over a network, so pollers
		// that run together overlap.
		f.slowResponse = func(api string, _ any) time.Duration {
			if api == "ReceiveMessage" {
				return 100 * time.Millisecond
			}
			return 0
		}
		cfg := baseConfig()
		cfg.Processors, cfg.MaxHeld = 8, 40
		cfg.Pollers, cfg.BacklogPerPoller = 4, 50
		// Set, not defaulted: the test waits on it below.
		cfg.ScaleEvery = time.Second
		cfg.Backlog = func() (int64, bool) {
			visible, _, _ := f.Counts()
			return int64(visible), true
		}
		r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
			select {
			case <-time.After(50 * time.Millisecond):
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})

		// A shallow queue: one long poll at a time.
		quietFrom := time.Now()
		time.Sleep(30 * time.Second)
		if p := r.c.Status().Pollers; p != 1 {
			t.Fatalf("%d pollers on an empty queue; want 1", p)
		}
		if n := maxOverlap(f, quietFrom, time.Now()); n != 1 {
			t.Fatalf("%d receives open at once on an empty queue; want 1", n)
		}

		// A deep one: pollers grow to the configured bound.
		addN(f, 2000, "deep")
		deepFrom := time.Now()
		for r.c.Status().Pollers < cfg.Pollers {
			if time.Since(deepFrom) > 10*time.Second {
				t.Fatalf("pollers stayed at %d with a backlog of 2000", r.c.Status().Pollers)
			}
			time.Sleep(100 * time.Millisecond)
		}
		time.Sleep(2 * time.Second)
		if n := maxOverlap(f, deepFrom, time.Now()); n < 2 {
			t.Fatalf("at most %d receive open at once with a deep queue; want several", n)
		}

		// Drained: back to one.
		for {
			visible, inFlight, _ := f.Counts()
			if visible == 0 && inFlight == 0 {
				break
			}
			if time.Since(deepFrom) > 5*time.Minute {
				t.Fatalf("not drained: %d visible, %d in flight", visible, inFlight)
			}
			time.Sleep(time.Second)
		}
		time.Sleep(2 * cfg.ScaleEvery)
		if p := r.c.Status().Pollers; p != 1 {
			t.Fatalf("%d pollers after the queue drained; want 1", p)
		}
		// Receives already open when it shrank end within one wait.
		shrunk := time.Now().Add(cfg.WaitTime)
		time.Sleep(cfg.WaitTime + 30*time.Second)
		if n := maxOverlap(f, shrunk, time.Now()); n != 1 {
			t.Fatalf("%d receives open at once after the queue drained; want 1", n)
		}
		if st := r.c.Status(); st.Deleted != 2000 || st.MaxPollers != 4 {
			t.Fatalf("status %+v", st)
		}
	})
}

func TestGatePausesReceiving(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSQS(5)
		addN(f, 5, "replay")
		var open bool
		var mu = make(chan struct{}, 1)
		mu <- struct{}{}
		gate := func() (bool, string) {
			<-mu
			defer func() { mu <- struct{}{} }()
			if open {
				return true, ""
			}
			return false, "the live queue has a backlog"
		}
		cfg := baseConfig()
		cfg.Gate = gate
		var handled counter
		r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
			handled.add(m.Body)
			return nil
		})
		time.Sleep(time.Minute)
		if n := f.Calls("ReceiveMessage"); n != 0 {
			t.Fatalf("%d receives while the gate was closed", n)
		}
		if st := r.c.Status(); st.Paused != "the live queue has a backlog" {
			t.Fatalf("status %+v; want the pause and its reason", st)
		}
		<-mu
		open = true
		mu <- struct{}{}
		time.Sleep(10 * time.Second)
		if st := r.c.Status(); st.Deleted != 5 || st.Paused != "" {
			t.Fatalf("status %+v after the gate opened; want all 5 deleted and no pause", st)
		}
	})
}
