package telemetry

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The X-Ray trace header, as SQS carries it in the AWSTraceHeader system
// attribute and AWS services in X-Amzn-Trace-Id:
//
//	Root=1-<8 hex: epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0|1
//
// We own this small codec rather than use contrib's propagators/aws: that
// module is deprecated from v1.47.0 on (no code owner; to be removed), and
// the format is a stable, documented one-liner. An OpenTelemetry trace id
// maps onto an X-Ray one by splitting its 32 hex digits 8/24; the id
// generator below makes the first 8 the epoch seconds X-Ray expects, so the
// same trace shows in X-Ray and in any OTLP backend.

// XRayHeaderKey is the HTTP header that carries the X-Ray trace header.
const XRayHeaderKey = "X-Amzn-Trace-Id"

// maxXRayHeader bounds what is parsed: a real header is about 80 bytes.
const maxXRayHeader = 256

// FormatXRay renders sc as an X-Ray trace header; "" for an invalid one.
func FormatXRay(sc trace.SpanContext) string {
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

// XRayTraceID is the trace id of sc in X-Ray's form, 1-xxxxxxxx-yyyy...
func XRayTraceID(id trace.TraceID) string {
	s := id.String()
	return "1-" + s[:8] + "-" + s[8:]
}

var errXRayHeader = errors.New("not an X-Ray trace header")

// ParseXRay reads an X-Ray trace header into a remote span context. A header
// without Parent (a root a load balancer started) has no span to continue:
// it is refused rather than given a made-up parent. Sampled=? (the decision
// left to us) reads as not sampled; the sampler then decides.
func ParseXRay(h string) (trace.SpanContext, error) {
	if len(h) > maxXRayHeader {
		return trace.SpanContext{}, errXRayHeader
	}
	var cfg trace.SpanContextConfig
	var haveRoot, haveParent bool
	for part := range strings.SplitSeq(h, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "Root":
			// 1-8hex-24hex
			if len(v) != 35 || v[0] != '1' || v[1] != '-' || v[10] != '-' {
				return trace.SpanContext{}, errXRayHeader
			}
			b, err := hex.DecodeString(v[2:10] + v[11:])
			if err != nil {
				return trace.SpanContext{}, errXRayHeader
			}
			copy(cfg.TraceID[:], b)
			haveRoot = true
		case "Parent":
			b, err := hex.DecodeString(v)
			if err != nil || len(b) != 8 {
				return trace.SpanContext{}, errXRayHeader
			}
			copy(cfg.SpanID[:], b)
			haveParent = true
		case "Sampled":
			if v == "1" {
				cfg.TraceFlags = trace.FlagsSampled
			}
		}
	}
	cfg.Remote = true
	sc := trace.NewSpanContext(cfg)
	if !haveRoot || !haveParent || !sc.IsValid() {
		return trace.SpanContext{}, errXRayHeader
	}
	return sc, nil
}

// XRayPropagator carries span contexts in X-Amzn-Trace-Id, beside W3C's
// traceparent, so a request from an AWS service or an X-Ray-instrumented
// client joins its trace.
type XRayPropagator struct{}

var _ propagation.TextMapPropagator = XRayPropagator{}

func (XRayPropagator) Inject(ctx context.Context, c propagation.TextMapCarrier) {
	if h := FormatXRay(trace.SpanContextFromContext(ctx)); h != "" {
		c.Set(XRayHeaderKey, h)
	}
}

func (XRayPropagator) Extract(ctx context.Context, c propagation.TextMapCarrier) context.Context {
	sc, err := ParseXRay(c.Get(XRayHeaderKey))
	if err != nil {
		return ctx
	}
	return trace.ContextWithRemoteSpanContext(ctx, sc)
}

func (XRayPropagator) Fields() []string { return []string{XRayHeaderKey} }

// xrayIDs makes trace ids X-Ray accepts: the first 4 bytes the epoch
// seconds, the other 12 random (the ratio sampler reads bytes 8-15, random
// here, so it samples fairly); span ids random.
type xrayIDs struct{ now func() time.Time }

func (g xrayIDs) NewIDs(ctx context.Context) (trace.TraceID, trace.SpanID) {
	var tid trace.TraceID
	binary.BigEndian.PutUint32(tid[:4], uint32(g.now().Unix()))
	_, _ = crand.Read(tid[4:])
	return tid, g.NewSpanID(ctx, tid)
}

func (xrayIDs) NewSpanID(context.Context, trace.TraceID) trace.SpanID {
	var sid trace.SpanID
	for !sid.IsValid() {
		_, _ = crand.Read(sid[:])
	}
	return sid
}
