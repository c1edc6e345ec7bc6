package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/graphfleet/graphfleet/shared/consume"
	"github.com/graphfleet/graphfleet/shared/queuedepth"
)

// The depth sampler's names for the two queues a worker consumes.
const (
	queueLive   = "ingest"
	queueReplay = "replay"
)

// ReplayConfig is how the worker consumes the replay queue: reprocessing
// (after a fix, after an outage, to rebuild a graph) must never starve live
// ingestion, so the replay queue gets only the capacity the live queue
// leaves, three ways:
//   - its consumer has a share of the processors (SharePercent of
//     PROCESSORS, at least one), so live messages always have the rest;
//   - it receives nothing while the live backlog is above PauseAbove (or
//     unknown): a live backlog means live messages wait, and every replayed
//     one taken would make them wait longer;
//   - its Neptune requests wait behind live ones for a writer slot
//     (neptune.WithPriority), so what replay holds never delays a live write.
//
// Order is not at stake: the graph's order rules make a replayed batch as
// safe as a late one, whenever it arrives.
type ReplayConfig struct {
	QueueURL     string // REPLAY_QUEUE_URL; empty: no replay queue
	SharePercent int    // REPLAY_SHARE
	PauseAbove   int    // REPLAY_PAUSE_ABOVE, messages of live backlog
}

// Validate reports the replay settings' problems.
func (c ReplayConfig) Validate() error {
	var errs []error
	if c.SharePercent < 1 || c.SharePercent > 100 {
		errs = append(errs, fmt.Errorf("REPLAY_SHARE %d: a percentage of PROCESSORS, 1 to 100", c.SharePercent))
	}
	if c.PauseAbove < 0 {
		errs = append(errs, fmt.Errorf("REPLAY_PAUSE_ABOVE %d: a number of messages, 0 or more", c.PauseAbove))
	}
	return errors.Join(errs...)
}

// consumerConfig is the replay queue's consumer: the live one's settings
// with the replay queue, its share of the processors, a small prefetch, its
// own pollers following its own backlog, and the gate on the live backlog.
// The DLQ is the replay queue's own (its RedrivePolicy), unless DLQ_URL
// names one for both.
func (c ReplayConfig) consumerConfig(live consume.Config, depth *queuedepth.Sampler, maxAge time.Duration) consume.Config {
	rc := live
	rc.QueueURL = c.QueueURL
	rc.Processors = max(1, live.Processors*c.SharePercent/100)
	rc.MaxHeld = rc.Processors + 2
	rc.Pollers = max(1, live.Pollers*c.SharePercent/100)
	rc.Backlog = backlogOf(depth, queueReplay, maxAge)
	rc.Logger = live.Logger.With("consumer", "replay")
	pauseAbove := int64(c.PauseAbove)
	rc.Gate = func() (bool, string) {
		d, _ := depth.Depth(queueLive)
		if !d.Known(time.Now(), maxAge) {
			return false, "the live queue's depth is not known"
		}
		if b := d.Backlog(); b > pauseAbove {
			return false, fmt.Sprintf("the live queue has a backlog of %d (REPLAY_PAUSE_ABOVE %d)", b, pauseAbove)
		}
		return true, ""
	}
	return rc
}

// backlogOf reads a queue's backlog from the sampler for a consumer's
// pollers; a sample older than maxAge is not known.
func backlogOf(depth *queuedepth.Sampler, name string, maxAge time.Duration) func() (int64, bool) {
	return func() (int64, bool) {
		d, ok := depth.Depth(name)
		if !ok || !d.Known(time.Now(), maxAge) {
			return 0, false
		}
		return d.Backlog(), true
	}
}

// handleReplay is handle for the replay queue's messages: the same path,
// marked as replay (its Neptune requests wait behind live ones, its span and
// logs say replay=true).
func (h *handler) handleReplay(ctx context.Context, m *consume.Message) error {
	return h.handleAs(ctx, m, h.replayQueue, true)
}
