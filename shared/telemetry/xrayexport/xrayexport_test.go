package xrayexport

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-xray-sdk-go/v2/xray"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// daemon listens like the X-Ray daemon and returns each document it gets.
func daemon(t *testing.T) (addr string, next func() map[string]any) {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn.LocalAddr().String(), func() map[string]any {
		t.Helper()
		buf := make([]byte, 65536)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second)) // only turns a hang into a failure
		n, err := conn.Read(buf)
		if err != nil {
			t.Fatal(err)
		}
		header, doc, _ := strings.Cut(string(buf[:n]), "\n")
		if header != `{"format": "json", "version": 1}` {
			t.Fatalf("header line %q", header)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("document %q: %v", doc, err)
		}
		return m
	}
}

func TestExporter(t *testing.T) {
	addr, next := daemon(t)
	exp, err := New(addr)
	if err != nil {
		t.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "graphfleet-worker"), attribute.String("service.version", "1.2.3"))))
	tracer := tp.Tracer("test")
	remote := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0x57, 0x59, 0xe9, 0x88, 0xbd}, SpanID: trace.SpanID{0x53, 0x99},
		TraceFlags: trace.FlagsSampled, Remote: true})
	ctx, process := tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), remote), "process graphfleet-ingest",
		trace.WithSpanKind(trace.SpanKindConsumer), trace.WithAttributes(attribute.String("messaging.message.id", "m-1")))
	_, ok := tracer.Start(ctx, "neptune.upsert", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(attribute.String("db.system.name", "aws.neptune"), attribute.Int("graphfleet.records", 180),
			attribute.StringSlice("graphfleet.ids", []string{"a", "b"})))
	ok.End()
	_, failed := tracer.Start(ctx, "neptune.upsert", trace.WithSpanKind(trace.SpanKindClient))
	failed.RecordError(errors.New("ThrottlingException: too many requests"))
	failed.SetStatus(codes.Error, "ThrottlingException")
	failed.End()
	process.End()

	const xrayTrace = "1-5759e988-bd0000000000000000000000"
	sub := next()
	if sub["type"] != "subsegment" || sub["trace_id"] != xrayTrace || sub["parent_id"] != process.SpanContext().SpanID().String() ||
		sub["name"] != "neptune.upsert" || sub["namespace"] != "remote" {
		t.Fatalf("first request's subsegment %v", sub)
	}
	ann := sub["annotations"].(map[string]any)
	if ann["db_system_name"] != "aws.neptune" || ann["graphfleet_records"] != float64(180) {
		t.Fatalf("annotations %v: want the attributes with X-Ray's key characters", ann)
	}
	if sql, _ := sub["sql"].(map[string]any); sql["database_type"] != "aws.neptune" {
		t.Fatalf("sql %v", sub["sql"])
	}
	if md := sub["metadata"].(map[string]any)["default"].(map[string]any); md["graphfleet.ids"] == nil {
		t.Fatalf("a list attribute is not in the metadata: %v", md)
	}
	bad := next()
	if bad["fault"] != true || !strings.Contains(mustJSON(bad["cause"]), "ThrottlingException: too many requests") {
		t.Fatalf("the failed request: %v", bad)
	}
	seg := next()
	if seg["type"] != nil || seg["trace_id"] != xrayTrace || seg["parent_id"] != remote.SpanID().String() || seg["name"] != "graphfleet-worker" {
		t.Fatalf("segment %v: want the service's segment continuing the remote span", seg)
	}
	if seg["annotations"].(map[string]any)["span_name"] != "process graphfleet-ingest" || seg["service"].(map[string]any)["version"] != "1.2.3" {
		t.Fatalf("segment %v", seg)
	}

	// An unsampled span sends nothing: the next document is the sampled
	// one after it.
	unsampled := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, Remote: true})
	_, s := tracer.Start(trace.ContextWithRemoteSpanContext(context.Background(), unsampled), "not sampled")
	s.End()
	_, s = tracer.Start(context.Background(), "sampled")
	s.End()
	if got := next(); got["annotations"].(map[string]any)["span_name"] != "sampled" {
		t.Fatalf("after an unsampled span, got %v", got)
	}

	// A span too big for a datagram loses its metadata, not its place.
	_, big := tracer.Start(context.Background(), "big", trace.WithAttributes(attribute.String("huge", strings.Repeat("x", 70_000))))
	big.End()
	if got := next(); got["metadata"] != nil || got["annotations"].(map[string]any)["span_name"] != "big" {
		t.Fatalf("big span sent as %v", got)
	}

	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := exp.ExportSpans(context.Background(), nil); err == nil {
		t.Fatal("export after shutdown accepted")
	}
}

func TestAddressForms(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:2000":                         "127.0.0.1:2000",
		"udp:127.0.0.1:2001 tcp:127.0.0.1:2002":  "127.0.0.1:2001",
		"tcp:127.0.0.1:2002  udp:127.0.0.1:2001": "127.0.0.1:2001",
		"xray-daemon:2000":                       "xray-daemon:2000",
		"[::1]:2000":                             "[::1]:2000",
	} {
		if got, err := ParseAddress(in); err != nil || got != want {
			t.Errorf("ParseAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"udp:127.0.0.1:2001", "127.0.0.1", "127.0.0.1:http", ":2000", "127.0.0.1:70000",
		"udp:a:1 udp:b:2", "a:1 b:2 c:3", "tcp:a:1 udp:"} {
		if _, err := ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q) accepted", bad)
		}
		if _, err := New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

// A daemon whose name does not resolve (yet) is not the service's failure:
// New succeeds, the spans sent meanwhile are reported lost, and the
// exporter goes on.
func TestUnresolvableDaemon(t *testing.T) {
	exp, err := New("no-such-host.invalid:2000")
	if err != nil {
		t.Fatalf("New with a host that does not resolve: %v", err)
	}
	tp := sdktrace.NewTracerProvider()
	_, s := tp.Tracer("test").Start(context.Background(), "lost")
	s.End()
	err = exp.ExportSpans(context.Background(), []sdktrace.ReadOnlySpan{s.(sdktrace.ReadOnlySpan)})
	if err == nil || !strings.Contains(err.Error(), "no-such-host.invalid") {
		t.Fatalf("export to an unresolvable daemon: %v; want an error naming it", err)
	}
}

// Every document decodes into the X-Ray SDK's own segment model with the
// same values: the documents are the SDK's, written without its package
// initialiser (see the package comment).
func TestDocumentsAreTheSDKModel(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "graphfleet-producer"),
		attribute.String("service.version", "1.2.3"), attribute.String("aws.ecs.task.arn", "arn:aws:ecs:eu-west-1:1:task/c/t"))))
	_, srv := tp.Tracer("test").Start(context.Background(), "POST /v1/batches", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", "POST"), attribute.String("url.path", "/v1/batches"),
			attribute.Int("http.response.status_code", 429)))
	srv.SetStatus(codes.Error, "queue too deep")
	srv.End()
	doc := Segment(srv.(sdktrace.ReadOnlySpan))
	b, err := fit(doc)
	if err != nil {
		t.Fatal(err)
	}
	var seg xray.Segment
	if err := json.Unmarshal(b, &seg); err != nil {
		t.Fatalf("%s does not decode into xray.Segment: %v", b, err)
	}
	if seg.TraceID != doc.TraceID || seg.ID != doc.ID || seg.Name != "graphfleet-producer" || seg.StartTime != doc.StartTime ||
		seg.EndTime != doc.EndTime || !seg.Throttle || !seg.Error || !seg.Fault || seg.Origin != "AWS::ECS::Container" {
		t.Fatalf("decoded wrongly from %s", b)
	}
	if seg.HTTP == nil || seg.HTTP.Request.Method != "POST" || seg.HTTP.Request.URL != "/v1/batches" || seg.HTTP.Response.Status != 429 {
		t.Fatalf("http block %+v from %s", seg.HTTP, b)
	}
	if seg.Service == nil || seg.Service.Version != "1.2.3" || seg.Cause == nil || len(seg.Cause.Exceptions) != 1 ||
		seg.Cause.Exceptions[0].Message != "queue too deep" || seg.Annotations["span_name"] != "POST /v1/batches" {
		t.Fatalf("decoded wrongly from %s", b)
	}
}

func TestNames(t *testing.T) {
	if got := name("process graphfleet-ingest"); got != "process graphfleet-ingest" {
		t.Error(got)
	}
	if got := name("a<b>*?"); got != "a_b___" {
		t.Error(got)
	}
	if got := name(""); got != "unnamed" {
		t.Error(got)
	}
	if got := len(name(strings.Repeat("n", 500))); got != maxName {
		t.Error(got)
	}
	if got := annotationKey("db.system.name"); got != "db_system_name" {
		t.Error(got)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
