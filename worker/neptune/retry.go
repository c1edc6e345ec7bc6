package neptune

import (
	"context"
	"math/rand/v2"
	"time"
)

// backoff is "full jitter" exponential backoff: a uniform draw in
// [0, min(max, base*2^n)). Full jitter spreads writers that failed together
// (a conflict, a failover) so they do not collide again on the retry.
func backoff(n int, base, maxDelay time.Duration) time.Duration {
	d := base
	for i := 0; i < n && d < maxDelay; i++ {
		d *= 2
	}
	d = min(d, maxDelay)
	if d <= 0 {
		return 0
	}
	return rand.N(d) + 1
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
