package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// Ten thousand edges in many batches, some delivered twice on purpose, reach
// the graph exactly: the right counts, every property single-valued and as
// sent, and first_seen unchanged when everything is delivered again.
func TestTenThousandEdgesArriveExactlyOnceInEffect(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{})
	const services, fanout = 2000, 5 // 10,000 edges
	src := topology(services, fanout, time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC))
	batches, err := edgebatch.Split(src, edgebatch.SplitLimits{MaxElements: 600})
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) < 20 {
		t.Fatalf("only %d batches; the test wants many", len(batches))
	}
	// Every third batch twice: duplicates on purpose.
	sent := append([]*edgebatch.Batch{}, batches...)
	for i := 0; i < len(batches); i += 3 {
		sent = append(sent, batches[i])
	}
	send(t, st, sent)
	startWorker(t, st)
	graphHas(t, st, services, services*fanout, 3*time.Minute)
	drained(t, st, time.Minute)

	first := index(st)
	t.Run("every vertex and edge carries exactly the properties sent, each single-valued", func(t *testing.T) {
		for _, v := range src.Vertices {
			got, ok := first.vertices[v.ID]
			if !ok {
				t.Fatalf("vertex %s missing", v.ID)
			}
			if got.Label != v.Label {
				t.Fatalf("vertex %s label %q, want %q", v.ID, got.Label, v.Label)
			}
			for k, vals := range got.Properties {
				if len(vals) != 1 {
					t.Fatalf("vertex %s property %s has %d values %v; want one", v.ID, k, len(vals), vals)
				}
			}
			for k, want := range v.Props {
				if g := got.Properties[k]; len(g) != 1 || g[0] != want {
					t.Fatalf("vertex %s %s = %v, want %v", v.ID, k, g, want)
				}
			}
			if g := got.Properties[neptune.PropSource]; len(g) != 1 || g[0] != "deepflow" {
				t.Fatalf("vertex %s source = %v", v.ID, g)
			}
		}
		for _, e := range src.Edges {
			got, ok := first.edges[e.ID]
			if !ok {
				t.Fatalf("edge %s missing", e.ID)
			}
			if got.From != e.From || got.To != e.To || got.Label != e.Label {
				t.Fatalf("edge %s is %s -%s-> %s", e.ID, got.From, got.Label, got.To)
			}
			for k, want := range e.Props {
				if got.Properties[k] != want {
					t.Fatalf("edge %s %s = %v, want %v", e.ID, k, got.Properties[k], want)
				}
			}
			if got.Properties[neptune.PropActive] != true {
				t.Fatalf("edge %s active = %v", e.ID, got.Properties[neptune.PropActive])
			}
		}
	})

	t.Run("counts reach the graph as Longs and latencies as Doubles, a whole-valued latency included", func(t *testing.T) {
		for _, e := range src.Edges {
			got := first.edges[e.ID].Properties
			if _, ok := got["requests"].(int64); !ok {
				t.Fatalf("edge %s requests = %#v; want a Long (int64)", e.ID, got["requests"])
			}
			if _, ok := got["rrt_avg_us"].(float64); !ok {
				t.Fatalf("edge %s rrt_avg_us = %#v; want a Double (float64)", e.ID, got["rrt_avg_us"])
			}
			if got["rrt_max_us"] != 2000.0 {
				t.Fatalf("edge %s rrt_max_us = %#v; want the Double 2000.0", e.ID, got["rrt_max_us"])
			}
		}
	})

	t.Run("delivering everything again changes no first_seen and adds nothing", func(t *testing.T) {
		send(t, st, batches)
		drained(t, st, 3*time.Minute)
		graphHas(t, st, services, services*fanout, time.Second)
		again := index(st)
		for id, v := range first.vertices {
			w := again.vertices[id]
			if fmt.Sprint(w.Properties[neptune.PropFirstSeen]) != fmt.Sprint(v.Properties[neptune.PropFirstSeen]) {
				t.Fatalf("vertex %s first_seen %v became %v", id, v.Properties[neptune.PropFirstSeen], w.Properties[neptune.PropFirstSeen])
			}
			for k, vals := range w.Properties {
				if len(vals) != 1 {
					t.Fatalf("vertex %s property %s has %d values after redelivery", id, k, len(vals))
				}
			}
		}
		for id, e := range first.edges {
			if again.edges[id].Properties[neptune.PropFirstSeen] != e.Properties[neptune.PropFirstSeen] {
				t.Fatalf("edge %s first_seen changed", id)
			}
		}
	})
}

// A malformed message and an oversized one go to the DLQ with a reason on
// their first receive, and the messages behind them are written.
func TestBadMessagesGoToTheDLQAndDoNotBlock(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{})
	ctx := context.Background()
	raw := func(body string, attrs map[string]string) {
		in := &sqs.SendMessageInput{QueueUrl: aws.String(st.Queues.Ingest), MessageBody: aws.String(body), MessageAttributes: map[string]types.MessageAttributeValue{}}
		for k, v := range attrs {
			in.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		if _, err := st.Client.SendMessage(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	// Malformed: an edge whose endpoint is not in the batch.
	raw(`{"v":1,"source":"deepflow","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"svc:a","label":"Service"}],`+
		`"edges":[{"id":"calls:svc:a>svc:b","label":"calls","from":"svc:a","to":"svc:b"}]}`, map[string]string{"schema": "edgebatch.v1"})
	// Oversized: well under SQS's 1 MiB on the wire, but 32 MiB once
	// decompressed, past what a worker will inflate.
	raw(gzipBomb(t, 32<<20), map[string]string{"schema": "edgebatch.v1", "content-encoding": "gzip"})
	// Behind them, good batches.
	good := topology(50, 2, time.Now())
	batches, err := edgebatch.Split(good, edgebatch.SplitLimits{MaxElements: 40})
	if err != nil {
		t.Fatal(err)
	}
	send(t, st, batches)

	startWorker(t, st)
	graphHas(t, st, 50, 100, 2*time.Minute)

	var dead []types.Message
	eventually(t, time.Minute, "two messages in the DLQ", func() (bool, string) {
		out, err := st.Client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(st.Queues.DLQ), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"},
		})
		if err == nil {
			dead = append(dead, out.Messages...)
		}
		return len(dead) >= 2, fmt.Sprintf("%d so far (%v)", len(dead), err)
	})
	reasons := []string{}
	for _, m := range dead {
		reason := aws.ToString(m.MessageAttributes["error"].StringValue)
		if reason == "" {
			t.Fatalf("DLQ message %s has no error attribute", aws.ToString(m.MessageId))
		}
		if aws.ToString(m.MessageAttributes["original_message_id"].StringValue) == "" {
			t.Fatal("DLQ message has no original_message_id")
		}
		reasons = append(reasons, reason)
	}
	all := strings.Join(reasons, " | ")
	if !strings.Contains(all, "svc:b") {
		t.Fatalf("no reason names the missing endpoint: %s", all)
	}
	if !strings.Contains(all, "decompresses to more than") {
		t.Fatalf("no reason says the message is too large: %s", all)
	}
	drained(t, st, time.Minute)
}

// gzipBomb is a gzip+base64 body that inflates to n bytes of JSON-ish text.
func gzipBomb(t testing.TB, n int) string {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write([]byte(`{"v":1,"source":"deepflow","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"`))
	chunk := bytes.Repeat([]byte("a"), 1<<20)
	for i := 0; i < n>>20; i++ {
		_, _ = zw.Write(chunk)
	}
	_, _ = zw.Write([]byte(`","label":"Service"}]}`))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// A worker killed with SIGKILL mid-run loses nothing: what it held comes back
// after the visibility timeout and a new worker writes it all.
func TestSIGKILLLosesNothing(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{Neptune: neptunelocal.Options{Faults: neptunelocal.Faults{Latency: 20 * time.Millisecond}}})
	src := topology(600, 5, time.Now())
	batches, err := edgebatch.Split(src, edgebatch.SplitLimits{MaxElements: 60})
	if err != nil {
		t.Fatal(err)
	}
	send(t, st, batches)
	w := startWorker(t, st, "VISIBILITY_TIMEOUT=4s")
	eventually(t, 2*time.Minute, "some edges written", func() (bool, string) {
		_, e := st.Neptune.Graph().Counts()
		return e > 0, fmt.Sprint(e, " edges")
	})
	w.stop(t, syscall.SIGKILL)
	_, e := st.Neptune.Graph().Counts()
	if e == 3000 {
		t.Skip("the worker finished before it could be killed; nothing to prove")
	}
	startWorker(t, st, "VISIBILITY_TIMEOUT=4s")
	graphHas(t, st, 600, 3000, 3*time.Minute)
	drained(t, st, time.Minute)
}

// SIGTERM, as ECS sends it, leaves nothing half-done and nothing lost: the
// worker exits cleanly, nothing stays invisible in flight, and what it did not
// finish is written by the next worker.
func TestSIGTERMReleasesWhatItHolds(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{
		Queues:  sqslocal.QueueOptions{VisibilityTimeout: 5 * time.Minute},
		Neptune: neptunelocal.Options{Faults: neptunelocal.Faults{Latency: 50 * time.Millisecond}},
	})
	src := topology(1000, 5, time.Now())
	batches, err := edgebatch.Split(src, edgebatch.SplitLimits{MaxElements: 60})
	if err != nil {
		t.Fatal(err)
	}
	send(t, st, batches)
	// A long visibility timeout: a message not released would stay hidden
	// for minutes, so in-flight == 0 below proves the release.
	w := startWorker(t, st, "VISIBILITY_TIMEOUT=5m", "STOP_TIMEOUT=3s", "RECEIVE_WAIT_TIME=2s")
	eventually(t, 2*time.Minute, "some edges written", func() (bool, string) {
		_, e := st.Neptune.Graph().Counts()
		return e > 0, fmt.Sprint(e, " edges")
	})
	ps := w.stop(t, syscall.SIGTERM)
	if !ps.Success() {
		t.Fatalf("worker exited with %v after SIGTERM; want a clean exit", ps)
	}
	_, inFlight, err := st.Depth(context.Background(), st.Queues.Ingest)
	if err != nil {
		t.Fatal(err)
	}
	if inFlight != 0 {
		t.Fatalf("%d messages still in flight after a clean stop; they were not released", inFlight)
	}
	startWorker(t, st, "VISIBILITY_TIMEOUT=5m")
	graphHas(t, st, 1000, 5000, 3*time.Minute)
	drained(t, st, time.Minute)
}

// A worker held at its cap for minutes, because Neptune is slow but answers,
// is alive: /healthz stays 200 throughout, so ECS would not replace the task
// doing the most work. (Its pollers block at the cap; that is backpressure,
// not a stuck loop.)
func TestHealthzStaysHealthyForAWorkerHeldAtItsCap(t *testing.T) {
	t.Parallel()
	// 8 s a request: slow, but within the probe's 10 s, so Neptune counts as
	// answering.
	st := startStack(t, devstack.Options{Neptune: neptunelocal.Options{Faults: neptunelocal.Faults{Latency: 8 * time.Second}}})
	src := topology(300, 2, time.Now())
	batches, err := edgebatch.Split(src, edgebatch.SplitLimits{MaxElements: 30})
	if err != nil {
		t.Fatal(err)
	}
	send(t, st, batches)
	w := startWorker(t, st, "PROCESSORS=2", "MAX_HELD_MESSAGES=3", "NEPTUNE_WRITERS=2", "MESSAGE_TIMEOUT=10m")
	addr := w.healthAddr(t)
	stats := func() (held, maxHeld int) {
		_, body := get(t, "http://"+addr+"/stats")
		var s struct {
			Held    int `json:"held"`
			MaxHeld int `json:"max_held"`
		}
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("/stats: %v: %s", err, body)
		}
		return s.Held, s.MaxHeld
	}
	eventually(t, time.Minute, "the worker held at its cap", func() (bool, string) {
		held, max := stats()
		return held == max, fmt.Sprintf("held %d of %d", held, max)
	})
	atCap := 0
	for end := time.Now().Add(2 * time.Minute); time.Now().Before(end); time.Sleep(2 * time.Second) {
		if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
			t.Fatalf("/healthz of a worker busy at its cap: %d %s", code, body)
		}
		if held, max := stats(); held == max {
			atCap++
		} else if held > max {
			t.Fatalf("held %d, over the cap of %d", held, max)
		}
	}
	if atCap < 30 {
		t.Fatalf("the worker was at its cap in only %d of ~60 looks; the test did not hold it there", atCap)
	}
}
