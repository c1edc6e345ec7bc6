package main

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/consume"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// batchWriter is the Neptune side as the handler needs it.
type batchWriter interface {
	Write(ctx context.Context, b *edgebatch.Batch) (neptune.Result, error)
}

// handler is the path of one message: decode (the one codec, the one
// validator), write (the Neptune writer), and an outcome the consumer turns
// into a delete, a retry or the DLQ.
type handler struct {
	writer batchWriter
	log    *slog.Logger
	tracer trace.Tracer
}

func newHandler(w batchWriter, log *slog.Logger) *handler {
	return &handler{writer: w, log: log, tracer: otel.Tracer("github.com/graphfleet/graphfleet/worker")}
}

// handle is a consume.Handler. Its span is the child of the producer's span,
// whose context travels in the message's traceparent attribute.
func (h *handler) handle(ctx context.Context, m *consume.Message) (err error) {
	ctx = propagation.TraceContext{}.Extract(ctx, propagation.MapCarrier(m.Attributes))
	ctx, span := h.tracer.Start(ctx, "graphfleet.process", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			attribute.String("messaging.system", "aws_sqs"),
			attribute.String("messaging.message.id", m.ID),
			attribute.Int("graphfleet.receive_count", m.ReceiveCount),
		))
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
	if b.Seal != nil {
		// A seal closes a snapshot; the stale-data sweep it triggers belongs
		// to the sweeper. Nothing is written for it here.
		h.log.InfoContext(ctx, "snapshot sealed", "snapshot", b.Snapshot.ID, "batches", b.Seal.Batches)
		return nil
	}
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
	if res.StaleVertices+res.StaleEdges > 0 {
		// Not an error: a late or replayed batch; newer observations win.
		h.log.InfoContext(ctx, "batch older than what the graph holds; its elements left as they are", "message_id", m.ID,
			"snapshot", snapshotID(b), "observed_at", b.ObservedAt, "stale_vertices", res.StaleVertices, "stale_edges", res.StaleEdges)
	}
	h.log.DebugContext(ctx, "batch written", "message_id", m.ID, "vertices", res.Vertices, "edges", res.Edges, "requests", res.Requests)
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
