package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/producer/awsreplay"
	"github.com/graphfleet/graphfleet/producer/cloudformation"
	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/devtools/syncbuf"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// phases answers AWS requests from one recording at a time: the account as
// it was, then after a stack update, then after the stack's deletion.
type phases struct {
	cur atomic.Pointer[awsreplay.Replayer]
}

func (p *phases) Do(r *http.Request) (*http.Response, error) { return p.cur.Load().Do(r) }

func (p *phases) load(t *testing.T, recording string) *awsreplay.Replayer {
	t.Helper()
	r, err := awsreplay.Load(recording)
	if err != nil {
		t.Fatal(err)
	}
	p.cur.Store(r)
	return r
}

// A stack update and a stack deletion, as EventBridge delivers them to the
// trigger queue, reach the graph through `producer listen`, the ingest
// queue and a worker process: the update leaves exactly what the stack now
// holds (a removed resource swept, an added one written), the deletion
// removes the stack's elements and nothing of the other stacks; events that
// cannot be acted on go to the trigger queue's DLQ with their reason.
func TestListenRediscoversChangedStacks(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	trig, err := sqslocal.CreateQueues(ctx, st.Client, "trigger")
	if err != nil {
		t.Fatal(err)
	}
	startTestWorker(t, st)

	var replay phases
	awsCfg := replay.load(t, "cloudformation/testdata/petsite").Config("us-east-1")
	awsCfg.HTTPClient = &replay

	// Expected graphs, from the source itself on each recording: every
	// stack's scan snapshot, with the app stack's replaced as it changes.
	scan := func(recording string) map[string]*edgebatch.Batch {
		r, err := awsreplay.Load(recording)
		if err != nil {
			t.Fatal(err)
		}
		snaps, err := cloudformation.New(r.Config("us-east-1"), []string{"us-east-1"}).Discover(ctx, observed)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*edgebatch.Batch{}
		for _, s := range snaps {
			out[s.Snapshot.Scope] = s
		}
		return out
	}
	appScope, err := cloudformation.StackScope(appStack)
	if err != nil {
		t.Fatal(err)
	}
	before, updated := scan("cloudformation/testdata/petsite"), scan("cloudformation/testdata/petsite-updated")
	if before[appScope] == nil || updated[appScope] == nil {
		t.Fatalf("no snapshot of the app stack in the recordings")
	}
	withApp := func(app *edgebatch.Batch) []string {
		var want []string
		for scope, s := range before {
			if scope == appScope {
				s = app
			}
			if s != nil {
				want = append(want, elementIDs(s)...)
			}
		}
		slices.Sort(want)
		return slices.Compact(want)
	}

	// 1. A full scan, as `producer run` sends it.
	log, logs := testLog()
	cfg := Config{Command: CommandRun, QueueURL: st.Queues.Ingest, Sources: []string{"cloudformation"}, Once: true,
		DiscoveryTimeout: time.Minute, AWSRegions: []string{"us-east-1"}, LogLevel: "info"}
	var summary bytes.Buffer
	if err := runWith(ctx, cfg, awsCfg, st.Client, &summary, log); err != nil {
		t.Fatalf("scan: %v\n%s", err, summary.String())
	}
	graphIs(t, st, "after the scan", withApp(before[appScope]))

	// 2. producer listen, and the app stack updated: three events for it
	// (EventBridge delivers at least once; nested stacks add their own).
	listenCfg := Config{Command: CommandListen, QueueURL: st.Queues.Ingest, TriggerQueueURL: trig.Ingest,
		TriggerCoalesce: time.Second, DiscoveryTimeout: time.Minute, AWSRegions: []string{"us-east-1"}, LogLevel: "info"}
	if err := listenCfg.Validate(); err != nil {
		t.Fatal(err)
	}
	lctx, stop := context.WithCancel(ctx)
	listened := make(chan error, 1)
	go func() { listened <- runListen(lctx, listenCfg, awsCfg, st.Client, log) }()
	defer func() {
		stop()
		if err := <-listened; err != nil {
			t.Errorf("listen: %v", err)
		}
		if t.Failed() {
			t.Logf("producer log:\n%s", logs.String())
		}
	}()

	upd := replay.load(t, "cloudformation/testdata/petsite-updated")
	for range 3 {
		sendEvent(t, st, trig.Ingest, "trigger/testdata/stack-update-complete.json")
	}
	graphIs(t, st, "after the update", withApp(updated[appScope]))
	if n := upd.Calls("cloudformation", "GetTemplate"); n != 1 {
		t.Errorf("%d GetTemplate calls for three events of one update; want one rediscovery", n)
	}

	// 3. The app stack deleted.
	replay.load(t, "cloudformation/testdata/petsite-deleted")
	sendEvent(t, st, trig.Ingest, "trigger/testdata/stack-delete-complete.json")
	graphIs(t, st, "after the deletion", withApp(nil))

	// 4. What listen cannot act on goes to the trigger DLQ, with why.
	sendEvent(t, st, trig.Ingest, "trigger/testdata/ec2-state-change.json")
	if _, err := st.Client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &trig.Ingest, MessageBody: aws.String("not an event")}); err != nil {
		t.Fatal(err)
	}
	reasons := dlqReasons(t, st, trig.DLQ, 2)
	slices.Sort(reasons)
	if len(reasons) != 2 || !strings.Contains(reasons[0], "not an EventBridge event") || !strings.Contains(reasons[1], "EC2 Instance State-change Notification") {
		t.Fatalf("trigger DLQ reasons %q", reasons)
	}
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("errors logged:\n%s", logs.String())
	}
}

// elementIDs are a snapshot's vertex and edge ids.
func elementIDs(b *edgebatch.Batch) []string {
	var out []string
	for _, v := range b.Vertices {
		out = append(out, v.ID)
	}
	for _, e := range b.Edges {
		out = append(out, e.ID)
	}
	return out
}

// graphIs waits for the stand-in's data elements (bookkeeping left out) to
// be exactly want.
func graphIs(t *testing.T, st *devstack.Stack, what string, want []string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		got = got[:0]
		d := st.Neptune.Graph().Dump()
		for _, v := range d.Vertices {
			if !strings.HasPrefix(v.ID, edgebatch.ReservedIDPrefix) {
				got = append(got, v.ID)
			}
		}
		for _, e := range d.Edges {
			got = append(got, e.ID)
		}
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	var missing, extra []string
	for _, id := range want {
		if _, ok := slices.BinarySearch(got, id); !ok {
			missing = append(missing, id)
		}
	}
	for _, id := range got {
		if _, ok := slices.BinarySearch(want, id); !ok {
			extra = append(extra, id)
		}
	}
	t.Fatalf("%s: the graph is not the expected one after a minute\nmissing: %q\nextra: %q", what, missing, extra)
}

// sendEvent sends a recorded EventBridge event, its time made now, as an
// EventBridge rule's SQS target would.
func sendEvent(t *testing.T, st *devstack.Stack, queueURL, file string) {
	t.Helper()
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		t.Fatal(err)
	}
	ev["time"] = time.Now().UTC().Format(time.RFC3339)
	body, _ := json.Marshal(ev)
	if _, err := st.Client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: &queueURL, MessageBody: aws.String(string(body))}); err != nil {
		t.Fatal(err)
	}
}

// dlqReasons waits for n messages on a DLQ and returns their reasons.
func dlqReasons(t *testing.T, st *devstack.Stack, dlq string, n int) []string {
	t.Helper()
	var reasons []string
	deadline := time.Now().Add(time.Minute)
	for len(reasons) < n && time.Now().Before(deadline) {
		out, err := st.Client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: &dlq, MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 600,
			MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			reasons = append(reasons, aws.ToString(m.MessageAttributes[edgebatch.AttrError].StringValue))
		}
	}
	if len(reasons) != n {
		t.Fatalf("%d messages on the DLQ after a minute; want %d (%q)", len(reasons), n, reasons)
	}
	return reasons
}

// startTestWorker runs the worker binary against st until the test ends.
func startTestWorker(t *testing.T, st *devstack.Stack) {
	t.Helper()
	cmd := exec.Command(workerBin)
	cmd.Env = append(os.Environ(), st.Env()...)
	cmd.Env = append(cmd.Env, "HEALTH_ADDR=127.0.0.1:0", "LOG_LEVEL=info", "RECEIVE_WAIT_TIME=2s")
	var out syncbuf.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("worker log:\n%s", tailString(out.String(), 8000))
		}
	})
}

func tailString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("...%s", s[len(s)-n:])
}
