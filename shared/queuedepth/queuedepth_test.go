package queuedepth_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/queuedepth"
)

// The sampler reads what SQS (the emulator behind its front, which reports
// the counts as SQS does) says of each queue it watches.
func TestSamplerReadsEachQueue(t *testing.T) {
	t.Parallel()
	srv := sqslocal.StartT(t)
	ctx := context.Background()
	c := srv.Client(ctx)
	q, err := sqslocal.CreateQueues(ctx, c, "depth")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.Ingest), MessageBody: aws.String(fmt.Sprint("m", i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(q.Ingest), MessageBody: aws.String("later"), DelaySeconds: 900}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(q.Ingest), MaxNumberOfMessages: 2, VisibilityTimeout: 600}); err != nil {
		t.Fatal(err)
	}

	s := queuedepth.New(c, time.Hour, nil)
	s.Watch("ingest", q.Ingest)
	s.Watch("replay", q.Replay)
	s.Watch("unset", "") // an optional queue left out
	if s.Fresh(time.Now(), time.Minute) {
		t.Fatal("fresh before any read")
	}
	s.SampleOnce(ctx)
	d, ok := s.Depth("ingest")
	// Receives may take fewer than asked; what is received is not visible.
	if !ok || d.Visible+d.NotVisible != 5 || d.NotVisible < 1 || d.Delayed != 1 || d.Err != "" {
		t.Fatalf("ingest depth %+v, %v; want 5 visible or in flight (at least one in flight) and 1 delayed", d, ok)
	}
	if d.Backlog() != d.Visible+1 {
		t.Fatalf("backlog %d; want the visible and the delayed", d.Backlog())
	}
	if r, _ := s.Depth("replay"); r.Backlog() != 0 || r.At.IsZero() {
		t.Fatalf("replay depth %+v; want read and empty", r)
	}
	if _, ok := s.Depth("unset"); ok {
		t.Fatal("a queue without URL is watched")
	}
	if len(s.All()) != 2 || !s.Fresh(time.Now(), time.Minute) {
		t.Fatalf("all %+v", s.All())
	}

	// A failed read keeps the last counts, with the error.
	bad := queuedepth.New(c, time.Hour, nil)
	bad.Watch("gone", strings.Replace(q.Ingest, "depth-ingest", "no-such-queue", 1))
	bad.SampleOnce(ctx)
	if g, _ := bad.Depth("gone"); g.Err == "" || !g.At.IsZero() || bad.Fresh(time.Now(), time.Hour) {
		t.Fatalf("depth of a missing queue %+v; want an error and no counts", g)
	}
}
