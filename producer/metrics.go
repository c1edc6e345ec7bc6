package main

import (
	"context"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphfleet/graphfleet/shared/telemetry"
)

// The producer's spans and instruments. A discovery run is the root of its
// traces: "discover <source>" holds the discovery, then one
// "graphfleet.snapshot" span per scope, under which sqssend's send spans
// put their context into each message; the worker's processing and every
// Neptune request of that message continue the same trace.
var (
	tracer = otel.Tracer("github.com/graphfleet/graphfleet/producer")
	meter  = otel.Meter("github.com/graphfleet/graphfleet/producer")

	// discoveryRuns: graphfleet.outcome sealed (every scope's snapshot sent
	// and sealed), failed (at least one not), deferred (backlog above its
	// mark).
	discoveryRuns, _ = meter.Int64Counter("graphfleet.discovery.runs", metric.WithUnit("{run}"),
		metric.WithDescription("Discovery runs by source and outcome: sealed, failed, deferred."))
	snapshotDuration, _ = meter.Float64Histogram("graphfleet.snapshot.duration", metric.WithUnit("s"),
		metric.WithDescription("From a discovery run's start to its snapshot sent and sealed."),
		metric.WithExplicitBucketBoundaries(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300))
	snapshotSize, _ = meter.Int64Histogram("graphfleet.snapshot.size", metric.WithUnit("{element}"),
		metric.WithDescription("Vertices and edges (graphfleet.kind) in each sealed snapshot."),
		metric.WithExplicitBucketBoundaries(0, 10, 100, 1000, 10_000, 100_000, 1_000_000))
)

func recordRun(ctx context.Context, source, outcome string) {
	discoveryRuns.Add(ctx, 1, metric.WithAttributes(attribute.String("graphfleet.source", source), attribute.String("graphfleet.outcome", outcome)))
}

func recordSnapshot(ctx context.Context, source string, since time.Time, vertices, edges int) {
	src := attribute.String("graphfleet.source", source)
	snapshotDuration.Record(ctx, time.Since(since).Seconds(), metric.WithAttributes(src))
	snapshotSize.Record(ctx, int64(vertices), metric.WithAttributes(src, attribute.String("graphfleet.kind", "vertex")))
	snapshotSize.Record(ctx, int64(edges), metric.WithAttributes(src, attribute.String("graphfleet.kind", "edge")))
}

// requestDuration is OTel's http.server.request.duration for the push API,
// by route and status code: the share of 429s is its count with
// http.response.status_code=429.
var requestDuration, _ = meter.Float64Histogram("http.server.request.duration", metric.WithUnit("s"),
	metric.WithDescription("Duration of push API requests."),
	metric.WithExplicitBucketBoundaries(telemetry.DurationBuckets...))

// measured records every request to h under route.
func measured(route string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h(sw, r)
		requestDuration.Record(r.Context(), time.Since(start).Seconds(), metric.WithAttributes(
			attribute.String("http.request.method", r.Method), attribute.String("http.route", route),
			attribute.Int("http.response.status_code", sw.status)))
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (the push
// handler sets its body deadline through it).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }
