package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Consumer. Zero fields take the documented defaults
// (SetDefaults); Validate reports every problem at once.
type Config struct {
	// QueueURL is the queue to consume (QUEUE_URL).
	QueueURL string
	// DLQURL is where malformed messages go (DLQ_URL). When empty it is found
	// from the queue's RedrivePolicy; a queue with neither is a configuration
	// error, since a malformed message must never block the queue.
	DLQURL string
	// Processors is how many messages are handled at once (PROCESSORS); 8
	// when zero.
	Processors int
	// MaxHeld caps the messages held at once, received and not yet deleted or
	// released (MAX_HELD_MESSAGES); receiving stops while it is reached.
	// Processors+2 when zero: prefetch stays small, so a busy task does not
	// hide messages that another task could take.
	MaxHeld int
	// Pollers is the most long polls run at once (POLLERS); 1 when zero.
	// With Backlog set, the count follows the queue's depth between one and
	// Pollers (see scale.go); without it, Pollers always run.
	Pollers int
	// Backlog returns the queue's backlog (visible and delayed messages)
	// from the process's depth sampler, and whether it is known.
	Backlog func() (n int64, known bool)
	// BacklogPerPoller is how many messages of backlog call for one more
	// poller (POLLER_BACKLOG); 100 when zero.
	BacklogPerPoller int
	// ScaleEvery is how often the poller count and Gate are looked at; 1s
	// when zero. The sampler behind them reads SQS less often.
	ScaleEvery time.Duration
	// Gate, when set, is asked before every receive: while it answers false,
	// receiving pauses (with the reason in Status) and what is held goes on
	// being worked. The replay queue's consumer is gated on the live
	// queue's backlog.
	Gate func() (open bool, why string)
	// WaitTime is the long-poll wait, at most 20s; 20s when zero.
	WaitTime time.Duration
	// VisibilityTimeout is what the consumer asks for on receive and extends
	// held messages to (VISIBILITY_TIMEOUT); 30s when zero. Messages are
	// extended once half of it is left.
	VisibilityTimeout time.Duration
	// MessageTimeout is how long one message may stay in work
	// (MESSAGE_TIMEOUT), waits for a Neptune writer slot included; 2m when
	// zero. The handler's context ends then, and the heartbeat stops
	// extending the message, so a stuck write cannot hide it for longer than
	// this plus one VisibilityTimeout. A message parked while the sink is
	// unwell is not in work and is kept.
	MessageTimeout time.Duration
	// StopTimeout bounds the whole stop (STOP_TIMEOUT); 25s when zero, under
	// ECS's default stopTimeout of 30s. The last long poll (up to WaitTime)
	// and work in progress get it less a reserve of a few seconds for the
	// final releases and deletes.
	StopTimeout time.Duration
	// Probe checks the sink while the breaker is open; nil means the next
	// message is the probe. It should be cheap and touch no data.
	Probe func(ctx context.Context) error
	// ProbeBackoff and MaxProbeBackoff shape the jittered backoff between
	// probes; 1s and 30s when zero.
	ProbeBackoff, MaxProbeBackoff time.Duration
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
}

// SetDefaults fills zero fields with the documented defaults.
func (c *Config) SetDefaults() {
	if c.Processors <= 0 {
		c.Processors = 8
	}
	if c.MaxHeld <= 0 {
		c.MaxHeld = c.Processors + 2
	}
	if c.Pollers <= 0 {
		c.Pollers = 1
	}
	if c.BacklogPerPoller <= 0 {
		c.BacklogPerPoller = 100
	}
	if c.ScaleEvery <= 0 {
		c.ScaleEvery = time.Second
	}
	if c.WaitTime <= 0 {
		c.WaitTime = 20 * time.Second
	}
	if c.VisibilityTimeout <= 0 {
		c.VisibilityTimeout = 30 * time.Second
	}
	if c.MessageTimeout <= 0 {
		c.MessageTimeout = 2 * time.Minute
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 25 * time.Second
	}
	if c.ProbeBackoff <= 0 {
		c.ProbeBackoff = time.Second
	}
	if c.MaxProbeBackoff <= 0 {
		c.MaxProbeBackoff = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem at once. Call it after SetDefaults.
func (c Config) Validate() error {
	var errs []error
	if c.QueueURL == "" {
		errs = append(errs, errors.New("QUEUE_URL is required"))
	}
	if c.MaxHeld < c.Processors {
		errs = append(errs, fmt.Errorf("MAX_HELD_MESSAGES (%d) is below PROCESSORS (%d): processors would idle", c.MaxHeld, c.Processors))
	}
	if c.WaitTime > 20*time.Second || c.WaitTime < time.Second {
		errs = append(errs, fmt.Errorf("long-poll wait %s: SQS allows 1s to 20s", c.WaitTime))
	}
	if c.VisibilityTimeout < 2*time.Second {
		errs = append(errs, fmt.Errorf("VISIBILITY_TIMEOUT %s is too short to heartbeat (at least 2s)", c.VisibilityTimeout))
	}
	if c.VisibilityTimeout > 12*time.Hour {
		errs = append(errs, fmt.Errorf("VISIBILITY_TIMEOUT %s exceeds SQS's 12h", c.VisibilityTimeout))
	}
	if c.VisibilityTimeout%time.Second != 0 || c.WaitTime%time.Second != 0 {
		errs = append(errs, errors.New("VISIBILITY_TIMEOUT and the long-poll wait are whole seconds in SQS"))
	}
	if c.StopTimeout < c.WaitTime+c.releaseReserve() {
		errs = append(errs, fmt.Errorf("STOP_TIMEOUT %s must cover the last long poll (%s) plus %s to release what is held",
			c.StopTimeout, c.WaitTime, c.releaseReserve()))
	}
	if c.ProbeBackoff > c.MaxProbeBackoff {
		errs = append(errs, fmt.Errorf("probe backoff %s exceeds its maximum %s", c.ProbeBackoff, c.MaxProbeBackoff))
	}
	return errors.Join(errs...)
}

// releaseReserve is the part of StopTimeout kept for the final releases and
// deletes after the hard stop: a few SQS calls of ten messages each.
func (c Config) releaseReserve() time.Duration {
	return min(3*time.Second, c.StopTimeout/5)
}
