package changes

import (
	"context"
	"errors"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

const scope = "github.com/graphfleet/graphfleet/worker/changes"

type feedMetrics struct {
	records metric.Int64Counter
	events  metric.Int64Counter
	errors  metric.Int64Counter
	gaps    metric.Int64Counter
}

func tracerFrom(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = tracenoop.NewTracerProvider()
	}
	return tp.Tracer(scope)
}

// newFeedMetrics makes the feed's instruments; the lag gauge reads f.
func newFeedMetrics(mp metric.MeterProvider, f *Feed) (*feedMetrics, error) {
	if mp == nil {
		mp = noop.NewMeterProvider()
	}
	m := mp.Meter(scope)
	var fm feedMetrics
	var errs []error
	var err error
	fm.records, err = m.Int64Counter("graphfleet.changes.records", metric.WithUnit("{record}"),
		metric.WithDescription("Neptune Streams change records mapped, by kind: event (made an event) or noise (last_seen refreshes, figures, bookkeeping)"))
	errs = append(errs, err)
	fm.events, err = m.Int64Counter("graphfleet.changes.events", metric.WithUnit("{event}"),
		metric.WithDescription("Graph-change events put on the bus, by type and outcome (published, or dropped after EventBridge refused it repeatedly)"))
	errs = append(errs, err)
	fm.errors, err = m.Int64Counter("graphfleet.changes.errors", metric.WithUnit("{error}"),
		metric.WithDescription("Failed attempts of the change feed (reading the stream, publishing, the checkpoint), retried"))
	errs = append(errs, err)
	fm.gaps, err = m.Int64Counter("graphfleet.changes.gaps", metric.WithUnit("{gap}"),
		metric.WithDescription("Times the feed's position had left the stream's retention (changes lost to the feed)"))
	errs = append(errs, err)
	_, err = m.Float64ObservableGauge("graphfleet.changes.lag", metric.WithUnit("s"),
		metric.WithDescription("How far the change feed is behind: now minus the commit time of the last change it mapped; 0 when caught up"),
		metric.WithFloat64Callback(func(_ context.Context, o metric.Float64Observer) error {
			f.mu.Lock()
			defer f.mu.Unlock()
			o.Observe(f.lagLocked(time.Now()))
			return nil
		}))
	errs = append(errs, err)
	return &fm, errors.Join(errs...)
}

// errorType names an error for the error.type attribute: Neptune's code
// when the stream answered one.
func errorType(err error) string {
	var se *StreamError
	if errors.As(err, &se) {
		return se.Code
	}
	return "error"
}
