package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/producer/deepflow"
	"github.com/graphfleet/graphfleet/shared/devtools/deepflowlocal"
	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graph"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// producerBin is the producer built once for the tests that run the command
// itself, as a scheduled ECS task would; workerBin the worker, for the tests
// that follow a change into the graph.
var producerBin, workerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "graphfleet-producer-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	producerBin = filepath.Join(dir, "producer")
	workerBin = filepath.Join(dir, "worker")
	for bin, pkg := range map[string]string{producerBin: ".", workerBin: "../worker"} {
		build := exec.Command("go", "build", "-o", bin, pkg)
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "cannot build", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// startStack starts the SQS emulator and the Neptune stand-in for one test.
func startStack(t *testing.T) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := devstack.Start(ctx, devstack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// runProducer runs "producer <args>" against st and returns its exit code,
// stdout and stderr.
func runProducer(t *testing.T, st *devstack.Stack, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, producerBin, args...)
	cmd.Env = os.Environ()
	if st != nil {
		cmd.Env = append(cmd.Env, st.Env()...)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// applyQueue drains the ingest queue and writes every data batch to the
// stand-in with the worker's own writer, returning the batches.
func applyQueue(t *testing.T, st *devstack.Stack) []*edgebatch.Batch {
	t.Helper()
	msgs := (&emulator{client: st.Client}).drain(t, st.Queues.Ingest)
	w, err := neptune.New(context.Background(), neptune.Config{Endpoint: st.Neptune.URL(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var out []*edgebatch.Batch
	for _, m := range msgs {
		out = append(out, m.batch)
		if m.batch.Seal != nil {
			continue
		}
		if _, err := w.Write(context.Background(), m.batch); err != nil {
			t.Fatalf("writing batch %d of %s: %v", m.batch.Snapshot.Seq, m.batch.Snapshot.ID, err)
		}
	}
	return out
}

// endpointID is the vertex id the graph should hold for a querier endpoint:
// DESIGN.md's id scheme, spelled out here rather than taken from the source.
func endpointID(e deepflowlocal.Endpoint) string {
	if e.Type == 255 || e.Type == 0 {
		return deepflow.IPEndpointID(e.Type, e.Name, e.VPC)
	}
	return edgebatch.ServiceID(e.Namespace, e.Name)
}

// `producer run --once --source deepflow` against the local querier, whose
// row limit is below the window's rows, puts exactly the querier's rows in
// the graph: one calls edge per row, with the row's counts as Longs, and
// nothing else; it prints a summary and exits 0.
func TestRunOnceDeepFlowPutsExactlyTheQueriersRowsInTheGraph(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	const rowLimit = 50
	q, err := deepflowlocal.Start(deepflowlocal.Options{Scale: 3, RowLimit: rowLimit})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()

	code, stdout, stderr := runProducer(t, st, "run", "--once", "--source", "deepflow",
		"--deepflow-querier-url", q.URL(), "--deepflow-row-limit", fmt.Sprint(rowLimit), "--deepflow-name", "petsite")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	t.Logf("summary:\n%s", stdout)
	if !strings.Contains(stdout, "total: 1 of 1 snapshot(s) sealed") || !strings.Contains(stdout, "deepflow/petsite") {
		t.Fatalf("summary:\n%s", stdout)
	}

	batches := applyQueue(t, st)
	start := batches[0].ObservedAt.Add(-deepflow.DefaultWindow).Unix()
	calls := q.Calls(start)
	if len(calls) <= rowLimit {
		t.Fatalf("the window holds %d rows; the test wants more than the querier's limit %d", len(calls), rowLimit)
	}
	if q.Queries() < 2 {
		t.Fatalf("%d queries: the rows were not paged", q.Queries())
	}
	want := map[string]deepflowlocal.Call{}
	for _, c := range calls {
		from, to := endpointID(c.Client), endpointID(c.Server)
		want[edgebatch.EdgeIDWithKey(edgebatch.CallsLabel, from, to, deepflow.CallKey(c.Port, c.L7))] = c
	}
	got := map[string]graph.DumpEdge{}
	for _, e := range st.Neptune.Graph().Dump().Edges {
		if e.Label == edgebatch.CallsLabel {
			got[e.ID] = e
		}
	}
	if len(got) != len(want) {
		t.Errorf("%d calls edges in the graph; the querier has %d rows", len(got), len(want))
	}
	for id, c := range want {
		e, ok := got[id]
		if !ok {
			t.Errorf("row %+v has no edge %s", c, id)
			continue
		}
		if e.Properties["requests"] != c.Requests || e.Properties["server_errors"] != c.ServerErrors {
			t.Errorf("edge %s requests %#v server_errors %#v; the row says %d and %d (as Longs)", id, e.Properties["requests"], e.Properties["server_errors"], c.Requests, c.ServerErrors)
		}
		if _, ok := e.Properties["rrt_avg_us"].(float64); !ok {
			t.Errorf("edge %s rrt_avg_us %#v; want a Double", id, e.Properties["rrt_avg_us"])
		}
	}
}

// A querier that answers an error status makes `producer run --once` exit 1
// naming the querier's DESCRIPTION, and nothing reaches the queue: never a
// smaller graph.
func TestRunOnceFailsOnAQuerierError(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	q, err := deepflowlocal.Start(deepflowlocal.Options{Scale: 1, FailWith: &deepflowlocal.Failure{Status: "SERVER_ERROR", Description: "clickhouse: too many simultaneous queries"}})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	code, stdout, stderr := runProducer(t, st, "run", "--once", "--source", "deepflow", "--deepflow-querier-url", q.URL())
	if code != 1 {
		t.Fatalf("exit %d; want 1\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "FAILED") || !strings.Contains(stdout, "too many simultaneous queries") || !strings.Contains(stdout, "total: 0 of 0 snapshot(s) sealed") {
		t.Fatalf("summary does not name the failure:\n%s", stdout)
	}
	if visible, inFlight, err := st.Depth(context.Background(), st.Queues.Ingest); err != nil || visible+inFlight != 0 {
		t.Fatalf("queue depth %d+%d (%v); a failed discovery sends nothing", visible, inFlight, err)
	}
}

// An unknown command or source is refused before anything runs.
func TestRunRefusesWhatItDoesNotKnow(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"serve"}, {"run", "--queue-url", "http://127.0.0.1:1/1/q", "--source", "ldap", "--once"}} {
		code, _, stderr := runProducer(t, nil, args...)
		if code == 0 || !strings.Contains(stderr, "producer:") {
			t.Errorf("producer %q exited %d: %s", args, code, stderr)
		}
	}
}
