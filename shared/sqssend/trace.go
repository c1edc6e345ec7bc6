package sqssend

import (
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
