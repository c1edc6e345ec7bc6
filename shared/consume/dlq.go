package consume

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// deadLetter sends a message to the DLQ with the reason in its "error"
// attribute (edgebatch.DeadLetter builds it within SQS's limits), then deletes
// it from the queue. If the DLQ send fails the message is not deleted: it is
// sent back with a delay, and SQS's redrive remains the backstop. Nothing is
// lost either way.
func (c *Consumer) deadLetter(ctx context.Context, m *Message, reason string) {
	dl, err := edgebatch.DeadLetter(m.Body, m.Attributes, m.ID, reason)
	if err != nil {
		c.log.ErrorContext(m.logCtx(), "cannot dead-letter the message with its reason; leaving it to the queue's redrive", "message_id", m.ID, "reason", reason, "err", err)
		c.nack(ctx, m)
		return
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(c.cfg.DLQURL), MessageBody: aws.String(dl.Body), MessageAttributes: stringAttributes(dl.Attributes)}
	if m.AWSTraceHeader != "" {
		in.MessageSystemAttributes = map[string]types.MessageSystemAttributeValue{
			string(types.MessageSystemAttributeNameAWSTraceHeader): {DataType: aws.String("String"), StringValue: aws.String(m.AWSTraceHeader)},
		}
	}
	sendCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sqsCallTimeout)
	defer cancel()
	if _, err := c.sqs.SendMessage(sendCtx, in); err != nil {
		if c.maxRecv > 0 && m.ReceiveCount >= c.maxRecv && transient(err) {
			// Nacked, its next receive would be SQS's redrive, which drops
			// the reason: send it afresh so it comes back with receives to
			// spare and is dead-lettered with its reason then. Only for a
			// passing failure: a DLQ that refuses the message for good
			// (permissions, KMS, size) would make that a loop, and SQS's
			// redrive is the better end.
			c.log.ErrorContext(m.logCtx(), "cannot send the message to the DLQ on its last receive; sending it afresh to try again", "message_id", m.ID, "err", err)
			c.requeue(ctx, m)
			return
		}
		c.log.ErrorContext(m.logCtx(), "cannot send the message to the DLQ; it will come back", "message_id", m.ID, "err", err)
		c.nack(ctx, m)
		return
	}
	c.stats.DeadLettered.Add(1)
	c.metrics.settle("dead_lettered", 1)
	c.log.WarnContext(m.logCtx(), "message sent to the DLQ", "message_id", m.ID, "receive_count", m.ReceiveCount, "reason", dl.Attributes[edgebatch.AttrError])
	c.acks <- m
}

// transient reports whether a failed SQS call may succeed when repeated: not
// a refusal SQS puts on the caller (access, KMS, an invalid message).
func transient(err error) bool {
	var ae smithy.APIError
	return !errors.As(err, &ae) || ae.ErrorFault() != smithy.FaultClient
}

func stringAttributes(attrs map[string]string) map[string]types.MessageAttributeValue {
	out := make(map[string]types.MessageAttributeValue, len(attrs))
	for k, v := range attrs {
		out[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return out
}

// findDLQ resolves the DLQ from the queue's RedrivePolicy unless configured,
// and learns maxReceiveCount, which decides when a refused message is
// dead-lettered by the worker (with its reason) rather than by SQS.
func (c *Consumer) findDLQ(ctx context.Context) error {
	target, maxRecv, err := readRedrive(ctx, c.sqs, c.cfg.QueueURL)
	if err != nil {
		return err
	}
	c.maxRecv = maxRecv
	if c.cfg.DLQURL != "" {
		return nil
	}
	if target == "" {
		return errors.New("queue " + c.cfg.QueueURL + " has no RedrivePolicy and no DLQ_URL is set: malformed messages would have nowhere to go")
	}
	if c.cfg.DLQURL, err = queueURLOf(ctx, c.sqs, target); err != nil {
		return err
	}
	c.log.Info("dead-letter queue found from RedrivePolicy", "dlq", c.cfg.DLQURL, "max_receive_count", c.maxRecv)
	return nil
}

// DLQFinder is the SQS API FindDLQ calls.
type DLQFinder interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// FindDLQ is the URL of the dead-letter queue a queue's RedrivePolicy names.
func FindDLQ(ctx context.Context, client DLQFinder, queueURL string) (string, error) {
	target, _, err := readRedrive(ctx, client, queueURL)
	if err != nil {
		return "", err
	}
	if target == "" {
		return "", fmt.Errorf("queue %s has no RedrivePolicy", queueURL)
	}
	return queueURLOf(ctx, client, target)
}

// readRedrive reads a queue's RedrivePolicy: its dead-letter queue's ARN and
// maxReceiveCount, both zero when it has none.
func readRedrive(ctx context.Context, client DLQFinder, queueURL string) (targetARN string, maxReceiveCount int, err error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return "", 0, fmt.Errorf("cannot read attributes of %s: %w", queueURL, err)
	}
	policy := out.Attributes[string(types.QueueAttributeNameRedrivePolicy)]
	if policy == "" {
		return "", 0, nil
	}
	var rp struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(policy), &rp); err != nil {
		return "", 0, fmt.Errorf("queue %s has an unreadable RedrivePolicy: %w", queueURL, err)
	}
	// maxReceiveCount is a number in some responses and a string in others.
	if n, err := strconv.Atoi(strings.Trim(string(rp.MaxReceiveCount), `"`)); err == nil {
		maxReceiveCount = n
	}
	return rp.DeadLetterTargetArn, maxReceiveCount, nil
}

// queueURLOf finds the URL of the queue an ARN names.
func queueURLOf(ctx context.Context, client DLQFinder, queueARN string) (string, error) {
	a, err := arn.Parse(queueARN)
	if err != nil || a.Service != "sqs" || a.Resource == "" {
		return "", fmt.Errorf("RedrivePolicy names %q, which is not an SQS queue ARN", queueARN)
	}
	u, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(a.Resource), QueueOwnerAWSAccountId: aws.String(a.AccountID)})
	if err != nil {
		return "", fmt.Errorf("cannot find the DLQ %s: %w", queueARN, err)
	}
	return aws.ToString(u.QueueUrl), nil
}

func parseInt(s string) (int64, bool) {
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
