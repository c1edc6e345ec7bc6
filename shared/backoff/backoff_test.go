package backoff_test

import (
	"context"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/backoff"
)

func TestFullJitter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		n    int
		max  time.Duration
	}{
		{"the first retry waits at most the base", 0, 10 * time.Millisecond},
		{"the third retry waits at most four times the base", 2, 40 * time.Millisecond},
		{"a late retry waits at most the cap", 30, 100 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for range 1000 {
				d := backoff.FullJitter(tc.n, 10*time.Millisecond, 100*time.Millisecond)
				if d <= 0 || d > tc.max {
					t.Fatalf("%v outside (0, %v]", d, tc.max)
				}
				seen[d] = true
			}
			if len(seen) < 100 {
				t.Fatalf("only %d distinct delays in 1000 draws: not jittered", len(seen))
			}
		})
	}
}

func TestSleepEndsWithItsContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := backoff.Sleep(ctx, time.Hour); err != context.Canceled {
		t.Fatalf("err = %v", err)
	}
}

func TestExponential(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{0, 2 * time.Second}, {1, 4 * time.Second}, {4, 32 * time.Second}, {5, time.Minute}, {100, time.Minute}} {
		if got := backoff.Exponential(tc.n, 2*time.Second, time.Minute); got != tc.want {
			t.Errorf("retry %d waits %v, want %v", tc.n, got, tc.want)
		}
	}
}
