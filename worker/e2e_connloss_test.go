//go:build !race

// End-to-end tests in which Neptune's connections fail under the worker. They
// run without the race detector, in `make test`'s second pass (-run
// ConnectionLoss): gremlin-go v3.7.4 writes a failed connection's state from
// its read loop without synchronisation, a data race inside the driver that a
// -race build of the worker reports (and exits 66 for) whatever the worker
// does.

package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Neptune down for longer than all the retries and receive counts would once
// allow (over two minutes, under a backlog), while one worker is killed and
// restarted and the other is stopped with SIGTERM: nothing reaches the DLQ,
// nothing is lost, and the backlog drains once Neptune is back. The sleeps
// here only schedule the faults; the verdicts are the DLQ and the graph.
func TestConnectionLossNeptuneOutageLosesNothingAndFillsNoDLQ(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{Neptune: neptunelocal.Options{Faults: neptunelocal.Faults{Latency: 20 * time.Millisecond}}})
	src := topology(1500, 5, time.Now())
	batches, err := edgebatch.Split(src, edgebatch.SplitLimits{MaxElements: 60})
	if err != nil {
		t.Fatal(err)
	}
	send(t, st, batches)
	// A short visibility timeout, so what the killed worker held comes back
	// (and could be received again) many times over during the outage.
	env := []string{"VISIBILITY_TIMEOUT=4s", "NEPTUNE_WRITERS=4"}
	a := startWorker(t, st, env...)
	b := startWorker(t, st, env...)
	eventually(t, 2*time.Minute, "some edges written", func() (bool, string) {
		_, e := st.Neptune.Graph().Counts()
		return e > 0, fmt.Sprint(e, " edges")
	})
	st.Neptune.SetDown(true)
	outage := time.Now()
	if _, e := st.Neptune.Graph().Counts(); e == len(src.Edges) {
		t.Skip("the backlog drained before the outage; nothing to prove")
	}

	time.Sleep(20 * time.Second)
	a.stop(t, syscall.SIGKILL)
	restarted := startWorker(t, st, env...)

	// The restarted worker finds Neptune down: it is alive (ECS must not
	// replace it) but not ready, and the image's own check agrees.
	addr := restarted.healthAddr(t)
	eventually(t, time.Minute, "the restarted worker reports Neptune unavailable", func() (bool, string) {
		code, body := get(t, "http://"+addr+"/readyz")
		return code == http.StatusServiceUnavailable && strings.Contains(body, "sink unavailable"), fmt.Sprint(code, " ", body)
	})
	if code, body := get(t, "http://"+addr+"/healthz"); code != http.StatusOK {
		t.Fatalf("/healthz of a worker waiting for Neptune: %d %s; want 200 (alive)", code, body)
	}
	check := exec.Command(workerBin, "-healthcheck", "-health-addr", addr)
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("worker -healthcheck: %v: %s", err, out)
	}
	time.Sleep(20 * time.Second)
	if ps := b.stop(t, syscall.SIGTERM); !ps.Success() {
		t.Fatalf("worker exited with %v after SIGTERM during the outage; want a clean exit", ps)
	}
	time.Sleep(time.Until(outage.Add(2*time.Minute + 10*time.Second)))
	dlqEmpty(t, st)
	st.Neptune.SetDown(false)

	graphHas(t, st, len(src.Vertices), len(src.Edges), 5*time.Minute)
	drained(t, st, time.Minute)
	dlqEmpty(t, st)
}

// A failover demotes the writer mid-drain: the connections the worker holds
// answer every write with ReadOnlyViolationException until it reconnects.
// The worker rebuilds its connections and nothing is lost or dead-lettered.
func TestConnectionLossFailoverMidDrainReconnectsAndLosesNothing(t *testing.T) {
	t.Parallel()
	st := startStack(t, devstack.Options{Neptune: neptunelocal.Options{Faults: neptunelocal.Faults{Latency: 20 * time.Millisecond}}})
	src := topology(1000, 5, time.Now())
	batches, err := edgebatch.Split(src, edgebatch.SplitLimits{MaxElements: 60})
	if err != nil {
		t.Fatal(err)
	}
	send(t, st, batches)
	startWorker(t, st, "NEPTUNE_WRITERS=4")
	eventually(t, 2*time.Minute, "some edges written", func() (bool, string) {
		_, e := st.Neptune.Graph().Counts()
		return e > 0, fmt.Sprint(e, " edges")
	})
	opened := st.Neptune.Stats().ConnectionsTotal
	st.Neptune.Demote()
	if _, e := st.Neptune.Graph().Counts(); e == len(src.Edges) {
		t.Skip("the backlog drained before the failover; nothing to prove")
	}
	graphHas(t, st, len(src.Vertices), len(src.Edges), 3*time.Minute)
	drained(t, st, time.Minute)
	dlqEmpty(t, st)
	if st.Neptune.Stats().ConnectionsTotal == opened {
		t.Fatal("the worker drained without opening a new connection after the failover")
	}
}
