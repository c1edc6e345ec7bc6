package consume

import (
	"fmt"
	"time"
)

// stuckGrace is how long past its deadline a handler may take to notice its
// context: longer, and it ignores it, so the worker is stuck.
const stuckGrace = time.Minute

// Alive reports whether every loop is making progress: the heartbeat and the
// ack loop go round, and no handler runs far past its message's deadline. A
// worker that waits at its held-message cap, or for the sink while the
// breaker is open, is alive: it is waiting on purpose. ECS's container health
// check (worker -healthcheck) uses this, so a busy task is never replaced for
// being busy.
func (c *Consumer) Alive(now time.Time) (bool, string) {
	// A heartbeat round makes at most MaxHeld/10 calls, each bounded.
	beatBound := 3*c.heartbeatEvery() + time.Duration(c.cfg.MaxHeld/10+1)*sqsCallTimeout
	if since := now.Sub(time.Unix(0, c.lastBeat.Load())); since > beatBound {
		return false, fmt.Sprintf("heartbeat loop silent for %s", since.Round(time.Second))
	}
	ackBound := 3*ackFlushEvery + time.Duration(c.cfg.MaxHeld/10+1)*sqsCallTimeout
	if since := now.Sub(time.Unix(0, c.lastAck.Load())); since > ackBound {
		return false, fmt.Sprintf("ack loop silent for %s", since.Round(time.Second))
	}
	if stuck := c.inflight.overdue(now, stuckGrace); len(stuck) > 0 {
		return false, fmt.Sprintf("%d message(s) in work more than %s past their deadline (first: %s)", len(stuck), stuckGrace, stuck[0].ID)
	}
	return true, "ok"
}

// Ready reports whether the worker can do its job now: SQS answers its
// receives and the sink (Neptune) is not behind an open breaker.
func (c *Consumer) Ready() (bool, string) {
	if c.stopping.Load() {
		return false, "stopping"
	}
	if n := c.sqsFailed.Load(); n >= 3 {
		return false, fmt.Sprintf("SQS: the last %d receives failed", n)
	}
	if st := c.breaker.state(); st.Open {
		if st.Denied {
			return false, "sink denies access: " + st.Cause
		}
		return false, "sink unavailable: " + st.Cause
	}
	return true, "ok"
}

// Status is the consumer's state for /stats.
type Status struct {
	Held         int          `json:"held"`
	MaxHeld      int          `json:"max_held"`
	Received     int64        `json:"received"`
	Deleted      int64        `json:"deleted"`
	DeadLettered int64        `json:"dead_lettered"`
	Retried      int64        `json:"retried"`
	Parked       int64        `json:"parked"`
	Released     int64        `json:"released"`
	Requeued     int64        `json:"requeued"`
	Extended     int64        `json:"extended"`
	Breaker      BreakerState `json:"breaker"`
	Stopping     bool         `json:"stopping"`
	// Pollers is how many long polls may run now (they follow the backlog),
	// MaxPollers the most (POLLERS).
	Pollers    int `json:"pollers"`
	MaxPollers int `json:"max_pollers"`
	// Paused says why Config.Gate keeps receiving paused; empty when it
	// does not.
	Paused string `json:"paused,omitempty"`
}

// Status returns the counters and the breaker.
func (c *Consumer) Status() Status {
	paused, _ := c.gated.Load().(string)
	return Status{
		Held:         c.Held(),
		MaxHeld:      c.cfg.MaxHeld,
		Received:     c.stats.Received.Load(),
		Deleted:      c.stats.Deleted.Load(),
		DeadLettered: c.stats.DeadLettered.Load(),
		Retried:      c.stats.Retried.Load(),
		Parked:       c.stats.Parked.Load(),
		Released:     c.stats.Released.Load(),
		Requeued:     c.stats.Requeued.Load(),
		Extended:     c.stats.Extended.Load(),
		Breaker:      c.breaker.state(),
		Stopping:     c.stopping.Load(),
		Pollers:      c.scale.get(),
		MaxPollers:   c.cfg.Pollers,
		Paused:       paused,
	}
}
