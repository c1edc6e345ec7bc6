package sqslocal_test

// These tests prove, through aws-sdk-go-v2, the SQS behaviour graphfleet's
// worker and producer rely on. Where local-aws-sqs 2.0.2 differs from Amazon
// SQS, the test pins what the emulator does and says so; the list is in the
// package documentation (doc.go) and deviations_test.go.

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
)

func TestSendReceiveLongPoll(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	ctx := testContext(t)

	// An empty long poll waits for WaitTimeSeconds, then returns nothing.
	began := time.Now()
	if msgs := f.receiveOnce(t, q.Ingest, 1, 1, 0); len(msgs) != 0 {
		t.Fatalf("empty queue returned %d messages", len(msgs))
	}
	if waited := time.Since(began); waited < 900*time.Millisecond {
		t.Fatalf("long poll of 1 s returned after %v", waited)
	}

	// A message sent while a long poll waits ends the poll early.
	type result struct {
		msgs []types.Message
		err  error
		at   time.Time
	}
	done := make(chan result, 1)
	go func() {
		out, err := f.client.ReceiveMessage(ctx, allSystemAttributes(&sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(q.Ingest),
			MaxNumberOfMessages: 1,
			WaitTimeSeconds:     15,
		}))
		r := result{err: err, at: time.Now()}
		if out != nil {
			r.msgs = out.Messages
		}
		done <- r
	}()
	body := `{"v":1,"source":"deepflow","observed_at":"2026-11-21T10:05:00Z","vertices":[],"edges":[]}`
	sent := f.send(t, q.Ingest, body, nil)
	sentAt := time.Now()
	r := <-done
	if r.err != nil {
		t.Fatalf("ReceiveMessage: %v", r.err)
	}
	if len(r.msgs) != 1 {
		t.Fatalf("long poll returned %d messages, want 1", len(r.msgs))
	}
	if lag := r.at.Sub(sentAt); lag > 5*time.Second {
		t.Errorf("long poll returned %v after the send: it did not end on arrival", lag)
	}
	m := r.msgs[0]
	if aws.ToString(m.Body) != body || aws.ToString(m.MessageId) != aws.ToString(sent.MessageId) {
		t.Errorf("got %q (id %s), want %q (id %s)", aws.ToString(m.Body), aws.ToString(m.MessageId), body, aws.ToString(sent.MessageId))
	}
	sum := md5.Sum([]byte(body))
	if want := hex.EncodeToString(sum[:]); aws.ToString(m.MD5OfBody) != want || aws.ToString(sent.MD5OfMessageBody) != want {
		t.Errorf("MD5OfBody = %s, sent MD5 = %s, want %s", aws.ToString(m.MD5OfBody), aws.ToString(sent.MD5OfMessageBody), want)
	}
	if aws.ToString(m.ReceiptHandle) == "" {
		t.Error("no receipt handle")
	}
	if _, err := f.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.Ingest), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatalf("DeleteMessage: %v", err)
	}
	f.waitDepth(t, q.Ingest, depth{}, 10*time.Second)
	if msgs := f.receiveOnce(t, q.Ingest, 1, 1, 0); len(msgs) != 0 {
		t.Fatalf("deleted message came back: %v", msgs)
	}
}

func TestMessageAttributesRoundTrip(t *testing.T) {
	t.Parallel()
	f := start(t)
	sent := map[string]types.MessageAttributeValue{
		"schema":           strAttr("edgebatch.v1"),
		"source":           strAttr("deepflow"),
		"content-encoding": strAttr("gzip"),
		"traceparent":      strAttr("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
		"tracestate":       strAttr("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"),
		"error":            strAttr(`edge "calls:svc:a>svc:b": vertex svc:b missing ✗ — é`),
		"seq":              {DataType: aws.String("Number"), StringValue: aws.String("3")},
		"digest":           {DataType: aws.String("Binary"), BinaryValue: []byte{0x1f, 0x8b, 0x00, 0xff, 0x10}},
		"meta":             {DataType: aws.String("String.json"), StringValue: aws.String(`{"k":"v"}`)},
	}
	all := slices.Sorted(func(yield func(string) bool) {
		for k := range sent {
			if !yield(k) {
				return
			}
		}
	})
	tests := []struct {
		name  string
		names []string
		want  []string
	}{
		{"All", []string{"All"}, all},
		{".*", []string{".*"}, all},
		{"named", []string{"schema", "traceparent", "tracestate", "content-encoding"}, []string{"content-encoding", "schema", "traceparent", "tracestate"}},
		{"unknown name", []string{"nope"}, nil},
		{"none asked", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := f.queues(t, sqslocal.QueueOptions{})
			out := f.send(t, q.Ingest, "body", sent)
			if aws.ToString(out.MD5OfMessageAttributes) == "" {
				t.Error("SendMessage returned no MD5OfMessageAttributes")
			}
			res, err := f.client.ReceiveMessage(testContext(t), &sqs.ReceiveMessageInput{
				QueueUrl:              aws.String(q.Ingest),
				MaxNumberOfMessages:   1,
				WaitTimeSeconds:       5,
				MessageAttributeNames: tt.names,
			})
			if err != nil {
				t.Fatalf("ReceiveMessage: %v", err) // includes the SDK's MD5 check of the attributes
			}
			if len(res.Messages) != 1 {
				t.Fatalf("got %d messages", len(res.Messages))
			}
			got := res.Messages[0].MessageAttributes
			gotNames := slices.Sorted(func(yield func(string) bool) {
				for k := range got {
					if !yield(k) {
						return
					}
				}
			})
			if !slices.Equal(gotNames, tt.want) {
				t.Fatalf("attribute names = %v, want %v", gotNames, tt.want)
			}
			for _, name := range tt.want {
				g, w := got[name], sent[name]
				if aws.ToString(g.DataType) != aws.ToString(w.DataType) ||
					aws.ToString(g.StringValue) != aws.ToString(w.StringValue) ||
					!bytes.Equal(g.BinaryValue, w.BinaryValue) {
					t.Errorf("%s = {%s %q %x}, want {%s %q %x}", name,
						aws.ToString(g.DataType), aws.ToString(g.StringValue), g.BinaryValue,
						aws.ToString(w.DataType), aws.ToString(w.StringValue), w.BinaryValue)
				}
			}
		})
	}
}

func TestAWSTraceHeader(t *testing.T) {
	t.Parallel()
	f := start(t)
	tests := []struct {
		name  string
		batch bool
		ask   []string // asked through both AttributeNames and MessageSystemAttributeNames
	}{
		{"SendMessage, asked by name", false, []string{"AWSTraceHeader"}},
		{"SendMessage, All", false, []string{"All"}},
		{"SendMessageBatch, asked by name", true, []string{"AWSTraceHeader"}},
		{"SendMessageBatch, All", true, []string{"All"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			q := f.queues(t, sqslocal.QueueOptions{})
			if tt.batch {
				out, err := f.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{
					QueueUrl: aws.String(q.Ingest),
					Entries: []types.SendMessageBatchRequestEntry{{
						Id: aws.String("a"), MessageBody: aws.String("b"),
						MessageSystemAttributes: withTraceHeader(traceHeader),
					}},
				})
				if err != nil || len(out.Failed) != 0 {
					t.Fatalf("SendMessageBatch: %v %+v", err, out)
				}
			} else {
				out, err := f.client.SendMessage(ctx, &sqs.SendMessageInput{
					QueueUrl: aws.String(q.Ingest), MessageBody: aws.String("b"),
					MessageSystemAttributes: withTraceHeader(traceHeader),
				})
				if err != nil {
					t.Fatalf("SendMessage: %v", err)
				}
				if aws.ToString(out.MD5OfMessageSystemAttributes) == "" {
					t.Error("no MD5OfMessageSystemAttributes")
				}
			}
			in := &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.Ingest), MaxNumberOfMessages: 1, WaitTimeSeconds: 5}
			for _, a := range tt.ask {
				in.AttributeNames = append(in.AttributeNames, types.QueueAttributeName(a))
				in.MessageSystemAttributeNames = append(in.MessageSystemAttributeNames, types.MessageSystemAttributeName(a))
			}
			res, err := f.client.ReceiveMessage(ctx, in)
			if err != nil {
				t.Fatalf("ReceiveMessage: %v", err)
			}
			if len(res.Messages) != 1 {
				t.Fatalf("got %d messages", len(res.Messages))
			}
			if got := sysAttr(res.Messages[0], types.MessageSystemAttributeNameAWSTraceHeader); got != traceHeader {
				t.Errorf("AWSTraceHeader = %q, want %q (attributes %v)", got, traceHeader, res.Messages[0].Attributes)
			}
			if len(res.Messages[0].MessageAttributes) != 0 {
				t.Errorf("AWSTraceHeader leaked into MessageAttributes: %v", res.Messages[0].MessageAttributes)
			}
		})
	}

	// AWSTraceHeader does not count toward the 10 message attributes.
	t.Run("beside 10 message attributes", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		q := f.queues(t, sqslocal.QueueOptions{})
		attrs := func(n int) map[string]types.MessageAttributeValue {
			m := map[string]types.MessageAttributeValue{}
			for i := range n {
				m[fmt.Sprintf("a%d", i)] = strAttr("v")
			}
			return m
		}
		if _, err := f.client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String(q.Ingest), MessageBody: aws.String("b"),
			MessageAttributes: attrs(10), MessageSystemAttributes: withTraceHeader(traceHeader),
		}); err != nil {
			t.Fatalf("10 attributes + AWSTraceHeader refused: %v", err)
		}
		_, err := f.client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String(q.Ingest), MessageBody: aws.String("b"), MessageAttributes: attrs(11),
		})
		if code := apiCode(err); code != "InvalidParameterValue" {
			t.Fatalf("11 attributes: err = %v (code %q), want InvalidParameterValue", err, code)
		}
	})
}

func TestSystemAttributes(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	before := time.Now().UnixMilli()
	f.send(t, q.Ingest, "b", nil)
	after := time.Now().UnixMilli()

	msgs := f.receiveN(t, q.Ingest, 1, 1)
	m := msgs[0]
	sentTS := millis(t, m, types.MessageSystemAttributeNameSentTimestamp)
	if sentTS < before-1000 || sentTS > after+1000 {
		t.Errorf("SentTimestamp = %d, want within [%d, %d]", sentTS, before, after)
	}
	if n := receiveCount(t, m); n != 1 {
		t.Errorf("first ApproximateReceiveCount = %d, want 1", n)
	}
	firstTS := millis(t, m, types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp)
	if firstTS < sentTS {
		t.Errorf("ApproximateFirstReceiveTimestamp %d before SentTimestamp %d", firstTS, sentTS)
	}
	if sysAttr(m, types.MessageSystemAttributeNameSenderId) == "" {
		t.Error("no SenderId")
	}

	// After the 1 s visibility timeout the message comes back, counted twice.
	again := f.receiveN(t, q.Ingest, 1, 1)[0]
	if n := receiveCount(t, again); n != 2 {
		t.Errorf("second ApproximateReceiveCount = %d, want 2", n)
	}
	if got := millis(t, again, types.MessageSystemAttributeNameSentTimestamp); got != sentTS {
		t.Errorf("SentTimestamp changed from %d to %d", sentTS, got)
	}
	if got := millis(t, again, types.MessageSystemAttributeNameApproximateFirstReceiveTimestamp); got != firstTS {
		t.Errorf("ApproximateFirstReceiveTimestamp changed from %d to %d", firstTS, got)
	}
}

func TestVisibilityTimeout(t *testing.T) {
	t.Parallel()
	f := start(t)

	t.Run("per-receive timeout expires", func(t *testing.T) {
		t.Parallel()
		q := f.queues(t, sqslocal.QueueOptions{})
		sent := f.send(t, q.Ingest, "b", nil)
		first := f.receiveN(t, q.Ingest, 1, 2)[0]
		receivedAt := time.Now()
		if msgs := f.receiveOnce(t, q.Ingest, 1, 0, 0); len(msgs) != 0 {
			t.Fatal("message visible during its visibility timeout")
		}
		second := f.receiveN(t, q.Ingest, 1, 30)[0]
		if waited := time.Since(receivedAt); waited < 1500*time.Millisecond {
			t.Errorf("message visible again after %v, want about 2 s", waited)
		}
		if aws.ToString(second.MessageId) != aws.ToString(sent.MessageId) {
			t.Errorf("MessageId %s, want %s", aws.ToString(second.MessageId), aws.ToString(sent.MessageId))
		}
		if aws.ToString(second.ReceiptHandle) == aws.ToString(first.ReceiptHandle) {
			t.Error("receipt handle did not change between receives")
		}
	})

	t.Run("queue default timeout expires", func(t *testing.T) {
		t.Parallel()
		q := f.queues(t, sqslocal.QueueOptions{VisibilityTimeout: 2 * time.Second})
		f.send(t, q.Ingest, "b", nil)
		f.receiveN(t, q.Ingest, 1, 0)
		receivedAt := time.Now()
		f.receiveN(t, q.Ingest, 1, 0)
		if waited := time.Since(receivedAt); waited < 1500*time.Millisecond {
			t.Errorf("message visible again after %v, want about 2 s", waited)
		}
	})

	t.Run("ChangeMessageVisibility 0 releases", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		q := f.queues(t, sqslocal.QueueOptions{})
		f.send(t, q.Ingest, "b", nil)
		m := f.receiveN(t, q.Ingest, 1, 0)[0] // 30 s
		if _, err := f.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(q.Ingest), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
		}); err != nil {
			t.Fatalf("ChangeMessageVisibility: %v", err)
		}
		began := time.Now()
		f.receiveN(t, q.Ingest, 1, 0)
		if waited := time.Since(began); waited > 10*time.Second {
			t.Errorf("released message took %v to come back", waited)
		}
	})

	t.Run("ChangeMessageVisibility extends", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		q := f.queues(t, sqslocal.QueueOptions{})
		f.send(t, q.Ingest, "b", nil)
		m := f.receiveN(t, q.Ingest, 1, 2)[0]
		if _, err := f.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(q.Ingest), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 30,
		}); err != nil {
			t.Fatalf("ChangeMessageVisibility: %v", err)
		}
		// A 4 s long poll spans the original 2 s timeout: nothing comes back.
		if msgs := f.receiveOnce(t, q.Ingest, 1, 4, 0); len(msgs) != 0 {
			t.Fatal("message came back despite the extension")
		}
		if d := f.depth(t, q.Ingest); d.notVisible != 1 {
			t.Errorf("depth %+v, want 1 not visible", d)
		}
		if _, err := f.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(q.Ingest), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
		}); err != nil {
			t.Fatalf("ChangeMessageVisibility 0: %v", err)
		}
		f.receiveN(t, q.Ingest, 1, 0)
	})
}

func TestChangeMessageVisibilityBatch(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	ctx := testContext(t)
	for i := range 3 {
		f.send(t, q.Ingest, fmt.Sprintf("m%d", i), nil)
	}
	msgs := f.receiveN(t, q.Ingest, 3, 0) // 30 s
	byBody := map[string]types.Message{}
	for _, m := range msgs {
		byBody[aws.ToString(m.Body)] = m
	}
	out, err := f.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(q.Ingest),
		Entries: []types.ChangeMessageVisibilityBatchRequestEntry{
			{Id: aws.String("release0"), ReceiptHandle: byBody["m0"].ReceiptHandle, VisibilityTimeout: 0},
			{Id: aws.String("release1"), ReceiptHandle: byBody["m1"].ReceiptHandle, VisibilityTimeout: 0},
			{Id: aws.String("extend2"), ReceiptHandle: byBody["m2"].ReceiptHandle, VisibilityTimeout: 600},
			{Id: aws.String("bogus"), ReceiptHandle: aws.String("not-a-receipt-handle"), VisibilityTimeout: 0},
		},
	})
	if err != nil {
		t.Fatalf("ChangeMessageVisibilityBatch: %v", err)
	}
	var ok []string
	for _, s := range out.Successful {
		ok = append(ok, aws.ToString(s.Id))
	}
	slices.Sort(ok)
	if want := []string{"extend2", "release0", "release1"}; !slices.Equal(ok, want) {
		t.Errorf("Successful = %v, want %v", ok, want)
	}
	if len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "bogus" || aws.ToString(out.Failed[0].Code) != "ReceiptHandleIsInvalid" || !out.Failed[0].SenderFault {
		t.Errorf("Failed = %+v, want one ReceiptHandleIsInvalid for bogus", out.Failed)
	}
	var back []string
	for _, m := range f.receiveN(t, q.Ingest, 2, 0) {
		back = append(back, aws.ToString(m.Body))
	}
	slices.Sort(back)
	if want := []string{"m0", "m1"}; !slices.Equal(back, want) {
		t.Errorf("released messages = %v, want %v", back, want)
	}
	if msgs := f.receiveOnce(t, q.Ingest, 1, 2, 0); len(msgs) != 0 {
		t.Errorf("extended message came back: %q", aws.ToString(msgs[0].Body))
	}
}

func TestSendAndDeleteMessageBatch(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	ctx := testContext(t)

	var entries []types.SendMessageBatchRequestEntry
	want := map[string]bool{}
	for i := range 10 {
		body := fmt.Sprintf(`{"v":1,"seq":%d}`, i)
		want[body] = true
		entries = append(entries, types.SendMessageBatchRequestEntry{
			Id:                      aws.String(fmt.Sprintf("entry-%d", i)),
			MessageBody:             aws.String(body),
			MessageAttributes:       map[string]types.MessageAttributeValue{"schema": strAttr("edgebatch.v1"), "seq": {DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(i))}},
			MessageSystemAttributes: withTraceHeader(traceHeader),
		})
	}
	out, err := f.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.Ingest), Entries: entries})
	if err != nil {
		t.Fatalf("SendMessageBatch: %v", err)
	}
	if len(out.Successful) != 10 || len(out.Failed) != 0 {
		t.Fatalf("SendMessageBatch: %d successful, %d failed (%+v)", len(out.Successful), len(out.Failed), out.Failed)
	}
	ids := map[string]bool{}
	for _, s := range out.Successful {
		ids[aws.ToString(s.MessageId)] = true
	}
	if len(ids) != 10 {
		t.Errorf("%d distinct MessageIds, want 10", len(ids))
	}
	f.waitDepth(t, q.Ingest, depth{visible: 10}, 10*time.Second)

	msgs := f.receiveN(t, q.Ingest, 10, 0)
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range msgs {
		if !want[aws.ToString(m.Body)] {
			t.Errorf("unexpected or repeated body %q", aws.ToString(m.Body))
		}
		delete(want, aws.ToString(m.Body))
		if aws.ToString(m.MessageAttributes["schema"].StringValue) != "edgebatch.v1" {
			t.Errorf("message %s lost its schema attribute: %v", aws.ToString(m.MessageId), m.MessageAttributes)
		}
		if sysAttr(m, types.MessageSystemAttributeNameAWSTraceHeader) != traceHeader {
			t.Errorf("message %s lost its AWSTraceHeader: %v", aws.ToString(m.MessageId), m.Attributes)
		}
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprintf("d%d", i)), ReceiptHandle: m.ReceiptHandle})
	}
	dout, err := f.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.Ingest), Entries: del})
	if err != nil {
		t.Fatalf("DeleteMessageBatch: %v", err)
	}
	if len(dout.Successful) != 10 || len(dout.Failed) != 0 {
		t.Fatalf("DeleteMessageBatch: %d successful, %d failed (%+v)", len(dout.Successful), len(dout.Failed), dout.Failed)
	}
	f.waitDepth(t, q.Ingest, depth{}, 10*time.Second)

	bad, err := f.client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{
		QueueUrl: aws.String(q.Ingest),
		Entries:  []types.DeleteMessageBatchRequestEntry{{Id: aws.String("bogus"), ReceiptHandle: aws.String("not-a-receipt-handle")}},
	})
	if err != nil {
		t.Fatalf("DeleteMessageBatch(bogus): %v", err)
	}
	if len(bad.Failed) != 1 || aws.ToString(bad.Failed[0].Code) != "ReceiptHandleIsInvalid" {
		t.Errorf("DeleteMessageBatch(bogus).Failed = %+v, want ReceiptHandleIsInvalid", bad.Failed)
	}
}

func TestSendMessageBatchRefusals(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	entries := func(n, size int) []types.SendMessageBatchRequestEntry {
		var e []types.SendMessageBatchRequestEntry
		for i := range n {
			e = append(e, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprintf("e%d", i)), MessageBody: aws.String(strings.Repeat("x", size))})
		}
		return e
	}
	dup := entries(2, 1)
	dup[1].Id = dup[0].Id
	tests := []struct {
		name     string
		entries  []types.SendMessageBatchRequestEntry
		wantCode string
	}{
		{"11 entries", entries(11, 1), "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
		{"duplicate ids", dup, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"},
		{"total over 1 MiB", entries(2, 600_000), "AWS.SimpleQueueService.BatchRequestTooLong"},
		{"no entries", []types.SendMessageBatchRequestEntry{}, "AWS.SimpleQueueService.EmptyBatchRequest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := f.client.SendMessageBatch(testContext(t), &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.Ingest), Entries: tt.entries})
			if code := apiCode(err); code != tt.wantCode && "AWS.SimpleQueueService."+code != tt.wantCode {
				t.Fatalf("err = %v (code %q), want code %s", err, code, tt.wantCode)
			}
		})
	}
	if d := f.depth(t, q.Ingest); d != (depth{}) {
		t.Errorf("refused batches left messages: %+v", d)
	}
}

func TestMaximumMessageSize(t *testing.T) {
	t.Parallel()
	f := start(t)
	const mib = 1 << 20
	schema := map[string]types.MessageAttributeValue{"schema": strAttr("edgebatch.v1")}
	tests := []struct {
		name     string
		queueMax int // 0: CreateQueues' 1 MiB
		size     int
		attrs    map[string]types.MessageAttributeValue
		batch    bool
		wantOK   bool
	}{
		{"1 MiB", 0, mib, nil, false, true},
		{"1 MiB + 1", 0, mib + 1, nil, false, false},
		{"1 MiB in a batch", 0, mib, nil, true, true},
		{"1 MiB + 1 in a batch", 0, mib + 1, nil, true, false},
		// Attribute names, types and values count toward the limit.
		{"1 MiB body + attribute", 0, mib - 10, schema, false, false},
		{"1 MiB body + attribute in a batch", 0, mib - 10, schema, true, false},
		{"1 MiB minus attribute size", 0, mib - len("schema") - len("String") - len("edgebatch.v1"), schema, false, true},
		// The queue's MaximumMessageSize is honoured.
		{"1024 on a 1024 queue", 1024, 1024, nil, false, true},
		{"1025 on a 1024 queue", 1024, 1025, nil, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			q := f.queues(t, sqslocal.QueueOptions{MaximumMessageSize: tt.queueMax})
			body := strings.Repeat("a", tt.size)
			var err error
			if tt.batch {
				var out *sqs.SendMessageBatchOutput
				out, err = f.client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{
					QueueUrl: aws.String(q.Ingest),
					Entries:  []types.SendMessageBatchRequestEntry{{Id: aws.String("big"), MessageBody: aws.String(body), MessageAttributes: tt.attrs}},
				})
				if err == nil && len(out.Failed) > 0 {
					err = fmt.Errorf("entry failed: %s: %s", aws.ToString(out.Failed[0].Code), aws.ToString(out.Failed[0].Message))
				}
			} else {
				_, err = f.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.Ingest), MessageBody: aws.String(body), MessageAttributes: tt.attrs})
			}
			if tt.wantOK {
				if err != nil {
					t.Fatalf("%d-byte message refused: %v", tt.size, err)
				}
				m := f.receiveN(t, q.Ingest, 1, 0)[0]
				if aws.ToString(m.Body) != body {
					t.Fatalf("body came back with %d bytes, want %d", len(aws.ToString(m.Body)), len(body))
				}
				return
			}
			if err == nil {
				t.Fatalf("%d-byte message accepted", tt.size)
			}
			if code := apiCode(err); code != "" && code != "InvalidParameterValue" && !strings.Contains(code, "BatchRequestTooLong") {
				t.Errorf("refused with code %q (%v), want InvalidParameterValue or BatchRequestTooLong", code, err)
			}
			if d := f.depth(t, q.Ingest); d != (depth{}) {
				t.Errorf("refused message is in the queue: %+v", d)
			}
		})
	}
}

func TestRedriveToDLQ(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{}) // maxReceiveCount 5
	attrs := map[string]types.MessageAttributeValue{"schema": strAttr("edgebatch.v1"), "source": strAttr("aws")}
	out, err := f.client.SendMessage(testContext(t), &sqs.SendMessageInput{
		QueueUrl: aws.String(q.Ingest), MessageBody: aws.String("poison"),
		MessageAttributes: attrs, MessageSystemAttributes: withTraceHeader(traceHeader),
	})
	if err != nil {
		t.Fatal(err)
	}

	// Received (and not deleted) maxReceiveCount times...
	for i := 1; i <= 5; i++ { // CreateQueues: maxReceiveCount 5
		m := f.receiveN(t, q.Ingest, 1, 1)[0]
		if n := receiveCount(t, m); n != i {
			t.Fatalf("receive %d: ApproximateReceiveCount = %d", i, n)
		}
	}
	// ...it is never delivered from the source again, and lands in the DLQ.
	// (Polling the source too keeps this test valid against real SQS, which
	// moves the message on the next receive attempt.)
	var dead []types.Message
	eventually(t, 30*time.Second, "message in the DLQ", func() (bool, string) {
		if again := f.receiveOnce(t, q.Ingest, 1, 0, 1); len(again) != 0 {
			t.Fatalf("delivered from the source a %dth time", receiveCount(t, again[0]))
		}
		dead = f.receiveOnce(t, q.DLQ, 1, 0, 0)
		return len(dead) == 1, fmt.Sprintf("ingest %+v, dlq %+v", f.depth(t, q.Ingest), f.depth(t, q.DLQ))
	})
	m := dead[0]
	if aws.ToString(m.Body) != "poison" {
		t.Errorf("DLQ body %q", aws.ToString(m.Body))
	}
	if aws.ToString(m.MessageId) != aws.ToString(out.MessageId) {
		t.Errorf("DLQ MessageId %s, want the original %s", aws.ToString(m.MessageId), aws.ToString(out.MessageId))
	}
	if got := aws.ToString(m.MessageAttributes["schema"].StringValue); got != "edgebatch.v1" || len(m.MessageAttributes) != len(attrs) {
		t.Errorf("DLQ message attributes %v", m.MessageAttributes)
	}
	if got := sysAttr(m, types.MessageSystemAttributeNameAWSTraceHeader); got != traceHeader {
		t.Errorf("DLQ AWSTraceHeader %q", got)
	}
	if got := sysAttr(m, types.MessageSystemAttributeNameDeadLetterQueueSourceArn); got != q.IngestARN {
		t.Errorf("DeadLetterQueueSourceArn = %q, want %q", got, q.IngestARN)
	}
	if d := f.depth(t, q.Ingest); d != (depth{}) {
		t.Errorf("source queue not empty: %+v", d)
	}
}

func TestQueueDepth(t *testing.T) {
	t.Parallel()
	f := start(t)
	q := f.queues(t, sqslocal.QueueOptions{})
	ctx := testContext(t)
	for i := range 3 {
		f.send(t, q.Ingest, fmt.Sprintf("m%d", i), nil)
	}
	if _, err := f.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.Ingest), MessageBody: aws.String("later"), DelaySeconds: 600}); err != nil {
		t.Fatal(err)
	}
	f.waitDepth(t, q.Ingest, depth{visible: 3, delayed: 1}, 10*time.Second)

	m := f.receiveN(t, q.Ingest, 1, 0)[0]
	// As on SQS: the proxy in server.mjs corrects the emulator, which would say 3.
	f.waitDepth(t, q.Ingest, depth{visible: 2, notVisible: 1, delayed: 1}, 10*time.Second)

	if _, err := f.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(q.Ingest), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	f.waitDepth(t, q.Ingest, depth{visible: 2, delayed: 1}, 10*time.Second)
}

func TestStartMessageMoveTask(t *testing.T) {
	t.Parallel()
	f := start(t)

	// waitTask polls ListMessageMoveTasks until the newest task of source
	// leaves RUNNING.
	waitTask := func(t *testing.T, sourceARN string) types.ListMessageMoveTasksResultEntry {
		t.Helper()
		var task types.ListMessageMoveTasksResultEntry
		eventually(t, 60*time.Second, "message move task", func() (bool, string) {
			out, err := f.client.ListMessageMoveTasks(testContext(t), &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(sourceARN), MaxResults: aws.Int32(1)})
			if err != nil {
				t.Fatalf("ListMessageMoveTasks: %v", err)
			}
			if len(out.Results) == 0 {
				return false, "no task"
			}
			task = out.Results[0]
			return aws.ToString(task.Status) != "RUNNING", fmt.Sprintf("%s, moved %d of %d", aws.ToString(task.Status), task.ApproximateNumberOfMessagesMoved, aws.ToInt64(task.ApproximateNumberOfMessagesToMove))
		})
		return task
	}
	// deadLetter puts a message in q's DLQ the way the worker does for an
	// invalid batch: sent there directly, with the reason attached.
	deadLetter := func(t *testing.T, q sqslocal.Queues, body string) {
		t.Helper()
		_, err := f.client.SendMessage(testContext(t), &sqs.SendMessageInput{
			QueueUrl: aws.String(q.DLQ), MessageBody: aws.String(body),
			MessageAttributes:       map[string]types.MessageAttributeValue{"schema": strAttr("edgebatch.v1"), "error": strAttr("Neptune unavailable")},
			MessageSystemAttributes: withTraceHeader(traceHeader),
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	checkMoved := func(t *testing.T, m types.Message) {
		t.Helper()
		if got := aws.ToString(m.MessageAttributes["error"].StringValue); got != "Neptune unavailable" {
			t.Errorf("moved message lost its error attribute: %v", m.MessageAttributes)
		}
		if got := sysAttr(m, types.MessageSystemAttributeNameAWSTraceHeader); got != traceHeader {
			t.Errorf("moved message AWSTraceHeader %q", got)
		}
	}

	t.Run("DLQ to the replay queue", func(t *testing.T) {
		t.Parallel()
		q := f.queues(t, sqslocal.QueueOptions{})
		want := []string{"b0", "b1", "b2"}
		for _, b := range want {
			deadLetter(t, q, b)
		}
		f.waitDepth(t, q.DLQ, depth{visible: 3}, 10*time.Second)
		out, err := f.client.StartMessageMoveTask(testContext(t), &sqs.StartMessageMoveTaskInput{
			SourceArn: aws.String(q.DLQARN), DestinationArn: aws.String(q.ReplayARN), MaxNumberOfMessagesPerSecond: aws.Int32(100),
		})
		if err != nil {
			t.Fatalf("StartMessageMoveTask: %v", err)
		}
		if aws.ToString(out.TaskHandle) == "" {
			t.Error("no TaskHandle")
		}
		task := waitTask(t, q.DLQARN)
		if aws.ToString(task.Status) != "COMPLETED" || task.ApproximateNumberOfMessagesMoved != 3 || aws.ToString(task.DestinationArn) != q.ReplayARN {
			t.Fatalf("task = %+v, want COMPLETED with 3 moved to %s", task, q.ReplayARN)
		}
		var got []string
		for _, m := range f.receiveN(t, q.Replay, 3, 0) {
			got = append(got, aws.ToString(m.Body))
			checkMoved(t, m)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("replay queue got %v, want %v", got, want)
		}
		f.waitDepth(t, q.DLQ, depth{}, 10*time.Second)
		if d := f.depth(t, q.Ingest); d != (depth{}) {
			t.Errorf("ingest queue got messages: %+v", d)
		}
	})

	t.Run("DLQ back to the source", func(t *testing.T) {
		t.Parallel()
		q := f.queues(t, sqslocal.QueueOptions{MaxReceiveCount: 1})
		_, err := f.client.SendMessage(testContext(t), &sqs.SendMessageInput{
			QueueUrl: aws.String(q.Ingest), MessageBody: aws.String("redriven"),
			MessageAttributes:       map[string]types.MessageAttributeValue{"error": strAttr("Neptune unavailable")},
			MessageSystemAttributes: withTraceHeader(traceHeader),
		})
		if err != nil {
			t.Fatal(err)
		}
		f.receiveN(t, q.Ingest, 1, 1)
		eventually(t, 30*time.Second, "message in the DLQ", func() (bool, string) {
			if again := f.receiveOnce(t, q.Ingest, 1, 0, 1); len(again) != 0 {
				t.Fatal("delivered from the source past maxReceiveCount")
			}
			d := f.depth(t, q.DLQ)
			return d == depth{visible: 1}, fmt.Sprintf("dlq %+v", d)
		})
		if _, err := f.client.StartMessageMoveTask(testContext(t), &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(q.DLQARN)}); err != nil {
			t.Fatalf("StartMessageMoveTask: %v", err)
		}
		if task := waitTask(t, q.DLQARN); aws.ToString(task.Status) != "COMPLETED" {
			t.Fatalf("task = %+v, want COMPLETED", task)
		}
		m := f.receiveN(t, q.Ingest, 1, 0)[0]
		if aws.ToString(m.Body) != "redriven" {
			t.Errorf("body %q", aws.ToString(m.Body))
		}
		checkMoved(t, m)
	})

	t.Run("no destination for a message sent to the DLQ", func(t *testing.T) {
		t.Parallel()
		q := f.queues(t, sqslocal.QueueOptions{})
		deadLetter(t, q, "direct")
		f.waitDepth(t, q.DLQ, depth{visible: 1}, 10*time.Second)
		if _, err := f.client.StartMessageMoveTask(testContext(t), &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(q.DLQARN)}); err != nil {
			t.Fatalf("StartMessageMoveTask: %v", err)
		}
		task := waitTask(t, q.DLQARN)
		if aws.ToString(task.Status) != "FAILED" || aws.ToString(task.FailureReason) != "CouldNotDetermineMessageSource" {
			t.Fatalf("task = %+v (%s), want FAILED CouldNotDetermineMessageSource", task, aws.ToString(task.FailureReason))
		}
	})

	t.Run("one task per source", func(t *testing.T) {
		t.Parallel()
		ctx := testContext(t)
		q := f.queues(t, sqslocal.QueueOptions{})
		for i := range 3 {
			deadLetter(t, q, fmt.Sprintf("m%d", i))
		}
		f.waitDepth(t, q.DLQ, depth{visible: 3}, 10*time.Second)
		in := &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(q.DLQARN), DestinationArn: aws.String(q.ReplayARN), MaxNumberOfMessagesPerSecond: aws.Int32(1)}
		if _, err := f.client.StartMessageMoveTask(ctx, in); err != nil {
			t.Fatalf("first StartMessageMoveTask: %v", err)
		}
		_, err := f.client.StartMessageMoveTask(ctx, in)
		if err == nil {
			t.Fatal("second concurrent StartMessageMoveTask accepted")
		}
		if task := waitTask(t, q.DLQARN); aws.ToString(task.Status) != "COMPLETED" || task.ApproximateNumberOfMessagesMoved != 3 {
			t.Fatalf("task = %+v, want COMPLETED with 3 moved", task)
		}
	})

	t.Run("source must be a DLQ", func(t *testing.T) {
		t.Parallel()
		q := f.queues(t, sqslocal.QueueOptions{})
		_, err := f.client.StartMessageMoveTask(testContext(t), &sqs.StartMessageMoveTaskInput{SourceArn: aws.String(q.IngestARN), DestinationArn: aws.String(q.ReplayARN)})
		if code := apiCode(err); code != "InvalidParameterValue" {
			t.Fatalf("err = %v (code %q), want InvalidParameterValue", err, code)
		}
	})
}
