package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// runs records the rediscoveries a coalescer starts: per key, how many, and
// whether two of one key ever overlapped.
type runs struct {
	mu      sync.Mutex
	count   map[string]int
	active  map[string]int
	overlap bool
	took    time.Duration
	err     error
}

func (r *runs) run(ctx context.Context, key string, _ time.Time) error {
	r.mu.Lock()
	r.count[key]++
	r.active[key]++
	if r.active[key] > 1 {
		r.overlap = true
	}
	r.mu.Unlock()
	time.Sleep(r.took) // the fake clock of the bubble
	r.mu.Lock()
	r.active[key]--
	err := r.err
	r.mu.Unlock()
	return err
}

func (r *runs) of(key string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.count[key]
}

func newRuns(took time.Duration) *runs {
	return &runs{count: map[string]int{}, active: map[string]int{}, took: took}
}

func TestCoalescer(t *testing.T) {
	t.Parallel()
	t.Run("a burst of events for one stack is one rediscovery; another stack has its own", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRuns(3 * time.Second)
			c := newCoalescer(t.Context(), 2*time.Second, r.run)
			var wg sync.WaitGroup
			var failed atomic.Int64
			for i := range 12 {
				key := "stack a"
				if i == 11 {
					key = "stack b"
				}
				wg.Go(func() {
					// Spread over the window: each arrives before it ends.
					time.Sleep(time.Duration(i) * 100 * time.Millisecond)
					if covered, err := c.wait(t.Context(), key, time.Now()); err != nil || covered {
						failed.Add(1)
					}
				})
			}
			wg.Wait()
			if r.of("stack a") != 1 || r.of("stack b") != 1 || failed.Load() != 0 {
				t.Fatalf("rediscoveries a=%d b=%d, failed waits %d; want one each, none failed", r.of("stack a"), r.of("stack b"), failed.Load())
			}
		})
	})
	t.Run("an event during a rediscovery gets one after it, never alongside", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRuns(10 * time.Second)
			c := newCoalescer(t.Context(), time.Second, r.run)
			var wg sync.WaitGroup
			wg.Go(func() { _, _ = c.wait(t.Context(), "stack a", time.Now()) })
			time.Sleep(5 * time.Second) // the first is running now
			for range 3 {
				wg.Go(func() { _, _ = c.wait(t.Context(), "stack a", time.Now()) })
			}
			wg.Wait()
			if r.of("stack a") != 2 || r.overlap {
				t.Fatalf("%d rediscoveries (overlap %v); want 2, one after the other", r.of("stack a"), r.overlap)
			}
		})
	})
	t.Run("an event older than the start of the last rediscovery is covered; a failed one covers nothing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRuns(time.Second)
			c := newCoalescer(t.Context(), time.Second, r.run)
			before := time.Now()
			time.Sleep(time.Minute)
			if covered, err := c.wait(t.Context(), "stack a", time.Now()); covered || err != nil {
				t.Fatalf("first: covered %v err %v", covered, err)
			}
			// A duplicate of an event from a minute before that start.
			if covered, err := c.wait(t.Context(), "stack a", before); !covered || err != nil || r.of("stack a") != 1 {
				t.Fatalf("old event: covered %v err %v, %d rediscoveries; want covered, no new one", covered, err, r.of("stack a"))
			}
			// An event within the clock skew of the start is not covered.
			if covered, _ := c.wait(t.Context(), "stack a", time.Now().Add(-2*time.Second)); covered || r.of("stack a") != 2 {
				t.Fatalf("recent event: covered %v, %d rediscoveries; want a new one", covered, r.of("stack a"))
			}
			r.mu.Lock()
			r.err = errors.New("throttled")
			r.mu.Unlock()
			if _, err := c.wait(t.Context(), "stack b", time.Now()); err == nil {
				t.Fatal("the rediscovery's error did not reach the waiting event")
			}
			if covered, _ := c.wait(t.Context(), "stack b", before); covered || r.of("stack b") != 2 {
				t.Fatalf("after a failure: covered %v, %d rediscoveries; want a new one", covered, r.of("stack b"))
			}
		})
	})
	t.Run("a message whose deadline passes stops waiting; the rediscovery goes on for the others", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			r := newRuns(time.Minute)
			c := newCoalescer(t.Context(), time.Second, r.run)
			short, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			var wg sync.WaitGroup
			var otherErr error
			wg.Go(func() { _, otherErr = c.wait(t.Context(), "stack a", time.Now()) })
			if _, err := c.wait(short, "stack a", time.Now()); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("err %v; want the message's deadline", err)
			}
			wg.Wait()
			if otherErr != nil || r.of("stack a") != 1 {
				t.Fatalf("other waiter: %v, %d rediscoveries", otherErr, r.of("stack a"))
			}
		})
	})
}
