package consume

import (
	"context"
	"path"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/telemetry"
)

// consumerMetrics are a consumer's instruments, on OTel's messaging
// conventions where they apply (messaging.client.consumed.messages,
// messaging.process.duration) and in graphfleet's namespace elsewhere.
// Every series carries the queue's name (messaging.destination.name).
type consumerMetrics struct {
	queue    metric.MeasurementOption
	consumed metric.Int64Counter
	process  metric.Float64Histogram
	// settled counts what became of messages: deleted (written, or
	// skipped as superseded), retried (sent back to the queue to spend a
	// receive), dead_lettered, parked (kept while the sink was unwell),
	// released (given back at the stop), requeued.
	settled metric.Int64Counter
	lag     metric.Float64Histogram
	breaker metric.Int64Counter
	gauges  metric.Registration
	tracer  trace.Tracer
}

func newConsumerMetrics(c *Consumer) consumerMetrics {
	m := otel.Meter("github.com/graphfleet/graphfleet/shared/consume")
	cm := consumerMetrics{
		queue: metric.WithAttributeSet(attribute.NewSet(attribute.String("messaging.system", "aws_sqs"),
			attribute.String("messaging.destination.name", path.Base(c.cfg.QueueURL)))),
		tracer: otel.Tracer("github.com/graphfleet/graphfleet/shared/consume"),
	}
	cm.consumed, _ = m.Int64Counter("messaging.client.consumed.messages", metric.WithUnit("{message}"),
		metric.WithDescription("Messages received from the queue."))
	cm.process, _ = m.Float64Histogram("messaging.process.duration", metric.WithUnit("s"),
		metric.WithDescription("Time to process one message (write it to Neptune)."), metric.WithExplicitBucketBoundaries(telemetry.DurationBuckets...))
	cm.settled, _ = m.Int64Counter("graphfleet.consumer.messages", metric.WithUnit("{message}"),
		metric.WithDescription("What became of received messages (graphfleet.outcome: deleted, retried, dead_lettered, parked, released, requeued)."))
	cm.lag, _ = m.Float64Histogram("graphfleet.lag.queue", metric.WithUnit("s"),
		metric.WithDescription("From SQS's SentTimestamp to the message's successful processing."), metric.WithExplicitBucketBoundaries(telemetry.LagBuckets...))
	cm.breaker, _ = m.Int64Counter("graphfleet.consumer.breaker.opened", metric.WithUnit("{open}"),
		metric.WithDescription("Times the circuit breaker opened (the sink unwell: intake stopped)."))
	open, _ := m.Int64ObservableGauge("graphfleet.consumer.breaker.open",
		metric.WithDescription("1 while the circuit breaker is open."))
	held, _ := m.Int64ObservableGauge("graphfleet.consumer.held", metric.WithUnit("{message}"),
		metric.WithDescription("Messages received and not yet settled."))
	pollers, _ := m.Int64ObservableGauge("graphfleet.consumer.pollers", metric.WithUnit("{poller}"),
		metric.WithDescription("Long polls the consumer runs (they follow the backlog)."))
	cm.gauges, _ = m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		st := c.Status()
		isOpen := int64(0)
		if st.Breaker.Open {
			isOpen = 1
		}
		o.ObserveInt64(open, isOpen, cm.queue)
		o.ObserveInt64(held, int64(c.Held()), cm.queue)
		o.ObserveInt64(pollers, int64(st.Pollers), cm.queue)
		return nil
	}, open, held, pollers)
	return cm
}

func (cm consumerMetrics) settle(outcome string, n int) {
	cm.settled.Add(context.Background(), int64(n), cm.queue, metric.WithAttributes(attribute.String("graphfleet.outcome", outcome)))
}

// breakerSpan covers one opening of the breaker, from trip to reset, so an
// outage shows in the traces as one span with its cause and length.
func (cm consumerMetrics) breakerOpened(cause string, denied bool, at time.Time) trace.Span {
	cm.breaker.Add(context.Background(), 1, cm.queue)
	_, span := cm.tracer.Start(context.Background(), "graphfleet.breaker.open", trace.WithTimestamp(at),
		trace.WithAttributes(attribute.String("graphfleet.cause", cause), attribute.Bool("graphfleet.denied", denied)))
	span.SetStatus(codes.Error, cause)
	return span
}

// SpanContext is the context of the span that sent m: W3C traceparent from
// its message attributes (what graphfleet's producers set), else the X-Ray
// header SQS carries as AWSTraceHeader (what other senders may set alone);
// invalid when it carries neither.
func (m *Message) SpanContext() trace.SpanContext {
	sc := trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), propagation.MapCarrier(m.Attributes)))
	if sc.IsValid() {
		return sc
	}
	if sc, err := telemetry.ParseXRay(m.AWSTraceHeader); err == nil {
		return sc
	}
	return trace.SpanContext{}
}

// logCtx is a context for log lines about m: they carry its trace's id.
func (m *Message) logCtx() context.Context {
	return trace.ContextWithRemoteSpanContext(context.Background(), m.SpanContext())
}
