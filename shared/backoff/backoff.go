// Package backoff holds the waiting that every retry in graphfleet does: a
// jittered exponential delay and a sleep that ends early when its context
// does.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// FullJitter is "full jitter" exponential backoff for retry n (0 for the
// first retry): a uniform draw in (0, min(maxDelay, base*2^n)]. Full jitter
// spreads clients that failed together (a conflict, a failover) so they do not
// collide again on the retry.
func FullJitter(n int, base, maxDelay time.Duration) time.Duration {
	d := Exponential(n, base, maxDelay)
	if d <= 0 {
		return 0
	}
	return rand.N(d) + 1
}

// Sleep waits for d or until ctx ends, whichever is first, and returns
// ctx's error in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Exponential is base*2^n capped at maxDelay, without jitter: for waits that
// something else already spreads (SQS redelivery) or that a person reads.
func Exponential(n int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < maxDelay; i++ {
		d *= 2
	}
	return min(d, maxDelay)
}
