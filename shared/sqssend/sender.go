// Package sqssend is the sending side of edge batches: it packs encoded
// messages into SendMessageBatch calls (at most ten entries and 1 MiB a call),
// carries each batch's trace context in its attributes (W3C traceparent and
// the X-Ray AWSTraceHeader), and retries entries that failed for a reason
// worth retrying; an entry counts as sent only when SQS lists it as
// successful. MessageLimit says how large an encoded batch a queue takes,
// from its MaximumMessageSize (QueueMaxMessageBytes), so that Split can cut
// batches to fit a 256 KiB queue as well as a 1 MiB one. Producers and the
// push API send through it; nothing else calls SendMessage for edge batches.
package sqssend

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/backoff"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/telemetry"
)

// SQS is the one call the sender makes.
type SQS interface {
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

// SQS's limits for one SendMessageBatch call.
const (
	MaxEntries   = 10
	MaxCallBytes = 1 << 20 // the sum of all entries' bodies and attributes
)

// Sender sends edge batches to one queue. It is safe for concurrent use.
type Sender struct {
	client      SQS
	queueURL    string
	maxAttempts int
	baseBackoff time.Duration
	log         *slog.Logger
	tracer      trace.Tracer
}

// Option configures a Sender.
type Option func(*Sender)

// WithMaxAttempts bounds the tries per entry (first included); 5 by default.
func WithMaxAttempts(n int) Option { return func(s *Sender) { s.maxAttempts = max(1, n) } }

// WithBackoff sets the base retry delay, doubled per retry up to 30 times
// the base, with full jitter; 100ms by default.
func WithBackoff(d time.Duration) Option { return func(s *Sender) { s.baseBackoff = d } }

// WithLogger sets the logger; slog.Default() by default.
func WithLogger(l *slog.Logger) Option { return func(s *Sender) { s.log = l } }

// WithTracerProvider makes the send spans with tp instead of the global
// provider (tests).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(s *Sender) { s.tracer = tp.Tracer("github.com/graphfleet/graphfleet/shared/sqssend") }
}

// New returns a Sender for queueURL.
func New(client SQS, queueURL string, opts ...Option) *Sender {
	s := &Sender{
		client:      client,
		queueURL:    queueURL,
		maxAttempts: 5,
		baseBackoff: 100 * time.Millisecond,
		log:         slog.Default(),
		tracer:      otel.Tracer("github.com/graphfleet/graphfleet/shared/sqssend"),
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Report tells what one Send did.
type Report struct {
	Messages int // messages accepted by SQS
	Calls    int // SendMessageBatch calls made, retries included
	Retried  int // entries sent more than once
	Bytes    int // bytes of bodies and attributes accepted
}

// SendError lists the messages SQS did not accept after all retries, by
// their index in the slice given to Send. A message SQS did not report as
// successful counts as not accepted, whatever else the answer said.
type SendError struct {
	Failed map[int]error
}

// Indices returns the indices of the messages not sent, in order.
func (e *SendError) Indices() []int {
	return slices.Sorted(maps.Keys(e.Failed))
}

func (e *SendError) Error() string {
	idx := e.Indices()
	if len(idx) == 0 {
		return "sqssend: messages not sent"
	}
	return fmt.Sprintf("sqssend: %d message(s) not sent, the first #%d: %v", len(idx), idx[0], e.Failed[idx[0]])
}

// SendBatches encodes and sends batches, one message each. A batch that does
// not encode is an error before anything is sent: use edgebatch.Split to make
// batches that fit.
func (s *Sender) SendBatches(ctx context.Context, batches []*edgebatch.Batch) (Report, error) {
	msgs := make([]edgebatch.Message, len(batches))
	for i, b := range batches {
		m, err := edgebatch.Encode(b)
		if err != nil {
			return Report{}, fmt.Errorf("batch %d: %w", i, err)
		}
		msgs[i] = m
	}
	return s.Send(ctx, msgs)
}

// Send sends encoded messages in as few SendMessageBatch calls as SQS's limits
// allow, each message under its own producer span whose context goes into
// the message's attributes. Entries that fail with a server fault or
// throttling are retried with backoff; the rest are reported in a *SendError.
// Messages are not deduplicated or reordered across calls: edge batches are
// idempotent and order-free by contract.
func (s *Sender) Send(ctx context.Context, msgs []edgebatch.Message) (Report, error) {
	var rep Report
	entries := make([]*entry, len(msgs))
	for i, m := range msgs {
		entries[i] = s.newEntry(ctx, i, m)
	}
	defer func() {
		for _, e := range entries {
			s.end(e)
		}
	}()

	failed := map[int]error{}
	todo := entries
	for attempt := 1; len(todo) > 0; attempt++ {
		if attempt > 1 {
			if err := backoff.Sleep(ctx, backoff.FullJitter(attempt-2, s.baseBackoff, 30*s.baseBackoff)); err != nil {
				for _, e := range todo {
					failed[e.index] = err
				}
				break
			}
			rep.Retried += len(todo)
		}
		var retry []*entry
		for _, call := range pack(todo) {
			rep.Calls++
			again, err := s.sendCall(ctx, call, &rep)
			if err != nil {
				// The whole call failed (the SDK already retried transport
				// errors): every entry in it is retried or given up.
				again = call
			}
			for _, e := range again {
				e.lastErr = errors.Join(err, e.lastErr)
			}
			retry = append(retry, again...)
		}
		todo = nil
		for _, e := range retry {
			if attempt >= s.maxAttempts || !e.retryable {
				failed[e.index] = e.lastErr
				continue
			}
			e.lastErr = nil
			e.retryable = true
			todo = append(todo, e)
		}
	}
	for i, err := range failed {
		entries[i].fail(err)
	}
	if len(failed) > 0 {
		return rep, &SendError{Failed: failed}
	}
	return rep, nil
}

// entry is one message on its way, with its producer span.
type entry struct {
	index     int
	msg       edgebatch.Message
	size      int
	span      trace.Span
	xray      string
	lastErr   error
	retryable bool
	sent      bool
}

func (s *Sender) newEntry(ctx context.Context, i int, m edgebatch.Message) *entry {
	// One "send" span per message (OTel's messaging conventions: a batch
	// sender gives each message its own creation context), whose context
	// the message carries.
	ctx, span := s.tracer.Start(ctx, "send "+path.Base(s.queueURL), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			attribute.String("messaging.system", "aws_sqs"),
			attribute.String("messaging.operation.type", "send"),
			attribute.String("messaging.operation.name", "send"),
			attribute.String("messaging.destination.name", path.Base(s.queueURL)),
			attribute.String("aws.sqs.queue.url", s.queueURL),
			attribute.String("graphfleet.source", m.Attributes[edgebatch.AttrSource]),
			attribute.Int("messaging.message.body.size", len(m.Body)),
		))
	attrs := make(map[string]string, len(m.Attributes)+2)
	for k, v := range m.Attributes {
		attrs[k] = v
	}
	propagation.TraceContext{}.Inject(ctx, propagation.MapCarrier(attrs))
	m.Attributes = attrs
	return &entry{index: i, msg: m, size: m.Size(), span: span, xray: telemetry.FormatXRay(span.SpanContext()), retryable: true}
}

func (s *Sender) end(e *entry) {
	if e.sent {
		e.span.SetStatus(codes.Ok, "")
		sentMessages.Add(context.Background(), 1, metric.WithAttributes(attribute.String("messaging.system", "aws_sqs"),
			attribute.String("messaging.operation.name", "send"), attribute.String("messaging.destination.name", path.Base(s.queueURL))))
	}
	e.span.End()
}

func (e *entry) fail(err error) {
	e.span.RecordError(err)
	e.span.SetStatus(codes.Error, err.Error())
}

// pack groups entries into calls of at most MaxEntries entries and
// MaxCallBytes bytes, in order. Every message is at most 1 MiB, so each fits
// a call of its own.
func pack(entries []*entry) [][]*entry {
	var calls [][]*entry
	var cur []*entry
	size := 0
	for _, e := range entries {
		if len(cur) == MaxEntries || (len(cur) > 0 && size+e.size > MaxCallBytes) {
			calls = append(calls, cur)
			cur, size = nil, 0
		}
		cur = append(cur, e)
		size += e.size
	}
	if len(cur) > 0 {
		calls = append(calls, cur)
	}
	return calls
}

// sendCall makes one SendMessageBatch call and returns the entries that
// failed, each marked retryable or not.
func (s *Sender) sendCall(ctx context.Context, call []*entry, rep *Report) ([]*entry, error) {
	in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(s.queueURL), Entries: make([]types.SendMessageBatchRequestEntry, len(call))}
	for i, e := range call {
		attrs := make(map[string]types.MessageAttributeValue, len(e.msg.Attributes))
		for k, v := range e.msg.Attributes {
			attrs[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		in.Entries[i] = types.SendMessageBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)),
			MessageBody:       aws.String(e.msg.Body),
			MessageAttributes: attrs,
		}
		if e.xray != "" {
			in.Entries[i].MessageSystemAttributes = map[string]types.MessageSystemAttributeValue{
				"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String(e.xray)},
			}
		}
	}
	out, err := s.client.SendMessageBatch(ctx, in)
	if err != nil {
		for _, e := range call {
			e.retryable = ctx.Err() == nil
		}
		return nil, fmt.Errorf("SendMessageBatch to %s: %w", s.queueURL, err)
	}
	if out == nil {
		out = &sqs.SendMessageBatchOutput{}
	}
	// Only an entry listed in Successful was accepted: one that the answer
	// leaves out, or lists under an id we did not send, must not pass for
	// sent, or a snapshot with a hole in it would be sealed.
	ok := make([]bool, len(call))
	for _, r := range out.Successful {
		if i, err := strconv.Atoi(aws.ToString(r.Id)); err == nil && i >= 0 && i < len(call) {
			ok[i] = true
		}
	}
	reason := make(map[int]error, len(out.Failed))
	senderFault := make(map[int]bool, len(out.Failed))
	for _, f := range out.Failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= len(call) {
			continue
		}
		ok[i] = false // listed as both: SQS did not promise delivery
		reason[i] = fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		senderFault[i] = f.SenderFault
	}
	var again []*entry
	for i, e := range call {
		if ok[i] {
			e.sent = true
			rep.Messages++
			rep.Bytes += e.size
			continue
		}
		if err, listed := reason[i]; listed {
			// SenderFault means the entry itself is wrong (too large, bad
			// attribute): sending it again cannot succeed.
			e.retryable = !senderFault[i]
			e.lastErr = err
		} else {
			e.retryable = true
			e.lastErr = errors.New("SendMessageBatch reported neither success nor failure for this entry")
		}
		again = append(again, e)
	}
	if len(again) > 0 {
		s.log.WarnContext(ctx, "some messages were not accepted", "failed", len(again), "of", len(call))
	}
	return again, nil
}

// sentMessages is OTel's messaging.client.sent.messages: messages SQS
// accepted, by queue.
var sentMessages, _ = otel.Meter("github.com/graphfleet/graphfleet/shared/sqssend").Int64Counter("messaging.client.sent.messages",
	metric.WithUnit("{message}"), metric.WithDescription("Messages sent to SQS and accepted."))
