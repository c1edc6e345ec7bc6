package sqslocal_test

// Each test here pins a way local-aws-sqs 2.0.2 differs from Amazon SQS (see
// the package documentation). They assert what the emulator does, so that an
// upgrade that changes it fails here and the list gets revisited. Code that
// must also work on AWS must not depend on any of these behaviours.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
)

// Deviation 1: system attributes come back only when asked through the
// deprecated AttributeNames; MessageSystemAttributeNames is ignored.
func TestDeviationSystemAttributesOnlyThroughAttributeNames(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	ctx := testContext(t)
	if _, err := f.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(q.Ingest), MessageBody: aws.String("b"), MessageSystemAttributes: withTraceHeader(traceHeader),
	}); err != nil {
		t.Fatal(err)
	}
	out, err := f.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(q.Ingest), MaxNumberOfMessages: 1, WaitTimeSeconds: 5, VisibilityTimeout: 1,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
	})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("ReceiveMessage: %v, %d messages", err, len(out.Messages))
	}
	if len(out.Messages[0].Attributes) != 0 {
		t.Fatalf("emulator now answers MessageSystemAttributeNames (%v): update the package doc", out.Messages[0].Attributes)
	}
	m := f.receiveN(t, q.Ingest, 1, 0) // helper asks through both
	if sysAttr(m[0], types.MessageSystemAttributeNameAWSTraceHeader) != traceHeader {
		t.Fatalf("AttributeNames did not return AWSTraceHeader: %v", m[0].Attributes)
	}
}

// Deviation 2, corrected by the launcher's proxy: a long poll returns as soon
// as a message is available, as on SQS, although the emulator alone would wait
// until it held MaxNumberOfMessages. The wait is 20 s, so an answer within 10 s
// can only come from the early return.
func TestLongPollReturnsOnceAMessageArrives(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	go func() {
		time.Sleep(300 * time.Millisecond)
		f.send(t, q.Ingest, "only one", nil)
	}()
	began := time.Now()
	msgs := f.receiveOnce(t, q.Ingest, 10, 20, 0)
	waited := time.Since(began)
	if len(msgs) != 1 {
		t.Fatalf("got %d messages, want 1", len(msgs))
	}
	if waited > 10*time.Second {
		t.Fatalf("returned after %v: the long poll waited for a full batch (is the proxy in server.mjs bypassed?)", waited)
	}
}

// Deviation 3, corrected by the launcher's proxy: ApproximateNumberOfMessages
// counts visible messages only, as on SQS.
func TestApproximateNumberOfMessagesCountsVisibleOnly(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	for i := range 3 {
		f.send(t, q.Ingest, fmt.Sprintf("m%d", i), nil)
	}
	f.receiveN(t, q.Ingest, 2, 0)
	f.waitDepth(t, q.Ingest, depth{visible: 1, notVisible: 2}, 10*time.Second)
	// Asked alone, too: the proxy fetches the in-flight count itself.
	out, err := f.client.GetQueueAttributes(testContext(t), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(q.Ingest), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := out.Attributes["ApproximateNumberOfMessages"]; got != "1" {
		t.Fatalf("ApproximateNumberOfMessages = %q, want 1", got)
	}
	if _, ok := out.Attributes["ApproximateNumberOfMessagesNotVisible"]; ok {
		t.Fatal("an attribute that was not asked for came back")
	}
}

// Deviation 4: ChangeMessageVisibility counts as a receive: it increments
// ApproximateReceiveCount, so visibility heartbeats use up maxReceiveCount and
// a heartbeated message released with timeout 0 can go to the DLQ without
// being redelivered.
func TestDeviationChangeVisibilityCountsAsReceive(t *testing.T) {
	t.Parallel()
	f := start(t)
	change := func(t *testing.T, q sqslocal.Queues, m types.Message, seconds int32) {
		t.Helper()
		if _, err := f.client.ChangeMessageVisibility(testContext(t), &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(q.Ingest), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds,
		}); err != nil {
			t.Fatalf("ChangeMessageVisibility(%d): %v", seconds, err)
		}
	}

	t.Run("receive count", func(t *testing.T) {
		t.Parallel()
		q := f.queues(t, sqslocal.QueueOptions{})
		f.send(t, q.Ingest, "b", nil)
		m := f.receiveN(t, q.Ingest, 1, 0)[0]
		change(t, q, m, 0)
		again := f.receiveN(t, q.Ingest, 1, 0)[0]
		if n := receiveCount(t, again); n != 3 { // real SQS: 2
			t.Fatalf("ApproximateReceiveCount after receive, release, receive = %d; emulator gave 3 (real SQS 2)", n)
		}
	})

	t.Run("heartbeats lead to the DLQ", func(t *testing.T) {
		t.Parallel()
		q := f.queues(t, sqslocal.QueueOptions{}) // maxReceiveCount 5
		f.send(t, q.Ingest, "b", nil)
		m := f.receiveN(t, q.Ingest, 1, 0)[0] // count 1
		for range 3 {
			change(t, q, m, 30) // counts 2, 3, 4
		}
		change(t, q, m, 0) // count 5, and it expires at once
		f.waitDepth(t, q.DLQ, depth{visible: 1}, 10*time.Second)
		f.waitDepth(t, q.Ingest, depth{}, 10*time.Second)
	})

	t.Run("message not in flight", func(t *testing.T) {
		t.Parallel()
		q := f.queues(t, sqslocal.QueueOptions{})
		f.send(t, q.Ingest, "b", nil)
		m := f.receiveN(t, q.Ingest, 1, 0)[0]
		change(t, q, m, 0)
		f.waitDepth(t, q.Ingest, depth{visible: 1}, 10*time.Second)
		// Real SQS answers MessageNotInflight; the emulator hides the message.
		change(t, q, m, 30)
		f.waitDepth(t, q.Ingest, depth{visible: 0, notVisible: 1}, 10*time.Second)
	})
}

// Deviation 5: redrive happens when the visibility timeout of the
// maxReceiveCount-th receive expires, with no further ReceiveMessage on the
// source; the dead-lettered message gets a new SentTimestamp and its
// ApproximateReceiveCount starts again from 0. On SQS the move happens on the
// next receive attempt and a standard queue's message keeps its original
// enqueue timestamp.
func TestDeviationRedrive(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{MaxReceiveCount: 2})
	f.send(t, q.Ingest, "b", nil)
	first := f.receiveN(t, q.Ingest, 1, 1)[0]
	sent := millis(t, first, types.MessageSystemAttributeNameSentTimestamp)
	f.receiveN(t, q.Ingest, 1, 1)
	// No receive on the source from here on: only GetQueueAttributes.
	f.waitDepth(t, q.DLQ, depth{visible: 1}, 10*time.Second)
	dead := f.receiveN(t, q.DLQ, 1, 0)[0]
	if n := receiveCount(t, dead); n != 1 {
		t.Errorf("first DLQ receive: ApproximateReceiveCount = %d, emulator gave 1 (count restarted)", n)
	}
	if got := millis(t, dead, types.MessageSystemAttributeNameSentTimestamp); got < sent+1000 {
		t.Errorf("DLQ SentTimestamp %d, original %d: emulator gave the move time (at least 1 s later)", got, sent)
	}
}

// Deviation 6: a message moved by StartMessageMoveTask is a new message: new
// MessageId, new SentTimestamp, receive count from 0.
func TestDeviationMoveTaskMakesNewMessage(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	out := f.send(t, q.DLQ, "b", nil)
	f.waitDepth(t, q.DLQ, depth{visible: 1}, 10*time.Second)
	if _, err := f.client.StartMessageMoveTask(testContext(t), &sqs.StartMessageMoveTaskInput{
		SourceArn: aws.String(q.DLQARN), DestinationArn: aws.String(q.ReplayARN),
	}); err != nil {
		t.Fatal(err)
	}
	m := f.receiveN(t, q.Replay, 1, 0)[0]
	if aws.ToString(m.MessageId) == aws.ToString(out.MessageId) {
		t.Errorf("moved message kept its MessageId %s; emulator used to assign a new one", aws.ToString(m.MessageId))
	}
	if n := receiveCount(t, m); n != 1 {
		t.Errorf("ApproximateReceiveCount = %d, want 1", n)
	}
}

// Deviation 7: the size limit is checked on JavaScript string length (UTF-16
// code units), not UTF-8 bytes: a 2,000-byte body of 1,000 "é" fits a
// 1,024-byte queue. SQS counts bytes and refuses it. The sender must measure
// bytes itself; local runs will not catch it.
func TestDeviationSizeCountsCharacters(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{MaximumMessageSize: 1024})
	body := strings.Repeat("é", 1000)
	if len(body) != 2000 {
		t.Fatalf("body is %d bytes", len(body))
	}
	if _, err := f.client.SendMessage(testContext(t), &sqs.SendMessageInput{QueueUrl: aws.String(q.Ingest), MessageBody: aws.String(body)}); err != nil {
		t.Fatalf("emulator now counts bytes (%v): update the package doc", err)
	}
	if m := f.receiveN(t, q.Ingest, 1, 0)[0]; aws.ToString(m.Body) != body {
		t.Fatal("body changed")
	}
}

// Deviation 8: a DLQ's RedriveAllowPolicy is validated but not enforced: a
// queue it does not list can still name the DLQ in its RedrivePolicy.
func TestDeviationRedriveAllowPolicyNotEnforced(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{}) // DLQ allows ingest and replay only
	policy, _ := json.Marshal(map[string]any{"deadLetterTargetArn": q.DLQARN, "maxReceiveCount": 5})
	if _, err := f.client.CreateQueue(testContext(t), &sqs.CreateQueueInput{
		QueueName:  aws.String("not-allowed"),
		Attributes: map[string]string{string(types.QueueAttributeNameRedrivePolicy): string(policy)},
	}); err != nil {
		t.Fatalf("emulator now enforces RedriveAllowPolicy (%v): update the package doc", err)
	}
}

// Deviation 9: DeleteMessage with an outdated receipt handle (the message has
// been received again since) deletes the message. SQS answers success but
// keeps the message, which is then processed again.
func TestDeviationStaleReceiptHandleDeletes(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	f.send(t, q.Ingest, "b", nil)
	old := f.receiveN(t, q.Ingest, 1, 1)[0]
	f.receiveN(t, q.Ingest, 1, 30) // after the 1 s timeout: a new receipt handle
	if _, err := f.client.DeleteMessage(testContext(t), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.Ingest), ReceiptHandle: old.ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage(old handle): %v", err)
	}
	f.waitDepth(t, q.Ingest, depth{}, 10*time.Second)
}
