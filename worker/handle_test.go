package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/graphfleet/graphfleet/shared/consume"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// recordingWriter stands in for Neptune where only the handler's decisions
// are under test; the real writer is tested against the stand-in.
type recordingWriter struct {
	batches []*edgebatch.Batch
}

func (w *recordingWriter) Write(_ context.Context, b *edgebatch.Batch) (neptune.Result, error) {
	w.batches = append(w.batches, b)
	return neptune.Result{Requests: 1}, nil
}

func (w *recordingWriter) Superseded(context.Context, *edgebatch.Batch) (bool, error) {
	return false, nil
}
func (w *recordingWriter) Record(context.Context, *edgebatch.Batch) error { return nil }
func (w *recordingWriter) OpenSnapshots(context.Context) (int, error)     { return 0, nil }
func (w *recordingWriter) Settle(context.Context, *edgebatch.Batch, string) (bool, neptune.SweepResult, error) {
	return false, neptune.SweepResult{}, nil
}

func newTestHandler() (*handler, *recordingWriter, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	w := &recordingWriter{}
	h := newHandler(w, slog.New(slog.NewTextHandler(io.Discard, nil)))
	h.liveQueue, h.replayQueue = "graphfleet-ingest", "graphfleet-replay"
	h.tracer = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec)).Tracer("test")
	return h, w, rec
}

func TestHandler(t *testing.T) {
	t.Parallel()
	valid, err := edgebatch.Encode(topology(3, 1, time.Now()))
	if err != nil {
		t.Fatal(err)
	}

	t.Run("a valid message is written under a span that continues the producer's trace", func(t *testing.T) {
		h, w, rec := newTestHandler()
		const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		attrs := map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}
		for k, v := range valid.Attributes {
			attrs[k] = v
		}
		if err := h.handle(context.Background(), &consume.Message{ID: "m1", Body: valid.Body, Attributes: attrs}); err != nil {
			t.Fatal(err)
		}
		if len(w.batches) != 1 || len(w.batches[0].Edges) != 3 {
			t.Fatalf("writer got %d batches", len(w.batches))
		}
		spans := rec.Ended()
		if len(spans) != 1 || spans[0].Name() != "process graphfleet-ingest" {
			t.Fatalf("spans %v", spans)
		}
		if got := spans[0].SpanContext().TraceID().String(); got != traceID {
			t.Fatalf("span in trace %s, want the producer's %s", got, traceID)
		}
		if spans[0].Parent().SpanID().String() != "00f067aa0ba902b7" {
			t.Fatalf("span's parent is %s, want the producer's span", spans[0].Parent().SpanID())
		}
	})

	t.Run("a message with only an AWSTraceHeader continues that trace", func(t *testing.T) {
		h, _, rec := newTestHandler()
		m := &consume.Message{ID: "m1", Body: valid.Body, Attributes: valid.Attributes,
			AWSTraceHeader: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"}
		if err := h.handle(context.Background(), m); err != nil {
			t.Fatal(err)
		}
		sp := rec.Ended()[0]
		if sp.SpanContext().TraceID().String() != "5759e988bd862e3fe1be46a994272793" || sp.Parent().SpanID().String() != "53995c3f42cd8ad8" {
			t.Fatalf("span %s parent %s; want the X-Ray header's trace and parent", sp.SpanContext().TraceID(), sp.Parent().SpanID())
		}
	})

	t.Run("a replayed message starts its own trace, linked to the original", func(t *testing.T) {
		h, _, rec := newTestHandler()
		const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		attrs := map[string]string{"traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"}
		for k, v := range valid.Attributes {
			attrs[k] = v
		}
		if err := h.handleReplay(context.Background(), &consume.Message{ID: "m1", Body: valid.Body, Attributes: attrs}); err != nil {
			t.Fatal(err)
		}
		sp := rec.Ended()[0]
		if sp.Name() != "process graphfleet-replay" || sp.SpanContext().TraceID().String() == traceID || sp.Parent().IsValid() {
			t.Fatalf("span %q in trace %s with parent %v; want a new root", sp.Name(), sp.SpanContext().TraceID(), sp.Parent().SpanID())
		}
		if l := sp.Links(); len(l) != 1 || l[0].SpanContext.TraceID().String() != traceID || l[0].SpanContext.SpanID().String() != "00f067aa0ba902b7" {
			t.Fatalf("links %v; want one to the original producer span", l)
		}
	})

	t.Run("a malformed message is a permanent failure with the validator's reason and is not written", func(t *testing.T) {
		h, w, _ := newTestHandler()
		body := `{"v":1,"source":"deepflow","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"svc:a","label":"Service","props":{"source":"x"}}]}`
		err := h.handle(context.Background(), &consume.Message{ID: "m2", Body: body, Attributes: map[string]string{}})
		var perm *consume.PermanentError
		if !errors.As(err, &perm) || perm.Reason == "" {
			t.Fatalf("err = %v, want a PermanentError with a reason", err)
		}
		if len(w.batches) != 0 {
			t.Fatal("a malformed batch reached the writer")
		}
		t.Logf("reason: %s", perm.Reason)
	})

	t.Run("a seal is acknowledged without writing", func(t *testing.T) {
		h, w, _ := newTestHandler()
		seal := &edgebatch.Batch{V: 1, Source: "deepflow", ObservedAt: time.Now(),
			Snapshot: &edgebatch.Snapshot{ID: "deepflow/x/1", Scope: "deepflow/x", Seq: 2}, Seal: &edgebatch.Seal{Batches: 2}}
		m, err := edgebatch.Encode(seal)
		if err != nil {
			t.Fatal(err)
		}
		if err := h.handle(context.Background(), &consume.Message{ID: "m3", Body: m.Body, Attributes: m.Attributes}); err != nil {
			t.Fatal(err)
		}
		if len(w.batches) != 0 {
			t.Fatal("a seal was written as data")
		}
	})
}

// Whose fault a failed write or probe is decides what the consumer does; a
// probe's 403 must read as access denied, or a task with the wrong role sits
// quietly "unavailable" instead of alarming.
func TestWhoseFault(t *testing.T) {
	t.Parallel()
	denied := &neptune.ConnectError{Endpoint: "wss://db:8182/gremlin", Status: 403, Code: "AccessDeniedException", Err: errors.New("bad handshake")}
	refused := &neptune.ConnectError{Endpoint: "wss://db:8182/gremlin", Err: errors.New("dial tcp: connection refused")}
	var sink *consume.SinkError
	if err := whoseFault(denied); !errors.As(err, &sink) || !sink.Denied {
		t.Fatalf("a 403 handshake gives %#v; want a denied SinkError", err)
	}
	if err := whoseFault(refused); !errors.As(err, &sink) || sink.Denied {
		t.Fatalf("connection refused gives %#v; want a SinkError, not denied", err)
	}
	var content *consume.ContentError
	if err := whoseFault(errors.New(`neptune request: E0502: error in read loop: {"code":"MalformedQueryException","detailedMessage":"bad"}`)); !errors.As(err, &content) {
		t.Fatalf("a MalformedQueryException gives %#v; want a ContentError", err)
	}
}
