package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/eventbridgelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/syncbuf"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// The whole path of a graph change: a batch through SQS, a worker writes it
// to Neptune, `worker changes` reads Neptune Streams and puts one event per
// new service and call on the EventBridge bus; SIGTERM stops it cleanly.
func TestChangeFeedEndToEnd(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{Neptune: neptunelocal.Options{StreamRecords: 100_000}})
	bus, err := eventbridgelocal.Start("", "graph-changes")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	startWorker(t, st)

	cmd := exec.Command(workerBin, "changes")
	cmd.Env = append(os.Environ(), st.Env()...)
	cmd.Env = append(cmd.Env, "EVENT_BUS_NAME=graph-changes", "AWS_ENDPOINT_URL_EVENTBRIDGE="+bus.URL(), "CHANGES_START=oldest",
		"CHANGES_POLL_INTERVAL=100ms", "HEALTH_ADDR=127.0.0.1:0", "LOG_LEVEL=info", "STOP_TIMEOUT=5s")
	out := &syncbuf.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("worker changes log:\n%s", tail(out.String(), 8000))
		}
	})

	b := topology(20, 2, time.Now().Add(-time.Minute))
	send(t, st, []*edgebatch.Batch{b})
	want := len(b.Vertices) + len(b.Edges)
	eventually(t, 2*time.Minute, "one event per new service and call on the bus", func() (bool, string) {
		n := len(bus.Events())
		return n >= want, fmt.Sprintf("%d events of %d", n, want)
	})
	counts := map[string]int{}
	for _, e := range bus.Events() {
		counts[e.DetailType]++
		if e.Bus != "graph-changes" || e.Source != "graphfleet" {
			t.Fatalf("event %+v", e)
		}
	}
	if counts["resource.added"] != len(b.Vertices) || counts["dependency.added"] != len(b.Edges) || len(counts) != 2 {
		t.Fatalf("events by type %v; want %d resource.added and %d dependency.added only", counts, len(b.Vertices), len(b.Edges))
	}

	var health string
	eventually(t, time.Minute, "the feed reports its health address", func() (bool, string) {
		for _, line := range strings.Split(out.String(), "\n") {
			var rec struct {
				Msg    string `json:"msg"`
				Health string `json:"health"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "change feed starting" && rec.Health != "" {
				health = rec.Health
				return true, ""
			}
		}
		return false, "no start line yet"
	})
	// The feed counts a read's events once it has saved the position after
	// them, just after the bus got them.
	eventually(t, time.Minute, "/stats counts the events", func() (bool, string) {
		code, body := get(t, "http://"+health+"/stats")
		return code == 200 && strings.Contains(body, `"dependency.added":40`), body
	})
	if code, body := get(t, "http://"+health+"/metrics"); code != 200 || !strings.Contains(body, "graphfleet_changes_lag_seconds") ||
		!strings.Contains(body, `graphfleet_changes_events_total{outcome="published",type="dependency.added"`) {
		t.Fatalf("/metrics: %d\n%s", code, tail(body, 3000))
	}
	if code, _ := get(t, "http://"+health+"/readyz"); code != 200 {
		t.Fatalf("/readyz %d", code)
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("worker changes did not stop on SIGTERM")
	}
	if !cmd.ProcessState.Success() {
		t.Fatalf("worker changes exited %v after SIGTERM", cmd.ProcessState)
	}
}
