package main

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/consume"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// batchWriter is the Neptune side as the handler needs it: the write, and
// the snapshot bookkeeping (see neptune/snapshot.go).
type batchWriter interface {
	Write(ctx context.Context, b *edgebatch.Batch) (neptune.Result, error)
	Superseded(ctx context.Context, b *edgebatch.Batch) (bool, error)
	Record(ctx context.Context, b *edgebatch.Batch) error
	Settle(ctx context.Context, b *edgebatch.Batch, owner string) (bool, neptune.SweepResult, error)
	OpenSnapshots(ctx context.Context) (int, error)
}

// graphStats are the handler's counters of what the graph's order rules did,
// for /stats.
type graphStats struct {
	Superseded    atomic.Int64 // batches older than their scope's newest complete snapshot, skipped
	StaleVertices atomic.Int64 // elements a newer observation had written, left as they were
	StaleEdges    atomic.Int64
	Sealed        atomic.Int64 // seals recorded
	Swept         atomic.Int64 // snapshots swept
	SweptStale    atomic.Int64 // swept snapshots that a newer one had superseded (nothing removed)
	Deactivated   atomic.Int64 // calls edges marked active=false by sweeps
	Removed       atomic.Int64 // elements removed by sweeps
}

// GraphStatus is graphStats as /stats shows it.
type GraphStatus struct {
	SupersededBatches int64 `json:"superseded_batches"`
	StaleVertices     int64 `json:"stale_vertices"`
	StaleEdges        int64 `json:"stale_edges"`
	SealsRecorded     int64 `json:"seals_recorded"`
	SnapshotsSwept    int64 `json:"snapshots_swept"`
	SweepsSuperseded  int64 `json:"sweeps_superseded"`
	Deactivated       int64 `json:"sweep_deactivated"`
	Removed           int64 `json:"sweep_removed"`
	// SnapshotsOpen is fleet-wide, read from Neptune every
	// openSnapshotsEvery (Writer.OpenSnapshots): snapshots with progress
	// recorded and no sweep yet; -1 until the first read. A failed read
	// keeps the last count and says why in SnapshotsOpenError.
	SnapshotsOpen      int       `json:"snapshots_open"`
	SnapshotsOpenAt    time.Time `json:"snapshots_open_at,omitzero"`
	SnapshotsOpenError string    `json:"snapshots_open_error,omitempty"`
}

// openSnapshotsEvery is how often the worker reads the open snapshots. Not
// per /stats request: /stats must answer at once whatever Neptune does, and
// must not take writer slots from the batches.
const openSnapshotsEvery = 30 * time.Second

// openSnapshots is the last read of Writer.OpenSnapshots.
type openSnapshots struct {
	mu  sync.Mutex
	n   int
	at  time.Time
	err string
}

// watchOpenSnapshots reads the open snapshots every openSnapshotsEvery until
// ctx ends.
func (h *handler) watchOpenSnapshots(ctx context.Context) {
	for {
		rctx, cancel := context.WithTimeout(ctx, openSnapshotsEvery)
		n, err := h.writer.OpenSnapshots(rctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		h.open.mu.Lock()
		if err != nil {
			h.open.err = err.Error()
		} else {
			h.open.n, h.open.at, h.open.err = n, time.Now(), ""
		}
		h.open.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-time.After(openSnapshotsEvery):
		}
	}
}

// graphStatus is what /stats shows under "graph": this worker's counters
// and the fleet's open snapshots as last read.
func (h *handler) graphStatus() GraphStatus {
	s := &h.stats
	st := GraphStatus{
		SupersededBatches: s.Superseded.Load(), StaleVertices: s.StaleVertices.Load(), StaleEdges: s.StaleEdges.Load(),
		SealsRecorded: s.Sealed.Load(), SnapshotsSwept: s.Swept.Load(), SweepsSuperseded: s.SweptStale.Load(),
		Deactivated: s.Deactivated.Load(), Removed: s.Removed.Load(),
	}
	h.open.mu.Lock()
	st.SnapshotsOpen, st.SnapshotsOpenAt, st.SnapshotsOpenError = h.open.n, h.open.at, h.open.err
	h.open.mu.Unlock()
	return st
}

// handler is the path of one message: decode (the one codec, the one
// validator), write (the Neptune writer), and an outcome the consumer turns
// into a delete, a retry or the DLQ.
type handler struct {
	writer batchWriter
	log    *slog.Logger
	tracer trace.Tracer
	stats  graphStats
	open   openSnapshots
	// The queues' names, for spans: messaging.destination.name.
	liveQueue, replayQueue string
	metrics                handlerMetrics
}

func newHandler(w batchWriter, log *slog.Logger) *handler {
	return &handler{writer: w, log: log, tracer: otel.Tracer("github.com/graphfleet/graphfleet/worker"), open: openSnapshots{n: -1}, metrics: newHandlerMetrics()}
}

// handle is the live queue's consume.Handler. A message marked replay=true
// (a snapshot sent for reprocessing) is handled as a replayed one wherever
// it comes from.
func (h *handler) handle(ctx context.Context, m *consume.Message) error {
	return h.handleAs(ctx, m, h.liveQueue, m.Attributes[edgebatch.AttrReplay] == "true")
}

// handleAs is the path of one message, under a process span (OTel's
// messaging conventions). A message is processed on its own, so its span is
// the child of the producer's span (whose context the message carries in
// traceparent, or in AWSTraceHeader when another sender set only that): the
// conventions advise links for spans covering a batch of messages, and
// allow the parent for one. A replayed message starts a trace of its own
// and links to the original one instead: its processing may come days
// later, and would otherwise stretch that trace over days. A replayed
// message's Neptune requests also wait behind live ones.
func (h *handler) handleAs(ctx context.Context, m *consume.Message, queue string, replay bool) (err error) {
	if replay {
		ctx = neptune.WithPriority(ctx, neptune.PriorityReplay)
	}
	producer := m.SpanContext()
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "aws_sqs"),
			attribute.String("messaging.operation.type", "process"),
			attribute.String("messaging.operation.name", "process"),
			attribute.String("messaging.destination.name", queue),
			attribute.String("messaging.message.id", m.ID),
			attribute.Int("messaging.message.body.size", len(m.Body)),
			attribute.Int("graphfleet.receive_count", m.ReceiveCount),
			attribute.Bool("graphfleet.replay", replay),
		)}
	if replay && producer.IsValid() {
		opts = append(opts, trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: producer,
			Attributes: []attribute.KeyValue{attribute.String("graphfleet.link", "original")}}))
	} else if producer.IsValid() {
		ctx = trace.ContextWithRemoteSpanContext(ctx, producer)
	}
	ctx, span := h.tracer.Start(ctx, "process "+queue, opts...)
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()

	b, err := edgebatch.Decode(m.Body, m.Attributes)
	if err != nil {
		return &consume.PermanentError{Reason: edgebatch.Reason(err), Err: err}
	}
	span.SetAttributes(
		attribute.String("graphfleet.source", b.Source),
		attribute.Int("graphfleet.vertices", len(b.Vertices)),
		attribute.Int("graphfleet.edges", len(b.Edges)),
	)
	// A batch older than its scope's newest complete snapshot is dropped
	// whole: that snapshot's sweep may have removed what it would bring
	// back. It is deleted from the queue like a written one.
	superseded, err := h.writer.Superseded(ctx, b)
	if err != nil {
		return whoseFault(err)
	}
	if superseded {
		h.stats.Superseded.Add(1)
		h.metrics.batch(ctx, "superseded", b.Source)
		span.SetAttributes(attribute.Bool("graphfleet.superseded", true))
		h.log.InfoContext(ctx, "batch older than the newest complete snapshot of its scope; skipped", "message_id", m.ID,
			"snapshot", snapshotID(b), "observed_at", b.ObservedAt)
		return nil
	}
	if b.Seal == nil {
		res, err := h.writer.Write(ctx, b)
		span.SetAttributes(
			attribute.Int("graphfleet.neptune.requests", res.Requests),
			attribute.Int("graphfleet.neptune.attempts", res.Attempts),
			attribute.Int("graphfleet.records", res.Records),
			attribute.Int("graphfleet.stale_vertices", res.StaleVertices),
			attribute.Int("graphfleet.stale_edges", res.StaleEdges),
		)
		if err != nil {
			return whoseFault(err)
		}
		h.metrics.batch(ctx, "written", b.Source)
		h.metrics.lag.Record(ctx, time.Since(b.ObservedAt).Seconds(), metric.WithAttributes(attribute.String("graphfleet.source", b.Source)))
		h.metrics.stale.Add(ctx, int64(res.StaleVertices), metric.WithAttributes(attribute.String("graphfleet.kind", "vertex")))
		h.metrics.stale.Add(ctx, int64(res.StaleEdges), metric.WithAttributes(attribute.String("graphfleet.kind", "edge")))
		h.stats.StaleVertices.Add(int64(res.StaleVertices))
		h.stats.StaleEdges.Add(int64(res.StaleEdges))
		if res.StaleVertices+res.StaleEdges > 0 {
			// Not an error: a late or replayed batch; newer observations win.
			h.log.InfoContext(ctx, "batch older than what the graph holds; its elements left as they are", "message_id", m.ID,
				"snapshot", snapshotID(b), "observed_at", b.ObservedAt, "stale_vertices", res.StaleVertices, "stale_edges", res.StaleEdges)
		}
		h.log.DebugContext(ctx, "batch written", "message_id", m.ID, "vertices", res.Vertices, "edges", res.Edges, "requests", res.Requests)
	}
	if b.Snapshot == nil {
		return nil
	}
	// Record the batch (or the seal) in Neptune, then sweep if that made
	// the snapshot complete: whichever worker completes it sweeps, and a
	// failure here leaves the message to come back and try again.
	if err := h.writer.Record(ctx, b); err != nil {
		return whoseFault(err)
	}
	if b.Seal != nil {
		h.stats.Sealed.Add(1)
		h.metrics.batch(ctx, "sealed", b.Source)
		h.log.InfoContext(ctx, "snapshot sealed", "snapshot", b.Snapshot.ID, "batches", b.Seal.Batches)
	}
	// The sweep (when this batch completed its snapshot) has its own span:
	// its requests are its children, its counts its attributes.
	sctx, sweep := h.tracer.Start(ctx, "graphfleet.settle", trace.WithAttributes(
		attribute.String("graphfleet.snapshot", b.Snapshot.ID), attribute.String("graphfleet.scope", b.Snapshot.Scope)))
	swept, sr, err := h.writer.Settle(sctx, b, m.ID)
	sweep.SetAttributes(attribute.Bool("graphfleet.swept", swept), attribute.Bool("graphfleet.superseded", sr.Superseded),
		attribute.Int("graphfleet.deactivated", sr.Deactivated), attribute.Int("graphfleet.removed", sr.Removed))
	if err != nil {
		sweep.RecordError(err)
		sweep.SetStatus(codes.Error, err.Error())
	}
	sweep.End()
	if err != nil {
		return whoseFault(err)
	}
	if swept {
		h.stats.Swept.Add(1)
		if sr.Superseded {
			h.stats.SweptStale.Add(1)
		}
		h.metrics.sweeps.Add(ctx, 1, metric.WithAttributes(attribute.String("graphfleet.source", b.Source), attribute.Bool("graphfleet.superseded", sr.Superseded)))
		h.metrics.swept.Add(ctx, int64(sr.Deactivated), metric.WithAttributes(attribute.String("graphfleet.source", b.Source), attribute.String("graphfleet.action", "deactivated")))
		h.metrics.swept.Add(ctx, int64(sr.Removed), metric.WithAttributes(attribute.String("graphfleet.source", b.Source), attribute.String("graphfleet.action", "removed")))
		h.stats.Deactivated.Add(int64(sr.Deactivated))
		h.stats.Removed.Add(int64(sr.Removed))
		h.log.InfoContext(ctx, "snapshot complete and swept", "snapshot", b.Snapshot.ID, "scope", b.Snapshot.Scope,
			"superseded", sr.Superseded, "deactivated", sr.Deactivated, "removed", sr.Removed, "requests", sr.Requests)
	}
	return nil
}

func snapshotID(b *edgebatch.Batch) string {
	if b.Snapshot == nil {
		return ""
	}
	return b.Snapshot.ID
}

// whoseFault turns a failed write into the outcome the consumer acts on. Only
// content Neptune refuses (a closed list of its error codes) is the message's
// fault and may spend its receives; everything else, unknown errors included,
// is Neptune's problem: the message is kept and intake stops until Neptune
// answers again, so an outage of any length sends nothing to the DLQ.
func whoseFault(err error) error {
	switch neptune.Classify(err) {
	case neptune.FaultContent:
		return &consume.ContentError{Reason: "neptune refused the batch: " + err.Error(), Err: err}
	case neptune.FaultAccess:
		return &consume.SinkError{Denied: true, Err: err}
	default:
		return &consume.SinkError{Err: err}
	}
}
