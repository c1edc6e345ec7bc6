package sqssend_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/sdk/trace"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/sqssend"
)

// flaky passes calls to the real emulator but first fails the entries whose
// body is listed, once each, as SQS does with a partial batch failure.
type flaky struct {
	real  *sqs.Client
	mu    sync.Mutex
	fail  map[string]bool // body -> sender fault?
	calls []int           // entries per call
}

func (f *flaky) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	f.calls = append(f.calls, len(in.Entries))
	var keep []types.SendMessageBatchRequestEntry
	var failed []types.BatchResultErrorEntry
	for _, e := range in.Entries {
		body := aws.ToString(e.MessageBody)
		if fault, ok := f.fail[body]; ok {
			if !fault {
				delete(f.fail, body) // a server-side failure happens once
			}
			failed = append(failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("injected"), SenderFault: fault})
			continue
		}
		keep = append(keep, e)
	}
	f.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	if len(keep) > 0 {
		real, err := f.real.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: in.QueueUrl, Entries: keep}, opts...)
		if err != nil {
			return nil, err
		}
		out.Successful, out.Failed = real.Successful, real.Failed
	}
	out.Failed = append(out.Failed, failed...)
	return out, nil
}

func setup(t *testing.T) (*sqs.Client, string) {
	t.Helper()
	srv := sqslocal.StartT(t)
	c := srv.Client(context.Background())
	q, err := sqslocal.CreateQueues(context.Background(), c, "send")
	if err != nil {
		t.Fatal(err)
	}
	return c, q.Ingest
}

func message(body string, size int) edgebatch.Message {
	return edgebatch.Message{Body: body + strings.Repeat(" ", max(0, size-len(body))), Attributes: map[string]string{"schema": edgebatch.Schema, "source": "test"}}
}

func receiveAll(t *testing.T, c *sqs.Client, url string, n int) []types.Message {
	t.Helper()
	var got []types.Message
	deadline := time.Now().Add(time.Minute)
	for len(got) < n && time.Now().Before(deadline) {
		out, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600,
			MessageAttributeNames: []string{"All"},
			AttributeNames:        []types.QueueAttributeName{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, out.Messages...)
	}
	return got
}

func TestSend(t *testing.T) {
	t.Parallel()

	t.Run("25 small messages take three calls of at most ten", func(t *testing.T) {
		t.Parallel()
		c, url := setup(t)
		f := &flaky{real: c}
		msgs := make([]edgebatch.Message, 25)
		for i := range msgs {
			msgs[i] = message(fmt.Sprint("m", i), 100)
		}
		rep, err := sqssend.New(f, url).Send(context.Background(), msgs)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Messages != 25 || rep.Calls != 3 || fmt.Sprint(f.calls) != "[10 10 5]" {
			t.Fatalf("report %+v, calls %v", rep, f.calls)
		}
		if got := receiveAll(t, c, url, 25); len(got) != 25 {
			t.Fatalf("received %d", len(got))
		}
	})

	t.Run("large messages are packed under 1 MiB a call", func(t *testing.T) {
		t.Parallel()
		c, url := setup(t)
		f := &flaky{real: c}
		msgs := make([]edgebatch.Message, 6)
		for i := range msgs {
			msgs[i] = message(fmt.Sprint("big", i), 300_000)
		}
		rep, err := sqssend.New(f, url).Send(context.Background(), msgs)
		if err != nil {
			t.Fatal(err)
		}
		// Three of 300 kB fit in 1 MiB, a fourth would not.
		if fmt.Sprint(f.calls) != "[3 3]" || rep.Messages != 6 {
			t.Fatalf("calls %v, report %+v", f.calls, rep)
		}
	})

	t.Run("entries that fail on the server side are retried; the others are not resent", func(t *testing.T) {
		t.Parallel()
		c, url := setup(t)
		f := &flaky{real: c, fail: map[string]bool{"m3": false, "m7": false}}
		msgs := make([]edgebatch.Message, 10)
		for i := range msgs {
			msgs[i] = message(fmt.Sprint("m", i), 0)
		}
		rep, err := sqssend.New(f, url, sqssend.WithBackoff(time.Millisecond)).Send(context.Background(), msgs)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Messages != 10 || rep.Retried != 2 || fmt.Sprint(f.calls) != "[10 2]" {
			t.Fatalf("report %+v, calls %v", rep, f.calls)
		}
		if got := receiveAll(t, c, url, 10); len(got) != 10 {
			t.Fatalf("received %d, want each message exactly once", len(got))
		}
	})

	t.Run("an entry refused as the sender's fault is reported, not retried", func(t *testing.T) {
		t.Parallel()
		c, url := setup(t)
		f := &flaky{real: c, fail: map[string]bool{"m1": true}}
		msgs := []edgebatch.Message{message("m0", 0), message("m1", 0)}
		rep, err := sqssend.New(f, url, sqssend.WithBackoff(time.Millisecond)).Send(context.Background(), msgs)
		var se *sqssend.SendError
		if !errors.As(err, &se) || len(se.Failed) != 1 || se.Failed[1] == nil {
			t.Fatalf("err = %v", err)
		}
		if rep.Messages != 1 || len(f.calls) != 1 {
			t.Fatalf("report %+v, calls %v", rep, f.calls)
		}
	})

	t.Run("an entry the answer does not list as successful is not counted as sent", func(t *testing.T) {
		t.Parallel()
		c, url := setup(t)
		silent := &silent{real: c, body: "m1"}
		msgs := []edgebatch.Message{message("m0", 0), message("m1", 0), message("m2", 0)}
		rep, err := sqssend.New(silent, url, sqssend.WithBackoff(time.Millisecond), sqssend.WithMaxAttempts(3)).Send(context.Background(), msgs)
		se, ok := errors.AsType[*sqssend.SendError](err)
		if !ok || fmt.Sprint(se.Indices()) != "[1]" {
			t.Fatalf("err = %v; want a SendError for #1 alone", err)
		}
		if rep.Messages != 2 || silent.calls != 3 {
			t.Fatalf("report %+v after %d calls; want 2 messages, #1 tried 3 times", rep, silent.calls)
		}
	})

	t.Run("each message carries its producer span's context: traceparent and AWSTraceHeader", func(t *testing.T) {
		t.Parallel()
		c, url := setup(t)
		tp := trace.NewTracerProvider()
		ctx, parent := tp.Tracer("test").Start(context.Background(), "discovery")
		defer parent.End()
		if _, err := sqssend.New(c, url).Send(ctx, []edgebatch.Message{message("m0", 0)}); err != nil {
			t.Fatal(err)
		}
		m := receiveAll(t, c, url, 1)[0]
		tid := parent.SpanContext().TraceID().String()
		tp2 := aws.ToString(m.MessageAttributes["traceparent"].StringValue)
		if !strings.HasPrefix(tp2, "00-"+tid+"-") {
			t.Fatalf("traceparent %q is not in trace %s", tp2, tid)
		}
		xr := m.Attributes["AWSTraceHeader"]
		if !strings.HasPrefix(xr, "Root=1-"+tid[:8]+"-"+tid[8:]+";Parent=") {
			t.Fatalf("AWSTraceHeader %q is not trace %s", xr, tid)
		}
	})
}

// silent passes calls to the real emulator but leaves the entry with the
// given body out of the answer, in neither Successful nor Failed: a
// malformed answer that must not pass for success.
type silent struct {
	real  *sqs.Client
	body  string
	mu    sync.Mutex
	calls int
}

func (s *silent) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	s.mu.Lock()
	s.calls++
	s.mu.Unlock()
	out, err := s.real.SendMessageBatch(ctx, in, opts...)
	if err != nil {
		return nil, err
	}
	var hide string
	for _, e := range in.Entries {
		if strings.TrimSpace(aws.ToString(e.MessageBody)) == s.body {
			hide = aws.ToString(e.Id)
		}
	}
	kept := out.Successful[:0]
	for _, r := range out.Successful {
		if aws.ToString(r.Id) != hide {
			kept = append(kept, r)
		}
	}
	out.Successful = kept
	return out, nil
}
