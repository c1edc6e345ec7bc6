package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graph"
	"github.com/graphfleet/graphfleet/shared/devtools/syncbuf"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/sqssend"
)

// workerBin is the worker binary the end-to-end tests run as a real process,
// so SIGTERM and SIGKILL mean what they mean in ECS. Built once in TestMain,
// with the race detector when the tests have it.
var workerBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "graphfleet-worker-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workerBin = filepath.Join(dir, "worker")
	args := []string{"build", "-o", workerBin}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "cannot build the worker:", err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// startStack starts the SQS emulator and the stand-in for one test.
func startStack(t testing.TB, opts devstack.Options) *devstack.Stack {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := devstack.Start(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// workerProc is one worker process.
type workerProc struct {
	cmd  *exec.Cmd
	out  *syncbuf.Buffer
	done chan struct{}
}

// startWorker runs the worker binary against st. Its log is printed if the
// test fails.
func startWorker(t testing.TB, st *devstack.Stack, env ...string) *workerProc {
	t.Helper()
	cmd := exec.Command(workerBin)
	cmd.Env = append(os.Environ(), st.Env()...)
	cmd.Env = append(cmd.Env, "HEALTH_ADDR=127.0.0.1:0", "LOG_LEVEL=info", "VISIBILITY_TIMEOUT=10s", "STOP_TIMEOUT=20s", "RECEIVE_WAIT_TIME=5s")
	cmd.Env = append(cmd.Env, env...)
	w := &workerProc{cmd: cmd, out: &syncbuf.Buffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w.out, w.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.done
		if t.Failed() || os.Getenv("GRAPHFLEET_WORKER_LOGS") != "" {
			t.Logf("worker log (%d bytes):\n%s", len(w.out.String()), tail(w.out.String(), 8000))
		}
	})
	return w
}

// healthAddr waits for the worker to log where it serves its health
// endpoints (it is started on port 0) and returns that address.
func (w *workerProc) healthAddr(t testing.TB) string {
	t.Helper()
	var addr string
	eventually(t, time.Minute, "the worker reports its health address", func() (bool, string) {
		for _, line := range strings.Split(w.out.String(), "\n") {
			var rec struct {
				Msg    string `json:"msg"`
				Health string `json:"health"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "worker started" && rec.Health != "" {
				addr = rec.Health
				return true, ""
			}
		}
		return false, "no \"worker started\" line yet"
	})
	return addr
}

// get fetches a health endpoint and returns its status and body.
func get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// stop sends sig and waits for the process to exit.
func (w *workerProc) stop(t testing.TB, sig syscall.Signal) *os.ProcessState {
	t.Helper()
	_ = w.cmd.Process.Signal(sig)
	select {
	case <-w.done:
	case <-time.After(2 * time.Minute):
		t.Fatalf("worker did not exit after %v", sig)
	}
	return w.cmd.ProcessState
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// send encodes and sends batches to the ingest queue.
func send(t testing.TB, st *devstack.Stack, batches []*edgebatch.Batch) sqssend.Report {
	t.Helper()
	rep, err := sqssend.New(st.Client, st.Queues.Ingest).SendBatches(context.Background(), batches)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// eventually polls cond until it holds or the (generous) deadline passes.
// The deadline only turns a hang into a failure; no verdict rests on timing.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	state := ""
	for time.Now().Before(deadline) {
		var ok bool
		if ok, state = cond(); ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: still not true after %s (%s)", what, timeout, state)
}

// drained waits for the ingest queue to be empty, visible and in flight.
func drained(t testing.TB, st *devstack.Stack, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, "ingest queue drained", func() (bool, string) {
		v, f, err := st.Depth(context.Background(), st.Queues.Ingest)
		return err == nil && v == 0 && f == 0, fmt.Sprintf("visible %d, in flight %d, err %v", v, f, err)
	})
}

// dlqEmpty fails the test if anything reached the DLQ.
func dlqEmpty(t testing.TB, st *devstack.Stack) {
	t.Helper()
	v, f, err := st.Depth(context.Background(), st.Queues.DLQ)
	if err != nil {
		t.Fatal(err)
	}
	if v+f != 0 {
		t.Fatalf("%d messages in the DLQ; no fault here was the messages' own", v+f)
	}
}

// graphHas waits until the stand-in holds exactly v vertices and e edges.
func graphHas(t testing.TB, st *devstack.Stack, v, e int, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("graph has %d vertices and %d edges", v, e), func() (bool, string) {
		gv, ge := st.Neptune.Graph().Counts()
		return gv == v && ge == e, fmt.Sprintf("%d vertices, %d edges", gv, ge)
	})
}

// topology is a deterministic graph of n services, each calling the next k:
// n*k distinct edges.
func topology(n, k int, observed time.Time) *edgebatch.Batch {
	b := &edgebatch.Batch{V: edgebatch.Version, Source: "deepflow", ObservedAt: observed}
	id := func(i int) string { return edgebatch.ServiceID(fmt.Sprintf("ns%d", i%7), fmt.Sprintf("svc-%d", i)) }
	for i := range n {
		b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: id(i), Label: edgebatch.ServiceLabel,
			Props: map[string]any{"name": fmt.Sprintf("svc-%d", i), "namespace": fmt.Sprintf("ns%d", i%7), "tier": int64(i % 3)}})
	}
	for i := range n {
		for j := 1; j <= k; j++ {
			from, to := id(i), id((i+j)%n)
			b.Edges = append(b.Edges, edgebatch.Edge{ID: edgebatch.EdgeID(edgebatch.CallsLabel, from, to), Label: edgebatch.CallsLabel, From: from, To: to,
				Props: map[string]any{"requests": int64(i*k + j), "rrt_avg_us": 1530.25, "rrt_max_us": 2000.0, "l7_protocol": "HTTP"}})
		}
	}
	return b
}

// dumpIndex is the stand-in's graph by id.
type dumpIndex struct {
	vertices map[string]graph.DumpVertex
	edges    map[string]graph.DumpEdge
}

func index(st *devstack.Stack) dumpIndex {
	d := st.Neptune.Graph().Dump()
	ix := dumpIndex{vertices: make(map[string]graph.DumpVertex, len(d.Vertices)), edges: make(map[string]graph.DumpEdge, len(d.Edges))}
	for _, v := range d.Vertices {
		ix.vertices[v.ID] = v
	}
	for _, e := range d.Edges {
		ix.edges[e.ID] = e
	}
	return ix
}
