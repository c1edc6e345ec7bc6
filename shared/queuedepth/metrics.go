package queuedepth

import (
	"context"
	"path"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// Metrics publishes the sampler's last counts as the gauge
// graphfleet.queue.depth, one series per queue (graphfleet.queue: the
// name it is watched under; messaging.destination.name: the SQS queue's
// name) and state (visible, not_visible, delayed). Nothing is read from SQS
// for it: an export shows the last sample. Unregister when done.
func (s *Sampler) Metrics() (metric.Registration, error) {
	m := otel.Meter("github.com/graphfleet/graphfleet/shared/queuedepth")
	g, err := m.Int64ObservableGauge("graphfleet.queue.depth", metric.WithUnit("{message}"),
		metric.WithDescription("Messages in each queue by state, as last sampled (ApproximateNumberOfMessages, ...NotVisible, ...Delayed)."))
	if err != nil {
		return nil, err
	}
	return m.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s.mu.Lock()
		urls := make(map[string]string, len(s.queues))
		for k, v := range s.queues {
			urls[k] = v
		}
		s.mu.Unlock()
		for name, d := range s.All() {
			if d.At.IsZero() {
				continue // never read: no number is better than a made-up zero
			}
			q := []attribute.KeyValue{attribute.String("graphfleet.queue", name),
				attribute.String("messaging.destination.name", path.Base(urls[name])), attribute.String("messaging.system", "aws_sqs")}
			for _, st := range []struct {
				state string
				n     int64
			}{{"visible", d.Visible}, {"not_visible", d.NotVisible}, {"delayed", d.Delayed}} {
				o.ObserveInt64(g, st.n, metric.WithAttributes(append(q, attribute.String("graphfleet.state", st.state))...))
			}
		}
		return nil
	}, g)
}
