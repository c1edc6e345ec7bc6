package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/sqssend"
)

// deadLetterAll puts batches in the DLQ the way a worker dead-letters them
// (edgebatch.DeadLetter, with a reason), each with a trace context in its
// attributes and in AWSTraceHeader, and returns their bodies.
func deadLetterAll(t *testing.T, st *devstack.Stack, batches []*edgebatch.Batch) map[string]bool {
	t.Helper()
	bodies := map[string]bool{}
	for i, b := range batches {
		m, err := edgebatch.Encode(b)
		if err != nil {
			t.Fatal(err)
		}
		m.Attributes["traceparent"] = fmt.Sprintf("00-%032x-%016x-01", i+1, i+1)
		dl, err := edgebatch.DeadLetter(m.Body, m.Attributes, fmt.Sprint("orig-", i), "neptune refused the batch: a bug since fixed")
		if err != nil {
			t.Fatal(err)
		}
		in := &sqs.SendMessageInput{QueueUrl: aws.String(st.Queues.DLQ), MessageBody: aws.String(dl.Body),
			MessageAttributes: map[string]types.MessageAttributeValue{},
			MessageSystemAttributes: map[string]types.MessageSystemAttributeValue{
				"AWSTraceHeader": {DataType: aws.String("String"), StringValue: aws.String(fmt.Sprintf("Root=1-00000000-%024x;Parent=%016x;Sampled=1", i+1, i+1))},
			}}
		for k, v := range dl.Attributes {
			in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		if _, err := st.Client.SendMessage(context.Background(), in); err != nil {
			t.Fatal(err)
		}
		bodies[dl.Body] = true
	}
	return bodies
}

// smallBatches cuts a topology into batches of about perBatch edges, each
// with the vertices its edges need.
func smallBatches(t *testing.T, b *edgebatch.Batch, perBatch int) []*edgebatch.Batch {
	t.Helper()
	out, err := edgebatch.Split(b, edgebatch.SplitLimits{MaxElements: perBatch})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// `worker replay dlq`, run as the binary against the emulator, moves every
// DLQ message into the replay queue (SQS's move task, and the copy that
// stands in where it is unavailable), keeping bodies and trace context; a
// worker then writes them.
func TestReplayDLQ(t *testing.T) {
	t.Parallel()
	for _, method := range []string{methodMove, methodCopy} {
		t.Run(method, func(t *testing.T) {
			t.Parallel()
			st := startStack(t, devstack.Options{QueuePrefix: "replay-" + method})
			batches := smallBatches(t, topology(30, 4, time.Now().Add(-time.Hour)), 10)
			bodies := deadLetterAll(t, st, batches)

			cmd := exec.Command(workerBin, "replay", "dlq", "-replay-method", method, "-replay-rate", "100")
			cmd.Env = append(os.Environ(), st.Env()...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("worker replay dlq: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
			}
			want := fmt.Sprintf("replayed %d message(s) from %s to %s", len(batches), st.Queues.DLQ, st.Queues.Replay)
			if !strings.Contains(stdout.String(), want) {
				t.Fatalf("stdout %q; want %q\nstderr:\n%s", stdout.String(), want, stderr.String())
			}
			progress := map[string]string{methodMove: "moved ", methodCopy: "copied "}[method]
			if !strings.Contains(stderr.String(), progress) {
				t.Fatalf("no progress shown on stderr:\n%s", stderr.String())
			}
			if v, f, _ := st.Depth(context.Background(), st.Queues.DLQ); v+f != 0 {
				t.Fatalf("%d left in the DLQ", v+f)
			}

			// Every message is in the replay queue, body and trace context
			// kept; the copy marks them replay=true (a move task cannot, and
			// needs not: the replay queue's messages are replayed ones).
			got := map[string]bool{}
			for len(got) < len(batches) {
				out, err := st.Client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(st.Queues.Replay),
					MaxNumberOfMessages: 10, WaitTimeSeconds: 2, VisibilityTimeout: 1, MessageAttributeNames: []string{"All"},
					AttributeNames: []types.QueueAttributeName{"All"}})
				if err != nil {
					t.Fatal(err)
				}
				if len(out.Messages) == 0 {
					t.Fatalf("the replay queue holds %d of the %d messages", len(got), len(batches))
				}
				for _, m := range out.Messages {
					if !bodies[aws.ToString(m.Body)] {
						t.Fatalf("a message in the replay queue that was not in the DLQ: %.80s", aws.ToString(m.Body))
					}
					got[aws.ToString(m.Body)] = true
					tp := m.MessageAttributes["traceparent"].StringValue
					th := m.Attributes["AWSTraceHeader"]
					if tp == nil || !strings.HasPrefix(*tp, "00-") || !strings.HasPrefix(th, "Root=1-") {
						t.Fatalf("trace context lost: traceparent %v, AWSTraceHeader %q", tp, th)
					}
					if r := m.MessageAttributes[edgebatch.AttrReplay].StringValue; method == methodCopy && aws.ToString(r) != "true" {
						t.Fatalf("copied without replay=true: %v", m.MessageAttributes)
					}
				}
			}

			// A worker takes them from the replay queue into the graph.
			startWorker(t, st, "REPLAY_PAUSE_ABOVE=0", "DEPTH_INTERVAL=1s")
			graphHas(t, st, 30, 120, 2*time.Minute)
			eventually(t, time.Minute, "replay queue drained", func() (bool, string) {
				v, f, err := st.Depth(context.Background(), st.Queues.Replay)
				return err == nil && v+f == 0, fmt.Sprintf("visible %d, in flight %d, err %v", v, f, err)
			})
			dlqEmpty(t, st)
		})
	}
}

// Live messages are written ahead of a large replay backlog, and the replay
// finishes once live traffic stops. Neptune is the bottleneck (slow, two
// query workers), so a live burst builds a live backlog: while it lasts the
// replay queue gets no turn, and the replay backlog barely moves until the
// last live batch is written.
func TestLiveAheadOfReplay(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{QueuePrefix: "live-first", Neptune: neptunelocal.Options{
		Workers: 2, Faults: neptunelocal.Faults{Latency: 20 * time.Millisecond}}})
	replayed := smallBatches(t, topology(200, 3, time.Now().Add(-time.Hour)), 4) // 200 messages
	rep, err := sqssend.New(st.Client, st.Queues.Replay).SendBatches(context.Background(), replayed)
	if err != nil || rep.Messages != len(replayed) {
		t.Fatalf("loading the replay backlog: %v %+v", err, rep)
	}
	w := startWorker(t, st, "PROCESSORS=4", "REPLAY_SHARE=25", "REPLAY_PAUSE_ABOVE=0", "DEPTH_INTERVAL=1s")
	addr := w.healthAddr(t)
	replayLeft := func() int {
		v, f, err := st.Depth(context.Background(), st.Queues.Replay)
		if err != nil {
			t.Fatal(err)
		}
		return v + f
	}
	eventually(t, time.Minute, "the worker works on the replay queue", func() (bool, string) {
		n := replayLeft()
		return n < len(replayed)-5, fmt.Sprint(n, " left")
	})

	// A live burst: a graph of its own, 100 messages at once.
	live := &edgebatch.Batch{V: edgebatch.Version, Source: "aws", ObservedAt: time.Now()}
	arn := func(i int) string { return fmt.Sprintf("arn:aws:sqs:us-east-1:123456789012:live-%d", i) }
	for i := range 250 {
		live.Vertices = append(live.Vertices, edgebatch.Vertex{ID: arn(i), Label: "SQS_Queue"})
		if i > 0 {
			live.Edges = append(live.Edges, edgebatch.Edge{ID: edgebatch.EdgeID("targets", arn(i-1), arn(i)), Label: "targets", From: arn(i - 1), To: arn(i)})
		}
	}
	liveBatches := smallBatches(t, live, 5)
	before := replayLeft()
	send(t, st, liveBatches)
	eventually(t, 3*time.Minute, "live batches written", func() (bool, string) {
		ix := index(st)
		for _, b := range liveBatches {
			for _, e := range b.Edges {
				if _, ok := ix.edges[e.ID]; !ok {
					return false, "edge " + e.ID + " missing"
				}
			}
		}
		return true, ""
	})
	after := replayLeft()
	// What replay did meanwhile: what it held when the burst came, and what
	// it took before the depth sampler (1 s) saw the live backlog.
	if done := before - after; done > 15 {
		_, stats := get(t, "http://"+addr+"/stats")
		t.Fatalf("%d replayed messages were written while %d live ones waited (%d left before, %d after): replay did not wait for live traffic\n%s",
			done, len(liveBatches), before, after, stats)
	}
	// Live traffic has stopped: the replay finishes.
	eventually(t, 5*time.Minute, "replay queue drained", func() (bool, string) {
		n := replayLeft()
		return n == 0, fmt.Sprint(n, " left")
	})
	graphHas(t, st, 200+250, 600+249, time.Minute)
	dlqEmpty(t, st)
}
