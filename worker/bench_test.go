package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/producer/demo"
	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// BenchmarkIngest measures the whole path, producer's send to the edge in the
// graph, through the real SQS emulator and a worker process, with the stand-in
// delaying every Neptune request by 10 ms (a realistic round trip to a busy
// writer) and running 16 requests at once, as an 8-vCPU Neptune writer does;
// the worker runs 16 writers to match. It reports per delivery of the data set:
//
//	neptune-requests   Neptune requests the worker made
//	records/request    records (labels and properties) per request
//	wall-ms            from the first SendMessageBatch to the last edge written
//	worker-cpu-us/edge worker CPU (user+system) per edge
//
//	go test -run '^$' -bench Ingest -benchtime 1x ./worker/
func BenchmarkIngest(b *testing.B) {
	b.Run("calls-100-services-40", func(b *testing.B) {
		src := demo.New(1, 1).Calls(time.Now())
		benchIngest(b, src, 20)
	})
	b.Run("edges-100k", func(b *testing.B) {
		benchIngest(b, topology(20_000, 5, time.Now()), 1)
	})
}

// benchIngest delivers src rounds times per iteration, each round a new
// observation of the same graph, as a discovery schedule would.
func benchIngest(b *testing.B, src *edgebatch.Batch, rounds int) {
	st := startStack(b, devstack.Options{Neptune: neptunelocal.Options{Workers: 16, Faults: neptunelocal.Faults{Latency: 10 * time.Millisecond}}})
	batches, err := edgebatch.Split(src, edgebatch.SplitLimits{})
	if err != nil {
		b.Fatal(err)
	}
	w := startWorker(b, st, "LOG_LEVEL=warn", "NEPTUNE_WRITERS=16", "PROCESSORS=16")
	eventually(b, time.Minute, "worker connected", func() (bool, string) {
		return st.Neptune.Stats().ConnectionsOpen > 0, ""
	})
	edges := len(src.Edges)
	var wall time.Duration
	before := st.Neptune.Stats()
	cpuBefore := cpuTime(b, w.cmd.Process.Pid)
	for i := 0; i < b.N*rounds; i++ {
		target := st.Neptune.Stats().Committed
		want := target + int64(expectedRequests(batches))
		start := time.Now()
		send(b, st, batches)
		// Polled every millisecond, so the figure is not the polling interval.
		for deadline := start.Add(5 * time.Minute); st.Neptune.Stats().Committed < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatalf("round %d: %d of %d requests committed after 5 minutes", i, st.Neptune.Stats().Committed-target, want-target)
			}
		}
		wall += time.Since(start)
	}
	cpu := cpuTime(b, w.cmd.Process.Pid) - cpuBefore
	after := st.Neptune.Stats()
	if v, e := st.Neptune.Graph().Counts(); e != edges || v != len(src.Vertices) {
		b.Fatalf("graph has %d vertices and %d edges, want %d and %d", v, e, len(src.Vertices), edges)
	}
	n := float64(b.N * rounds)
	requests := float64(after.Committed - before.Committed)
	b.ReportMetric(requests/n, "neptune-requests")
	b.ReportMetric(float64(after.Records-before.Records)/requests, "records/request")
	b.ReportMetric(float64(wall.Milliseconds())/n, "wall-ms")
	b.ReportMetric(float64(cpu.Microseconds())/(n*float64(edges)), "worker-cpu-us/edge")
	b.ReportMetric(float64(len(batches)), "messages")
}

// expectedRequests is how many Neptune requests the worker makes for the
// batches at the default 200 records, computed by the writer's own chunking,
// so a round is known to be complete even though every edge already exists.
func expectedRequests(batches []*edgebatch.Batch) int {
	n := 0
	for _, b := range batches {
		n += neptune.RequestsFor(b, 0)
	}
	return n
}

// cpuTime reads a process's user+system CPU time from /proc (Linux).
func cpuTime(b testing.TB, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may contain spaces) in parentheses.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticksPerSecond
}

// BenchmarkDrainThrottled drains a 100k-edge backlog (111 messages, loaded
// into the emulator before the worker starts) into a stand-in that runs two
// requests at once with a queue of two, 5 ms each, throttles past that as
// Neptune does past its queue, and throttles 2 % of the rest at random. The
// worker starts its adaptive limit at 8 and may take it to 32 (against a
// fixed limit of 16, for comparison). It fails if
// a message reaches the DLQ or the stand-in ever saw more requests at once
// than the limit's peak; it reports where the limit settled:
//
//	go test -run '^$' -bench DrainThrottled -benchtime 1x ./worker/
func BenchmarkDrainThrottled(b *testing.B) {
	src := topology(20_000, 5, time.Now())
	batches, err := edgebatch.Split(src, edgebatch.SplitLimits{})
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, start, lo, hi string }{
		{"adaptive-8-in-1..32", "8", "1", "32"},
		{"fixed-16", "16", "16", "16"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				drainThrottled(b, src, batches, "NEPTUNE_WRITERS="+bc.start, "NEPTUNE_WRITERS_MIN="+bc.lo, "NEPTUNE_WRITERS_MAX="+bc.hi)
			}
		})
	}
}

func drainThrottled(b *testing.B, src *edgebatch.Batch, batches []*edgebatch.Batch, limits ...string) {
	st := startStack(b, devstack.Options{Neptune: neptunelocal.Options{Workers: 2, QueueCapacity: 2,
		Faults: neptunelocal.Faults{Latency: 5 * time.Millisecond, ThrottleRate: 0.02}}})
	send(b, st, batches)
	start := time.Now()
	w := startWorker(b, st, append([]string{"PROCESSORS=16", "POLLERS=4"}, limits...)...)
	graphHas(b, st, len(src.Vertices), len(src.Edges), 10*time.Minute)
	took := time.Since(start)
	drained(b, st, time.Minute)
	dlqEmpty(b, st)
	_, body := get(b, "http://"+w.healthAddr(b)+"/stats")
	var stats struct {
		Writer neptune.LimitStatus `json:"writer"`
	}
	if err := json.Unmarshal([]byte(body), &stats); err != nil {
		b.Fatalf("/stats: %v: %s", err, body)
	}
	ns := st.Neptune.Stats()
	if int(ns.MaxInFlight) > stats.Writer.Peak {
		b.Fatalf("the stand-in saw %d requests at once; the limit never went above %d", ns.MaxInFlight, stats.Writer.Peak)
	}
	b.ReportMetric(float64(len(src.Edges))/took.Seconds(), "edges/s")
	b.ReportMetric(took.Seconds(), "drain-s")
	b.ReportMetric(float64(stats.Writer.Limit), "final-limit")
	b.ReportMetric(float64(stats.Writer.Peak), "peak-limit")
	b.ReportMetric(float64(ns.MaxInFlight), "max-in-flight")
	b.ReportMetric(float64(ns.Throttled), "throttled")
	b.ReportMetric(float64(ns.Committed), "neptune-requests")
}
