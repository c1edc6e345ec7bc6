package consume_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/consume"
)

// These tests run the consumer against fakeSQS inside a synctest bubble, so
// minutes of visibility timeouts, long polls, backoffs and outages take
// milliseconds, and every verdict is decided by state, not by a real sleep.

// bubbleLog collects the consumer's log and shows it when the test fails.
func bubbleLog(t *testing.T) *slog.Logger {
	var mu sync.Mutex
	var buf bytes.Buffer
	t.Cleanup(func() {
		if t.Failed() {
			mu.Lock()
			defer mu.Unlock()
			t.Logf("consumer log:\n%s", buf.String())
		}
	})
	return slog.New(slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type writerFunc func([]byte) (int, error)

func (w writerFunc) Write(p []byte) (int, error) { return w(p) }

// baseConfig has small timeouts, valid per Config.Validate.
func baseConfig() consume.Config {
	return consume.Config{
		Processors:        2,
		WaitTime:          5 * time.Second,
		VisibilityTimeout: 4 * time.Second,
		MessageTimeout:    30 * time.Second,
		StopTimeout:       10 * time.Second,
	}
}

type running struct {
	t       *testing.T
	f       *fakeSQS
	c       *consume.Consumer
	cancel  context.CancelFunc
	done    chan error
	stopped bool
	took    time.Duration
}

// start runs a consumer on f; it is stopped at the end of the test if the test
// did not stop it.
func start(t *testing.T, f *fakeSQS, cfg consume.Config, h consume.Handler) *running {
	t.Helper()
	cfg.QueueURL = ingestURL
	cfg.Logger = bubbleLog(t)
	c, err := consume.New(context.Background(), f, cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{t: t, f: f, c: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { r.stop() })
	return r
}

// stop cancels Run's context and waits for Run, measuring the fake time it
// took.
func (r *running) stop() time.Duration {
	if r.stopped {
		return r.took
	}
	r.stopped = true
	began := time.Now()
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Errorf("Run: %v", err)
	}
	r.took = time.Since(began)
	return r.took
}

// waitFor advances fake time in small steps until cond holds, failing after
// within of fake time.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		synctest.Wait()
		if cond() {
			return
		}
		if !time.Now().Before(deadline) {
			t.Fatalf("%s: not true within %s", what, within)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// write stands for a sink request: it takes a little fake time, so that a
// consumer retrying in a hot loop advances the clock (and fails the test's
// bounds) instead of spinning at one instant, which synctest cannot end.
func write() { time.Sleep(time.Millisecond) }

func addN(f *fakeSQS, n int, prefix string) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = f.add(fmt.Sprintf("%s-%d", prefix, i), map[string]string{"schema": "edgebatch/v1"}, "")
	}
	return ids
}

// counter counts handler calls per message body.
type counter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *counter) add(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	c.n[key]++
	return c.n[key]
}

func (c *counter) get(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func allGone(f *fakeSQS) func() bool {
	return func() bool {
		_, _, gone := f.Counts()
		return gone == len(f.Messages())
	}
}

func TestConsumerWithFakeSQS(t *testing.T) {
	t.Run("content the sink refuses on every receive is retried through the queue and dead-lettered by the worker with its reason on its last receive", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(4)
			id := f.add("refused-body", map[string]string{"schema": "edgebatch/v1", "source": "test"}, "")
			var mu sync.Mutex
			var counts []int
			var at []time.Time
			r := start(t, f, baseConfig(), func(ctx context.Context, m *consume.Message) error {
				mu.Lock()
				counts, at = append(counts, m.ReceiveCount), append(at, time.Now())
				mu.Unlock()
				return &consume.ContentError{Reason: "vertex id longer than Neptune allows"}
			})
			waitFor(t, 5*time.Minute, "the message in the DLQ", func() bool { return len(f.DLQ()) == 1 && f.Msg(id).Gone })
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(counts, []int{1, 2, 3, 4}) {
				t.Fatalf("handled at receive counts %v; want 1..4 (maxReceiveCount 4)", counts)
			}
			for i, least := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
				if gap := at[i+1].Sub(at[i]); gap < least {
					t.Errorf("retry %d came back after %s; the retry delay is at least %s", i+1, gap, least)
				}
			}
			dl := f.DLQ()[0]
			if dl.Redriven {
				t.Fatal("the queue's redrive moved the message: its reason is lost")
			}
			if !strings.Contains(dl.Attributes["error"], "vertex id longer than Neptune allows") || dl.Attributes["original_message_id"] != id {
				t.Fatalf("DLQ attributes %v; want the reason in error and original_message_id %s", dl.Attributes, id)
			}
			if dl.Body != "refused-body" || dl.Attributes["schema"] != "edgebatch/v1" || dl.Attributes["source"] != "test" {
				t.Fatalf("DLQ copy %+v; want the original body and attributes", dl)
			}
			if st := f.Msg(id); st.Redriven || st.Deleted != 1 || st.ReceiveCount != 4 {
				t.Fatalf("ingest message %+v; want deleted once by the worker after 4 receives", st)
			}
			s := r.c.Status()
			if s.DeadLettered != 1 || s.Retried != 3 || s.Deleted != 1 || s.Held != 0 {
				t.Fatalf("status %+v", s)
			}
		})
	})

	t.Run("a malformed message goes to the DLQ with its reason on its first receive and the messages behind it are handled", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			bad := f.add("{not json", map[string]string{"schema": "edgebatch/v1"}, "Root=1-5759e988-bd862e3fe1be46a994272793")
			good := addN(f, 6, "good")
			var handled counter
			r := start(t, f, baseConfig(), func(ctx context.Context, m *consume.Message) error {
				handled.add(m.Body)
				if m.Body == "{not json" {
					return &consume.PermanentError{Reason: "body is not an edge batch: invalid character 'n'", Err: errors.New("json")}
				}
				return nil
			})
			waitFor(t, time.Minute, "every message settled", allGone(f))
			dlq := f.DLQ()
			if len(dlq) != 1 || dlq[0].Redriven || dlq[0].Body != "{not json" {
				t.Fatalf("DLQ %+v; want the malformed message, sent by the worker", dlq)
			}
			if dlq[0].Attributes["error"] != "body is not an edge batch: invalid character 'n'" || dlq[0].Attributes["original_message_id"] != bad {
				t.Fatalf("DLQ attributes %v", dlq[0].Attributes)
			}
			if dlq[0].TraceHeader != "Root=1-5759e988-bd862e3fe1be46a994272793" {
				t.Fatalf("DLQ trace header %q; want the original's", dlq[0].TraceHeader)
			}
			if st := f.Msg(bad); st.ReceiveCount != 1 || st.Deleted != 1 || handled.get("{not json") != 1 {
				t.Fatalf("malformed message %+v, handled %d times; want one receive", st, handled.get("{not json"))
			}
			for i, id := range good {
				if st := f.Msg(id); st.ReceiveCount != 1 || st.Deleted != 1 || handled.get(fmt.Sprint("good-", i)) != 1 {
					t.Fatalf("message behind it %+v handled %d times", st, handled.get(fmt.Sprint("good-", i)))
				}
			}
			if s := r.c.Status(); s.DeadLettered != 1 || s.Deleted != 7 {
				t.Fatalf("status %+v", s)
			}
		})
	})

	t.Run("a message whose DLQ send fails is not lost: it comes back and is dead-lettered once the DLQ accepts it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			f.failDLQSends = 2
			id := f.add("malformed", nil, "")
			var counts []int
			var mu sync.Mutex
			r := start(t, f, baseConfig(), func(ctx context.Context, m *consume.Message) error {
				mu.Lock()
				counts = append(counts, m.ReceiveCount)
				mu.Unlock()
				return &consume.PermanentError{Reason: "no edges"}
			})
			waitFor(t, time.Minute, "the first DLQ send refused", func() bool { return f.Calls("SendMessage") >= 1 })
			if st := f.Msg(id); st.Gone || st.Deleted != 0 {
				t.Fatalf("after a failed DLQ send the message is %+v; it must stay in the queue", st)
			}
			waitFor(t, 5*time.Minute, "dead-lettered", func() bool { return len(f.DLQ()) == 1 })
			waitFor(t, time.Minute, "deleted", func() bool { return f.Msg(id).Gone })
			dl := f.DLQ()[0]
			if dl.Redriven || dl.Attributes["error"] != "no edges" || dl.Attributes["original_message_id"] != id {
				t.Fatalf("DLQ %+v; want the worker's copy with the reason", dl)
			}
			mu.Lock()
			defer mu.Unlock()
			if !slices.Equal(counts, []int{1, 2, 3}) {
				t.Fatalf("handled at receive counts %v; want 1, 2, 3 (two DLQ sends failed)", counts)
			}
			if st := f.Msg(id); st.Deleted != 1 || st.Redriven {
				t.Fatalf("ingest message %+v", st)
			}
			if s := r.c.Status(); s.DeadLettered != 1 || s.Deleted != 1 {
				t.Fatalf("status %+v", s)
			}
		})
	})

	t.Run("a refused message whose DLQ send fails on its last receive still reaches the DLQ with its reason", func(t *testing.T) {
		// The DLQ refusing a send is not the message's fault; it must not
		// cost the message its last receive, after which the queue's redrive
		// would move it without the reason.
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(3)
			f.failDLQSends = 1
			id := f.add("refused", nil, "")
			f.receivedBefore(id, 2)
			start(t, f, baseConfig(), func(ctx context.Context, m *consume.Message) error {
				return &consume.ContentError{Reason: "property value too large"}
			})
			waitFor(t, 5*time.Minute, "in the DLQ", func() bool { return len(f.DLQ()) == 1 })
			if dl := f.DLQ()[0]; dl.Redriven || !strings.Contains(dl.Attributes["error"], "property value too large") {
				t.Fatalf("DLQ %+v (redriven %v); want the worker's copy with the reason", dl, dl.Redriven)
			}
		})
	})

	t.Run("with DLQ_URL set and no redrive policy, content refused on every receive still reaches the DLQ with its reason instead of being retried forever", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(0) // no RedrivePolicy
			id := f.add("refused", nil, "")
			cfg := baseConfig()
			cfg.DLQURL = dlqURL
			var calls atomic.Int64
			start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				calls.Add(1)
				return &consume.ContentError{Reason: "property value too large"}
			})
			time.Sleep(2 * time.Hour)
			if dlq := f.DLQ(); len(dlq) != 1 || dlq[0].Attributes["error"] == "" {
				t.Fatalf("after 2 hours the message was refused %d times (receive count %d) and the DLQ holds %d; want it dead-lettered with its reason",
					calls.Load(), f.Msg(id).ReceiveCount, len(dlq))
			}
		})
	})

	partial := []struct {
		name   string
		inject func(f *fakeSQS, ids []string)
	}{
		{"some entries of a DeleteMessageBatch fail for a while", func(f *fakeSQS, ids []string) {
			f.failDeleteEntries[ids[1]] = 10
			f.failDeleteEntries[ids[4]] = 10
			f.failDeleteEntries[ids[7]] = 3
		}},
		{"whole DeleteMessageBatch calls fail for a while", func(f *fakeSQS, ids []string) { f.failDeleteCalls = 10 }},
	}
	for _, tc := range partial {
		t.Run(tc.name+": the messages stay held and hidden and are deleted exactly once when the retries succeed", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSQS(5)
				ids := addN(f, 12, "m")
				tc.inject(f, ids)
				var handled counter
				cfg := baseConfig()
				cfg.Processors, cfg.MaxHeld = 4, 8
				r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
					handled.add(m.Body)
					time.Sleep(10 * time.Millisecond)
					return nil
				})
				waitFor(t, time.Minute, "the first delete failures", func() bool {
					failing := 0
					f.set(func(f *fakeSQS) {
						failing = f.failDeleteCalls
						for _, n := range f.failDeleteEntries {
							failing += n
						}
					})
					return failing < 20 && failing > 0
				})
				for i, id := range ids {
					if st := f.Msg(id); handled.get(fmt.Sprint("m-", i)) == 1 && !st.Gone && !st.InFlight {
						t.Fatalf("message %d was handled, is not deleted yet, and is visible again: %+v", i, st)
					}
				}
				waitFor(t, 2*time.Minute, "every message deleted", allGone(f))
				for i, id := range ids {
					if st := f.Msg(id); st.ReceiveCount != 1 || st.Deleted != 1 || handled.get(fmt.Sprint("m-", i)) != 1 {
						t.Errorf("message %d: %+v, handled %d times; want received, handled and deleted once", i, st, handled.get(fmt.Sprint("m-", i)))
					}
				}
				if s := r.c.Status(); s.Deleted != 12 || s.Held != 0 || s.Received != 12 {
					t.Fatalf("status %+v; want 12 received and deleted", s)
				}
				if len(f.DLQ()) != 0 {
					t.Fatalf("DLQ %+v", f.DLQ())
				}
			})
		})
	}

	sinkDown := []struct {
		name  string
		err   error
		probe bool
	}{
		{"with a plain error and a probe", errors.New("dial tcp 10.0.0.1:8182: connect: connection refused"), true},
		{"with a SinkError and a probe", &consume.SinkError{Err: errors.New("ThrottlingException")}, true},
		{"with a plain error and no probe", errors.New("websocket: close 1006 (abnormal closure)"), false},
	}
	for _, tc := range sinkDown {
		t.Run("a sink down for 30 minutes "+tc.name+" stops intake, keeps what is held hidden, sends nothing to the DLQ and drains when it is back", func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFakeSQS(5)
				ids := addN(f, 50, "m")
				var down atomic.Bool
				var calls atomic.Int64
				var downAt, upAt time.Time
				var pmu sync.Mutex
				var probes []time.Time
				cfg := baseConfig()
				cfg.Processors = 2 // MaxHeld 4
				if tc.probe {
					cfg.Probe = func(ctx context.Context) error {
						pmu.Lock()
						probes = append(probes, time.Now())
						pmu.Unlock()
						if down.Load() {
							return tc.err
						}
						return nil
					}
				}
				r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
					time.Sleep(100 * time.Millisecond)
					if calls.Add(1) == 7 {
						pmu.Lock()
						downAt = time.Now()
						pmu.Unlock()
						down.Store(true)
					}
					if down.Load() {
						return tc.err
					}
					return nil
				})
				waitFor(t, time.Minute, "the breaker open", func() bool { return r.c.Status().Breaker.Open })
				time.Sleep(time.Minute)
				receives, handled := f.Calls("ReceiveMessage"), calls.Load()
				for range 29 * 6 {
					time.Sleep(10 * time.Second)
					if ok, why := r.c.Alive(time.Now()); !ok {
						t.Fatalf("not alive during the outage: %s", why)
					}
					// Without a probe the breaker closes now and then to let
					// the next message try the sink.
					if ok, _ := r.c.Ready(); ok && tc.probe {
						t.Fatal("ready while the sink is down")
					}
					for _, m := range f.Messages() {
						if m.ReceiveCount > 1 {
							t.Fatalf("message %s received %d times during the outage", m.ID, m.ReceiveCount)
						}
					}
				}
				if n := f.Calls("ReceiveMessage") - receives; n != 0 {
					t.Fatalf("%d receives while the breaker was open", n)
				}
				if len(f.DLQ()) != 0 {
					t.Fatalf("DLQ during the outage: %+v", f.DLQ())
				}
				if _, inFlight, _ := f.Counts(); inFlight != r.c.Held() || inFlight == 0 || inFlight > 4 {
					t.Fatalf("%d in flight in the queue, %d held; want the held messages (at most 4) kept hidden", inFlight, r.c.Held())
				}
				if !tc.probe {
					// The next message is the probe: a bounded number of tries.
					if n := calls.Load() - handled; n > 2*2*29*60/15 {
						t.Fatalf("%d handler calls in 29 minutes without a probe: a hot loop", n)
					}
				}
				down.Store(false)
				upAt = time.Now()
				waitFor(t, 5*time.Minute, "drained", allGone(f))
				if ok, why := r.c.Ready(); !ok {
					t.Fatalf("not ready after the sink came back: %s", why)
				}
				if ok, why := r.c.Alive(time.Now()); !ok {
					t.Fatalf("not alive after the sink came back: %s", why)
				}
				for _, id := range ids {
					if st := f.Msg(id); st.ReceiveCount != 1 || st.Deleted != 1 || st.Redriven {
						t.Errorf("message %+v; want received once and deleted", st)
					}
				}
				if len(f.DLQ()) != 0 {
					t.Fatalf("DLQ: %+v", f.DLQ())
				}
				if s := r.c.Status(); s.Deleted != 50 || s.Parked == 0 || s.DeadLettered != 0 || s.Retried != 0 {
					t.Fatalf("status %+v", s)
				}
				if !tc.probe {
					return
				}
				pmu.Lock()
				defer pmu.Unlock()
				var during []time.Time
				for _, p := range probes {
					if p.After(downAt) && p.Before(upAt) {
						during = append(during, p)
					}
				}
				// Jittered backoff up to 30s: about 15s apart on average.
				if len(during) < 20 || len(during) > 300 {
					t.Fatalf("%d probes in a 30-minute outage; want a bounded, steady number", len(during))
				}
				var late []time.Time
				for _, p := range during {
					if p.After(downAt.Add(10 * time.Minute)) {
						late = append(late, p)
					}
				}
				if mean := late[len(late)-1].Sub(late[0]) / time.Duration(len(late)-1); mean < 7*time.Second {
					t.Fatalf("probes %s apart on average once backed off; want about 15s", mean)
				}
				if after := probes[len(probes)-1]; after.After(upAt.Add(time.Minute)) {
					t.Fatalf("probing went on after the sink answered (last probe %s after)", after.Sub(upAt))
				}
			})
		})
	}

	t.Run("no receive starts while the breaker is open, even when a delete frees room just after it opened", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			addN(f, 10, "m")
			var down atomic.Bool
			var mu sync.Mutex
			var trippedAt, upAt time.Time
			cfg := baseConfig()
			cfg.Processors = 2 // MaxHeld 4
			cfg.Probe = func(ctx context.Context) error {
				if down.Load() {
					return errors.New("connection refused")
				}
				return nil
			}
			var calls atomic.Int64
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				defer write()
				switch calls.Add(1) {
				case 1: // written: its delete is batched and lands ~50ms later
					time.Sleep(5 * time.Millisecond)
					return nil
				case 2: // the sink goes down just after
					time.Sleep(10 * time.Millisecond)
					mu.Lock()
					trippedAt = time.Now()
					mu.Unlock()
					down.Store(true)
				}
				if down.Load() {
					return errors.New("connection refused")
				}
				return nil
			})
			waitFor(t, time.Minute, "the breaker open", func() bool { return r.c.Status().Breaker.Open })
			openedAt := r.c.Status().Breaker.Since
			mu.Lock()
			if openedAt.Before(trippedAt) {
				t.Fatalf("the breaker opened at %s, before the sink failed at %s", openedAt, trippedAt)
			}
			mu.Unlock()
			time.Sleep(5 * time.Minute)
			mu.Lock()
			upAt = time.Now()
			mu.Unlock()
			down.Store(false)
			waitFor(t, 5*time.Minute, "drained", allGone(f))
			for _, c := range f.Log() {
				if c.API == "ReceiveMessage" && c.Start.After(openedAt) && c.Start.Before(upAt) {
					t.Fatalf("a receive started %s after the breaker opened (it returned %d messages)", c.Start.Sub(openedAt), c.Returned)
				}
			}
		})
	})

	deniedStatus := func(t *testing.T, r *running) {
		t.Helper()
		if s := r.c.Status(); !s.Breaker.Open || !s.Breaker.Denied {
			t.Fatalf("breaker %+v; want open and access denied", s.Breaker)
		}
		if ok, why := r.c.Ready(); ok || !strings.Contains(why, "denies access") {
			t.Fatalf("Ready %v %q; want not ready because access is denied", ok, why)
		}
		if ok, why := r.c.Alive(time.Now()); !ok {
			t.Fatalf("not alive: %s", why)
		}
	}

	t.Run("access denied stops intake, sends nothing to the DLQ and says so in the status until access is granted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(3)
			ids := addN(f, 20, "m")
			var denied atomic.Bool
			deny := &consume.SinkError{Denied: true, Err: errors.New("AccessDeniedException: not authorized to perform neptune-db:WriteDataViaQuery")}
			cfg := baseConfig()
			cfg.Probe = func(ctx context.Context) error {
				if denied.Load() {
					return deny
				}
				return nil
			}
			var calls atomic.Int64
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				write()
				if calls.Add(1) == 3 {
					denied.Store(true)
				}
				if denied.Load() {
					return deny
				}
				return nil
			})
			waitFor(t, time.Minute, "the breaker open", func() bool { return r.c.Status().Breaker.Open })
			time.Sleep(time.Minute)
			receives := f.Calls("ReceiveMessage")
			for range 6 * 20 {
				time.Sleep(10 * time.Second)
				deniedStatus(t, r)
			}
			if n := f.Calls("ReceiveMessage") - receives; n != 0 {
				t.Fatalf("%d receives while access was denied", n)
			}
			if len(f.DLQ()) != 0 {
				t.Fatalf("DLQ: %+v", f.DLQ())
			}
			denied.Store(false)
			waitFor(t, 5*time.Minute, "drained", allGone(f))
			for _, id := range ids {
				if st := f.Msg(id); st.ReceiveCount != 1 || st.Redriven {
					t.Fatalf("message %+v; want received once", st)
				}
			}
			if s := r.c.Status(); s.Breaker.Open || s.Breaker.Denied || len(f.DLQ()) != 0 {
				t.Fatalf("status %+v, DLQ %d", s, len(f.DLQ()))
			}
		})
	})

	t.Run("access denied found by the probe at start is reported as access denied", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(3)
			addN(f, 5, "m")
			cfg := baseConfig()
			cfg.Probe = func(ctx context.Context) error {
				return &consume.SinkError{Denied: true, Err: errors.New("AccessDeniedException")}
			}
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error { write(); return nil })
			time.Sleep(time.Minute)
			if n := f.Calls("ReceiveMessage"); n != 0 {
				t.Fatalf("%d receives while access is denied", n)
			}
			deniedStatus(t, r)
		})
	})

	t.Run("access denied found by a probe after the sink failed otherwise is reported as access denied", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(3)
			addN(f, 5, "m")
			var broken atomic.Bool
			cfg := baseConfig()
			cfg.Probe = func(ctx context.Context) error {
				if broken.Load() {
					// e.g. the task role lost its policy during a failover
					return &consume.SinkError{Denied: true, Err: errors.New("AccessDeniedException")}
				}
				return nil
			}
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				write()
				broken.Store(true)
				return errors.New("connection reset by peer")
			})
			time.Sleep(5 * time.Minute)
			deniedStatus(t, r)
		})
	})

	t.Run("a handler stuck past its deadline: the heartbeat stops extending its message, which comes back, and the worker stops being alive after the grace", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			id := f.add("stuck", nil, "")
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // runs after the stop (cleanups run last-in first-out)
			var startedAt time.Time
			var once sync.Once
			cfg := baseConfig()
			cfg.Processors = 1
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				once.Do(func() { startedAt = time.Now() })
				<-release // ignores ctx
				return nil
			})
			waitFor(t, time.Minute, "in work", func() bool { return !startedAt.IsZero() })
			deadline := startedAt.Add(cfg.MessageTimeout)
			time.Sleep(time.Until(deadline.Add(-time.Second)))
			if st := f.Msg(id); !st.InFlight || st.ReceiveCount != 1 {
				t.Fatalf("before the deadline the message is %+v; want held hidden by the heartbeat", st)
			}
			waitFor(t, time.Minute, "received again", func() bool { return f.Msg(id).ReceiveCount == 2 })
			var second time.Time
			for _, c := range f.Log() {
				if c.API == "ReceiveMessage" && c.Returned > 0 {
					second = c.End
				}
			}
			if second.Before(deadline) || second.After(deadline.Add(cfg.VisibilityTimeout+time.Second)) {
				t.Fatalf("received again %s after the deadline; want within one visibility timeout (%s) after it", second.Sub(deadline), cfg.VisibilityTimeout)
			}
			time.Sleep(time.Until(deadline.Add(time.Minute - time.Second)))
			if ok, why := r.c.Alive(time.Now()); !ok {
				t.Fatalf("not alive within the grace: %s", why)
			}
			time.Sleep(2 * time.Second)
			if ok, why := r.c.Alive(time.Now()); ok || !strings.Contains(why, "past their deadline") {
				t.Fatalf("Alive %v %q a minute past the deadline; want not alive, stuck", ok, why)
			}
			// A stop does not wait for the stuck handler beyond the stop
			// timeout, and gives back the copy received again.
			if took := r.stop(); took > cfg.StopTimeout {
				t.Fatalf("stop took %s with a stuck handler; the stop timeout is %s", took, cfg.StopTimeout)
			}
			if st := f.Msg(id); !st.Visible || st.ReceiveCount != 2 {
				t.Fatalf("after the stop the message is %+v; want released", st)
			}
		})
	})

	t.Run("a message worked on for longer than its visibility timeout but within its deadline is never redelivered", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			ids := addN(f, 3, "slow")
			var handled counter
			cfg := baseConfig()
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				handled.add(m.Body)
				time.Sleep(5 * cfg.VisibilityTimeout) // 20s of a 30s deadline
				return nil
			})
			waitFor(t, 2*time.Minute, "all deleted", allGone(f))
			for i, id := range ids {
				if st := f.Msg(id); st.ReceiveCount != 1 || st.Deleted != 1 || handled.get(fmt.Sprint("slow-", i)) != 1 {
					t.Fatalf("%+v handled %d times; want once", st, handled.get(fmt.Sprint("slow-", i)))
				}
			}
			if r.c.Status().Extended == 0 {
				t.Fatal("no visibility extension")
			}
		})
	})

	t.Run("a worker busy at its cap for minutes stays alive, and holds no more than its cap", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			addN(f, 30, "m")
			cfg := baseConfig()
			cfg.Processors, cfg.MaxHeld = 2, 4
			cfg.MessageTimeout = 10 * time.Minute
			cfg.WaitTime = 20 * time.Second
			cfg.StopTimeout = 25 * time.Second
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				select {
				case <-time.After(5 * time.Minute):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			time.Sleep(10 * time.Second)
			receives := f.Calls("ReceiveMessage")
			for i := range 6 * 20 {
				if ok, why := r.c.Alive(time.Now()); !ok {
					t.Fatalf("not alive after %s at the cap: %s", time.Duration(i)*10*time.Second, why)
				}
				if h := r.c.Held(); h > 4 {
					t.Fatalf("holds %d; cap 4", h)
				}
				if i == 27 { // 4m40s: nothing finished yet, so nothing was received
					if n := f.Calls("ReceiveMessage"); n != receives {
						t.Fatalf("%d receives while at the cap", n-receives)
					}
				}
				time.Sleep(10 * time.Second)
			}
			if m := f.MaxInFlight(); m > 4 {
				t.Fatalf("%d messages in flight at once; the cap is 4", m)
			}
			if s := r.c.Status(); s.Deleted < 6 {
				t.Fatalf("status %+v; want progress", s)
			}
			for _, m := range f.Messages() {
				if m.ReceiveCount > 1 {
					t.Fatalf("%+v received again", m)
				}
			}
		})
	})

	t.Run("a hard stop cancels work in progress, returns within the stop timeout and releases everything held", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			ids := addN(f, 10, "m")
			f.failDeleteEntries[ids[0]] = 1 << 20 // its delete keeps failing until the stop
			cfg := baseConfig()
			cfg.Processors, cfg.MaxHeld = 2, 4
			cfg.MessageTimeout = 10 * time.Minute
			var mu sync.Mutex
			var cancelled []int
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				if m.Body == "m-0" {
					time.Sleep(time.Second)
					return nil
				}
				<-ctx.Done()
				releases := 0 // made before this handler saw its context end
				for _, c := range f.Log() {
					if c.API == "ChangeMessageVisibilityBatch" && slices.Contains(c.Visibility, 0) {
						releases++
					}
				}
				mu.Lock()
				cancelled = append(cancelled, releases)
				mu.Unlock()
				return ctx.Err()
			})
			waitFor(t, time.Minute, "at the cap", func() bool { return r.c.Held() == 4 && f.Calls("DeleteMessageBatch") > 0 })
			time.Sleep(3 * time.Second)
			f.set(func(f *fakeSQS) { f.failDeleteEntries[ids[0]] = 0 })
			took := r.stop()
			if took > cfg.StopTimeout {
				t.Fatalf("Run took %s to stop; the stop timeout is %s", took, cfg.StopTimeout)
			}
			synctest.Wait()
			mu.Lock()
			if len(cancelled) != 2 {
				t.Fatalf("%d handlers saw their context end; want the 2 in work", len(cancelled))
			}
			for _, releases := range cancelled {
				if releases != 0 {
					t.Fatalf("a handler's context ended after %d release calls: work in progress must be cut off before what is held is released", releases)
				}
			}
			mu.Unlock()
			if st := f.Msg(ids[0]); st.Deleted != 1 {
				t.Fatalf("the finished message %+v; want its pending delete flushed", st)
			}
			for _, m := range f.Messages() {
				if m.InFlight {
					t.Fatalf("%+v still in flight after the stop", m)
				}
				if m.ReceiveCount > 1 {
					t.Fatalf("%+v received twice", m)
				}
			}
			if s := r.c.Status(); s.Released != 3 || s.Held != 0 || s.Deleted != 1 {
				t.Fatalf("status %+v; want 3 released, 1 deleted", s)
			}
		})
	})

	t.Run("a stop waits for the open long poll before releasing anything, and releases what it brings without receiving its own releases", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			ids := addN(f, 2, "early")
			cfg := baseConfig()
			cfg.Processors, cfg.MaxHeld = 1, 4
			cfg.WaitTime = 10 * time.Second
			cfg.StopTimeout = 15 * time.Second
			var handled counter
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				handled.add(m.Body)
				select {
				case <-time.After(3 * time.Second):
					return nil
				case <-ctx.Done():
					return ctx.Err()
				}
			})
			// early-0 is in work, early-1 waits for the processor, and the
			// next long poll is open on an empty queue.
			time.Sleep(time.Second)
			if r.c.Held() != 2 || f.Calls("ReceiveMessage") != 2 {
				t.Fatalf("held %d after %d receives; want 2 held and a long poll open", r.c.Held(), f.Calls("ReceiveMessage"))
			}
			stoppedAt := time.Now()
			go func() {
				time.Sleep(7 * time.Second) // late in the poll's wait
				// Both arrive at once: sent one by one, the poll may
				// return with the first alone, as SQS may too.
				f.set(func(f *fakeSQS) {
					f.addLocked("late-a", nil, "")
					f.addLocked("late-b", nil, "")
				})
			}()
			took := r.stop()
			if took > cfg.StopTimeout {
				t.Fatalf("stop took %s", took)
			}
			var pollEnd time.Time
			for _, c := range f.Log() {
				if c.API == "ReceiveMessage" {
					if c.Start.After(stoppedAt) {
						t.Fatalf("a receive started %s after the stop", c.Start.Sub(stoppedAt))
					}
					if c.Returned > 0 {
						pollEnd = c.End
					}
				}
			}
			if pollEnd.Sub(stoppedAt) != 7*time.Second {
				t.Fatalf("the open long poll returned its messages %v after the stop; want 7s (the stop must not cut it)", pollEnd.Sub(stoppedAt))
			}
			released := 0
			for _, c := range f.Log() {
				if c.API != "ChangeMessageVisibilityBatch" || !slices.Contains(c.Visibility, 0) {
					continue // extensions by the heartbeat are fine
				}
				if c.Start.Before(pollEnd) {
					t.Fatalf("a release %v %s after the stop, before the last poll returned", c.Visibility, c.Start.Sub(stoppedAt))
				}
				released += len(c.Visibility)
			}
			if released != 3 {
				t.Fatalf("%d released; want early-1 and the two the last poll brought", released)
			}
			if handled.get("early-0") != 1 || handled.get("early-1") != 0 || handled.get("late-a") != 0 || handled.get("late-b") != 0 {
				t.Fatalf("handled %v; want only the message in work when the stop came", handled.n)
			}
			if st := f.Msg(ids[0]); st.Deleted != 1 {
				t.Fatalf("the message in work: %+v; want finished and deleted", st)
			}
			for _, m := range f.Messages()[1:] {
				if !m.Visible || m.ReceiveCount != 1 {
					t.Fatalf("%+v; want released (visible) after one receive", m)
				}
			}
			if s := r.c.Status(); s.Released != 3 || s.Received != 4 || s.Deleted != 1 {
				t.Fatalf("status %+v", s)
			}
		})
	})

	t.Run("a message held on its last receive when the worker stops is sent afresh so that it does not reach the DLQ", func(t *testing.T) {
		for _, parked := range []bool{false, true} {
			name := "in work"
			if parked {
				name = "parked while the sink is down"
			}
			t.Run(name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					f := newFakeSQS(3)
					attrs := map[string]string{"schema": "edgebatch/v1", "source": "k8s", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"}
					id := f.add("last-chance", attrs, "Root=1-5759e988-bd862e3fe1be46a994272793")
					f.receivedBefore(id, 2)
					cfg := baseConfig()
					cfg.Processors = 1
					var started atomic.Bool
					if parked {
						cfg.Probe = func(ctx context.Context) error {
							if started.Load() {
								return errors.New("still down")
							}
							return nil
						}
					}
					r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
						if m.ReceiveCount != 3 {
							t.Errorf("receive count %d; want 3", m.ReceiveCount)
						}
						started.Store(true)
						write()
						if parked {
							return errors.New("connection refused")
						}
						<-ctx.Done()
						return ctx.Err()
					})
					waitFor(t, time.Minute, "in work", started.Load)
					time.Sleep(20 * time.Second) // within its 30 s MessageTimeout
					if parked && !r.c.Status().Breaker.Open {
						t.Fatal("breaker closed")
					}
					r.stop()
					if st := f.Msg(id); !st.Gone || st.Redriven || st.Deleted != 1 {
						t.Fatalf("the original %+v; want deleted by the worker", st)
					}
					msgs := f.Messages()
					if len(msgs) != 2 {
						t.Fatalf("%d messages in the queue; want the original and its fresh copy", len(msgs))
					}
					cp := msgs[1]
					if cp.Body != "last-chance" || cp.ReceiveCount != 0 || !cp.Visible || cp.TraceHeader != "Root=1-5759e988-bd862e3fe1be46a994272793" {
						t.Fatalf("fresh copy %+v", cp)
					}
					for k, v := range attrs {
						if cp.Attributes[k] != v {
							t.Fatalf("fresh copy attributes %v; want %v", cp.Attributes, attrs)
						}
					}
					if s := r.c.Status(); s.Requeued != 1 || s.Released != 0 {
						t.Fatalf("status %+v", s)
					}
					// Its next receive is its first: no redrive.
					out, err := f.ReceiveMessage(context.Background(), receiveInput(1))
					if err != nil || len(out.Messages) != 1 || out.Messages[0].Attributes["ApproximateReceiveCount"] != "1" {
						t.Fatalf("next receive: %v %+v", err, out)
					}
					if len(f.DLQ()) != 0 {
						t.Fatalf("DLQ %+v", f.DLQ())
					}
				})
			})
		}
	})

	t.Run("prefetch stays small: with 2 processors no more than 4 messages are in flight while a backlog of 100 waits", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			addN(f, 100, "m")
			cfg := baseConfig()
			cfg.Processors = 2
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				time.Sleep(time.Second)
				return nil
			})
			for range 20 {
				time.Sleep(time.Second)
				if _, inFlight, _ := f.Counts(); inFlight > 4 {
					t.Fatalf("%d in flight", inFlight)
				}
			}
			waitFor(t, 5*time.Minute, "drained", allGone(f))
			if m := f.MaxInFlight(); m > 4 || m < 3 {
				t.Fatalf("at most %d in flight at once; want up to Processors+2 = 4", m)
			}
			if s := r.c.Status(); s.Deleted != 100 || s.Received != 100 {
				t.Fatalf("status %+v", s)
			}
		})
	})

	t.Run("a release at stop is not undone by the heartbeat extending the same message", func(t *testing.T) {
		// The release call answers slowly (its effect is immediate); while it
		// is under way the messages stay in the tracker, so the heartbeat
		// tries to extend them after SQS released them. SQS refuses to change
		// the visibility of a message that is not in flight
		// (MessageNotInflight), so the release stands.
		synctest.Test(t, func(t *testing.T) {
			f := newFakeSQS(5)
			addN(f, 4, "m")
			f.slowResponse = func(api string, in any) time.Duration {
				if cv, ok := in.(*sqsChangeVisibility); ok && allZero(cv) {
					return 3 * time.Second
				}
				return 0
			}
			var down atomic.Bool
			cfg := baseConfig()
			cfg.Probe = func(ctx context.Context) error {
				if down.Load() {
					return errors.New("down")
				}
				return nil
			}
			r := start(t, f, cfg, func(ctx context.Context, m *consume.Message) error {
				write()
				down.Store(true)
				return errors.New("down")
			})
			time.Sleep(time.Minute)
			if h := r.c.Held(); h != 4 {
				t.Fatalf("%d held", h)
			}
			r.stop()
			var released, extendedAfter int
			var releaseAt time.Time
			for _, c := range f.Log() {
				if c.API == "ChangeMessageVisibilityBatch" && len(c.Visibility) > 0 && c.Visibility[0] == 0 {
					released += len(c.Visibility)
					releaseAt = c.Start
				}
			}
			for _, c := range f.Log() {
				if c.API == "ChangeMessageVisibilityBatch" && c.Start.After(releaseAt) && c.Visibility[0] != 0 && c.Err == nil {
					extendedAfter += len(c.Visibility)
				}
			}
			if released != 4 {
				t.Fatalf("%d released", released)
			}
			for _, m := range f.Messages() {
				if !m.Visible {
					t.Fatalf("%+v hidden again after its release (%d extensions after the release call)", m, extendedAfter)
				}
			}
		})
	})
}

type sqsChangeVisibility = sqs.ChangeMessageVisibilityBatchInput

func allZero(in *sqsChangeVisibility) bool {
	for _, e := range in.Entries {
		if e.VisibilityTimeout != 0 {
			return false
		}
	}
	return len(in.Entries) > 0
}

func sendInput(url, body string) *sqs.SendMessageInput {
	return &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body)}
}

func receiveInput(n int32) *sqs.ReceiveMessageInput {
	return &sqs.ReceiveMessageInput{QueueUrl: aws.String(ingestURL), MaxNumberOfMessages: n, VisibilityTimeout: 30,
		AttributeNames: []types.QueueAttributeName{"All"}, MessageAttributeNames: []string{"All"}}
}
