package changes

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"

	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/backoff"
	"github.com/graphfleet/graphfleet/shared/telemetry"
)

// PutEventsAPI is the part of EventBridge the feed calls.
type PutEventsAPI interface {
	PutEvents(ctx context.Context, in *eventbridge.PutEventsInput, opts ...func(*eventbridge.Options)) (*eventbridge.PutEventsOutput, error)
}

// PutEvents' limits: 10 entries and 256 KB a call.
const (
	maxEntries    = 10
	maxCallBytes  = 256 << 10
	entryOverhead = 64 // what an entry costs beyond the sizes we add up (the time)
)

// entryAttempts is how often an entry EventBridge refused as malformed (a
// fault of the event itself, see eventFault) is sent before it is given up,
// loudly: one event that can never be put must not stop the feed for good.
const entryAttempts = 5

// Publisher puts events on the bus.
type Publisher struct {
	API     PutEventsAPI
	Bus     string
	Cluster string
	Log     *slog.Logger
	// Retry bounds the wait between attempts; 200 ms to 30 s when zero.
	RetryBase, RetryMax time.Duration
	// OnFailure, when set, hears of every failed call and refused entry as
	// it happens (readiness, the errors counter): Publish itself returns
	// only once everything was accepted.
	OnFailure func(err error)
}

// PublishResult is what a Publish did.
type PublishResult struct {
	Published int
	Dropped   []Event // refused entryAttempts times
	Calls     int
	Retries   int
	// FailedCalls and FailedEntries count what EventBridge refused and the
	// publisher sent again.
	FailedCalls, FailedEntries int
}

// eventFault reports whether an entry's error code is about the event
// itself (its detail or fields), the only refusals an event is ever given
// up for. Everything else (throttling, internal failures, and access:
// NotAuthorizedFor..., AccessDeniedException, a missing bus, a KMS key)
// is about the bus or the feed's rights and is retried until it passes, the
// position held meanwhile.
func eventFault(code string) bool {
	return code == "MalformedDetail" || code == "InvalidArgument"
}

// Publish puts every event on the bus, in calls within PutEvents' limits,
// and returns when each was accepted or given up. A failed call (the bus
// unreachable, access denied) is retried until ctx ends: the feed's
// position does not move meanwhile, so nothing is lost.
func (p *Publisher) Publish(ctx context.Context, events []Event) (PublishResult, error) {
	var res PublishResult
	base, maxDelay := p.RetryBase, p.RetryMax
	if base <= 0 {
		base = 200 * time.Millisecond
	}
	if maxDelay <= 0 {
		maxDelay = 30 * time.Second
	}
	type pending struct {
		ev       Event
		entry    types.PutEventsRequestEntry
		size     int
		attempts int
	}
	// Each event carries the publish span's X-Ray header, so a rule's
	// targets continue the trace.
	traceHeader := ""
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		traceHeader = telemetry.FormatXRay(sc)
	}
	queue := make([]*pending, 0, len(events))
	for _, e := range events {
		detail, err := e.Detail(p.Cluster)
		if err != nil {
			return res, fmt.Errorf("event %s: %w", EventIDFor(p.Cluster, e.Position), err)
		}
		entry := types.PutEventsRequestEntry{
			EventBusName: aws.String(p.Bus), Source: aws.String(EventSource), DetailType: aws.String(e.Type),
			Detail: aws.String(string(detail)), Time: aws.Time(e.Time),
		}
		if traceHeader != "" {
			entry.TraceHeader = aws.String(traceHeader)
		}
		size := len(EventSource) + len(e.Type) + len(detail) + entryOverhead
		// An AWS resource's id is its ARN: the event names it as its resource.
		for _, id := range []string{e.Element, e.From, e.To} {
			if strings.HasPrefix(id, "arn:") && len(entry.Resources) < 10 {
				entry.Resources = append(entry.Resources, id)
				size += len(id)
			}
		}
		queue = append(queue, &pending{ev: e, entry: entry, size: size})
	}
	failures := 0
	for len(queue) > 0 {
		// One call: as many entries from the front as the limits allow.
		n, bytes := 0, 0
		for n < len(queue) && n < maxEntries && (n == 0 || bytes+queue[n].size <= maxCallBytes) {
			bytes += queue[n].size
			n++
		}
		call := queue[:n]
		entries := make([]types.PutEventsRequestEntry, n)
		for i, pe := range call {
			entries[i] = pe.entry
		}
		res.Calls++
		out, err := p.API.PutEvents(ctx, &eventbridge.PutEventsInput{Entries: entries})
		if err != nil {
			if ctx.Err() != nil {
				return res, ctx.Err()
			}
			p.Log.Warn("PutEvents failed; retrying", "bus", p.Bus, "entries", n, "err", err)
			res.Retries++
			res.FailedCalls++
			if p.OnFailure != nil {
				p.OnFailure(fmt.Errorf("PutEvents: %w", err))
			}
			if err := backoff.Sleep(ctx, backoff.FullJitter(failures, base, maxDelay)); err != nil {
				return res, err
			}
			failures++
			continue
		}
		if len(out.Entries) != n {
			return res, fmt.Errorf("PutEvents answered %d entries for %d", len(out.Entries), n)
		}
		var again []*pending
		for i, r := range out.Entries {
			pe := call[i]
			if r.ErrorCode == nil || *r.ErrorCode == "" {
				res.Published++
				continue
			}
			res.FailedEntries++
			code := aws.ToString(r.ErrorCode)
			if p.OnFailure != nil {
				p.OnFailure(fmt.Errorf("PutEvents refused an entry: %s: %s", code, aws.ToString(r.ErrorMessage)))
			}
			if eventFault(code) {
				pe.attempts++
			}
			if pe.attempts >= entryAttempts {
				p.Log.Error("event refused by EventBridge; given up", "event_id", EventIDFor(p.Cluster, pe.ev.Position),
					"type", pe.ev.Type, "code", code, "message", aws.ToString(r.ErrorMessage), "attempts", pe.attempts)
				res.Dropped = append(res.Dropped, pe.ev)
				continue
			}
			again = append(again, pe)
		}
		queue = append(again, queue[n:]...)
		if len(again) > 0 {
			res.Retries++
			if err := backoff.Sleep(ctx, backoff.FullJitter(failures, base, maxDelay)); err != nil {
				return res, err
			}
			failures++
		} else {
			failures = 0
		}
	}
	return res, nil
}
