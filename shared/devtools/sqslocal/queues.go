package sqslocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// Queue name suffixes: CreateQueues makes <prefix>-ingest, <prefix>-dlq and
// <prefix>-replay.
const (
	IngestSuffix = "-ingest"
	DLQSuffix    = "-dlq"
	ReplaySuffix = "-replay"
)

// Defaults of QueueOptions, the values deploy/ecs mirrors.
const (
	DefaultVisibilityTimeout  = 30 * time.Second
	DefaultMaxReceiveCount    = 5
	DefaultMaximumMessageSize = 1 << 20 // 1,048,576 bytes, SQS's maximum
)

// Queues are the URLs (and ARNs) of graphfleet's three queues.
type Queues struct {
	Ingest, DLQ, Replay string // queue URLs

	IngestARN, DLQARN, ReplayARN string
}

// QueueOptions tunes CreateQueuesWithOptions. Zero fields take the defaults.
type QueueOptions struct {
	// VisibilityTimeout of all three queues, whole seconds, 0 s to 12 h.
	// Default 30 s.
	VisibilityTimeout time.Duration
	// MaxReceiveCount of the ingest and replay queues' RedrivePolicy.
	// Default 5.
	MaxReceiveCount int
	// MaximumMessageSize of all three queues in bytes. Default 1 MiB.
	MaximumMessageSize int
	// MessageRetentionPeriod of the DLQ; 0 leaves the service default (4
	// days). Real SQS keeps a standard queue message's original enqueue time
	// when it is dead-lettered, so the DLQ's retention should be the longer.
	DLQRetention time.Duration
}

var queuePrefixRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,73}$`) // 80 minus len("-replay")

// CreateQueues creates (or brings up to date) the queues <prefix>-ingest,
// <prefix>-dlq and <prefix>-replay with the default QueueOptions: maximum
// message size 1 MiB, visibility timeout 30 s, ingest and replay redriving to
// the DLQ after 5 receives, and the DLQ's RedriveAllowPolicy allowing exactly
// those two sources. It is idempotent: on an existing queue whose attributes
// differ it sets them (CreateQueue alone would refuse).
func CreateQueues(ctx context.Context, client *sqs.Client, prefix string) (Queues, error) {
	return CreateQueuesWithOptions(ctx, client, prefix, QueueOptions{})
}

// CreateQueuesWithOptions is CreateQueues with non-default options.
func CreateQueuesWithOptions(ctx context.Context, client *sqs.Client, prefix string, opts QueueOptions) (Queues, error) {
	if !queuePrefixRE.MatchString(prefix) {
		return Queues{}, fmt.Errorf("sqslocal: queue prefix %q: want 1 to 73 of [A-Za-z0-9_-]", prefix)
	}
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = DefaultVisibilityTimeout
	}
	if opts.MaxReceiveCount == 0 {
		opts.MaxReceiveCount = DefaultMaxReceiveCount
	}
	if opts.MaximumMessageSize == 0 {
		opts.MaximumMessageSize = DefaultMaximumMessageSize
	}
	if opts.VisibilityTimeout < 0 || opts.VisibilityTimeout > 12*time.Hour || opts.VisibilityTimeout%time.Second != 0 {
		return Queues{}, fmt.Errorf("sqslocal: visibility timeout %v: want whole seconds from 0 s to 12 h", opts.VisibilityTimeout)
	}
	if opts.MaxReceiveCount < 1 || opts.MaxReceiveCount > 1000 {
		return Queues{}, fmt.Errorf("sqslocal: max receive count %d: want 1 to 1000", opts.MaxReceiveCount)
	}
	if opts.MaximumMessageSize < 1024 || opts.MaximumMessageSize > DefaultMaximumMessageSize {
		return Queues{}, fmt.Errorf("sqslocal: maximum message size %d: want 1024 to %d", opts.MaximumMessageSize, DefaultMaximumMessageSize)
	}

	base := map[string]string{
		string(types.QueueAttributeNameMaximumMessageSize): strconv.Itoa(opts.MaximumMessageSize),
		string(types.QueueAttributeNameVisibilityTimeout):  strconv.Itoa(int(opts.VisibilityTimeout / time.Second)),
	}
	var q Queues
	var err error

	// The DLQ first: a RedrivePolicy must name an existing queue.
	dlqAttrs := maps.Clone(base)
	if opts.DLQRetention > 0 {
		dlqAttrs[string(types.QueueAttributeNameMessageRetentionPeriod)] = strconv.Itoa(int(opts.DLQRetention / time.Second))
	}
	if q.DLQ, q.DLQARN, err = ensureQueue(ctx, client, prefix+DLQSuffix, dlqAttrs); err != nil {
		return Queues{}, err
	}

	redrive, err := json.Marshal(map[string]any{
		"deadLetterTargetArn": q.DLQARN,
		"maxReceiveCount":     opts.MaxReceiveCount,
	})
	if err != nil {
		return Queues{}, err
	}
	srcAttrs := maps.Clone(base)
	srcAttrs[string(types.QueueAttributeNameRedrivePolicy)] = string(redrive)
	if q.Ingest, q.IngestARN, err = ensureQueue(ctx, client, prefix+IngestSuffix, srcAttrs); err != nil {
		return Queues{}, err
	}
	if q.Replay, q.ReplayARN, err = ensureQueue(ctx, client, prefix+ReplaySuffix, srcAttrs); err != nil {
		return Queues{}, err
	}

	allow, err := json.Marshal(map[string]any{
		"redrivePermission": "byQueue",
		"sourceQueueArns":   []string{q.IngestARN, q.ReplayARN},
	})
	if err != nil {
		return Queues{}, err
	}
	if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{
		QueueUrl:   aws.String(q.DLQ),
		Attributes: map[string]string{string(types.QueueAttributeNameRedriveAllowPolicy): string(allow)},
	}); err != nil {
		return Queues{}, fmt.Errorf("sqslocal: setting RedriveAllowPolicy of %s: %w", prefix+DLQSuffix, err)
	}
	return q, nil
}

// ensureQueue creates the queue, or sets attrs on it when it exists with
// other attributes, and returns its URL and ARN.
func ensureQueue(ctx context.Context, client *sqs.Client, name string, attrs map[string]string) (url, arn string, err error) {
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	switch {
	case err == nil:
		url = aws.ToString(out.QueueUrl)
	case isQueueExists(err):
		got, gerr := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if gerr != nil {
			return "", "", fmt.Errorf("sqslocal: queue %s exists but: %w", name, gerr)
		}
		url = aws.ToString(got.QueueUrl)
		if _, serr := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: got.QueueUrl, Attributes: attrs}); serr != nil {
			return "", "", fmt.Errorf("sqslocal: updating queue %s: %w", name, serr)
		}
	default:
		return "", "", fmt.Errorf("sqslocal: creating queue %s: %w", name, err)
	}
	ga, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		return "", "", fmt.Errorf("sqslocal: ARN of queue %s: %w", name, err)
	}
	arn = ga.Attributes[string(types.QueueAttributeNameQueueArn)]
	if arn == "" {
		return "", "", fmt.Errorf("sqslocal: queue %s has no QueueArn attribute", name)
	}
	return url, arn, nil
}

// isQueueExists reports CreateQueue's "exists with different attributes".
// SQS's JSON protocol names it QueueNameExists; the query-compatible code
// (x-amzn-query-error) is QueueAlreadyExists.
func isQueueExists(err error) bool {
	var qe *types.QueueNameExists
	if errors.As(err, &qe) {
		return true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "QueueNameExists", "QueueAlreadyExists", "AWS.SimpleQueueService.QueueNameExists":
			return true
		}
	}
	return false
}
