package sqssend_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/sqssend"
)

func TestMessageLimit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		queueMax int
		want     int // 0: refused
	}{
		{"a 1 MiB queue leaves 1 MiB less the attribute reserve", 1 << 20, 1<<20 - edgebatch.AttributeReserve},
		{"a 256 KiB queue leaves 256 KiB less the attribute reserve", 256 << 10, 256<<10 - edgebatch.AttributeReserve},
		{"a queue claiming more than SQS's 1 MiB is held to 1 MiB", 2 << 20, edgebatch.MaxEncodedBytes},
		{"the smallest queue leaves exactly Split's smallest limit", sqssend.MinQueueMessageBytes, edgebatch.MinSplitBytes},
		{"one byte less is refused", sqssend.MinQueueMessageBytes - 1, 0},
		{"SQS's smallest queue, 1 KiB, is refused", 1024, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sqssend.MessageLimit(tt.queueMax)
			if tt.want == 0 {
				if !errors.Is(err, sqssend.ErrQueueTooSmall) {
					t.Fatalf("MessageLimit(%d) = %d, %v; want ErrQueueTooSmall", tt.queueMax, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("MessageLimit(%d) = %d, %v; want %d", tt.queueMax, got, err, tt.want)
			}
			// The limit is one Split accepts.
			empty := &edgebatch.Batch{V: 1, Source: "test", ObservedAt: time.Now(), Snapshot: &edgebatch.Snapshot{ID: "test/1", Scope: "test"}}
			if _, err := edgebatch.Split(empty, edgebatch.SplitLimits{MaxBytes: got}); err != nil {
				t.Fatalf("Split refuses MaxBytes %d: %v", got, err)
			}
		})
	}
}

func TestQueueMaxMessageBytes(t *testing.T) {
	t.Parallel()
	srv := sqslocal.StartT(t)
	ctx := context.Background()
	c := srv.Client(ctx)

	t.Run("reads the queue's MaximumMessageSize", func(t *testing.T) {
		for _, size := range []int{256 << 10, 1 << 20} {
			q, err := sqslocal.CreateQueuesWithOptions(ctx, c, fmt.Sprint("limit-", size), sqslocal.QueueOptions{MaximumMessageSize: size})
			if err != nil {
				t.Fatal(err)
			}
			got, err := sqssend.QueueMaxMessageBytes(ctx, c, q.Ingest)
			if err != nil || got != size {
				t.Fatalf("QueueMaxMessageBytes = %d, %v; want %d", got, err, size)
			}
		}
	})

	t.Run("a queue that does not exist is told apart from a failure to read", func(t *testing.T) {
		q, err := sqslocal.CreateQueues(ctx, c, "deleted")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(q.Ingest)}); err != nil {
			t.Fatal(err)
		}
		_, err = sqssend.QueueMaxMessageBytes(ctx, c, q.Ingest)
		if err == nil || !sqssend.IsQueueMissing(err) {
			t.Fatalf("err = %v; want one IsQueueMissing recognises", err)
		}
		if sqssend.IsQueueMissing(errors.New("AccessDenied")) {
			t.Fatal("IsQueueMissing matches message text")
		}
	})
}
