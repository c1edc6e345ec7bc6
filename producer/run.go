package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// discoverFunc is a discovery source: one full discovery of each of its
// scopes, as snapshots observed at the given time. It should give up when
// ctx ends.
type discoverFunc func(ctx context.Context, observed time.Time) ([]*edgebatch.Batch, error)

// errRunTimeout is the cause of a discovery run's context ending at
// DISCOVERY_TIMEOUT, told apart from a shutdown.
var errRunTimeout = errors.New("discovery run exceeded DISCOVERY_TIMEOUT")

// runLoop runs a discovery every cfg.Interval until ctx ends, or once when
// the interval is 0; only then does a failed run make it fail. A shutdown
// (ctx ending) is not an error: the run it interrupts stays unsealed.
func runLoop(ctx context.Context, cfg Config, discover discoverFunc, ss *snapshotSender, log *slog.Logger) error {
	for {
		err := discoverAndSend(ctx, discover, ss, cfg.DiscoveryTimeout, log)
		if ctx.Err() != nil {
			return nil
		}
		if cfg.Interval == 0 {
			return err
		}
		if err != nil {
			log.ErrorContext(ctx, "discovery run failed; the next one will supersede it", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(cfg.Interval):
		}
	}
}

// discoverAndSend runs one discovery and sends each scope's snapshot (see
// snapshotSender.send), logging each outcome. The whole run gets timeout:
// past it, the snapshot being sent is left unsealed and the scopes after it
// are not sent. One scope failing does not stop the others.
func discoverAndSend(ctx context.Context, discover discoverFunc, ss *snapshotSender, timeout time.Duration, log *slog.Logger) error {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errRunTimeout)
	defer cancel()
	start := time.Now()
	snaps, err := discover(ctx, start)
	if err != nil {
		return fmt.Errorf("discovery: %w", withCause(ctx, err))
	}
	var errs []error
	for i, snap := range snaps {
		if ctx.Err() != nil {
			notSent := make([]string, 0, len(snaps)-i)
			for _, s := range snaps[i:] {
				notSent = append(notSent, snapshotID(s))
			}
			log.ErrorContext(ctx, "discovery run abandoned; snapshots not sent", "not_sent", notSent, "cause", context.Cause(ctx))
			errs = append(errs, fmt.Errorf("%d snapshot(s) not sent: %w", len(notSent), context.Cause(ctx)))
			break
		}
		began := time.Now()
		rep, err := ss.send(ctx, snap)
		if err != nil {
			err = withCause(ctx, err)
			attrs := []any{"scope", snapshotScope(snap), "snapshot", snapshotID(snap), "err", err}
			if ue, ok := errors.AsType[*unsealedError](err); ok {
				attrs = append(attrs, "batches", ue.Batches, "accepted", ue.Accepted, "failed_seqs", seqList(ue.Failed))
			}
			log.ErrorContext(ctx, "snapshot not sealed; the next run supersedes it", attrs...)
			errs = append(errs, err)
			continue
		}
		log.InfoContext(ctx, "snapshot sent and sealed", "scope", snapshotScope(snap), "snapshot", snapshotID(snap),
			"vertices", len(snap.Vertices), "edges", len(snap.Edges), "batches", rep.Batches,
			"messages", rep.Sent.Messages, "calls", rep.Sent.Calls, "retried", rep.Sent.Retried, "bytes", rep.Sent.Bytes,
			"took", time.Since(began).Round(time.Millisecond).String())
	}
	return errors.Join(errs...)
}

// withCause adds why ctx ended to err when it did: an SDK call cut short
// says only "context deadline exceeded", not that DISCOVERY_TIMEOUT did it.
func withCause(ctx context.Context, err error) error {
	if cause := context.Cause(ctx); cause != nil && cause != ctx.Err() && !errors.Is(err, cause) {
		return fmt.Errorf("%w: %w", cause, err)
	}
	return err
}

func snapshotID(b *edgebatch.Batch) string {
	if b.Snapshot == nil {
		return ""
	}
	return b.Snapshot.ID
}

func snapshotScope(b *edgebatch.Batch) string {
	if b.Snapshot == nil {
		return ""
	}
	return b.Snapshot.Scope
}
