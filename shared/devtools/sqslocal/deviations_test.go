package sqslocal_test

// Each test here pins a way local-aws-sqs 2.0.2 differs from Amazon SQS (see
// the package documentation). They assert what the emulator does, so that an
// upgrade that changes it fails here and the list gets revisited. Code that
// must also work on AWS must not depend on any of these behaviours.

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
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

// changeVisibility calls ChangeMessageVisibility, failing the test on error.
func (f *fixture) changeVisibility(t *testing.T, url string, m types.Message, seconds int32) {
	t.Helper()
	if _, err := f.client.ChangeMessageVisibility(testContext(t), &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds,
	}); err != nil {
		t.Fatalf("ChangeMessageVisibility(%d): %v", seconds, err)
	}
}

// changeVisibilityBatch calls ChangeMessageVisibilityBatch with one entry,
// failing the test unless it succeeds.
func (f *fixture) changeVisibilityBatch(t *testing.T, url string, m types.Message, seconds int32) {
	t.Helper()
	out, err := f.client.ChangeMessageVisibilityBatch(testContext(t), &sqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(url),
		Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("e"), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: seconds},
		},
	})
	if err != nil || len(out.Failed) != 0 || len(out.Successful) != 1 {
		t.Fatalf("ChangeMessageVisibilityBatch(%d): %v %+v", seconds, err, out)
	}
}

// receiveOne is a long poll for exactly one message; none is a failure.
func (f *fixture) receiveOne(t *testing.T, url string) types.Message {
	t.Helper()
	msgs := f.receiveOnce(t, url, 1, 10, 0)
	if len(msgs) != 1 {
		t.Fatalf("ReceiveMessage(%s): got %d messages, want 1 (depth %+v)", url, len(msgs), f.depth(t, url))
	}
	return msgs[0]
}

// Deviation 4, corrected by the launcher's front: ChangeMessageVisibility is
// not a receive. Only a ReceiveMessage that returns the message adds one to
// ApproximateReceiveCount, as on SQS; the emulator alone counted every
// visibility change (single or batch, to any value, 0 included).
func TestChangeVisibilityIsNotAReceive(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{MaxReceiveCount: 3})
	f.send(t, q.Ingest, "b", nil)
	m := f.receiveOne(t, q.Ingest)
	if n := receiveCount(t, m); n != 1 {
		t.Fatalf("first receive: ApproximateReceiveCount = %d, want 1", n)
	}
	first := millis(t, m, types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)
	for i := range 5 {
		f.changeVisibility(t, q.Ingest, m, int32(30+i))
		f.changeVisibilityBatch(t, q.Ingest, m, int32(60+i))
	}
	f.changeVisibility(t, q.Ingest, m, 0)
	// One receive, eleven visibility changes: the emulator alone had counted
	// 12 and moved the message to the DLQ at the release.
	again := f.receiveOne(t, q.Ingest)
	if n := receiveCount(t, again); n != 2 {
		t.Fatalf("after 11 visibility changes: ApproximateReceiveCount = %d, want 2 (1 + this receive)", n)
	}
	if got := millis(t, again, types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp); got != first {
		t.Errorf("ApproximateFirstReceiveTimestamp changed from %d to %d", first, got)
	}
	if d := f.depth(t, q.DLQ); d != (depth{}) {
		t.Errorf("DLQ %+v, want empty", d)
	}
}

// Deviation 4, continued: heartbeats never use up maxReceiveCount.
func TestHeartbeatsNeverRedrive(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{MaxReceiveCount: 2})
	f.send(t, q.Ingest, "long job", nil)
	m := f.receiveOne(t, q.Ingest) // receive 1 of 2
	for i := range 20 {
		if i%2 == 0 {
			f.changeVisibility(t, q.Ingest, m, 30)
		} else {
			f.changeVisibilityBatch(t, q.Ingest, m, 30)
		}
	}
	f.changeVisibility(t, q.Ingest, m, 0) // the job gives up
	again := f.receiveOne(t, q.Ingest)    // receive 2 of 2: still delivered
	if n := receiveCount(t, again); n != 2 {
		t.Fatalf("ApproximateReceiveCount = %d, want 2", n)
	}
	if d := f.depth(t, q.DLQ); d != (depth{}) {
		t.Fatalf("DLQ %+v after heartbeats, want empty", d)
	}
	if _, err := f.client.DeleteMessage(testContext(t), &sqs.DeleteMessageInput{QueueUrl: aws.String(q.Ingest), ReceiptHandle: again.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	f.waitDepth(t, q.Ingest, depth{}, 10*time.Second)
	if d := f.depth(t, q.DLQ); d != (depth{}) {
		t.Fatalf("DLQ %+v, want empty", d)
	}
}

// Deviation 4, continued: the correction is made on the emulator's queues, not
// on the wire, so it holds for the query protocol too.
func TestChangeVisibilityIsNotAReceiveQueryProtocol(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	f.send(t, q.Ingest, "b", nil)
	receive := func() queryMessage {
		t.Helper()
		var out struct {
			Messages []queryMessage `xml:"ReceiveMessageResult>Message"`
		}
		f.query(t, url.Values{
			"Action": {"ReceiveMessage"}, "QueueUrl": {q.Ingest}, "AttributeName.1": {"All"},
			"MaxNumberOfMessages": {"1"}, "WaitTimeSeconds": {"10"}, "VisibilityTimeout": {"30"},
		}, &out)
		if len(out.Messages) != 1 {
			t.Fatalf("query ReceiveMessage: %d messages, want 1", len(out.Messages))
		}
		return out.Messages[0]
	}
	m := receive()
	if got := m.attribute("ApproximateReceiveCount"); got != "1" {
		t.Fatalf("first receive: ApproximateReceiveCount = %q, want 1", got)
	}
	for _, v := range []string{"40", "50"} {
		f.query(t, url.Values{"Action": {"ChangeMessageVisibility"}, "QueueUrl": {q.Ingest}, "ReceiptHandle": {m.ReceiptHandle}, "VisibilityTimeout": {v}}, nil)
	}
	f.query(t, url.Values{
		"Action": {"ChangeMessageVisibilityBatch"}, "QueueUrl": {q.Ingest},
		"ChangeMessageVisibilityBatchRequestEntry.1.Id":                {"e"},
		"ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle":     {m.ReceiptHandle},
		"ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout": {"60"},
	}, nil)
	f.query(t, url.Values{"Action": {"ChangeMessageVisibility"}, "QueueUrl": {q.Ingest}, "ReceiptHandle": {m.ReceiptHandle}, "VisibilityTimeout": {"0"}}, nil)
	if got := receive().attribute("ApproximateReceiveCount"); got != "2" {
		t.Fatalf("after 4 visibility changes: ApproximateReceiveCount = %q, want 2", got)
	}
}

type queryMessage struct {
	MessageID     string `xml:"MessageId"`
	ReceiptHandle string `xml:"ReceiptHandle"`
	Attributes    []struct {
		Name  string `xml:"Name"`
		Value string `xml:"Value"`
	} `xml:"Attribute"`
}

func (m queryMessage) attribute(name string) string {
	for _, a := range m.Attributes {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// query makes one call in SQS's query protocol (form-encoded POST, XML
// answer) and decodes the answer into out when out is not nil.
func (f *fixture) query(t *testing.T, params url.Values, out any) {
	t.Helper()
	params.Set("Version", "2012-11-05")
	req, err := http.NewRequestWithContext(testContext(t), http.MethodPost, f.srv.Endpoint+"/", strings.NewReader(params.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("query %s: %v", params.Get("Action"), err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK || bytes.Contains(body, []byte("<Failed>")) || bytes.Contains(body, []byte("<ErrorResponse")) {
		t.Fatalf("query %s: HTTP %d: %s", params.Get("Action"), res.StatusCode, body)
	}
	if out != nil {
		if err := xml.Unmarshal(body, out); err != nil {
			t.Fatalf("query %s: %v in %s", params.Get("Action"), err, body)
		}
	}
}

// Deviation 4, not corrected: ChangeMessageVisibility on a message that is
// not in flight succeeds and hides it; SQS answers MessageNotInflight.
func TestDeviationChangeVisibilityNotInFlight(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	f.send(t, q.Ingest, "b", nil)
	m := f.receiveOne(t, q.Ingest)
	f.changeVisibility(t, q.Ingest, m, 0)
	f.waitDepth(t, q.Ingest, depth{visible: 1}, 10*time.Second)
	f.changeVisibility(t, q.Ingest, m, 30) // real SQS: MessageNotInflight
	f.waitDepth(t, q.Ingest, depth{visible: 0, notVisible: 1}, 10*time.Second)
}

// Deviation 5, corrected by the launcher's front: with maxReceiveCount 3, the
// first three receives return the message, and the fourth moves it to the DLQ
// instead of returning it, as on SQS. The emulator alone moved it when the
// visibility timeout of the third receive (or of a later visibility change)
// expired, with no receive at all. The moved message keeps its MessageId,
// body, message attributes, AWSTraceHeader and SentTimestamp.
func TestRedriveOnTheReceiveAfterMaxReceiveCount(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{MaxReceiveCount: 3})
	attrs := map[string]types.MessageAttributeValue{"schema": strAttr("edgebatch.v1"), "source": strAttr("aws")}
	ctx := testContext(t)
	sent, err := f.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl: aws.String(q.Ingest), MessageBody: aws.String("poison"),
		MessageAttributes: attrs, MessageSystemAttributes: withTraceHeader(traceHeader),
	})
	if err != nil {
		t.Fatal(err)
	}
	var sentAt int64
	for i := 1; i <= 3; i++ {
		m := f.receiveOne(t, q.Ingest)
		if n := receiveCount(t, m); n != i {
			t.Fatalf("receive %d: ApproximateReceiveCount = %d", i, n)
		}
		sentAt = millis(t, m, types.MessageSystemAttributeNameSentTimestamp)
		f.changeVisibility(t, q.Ingest, m, 0)
	}
	// Received maxReceiveCount times and released: visible in the source, not
	// moved yet.
	f.waitDepth(t, q.Ingest, depth{visible: 1}, 10*time.Second)
	if d := f.depth(t, q.DLQ); d != (depth{}) {
		t.Fatalf("DLQ %+v before the 4th receive, want empty", d)
	}

	// The 4th receive moves it and returns nothing.
	if msgs := f.receiveOnce(t, q.Ingest, 10, 1, 0); len(msgs) != 0 {
		t.Fatalf("4th receive returned the message (ApproximateReceiveCount %d)", receiveCount(t, msgs[0]))
	}
	if d := f.depth(t, q.DLQ); d != (depth{visible: 1}) {
		t.Fatalf("DLQ %+v after the 4th receive, want 1 visible", d)
	}
	if d := f.depth(t, q.Ingest); d != (depth{}) {
		t.Fatalf("source %+v after the 4th receive, want empty", d)
	}
	if msgs := f.receiveOnce(t, q.Ingest, 10, 1, 0); len(msgs) != 0 {
		t.Fatal("the source returned the dead-lettered message")
	}

	dead := f.receiveOne(t, q.DLQ)
	if aws.ToString(dead.MessageId) != aws.ToString(sent.MessageId) {
		t.Errorf("DLQ MessageId %s, want the original %s", aws.ToString(dead.MessageId), aws.ToString(sent.MessageId))
	}
	if aws.ToString(dead.Body) != "poison" {
		t.Errorf("DLQ body %q", aws.ToString(dead.Body))
	}
	if len(dead.MessageAttributes) != len(attrs) ||
		aws.ToString(dead.MessageAttributes["schema"].StringValue) != "edgebatch.v1" ||
		aws.ToString(dead.MessageAttributes["source"].StringValue) != "aws" {
		t.Errorf("DLQ message attributes %v", dead.MessageAttributes)
	}
	if got := sysAttr(dead, types.MessageSystemAttributeNameAWSTraceHeader); got != traceHeader {
		t.Errorf("DLQ AWSTraceHeader %q", got)
	}
	if got := sysAttr(dead, types.MessageSystemAttributeNameDeadLetterQueueSourceArn); got != q.IngestARN {
		t.Errorf("DeadLetterQueueSourceArn = %q, want %q", got, q.IngestARN)
	}
	if got := millis(t, dead, types.MessageSystemAttributeNameSentTimestamp); got != sentAt {
		t.Errorf("DLQ SentTimestamp %d, want the original %d (standard queue)", got, sentAt)
	}
}

// Deviation 5, continued: a message the receive moves does not take a slot of
// the response; other visible messages are still returned.
func TestRedriveLeavesOtherMessagesToTheReceive(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{MaxReceiveCount: 1})
	f.send(t, q.Ingest, "poison", nil)
	f.changeVisibility(t, q.Ingest, f.receiveOne(t, q.Ingest), 0)
	f.waitDepth(t, q.Ingest, depth{visible: 1}, 10*time.Second)
	f.send(t, q.Ingest, "fine", nil)
	f.waitDepth(t, q.Ingest, depth{visible: 2}, 10*time.Second)
	// The emulator returns messages in send order (deviation 10), so this one
	// short poll for a single message meets the poison message first.
	msgs := f.receiveOnce(t, q.Ingest, 1, 0, 0)
	if len(msgs) != 1 || aws.ToString(msgs[0].Body) != "fine" {
		var bodies []string
		for _, m := range msgs {
			bodies = append(bodies, aws.ToString(m.Body))
		}
		t.Fatalf("short poll for 1 message returned %q, want [fine]", bodies)
	}
	if d := f.depth(t, q.DLQ); d != (depth{visible: 1}) {
		t.Fatalf("DLQ %+v, want the poison message", d)
	}
	if body := aws.ToString(f.receiveOne(t, q.DLQ).Body); body != "poison" {
		t.Fatalf("DLQ holds %q", body)
	}
}

// Deviation 5, not corrected: in the DLQ the message's ApproximateReceiveCount
// (and ApproximateFirstReceiveTimestamp) start again, and its retention
// period counts from the move. SQS documents ApproximateReceiveCount as
// counted across all queues, and a standard queue's message expires from the
// DLQ by its original enqueue time.
func TestDeviationRedriveRestartsReceiveCount(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{MaxReceiveCount: 1})
	f.send(t, q.Ingest, "b", nil)
	f.changeVisibility(t, q.Ingest, f.receiveOne(t, q.Ingest), 0)
	f.waitDepth(t, q.Ingest, depth{visible: 1}, 10*time.Second)
	if msgs := f.receiveOnce(t, q.Ingest, 1, 1, 0); len(msgs) != 0 {
		t.Fatal("2nd receive returned the message")
	}
	if n := receiveCount(t, f.receiveOne(t, q.DLQ)); n != 1 {
		t.Errorf("first DLQ receive: ApproximateReceiveCount = %d; the emulator gave 1 (count restarted)", n)
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
