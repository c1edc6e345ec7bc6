package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/sqssend"
)

// About 1.2 MB: five batches on a 256 KiB queue; two on a 1 MiB one, the
// second under 256 KiB.
const blobVertices, blobBytes = 540, 2000

// dlqErrorAttr is the most the worker adds when it dead-letters a message
// (name, "String", at most MaxReasonBytes): a message must fit with it.
const dlqErrorAttr = len(edgebatch.AttrError) + len("String") + edgebatch.MaxReasonBytes

func TestSnapshotSender(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	ctx := context.Background()

	t.Run("every data batch goes first, then the seal alone, counting them", func(t *testing.T) {
		t.Parallel()
		url := emu.queue(t, 256<<10)
		f := &faulty{real: emu.client}
		log, _ := testLog()
		ss, err := newSnapshotSender(ctx, f, url, log)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := ss.send(ctx, blobSnapshot("test/order", blobVertices, blobBytes))
		if err != nil {
			t.Fatal(err)
		}
		if rep.Batches < 3 {
			t.Fatalf("%d data batches; the test wants several", rep.Batches)
		}
		last := f.calls[len(f.calls)-1]
		if len(last) != 1 || last[0].Seal == nil {
			t.Fatalf("the last call held %d message(s), seal %v; want the seal alone", len(last), last[0].Seal)
		}
		var sent []int
		for _, call := range f.calls[:len(f.calls)-1] {
			for _, b := range call {
				if b.Seal != nil {
					t.Fatal("a seal was sent with the data")
				}
				sent = append(sent, b.Snapshot.Seq)
			}
		}
		slices.Sort(sent)
		if !slices.Equal(sent, seqRange(0, rep.Batches)) {
			t.Fatalf("data calls held seq %v; want 0 to %d", sent, rep.Batches-1)
		}

		msgs := emu.drain(t, url)
		s := seals(msgs)
		if len(s) != 1 || s[0].Seal.Batches != rep.Batches || s[0].Snapshot.Seq != rep.Batches {
			t.Fatalf("seals on the queue: %v; want one of %d batches", s, rep.Batches)
		}
		if got := dataSeqs(msgs); !slices.Equal(got, seqRange(0, rep.Batches)) {
			t.Fatalf("data on the queue: seq %v; want 0 to %d", got, rep.Batches-1)
		}
	})

	// Each case makes SQS fail part of the snapshot. What a user must see:
	// no seal on the queue (so no sweep), every other data batch still sent,
	// and an error naming what failed.
	unsealed := []struct {
		name      string
		queueMax  int
		sender    func(t *testing.T, url string) *snapshotSender
		failEntry func(*edgebatch.Batch) bool // see faulty
		failCall  func(*edgebatch.Batch) bool
		// wantFailed is the seq of each data batch SQS did not take, given
		// what each call held; nil when only the seal failed.
		wantFailed func(calls [][]*edgebatch.Batch) []int
	}{
		{
			name:     "an entry SQS refuses (the queue shrank after the start) leaves the snapshot unsealed",
			queueMax: 256 << 10,
			sender: func(t *testing.T, url string) *snapshotSender {
				// Limits read when the queue was 1 MiB.
				return &snapshotSender{sender: sqssend.New(emu.client, url, sqssend.WithBackoff(time.Millisecond)), limits: edgebatch.SplitLimits{MaxBytes: edgebatch.MaxEncodedBytes}}
			},
			wantFailed: func([][]*edgebatch.Batch) []int { return []int{0} }, // the full one; the last is smaller
		},
		{
			name:       "an entry that fails on SQS's side at every attempt leaves the snapshot unsealed",
			failEntry:  func(b *edgebatch.Batch) bool { return b.Seal == nil && b.Snapshot.Seq == 1 },
			wantFailed: func([][]*edgebatch.Batch) []int { return []int{1} },
		},
		{
			name:     "a call that fails whole at every attempt leaves the snapshot unsealed",
			failCall: func(b *edgebatch.Batch) bool { return b.Seal == nil && b.Snapshot.Seq == 4 },
			wantFailed: func(calls [][]*edgebatch.Batch) []int {
				// Every batch packed in a call with seq 4.
				for _, call := range calls {
					var seqs []int
					for _, b := range call {
						seqs = append(seqs, b.Snapshot.Seq)
					}
					if slices.Contains(seqs, 4) {
						slices.Sort(seqs)
						return seqs
					}
				}
				return nil
			},
		},
		{
			name:       "a seal SQS does not accept leaves the snapshot unsealed",
			failEntry:  func(b *edgebatch.Batch) bool { return b.Seal != nil },
			wantFailed: func([][]*edgebatch.Batch) []int { return nil },
		},
	}
	for _, tt := range unsealed {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			url := emu.queue(t, cmp.Or(tt.queueMax, 256<<10))
			f := &faulty{real: emu.client, failEntry: tt.failEntry, failCall: tt.failCall}
			var ss *snapshotSender
			if tt.sender != nil {
				ss = tt.sender(t, url)
			} else {
				log, _ := testLog()
				var err error
				if ss, err = newSnapshotSender(ctx, f, url, log, sqssend.WithBackoff(time.Millisecond)); err != nil {
					t.Fatal(err)
				}
			}
			rep, err := ss.send(ctx, blobSnapshot("test/unsealed", blobVertices, blobBytes))
			ue, ok := errors.AsType[*unsealedError](err)
			if !ok {
				t.Fatalf("err = %v; want an unsealedError", err)
			}
			failed := tt.wantFailed(f.calls)
			if !slices.Equal(ue.Failed, failed) {
				t.Fatalf("error names seq %v as failed; want %v (%v)", ue.Failed, failed, err)
			}
			if len(failed) > 0 && !strings.Contains(err.Error(), fmt.Sprint(failed)) {
				t.Fatalf("error %q does not name seq %v", err, failed)
			}

			msgs := emu.drain(t, url)
			if s := seals(msgs); len(s) != 0 {
				t.Fatalf("the queue holds a seal of %d batches; a snapshot with a failure must not be sealed", s[0].Seal.Batches)
			}
			want := slices.DeleteFunc(seqRange(0, rep.Batches), func(seq int) bool { return slices.Contains(failed, seq) })
			if got := dataSeqs(msgs); !slices.Equal(got, want) {
				t.Fatalf("data on the queue: seq %v; want every batch but the failed ones: %v", got, want)
			}
			if ue.Accepted != len(want) || ue.Batches != rep.Batches {
				t.Fatalf("error counts %d of %d accepted; the queue holds %d of %d", ue.Accepted, ue.Batches, len(want), rep.Batches)
			}
		})
	}
}

func TestMessageSize(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	ctx := context.Background()

	// sendBlobs sends a snapshot through a sender made the way main makes
	// one, and returns what the queue holds.
	sendBlobs := func(t *testing.T, client queueClient, url string) ([]received, string) {
		t.Helper()
		log, logs := testLog()
		ss, err := newSnapshotSender(ctx, client, url, log)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ss.send(ctx, blobSnapshot("test/size", blobVertices, blobBytes)); err != nil {
			t.Fatal(err)
		}
		msgs := emu.drain(t, url)
		if len(seals(msgs)) != 1 {
			t.Fatalf("%d seals on the queue", len(seals(msgs)))
		}
		return msgs, logs.String()
	}
	largest := func(msgs []received) int {
		n := 0
		for _, m := range msgs {
			n = max(n, m.size)
		}
		return n
	}

	t.Run("a 256 KiB queue gets messages that fit it, with room left for the DLQ's error attribute", func(t *testing.T) {
		t.Parallel()
		url := emu.queue(t, 256<<10)
		msgs, _ := sendBlobs(t, emu.client, url)
		if n := largest(msgs); n+dlqErrorAttr > 256<<10 {
			t.Fatalf("a message counts %d bytes; with a DLQ error attribute it would not fit 256 KiB", n)
		}
		if len(msgs) < 4 {
			t.Fatalf("%d messages; 1.2 MB should need several", len(msgs))
		}
	})

	t.Run("a 1 MiB queue gets messages larger than 256 KiB", func(t *testing.T) {
		t.Parallel()
		url := emu.queue(t, 1<<20)
		msgs, _ := sendBlobs(t, emu.client, url)
		n := largest(msgs)
		if n <= 256<<10 {
			t.Fatalf("the largest message counts %d bytes; a 1 MiB queue should take more than 256 KiB", n)
		}
		if n+dlqErrorAttr > 1<<20 {
			t.Fatalf("a message counts %d bytes; with a DLQ error attribute it would not fit 1 MiB", n)
		}
	})

	t.Run("when the queue's size cannot be read, messages are cut to 256 KiB and a warning says why", func(t *testing.T) {
		t.Parallel()
		url := emu.queue(t, 1<<20)
		denied := &faulty{real: emu.client, attrsErr: &smithy.GenericAPIError{Code: "AccessDenied", Message: "not authorized to perform sqs:GetQueueAttributes"}}
		msgs, logs := sendBlobs(t, denied, url)
		if n := largest(msgs); n+dlqErrorAttr > 256<<10 {
			t.Fatalf("a message counts %d bytes; unknown queues should get at most 256 KiB", n)
		}
		if !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "sqs:GetQueueAttributes") || !strings.Contains(logs, "AccessDenied") {
			t.Fatalf("no warning naming the permission and the error:\n%s", logs)
		}
	})

	t.Run("a queue too small for any edge batch is refused at start", func(t *testing.T) {
		t.Parallel()
		url := emu.queue(t, 4096)
		log, _ := testLog()
		_, err := newSnapshotSender(ctx, emu.client, url, log)
		if !errors.Is(err, sqssend.ErrQueueTooSmall) || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "4096") {
			t.Fatalf("err = %v; want ErrQueueTooSmall naming the queue and its 4096 bytes", err)
		}
	})

	t.Run("a queue that does not exist is refused at start", func(t *testing.T) {
		t.Parallel()
		url := emu.queue(t, 0)
		if _, err := emu.client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(url)}); err != nil {
			t.Fatal(err)
		}
		log, _ := testLog()
		if _, err := newSnapshotSender(ctx, emu.client, url, log); !sqssend.IsQueueMissing(err) {
			t.Fatalf("err = %v; want the queue reported missing", err)
		}
	})
}
