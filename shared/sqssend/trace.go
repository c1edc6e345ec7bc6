package sqssend

import (
	"context"
	"math/rand/v2"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// xrayHeader renders a span context as the X-Ray trace header SQS carries in
// the AWSTraceHeader system attribute: Root=1-<8 hex>-<24 hex>;Parent=<16
// hex>;Sampled=0|1. An OpenTelemetry trace id maps onto an X-Ray one by
// splitting its 32 hex digits 8/24; with the X-Ray id generator (telemetry
// setup) the first 8 are the epoch seconds X-Ray expects, so the same trace
// shows in X-Ray and in any OTLP backend.
func xrayHeader(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	tid := sc.TraceID().String()
	sampled := "0"
	if sc.IsSampled() {
		sampled = "1"
	}
	return "Root=1-" + tid[:8] + "-" + tid[8:] + ";Parent=" + sc.SpanID().String() + ";Sampled=" + sampled
}

// jitter draws uniformly from [d/2, d): retries of entries that failed
// together do not all come back at once.
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
