package consume_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/graphfleet/graphfleet/shared/consume"
)

// A message that cannot be written within MESSAGE_TIMEOUT while Neptune
// answers (too heavy, say) is its own problem: it must neither stop the
// worker's intake forever nor stay hidden forever. It spends its receives and
// reaches the DLQ with the reason, and the others are written.
func TestAMessageTooSlowForItsDeadlineSpendsItsReceives(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSQS(3)
		heavy := f.add("heavy", nil, "")
		addN(f, 20, "light")
		cfg := baseConfig()
		r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
			write()
			if m.Body == "heavy" {
				<-ctx.Done() // never finishes in time
				return ctx.Err()
			}
			return nil
		})
		waitFor(t, 30*time.Minute, "the heavy message in the DLQ and the rest written", func() bool {
			return len(f.DLQ()) == 1 && f.Msg(heavy).Gone && r.c.Status().Deleted == 21
		})
		dl := f.DLQ()[0]
		if dl.Redriven || !strings.Contains(dl.Attributes["error"], "MESSAGE_TIMEOUT") {
			t.Fatalf("DLQ copy %+v; want the worker's reason, not SQS's redrive", dl)
		}
		if st := f.Msg(heavy); st.ReceiveCount != 3 {
			t.Fatalf("the heavy message was received %d times; want its 3 allowed receives", st.ReceiveCount)
		}
		if s := r.c.Status(); s.Parked != 0 || s.Breaker.Trips != 0 {
			t.Fatalf("status %+v: a slow message stopped intake", s)
		}
	})
}

// During an outage the probe fails too, so a held message that runs out of
// time or fails any number of times is never taken for its own problem: it
// stays held, on one receive, and nothing reaches the DLQ.
func TestAnOutageIsNeverTakenForAMessagesOwnProblem(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSQS(3)
		addN(f, 6, "m")
		cfg := baseConfig()
		cfg.ProbeBackoff, cfg.MaxProbeBackoff = 100*time.Millisecond, time.Second
		down := true
		var mu = make(chan struct{}, 1)
		mu <- struct{}{}
		isDown := func() bool { <-mu; d := down; mu <- struct{}{}; return d }
		cfg.Probe = func(ctx context.Context) error {
			if isDown() {
				return errors.New("connection refused")
			}
			return nil
		}
		r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
			write()
			if isDown() {
				<-ctx.Done() // a hung Neptune: the message's deadline runs out
				return ctx.Err()
			}
			return nil
		})
		time.Sleep(20 * time.Minute)
		synctest.Wait()
		if n := len(f.DLQ()); n != 0 {
			t.Fatalf("%d messages in the DLQ after an outage", n)
		}
		for _, m := range f.Messages() {
			if m.ReceiveCount > 1 {
				t.Fatalf("message %s received %d times during the outage", m.ID, m.ReceiveCount)
			}
		}
		<-mu
		down = false
		mu <- struct{}{}
		waitFor(t, 5*time.Minute, "all written after the outage", func() bool { return r.c.Status().Deleted == 6 })
	})
}

// When the sink refuses every message for its content (an engine without
// mergeV, a writer bug), the fault is the deployment's: a handful of messages
// spend a receive, then intake stops with an alarm, and the queue is not
// dead-lettered message by message.
func TestASinkRefusingEverythingDoesNotDeadLetterTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeSQS(3)
		addN(f, 40, "m")
		cfg := baseConfig()
		cfg.MaxProbeBackoff = 5 * time.Second
		r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
			write()
			return &consume.ContentError{Reason: "UnsupportedOperationException: mergeV"}
		})
		time.Sleep(time.Hour)
		synctest.Wait()
		if n := len(f.DLQ()); n != 0 {
			t.Fatalf("%d messages in the DLQ; the fault is the deployment's", n)
		}
		if s := r.c.Status(); s.Parked == 0 || !strings.Contains(s.Breaker.Cause, "in a row") {
			t.Fatalf("status %+v; want intake stopped for refusing everything", s)
		}
	})
}
