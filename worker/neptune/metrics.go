package neptune

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphfleet/graphfleet/shared/telemetry"
)

// writerMetrics are the writer's instruments, from the global meter
// provider (shared/telemetry installs it; without it they cost nothing).
type writerMetrics struct {
	// duration is OTel's db.client.operation.duration: every request, by
	// operation and, when it failed, error.type (Neptune's error code):
	// the errors by code are its counts with error.type set.
	duration metric.Float64Histogram
	// retries counts the attempts retried, by error.type.
	retries metric.Int64Counter
	// elements counts vertices and edges written (kind).
	elements metric.Int64Counter
	gauges   metric.Registration
}

func newWriterMetrics(l *limiter) writerMetrics {
	m := otel.Meter("github.com/graphfleet/graphfleet/worker/neptune")
	var wm writerMetrics
	wm.duration, _ = m.Float64Histogram("db.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Duration of Neptune requests."), metric.WithExplicitBucketBoundaries(telemetry.DBBuckets...))
	wm.retries, _ = m.Int64Counter("graphfleet.neptune.retries", metric.WithUnit("{attempt}"),
		metric.WithDescription("Neptune requests retried, by the error that caused the retry."))
	wm.elements, _ = m.Int64Counter("graphfleet.neptune.elements", metric.WithUnit("{element}"),
		metric.WithDescription("Vertices and edges written to Neptune (kind)."))
	limit, _ := m.Int64ObservableGauge("graphfleet.neptune.writer.limit", metric.WithUnit("{request}"),
		metric.WithDescription("The adaptive limit on Neptune requests in flight."))
	inFlight, _ := m.Int64ObservableGauge("graphfleet.neptune.writer.in_flight", metric.WithUnit("{request}"),
		metric.WithDescription("Neptune requests in flight."))
	wm.gauges, _ = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := l.status()
		o.ObserveInt64(limit, int64(st.Limit))
		o.ObserveInt64(inFlight, int64(st.InFlight))
		return nil
	}, limit, inFlight)
	return wm
}

func (wm writerMetrics) written(ctx context.Context, vertices, edges int) {
	wm.elements.Add(ctx, int64(vertices), metric.WithAttributes(attribute.String("graphfleet.kind", "vertex")))
	wm.elements.Add(ctx, int64(edges), metric.WithAttributes(attribute.String("graphfleet.kind", "edge")))
}
