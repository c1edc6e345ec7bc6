package sqssend

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// QueueAttributes is the call that reads a queue's settings.
type QueueAttributes interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

const (
	// LegacyQueueMessageBytes is the MaximumMessageSize that queues created
	// before SQS raised its limit to 1 MiB (2025) often still have: 256 KiB.
	// It is the size to assume when a queue's own cannot be read, since a
	// message that fits it fits every queue.
	LegacyQueueMessageBytes = 256 << 10

	// MinQueueMessageBytes is the smallest MaximumMessageSize that edge
	// batches can be sent to: edgebatch.Split's smallest limit (room for a
	// seal) plus edgebatch.AttributeReserve. SQS allows queues down to 1 KiB.
	MinQueueMessageBytes = edgebatch.MinSplitBytes + edgebatch.AttributeReserve
)

// ErrQueueTooSmall is wrapped by MessageLimit's error for a queue whose
// MaximumMessageSize is below MinQueueMessageBytes.
var ErrQueueTooSmall = errors.New("queue's MaximumMessageSize is too small for edge batches")

// QueueMaxMessageBytes reads the queue's MaximumMessageSize attribute. It
// costs one GetQueueAttributes call and needs sqs:GetQueueAttributes.
func QueueMaxMessageBytes(ctx context.Context, client QueueAttributes, queueURL string) (int, error) {
	name := string(types.QueueAttributeNameMaximumMessageSize)
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameMaximumMessageSize},
	})
	if err != nil {
		return 0, fmt.Errorf("cannot read %s of %s: %w", name, queueURL, err)
	}
	v, ok := out.Attributes[name]
	if !ok {
		return 0, fmt.Errorf("cannot read %s of %s: the queue's attributes do not include it", name, queueURL)
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("cannot read %s of %s: %q is not a size in bytes", name, queueURL, v)
	}
	return n, nil
}

// IsQueueMissing reports whether err says the queue does not exist, as
// opposed to a failure to read it (access denied, throttling, the network).
func IsQueueMissing(err error) bool {
	var missing *types.QueueDoesNotExist
	if errors.As(err, &missing) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue":
			return true
		}
	}
	return false
}

// MessageLimit is the most an encoded edge batch may count (body and
// attributes, as edgebatch.Message.Size and SplitLimits.MaxBytes count them)
// to be sent to a queue whose MaximumMessageSize is queueMax: the smaller of
// queueMax and SQS's edgebatch.MaxMessageBytes, less
// edgebatch.AttributeReserve. The reserve is what the sender adds after
// encoding (traceparent, tracestate) and what the worker adds when it moves
// the message to the DLQ (error), so a message that fits the queue when sent
// still fits the DLQ with its reason. A queue below MinQueueMessageBytes is
// an error wrapping ErrQueueTooSmall.
func MessageLimit(queueMax int) (int, error) {
	if queueMax < MinQueueMessageBytes {
		return 0, fmt.Errorf("%w: %d bytes; edge batches need at least %d (%d for the smallest batch, a seal, plus %d for trace and DLQ attributes); set it to %d, SQS's maximum",
			ErrQueueTooSmall, queueMax, MinQueueMessageBytes, edgebatch.MinSplitBytes, edgebatch.AttributeReserve, edgebatch.MaxMessageBytes)
	}
	return min(queueMax, edgebatch.MaxMessageBytes) - edgebatch.AttributeReserve, nil
}
