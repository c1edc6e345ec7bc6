package main

import (
	"context"
	"sync"
	"time"
)

// coalescer turns a burst of change events for one key (a stack, or an
// account and region) into one rediscovery. The first event for a key opens
// a group and waits coalesceWindow for others to join; then the group's
// rediscovery runs once and every event of the group gets its outcome. An
// event arriving while its key's rediscovery runs opens the next group,
// which starts only after the running one has ended: that rediscovery may
// have read before the change, the next one reads after it. An event older
// than the start of the key's last successful rediscovery (by more than
// clockSkew) is already covered by it and needs none: EventBridge's
// duplicates and the trigger queue's redeliveries cost nothing.
type coalescer struct {
	window time.Duration
	run    func(ctx context.Context, key string, started time.Time) error
	ctx    context.Context // the rediscoveries' own: they outlive the messages waiting on them
	now    func() time.Time

	mu      sync.Mutex
	open    map[string]*group    // collecting events, not started
	running map[string]*group    // started, not ended
	covered map[string]time.Time // start of the key's last successful rediscovery
}

// clockSkew is the margin between the event's time (AWS's clock) and the
// rediscovery's start (ours) below which an event counts as covered.
const clockSkew = 5 * time.Second

// maxCovered bounds the covered map; past it, entries older than coveredTTL
// are dropped.
const (
	maxCovered = 10000
	coveredTTL = 10 * time.Minute
)

// group is the events of one key that one rediscovery answers.
type group struct {
	done chan struct{} // closed when the rediscovery has ended
	err  error         // its outcome, set before done is closed
}

func newCoalescer(ctx context.Context, window time.Duration, run func(ctx context.Context, key string, started time.Time) error) *coalescer {
	return &coalescer{window: window, run: run, ctx: ctx, now: time.Now,
		open: map[string]*group{}, running: map[string]*group{}, covered: map[string]time.Time{}}
}

// wait joins an event of key at time 'at' to its group and returns the
// outcome of the group's rediscovery, or ctx's error if ctx ends first (the
// rediscovery goes on for the other events of the group).
func (c *coalescer) wait(ctx context.Context, key string, at time.Time) (covered bool, err error) {
	c.mu.Lock()
	if last, ok := c.covered[key]; ok && at.Add(clockSkew).Before(last) {
		c.mu.Unlock()
		return true, nil
	}
	g := c.open[key]
	if g == nil {
		g = &group{done: make(chan struct{})}
		c.open[key] = g
		go c.start(key, g, c.running[key])
	}
	c.mu.Unlock()
	select {
	case <-g.done:
		return false, g.err
	case <-ctx.Done():
		return false, ctx.Err()
	}
}

// start runs group g of key once the group before it (prev, if any) has
// ended and the window has passed.
func (c *coalescer) start(key string, g, prev *group) {
	if prev != nil {
		select {
		case <-prev.done:
		case <-c.ctx.Done():
		}
	}
	t := time.NewTimer(c.window)
	select {
	case <-t.C:
	case <-c.ctx.Done():
		t.Stop()
	}
	c.mu.Lock()
	delete(c.open, key)
	c.running[key] = g
	c.mu.Unlock()

	started := c.now()
	err := c.ctx.Err()
	if err == nil {
		err = c.run(c.ctx, key, started)
	}

	c.mu.Lock()
	if c.running[key] == g {
		delete(c.running, key)
	}
	if err == nil {
		if len(c.covered) >= maxCovered {
			for k, t := range c.covered {
				if started.Sub(t) > coveredTTL {
					delete(c.covered, k)
				}
			}
		}
		c.covered[key] = started
	}
	c.mu.Unlock()
	g.err = err
	close(g.done)
}
