package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/queuedepth"
	"github.com/graphfleet/graphfleet/shared/sqssend"
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
	gate     *backlogGate // nil: never defers
}

// runReport is what one run of a source did, for the logs and --once's
// summary.
type runReport struct {
	Source    string
	Took      time.Duration
	Snapshots []snapshotOutcome
	Err       error     // every failure of the run: discovery and unsealed snapshots
	Deferred  *deferral // set when the run deferred: it discovered and sent nothing
}

// ingestQueue is the name the process's queuedepth.Sampler knows the ingest
// queue by (run's deferral and serve's 429 both read it).
const ingestQueue = "ingest"

// deferral is a run that did not discover because the ingest backlog was
// above BACKLOG_HIGH_WATER.
type deferral struct {
	Backlog, Mark int64
}

func (d *deferral) String() string {
	return fmt.Sprintf("deferred: ingest backlog %d above the mark %d; the next snapshot supersedes this one", d.Backlog, d.Mark)
}

// backlogGate decides whether a discovery run defers. Sending a full snapshot
// into a deep backlog only lengthens it: the workers would reach the
// snapshot after newer ones, and a newer complete snapshot supersedes it
// anyway. So a run above the mark skips discovery (sparing the sources'
// APIs too) and the next run, on its interval or schedule, catches up.
type backlogGate struct {
	depth *queuedepth.Sampler
	mark  int64
	log   *slog.Logger
}

// newBacklogGate is the run's gate, or nil when nothing defers: the mark is
// 0, FORCE is set, or the run is a replay (a replay is an operator's
// deliberate re-send, to a queue the workers take only with spare capacity).
// --once runs defer too: a scheduled ECS task is exactly a --once run, and
// a person who wants a discovery now says --force.
func newBacklogGate(cfg Config, client queuedepth.API, log *slog.Logger) *backlogGate {
	if cfg.BacklogHighWater <= 0 || cfg.Force || cfg.Queue == QueueReplay {
		return nil
	}
	s := queuedepth.New(client, 0, log)
	s.Watch(ingestQueue, cfg.QueueURL)
	return &backlogGate{depth: s, mark: int64(cfg.BacklogHighWater), log: log}
}

// check reads the ingest backlog now, one GetQueueAttributes call per run
// (runs are minutes apart, so a background sampler would read thousands of
// times for nothing), and returns the deferral when it is above the mark,
// nil to go ahead.
func (g *backlogGate) check(ctx context.Context, src string) *deferral {
	if g == nil {
		return nil
	}
	g.depth.SampleOnce(ctx)
	d, _ := g.depth.Depth(ingestQueue)
	if d.Err != "" || d.At.IsZero() {
		// The deferral spares the fleet; SQS takes the messages either way.
		// Skipping discovery because depth is unreadable (often a role
		// without sqs:GetQueueAttributes) would stop the graph's updates for
		// a permission that only serves flow control.
		g.log.WarnContext(ctx, "cannot read the ingest backlog; running without the deferral check", "source", src, "err", d.Err)
		return nil
	}
	if d.Backlog() <= g.mark {
		return nil
	}
	return &deferral{Backlog: d.Backlog(), Mark: g.mark}
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
func discoverAndSend(ctx context.Context, src source, ss *snapshotSender, timeout time.Duration, log *slog.Logger) (rep runReport) {
	ctx, cancel := context.WithTimeoutCause(ctx, timeout, errRunTimeout)
	defer cancel()
	start := time.Now()
	rep = runReport{Source: src.name}
	ctx, span := tracer.Start(ctx, "discover "+src.name, trace.WithNewRoot(), trace.WithAttributes(attribute.String("graphfleet.source", src.name)))
	defer func() {
		outcome := "sealed"
		switch {
		case rep.Deferred != nil:
			outcome = "deferred"
		case rep.Err != nil:
			outcome = "failed"
			span.RecordError(rep.Err)
			span.SetStatus(codes.Error, rep.Err.Error())
		}
		span.SetAttributes(attribute.String("graphfleet.outcome", outcome), attribute.Int("graphfleet.snapshots", len(rep.Snapshots)))
		span.End()
		recordRun(ctx, src.name, outcome)
	}()
	if d := src.gate.check(ctx, src.name); d != nil {
		rep.Deferred, rep.Took = d, time.Since(start)
		log.WarnContext(ctx, "discovery run deferred", "source", src.name, "backlog", d.Backlog, "mark", d.Mark, "reason", d.String())
		return rep
	}
	var errs []error
	dctx, dspan := tracer.Start(ctx, "graphfleet.discovery")
	snaps, err := src.discover(dctx, start)
	dspan.SetAttributes(attribute.Int("graphfleet.snapshots", len(snaps)))
	if err != nil {
		dspan.RecordError(err)
		dspan.SetStatus(codes.Error, err.Error())
	}
	dspan.End()
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
		sctx, sspan := tracer.Start(ctx, "graphfleet.snapshot", trace.WithAttributes(attribute.String("graphfleet.scope", snapshotScope(snap)),
			attribute.String("graphfleet.snapshot", snapshotID(snap)), attribute.Int("graphfleet.vertices", len(snap.Vertices)), attribute.Int("graphfleet.edges", len(snap.Edges))))
		sent, err := ss.send(sctx, snap)
		if err != nil {
			sspan.RecordError(err)
			sspan.SetStatus(codes.Error, err.Error())
		} else {
			recordSnapshot(ctx, src.name, start, len(snap.Vertices), len(snap.Edges))
		}
		sspan.SetAttributes(attribute.Int("graphfleet.messages", sent.Sent.Messages))
		sspan.End()
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

// attrReplay marks a message sent by `producer run --once --queue replay`
// (DESIGN.md, "Replay": replayed messages carry replay=true).
const attrReplay = edgebatch.AttrReplay

// replayAttrBytes is what the replay attribute adds to a message, counted as
// SQS (and edgebatch.Message.Size) counts it.
var replayAttrBytes = edgebatch.Message{Attributes: map[string]string{attrReplay: "true"}}.Size()

// newRunSender is the snapshot sender of a run, and the URL of its queue:
// the ingest queue, or with QUEUE=replay the replay queue with every message
// marked replay=true.
func newRunSender(ctx context.Context, cfg Config, queue queueClient, log *slog.Logger) (*snapshotSender, string, error) {
	if cfg.Queue != QueueReplay {
		ss, err := newSnapshotSender(ctx, queue, cfg.QueueURL, log)
		return ss, cfg.QueueURL, err
	}
	ss, err := newSnapshotSender(ctx, replayMarker{queue}, cfg.ReplayQueueURL, log)
	if err != nil {
		return nil, "", err
	}
	// The marker adds its attribute after Encode measured the message, so
	// batches are cut that much smaller: each still fits the queue with
	// AttributeReserve left for the trace context and a dead-letter reason.
	ss.limits.MaxBytes -= replayAttrBytes
	if ss.limits.MaxBytes < edgebatch.MinSplitBytes {
		return nil, "", fmt.Errorf("queue %s: %w", cfg.ReplayQueueURL, sqssend.ErrQueueTooSmall)
	}
	return ss, cfg.ReplayQueueURL, nil
}

// replayMarker is the replay queue's client: it adds replay=true to every
// message on its way, after sqssend added the trace context, so the replay
// goes through the one sending path (snapshotSender: data, then the seal
// only once every data batch was accepted) unchanged. It stands in for
// edgebatch.EncodeWith, which snapshotSender cannot be given today (it
// encodes with Encode); an extra-attributes field there would retire this
// type and its call splitting.
type replayMarker struct{ queueClient }

func (r replayMarker) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	entries := make([]types.SendMessageBatchRequestEntry, len(in.Entries))
	size := 0
	for i, e := range in.Entries {
		attrs := maps.Clone(e.MessageAttributes)
		if attrs == nil {
			attrs = map[string]types.MessageAttributeValue{}
		}
		attrs[attrReplay] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("true")}
		e.MessageAttributes = attrs
		entries[i] = e
		size += len(aws.ToString(e.MessageBody))
		for k, v := range attrs {
			size += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
		}
	}
	marked := *in
	marked.Entries = entries
	if size <= sqssend.MaxCallBytes || len(entries) == 1 {
		return r.queueClient.SendMessageBatch(ctx, &marked, opts...)
	}
	// sqssend packed this call up to SQS's 1 MiB per call without the
	// marker's bytes, which can push a full call over (BatchRequestTooLong).
	// Such a call goes one entry a call: each fits, Split having cut them
	// smaller by the marker's size. Entry ids stay those the sender gave.
	out := &sqs.SendMessageBatchOutput{}
	var lastErr error
	for _, e := range entries {
		one := marked
		one.Entries = []types.SendMessageBatchRequestEntry{e}
		o, err := r.queueClient.SendMessageBatch(ctx, &one, opts...)
		if err != nil {
			// Not the entry's fault: the sender retries it, as it would the
			// whole call.
			lastErr = err
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("CallFailed"), Message: aws.String(err.Error())})
			continue
		}
		out.Successful = append(out.Successful, o.Successful...)
		out.Failed = append(out.Failed, o.Failed...)
	}
	if len(out.Successful) == 0 && lastErr != nil {
		return nil, lastErr
	}
	return out, nil
}
