package consume

import (
	"context"
	"sync"
	"time"
)

// breaker is the circuit breaker between the queue and the sink (Neptune).
// When the sink is unwell the failure is not the message's: receiving more
// would only spend receives that count toward the queue's redrive, so the
// breaker opens, pollers and processors wait, what is held stays held (the
// heartbeat keeps it hidden at no cost in receives), a probe tries the sink
// with backoff, and the breaker closes when it answers.
type breaker struct {
	mu       sync.Mutex
	open     bool
	denied   bool      // opened by an access-denied failure: alarm, not just wait
	cause    string    // what opened it, for /stats and logs
	since    time.Time // when it opened
	trips    int       // consecutive opens without a success in between: the probe's backoff step
	closedCh chan struct{}
	openedCh chan struct{}
}

func newBreaker() *breaker {
	b := &breaker{closedCh: make(chan struct{}), openedCh: make(chan struct{})}
	close(b.closedCh)
	return b
}

// trip opens the breaker, or records a newer cause if it is open already.
// It reports whether this call opened it.
func (b *breaker) trip(cause string, denied bool, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.cause, b.denied = cause, b.denied || denied
	if b.open {
		return false
	}
	b.open, b.since = true, now
	b.trips++
	b.closedCh = make(chan struct{})
	close(b.openedCh)
	return true
}

// reset closes the breaker after a successful probe. trips is kept until a
// message succeeds, so a sink that answers probes but fails writes is probed
// less and less often.
func (b *breaker) reset() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.open {
		return
	}
	b.open, b.denied, b.cause = false, false, ""
	b.openedCh = make(chan struct{})
	close(b.closedCh)
}

// succeeded records a message written: the sink works, backoff starts over.
func (b *breaker) succeeded() {
	b.mu.Lock()
	b.trips = 0
	b.mu.Unlock()
}

// waitClosed blocks while the breaker is open.
func (b *breaker) waitClosed(ctx context.Context) error {
	for {
		b.mu.Lock()
		open, ch := b.open, b.closedCh
		b.mu.Unlock()
		if !open {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// waitOpen blocks until the breaker is open.
func (b *breaker) waitOpen(ctx context.Context) error {
	b.mu.Lock()
	open, ch := b.open, b.openedCh
	b.mu.Unlock()
	if open {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// BreakerState is the breaker as /stats shows it.
type BreakerState struct {
	Open   bool      `json:"open"`
	Denied bool      `json:"access_denied,omitempty"`
	Cause  string    `json:"cause,omitempty"`
	Since  time.Time `json:"since,omitzero"`
	Trips  int       `json:"trips"`
}

func (b *breaker) state() BreakerState {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := BreakerState{Open: b.open, Denied: b.denied, Cause: b.cause, Trips: b.trips}
	if b.open {
		s.Since = b.since
	}
	return s
}
