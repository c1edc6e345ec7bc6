// Package xrayexport sends OpenTelemetry spans to AWS X-Ray without a
// collector: each span becomes an X-Ray segment document built on the X-Ray
// SDK's model (github.com/aws/aws-xray-sdk-go/v2) and goes to the X-Ray
// daemon over UDP through the SDK's emitter. The services instrument once,
// with OpenTelemetry; this exporter and OTLP are two ways out.
//
// The mapping follows what AWS's own conversion (the collector's awsxray
// exporter) does:
//   - a span without a parent, or whose parent is remote (another process's
//     span, e.g. the producer's send span a message carried), is a segment
//     named after the service, its parent_id the remote span's id;
//   - a span with a local parent is a subsegment document sent on its own
//     ("type":"subsegment", trace_id, parent_id): spans are exported as they
//     end, children first, and the daemon accepts subsegments separately;
//   - CLIENT and PRODUCER spans are in the "remote" namespace; a span with
//     db.system.name also gets an sql block (database_type);
//   - status Error is a fault, with the recorded exceptions as its cause;
//     an HTTP 4xx is an error, 429 a throttle;
//   - scalar attributes become annotations (searchable; keys reduced to
//     X-Ray's [A-Za-z0-9_]), everything else metadata; links (a replayed
//     message's link to its original trace) go in metadata under "links".
package xrayexport

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/aws/aws-xray-sdk-go/v2/daemoncfg"
	"github.com/aws/aws-xray-sdk-go/v2/strategy/exception"
	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"github.com/aws/aws-xray-sdk-go/v2/xraylog"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

const (
	// maxDocument is what one UDP datagram to the daemon may carry (64 KB)
	// less the header line.
	maxDocument = 64*1024 - 64
	// maxName is X-Ray's limit on segment names.
	maxName = 200
	// maxAnnotation is the longest string kept as an annotation; longer
	// ones go to metadata (X-Ray indexes annotations, up to 1,000 chars).
	maxAnnotation = 250
	// maxAnnotations is X-Ray's cap on annotations per trace document.
	maxAnnotations = 50
)

// Exporter is an sdktrace.SpanExporter to the X-Ray daemon.
type Exporter struct {
	emitter *xray.DefaultEmitter
	mu      sync.Mutex
	closed  bool
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// New returns an exporter sending to the daemon at addr, in
// AWS_XRAY_DAEMON_ADDRESS's form ("host:port" or "udp:host:port
// tcp:host:port"); "" means $AWS_XRAY_DAEMON_ADDRESS, else 127.0.0.1:2000.
// (The SDK gives the variable precedence over addr when both are set.)
func New(addr string) (*Exporter, error) {
	// The SDK logs to stdout at Info by default; its few useful lines are
	// warnings, and stdout is not where our logs go.
	xray.SetLogger(sdkLogger{})
	ep, err := daemoncfg.GetDaemonEndpointsFromString(addr)
	if err != nil {
		return nil, fmt.Errorf("X-Ray daemon address %q: %w", addr, err)
	}
	if ep == nil {
		ep = daemoncfg.GetDefaultDaemonEndpoints()
	}
	em, err := xray.NewDefaultEmitter(ep.UDPAddr)
	if err != nil {
		return nil, fmt.Errorf("X-Ray daemon at %s: %w", ep.UDPAddr, err)
	}
	return &Exporter{emitter: em}, nil
}

// ExportSpans sends each sampled span as one document.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return errors.New("xrayexport: exporter shut down")
	}
	var errs []error
	for _, s := range spans {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !s.SpanContext().IsSampled() {
			continue
		}
		seg := Segment(s)
		if err := fit(seg); err != nil {
			errs = append(errs, err)
			continue
		}
		seg.Lock() // Emit expects the caller to hold the segment's lock
		e.emitter.Emit(seg)
		seg.Unlock()
	}
	return errors.Join(errs...)
}

// Shutdown stops the exporter; later exports fail.
func (e *Exporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	return nil
}

// Segment turns one span into an X-Ray document: a segment, or a
// subsegment to be sent on its own.
func Segment(s sdktrace.ReadOnlySpan) *xray.Segment {
	sc := s.SpanContext()
	tid := sc.TraceID().String()
	seg := &xray.Segment{
		TraceID:   "1-" + tid[:8] + "-" + tid[8:],
		ID:        sc.SpanID().String(),
		StartTime: seconds(s.StartTime().UnixNano()),
		EndTime:   seconds(s.EndTime().UnixNano()),
		Sampled:   true,
	}
	seg.ParentSegment = seg // the emitter reads Sampled there
	parent := s.Parent()
	if parent.IsValid() && !parent.IsRemote() {
		seg.Type = "subsegment"
		seg.Name = name(s.Name())
	} else {
		seg.Name = name(serviceName(s))
	}
	if parent.IsValid() {
		seg.ParentID = parent.SpanID().String()
	}
	if k := s.SpanKind(); k == trace.SpanKindClient || k == trace.SpanKindProducer {
		seg.Namespace = "remote"
	}

	ann := map[string]any{}
	meta := map[string]any{}
	if seg.Type != "subsegment" {
		// A segment is named after the service; the operation is kept.
		ann["span_name"] = s.Name()
	}
	for _, kv := range s.Attributes() {
		switch kv.Key {
		case "db.system.name", "db.system":
			seg.SQL = &xray.SQLData{DatabaseType: kv.Value.Emit()}
		case "http.response.status_code":
			switch code := kv.Value.AsInt64(); {
			case code == 429:
				seg.Throttle, seg.Error = true, true
			case code >= 400 && code < 500:
				seg.Error = true
			}
		}
		if v, ok := annotation(kv); ok && len(ann) < maxAnnotations {
			ann[annotationKey(string(kv.Key))] = v
		} else {
			meta[string(kv.Key)] = kv.Value.AsInterface()
		}
	}
	if len(ann) > 0 {
		seg.Annotations = ann
	}
	if links := s.Links(); len(links) > 0 {
		ls := make([]map[string]string, 0, len(links))
		for _, l := range links {
			lt := l.SpanContext.TraceID().String()
			ls = append(ls, map[string]string{"trace_id": "1-" + lt[:8] + "-" + lt[8:], "id": l.SpanContext.SpanID().String()})
		}
		meta["links"] = ls
	}
	if len(meta) > 0 {
		seg.Metadata = map[string]map[string]any{"default": meta}
	}
	if s.Status().Code == codes.Error {
		seg.Fault = true
		seg.Cause = cause(s)
	}
	if seg.Type != "subsegment" {
		if v, ok := s.Resource().Set().Value("service.version"); ok {
			seg.Service = &xray.ServiceData{Version: v.Emit()}
		}
		if v, ok := s.Resource().Set().Value("aws.ecs.task.arn"); ok {
			seg.Origin = "AWS::ECS::Container"
			seg.AWS = map[string]any{"ecs": map[string]any{"task_arn": v.Emit()}}
		}
	}
	return seg
}

// fit makes seg fit one datagram: metadata goes first, then annotations;
// a document that still does not fit is refused, never sent cut.
func fit(seg *xray.Segment) error {
	for _, drop := range []func(){nil, func() { seg.Metadata = nil }, func() { seg.Annotations = nil; seg.Cause = nil }} {
		if drop != nil {
			drop()
		}
		b, err := json.Marshal(seg)
		if err != nil {
			return fmt.Errorf("xrayexport: span %s: %w", seg.ID, err)
		}
		if len(b) <= maxDocument {
			return nil
		}
	}
	return fmt.Errorf("xrayexport: span %s does not fit a datagram even without its attributes", seg.ID)
}

func seconds(ns int64) float64 { return float64(ns) / 1e9 }

func serviceName(s sdktrace.ReadOnlySpan) string {
	if r := s.Resource(); r != nil {
		if v, ok := r.Set().Value("service.name"); ok && v.Emit() != "" {
			return v.Emit()
		}
	}
	return s.Name()
}

// name keeps what X-Ray allows in a segment name (Unicode letters, numbers
// and whitespace, and _ . : / % & # = + \ - @), at most 200 characters.
func name(n string) string {
	var b strings.Builder
	for _, r := range n {
		if b.Len() >= maxName {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == ' ',
			strings.ContainsRune(`_.:/%&#=+\-@`, r):
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "unnamed"
	}
	return b.String()
}

// annotationKey keeps [A-Za-z0-9_]: X-Ray drops annotations with other
// characters in their keys.
func annotationKey(k string) string {
	b := []byte(k)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// annotation is kv's value if X-Ray can index it: a bool, a number, or a
// short string.
func annotation(kv attribute.KeyValue) (any, bool) {
	switch kv.Value.Type() {
	case attribute.BOOL:
		return kv.Value.AsBool(), true
	case attribute.INT64:
		return kv.Value.AsInt64(), true
	case attribute.FLOAT64:
		return kv.Value.AsFloat64(), true
	case attribute.STRING:
		if s := kv.Value.AsString(); len(s) <= maxAnnotation {
			return s, true
		}
	}
	return nil, false
}

// cause lists the exceptions the span recorded, or its status message.
func cause(s sdktrace.ReadOnlySpan) *xray.CauseData {
	var ex []exception.Exception
	for _, ev := range s.Events() {
		if ev.Name != "exception" {
			continue
		}
		var e exception.Exception
		for _, kv := range ev.Attributes {
			switch kv.Key {
			case "exception.type":
				e.Type = kv.Value.Emit()
			case "exception.message":
				e.Message = kv.Value.Emit()
			}
		}
		e.ID = fmt.Sprintf("%016x", len(ex)+1)
		ex = append(ex, e)
	}
	if len(ex) == 0 && s.Status().Description != "" {
		ex = append(ex, exception.Exception{ID: "0000000000000001", Message: s.Status().Description})
	}
	if len(ex) == 0 {
		return nil
	}
	return &xray.CauseData{Exceptions: ex}
}

// sdkLogger passes the SDK's warnings and errors to the process's logger.
type sdkLogger struct{}

func (sdkLogger) Log(l xraylog.LogLevel, msg fmt.Stringer) {
	switch l {
	case xraylog.LogLevelWarn:
		slog.Warn("x-ray sdk: " + msg.String())
	case xraylog.LogLevelError:
		slog.Error("x-ray sdk: " + msg.String())
	}
}
