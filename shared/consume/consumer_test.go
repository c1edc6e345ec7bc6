package consume_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/consume"
	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

type fixture struct {
	client *sqs.Client
	queues sqslocal.Queues
}

func setup(t *testing.T, opts sqslocal.QueueOptions) fixture {
	t.Helper()
	srv := sqslocal.StartT(t)
	ctx := context.Background()
	c := srv.Client(ctx)
	q, err := sqslocal.CreateQueuesWithOptions(ctx, c, "t", opts)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{client: c, queues: q}
}

func (f fixture) send(t *testing.T, n int) {
	t.Helper()
	for i := range n {
		if _, err := f.client.SendMessage(context.Background(), &sqs.SendMessageInput{
			QueueUrl: aws.String(f.queues.Ingest), MessageBody: aws.String(fmt.Sprint("m", i)),
		}); err != nil {
			t.Fatal(err)
		}
	}
}

// run starts a consumer and returns a stop function that waits for Run.
func run(t *testing.T, f fixture, cfg consume.Config, h consume.Handler) (*consume.Consumer, func() error) {
	t.Helper()
	cfg.QueueURL = f.queues.Ingest
	cfg.Logger = quiet
	if cfg.WaitTime == 0 {
		cfg.WaitTime = time.Second
	}
	c, err := consume.New(context.Background(), f.client, cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	var once sync.Once
	var err2 error
	stop := func() error {
		once.Do(func() { cancel(); err2 = <-done })
		return err2
	}
	t.Cleanup(func() { _ = stop() })
	return c, stop
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not true within a minute", what)
}

func depth(t *testing.T, f fixture, url string) (int, int) {
	t.Helper()
	out, err := f.client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var v, nv int
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessages"], &v)
	fmt.Sscan(out.Attributes["ApproximateNumberOfMessagesNotVisible"], &nv)
	return v, nv
}

func TestConsumer(t *testing.T) {
	t.Parallel()

	t.Run("a message worked on longer than its visibility timeout is kept hidden by the heartbeat", func(t *testing.T) {
		t.Parallel()
		f := setup(t, sqslocal.QueueOptions{})
		f.send(t, 1)
		var calls atomic.Int64
		c, _ := run(t, f, consume.Config{VisibilityTimeout: 2 * time.Second}, func(ctx context.Context, m *consume.Message) error {
			calls.Add(1)
			time.Sleep(5 * time.Second) // 2.5 visibility timeouts
			return nil
		})
		eventually(t, "the message deleted", func() bool { return c.Stats().Deleted.Load() == 1 })
		if n := calls.Load(); n != 1 {
			t.Fatalf("handled %d times; the message reappeared while in work", n)
		}
		if c.Stats().Extended.Load() == 0 {
			t.Fatal("no visibility extension was made")
		}
	})

	t.Run("content the sink refused comes back through the queue and is retried until it succeeds", func(t *testing.T) {
		t.Parallel()
		f := setup(t, sqslocal.QueueOptions{})
		f.send(t, 1)
		var calls atomic.Int64
		receives := make(chan int, 2)
		c, _ := run(t, f, consume.Config{}, func(ctx context.Context, m *consume.Message) error {
			receives <- m.ReceiveCount
			if calls.Add(1) == 1 {
				return &consume.ContentError{Reason: "refused"}
			}
			return nil
		})
		eventually(t, "deleted after a retry", func() bool { return c.Stats().Deleted.Load() == 1 })
		if c.Stats().Retried.Load() != 1 || calls.Load() != 2 {
			t.Fatalf("retried %d, handled %d; want 1 and 2", c.Stats().Retried.Load(), calls.Load())
		}
		if first, second := <-receives, <-receives; first != 1 || second != 2 {
			t.Fatalf("receive counts %d then %d; a retry through the queue is a second receive", first, second)
		}
	})

	t.Run("a failure of the sink keeps the message and retries it without spending a receive", func(t *testing.T) {
		t.Parallel()
		f := setup(t, sqslocal.QueueOptions{})
		f.send(t, 1)
		var calls atomic.Int64
		receives := make(chan int, 2)
		c, _ := run(t, f, consume.Config{ProbeBackoff: 100 * time.Millisecond}, func(ctx context.Context, m *consume.Message) error {
			receives <- m.ReceiveCount
			if calls.Add(1) == 1 {
				return errors.New("connection refused")
			}
			return nil
		})
		eventually(t, "deleted after the sink came back", func() bool { return c.Stats().Deleted.Load() == 1 })
		if c.Stats().Parked.Load() != 1 || c.Stats().Retried.Load() != 0 {
			t.Fatalf("parked %d, retried %d; want 1 and 0", c.Stats().Parked.Load(), c.Stats().Retried.Load())
		}
		if first, second := <-receives, <-receives; first != 1 || second != 1 {
			t.Fatalf("receive counts %d then %d; a parked message must not be received again", first, second)
		}
	})

	t.Run("a permanent failure goes to the DLQ with its reason and leaves the queue", func(t *testing.T) {
		t.Parallel()
		f := setup(t, sqslocal.QueueOptions{})
		f.send(t, 1)
		c, _ := run(t, f, consume.Config{}, func(ctx context.Context, m *consume.Message) error {
			return &consume.PermanentError{Reason: "edges[0].to: not among the vertices"}
		})
		eventually(t, "dead-lettered", func() bool { return c.Stats().DeadLettered.Load() == 1 && c.Stats().Deleted.Load() == 1 })
		out, err := f.client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(f.queues.DLQ), WaitTimeSeconds: 5, MessageAttributeNames: []string{"All"},
		})
		if err != nil || len(out.Messages) != 1 {
			t.Fatalf("DLQ receive: %v, %d messages", err, len(out.Messages))
		}
		if got := aws.ToString(out.Messages[0].MessageAttributes["error"].StringValue); got != "edges[0].to: not among the vertices" {
			t.Fatalf("error attribute %q", got)
		}
		if aws.ToString(out.Messages[0].Body) != "m0" {
			t.Fatalf("body %q, want the original", aws.ToString(out.Messages[0].Body))
		}
	})

	t.Run("stopping releases held messages at once and finishes the ones in work", func(t *testing.T) {
		t.Parallel()
		f := setup(t, sqslocal.QueueOptions{VisibilityTimeout: 10 * time.Minute})
		f.send(t, 6)
		started := make(chan struct{}, 6)
		c, stop := run(t, f, consume.Config{MaxHeld: 6, Processors: 1, VisibilityTimeout: 10 * time.Minute, StopTimeout: 30 * time.Second},
			func(ctx context.Context, m *consume.Message) error {
				started <- struct{}{}
				time.Sleep(500 * time.Millisecond)
				return nil
			})
		eventually(t, "6 held", func() bool { return c.Held() == 6 })
		<-started
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		// One was in work and finished; the five waiting were released, so
		// none is in flight although the visibility timeout is ten minutes.
		if d := c.Stats().Deleted.Load(); d < 1 {
			t.Fatalf("the message in work was not finished (deleted %d)", d)
		}
		v, nv := depth(t, f, f.queues.Ingest)
		if nv != 0 || v != 6-int(c.Stats().Deleted.Load()) {
			t.Fatalf("after stop: %d visible, %d in flight, %d deleted", v, nv, c.Stats().Deleted.Load())
		}
	})

	t.Run("the dead-letter queue is found from the RedrivePolicy", func(t *testing.T) {
		t.Parallel()
		f := setup(t, sqslocal.QueueOptions{})
		_, err := consume.New(context.Background(), f.client, consume.Config{QueueURL: f.queues.DLQ, Logger: quiet}, nil)
		if err == nil {
			t.Fatal("a queue without a RedrivePolicy or DLQ_URL was accepted")
		}
	})
}
