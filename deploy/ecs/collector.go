package main

import (
	"fmt"
	"strings"
)

// The ADOT collector sidecar: every task that runs a graphfleet binary runs
// one beside it. The binaries send OTLP/gRPC to localhost:4317; the
// collector sends traces to X-Ray (awsxray) and metrics to CloudWatch as
// embedded metric format log events (awsemf), from which CloudWatch extracts
// the metrics declared below, in the namespace MetricsNamespace (per stack).
//
// Only declared metrics with their declared dimension sets become CloudWatch
// metrics (each metric and dimension set is one billed custom metric); the
// rest stays in the EMF log group for Logs Insights. Resource attributes are
// converted to labels so that service.name (set by OTEL_SERVICE_NAME in each
// task definition) can be a dimension.

// collectorImageDefault is the ADOT collector image the stack runs unless
// the CollectorImage parameter says otherwise.
const collectorImageDefault = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.3"

// OTLP settings every app container gets: gRPC to the sidecar.
var otlpEnv = map[string]string{
	"OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317",
	"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
	"OTEL_METRIC_EXPORT_INTERVAL": "60000",
}

// Service names (OTEL_SERVICE_NAME) per task, the service.name dimension.
const (
	svcWorker   = "graphfleet-worker"
	svcChanges  = "graphfleet-changes"
	svcListen   = "graphfleet-producer-listen"
	svcServe    = "graphfleet-producer-serve"
	svcProducer = "graphfleet-producer" // + "-<source>" for scheduled runs
)

// Metric names as the binaries publish them (worker/metrics.go,
// worker/neptune/metrics.go, shared/queuedepth/metrics.go,
// shared/consume/metrics.go) and as awsemf names them in CloudWatch (the
// OTel name unchanged).
const (
	mQueueDepth   = "graphfleet.queue.depth"
	mElements     = "graphfleet.neptune.elements"
	mWriterLimit  = "graphfleet.neptune.writer.limit"
	mWriterFlight = "graphfleet.neptune.writer.in_flight"
	mConsumerMsgs = "graphfleet.consumer.messages"
	mBreakerOpen  = "graphfleet.consumer.breaker.open"
	mLagObserved  = "graphfleet.lag.observed"
	mChangesLag   = "graphfleet.changes.lag"
	mBatches      = "graphfleet.worker.batches"
)

// Dimension names (OTel attribute names, kept as they are by awsemf).
const (
	dService = "service.name"
	dQueue   = "graphfleet.queue"
	dState   = "graphfleet.state"
	dKind    = "graphfleet.kind"
	dDest    = "messaging.destination.name"
	dOutcome = "graphfleet.outcome"
)

// metricDeclaration is one awsemf metric_declarations entry.
type metricDeclaration struct {
	Metrics    []string
	Dimensions [][]string
}

// metricDeclarations are the CloudWatch metrics the stack's alarms and
// dashboard read; the tests check that every metric they reference is
// declared here with its dimensions.
var metricDeclarations = []metricDeclaration{
	{Metrics: []string{mQueueDepth}, Dimensions: [][]string{{dService, dQueue, dState}}},
	{Metrics: []string{mElements}, Dimensions: [][]string{{dService, dKind}}},
	{Metrics: []string{mWriterLimit, mWriterFlight}, Dimensions: [][]string{{dService}}},
	{Metrics: []string{mConsumerMsgs}, Dimensions: [][]string{{dDest, dOutcome}}},
	{Metrics: []string{mBreakerOpen}, Dimensions: [][]string{{dDest}}},
	{Metrics: []string{mLagObserved}, Dimensions: [][]string{{dService}}},
	{Metrics: []string{mChangesLag}, Dimensions: [][]string{{dService}}},
	{Metrics: []string{mBatches}, Dimensions: [][]string{{dService, dOutcome}}},
}

// collectorConfig is the collector's configuration (AOT_CONFIG_CONTENT). The
// namespace and log group are CloudFormation values, substituted with
// Fn::Sub: ${MetricsNamespace} and ${MetricsLogGroup}.
func collectorConfig() string {
	var b strings.Builder
	b.WriteString(`extensions:
  health_check: {}
receivers:
  otlp:
    protocols:
      grpc: {endpoint: "127.0.0.1:4317"}
      http: {endpoint: "127.0.0.1:4318"}
processors:
  batch/traces: {timeout: 1s, send_batch_size: 50}
  batch/metrics: {timeout: 60s}
exporters:
  awsxray: {}
  awsemf:
    namespace: "${MetricsNamespace}"
    log_group_name: "${MetricsLogGroup}"
    log_stream_name: "{TaskId}"
    dimension_rollup_option: NoDimensionRollup
    resource_to_telemetry_conversion: {enabled: true}
    metric_declarations:
`)
	for _, d := range metricDeclarations {
		var sets []string
		for _, set := range d.Dimensions {
			sets = append(sets, "["+strings.Join(set, ", ")+"]")
		}
		var sel []string
		for _, m := range d.Metrics {
			sel = append(sel, fmt.Sprintf("%q", "^"+strings.ReplaceAll(m, ".", `\.`)+"$"))
		}
		fmt.Fprintf(&b, "      - dimensions: [%s]\n        metric_name_selectors: [%s]\n", strings.Join(sets, ", "), strings.Join(sel, ", "))
	}
	b.WriteString(`service:
  extensions: [health_check]
  pipelines:
    traces: {receivers: [otlp], processors: [batch/traces], exporters: [awsxray]}
    metrics: {receivers: [otlp], processors: [batch/metrics], exporters: [awsemf]}
`)
	return b.String()
}
