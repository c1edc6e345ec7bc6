package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// discoverFunc is a discovery source: one full discovery of each of its
// scopes, as snapshots observed at the given time. It should give up when
// ctx ends. A source of several scopes (one per AWS region) may return the
// snapshots it completed together with an error naming the scopes it could
// not: those are sent, the failed scopes wait for the next run.
type discoverFunc func(ctx context.Context, observed time.Time) ([]*edgebatch.Batch, error)

// errRunTimeout is the cause of a discovery run's context ending at
// DISCOVERY_TIMEOUT, told apart from a shutdown.
var errRunTimeout = errors.New("discovery run exceeded DISCOVERY_TIMEOUT")

// source is one configured discovery source.
type source struct {
	name     string
	interval time.Duration
	discover discoverFunc
}

// runReport is what one run of a source did, for the logs and --once's
// summary.
type runReport struct {
	Source    string
	Took      time.Duration
	Snapshots []snapshotOutcome
	Err       error // every failure of the run: discovery and unsealed snapshots
}

// snapshotOutcome is one snapshot of a run: sealed when Err is nil.
type snapshotOutcome struct {
	Scope, ID       string
	Vertices, Edges int
	Report          snapshotReport
	Took            time.Duration
	Err             error
}

// runSources runs every source concurrently, each on its own interval, until
// ctx ends; a shutdown is not an error. With once, each runs one time and
// runSources returns their reports (in the order of srcs) and whether any
// failed.
func runSources(ctx context.Context, srcs []source, once bool, timeout time.Duration, ss *snapshotSender, log *slog.Logger) ([]runReport, error) {
	reports := make([]runReport, len(srcs))
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Go(func() {
			if once {
				reports[i] = discoverAndSend(ctx, src, ss, timeout, log)
				return
			}
			runLoop(ctx, src, ss, timeout, log)
		})
	}
	wg.Wait()
	var errs []error
	for _, r := range reports {
		if r.Err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r.Source, r.Err))
		}
	}
	return reports, errors.Join(errs...)
}

// runLoop runs src every src.interval until ctx ends. A failed run is
// logged; the next one supersedes it.
func runLoop(ctx context.Context, src source, ss *snapshotSender, timeout time.Duration, log *slog.Logger) {
	for {
		rep := discoverAndSend(ctx, src, ss, timeout, log)
		if ctx.Err() != nil {
			return
		}
		if rep.Err != nil {
			log.ErrorContext(ctx, "discovery run failed; the next one will supersede it", "source", src.name, "err", rep.Err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(src.interval):
		}
	}
}

// discoverAndSend runs one discovery and sends each scope's snapshot (see
// snapshotSender.send), logging each outcome. The whole run gets timeout:
// past it, the snapshot being sent is left unsealed and the scopes after it
// are not sent. One scope failing does not stop the others.
func discoverAndSend(ctx context.Context, src source, ss *snapshotSender, timeout time.Duration, log *slog.Logger) runReport {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errRunTimeout)
	defer cancel()
	start := time.Now()
	rep := runReport{Source: src.name}
	var errs []error
	snaps, err := src.discover(ctx, start)
	if err != nil {
		err = fmt.Errorf("discovery: %w", withCause(ctx, err))
		errs = append(errs, err)
		if len(snaps) > 0 {
			log.ErrorContext(ctx, "discovery failed for some scopes; sending the others", "source", src.name, "complete", len(snaps), "err", err)
		}
	}
	for i, snap := range snaps {
		if ctx.Err() != nil {
			notSent := make([]string, 0, len(snaps)-i)
			for _, s := range snaps[i:] {
				notSent = append(notSent, snapshotID(s))
			}
			log.ErrorContext(ctx, "discovery run abandoned; snapshots not sent", "source", src.name, "not_sent", notSent, "cause", context.Cause(ctx))
			errs = append(errs, fmt.Errorf("%d snapshot(s) not sent: %w", len(notSent), context.Cause(ctx)))
			break
		}
		began := time.Now()
		sent, err := ss.send(ctx, snap)
		out := snapshotOutcome{Scope: snapshotScope(snap), ID: snapshotID(snap), Vertices: len(snap.Vertices), Edges: len(snap.Edges),
			Report: sent, Took: time.Since(began)}
		if err != nil {
			err = withCause(ctx, err)
			out.Err = err
			attrs := []any{"source", src.name, "scope", out.Scope, "snapshot", out.ID, "err", err}
			if ue, ok := errors.AsType[*unsealedError](err); ok {
				attrs = append(attrs, "batches", ue.Batches, "accepted", ue.Accepted, "failed_seqs", seqList(ue.Failed))
			}
			log.ErrorContext(ctx, "snapshot not sealed; the next run supersedes it", attrs...)
			errs = append(errs, err)
		} else {
			log.InfoContext(ctx, "snapshot sent and sealed", "source", src.name, "scope", out.Scope, "snapshot", out.ID,
				"vertices", out.Vertices, "edges", out.Edges, "batches", sent.Batches,
				"messages", sent.Sent.Messages, "calls", sent.Sent.Calls, "retried", sent.Sent.Retried, "bytes", sent.Sent.Bytes,
				"took", out.Took.Round(time.Millisecond).String())
		}
		rep.Snapshots = append(rep.Snapshots, out)
	}
	rep.Err = errors.Join(errs...)
	rep.Took = time.Since(start)
	return rep
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
