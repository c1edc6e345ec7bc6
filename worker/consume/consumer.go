// Package consume is the worker's SQS side: it long-polls the ingest queue,
// holds what it received (extending visibility while work goes on), hands each
// message to a handler, deletes it only once the handler succeeded, sends
// malformed ones to the dead-letter queue with the reason, and on shutdown
// finishes or releases what it holds.
//
// The path of one message, by name: receive (poller) -> handle (decode,
// write) -> ack (batched delete) or nack (visibility backoff) or deadLetter.
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

// Handler processes one message. It returns nil when the message's work is
// done (the message is then deleted), a *PermanentError when the message can
// never succeed (it goes to the dead-letter queue with the reason), or any
// other error for a failure worth retrying (the message comes back later).
type Handler func(ctx context.Context, m *Message) error

// PermanentError marks a message that must not be retried: malformed, or
// refused by Neptune for what it contains. Reason goes into the DLQ message.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string { return e.Reason }
func (e *PermanentError) Unwrap() error { return e.Err }

// Message is one received SQS message as the handler sees it.
type Message struct {
	ID             string
	Body           string
	Attributes     map[string]string // message attributes (string values)
	SentAt         time.Time         // SentTimestamp
	ReceiveCount   int               // ApproximateReceiveCount
	AWSTraceHeader string            // X-Ray header, when the sender set one

	receipt  string
	raw      types.Message
	deadline time.Time // when visibility runs out, as far as we know
}

// Config configures a Consumer. Zero fields take the documented defaults.
type Config struct {
	// QueueURL is the queue to consume (QUEUE_URL).
	QueueURL string
	// DLQURL is where malformed messages go. When empty it is found from the
	// queue's RedrivePolicy; a queue with neither is a configuration error,
	// since a malformed message must never block the queue.
	DLQURL string
	// MaxHeld caps the messages held at once, received and not yet deleted or
	// released; receiving stops while it is reached. 100 when zero.
	MaxHeld int
	// Processors is how many messages are handled at once; 8 when zero.
	Processors int
	// Pollers is how many long polls run at once; 1 when zero.
	Pollers int
	// WaitTime is the long-poll wait, at most 20s; 20s when zero.
	WaitTime time.Duration
	// VisibilityTimeout is what the consumer asks for on receive and extends
	// held messages to; 30s when zero. Messages are extended once half of it
	// is left, so a slow write never lets a message reappear.
	VisibilityTimeout time.Duration
	// StopTimeout bounds the graceful stop: a long poll under way and work in
	// progress get this long to finish, then are cancelled and what is held
	// is released. 25s when zero (ECS's stop timeout defaults to 30s). A stop
	// while idle takes up to WaitTime: the last long poll is let finish, so
	// that messages it takes are released rather than left invisible.
	StopTimeout time.Duration
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	if c.MaxHeld <= 0 {
		c.MaxHeld = 100
	}
	if c.Processors <= 0 {
		c.Processors = 8
	}
	if c.Pollers <= 0 {
		c.Pollers = 1
	}
	if c.WaitTime <= 0 || c.WaitTime > 20*time.Second {
		c.WaitTime = 20 * time.Second
	}
	if c.VisibilityTimeout <= 0 {
		c.VisibilityTimeout = 30 * time.Second
	}
	if c.StopTimeout <= 0 {
		c.StopTimeout = 25 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.QueueURL == "" {
		errs = append(errs, errors.New("queue URL is empty (QUEUE_URL)"))
	}
	if c.VisibilityTimeout > 0 && c.VisibilityTimeout < 2*time.Second {
		errs = append(errs, fmt.Errorf("visibility timeout %s is too short to heartbeat", c.VisibilityTimeout))
	}
	if c.VisibilityTimeout > 12*time.Hour {
		errs = append(errs, fmt.Errorf("visibility timeout %s exceeds SQS's 12h", c.VisibilityTimeout))
	}
	return errors.Join(errs...)
}

// Consumer consumes one queue. Create it with New, run it with Run.
type Consumer struct {
	cfg     Config
	sqs     SQS
	handle  Handler
	log     *slog.Logger
	maxRecv int // the queue's maxReceiveCount, 0 when unknown

	mu   sync.Mutex
	held map[string]*Message // by receipt handle
	room chan struct{}       // one token per message that may still be held

	work  chan *Message
	acks  chan *Message
	stats Stats

	lastPoll atomic.Int64 // unix nanos of the last completed receive
	stopping atomic.Bool
}

// Stats are the consumer's counters since start.
type Stats struct {
	Received     atomic.Int64
	Deleted      atomic.Int64
	DeadLettered atomic.Int64
	Retried      atomic.Int64 // handler failures that sent a message back
	Released     atomic.Int64 // given back at shutdown
	Extended     atomic.Int64 // visibility extensions
}

// New checks the configuration and finds the DLQ. It calls SQS, so a wrong
// queue URL or missing permissions show at start.
func New(ctx context.Context, client SQS, cfg Config, h Handler) (*Consumer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Consumer{
		cfg:    cfg,
		sqs:    client,
		handle: h,
		log:    cfg.Logger.With("queue", cfg.QueueURL),
		held:   make(map[string]*Message),
		room:   make(chan struct{}, cfg.MaxHeld),
		work:   make(chan *Message, cfg.MaxHeld),
		acks:   make(chan *Message, cfg.MaxHeld),
	}
	for range cfg.MaxHeld {
		c.room <- struct{}{}
	}
	if err := c.findDLQ(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Stats returns the live counters.
func (c *Consumer) Stats() *Stats { return &c.stats }

// Held is how many messages are held now.
func (c *Consumer) Held() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.held)
}

// Healthy reports whether the receive loop is alive: a poll completed within
// two long-poll waits. ECS's health check uses it through /healthz.
func (c *Consumer) Healthy() bool {
	if c.stopping.Load() {
		return false
	}
	last := c.lastPoll.Load()
	return last != 0 && time.Since(time.Unix(0, last)) < 2*c.cfg.WaitTime+10*time.Second
}

// Run consumes until ctx is cancelled, then stops gracefully: no new
// receives; work in progress gets StopTimeout to finish; what is left is
// released (visibility 0) so another worker takes it at once; pending deletes
// are flushed. It returns nil after a clean stop.
func (c *Consumer) Run(ctx context.Context) error {
	c.lastPoll.Store(time.Now().UnixNano())
	// Receives and work run on contexts of their own, so that the stop
	// (ctx) ends new receives but neither cuts off a long poll already under
	// way, whose messages would otherwise be taken from the queue and never
	// seen, nor writes in progress. Both are cancelled only when StopTimeout
	// runs out.
	hardCtx, hardStop := context.WithCancel(context.WithoutCancel(ctx))
	defer hardStop()

	var pollers, processors, background sync.WaitGroup
	for range c.cfg.Pollers {
		pollers.Go(func() { c.poll(ctx, hardCtx) })
	}
	for range c.cfg.Processors {
		processors.Go(func() { c.process(hardCtx) })
	}
	ackerDone := make(chan struct{})
	background.Go(func() { c.ackLoop(ackerDone) })
	hbCtx, stopHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	background.Go(func() { c.heartbeat(hbCtx) })

	<-ctx.Done()
	c.stopping.Store(true)
	c.log.Info("stopping: no more receives", "held", c.Held(), "stop_timeout", c.cfg.StopTimeout)
	deadline := time.AfterFunc(c.cfg.StopTimeout, func() {
		c.log.Warn("stop timeout reached: cancelling receives and writes in progress")
		hardStop()
	})
	defer deadline.Stop()
	// A long poll under way finishes (at most WaitTime); what it brings is
	// released by the processors, which release everything not yet started.
	pollers.Wait()
	close(c.work)
	processors.Wait()
	close(ackerDone)
	stopHeartbeat()
	background.Wait()
	c.releaseAll()
	c.log.Info("stopped", "deleted", c.stats.Deleted.Load(), "released", c.stats.Released.Load())
	return nil
}

// poll receives while there is room, and blocks while there is none: the
// room tokens are the backpressure. ctx ends the polling; receiveCtx, which
// outlives it until the stop timeout, bounds each receive.
func (c *Consumer) poll(ctx, receiveCtx context.Context) {
	for ctx.Err() == nil {
		n := c.takeRoom(ctx, 10)
		if n == 0 {
			return
		}
		msgs, err := c.receive(receiveCtx, n)
		c.lastPoll.Store(time.Now().UnixNano())
		c.giveRoom(n - len(msgs))
		for _, m := range msgs {
			c.work <- m // never blocks: work has MaxHeld capacity and room bounds it
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("receive failed", "err", err)
			_ = backoff.Sleep(ctx, time.Second)
		}
	}
}

// takeRoom waits for at least one token, then takes up to max without waiting.
func (c *Consumer) takeRoom(ctx context.Context, max int) int {
	select {
	case <-c.room:
	case <-ctx.Done():
		return 0
	}
	n := 1
	for n < max {
		select {
		case <-c.room:
			n++
		default:
			return n
		}
	}
	return n
}

func (c *Consumer) giveRoom(n int) {
	for range n {
		c.room <- struct{}{}
	}
}

func (c *Consumer) receive(ctx context.Context, n int) ([]*Message, error) {
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
	now := time.Now()
	msgs := make([]*Message, 0, len(out.Messages))
	c.mu.Lock()
	for _, raw := range out.Messages {
		m := newMessage(raw, now.Add(c.cfg.VisibilityTimeout))
		c.held[m.receipt] = m
		msgs = append(msgs, m)
	}
	c.mu.Unlock()
	c.stats.Received.Add(int64(len(msgs)))
	return msgs, nil
}

// process handles messages until work is closed. After a stop began, queued
// messages are released rather than started.
func (c *Consumer) process(ctx context.Context) {
	for m := range c.work {
		if c.stopping.Load() {
			c.release(m)
			continue
		}
		c.handleOne(ctx, m)
	}
}

func (c *Consumer) handleOne(ctx context.Context, m *Message) {
	err := c.handle(ctx, m)
	var perm *PermanentError
	switch {
	case err == nil:
		c.acks <- m
	case ctx.Err() != nil:
		// Cancelled by the stop timeout: give it back for another worker now.
		c.release(m)
	case errors.As(err, &perm):
		c.deadLetter(ctx, m, perm.Reason)
	case c.maxRecv > 0 && m.ReceiveCount >= c.maxRecv:
		// This was the last receive SQS allows before its own redrive; send
		// it now with the reason, which SQS's redrive would not record.
		c.deadLetter(ctx, m, "gave up after "+fmt.Sprint(m.ReceiveCount)+" receives: "+err.Error())
	default:
		c.stats.Retried.Add(1)
		c.log.Warn("message failed, will be retried", "message_id", m.ID, "receive_count", m.ReceiveCount, "err", err)
		c.nack(m)
	}
}

// forget drops a message from the held set and gives its room back.
func (c *Consumer) forget(m *Message) {
	c.mu.Lock()
	_, ok := c.held[m.receipt]
	delete(c.held, m.receipt)
	c.mu.Unlock()
	if ok {
		c.giveRoom(1)
	}
}

func newMessage(raw types.Message, deadline time.Time) *Message {
	m := &Message{
		ID:         aws.ToString(raw.MessageId),
		Body:       aws.ToString(raw.Body),
		Attributes: make(map[string]string, len(raw.MessageAttributes)),
		receipt:    aws.ToString(raw.ReceiptHandle),
		raw:        raw,
		deadline:   deadline,
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
