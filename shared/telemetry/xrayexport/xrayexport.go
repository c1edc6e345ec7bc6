// Package xrayexport sends OpenTelemetry spans to AWS X-Ray without a
// collector: each span becomes an X-Ray segment document and goes to the
// X-Ray daemon over UDP. The services instrument once, with OpenTelemetry;
// this exporter and OTLP are two ways out.
//
// The documents are the X-Ray SDK's segment model
// (github.com/aws/aws-xray-sdk-go/v2/xray.Segment: the same JSON fields; a
// test decodes every document into it) and the exceptions are the SDK's
// (strategy/exception). The SDK's xray package itself is not imported:
// its package initialiser resolves AWS_XRAY_DAEMON_ADDRESS and panics when
// it cannot (a daemon sidecar whose name does not resolve yet would
// crash-loop every task), and it starts centralized sampling we do not use.
// So the address is parsed here without resolving, and the datagram is
// written here: resolution happens when spans are sent, and a failure
// there loses those spans, never the process.
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
//     db.system.name also gets an sql block (database_type), one with HTTP
//     attributes an http block;
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
	"net"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-xray-sdk-go/v2/strategy/exception"
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
	// defaultAddress is the daemon's default UDP address.
	defaultAddress = "127.0.0.1:2000"
	// daemonHeader starts every datagram, as the daemon requires.
	daemonHeader = `{"format": "json", "version": 1}` + "\n"
)

// Document is one X-Ray segment document: the fields of the SDK's
// xray.Segment that a span fills, with the same JSON names.
type Document struct {
	TraceID     string                    `json:"trace_id"`
	ID          string                    `json:"id"`
	Name        string                    `json:"name"`
	StartTime   float64                   `json:"start_time"`
	EndTime     float64                   `json:"end_time"`
	ParentID    string                    `json:"parent_id,omitempty"`
	Type        string                    `json:"type,omitempty"`
	Namespace   string                    `json:"namespace,omitempty"`
	Origin      string                    `json:"origin,omitempty"`
	Fault       bool                      `json:"fault,omitempty"`
	Error       bool                      `json:"error,omitempty"`
	Throttle    bool                      `json:"throttle,omitempty"`
	Cause       *Cause                    `json:"cause,omitempty"`
	HTTP        *HTTP                     `json:"http,omitempty"`
	AWS         map[string]any            `json:"aws,omitempty"`
	Service     *Service                  `json:"service,omitempty"`
	SQL         *SQL                      `json:"sql,omitempty"`
	Annotations map[string]any            `json:"annotations,omitempty"`
	Metadata    map[string]map[string]any `json:"metadata,omitempty"`
}

// Cause is a fault's exceptions.
type Cause struct {
	Exceptions []exception.Exception `json:"exceptions"`
}

// HTTP is the request and response of an HTTP span.
type HTTP struct {
	Request  *HTTPRequest  `json:"request,omitempty"`
	Response *HTTPResponse `json:"response,omitempty"`
}

// HTTPRequest is the method and URL a span served or called.
type HTTPRequest struct {
	Method string `json:"method,omitempty"`
	URL    string `json:"url,omitempty"`
}

// HTTPResponse is the status the span answered or got.
type HTTPResponse struct {
	Status int `json:"status,omitempty"`
}

// Service is the version of the service a segment belongs to.
type Service struct {
	Version string `json:"version,omitempty"`
}

// SQL names the database a subsegment called.
type SQL struct {
	DatabaseType string `json:"database_type,omitempty"`
}

// Exporter is an sdktrace.SpanExporter to the X-Ray daemon.
type Exporter struct {
	addr   string // host:port, resolved when sending
	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

var _ sdktrace.SpanExporter = (*Exporter)(nil)

// New returns an exporter sending to the daemon at addr, in
// AWS_XRAY_DAEMON_ADDRESS's form ("host:port", or "udp:host:port
// tcp:host:port" in either order); "" means $AWS_XRAY_DAEMON_ADDRESS, else
// 127.0.0.1:2000. A malformed address is an error; a host that does not
// resolve is not (yet): the daemon may not be up when the service is.
func New(addr string) (*Exporter, error) {
	if addr == "" {
		addr = os.Getenv("AWS_XRAY_DAEMON_ADDRESS")
	}
	if addr == "" {
		addr = defaultAddress
	}
	udp, err := ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	return &Exporter{addr: udp}, nil
}

// ParseAddress returns the UDP host:port of an AWS_XRAY_DAEMON_ADDRESS
// value, without resolving it.
func ParseAddress(s string) (string, error) {
	fields := strings.Fields(s)
	var udp, tcp string
	switch len(fields) {
	case 1:
		udp, tcp = fields[0], fields[0]
	case 2:
		for _, f := range fields {
			switch {
			case strings.HasPrefix(f, "udp:") && udp == "":
				udp = f[len("udp:"):]
			case strings.HasPrefix(f, "tcp:") && tcp == "":
				tcp = f[len("tcp:"):]
			}
		}
	}
	if udp == "" || tcp == "" {
		return "", fmt.Errorf("X-Ray daemon address %q: want host:port, or udp:host:port tcp:host:port", s)
	}
	for _, hp := range []string{udp, tcp} {
		host, port, err := net.SplitHostPort(hp)
		if err != nil {
			return "", fmt.Errorf("X-Ray daemon address %q: %w", s, err)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			return "", fmt.Errorf("X-Ray daemon address %q: %q is not a host and port", s, hp)
		}
	}
	return udp, nil
}

// ExportSpans sends each sampled span as one datagram. A span that cannot
// be sent is reported, not retried: the daemon is on the same host or
// task, and a lost datagram is what UDP already allows.
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
		b, err := fit(Segment(s))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := e.send(b); err != nil {
			return errors.Join(append(errs, err)...)
		}
	}
	return errors.Join(errs...)
}

// send writes one datagram, dialling first if needed. A failed write drops
// the connection, so the next export resolves the address again (the
// daemon's address may have moved).
func (e *Exporter) send(doc []byte) error {
	if e.conn == nil {
		c, err := net.Dial("udp", e.addr)
		if err != nil {
			return fmt.Errorf("xrayexport: X-Ray daemon at %s: %w", e.addr, err)
		}
		e.conn = c
	}
	if _, err := e.conn.Write(append([]byte(daemonHeader), doc...)); err != nil {
		_ = e.conn.Close()
		e.conn = nil
		return fmt.Errorf("xrayexport: X-Ray daemon at %s: %w", e.addr, err)
	}
	return nil
}

// Shutdown stops the exporter; later exports fail.
func (e *Exporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.closed = true
	if e.conn != nil {
		err := e.conn.Close()
		e.conn = nil
		return err
	}
	return nil
}

// Segment turns one span into an X-Ray document: a segment, or a
// subsegment to be sent on its own.
func Segment(s sdktrace.ReadOnlySpan) *Document {
	sc := s.SpanContext()
	tid := sc.TraceID().String()
	seg := &Document{
		TraceID:   "1-" + tid[:8] + "-" + tid[8:],
		ID:        sc.SpanID().String(),
		StartTime: seconds(s.StartTime().UnixNano()),
		EndTime:   seconds(s.EndTime().UnixNano()),
	}
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
			seg.SQL = &SQL{DatabaseType: kv.Value.Emit()}
		case "http.response.status_code":
			code := kv.Value.AsInt64()
			switch {
			case code == 429:
				seg.Throttle, seg.Error = true, true
			case code >= 400 && code < 500:
				seg.Error = true
			}
			httpBlock(seg).Response = &HTTPResponse{Status: int(code)}
		case "http.request.method":
			req(seg).Method = kv.Value.Emit()
		case "url.full", "url.path":
			if req(seg).URL == "" || kv.Key == "url.full" {
				req(seg).URL = kv.Value.Emit()
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
			seg.Service = &Service{Version: v.Emit()}
		}
		if v, ok := s.Resource().Set().Value("aws.ecs.task.arn"); ok {
			seg.Origin = "AWS::ECS::Container"
			seg.AWS = map[string]any{"ecs": map[string]any{"task_arn": v.Emit()}}
		}
	}
	return seg
}

// fit encodes seg to fit one datagram: metadata goes first, then
// annotations and the cause; a document that still does not fit is
// refused, never sent cut.
func fit(seg *Document) ([]byte, error) {
	for _, drop := range []func(){nil, func() { seg.Metadata = nil }, func() { seg.Annotations = nil; seg.Cause = nil }} {
		if drop != nil {
			drop()
		}
		b, err := json.Marshal(seg)
		if err != nil {
			return nil, fmt.Errorf("xrayexport: span %s: %w", seg.ID, err)
		}
		if len(b) <= maxDocument {
			return b, nil
		}
	}
	return nil, fmt.Errorf("xrayexport: span %s does not fit a datagram even without its attributes", seg.ID)
}

func httpBlock(seg *Document) *HTTP {
	if seg.HTTP == nil {
		seg.HTTP = &HTTP{}
	}
	return seg.HTTP
}

func req(seg *Document) *HTTPRequest {
	h := httpBlock(seg)
	if h.Request == nil {
		h.Request = &HTTPRequest{}
	}
	return h.Request
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
func cause(s sdktrace.ReadOnlySpan) *Cause {
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
	return &Cause{Exceptions: ex}
}
