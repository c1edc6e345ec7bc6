package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	coltrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/sqssend"
	"github.com/graphfleet/graphfleet/shared/telemetry"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// otlpSink is an OTLP/HTTP trace receiver: it keeps every span it is sent.
type otlpSink struct {
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (s *otlpSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	if r.URL.Path != "/v1/traces" {
		w.WriteHeader(http.StatusOK) // metrics: not looked at here
		return
	}
	var req coltrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(body, &req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			s.spans = append(s.spans, ss.Spans...)
		}
	}
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-protobuf")
	out, _ := proto.Marshal(&coltrace.ExportTraceServiceResponse{})
	_, _ = w.Write(out)
}

func (s *otlpSink) inTrace(traceID string) []*tracepb.Span {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*tracepb.Span
	for _, sp := range s.spans {
		if hex.EncodeToString(sp.TraceId) == traceID {
			out = append(out, sp)
		}
	}
	return out
}

func spanAttr(sp *tracepb.Span, key string) (string, bool) {
	for _, kv := range sp.Attributes {
		if kv.Key != key {
			continue
		}
		switch v := kv.Value.Value.(type) {
		case *commonpb.AnyValue_StringValue:
			return v.StringValue, true
		case *commonpb.AnyValue_IntValue:
			return strconv.FormatInt(v.IntValue, 10), true
		case *commonpb.AnyValue_BoolValue:
			return strconv.FormatBool(v.BoolValue), true
		}
		return kv.Value.String(), true
	}
	return "", false
}

// xrayDaemon is a UDP socket standing in for the X-Ray daemon.
type xrayDaemon struct {
	conn *net.UDPConn
	mu   sync.Mutex
	docs []map[string]any
}

func startXRayDaemon(t *testing.T) *xrayDaemon {
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	d := &xrayDaemon{conn: conn}
	t.Cleanup(func() { _ = conn.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			header, doc, ok := strings.Cut(string(buf[:n]), "\n")
			var h, m map[string]any
			if !ok || json.Unmarshal([]byte(header), &h) != nil || h["format"] != "json" || json.Unmarshal([]byte(doc), &m) != nil {
				t.Errorf("not an X-Ray daemon datagram: %q", buf[:n])
				continue
			}
			d.mu.Lock()
			d.docs = append(d.docs, m)
			d.mu.Unlock()
		}
	}()
	return d
}

func (d *xrayDaemon) inTrace(xrayID string) []map[string]any {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []map[string]any
	for _, m := range d.docs {
		if m["trace_id"] == xrayID {
			out = append(out, m)
		}
	}
	return out
}

// TestTelemetry sends one batch through the SQS emulator and a worker
// process into the stand-in, and follows it: one trace from the producer's
// send through the worker's processing to every Neptune request, exported
// over OTLP and to an X-Ray daemon at once, and the worker's /metrics
// counting what happened.
func TestTelemetry(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{})
	sink := &otlpSink{}
	collector := httptest.NewServer(sink)
	t.Cleanup(collector.Close)
	daemon := startXRayDaemon(t)
	w := startWorker(t, st, "OTEL_TRACES_EXPORTER=otlp,xray", "OTEL_EXPORTER_OTLP_ENDPOINT="+collector.URL,
		"OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf", "OTEL_METRICS_EXPORTER=none", "OTEL_BSP_SCHEDULE_DELAY=50",
		"AWS_XRAY_DAEMON_ADDRESS="+daemon.conn.LocalAddr().String(), "NEPTUNE_RECORDS_PER_REQUEST=40", "LOG_LEVEL=debug")
	health := "http://" + w.healthAddr(t)

	// The producer's side, in this process: its spans in memory.
	producerSpans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(producerSpans))
	batch := topology(12, 2, time.Now())
	ctx, root := tp.Tracer("test").Start(context.Background(), "discover test")
	if _, err := sqssend.New(st.Client, st.Queues.Ingest, sqssend.WithTracerProvider(tp)).SendBatches(ctx, []*edgebatch.Batch{batch}); err != nil {
		t.Fatal(err)
	}
	root.End()
	traceID := root.SpanContext().TraceID().String()
	var send sdktrace.ReadOnlySpan
	for _, s := range producerSpans.GetSpans().Snapshots() {
		if strings.HasPrefix(s.Name(), "send ") {
			send = s
		}
	}
	if send == nil || send.SpanContext().TraceID().String() != traceID {
		t.Fatalf("no send span in the producer's trace: %v", producerSpans.GetSpans())
	}
	graphHas(t, st, len(batch.Vertices), len(batch.Edges), time.Minute)
	wantRequests := neptune.RequestsFor(batch, 40)

	// OTLP: the process span is the child of the send span; each Neptune
	// request is a child of the process span, with its attributes.
	var process *tracepb.Span
	var requests []*tracepb.Span
	eventually(t, time.Minute, "the worker's spans exported over OTLP", func() (bool, string) {
		process, requests = nil, nil
		for _, sp := range sink.inTrace(traceID) {
			switch {
			case strings.HasPrefix(sp.Name, "process "):
				process = sp
			case sp.Name == "neptune.upsert":
				requests = append(requests, sp)
			}
		}
		return process != nil && len(requests) == wantRequests, fmt.Sprintf("process span %v, %d of %d requests", process != nil, len(requests), wantRequests)
	})
	if hex.EncodeToString(process.ParentSpanId) != send.SpanContext().SpanID().String() {
		t.Fatalf("process span's parent %x, want the send span %s", process.ParentSpanId, send.SpanContext().SpanID())
	}
	if process.Kind != tracepb.Span_SPAN_KIND_CONSUMER {
		t.Errorf("process span kind %v", process.Kind)
	}
	vertices, edges := 0, 0
	for _, r := range requests {
		if hex.EncodeToString(r.ParentSpanId) != hex.EncodeToString(process.SpanId) {
			t.Errorf("request %x is not a child of the process span", r.SpanId)
		}
		if v, _ := spanAttr(r, "db.system.name"); v != "aws.neptune" {
			t.Errorf("request db.system.name %q", v)
		}
		for _, k := range []string{"graphfleet.records", "graphfleet.attempt", "graphfleet.outcome"} {
			if _, ok := spanAttr(r, k); !ok {
				t.Errorf("request without %s", k)
			}
		}
		v, _ := spanAttr(r, "graphfleet.vertices")
		e, _ := spanAttr(r, "graphfleet.edges")
		nv, _ := strconv.Atoi(v)
		ne, _ := strconv.Atoi(e)
		vertices += nv
		edges += ne
	}
	if vertices != len(batch.Vertices) || edges != len(batch.Edges) {
		t.Errorf("requests' spans count %d vertices and %d edges; the batch has %d and %d", vertices, edges, len(batch.Vertices), len(batch.Edges))
	}

	// The log line about the message carries its trace.
	eventually(t, time.Minute, "the worker logs the write with the trace's ids", func() (bool, string) {
		for _, line := range strings.Split(w.out.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == "batch written" {
				return rec["trace_id"] == traceID && rec["span_id"] == hex.EncodeToString(process.SpanId) &&
					rec["xray_trace_id"] == telemetry.XRayTraceID(root.SpanContext().TraceID()), line
			}
		}
		return false, "no \"batch written\" line"
	})

	// X-Ray: the same trace, in X-Ray's id form; the worker's segment
	// continues the producer's send span, the requests are its subsegments.
	xrayID := telemetry.XRayTraceID(root.SpanContext().TraceID())
	eventually(t, time.Minute, "the worker's segments at the X-Ray daemon", func() (bool, string) {
		var seg map[string]any
		subs := 0
		for _, d := range daemon.inTrace(xrayID) {
			switch {
			case d["type"] == "subsegment" && d["name"] == "neptune.upsert" && d["parent_id"] == hex.EncodeToString(process.SpanId):
				subs++
			case d["type"] == nil && d["id"] == hex.EncodeToString(process.SpanId):
				seg = d
			}
		}
		if seg != nil && seg["parent_id"] != send.SpanContext().SpanID().String() {
			t.Fatalf("segment's parent_id %v, want the send span %s", seg["parent_id"], send.SpanContext().SpanID())
		}
		return seg != nil && subs == wantRequests, fmt.Sprintf("segment %v, %d of %d subsegments", seg != nil, subs, wantRequests)
	})

	// /metrics: what an operator's dashboard reads.
	want := map[string]float64{
		`messaging_client_consumed_messages_total{`:                                   1,
		`graphfleet_worker_batches_total{graphfleet_outcome="written"`:                1,
		`graphfleet_consumer_messages_total{graphfleet_outcome="deleted"`:             1,
		`graphfleet_neptune_elements_total{graphfleet_kind="vertex"`:                  float64(len(batch.Vertices)),
		`graphfleet_neptune_elements_total{graphfleet_kind="edge"`:                    float64(len(batch.Edges)),
		`db_client_operation_duration_seconds_count{db_operation_name="upsert"`:       float64(wantRequests),
		`graphfleet_lag_observed_seconds_count{`:                                      1,
		`graphfleet_lag_queue_seconds_count{`:                                         1,
		`messaging_process_duration_seconds_count{`:                                   1,
		`graphfleet_neptune_writer_limit{`:                                            -1, // present
		`graphfleet_queue_depth{graphfleet_queue="ingest",graphfleet_state="visible"`: 0,
	}
	eventually(t, time.Minute, "/metrics counts the batch", func() (bool, string) {
		_, body := get(t, health+"/metrics")
		lastMetrics = body
		for prefix, n := range want {
			got, ok := metricValue(body, prefix)
			if !ok || (n >= 0 && got != n) {
				return false, fmt.Sprintf("%s...: %v (found %v), want %v\n%s", prefix, got, ok, n, tail(lastMetrics, 6000))
			}
		}
		return true, ""
	})
}

var lastMetrics string

// metricValue sums the samples in a Prometheus text exposition whose line
// starts with prefix (a name and the first labels, in their sorted order).
func metricValue(body, prefix string) (float64, bool) {
	re := regexp.MustCompile(`\s([0-9.eE+-]+)$`)
	sum, found := 0.0, false
	for _, line := range strings.Split(body, "\n") {
		// A series without attributes has no braces: "name value".
		bare := strings.HasSuffix(prefix, "{") && strings.HasPrefix(line, strings.TrimSuffix(prefix, "{")+" ")
		if !strings.HasPrefix(line, prefix) && !bare {
			continue
		}
		m := re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		v, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			continue
		}
		sum, found = sum+v, true
	}
	return sum, found
}
