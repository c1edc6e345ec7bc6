// Package consume is the worker's SQS side: it long-polls the ingest queue,
// holds what it received (extending visibility while work goes on), hands each
// message to a handler, deletes it only once the handler succeeded, sends
// malformed ones to the dead-letter queue with the reason, and on shutdown
// finishes or releases what it holds.
//
// The path of one message, by name: receive (poll) -> handle (process) ->
// settle: ack (batched delete), nack (visibility backoff, for content the sink
// refused), deadLetter (malformed, or refused on its last receive), or park
// (the sink is unwell: the message is kept, the breaker opens, receiving stops
// until a probe finds the sink answering again).
//
// Whose fault a failure is decides what it may cost: only the message's own
// faults spend its receives and reach the DLQ. A sink outage of any length
// costs no receive: nothing more is received while it lasts, and what is held
// stays hidden by the heartbeat (visibility changes are not receives).
package consume

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/backoff"
)

// SQS is the part of the SQS API the consumer uses, so tests can count or
// disturb calls without standing in for the whole client.
type SQS interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, opts ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// Handler processes one message within ctx, which ends at the message's
// deadline (Config.MessageTimeout) or at a hard stop. It returns nil when the
// message's work is done (the message is then deleted), or an error that says
// whose fault the failure is:
//   - *PermanentError: the message is malformed; it goes to the DLQ at once.
//   - *ContentError: the sink refused what the message contains; it is
//     retried through the queue (spending receives) and dead-lettered with the
//     reason on its last allowed receive.
//   - *SinkError with Denied set: the sink refuses our credentials; intake
//     stops and the worker says so loudly until a probe succeeds.
//   - any other error: the sink is unwell (down, throttled, failing over,
//     slow). Not the message's fault: it is parked and intake stops until a
//     probe finds the sink answering.
type Handler func(ctx context.Context, m *Message) error

// PermanentError marks a message that must not be retried: it is malformed.
// Reason goes into the DLQ message.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string { return e.Reason }
func (e *PermanentError) Unwrap() error { return e.Err }

// ContentError marks a message the sink refused for what it contains; the
// same content will most likely be refused again. Reason goes into the DLQ
// message if it is refused on its last receive.
type ContentError struct {
	Reason string
	Err    error
}

func (e *ContentError) Error() string { return e.Reason }
func (e *ContentError) Unwrap() error { return e.Err }

// SinkError marks a failure of the sink, not of the message. Any error that
// is neither a PermanentError nor a ContentError is treated as one; returning
// it explicitly is how a handler reports access denied.
type SinkError struct {
	Denied bool // the sink refuses our credentials or permissions
	Err    error
}

func (e *SinkError) Error() string { return e.Err.Error() }
func (e *SinkError) Unwrap() error { return e.Err }

// Message is one received SQS message as the handler sees it.
type Message struct {
	ID             string
	Body           string
	Attributes     map[string]string // message attributes (string values)
	SentAt         time.Time         // SentTimestamp
	ReceiveCount   int               // ApproximateReceiveCount
	AWSTraceHeader string            // X-Ray header, when the sender set one

	receipt string
	raw     types.Message
	// Owned by the tracker (under its lock).
	visibleAt    time.Time // when SQS makes it visible again, as far as we know
	workDeadline time.Time // zero unless in work

	// Owned by whichever processor handles the message (the work channel
	// hands it over): how often it failed for the sink's reasons while the
	// sink wrote other messages in between.
	parks         int
	writtenAtPark int64
	failedAlone   int
}

// Consumer consumes one queue. Create it with New, run it with Run.
type Consumer struct {
	cfg     Config
	sqs     SQS
	handle  Handler
	log     *slog.Logger
	maxRecv int // the queue's maxReceiveCount, 0 when it has no redrive

	inflight *tracker
	breaker  *breaker
	// breakerSpan is the span of the breaker's current opening, if open.
	breakerSpan atomic.Pointer[trace.Span]
	metrics     consumerMetrics
	scale       *pollerScale  // how many pollers receive now
	gated       atomic.Value  // string: why Gate keeps receiving paused, "" when it does not
	work        chan *Message // held messages waiting for a processor; MaxHeld capacity
	acks        chan *Message
	stats       Stats

	refusedInARow atomic.Int64 // content failures since the last message written
	stopping      atomic.Bool
	lastBeat      atomic.Int64 // unix nanos of the heartbeat's last round
	lastAck       atomic.Int64 // unix nanos of the ack loop's last round
	sqsFailed     atomic.Int64 // consecutive failed receives
}

// Stats are the consumer's counters since start.
type Stats struct {
	Received     atomic.Int64
	Deleted      atomic.Int64
	DeadLettered atomic.Int64
	Retried      atomic.Int64 // content failures sent back to the queue with a delay
	Parked       atomic.Int64 // failures of the sink: the message was kept for later
	Released     atomic.Int64 // given back at shutdown
	Requeued     atomic.Int64 // sent again as a fresh message so its receive count starts over
	Extended     atomic.Int64 // visibility extensions
}

// New checks the configuration and finds the DLQ. It calls SQS, so a wrong
// queue URL or missing permissions show at start.
func New(ctx context.Context, client SQS, cfg Config, h Handler) (*Consumer, error) {
	cfg.SetDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Consumer{
		cfg:      cfg,
		sqs:      client,
		handle:   h,
		log:      cfg.Logger.With("queue", cfg.QueueURL),
		inflight: newTracker(cfg.MaxHeld),
		breaker:  newBreaker(),
		scale:    newPollerScale(cfg.Pollers),
		work:     make(chan *Message, cfg.MaxHeld),
		acks:     make(chan *Message, cfg.MaxHeld),
	}
	c.metrics = newConsumerMetrics(c)
	now := time.Now().UnixNano()
	c.lastBeat.Store(now)
	c.lastAck.Store(now)
	if err := c.findDLQ(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Stats returns the live counters.
func (c *Consumer) Stats() *Stats { return &c.stats }

// Held is how many messages are held now.
func (c *Consumer) Held() int { return c.inflight.len() }

// Run consumes until ctx is cancelled, then stops in order, all within
// StopTimeout: no new receives; the long polls under way finish, so what they
// take is held, not lost in flight; work in progress finishes; at the hard
// stop (StopTimeout less a reserve for the last calls) receives and work still
// under way are cancelled; then every held message is released (visibility 0,
// or sent afresh when it is on its last receive) and pending deletes are
// flushed. Releasing only after the last poll closed is what keeps a stopping
// worker from receiving its own releases. It returns nil after a clean stop.
func (c *Consumer) Run(ctx context.Context) error {
	// Receives and work run on a context of their own, so that the stop (ctx)
	// ends new receives but neither cuts off a long poll already under way,
	// whose messages would otherwise be taken from the queue and not seen,
	// nor writes in progress. Both are cancelled at the hard stop.
	hardCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()
	defer func() {
		if c.metrics.gauges != nil {
			_ = c.metrics.gauges.Unregister()
		}
		c.endBreakerSpan() // an outage the stop cut short still shows
	}()

	// A worker (re)started during an outage should not spend receives
	// finding out: it asks the sink first and waits behind the breaker.
	if err := c.probe(ctx); err != nil && ctx.Err() == nil {
		c.tripBreaker("at start: "+err.Error(), isDenied(err))
		if isDenied(err) {
			c.log.Error("the sink denies access at start: intake waits until it is granted (check the task role's neptune-db permissions)", "err", err)
		} else {
			c.log.Warn("the sink does not answer at start: intake waits for it", "err", err)
		}
	}

	var pollers, processors, background sync.WaitGroup
	if c.cfg.Backlog != nil {
		// One poller until the first look at the backlog says otherwise.
		c.scale.set(1)
		background.Go(func() { c.scaleLoop(ctx) })
	}
	for i := range c.cfg.Pollers {
		pollers.Go(func() { c.poll(ctx, hardCtx, i) })
	}
	for range c.cfg.Processors {
		processors.Go(func() { c.process(ctx, hardCtx) })
	}
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	stopAcks := make(chan context.Context, 1)
	var acker sync.WaitGroup
	acker.Go(func() { c.ackLoop(bgCtx, stopAcks) })
	background.Go(func() { c.heartbeat(bgCtx) })
	background.Go(func() { c.probeLoop(ctx) })

	<-ctx.Done()
	c.stopping.Store(true)
	stopAt := time.Now()
	final := stopAt.Add(c.cfg.StopTimeout)
	reserve := c.cfg.releaseReserve()
	hardAt := final.Add(-reserve)
	c.log.Info("stopping: no more receives", "held", c.Held(), "stop_timeout", c.cfg.StopTimeout)
	hardTimer := time.AfterFunc(time.Until(hardAt), func() {
		c.log.Warn("hard stop: cancelling receives and writes still under way")
		hardStop()
	})
	defer hardTimer.Stop()
	pollers.Wait()
	if !waitTimeout(&processors, time.Until(hardAt)+reserve/3) {
		// A handler ignores its cancelled context. What it holds is released
		// below with the rest: its write is idempotent if it ever lands.
		c.log.Error("a handler did not return after the hard stop; releasing what is held anyway")
	}

	// Deletes first (that work is done), then the releases, both within what
	// is left of the stop timeout; the heartbeat keeps going until then.
	finalCtx, cancelFinal := context.WithDeadline(context.WithoutCancel(ctx), final)
	defer cancelFinal()
	stopAcks <- finalCtx
	acker.Wait()
	c.releaseAll(finalCtx)
	stopBackground()
	background.Wait()
	c.log.Info("stopped", "deleted", c.stats.Deleted.Load(), "released", c.stats.Released.Load(),
		"requeued", c.stats.Requeued.Load(), "took", time.Since(stopAt).Round(time.Millisecond))
	return nil
}

// poll is poller i: it receives while the breaker is closed, the gate open,
// there is room, and the backlog calls for at least i+1 pollers. stopCtx
// ends the polling; receiveCtx, which outlives it until the hard stop,
// bounds each receive.
func (c *Consumer) poll(stopCtx, receiveCtx context.Context, i int) {
	failures := 0
	for {
		if c.scale.wait(stopCtx, i) != nil || c.waitGate(stopCtx) != nil {
			return
		}
		if c.breaker.waitClosed(stopCtx) != nil {
			return
		}
		n := c.inflight.reserveRoom(stopCtx, 10)
		if n == 0 {
			return
		}
		if stopCtx.Err() != nil {
			c.inflight.admit(n, nil)
			return
		}
		if c.breaker.state().Open {
			// It opened while this poller waited for room: give the room
			// back and wait for the breaker instead of receiving.
			c.inflight.admit(n, nil)
			continue
		}
		msgs, err := c.receive(receiveCtx, n)
		c.inflight.admit(n, msgs)
		for _, m := range msgs {
			c.work <- m // never blocks: work has MaxHeld capacity and the tracker bounds what is held
		}
		if err == nil {
			failures = 0
			c.sqsFailed.Store(0)
			continue
		}
		if stopCtx.Err() != nil {
			return
		}
		c.sqsFailed.Add(1)
		c.log.Warn("receive failed", "failures", failures+1, "err", err)
		_ = backoff.Sleep(stopCtx, backoff.FullJitter(failures, time.Second, c.cfg.WaitTime))
		failures++
	}
}

func (c *Consumer) receive(ctx context.Context, n int) ([]*Message, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.WaitTime+sqsCallTimeout)
	defer cancel()
	out, err := c.sqs.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:              aws.String(c.cfg.QueueURL),
		MaxNumberOfMessages:   int32(n),
		WaitTimeSeconds:       int32(c.cfg.WaitTime / time.Second),
		VisibilityTimeout:     int32(c.cfg.VisibilityTimeout / time.Second),
		MessageAttributeNames: []string{"All"},
		// Asked through both fields: some SQS implementations (local-aws-sqs
		// among them) only honour the older AttributeNames.
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		AttributeNames:              []types.QueueAttributeName{types.QueueAttributeName("All")},
	})
	if err != nil {
		return nil, fmt.Errorf("cannot receive from %s: %w", c.cfg.QueueURL, err)
	}
	visibleAt := time.Now().Add(c.cfg.VisibilityTimeout)
	msgs := make([]*Message, 0, len(out.Messages))
	for _, raw := range out.Messages {
		msgs = append(msgs, newMessage(raw, visibleAt))
	}
	c.stats.Received.Add(int64(len(msgs)))
	c.metrics.consumed.Add(ctx, int64(len(msgs)), c.metrics.queue)
	return msgs, nil
}

// process handles held messages until the stop. It takes no new message once
// stopCtx ends (what is left is released by Run), and waits while the breaker
// is open: the message it has stays held and hidden meanwhile.
func (c *Consumer) process(stopCtx, hardCtx context.Context) {
	for {
		var m *Message
		select {
		case <-stopCtx.Done():
			return
		case m = <-c.work:
		}
		if c.breaker.waitClosed(stopCtx) != nil {
			return // m stays held; Run releases it
		}
		if stopCtx.Err() != nil {
			return
		}
		c.handleOne(hardCtx, m)
	}
}

// handleOne runs the handler within the message's deadline and settles the
// outcome.
func (c *Consumer) handleOne(hardCtx context.Context, m *Message) {
	start := time.Now()
	deadline := start.Add(c.cfg.MessageTimeout)
	c.inflight.startWork(m, deadline)
	ctx, cancel := context.WithDeadline(hardCtx, deadline)
	err := c.handle(ctx, m)
	cancel()
	c.inflight.endWork(m)
	c.metrics.process.Record(hardCtx, time.Since(start).Seconds(), c.metrics.queue)

	var perm *PermanentError
	var content *ContentError
	var sink *SinkError
	switch {
	case err == nil:
		if !m.SentAt.IsZero() {
			c.metrics.lag.Record(hardCtx, time.Since(m.SentAt).Seconds(), c.metrics.queue)
		}
		c.breaker.succeeded()
		c.refusedInARow.Store(0)
		c.acks <- m
	case hardCtx.Err() != nil:
		// Cut off by the hard stop: not the message's fault. It stays held
		// and Run releases it.
	case errors.As(err, &perm):
		c.deadLetter(hardCtx, m, perm.Reason)
	case errors.As(err, &content):
		if n := c.refusedInARow.Add(1); n >= refusedInARowAlarm {
			// Validated batches are rarely refused; many in a row with none
			// written says the sink or the writer is wrong (an engine
			// without mergeV, a broken deployment), not the messages. Left
			// to spend receives, they would dead-letter the whole queue.
			c.log.Error("the sink refuses every message: suspected deployment fault, intake stopped", "refused_in_a_row", n, "err", err)
			c.park(m, fmt.Errorf("%d messages in a row refused with none written: %w", n, err), false)
			return
		}
		if m.ReceiveCount >= c.contentAttempts() {
			// Its last receive before SQS's own redrive: send it now, with the
			// reason, which SQS's redrive would not record.
			c.deadLetter(hardCtx, m, fmt.Sprintf("refused on each of %d receives: %s", m.ReceiveCount, content.Reason))
			return
		}
		c.stats.Retried.Add(1)
		c.metrics.settle("retried", 1)
		c.log.WarnContext(m.logCtx(), "the sink refused the message's content; it will be retried", "message_id", m.ID,
			"receive_count", m.ReceiveCount, "max_receive_count", c.maxRecv, "err", err)
		c.nack(hardCtx, m)
	default:
		denied := errors.As(err, &sink) && sink.Denied
		if !denied && ctx.Err() == context.DeadlineExceeded && c.probe(hardCtx) == nil {
			// Its own deadline ran out and Neptune answers: the message is
			// too slow on its own (too heavy, or stuck behind its requests),
			// not a victim of an outage. It goes back to the queue and
			// spends a receive, instead of being kept and stopping intake
			// on every try.
			if m.ReceiveCount >= c.contentAttempts() {
				c.deadLetter(hardCtx, m, fmt.Sprintf("not written within MESSAGE_TIMEOUT (%s) on each of %d receives, while Neptune answered: %s",
					c.cfg.MessageTimeout, m.ReceiveCount, err))
				return
			}
			c.stats.Retried.Add(1)
			c.metrics.settle("retried", 1)
			c.log.WarnContext(m.logCtx(), "the message was not written within its deadline while Neptune answers; it goes back to the queue", "message_id", m.ID,
				"receive_count", m.ReceiveCount, "message_timeout", c.cfg.MessageTimeout, "err", err)
			c.nack(hardCtx, m)
			return
		}
		c.park(m, err, denied)
	}
}

// park keeps a message the sink could not take, for a fault that is not the
// message's, and opens the breaker. The message goes back to the work queue
// (never blocking: work has room for everything held) and is handled again
// once a probe finds the sink answering; the heartbeat keeps it hidden
// meanwhile, which costs no receive.
func (c *Consumer) park(m *Message, err error, denied bool) {
	c.stats.Parked.Add(1)
	c.metrics.settle("parked", 1)
	if c.tripBreaker(err.Error(), denied) {
		if denied {
			c.log.ErrorContext(m.logCtx(), "the sink denies access: intake stopped until it is granted (check the task role's neptune-db permissions)",
				"message_id", m.ID, "err", err)
		} else {
			c.log.WarnContext(m.logCtx(), "the sink is unwell: intake stopped, held messages kept, probing until it answers",
				"message_id", m.ID, "held", c.Held(), "err", err)
		}
	}
	c.work <- m
}

// tripBreaker opens the breaker (or records a newer cause) and reports
// whether it opened it; an opening starts the span that shows the outage.
func (c *Consumer) tripBreaker(cause string, denied bool) bool {
	now := time.Now()
	if !c.breaker.trip(cause, denied, now) {
		return false
	}
	span := c.metrics.breakerOpened(cause, denied, now)
	c.breakerSpan.Store(&span)
	return true
}

func (c *Consumer) endBreakerSpan() {
	if sp := c.breakerSpan.Swap(nil); sp != nil {
		(*sp).End()
	}
}

// probeLoop waits for the breaker to open, then probes the sink with backoff
// until it answers, and closes the breaker. It runs until the stop.
func (c *Consumer) probeLoop(ctx context.Context) {
	for {
		if c.breaker.waitOpen(ctx) != nil {
			return
		}
		trips := c.breaker.state().Trips
		for attempt := 0; ; attempt++ {
			// The first wait grows with consecutive trips, so a sink that
			// answers probes but keeps failing writes is tried less often.
			if backoff.Sleep(ctx, backoff.FullJitter(max(attempt, trips-1), c.cfg.ProbeBackoff, c.cfg.MaxProbeBackoff)) != nil {
				return
			}
			err := c.probe(ctx)
			if err == nil {
				st := c.breaker.state()
				c.breaker.reset()
				c.endBreakerSpan()
				c.log.Info("the sink answers again: resuming intake", "down_for", time.Since(st.Since).Round(time.Millisecond), "held", c.Held())
				break
			}
			if ctx.Err() != nil {
				return
			}
			// Already open: this records the newest cause, and a denial.
			c.breaker.trip("probe: "+err.Error(), isDenied(err), time.Now())
			st := c.breaker.state()
			if st.Denied {
				c.log.Error("probe: the sink still denies access; intake stays stopped", "attempt", attempt+1, "err", err)
			} else {
				c.log.Warn("probe: the sink does not answer yet", "attempt", attempt+1, "down_for", time.Since(st.Since).Round(time.Second), "err", err)
			}
		}
	}
}

func (c *Consumer) probe(ctx context.Context) error {
	if c.cfg.Probe == nil {
		return nil // the next message is the probe
	}
	ctx, cancel := context.WithTimeout(ctx, min(c.cfg.MessageTimeout, probeTimeout))
	defer cancel()
	return c.cfg.Probe(ctx)
}

// refusedInARowAlarm is how many messages in a row the sink may refuse for
// their content, with none written in between, before the worker takes it for
// a fault of its own deployment and stops intake rather than dead-lettering.
const refusedInARowAlarm = 10

// isDenied reports whether err says the sink refuses our credentials.
func isDenied(err error) bool {
	var s *SinkError
	return errors.As(err, &s) && s.Denied
}

// contentAttempts is how many receives a message whose content the sink
// refuses gets before the worker dead-letters it: the queue's
// maxReceiveCount, or, with DLQ_URL and no redrive policy, as many as
// sqslocal and the CDK stack configure (5), so it is not retried forever.
func (c *Consumer) contentAttempts() int {
	if c.maxRecv > 0 {
		return c.maxRecv
	}
	return defaultContentAttempts
}

const defaultContentAttempts = 5

// waitTimeout waits for wg for at most d and reports whether it finished.
func waitTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// probeTimeout bounds one probe: a sink that takes longer to answer a trivial
// request is not well.
const probeTimeout = 10 * time.Second

func newMessage(raw types.Message, visibleAt time.Time) *Message {
	m := &Message{
		ID:         aws.ToString(raw.MessageId),
		Body:       aws.ToString(raw.Body),
		Attributes: make(map[string]string, len(raw.MessageAttributes)),
		receipt:    aws.ToString(raw.ReceiptHandle),
		raw:        raw,
		visibleAt:  visibleAt,
	}
	for k, v := range raw.MessageAttributes {
		if v.StringValue != nil {
			m.Attributes[k] = *v.StringValue
		}
	}
	if ms, ok := parseInt(raw.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)]); ok {
		m.SentAt = time.UnixMilli(ms)
	}
	if n, ok := parseInt(raw.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)]); ok {
		m.ReceiveCount = int(n)
	}
	m.AWSTraceHeader = raw.Attributes[string(types.MessageSystemAttributeNameAWSTraceHeader)]
	return m
}
