package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	collogs "go.opentelemetry.io/proto/otlp/collector/logs/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/proto"
)

func TestXRayHeader(t *testing.T) {
	t.Parallel()
	const h = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	sc, err := ParseXRay(h)
	if err != nil {
		t.Fatal(err)
	}
	if sc.TraceID().String() != "5759e988bd862e3fe1be46a994272793" || sc.SpanID().String() != "53995c3f42cd8ad8" || !sc.IsSampled() || !sc.IsRemote() {
		t.Fatalf("parsed %v", sc)
	}
	if got := FormatXRay(sc); got != h {
		t.Fatalf("formatted back as %q", got)
	}
	if XRayTraceID(sc.TraceID()) != "1-5759e988-bd862e3fe1be46a994272793" {
		t.Fatal(XRayTraceID(sc.TraceID()))
	}
	// What AWS services also send: other keys, Sampled=?, another order.
	sc, err = ParseXRay("Self=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?;Lineage=a87bd80c:1")
	if err != nil || sc.IsSampled() || sc.TraceID().String() != "5759e988bd862e3fe1be46a994272793" {
		t.Fatalf("%v %v", sc, err)
	}
	for _, bad := range []string{
		"",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1", // no parent: nothing to continue
		"Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8",
		"Root=1-5759e988-bd862e3fe1be46a99427279z;Parent=53995c3f42cd8ad8",
		"Root=1-00000000-000000000000000000000000;Parent=53995c3f42cd8ad8",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8a",
		"Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;" + strings.Repeat("x=y;", 100),
	} {
		if _, err := ParseXRay(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if FormatXRay(trace.SpanContext{}) != "" {
		t.Fatal("an invalid context formatted")
	}
}

func TestXRayPropagatorAndIDs(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 4, 1, 2, 3, 0, time.UTC)
	tid, sid := xrayIDs{now: func() time.Time { return now }}.NewIDs(context.Background())
	if !strings.HasPrefix(XRayTraceID(tid), fmt.Sprintf("1-%08x-", now.Unix())) || !sid.IsValid() {
		t.Fatalf("trace id %s does not start with the epoch seconds (%x)", XRayTraceID(tid), now.Unix())
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: trace.FlagsSampled})
	carrier := propagation.MapCarrier{}
	XRayPropagator{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	got := trace.SpanContextFromContext(XRayPropagator{}.Extract(context.Background(), carrier))
	if got.TraceID() != tid || got.SpanID() != sid || !got.IsSampled() {
		t.Fatalf("%v after a round trip through %v", got, carrier)
	}
}

func TestLoggerCarriesTraceIDs(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := NewLogger(&buf, "debug")
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{0x57, 0x59, 0xe9, 0x88, 1}, SpanID: trace.SpanID{1, 2}, TraceFlags: trace.FlagsSampled})
	log.With("message_id", "m1").DebugContext(trace.ContextWithSpanContext(context.Background(), sc), "batch written")
	log.Info("no span")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first, second map[string]any
	if len(lines) != 2 || json.Unmarshal([]byte(lines[0]), &first) != nil || json.Unmarshal([]byte(lines[1]), &second) != nil {
		t.Fatalf("not two JSON lines: %q", buf.String())
	}
	if first["trace_id"] != sc.TraceID().String() || first["span_id"] != sc.SpanID().String() || first["xray_trace_id"] != XRayTraceID(sc.TraceID()) || first["message_id"] != "m1" {
		t.Fatalf("line %v", first)
	}
	if _, ok := second["trace_id"]; ok {
		t.Fatalf("a trace id without a span: %v", second)
	}
}

func TestExporterNames(t *testing.T) {
	t.Parallel()
	env := func(kv ...string) func(string) string {
		return func(k string) string {
			for i := 0; i < len(kv); i += 2 {
				if kv[i] == k {
					return kv[i+1]
				}
			}
			return ""
		}
	}
	known := []string{"otlp", "console", "xray", "none"}
	for _, c := range []struct {
		env  func(string) string
		want string
	}{
		{env(), ""},
		{env("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), "otlp"},
		{env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/v1/traces"), "otlp"},
		{env("OTEL_TRACES_EXPORTER", "none", "OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"), ""},
		{env("OTEL_TRACES_EXPORTER", " OTLP, xray,otlp"), "otlp,xray"},
	} {
		got, err := exporterNames(c.env, "OTEL_TRACES_EXPORTER", "TRACES", known)
		if err != nil || strings.Join(got, ",") != c.want {
			t.Errorf("got %v %v, want %q", got, err, c.want)
		}
	}
	if _, err := exporterNames(env("OTEL_TRACES_EXPORTER", "jaeger"), "OTEL_TRACES_EXPORTER", "TRACES", known); err == nil || !strings.Contains(err.Error(), `"jaeger"`) {
		t.Fatalf("an unknown exporter: %v", err)
	}
}

// TestSetup is not parallel: Setup installs the process's global providers.
func TestSetup(t *testing.T) {
	var out bytes.Buffer
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	t.Setenv("OTEL_METRICS_EXPORTER", "prometheus")
	t.Setenv("OTEL_SERVICE_NAME", "svc-from-env")
	tel, err := Setup(context.Background(), Config{Service: "graphfleet-test", LogOutput: &out})
	if err != nil {
		t.Fatal(err)
	}
	ctr, _ := otel.Meter("test").Int64Counter("graphfleet.test.things", metric.WithUnit("{thing}"))
	ctr.Add(context.Background(), 3)
	_, span := otel.Tracer("test").Start(context.Background(), "a span")
	span.End()
	rec := httptest.NewRecorder()
	tel.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if !strings.Contains(string(body), "graphfleet_test_things_total 3") || !strings.Contains(string(body), "go_goroutines") {
		t.Fatalf("/metrics:\n%s", body)
	}
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The console exporter wrote the span at the flush, with the service
	// name the environment gave.
	if !strings.Contains(out.String(), `"Name":"a span"`) || !strings.Contains(out.String(), "svc-from-env") {
		t.Fatalf("console output:\n%s", out.String())
	}
}

// Every binary imports this package, so nothing it imports may fail the
// process at start over an X-Ray daemon address it cannot resolve (the
// X-Ray SDK's xray package panics in its initialiser over one; a sidecar's
// name that does not resolve yet would crash-loop the task). The test runs
// itself again in a process started with such an address and the xray
// exporter, and sets up telemetry there.
func TestUnresolvableXRayDaemonStartsFine(t *testing.T) {
	if os.Getenv("GRAPHFLEET_TEST_XRAY_CHILD") == "1" {
		tel, err := Setup(context.Background(), Config{Service: "child", LogOutput: io.Discard})
		if err != nil {
			t.Fatal(err)
		}
		_, span := tel.Tracer.Tracer("t").Start(context.Background(), "a span for a daemon that is not there")
		span.End()
		if err := tel.Shutdown(context.Background()); err != nil {
			t.Logf("shutdown: %v (expected: the daemon does not resolve)", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnresolvableXRayDaemonStartsFine$", "-test.count=1")
	cmd.Env = append(os.Environ(), "GRAPHFLEET_TEST_XRAY_CHILD=1", "AWS_XRAY_DAEMON_ADDRESS=no-such-host.invalid:2000",
		"OTEL_TRACES_EXPORTER=xray", "OTEL_METRICS_EXPORTER=none")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("a process with AWS_XRAY_DAEMON_ADDRESS=no-such-host.invalid:2000 failed: %v\n%s", err, out)
	}
}

// TestLogsOverOTLP is not parallel (Setup installs globals): with
// OTEL_LOGS_EXPORTER=otlp every log line also goes to the collector as an
// OpenTelemetry log record carrying the trace of the context it was
// logged with, and below the level nothing goes.
func TestLogsOverOTLP(t *testing.T) {
	got := make(chan *collogs.ExportLogsServiceRequest, 16)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req collogs.ExportLogsServiceRequest
		if r.URL.Path != "/v1/logs" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "not an OTLP logs export", http.StatusBadRequest)
			return
		}
		got <- &req
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(nil)
	}))
	defer srv.Close()
	t.Setenv("OTEL_LOGS_EXPORTER", "otlp")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	t.Setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", srv.URL+"/v1/logs")
	var out bytes.Buffer
	tel, err := Setup(context.Background(), Config{Service: "graphfleet-test", LogOutput: &out, LogLevel: "info"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, span := tel.Tracer.Tracer("t").Start(context.Background(), "handling a message")
	tel.Logger.InfoContext(ctx, "batch written", "edges", 42)
	tel.Logger.DebugContext(ctx, "below the level")
	span.End()
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	var records []*logspb.LogRecord
	for len(got) > 0 {
		for _, rl := range (<-got).ResourceLogs {
			for _, sl := range rl.ScopeLogs {
				records = append(records, sl.LogRecords...)
			}
		}
	}
	if len(records) != 1 || records[0].Body.GetStringValue() != "batch written" {
		t.Fatalf("exported log records %v; want the one info line", records)
	}
	if tid := span.SpanContext().TraceID(); string(records[0].TraceId) != string(tid[:]) {
		t.Fatalf("log record trace id %x, want %s", records[0].TraceId, tid)
	}
	if !strings.Contains(out.String(), `"msg":"batch written"`) || strings.Contains(out.String(), "below the level") {
		t.Fatalf("the JSON lines are still written, at the level:\n%s", out.String())
	}
}

// TestECSResource is not parallel (Setup installs globals): in an ECS task
// (ECS_CONTAINER_METADATA_URI_V4 set) every span's resource names the
// task, its cluster, family and revision, the launch type, the region and
// account, and the log group, from the task metadata endpoint v4. The
// endpoint here answers with the documented shape of a Fargate task's.
func TestECSResource(t *testing.T) {
	const task = "arn:aws:ecs:eu-west-1:123456789012:task/graphfleet/1f2e3d4c5b6a47889900aabbccddeeff"
	meta := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/v4/abc":
			_, _ = io.WriteString(w, `{"DockerId":"1f2e3d4c5b6a47889900aabbccddeeff-1234567890","Name":"worker","DockerName":"worker",
"Image":"123456789012.dkr.ecr.eu-west-1.amazonaws.com/graphfleet:1.4.0","ImageID":"sha256:0123",
"Labels":{"com.amazonaws.ecs.cluster":"arn:aws:ecs:eu-west-1:123456789012:cluster/graphfleet","com.amazonaws.ecs.container-name":"worker",
"com.amazonaws.ecs.task-arn":"`+task+`","com.amazonaws.ecs.task-definition-family":"graphfleet-worker","com.amazonaws.ecs.task-definition-version":"7"},
"DesiredStatus":"RUNNING","KnownStatus":"RUNNING","Limits":{"CPU":2},"CreatedAt":"2026-12-04T05:00:00Z","StartedAt":"2026-12-04T05:00:01Z",
"Type":"NORMAL","LogDriver":"awslogs","LogOptions":{"awslogs-group":"/graphfleet/worker","awslogs-region":"eu-west-1","awslogs-stream":"worker/worker/1f2e3d4c"},
"ContainerARN":"arn:aws:ecs:eu-west-1:123456789012:container/graphfleet/1f2e3d4c5b6a47889900aabbccddeeff/0a1b2c3d",
"Networks":[{"NetworkMode":"awsvpc","IPv4Addresses":["10.0.1.23"]}]}`)
		case "/v4/abc/task":
			_, _ = io.WriteString(w, `{"Cluster":"arn:aws:ecs:eu-west-1:123456789012:cluster/graphfleet","TaskARN":"`+task+`",
"Family":"graphfleet-worker","Revision":"7","DesiredStatus":"RUNNING","KnownStatus":"RUNNING","Limits":{"CPU":1,"Memory":2048},
"PullStartedAt":"2026-12-04T04:59:50Z","PullStoppedAt":"2026-12-04T04:59:58Z","AvailabilityZone":"eu-west-1a","LaunchType":"FARGATE","Containers":[]}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer meta.Close()
	t.Setenv("ECS_CONTAINER_METADATA_URI_V4", meta.URL+"/v4/abc")
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	t.Setenv("OTEL_METRICS_EXPORTER", "none")
	spans := tracetest.NewInMemoryExporter()
	tel, err := Setup(context.Background(), Config{Service: "graphfleet-worker", LogOutput: io.Discard, SpanExporter: spans})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.Tracer.Tracer("t").Start(context.Background(), "in a task")
	span.End()
	exported := spans.GetSpans() // before Shutdown, which clears them
	_ = tel.Shutdown(context.Background())
	if len(exported) != 1 {
		t.Fatalf("%d spans exported", len(exported))
	}
	got := map[string]string{}
	for _, kv := range exported[0].Resource.Attributes() {
		got[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range map[string]string{
		"service.name": "graphfleet-worker", "cloud.platform": "aws_ecs", "aws.ecs.task.arn": task, "aws.ecs.task.family": "graphfleet-worker",
		"aws.ecs.task.revision": "7", "aws.ecs.launchtype": "fargate", "cloud.region": "eu-west-1", "cloud.account.id": "123456789012",
		"cloud.availability_zone": "eu-west-1a", "aws.ecs.cluster.arn": "arn:aws:ecs:eu-west-1:123456789012:cluster/graphfleet",
		"aws.log.group.names": `["/graphfleet/worker"]`,
	} {
		if got[k] != v {
			t.Errorf("resource %s = %q, want %q", k, got[k], v)
		}
	}
}
