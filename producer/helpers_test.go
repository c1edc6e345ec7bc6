package main

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/devtools/syncbuf"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

var observed = time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)

// blobSnapshot is a snapshot of n vertices in a chain, each carrying a
// size-byte string of random printable ASCII. Such text gains nothing from
// gzip once base64-encoded, so Encode sends it plain and a message's size on
// the queue is the size Split planned: a splitter that overshoots the queue
// gets refused by it instead of being rescued by compression.
func blobSnapshot(scope string, n, size int) *edgebatch.Batch {
	rnd := rand.New(rand.NewPCG(uint64(n), uint64(size)))
	const alphabet = " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"
	b := &edgebatch.Batch{V: edgebatch.Version, Source: "test", ObservedAt: observed,
		Snapshot: &edgebatch.Snapshot{ID: scope + "/" + observed.Format(time.RFC3339), Scope: scope}}
	blob := make([]byte, size)
	for i := range n {
		for j := range blob {
			blob[j] = alphabet[rnd.IntN(len(alphabet))]
		}
		id := fmt.Sprintf("blob:%s/%04d", scope, i)
		b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: id, Label: "Blob", Props: map[string]any{"blob": string(blob)}})
		if i > 0 {
			prev := b.Vertices[i-1].ID
			b.Edges = append(b.Edges, edgebatch.Edge{ID: "next:" + prev + ">" + id, Label: "next", From: prev, To: id})
		}
	}
	return b
}

// emulator is a local-aws-sqs for one test, with a fresh set of queues per
// call to queue.
type emulator struct {
	client *sqs.Client
	mu     sync.Mutex
	n      int
}

func startEmulator(t *testing.T) *emulator {
	t.Helper()
	srv := sqslocal.StartT(t)
	return &emulator{client: srv.Client(context.Background())}
}

// queue creates a fresh ingest queue of the given MaximumMessageSize (0: 1 MiB).
func (e *emulator) queue(t *testing.T, maxBytes int) string {
	t.Helper()
	e.mu.Lock()
	e.n++
	prefix := "p" + strconv.Itoa(e.n)
	e.mu.Unlock()
	q, err := sqslocal.CreateQueuesWithOptions(context.Background(), e.client, prefix, sqslocal.QueueOptions{MaximumMessageSize: maxBytes})
	if err != nil {
		t.Fatal(err)
	}
	return q.Ingest
}

// received is one message taken from the queue.
type received struct {
	batch *edgebatch.Batch
	size  int // body plus every attribute's name, "String" and value: SQS's count
}

// drain takes every message from the queue: the sends have returned, so the
// queue's depth says how many there are.
func (e *emulator) drain(t *testing.T, url string) []received {
	t.Helper()
	ctx := context.Background()
	a, err := e.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatal(err)
	}
	want, _ := strconv.Atoi(a.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)])
	var got []received
	for tries := 0; len(got) < want; tries++ {
		if tries == 100 {
			t.Fatalf("received %d of %d messages", len(got), want)
		}
		out, err := e.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			attrs := map[string]string{}
			size := len(aws.ToString(m.Body))
			for k, v := range m.MessageAttributes {
				attrs[k] = aws.ToString(v.StringValue)
				size += len(k) + len(aws.ToString(v.DataType)) + len(attrs[k])
			}
			b, err := edgebatch.Decode(aws.ToString(m.Body), attrs)
			if err != nil {
				t.Fatalf("a message on the queue does not decode: %v", err)
			}
			got = append(got, received{batch: b, size: size})
		}
	}
	return got
}

// seals returns the seal batches among msgs.
func seals(msgs []received) []*edgebatch.Batch {
	var out []*edgebatch.Batch
	for _, m := range msgs {
		if m.batch.Seal != nil {
			out = append(out, m.batch)
		}
	}
	return out
}

// dataSeqs returns the sorted seq numbers of the data batches among msgs.
func dataSeqs(msgs []received) []int {
	var out []int
	for _, m := range msgs {
		if m.batch.Seal == nil {
			out = append(out, m.batch.Snapshot.Seq)
		}
	}
	slices.Sort(out)
	return out
}

// seqRange is [from, from+1, ..., to-1].
func seqRange(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// faulty passes calls to the real emulator, records what each call held, and
// can make SQS fail: every entry for which failEntry is true fails with an
// InternalError (SQS's side, so the sender retries it), every time; a call
// holding an entry for which failCall is true fails whole.
type faulty struct {
	real      *sqs.Client
	failEntry func(*edgebatch.Batch) bool
	failCall  func(*edgebatch.Batch) bool
	attrsErr  error // when set, GetQueueAttributes fails with it

	mu    sync.Mutex
	calls [][]*edgebatch.Batch
}

func (f *faulty) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	if f.attrsErr != nil {
		return nil, f.attrsErr
	}
	return f.real.GetQueueAttributes(ctx, in, opts...)
}

func (f *faulty) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	var call []*edgebatch.Batch
	var keep []types.SendMessageBatchRequestEntry
	var failed []types.BatchResultErrorEntry
	failWhole := false
	for _, e := range in.Entries {
		b := decodeEntry(e)
		call = append(call, b)
		if f.failCall != nil && f.failCall(b) {
			failWhole = true
		}
		if f.failEntry != nil && f.failEntry(b) {
			failed = append(failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("injected"), SenderFault: false})
			continue
		}
		keep = append(keep, e)
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	if failWhole {
		return nil, fmt.Errorf("injected: connection reset")
	}
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

func decodeEntry(e types.SendMessageBatchRequestEntry) *edgebatch.Batch {
	attrs := map[string]string{}
	for k, v := range e.MessageAttributes {
		attrs[k] = aws.ToString(v.StringValue)
	}
	b, err := edgebatch.Decode(aws.ToString(e.MessageBody), attrs)
	if err != nil {
		panic(fmt.Sprintf("the producer sent a message that does not decode: %v", err))
	}
	return b
}

// testLog is a logger whose JSON lines the test can read.
func testLog() (*slog.Logger, *syncbuf.Buffer) {
	var buf syncbuf.Buffer
	return slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})), &buf
}
