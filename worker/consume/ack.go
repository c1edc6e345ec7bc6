package consume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// ackFlushEvery is how long a delete may wait for others to share its
// DeleteMessageBatch call. Short: a held message costs a room token.
const ackFlushEvery = 50 * time.Millisecond

// sqsCallTimeout bounds the consumer's own bookkeeping calls.
const sqsCallTimeout = 10 * time.Second

// ackLoop deletes acknowledged messages in batches of up to ten. It runs
// until done is closed, then flushes what is left.
func (c *Consumer) ackLoop(done <-chan struct{}) {
	pending := make([]*Message, 0, 10)
	t := time.NewTicker(ackFlushEvery)
	defer t.Stop()
	flush := func() {
		if len(pending) > 0 {
			c.deleteBatch(pending)
			pending = pending[:0]
		}
	}
	for {
		select {
		case m := <-c.acks:
			pending = append(pending, m)
			if len(pending) == 10 {
				flush()
			}
		case <-t.C:
			flush()
		case <-done:
			for {
				select {
				case m := <-c.acks:
					pending = append(pending, m)
					if len(pending) == 10 {
						flush()
					}
				default:
					flush()
					return
				}
			}
		}
	}
}

// deleteBatch deletes up to ten messages, retrying entries that failed for
// a reason worth retrying. A message that cannot be deleted is forgotten: its
// visibility runs out, it is delivered again, and being idempotent its write
// is repeated harmlessly.
func (c *Consumer) deleteBatch(msgs []*Message) {
	todo := msgs
	for attempt := 1; attempt <= 3 && len(todo) > 0; attempt++ {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(todo))
		for i, m := range todo {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.receipt)}
		}
		ctx, cancel := context.WithTimeout(context.Background(), sqsCallTimeout)
		out, err := c.sqs.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(c.cfg.QueueURL), Entries: entries})
		cancel()
		if err != nil {
			c.log.Warn("delete batch failed", "attempt", attempt, "messages", len(todo), "err", err)
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
			continue
		}
		var retry []*Message
		failed := make(map[int]bool, len(out.Failed))
		for _, f := range out.Failed {
			i, _ := strconv.Atoi(aws.ToString(f.Id))
			if i < 0 || i >= len(todo) {
				continue
			}
			failed[i] = true
			if f.SenderFault {
				// Typically ReceiptHandleIsInvalid: the message became visible
				// again and someone else received it. Retrying cannot help.
				c.log.Warn("cannot delete message", "message_id", todo[i].ID, "code", aws.ToString(f.Code), "reason", aws.ToString(f.Message))
				c.forget(todo[i])
				continue
			}
			retry = append(retry, todo[i])
		}
		for i, m := range todo {
			if !failed[i] {
				c.stats.Deleted.Add(1)
				c.forget(m)
			}
		}
		todo = retry
	}
	for _, m := range todo {
		c.log.Warn("giving up deleting message; it will be delivered and written again", "message_id", m.ID)
		c.forget(m)
	}
}

// nack sends a failed message back with a delay that grows with its receive
// count, so a batch that fails for a while (Neptune down) is retried without
// spinning, and the queue's redrive policy eventually applies.
func (c *Consumer) nack(m *Message) {
	delay := retryDelay(m.ReceiveCount)
	c.setVisibility(m, delay)
	c.forget(m)
}

// retryDelay is 2s, 4s, 8s ... up to 60s by receive count.
func retryDelay(receiveCount int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < receiveCount && d < time.Minute; i++ {
		d *= 2
	}
	return min(d, time.Minute)
}

// release gives a message back at once (visibility 0) so another worker can
// take it now rather than after the visibility timeout.
func (c *Consumer) release(m *Message) {
	c.setVisibility(m, 0)
	c.stats.Released.Add(1)
	c.forget(m)
}

// setVisibility changes one message's visibility. A failure is logged and
// not fatal: the visibility timeout returns the message anyway.
func (c *Consumer) setVisibility(m *Message, d time.Duration) {
	c.changeVisibility([]*Message{m}, d)
}

// releaseAll gives back every message still held, ten per call.
func (c *Consumer) releaseAll() {
	c.mu.Lock()
	left := make([]*Message, 0, len(c.held))
	for _, m := range c.held {
		left = append(left, m)
	}
	c.mu.Unlock()
	for start := 0; start < len(left); start += 10 {
		batch := left[start:min(start+10, len(left))]
		c.changeVisibility(batch, 0)
		for _, m := range batch {
			c.stats.Released.Add(1)
			c.forget(m)
		}
	}
}

// changeVisibility sets the visibility of up to ten messages and returns the
// ones it succeeded for.
func (c *Consumer) changeVisibility(msgs []*Message, d time.Duration) []*Message {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(msgs))
	for i, m := range msgs {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(m.receipt), VisibilityTimeout: int32(d / time.Second),
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), sqsCallTimeout)
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

// heartbeat extends the visibility of held messages once less than half of
// it is left, so a message in work never reappears to another worker.
func (c *Consumer) heartbeat(ctx context.Context) {
	every := max(c.cfg.VisibilityTimeout/10, 200*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		c.mu.Lock()
		var due []*Message
		for _, m := range c.held {
			if m.deadline.Sub(now) < c.cfg.VisibilityTimeout/2 {
				due = append(due, m)
			}
		}
		c.mu.Unlock()
		for start := 0; start < len(due); start += 10 {
			batch := due[start:min(start+10, len(due))]
			extended := c.changeVisibility(batch, c.cfg.VisibilityTimeout)
			c.mu.Lock()
			for _, m := range extended {
				m.deadline = now.Add(c.cfg.VisibilityTimeout)
			}
			c.mu.Unlock()
			c.stats.Extended.Add(int64(len(extended)))
		}
	}
}

// Limits of SQS the dead-letter path must respect.
const (
	maxMessageBytes     = 1 << 20
	maxMessageAttrs     = 10
	maxReasonChars      = 1024
	attrError           = "error"
	attrOriginalMessage = "original_message_id"
)

// deadLetter sends a message to the DLQ with the reason in its "error"
// attribute, then deletes it from the queue. If the DLQ send fails the
// message is not deleted: it comes back, and SQS's redrive remains the
// backstop. Nothing is lost either way.
func (c *Consumer) deadLetter(ctx context.Context, m *Message, reason string) {
	reason = truncateRunes(reason, maxReasonChars)
	in := dlqMessage(c.cfg.DLQURL, m, reason)
	if in == nil {
		c.log.Error("message too large to dead-letter with a reason; leaving it to the queue's redrive", "message_id", m.ID, "reason", reason)
		c.nack(m)
		return
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sqsCallTimeout)
	defer cancel()
	if _, err := c.sqs.SendMessage(sendCtx, in); err != nil {
		c.log.Error("cannot send message to the DLQ; it will come back", "message_id", m.ID, "err", err)
		c.nack(m)
		return
	}
	c.stats.DeadLettered.Add(1)
	c.log.Warn("message sent to the DLQ", "message_id", m.ID, "reason", reason)
	c.acks <- m
}

// dlqMessage builds the DLQ copy: the body untouched, the reason, the
// original id, and as many of the original attributes as SQS's limits allow
// (ten attributes, 1 MiB with the body). nil when even the bare copy is too
// large.
func dlqMessage(dlqURL string, m *Message, reason string) *sqs.SendMessageInput {
	attrs := map[string]types.MessageAttributeValue{
		attrError:           {DataType: aws.String("String"), StringValue: aws.String(reason)},
		attrOriginalMessage: {DataType: aws.String("String"), StringValue: aws.String(m.ID)},
	}
	size := len(m.Body) + attrSize(attrs)
	if size > maxMessageBytes {
		return nil
	}
	// Keep the attributes that tell how to read the body first.
	keys := make([]string, 0, len(m.raw.MessageAttributes))
	for _, k := range []string{"schema", "content-encoding", "source"} {
		if _, ok := m.raw.MessageAttributes[k]; ok {
			keys = append(keys, k)
		}
	}
	for k := range m.raw.MessageAttributes {
		if k != "schema" && k != "content-encoding" && k != "source" && k != attrError && k != attrOriginalMessage {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if len(attrs) == maxMessageAttrs {
			break
		}
		v := m.raw.MessageAttributes[k]
		one := map[string]types.MessageAttributeValue{k: v}
		if size+attrSize(one) > maxMessageBytes {
			continue
		}
		attrs[k] = v
		size += attrSize(one)
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(dlqURL), MessageBody: aws.String(m.Body), MessageAttributes: attrs}
	if m.AWSTraceHeader != "" {
		in.MessageSystemAttributes = map[string]types.MessageSystemAttributeValue{
			"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String(m.AWSTraceHeader)},
		}
	}
	return in
}

// attrSize counts attributes as SQS does toward the message size: name,
// type and value.
func attrSize(attrs map[string]types.MessageAttributeValue) int {
	n := 0
	for k, v := range attrs {
		n += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// findDLQ resolves the DLQ from the queue's RedrivePolicy unless configured,
// and learns maxReceiveCount.
func (c *Consumer) findDLQ(ctx context.Context) error {
	out, err := c.sqs.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(c.cfg.QueueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return fmt.Errorf("cannot read attributes of %s: %w", c.cfg.QueueURL, err)
	}
	policy := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	var rp struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if policy != "" {
		if err := json.Unmarshal([]byte(policy), &rp); err != nil {
			return fmt.Errorf("queue %s has an unreadable RedrivePolicy: %w", c.cfg.QueueURL, err)
		}
		// maxReceiveCount is a number in some responses and a string in others.
		if n, err := strconv.Atoi(strings.Trim(string(rp.MaxReceiveCount), `"`)); err == nil {
			c.maxRecv = n
		}
	}
	if c.cfg.DLQURL != "" {
		return nil
	}
	if rp.DeadLetterTargetArn == "" {
		return errors.New("queue " + c.cfg.QueueURL + " has no RedrivePolicy and no DLQ_URL is set: malformed messages would have nowhere to go")
	}
	// arn:aws:sqs:region:account:name
	parts := strings.Split(rp.DeadLetterTargetArn, ":")
	if len(parts) != 6 {
		return fmt.Errorf("RedrivePolicy names an unexpected DLQ ARN %q", rp.DeadLetterTargetArn)
	}
	u, err := c.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
	if err != nil {
		return fmt.Errorf("cannot find the DLQ %s: %w", rp.DeadLetterTargetArn, err)
	}
	c.cfg.DLQURL = aws.ToString(u.QueueUrl)
	c.log.Info("dead-letter queue found from RedrivePolicy", "dlq", c.cfg.DLQURL, "max_receive_count", c.maxRecv)
	return nil
}

func parseInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
