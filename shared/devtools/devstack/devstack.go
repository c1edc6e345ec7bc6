// Package devstack starts graphfleet's local infrastructure in one call: the
// SQS emulator (local-aws-sqs) with the ingest queue, its DLQ and the replay
// queue, and the in-memory Neptune stand-in. `make up`, the end-to-end tests
// and the load-test harness all use it, so they run against the same thing.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
)

// Options configure Start. The zero value picks free ports.
type Options struct {
	// SQSPort is the emulator's port; 0 picks a free one.
	SQSPort int
	// NeptuneAddr is the stand-in's listen address; "127.0.0.1:0" when empty.
	NeptuneAddr string
	// QueuePrefix names the queues <prefix>-ingest, -dlq, -replay; "graphfleet" when empty.
	QueuePrefix string
	// Queue options (visibility timeout, max receive count).
	Queues sqslocal.QueueOptions
	// Neptune options beyond the address (faults, workers, credentials).
	Neptune neptunelocal.Options
	// SQSOutput receives the emulator's output; a temp file when nil.
	SQSOutput io.Writer
}

// Stack is the running local infrastructure.
type Stack struct {
	SQS     *sqslocal.Server
	Client  *sqs.Client
	Queues  sqslocal.Queues
	Neptune *neptunelocal.Server
}

// Start starts the emulator and the stand-in and creates the queues.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	if opts.QueuePrefix == "" {
		opts.QueuePrefix = "graphfleet"
	}
	srv, err := sqslocal.Start(ctx, sqslocal.Options{Port: opts.SQSPort, Output: opts.SQSOutput})
	if err != nil {
		return nil, err
	}
	st := &Stack{SQS: srv, Client: srv.Client(ctx)}
	st.Queues, err = sqslocal.CreateQueuesWithOptions(ctx, st.Client, opts.QueuePrefix, opts.Queues)
	if err != nil {
		st.Close()
		return nil, err
	}
	nopts := opts.Neptune
	nopts.Addr = opts.NeptuneAddr
	st.Neptune, err = neptunelocal.Start(nopts)
	if err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// Env is the environment a worker or producer process needs to use the
// stack: the SDK's own AWS_ENDPOINT_URL_SQS, a region, static dummy
// credentials (the emulator checks none), the queue and the Neptune endpoint.
func (s *Stack) Env() []string {
	return []string{
		"AWS_ENDPOINT_URL_SQS=" + s.SQS.Endpoint,
		"AWS_REGION=" + s.SQS.Region,
		"AWS_ACCESS_KEY_ID=local",
		"AWS_SECRET_ACCESS_KEY=local",
		"AWS_EC2_METADATA_DISABLED=true",
		"QUEUE_URL=" + s.Queues.Ingest,
		"REPLAY_QUEUE_URL=" + s.Queues.Replay,
		"NEPTUNE_ENDPOINT=" + s.Neptune.URL(),
	}
}

// Depth is a queue's ApproximateNumberOfMessages (visible) and
// ApproximateNumberOfMessagesNotVisible (in flight).
func (s *Stack) Depth(ctx context.Context, queueURL string) (visible, inFlight int, err error) {
	out, err := s.Client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return 0, 0, fmt.Errorf("cannot read depth of %s: %w", queueURL, err)
	}
	visible, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	inFlight, _ = strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	return visible, inFlight, nil
}

// Close stops the stand-in and the emulator.
func (s *Stack) Close() error {
	var errs []error
	if s.Neptune != nil {
		errs = append(errs, s.Neptune.Close())
	}
	if s.SQS != nil {
		errs = append(errs, s.SQS.Close())
	}
	return errors.Join(errs...)
}
