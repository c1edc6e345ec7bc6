package sqslocal_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
)

// testTimeout bounds each test's SQS calls: generous, as the tests run in
// parallel on small machines under -race.
const testTimeout = 3 * time.Minute

// fixture is one emulator with a client, shared by a test's subtests.
type fixture struct {
	srv    *sqslocal.Server
	client *sqs.Client
}

// start launches an emulator for t (stopped in t.Cleanup).
func start(t *testing.T) *fixture {
	t.Helper()
	srv := sqslocal.StartT(t)
	return &fixture{srv: srv, client: srv.Client(t.Context())}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

var prefixSeq atomic.Int64

// queues creates a fresh ingest/dlq/replay set with a unique prefix.
func (f *fixture) queues(t *testing.T, opts sqslocal.QueueOptions) sqslocal.Queues {
	t.Helper()
	prefix := fmt.Sprintf("t%d", prefixSeq.Add(1))
	q, err := sqslocal.CreateQueuesWithOptions(testContext(t), f.client, prefix, opts)
	if err != nil {
		t.Fatalf("CreateQueues(%s): %v", prefix, err)
	}
	return q
}

// allSystemAttributes asks for every system attribute through both fields:
// local-aws-sqs 2.0.2 reads only the deprecated AttributeNames.
func allSystemAttributes(in *sqs.ReceiveMessageInput) *sqs.ReceiveMessageInput {
	in.AttributeNames = []types.QueueAttributeName{types.QueueAttributeNameAll}
	in.MessageSystemAttributeNames = []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll}
	in.MessageAttributeNames = []string{"All"}
	return in
}

func (f *fixture) send(t *testing.T, url, body string, attrs map[string]types.MessageAttributeValue) *sqs.SendMessageOutput {
	t.Helper()
	out, err := f.client.SendMessage(testContext(t), &sqs.SendMessageInput{
		QueueUrl:          aws.String(url),
		MessageBody:       aws.String(body),
		MessageAttributes: attrs,
	})
	if err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	return out
}

// receiveOnce is one ReceiveMessage call asking for all attributes.
// visibility 0 means the queue's default: the SDK does not send a zero
// VisibilityTimeout (nor a zero WaitTimeSeconds).
func (f *fixture) receiveOnce(t *testing.T, url string, max, wait, visibility int32) []types.Message {
	t.Helper()
	in := allSystemAttributes(&sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(url),
		MaxNumberOfMessages: max,
		WaitTimeSeconds:     wait,
	})
	in.VisibilityTimeout = visibility
	out, err := f.client.ReceiveMessage(testContext(t), in)
	if err != nil {
		t.Fatalf("ReceiveMessage: %v", err)
	}
	return out.Messages
}

// receiveN receives until it holds n messages (deadline: 30 s), failing on
// more. visibility 0 leaves the queue's default.
func (f *fixture) receiveN(t *testing.T, url string, n int, visibility int32) []types.Message {
	t.Helper()
	var got []types.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(got) < n {
		if time.Now().After(deadline) {
			t.Fatalf("received %d messages from %s, want %d", len(got), url, n)
		}
		// Max 1 with a long poll: local-aws-sqs returns a long poll early
		// only once it holds MaxNumberOfMessages messages.
		got = append(got, f.receiveOnce(t, url, 1, 1, visibility)...)
	}
	if len(got) > n {
		t.Fatalf("received %d messages from %s, want %d", len(got), url, n)
	}
	return got
}

type depth struct{ visible, notVisible, delayed int }

// depth returns ApproximateNumberOfMessages, ...NotVisible and ...Delayed.
func (f *fixture) depth(t *testing.T, url string) depth {
	t.Helper()
	out, err := f.client.GetQueueAttributes(testContext(t), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
			types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	num := func(name types.QueueAttributeName) int {
		v, ok := out.Attributes[string(name)]
		if !ok {
			t.Fatalf("GetQueueAttributes: no %s in %v", name, out.Attributes)
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			t.Fatalf("GetQueueAttributes: %s=%q: %v", name, v, err)
		}
		return n
	}
	return depth{
		visible:    num(types.QueueAttributeNameApproximateNumberOfMessages),
		notVisible: num(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible),
		delayed:    num(types.QueueAttributeNameApproximateNumberOfMessagesDelayed),
	}
}

// eventually polls cond until it reports done, failing after timeout with the
// last state cond described.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() (done bool, state string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		done, state := cond()
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v; last state: %s", what, timeout, state)
		}
		select {
		case <-time.After(50 * time.Millisecond):
		case <-t.Context().Done():
			t.Fatalf("%s: %v", what, t.Context().Err())
		}
	}
}

// waitDepth polls until the queue's depth is want.
func (f *fixture) waitDepth(t *testing.T, url string, want depth, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "queue depth of "+url, func() (bool, string) {
		got := f.depth(t, url)
		return got == want, fmt.Sprintf("%+v, want %+v", got, want)
	})
}

// apiCode is the error code of an SQS API error, or "" for others.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func sysAttr(m types.Message, name types.MessageSystemAttributeName) string {
	return m.Attributes[string(name)]
}

func receiveCount(t *testing.T, m types.Message) int {
	t.Helper()
	v := sysAttr(m, types.MessageSystemAttributeNameApproximateReceiveCount)
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("ApproximateReceiveCount %q: %v (attributes %v)", v, err, m.Attributes)
	}
	return n
}

func millis(t *testing.T, m types.Message, name types.MessageSystemAttributeName) int64 {
	t.Helper()
	v := sysAttr(m, name)
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("%s %q: %v (attributes %v)", name, v, err, m.Attributes)
	}
	return n
}

func strAttr(v string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
}

// traceHeader is an X-Ray header as the producer will send it.
const traceHeader = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

func withTraceHeader(v string) map[string]types.MessageSystemAttributeValue {
	return map[string]types.MessageSystemAttributeValue{
		string(types.MessageSystemAttributeNameForSendsAWSTraceHeader): {
			DataType: aws.String("String"), StringValue: aws.String(v),
		},
	}
}
