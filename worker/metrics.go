package main

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"

	"github.com/graphfleet/graphfleet/shared/telemetry"
)

// handlerMetrics are the worker's own instruments; the consumer
// (shared/consume), the writer (worker/neptune) and the depth sampler
// (shared/queuedepth) have theirs. The README lists them all.
type handlerMetrics struct {
	// batches counts handled batches by graphfleet.outcome: written,
	// superseded (older than its scope's newest complete snapshot, skipped
	// whole), sealed (a snapshot's seal recorded).
	batches metric.Int64Counter
	// stale counts elements a write left alone because the graph held a
	// newer observation (graphfleet.kind).
	stale metric.Int64Counter
	// lag is from the batch's observed_at (the producer's clock) to the
	// batch written: how fresh the graph is.
	lag metric.Float64Histogram
	// sweeps and swept: snapshots swept (graphfleet.superseded: an older
	// snapshot's sweep that a newer one made moot), and the elements they
	// deactivated or removed (graphfleet.action).
	sweeps metric.Int64Counter
	swept  metric.Int64Counter
}

func newHandlerMetrics() handlerMetrics {
	m := otel.Meter("github.com/graphfleet/graphfleet/worker")
	var hm handlerMetrics
	hm.batches, _ = m.Int64Counter("graphfleet.worker.batches", metric.WithUnit("{batch}"),
		metric.WithDescription("Batches handled, by outcome: written, superseded, sealed."))
	hm.stale, _ = m.Int64Counter("graphfleet.worker.stale_elements", metric.WithUnit("{element}"),
		metric.WithDescription("Elements left as they were because the graph held a newer observation."))
	hm.lag, _ = m.Float64Histogram("graphfleet.lag.observed", metric.WithUnit("s"),
		metric.WithDescription("From a batch's observed_at to the batch written to Neptune."), metric.WithExplicitBucketBoundaries(telemetry.LagBuckets...))
	hm.sweeps, _ = m.Int64Counter("graphfleet.snapshot.sweeps", metric.WithUnit("{sweep}"),
		metric.WithDescription("Complete snapshots swept."))
	hm.swept, _ = m.Int64Counter("graphfleet.snapshot.swept_elements", metric.WithUnit("{element}"),
		metric.WithDescription("Elements a sweep deactivated (DeepFlow calls) or removed (AWS and CloudFormation)."))
	return hm
}

func (hm handlerMetrics) batch(ctx context.Context, outcome, source string) {
	hm.batches.Add(ctx, 1, metric.WithAttributes(attribute.String("graphfleet.outcome", outcome), attribute.String("graphfleet.source", source)))
}
