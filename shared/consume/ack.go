package consume

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/backoff"
)

// ackFlushEvery is how long a delete may wait for others to share its
// DeleteMessageBatch call. Short: a held message takes a place of MaxHeld.
const ackFlushEvery = 50 * time.Millisecond

// sqsCallTimeout bounds the consumer's own bookkeeping calls.
const sqsCallTimeout = 10 * time.Second

// pendingAck is a message whose work is done and which is not deleted yet.
type pendingAck struct {
	m         *Message
	failures  int
	notBefore time.Time
}

// ackLoop deletes acknowledged messages in batches of up to ten. A delete
// that fails for a reason worth retrying is retried with backoff while the
// message stays held (and hidden by the heartbeat): a message whose write
// succeeded must not come back and spend a receive it may not have. It runs
// until stop delivers the stop's context, then makes a last attempt for what
// is left within it.
func (c *Consumer) ackLoop(ctx context.Context, stop <-chan context.Context) {
	var pending []pendingAck
	t := time.NewTicker(ackFlushEvery)
	defer t.Stop()
	flush := func(now time.Time, all bool) {
		var ready, later []pendingAck
		for _, p := range pending {
			if all || !now.Before(p.notBefore) {
				ready = append(ready, p)
			} else {
				later = append(later, p)
			}
		}
		for start := 0; start < len(ready); start += 10 {
			later = append(later, c.deleteBatch(ctx, ready[start:min(start+10, len(ready))])...)
		}
		pending = later
	}
	for {
		c.lastAck.Store(time.Now().UnixNano())
		select {
		case m := <-c.acks:
			pending = append(pending, pendingAck{m: m})
			if len(pending) >= 10 {
				flush(time.Now(), false)
			}
		case now := <-t.C:
			flush(now, false)
		case ctx = <-stop:
			for {
				select {
				case m := <-c.acks:
					pending = append(pending, pendingAck{m: m})
				default:
					flush(time.Now(), true)
					for _, p := range pending {
						// Its write is done; it comes back after its visibility
						// timeout and is written again, harmlessly.
						c.log.WarnContext(p.m.logCtx(), "stopping without deleting a written message; it will be delivered and written again", "message_id", p.m.ID)
						c.inflight.remove(p.m)
					}
					return
				}
			}
		}
	}
}

// deleteBatch deletes up to ten messages and returns those to try again.
func (c *Consumer) deleteBatch(ctx context.Context, batch []pendingAck) []pendingAck {
	entries := make([]types.DeleteMessageBatchRequestEntry, len(batch))
	for i, p := range batch {
		entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(p.m.receipt)}
	}
	callCtx, cancel := context.WithTimeout(ctx, sqsCallTimeout)
	out, err := c.sqs.DeleteMessageBatch(callCtx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.cfg.QueueURL), Entries: entries})
	cancel()
	retry := func(p pendingAck) pendingAck {
		p.failures++
		p.notBefore = time.Now().Add(backoff.FullJitter(p.failures-1, 100*time.Millisecond, 5*time.Second))
		return p
	}
	var again []pendingAck
	if err != nil {
		c.log.Warn("delete batch failed; will retry", "messages", len(batch), "err", err)
		for _, p := range batch {
			again = append(again, retry(p))
		}
		return again
	}
	failed := make(map[string]types.BatchResultErrorEntry, len(out.Failed))
	for _, f := range out.Failed {
		failed[aws.ToString(f.Id)] = f
	}
	for i, p := range batch {
		f, bad := failed[strconv.Itoa(i)]
		switch {
		case !bad:
			c.stats.Deleted.Add(1)
			c.metrics.settle("deleted", 1)
			c.inflight.remove(p.m)
		case f.SenderFault:
			// Typically ReceiptHandleIsInvalid: the message became visible
			// again and someone else has it now. Retrying cannot help; its
			// write is idempotent, so the other receiver's copy is harmless.
			c.log.WarnContext(p.m.logCtx(), "cannot delete message", "message_id", p.m.ID, "code", aws.ToString(f.Code), "reason", aws.ToString(f.Message))
			c.inflight.remove(p.m)
		default:
			c.log.WarnContext(p.m.logCtx(), "delete of a message failed; will retry", "message_id", p.m.ID, "code", aws.ToString(f.Code))
			again = append(again, retry(p))
		}
	}
	return again
}

// nack sends a message the sink refused back to the queue with a delay that
// grows with its receive count; the queue's redrive policy is the backstop.
func (c *Consumer) nack(ctx context.Context, m *Message) {
	c.changeVisibility(ctx, []*Message{m}, retryDelay(m.ReceiveCount))
	c.inflight.remove(m)
}

// retryDelay is 2s, 4s, 8s ... up to 60s by receive count: the one backoff,
// without jitter, since SQS spreads redeliveries anyway.
func retryDelay(receiveCount int) time.Duration {
	return backoff.Exponential(max(receiveCount-1, 0), 2*time.Second, time.Minute)
}

// releaseAll gives back every message still held, ten per call: visibility
// 0, so another worker takes it at once. A message on its last receive is
// sent afresh instead: released, its next receive would move it to the DLQ
// for a fault that is not its own.
func (c *Consumer) releaseAll(ctx context.Context) {
	var release []*Message
	for _, m := range c.inflight.all() {
		if c.maxRecv > 0 && m.ReceiveCount >= c.maxRecv {
			c.requeue(ctx, m)
			continue
		}
		release = append(release, m)
	}
	for start := 0; start < len(release); start += 10 {
		batch := release[start:min(start+10, len(release))]
		c.changeVisibility(ctx, batch, 0)
		for _, m := range batch {
			c.stats.Released.Add(1)
			c.metrics.settle("released", 1)
			c.inflight.remove(m)
		}
	}
}

// requeue sends a copy of m (body, attributes, trace header) to its own queue
// and deletes m, so its receive count starts over. Writes are idempotent, so
// the copy being handled twice (a failed delete) is harmless. If the send
// fails, m is released as usual.
func (c *Consumer) requeue(ctx context.Context, m *Message) {
	in := &sqs.SendMessageInput{QueueUrl: aws.String(c.cfg.QueueURL), MessageBody: aws.String(m.Body), MessageAttributes: m.raw.MessageAttributes}
	if m.AWSTraceHeader != "" {
		in.MessageSystemAttributes = map[string]types.MessageSystemAttributeValue{
			string(types.MessageSystemAttributeNameAWSTraceHeader): {DataType: aws.String("String"), StringValue: aws.String(m.AWSTraceHeader)},
		}
	}
	callCtx, cancel := context.WithTimeout(ctx, sqsCallTimeout)
	defer cancel()
	if _, err := c.sqs.SendMessage(callCtx, in); err != nil {
		c.log.ErrorContext(m.logCtx(), "cannot send a fresh copy of a message on its last receive; releasing it", "message_id", m.ID, "err", err)
		c.changeVisibility(ctx, []*Message{m}, 0)
		c.stats.Released.Add(1)
		c.metrics.settle("released", 1)
		c.inflight.remove(m)
		return
	}
	c.stats.Requeued.Add(1)
	c.metrics.settle("requeued", 1)
	if c.deleteBatch(ctx, []pendingAck{{m: m}}) != nil {
		c.log.WarnContext(m.logCtx(), "a requeued message's original could not be deleted; it will be written twice, harmlessly", "message_id", m.ID)
		c.inflight.remove(m)
	}
}

// changeVisibility sets the visibility of up to ten messages and returns the
// ones it succeeded for. A failure is logged, not fatal: the visibility
// timeout returns the messages anyway.
func (c *Consumer) changeVisibility(ctx context.Context, msgs []*Message, d time.Duration) []*Message {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.receipt), VisibilityTimeout: int32(d / time.Second),
		}
	}
	ctx, cancel := context.WithTimeout(ctx, sqsCallTimeout)
	defer cancel()
	out, err := c.sqs.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(c.cfg.QueueURL), Entries: entries})
	if err != nil {
		c.log.Warn("cannot change visibility", "messages", len(msgs), "err", err)
		return nil
	}
	failed := make(map[string]bool, len(out.Failed))
	for _, f := range out.Failed {
		failed[aws.ToString(f.Id)] = true
		c.log.Warn("cannot change visibility of a message", "code", aws.ToString(f.Code), "reason", aws.ToString(f.Message))
	}
	ok := make([]*Message, 0, len(msgs))
	for i, m := range msgs {
		if !failed[strconv.Itoa(i)] {
			ok = append(ok, m)
		}
	}
	return ok
}

// heartbeatEvery is how often the heartbeat looks for messages to extend.
func (c *Consumer) heartbeatEvery() time.Duration {
	return max(c.cfg.VisibilityTimeout/10, 200*time.Millisecond)
}

// heartbeat extends the visibility of held messages once less than half of it
// is left, soonest first, so a message held never reappears to another
// worker, except one in work past its deadline: that one is let go.
func (c *Consumer) heartbeat(ctx context.Context) {
	t := time.NewTicker(c.heartbeatEvery())
	defer t.Stop()
	for {
		c.lastBeat.Store(time.Now().UnixNano())
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		due := c.inflight.due(now, now.Add(c.cfg.VisibilityTimeout/2))
		for start := 0; start < len(due); start += 10 {
			batch := due[start:min(start+10, len(due))]
			extended := c.changeVisibility(ctx, batch, c.cfg.VisibilityTimeout)
			c.inflight.extended(extended, now.Add(c.cfg.VisibilityTimeout))
			c.stats.Extended.Add(int64(len(extended)))
		}
	}
}
