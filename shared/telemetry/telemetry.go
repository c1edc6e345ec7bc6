// Package telemetry is the one setup of traces, metrics and logs that every
// graphfleet binary uses: OpenTelemetry tracer and meter providers, a JSON
// slog logger that carries trace and span ids, W3C and X-Ray propagation,
// X-Ray-compatible trace ids, and exporters chosen by the standard OTEL_*
// variables:
//
//	OTEL_TRACES_EXPORTER   otlp, console, xray (the X-Ray daemon over UDP, no
//	                       collector), none; a comma list sends to several.
//	                       Default: otlp when an OTLP endpoint is set, else none.
//	OTEL_METRICS_EXPORTER  otlp, console, prometheus, none. Default as above.
//	                       /metrics (Prometheus) is served whatever it says.
//	OTEL_LOGS_EXPORTER     otlp, none (default: logs go over OTLP only when
//	                       named). The JSON lines on stderr are written
//	                       whatever it says.
//	OTEL_EXPORTER_OTLP_PROTOCOL (and _TRACES_/_METRICS_/_LOGS_ variants): grpc or
//	                       http/protobuf (default), with the exporters' own
//	                       OTEL_EXPORTER_OTLP_* endpoint and header variables.
//	OTEL_TRACES_SAMPLER(_ARG), OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
//	OTEL_METRIC_EXPORT_INTERVAL, OTEL_SDK_DISABLED: as the spec says.
//	AWS_XRAY_DAEMON_ADDRESS: where the xray exporter sends.
//
// The defaults differ from the spec's (otlp) on purpose: a worker run on a
// laptop without a collector would otherwise log a failed export every few
// seconds. In ECS the task definition sets the endpoint of its ADOT sidecar.
package telemetry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	promclient "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/bridges/otelslog"
	"go.opentelemetry.io/contrib/detectors/aws/ecs"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploggrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlplog/otlploghttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetricgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/propagation"
	sdklog "go.opentelemetry.io/otel/sdk/log"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/graphfleet/graphfleet/shared/telemetry/xrayexport"
)

// Version is the build's version, set by the linker
// (-X github.com/graphfleet/graphfleet/shared/telemetry.Version=...).
var Version = "dev"

// Config names the service and where its logs go.
type Config struct {
	Service  string // service.name, unless OTEL_SERVICE_NAME says otherwise
	LogLevel string // debug, info (default), warn, error
	// LogOutput is where the JSON log lines go; stderr when nil. Console
	// exporters write there too.
	LogOutput io.Writer
	// SpanExporter, when set, receives every span besides what
	// OTEL_TRACES_EXPORTER names, synchronously (tests).
	SpanExporter sdktrace.SpanExporter
}

// Telemetry is what Setup made. Its providers are also the global ones.
type Telemetry struct {
	Logger *slog.Logger
	Tracer *sdktrace.TracerProvider // nil when OTEL_SDK_DISABLED
	Meter  *sdkmetric.MeterProvider // nil when OTEL_SDK_DISABLED
	Logs   *sdklog.LoggerProvider   // nil unless OTEL_LOGS_EXPORTER asks for one
	// Exporters names the trace and metric exporters in use, for the
	// start-up log line.
	Exporters []string

	metrics  http.Handler
	shutdown []func(context.Context) error
}

// Setup builds the providers, installs them (and the propagators and the
// default logger) as the process's globals, and returns them. Call Shutdown
// before exiting: it flushes what is buffered.
func Setup(ctx context.Context, cfg Config) (*Telemetry, error) {
	getenv := os.Getenv
	out := cfg.LogOutput
	if out == nil {
		out = os.Stderr
	}
	t := &Telemetry{Logger: NewLogger(out, cfg.LogLevel)}
	slog.SetDefault(t.Logger)
	otel.SetTextMapPropagator(Propagator())
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		t.Logger.Warn("telemetry export failed", "err", err)
	}))

	reg := promclient.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	t.metrics = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		t.Exporters = []string{"none (OTEL_SDK_DISABLED)"}
		return t, nil
	}

	service := cfg.Service
	if service == "" {
		service = "graphfleet"
	}
	// Later sources win: the environment overrides our names, and the ECS
	// task metadata (cluster, task, container) is added where it is found.
	detectors := []resource.Option{
		resource.WithAttributes(semconv.ServiceName(service), semconv.ServiceVersion(Version), semconv.ServiceNamespace("graphfleet")),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	}
	if getenv("ECS_CONTAINER_METADATA_URI_V4") != "" {
		detectors = append(detectors, resource.WithDetectors(ecs.NewResourceDetector()))
	}
	// The ECS metadata endpoint is local and quick; a few seconds bound a
	// start that would otherwise hang on it.
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	res, err := resource.New(dctx, detectors...)
	cancel()
	if err != nil && res == nil {
		return nil, fmt.Errorf("telemetry resource: %w", err)
	} else if err != nil {
		// A partial resource (the ECS endpoint slow) is still worth having.
		t.Logger.Warn("telemetry resource incomplete", "err", err)
	}

	tps := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithIDGenerator(xrayIDs{now: time.Now})}
	traces, err := exporterNames(getenv, "OTEL_TRACES_EXPORTER", "TRACES", []string{"otlp", "console", "xray", "none"})
	if err != nil {
		return nil, err
	}
	for _, name := range traces {
		var exp sdktrace.SpanExporter
		switch name {
		case "otlp":
			if protocol(getenv, "TRACES") == "grpc" {
				exp, err = otlptracegrpc.New(ctx)
			} else {
				exp, err = otlptracehttp.New(ctx)
			}
		case "console":
			exp, err = stdouttrace.New(stdouttrace.WithWriter(out))
		case "xray":
			exp, err = xrayexport.New(getenv("AWS_XRAY_DAEMON_ADDRESS"))
		}
		if err != nil {
			return nil, fmt.Errorf("OTEL_TRACES_EXPORTER %s: %w", name, err)
		}
		tps = append(tps, sdktrace.WithBatcher(exp))
		t.Exporters = append(t.Exporters, "traces:"+name)
	}
	if cfg.SpanExporter != nil {
		tps = append(tps, sdktrace.WithSyncer(cfg.SpanExporter))
	}
	t.Tracer = sdktrace.NewTracerProvider(tps...)
	otel.SetTracerProvider(t.Tracer)
	t.shutdown = append(t.shutdown, t.Tracer.Shutdown)

	prom, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("prometheus exporter: %w", err)
	}
	mps := []sdkmetric.Option{sdkmetric.WithResource(res), sdkmetric.WithReader(prom)}
	metrics, err := exporterNames(getenv, "OTEL_METRICS_EXPORTER", "METRICS", []string{"otlp", "console", "prometheus", "none"})
	if err != nil {
		return nil, err
	}
	for _, name := range metrics {
		var exp sdkmetric.Exporter
		switch name {
		case "otlp":
			if protocol(getenv, "METRICS") == "grpc" {
				exp, err = otlpmetricgrpc.New(ctx)
			} else {
				exp, err = otlpmetrichttp.New(ctx)
			}
		case "console":
			exp, err = stdoutmetric.New(stdoutmetric.WithWriter(out))
		case "prometheus":
			continue // always served at /metrics
		}
		if err != nil {
			return nil, fmt.Errorf("OTEL_METRICS_EXPORTER %s: %w", name, err)
		}
		mps = append(mps, sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp)))
		t.Exporters = append(t.Exporters, "metrics:"+name)
	}
	t.Exporters = append(t.Exporters, "metrics:/metrics")
	t.Meter = sdkmetric.NewMeterProvider(mps...)
	otel.SetMeterProvider(t.Meter)
	t.shutdown = append(t.shutdown, t.Meter.Shutdown)

	// Logs: the JSON lines always; over OTLP too when asked, through an
	// OpenTelemetry logger provider that every slog record reaches.
	// Only when asked by name: the JSON lines already reach CloudWatch Logs
	// (ECS's awslogs driver), and a collector without a logs pipeline would
	// refuse them.
	var logs []string
	if getenv("OTEL_LOGS_EXPORTER") != "" {
		if logs, err = exporterNames(getenv, "OTEL_LOGS_EXPORTER", "LOGS", []string{"otlp", "none"}); err != nil {
			return nil, err
		}
	}
	if len(logs) > 0 {
		var exp sdklog.Exporter
		if protocol(getenv, "LOGS") == "grpc" {
			exp, err = otlploggrpc.New(ctx)
		} else {
			exp, err = otlploghttp.New(ctx)
		}
		if err != nil {
			return nil, fmt.Errorf("OTEL_LOGS_EXPORTER otlp: %w", err)
		}
		lp := sdklog.NewLoggerProvider(sdklog.WithResource(res), sdklog.WithProcessor(sdklog.NewBatchProcessor(exp)))
		t.Logs = lp
		t.Logger = slog.New(teeHandler{jsonHandler(out, cfg.LogLevel),
			levelHandler{otelslog.NewHandler("github.com/graphfleet/graphfleet", otelslog.WithLoggerProvider(lp)), parseLevel(cfg.LogLevel)}})
		slog.SetDefault(t.Logger)
		t.shutdown = append(t.shutdown, lp.Shutdown)
		t.Exporters = append(t.Exporters, "logs:otlp")
	}
	return t, nil
}

// Propagator is how graphfleet carries trace context: W3C first (what our
// own messages carry), then baggage, then X-Ray's header (what AWS services
// and X-Ray-instrumented clients send).
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}, XRayPropagator{})
}

// exporterNames reads a comma list of exporters. Unset: otlp when an OTLP
// endpoint is configured for the signal, else none.
func exporterNames(getenv func(string) string, key, signal string, known []string) ([]string, error) {
	v := strings.TrimSpace(getenv(key))
	if v == "" {
		if getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_"+signal+"_ENDPOINT") != "" {
			return []string{"otlp"}, nil
		}
		return nil, nil
	}
	var names []string
	for n := range strings.SplitSeq(v, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if !slices.Contains(known, n) {
			return nil, fmt.Errorf("%s: unknown exporter %q; want %s", key, n, strings.Join(known, ", "))
		}
		if n != "none" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	return names, nil
}

func protocol(getenv func(string) string, signal string) string {
	if p := getenv("OTEL_EXPORTER_OTLP_" + signal + "_PROTOCOL"); p != "" {
		return p
	}
	if p := getenv("OTEL_EXPORTER_OTLP_PROTOCOL"); p != "" {
		return p
	}
	return "http/protobuf"
}

// MetricsHandler serves the process's metrics in Prometheus's text format
// (/metrics): graphfleet's own, the Go runtime's and the process's.
func (t *Telemetry) MetricsHandler() http.Handler { return t.metrics }

// Shutdown flushes and stops the exporters within ctx's deadline.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
