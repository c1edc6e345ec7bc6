package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
)

// TestDiscoveryRunTelemetry runs the demo once and follows it: one trace
// per run, discovery and each snapshot under it and each message's send
// span under its snapshot, and the run counted in the metrics. Not
// parallel: it installs the process's global providers.
func TestDiscoveryRunTelemetry(t *testing.T) {
	spans := tracetest.NewInMemoryExporter()
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	reader := sdkmetric.NewManualReader()
	otel.SetMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)))

	srv := sqslocal.StartT(t)
	client := srv.Client(context.Background())
	q, err := sqslocal.CreateQueuesWithOptions(context.Background(), client, "tel", sqslocal.QueueOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Command: CommandRun, QueueURL: q.Ingest, Sources: []string{"demo"}, Once: true, DiscoveryTimeout: time.Minute,
		DemoScale: 1, DemoCalls: true, DemoInterval: DefaultDemoInterval, LogLevel: "info"}
	log, _ := testLog()
	var out bytes.Buffer
	if err := runWith(context.Background(), cfg, aws.Config{}, client, &out, log); err != nil {
		t.Fatal(err)
	}

	var root sdktrace.ReadOnlySpan
	byID := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans.GetSpans().Snapshots() {
		byID[s.SpanContext().SpanID().String()] = s
		if s.Name() == "discover demo" {
			root = s
		}
	}
	if root == nil || root.Parent().IsValid() {
		t.Fatalf("no root span for the run: %v", spans.GetSpans())
	}
	var discovery, snapshots, sends int
	for _, s := range byID {
		if s.SpanContext().TraceID() != root.SpanContext().TraceID() {
			continue
		}
		parent, underRoot := byID[s.Parent().SpanID().String()], s.Parent().SpanID() == root.SpanContext().SpanID()
		switch {
		case s.Name() == "graphfleet.discovery" && underRoot:
			discovery++
		case s.Name() == "graphfleet.snapshot" && underRoot:
			snapshots++
		case strings.HasPrefix(s.Name(), "send ") && parent != nil && parent.Name() == "graphfleet.snapshot":
			sends++
		}
	}
	if discovery != 1 || snapshots != 3 || sends < 3 {
		t.Fatalf("in the run's trace: %d discovery, %d snapshot and %d send spans; want 1, 3 (the demo's scopes) and one per message", discovery, snapshots, sends)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					outcome, _ := p.Attributes.Value(attribute.Key("graphfleet.outcome"))
					got[m.Name+"/"+outcome.AsString()] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					got[m.Name] += int64(p.Count)
				}
			}
		}
	}
	if got["graphfleet.discovery.runs/sealed"] != 1 || got["graphfleet.snapshot.duration"] != 3 || got["messaging.client.sent.messages/"] != int64(sends) {
		t.Fatalf("metrics %v; want 1 sealed run, 3 snapshots and %d messages sent", got, sends)
	}
}
