package consume

import (
	"context"
	"sync"
	"time"
)

// Pollers follow the queue's depth: one long poll while the queue is
// shallow (more would only hold more empty connections open and, on SQS,
// make more empty receives), one more per BacklogPerPoller messages of
// backlog up to Pollers, and back to one as the backlog drains. The backlog
// comes from the process's depth sampler (Config.Backlog), read every
// ScaleEvery; an unknown depth counts as shallow, the safe side: one poller
// still receives everything, only less quickly. Receiving also pauses at
// the held-message cap, whatever the poller count (tracker.reserveRoom).
//
// wantPollers is the rule, kept pure for tests.
func wantPollers(backlog int64, known bool, perPoller, maxPollers int) int {
	if !known || backlog <= 0 || perPoller <= 0 {
		return 1
	}
	n := 1 + backlog/int64(perPoller)
	return int(min(n, int64(maxPollers)))
}

// pollerScale is how many of the consumer's poller goroutines may receive
// now: poller i receives while i < want, and waits otherwise.
type pollerScale struct {
	mu      sync.Mutex
	want    int
	changed chan struct{}
}

func newPollerScale(want int) *pollerScale {
	return &pollerScale{want: want, changed: make(chan struct{})}
}

func (s *pollerScale) get() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.want
}

// set changes the count and wakes the waiting pollers when it grew.
func (s *pollerScale) set(n int) (old int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old = s.want
	if n == old {
		return old
	}
	s.want = n
	close(s.changed)
	s.changed = make(chan struct{})
	return old
}

// wait returns once poller i may receive, or ctx's error.
func (s *pollerScale) wait(ctx context.Context, i int) error {
	for {
		s.mu.Lock()
		if i < s.want {
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// scaleLoop sets the poller count from the backlog every ScaleEvery until
// ctx ends.
func (c *Consumer) scaleLoop(ctx context.Context) {
	t := time.NewTicker(c.cfg.ScaleEvery)
	defer t.Stop()
	for {
		backlog, known := c.cfg.Backlog()
		n := wantPollers(backlog, known, c.cfg.BacklogPerPoller, c.cfg.Pollers)
		if old := c.scale.set(n); old != n {
			c.log.Info("pollers follow the backlog", "pollers", n, "was", old, "backlog", backlog, "backlog_known", known)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// waitGate waits while Config.Gate keeps receiving closed (the replay
// queue's consumer waits while the live queue has a backlog), checking it
// every ScaleEvery. It returns ctx's error when the stop comes first.
func (c *Consumer) waitGate(ctx context.Context) error {
	if c.cfg.Gate == nil {
		return nil
	}
	var t *time.Ticker
	for {
		open, why := c.cfg.Gate()
		if open {
			c.gated.Store("")
			return nil
		}
		if prev, _ := c.gated.Swap(why).(string); prev != why {
			c.log.Info("receiving paused", "why", why)
		}
		if t == nil {
			t = time.NewTicker(c.cfg.ScaleEvery)
			defer t.Stop()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}
