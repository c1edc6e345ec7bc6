// Command devstack is `make up`: graphfleet running locally with no AWS
// account. It starts the SQS emulator with the ingest, DLQ and replay queues,
// the Neptune stand-in, a worker and a producer fed by the PetSite demo
// source, then prints the graph filling (vertices, edges, queue depths, what
// the worker did) until interrupted, when it stops everything in order.
//
//	go run ./shared/devtools/devstack/cmd/devstack [-sqs-port 9324] [-neptune 127.0.0.1:8182] [-interval 15s] [-scale 1]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/deepflowlocal"
	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/eventbridgelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run() error {
	sqsPort := flag.Int("sqs-port", 9324, "port of the SQS emulator")
	neptuneAddr := flag.String("neptune", "127.0.0.1:8182", "listen address of the Neptune stand-in")
	healthAddr := flag.String("worker-health", "127.0.0.1:8080", "worker's /healthz and /stats address")
	changesAddr := flag.String("changes-health", "127.0.0.1:8082", "change feed's /healthz and /stats address")
	interval := flag.Duration("interval", 15*time.Second, "time between demo discovery runs")
	scale := flag.Int("scale", 1, "copies of the PetSite topology")
	every := flag.Duration("every", 2*time.Second, "how often to print the status line")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	root, err := sqslocal.FindModuleRoot(".")
	if err != nil {
		return err
	}
	bin := filepath.Join(root, "bin")
	fmt.Println("building worker and producer into", bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./worker", "./producer")
	build.Dir, build.Stdout, build.Stderr = root, os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}

	logDir := filepath.Join(root, ".run")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	sqsLog, err := os.Create(filepath.Join(logDir, "sqs.log"))
	if err != nil {
		return err
	}
	defer sqsLog.Close()
	// Neptune Streams on, as the change feed needs (the cluster parameter
	// neptune_streams=1 on AWS).
	st, err := devstack.Start(ctx, devstack.Options{SQSPort: *sqsPort, NeptuneAddr: *neptuneAddr, SQSOutput: sqsLog,
		Neptune: neptunelocal.Options{StreamRecords: 200_000}})
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Printf("SQS emulator   %s (queues %s, %s, %s)\n", st.SQS.Endpoint, st.Queues.Ingest, st.Queues.DLQ, st.Queues.Replay)
	fmt.Printf("Neptune        %s  (graph: http://%s/graph  stats: http://%s/stats)\n", st.Neptune.URL(), st.Neptune.Addr(), st.Neptune.Addr())

	// Traces: printed into each process's log unless OTEL_* says otherwise
	// (e.g. OTEL_EXPORTER_OTLP_ENDPOINT to a local collector or Jaeger).
	tel := telemetryEnv()
	worker, err := start(filepath.Join(bin, "worker"), filepath.Join(logDir, "worker.log"), append(append(st.Env(), tel...), "HEALTH_ADDR="+*healthAddr))
	if err != nil {
		return err
	}
	// The PetSite calls come the real way, through the DeepFlow source from
	// a local querier; the demo producer adds the AWS resources and stacks.
	querier, err := deepflowlocal.Start(deepflowlocal.Options{Scale: *scale})
	if err != nil {
		terminate(worker)
		return err
	}
	defer querier.Close()
	// One producer runs both sources, each on its own interval.
	producer, err := start(filepath.Join(bin, "producer"), filepath.Join(logDir, "producer.log"),
		append(append(st.Env(), tel...), "SOURCE=deepflow,demo", "DEEPFLOW_INTERVAL="+interval.String(), "DEMO_INTERVAL="+interval.String(),
			fmt.Sprintf("DEMO_SCALE=%d", *scale), "DEMO_CALLS=false",
			"DEEPFLOW_QUERIER_URL="+querier.URL(), "DEEPFLOW_NAME=petsite", fmt.Sprintf("DEEPFLOW_ROW_LIMIT=%d", querier.RowLimit())))
	if err != nil {
		terminate(worker)
		return err
	}
	fmt.Printf("DeepFlow       %s  (a local querier serving the PetSite calls)\n", querier.URL())
	fmt.Printf("worker         pid %d, logs %s, http://%s/stats\n", worker.Process.Pid, filepath.Join(logDir, "worker.log"), *healthAddr)
	fmt.Printf("producer       pid %d, SOURCE=deepflow,demo (the demo's AWS resources and stacks), logs %s, a run of each every %s\n",
		producer.Process.Pid, filepath.Join(logDir, "producer.log"), *interval)
	fmt.Printf("telemetry      traces: %s; metrics: http://%s/metrics (Prometheus text)\n", traceDest(tel, logDir), *healthAddr)
	// The change feed: Neptune Streams to graph-change events on a local
	// EventBridge (shared/devtools/eventbridgelocal keeps what it is sent).
	bus, err := eventbridgelocal.Start("", "graphfleet-changes")
	if err != nil {
		terminate(producer)
		terminate(worker)
		return err
	}
	defer bus.Close()
	feed, err := start(filepath.Join(bin, "worker"), filepath.Join(logDir, "changes.log"),
		append(append(st.Env(), tel...), "EVENT_BUS_NAME=graphfleet-changes", "AWS_ENDPOINT_URL_EVENTBRIDGE="+bus.URL(),
			"CHANGES_START=oldest", "HEALTH_ADDR="+*changesAddr), "changes")
	if err != nil {
		terminate(producer)
		terminate(worker)
		return err
	}
	fmt.Printf("change feed    pid %d (worker changes), logs %s, http://%s/stats; events: %s/events\n",
		feed.Process.Pid, filepath.Join(logDir, "changes.log"), *changesAddr, bus.URL())
	fmt.Println("Ctrl-C to stop.")

	exited := make(chan string, 3)
	go func() { _ = worker.Wait(); exited <- "worker" }()
	go func() { _ = producer.Wait(); exited <- "producer" }()
	go func() { _ = feed.Wait(); exited <- "changes" }()
	t := time.NewTicker(*every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fmt.Println("\nstopping the producer, worker and change feed (SIGTERM)...")
			terminate(producer)
			terminate(worker)
			terminate(feed)
			return nil
		case who := <-exited:
			terminate(producer)
			terminate(worker)
			terminate(feed)
			return fmt.Errorf("%s exited; see %s", who, filepath.Join(logDir, who+".log"))
		case <-t.C:
			fmt.Println(status(ctx, st, *healthAddr) + changesStatus(bus))
		}
	}
}

func start(path, logPath string, env []string, args ...string) (*exec.Cmd, error) {
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cannot start %s: %w", path, err)
	}
	return cmd, nil
}

// terminate sends SIGTERM, as ECS does, and waits a bounded time.
func terminate(cmd *exec.Cmd) {
	if cmd == nil || cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _, _ = cmd.Process.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = cmd.Process.Kill()
	}
}

func status(ctx context.Context, st *devstack.Stack, healthAddr string) string {
	s := st.Neptune.Stats()
	iv, inf, err1 := st.Depth(ctx, st.Queues.Ingest)
	dv, _, err2 := st.Depth(ctx, st.Queues.DLQ)
	// The worker's snapshot bookkeeping (seals, batch marks, scope marks)
	// lives in the graph too, under its reserved id prefix; it is not data.
	book := 0
	for _, v := range st.Neptune.Graph().Dump().Vertices {
		if strings.HasPrefix(v.ID, edgebatch.ReservedIDPrefix) {
			book++
		}
	}
	line := fmt.Sprintf("%s  graph: %d vertices, %d edges (+%d bookkeeping) | neptune: %d requests, %d records | ingest: %d visible, %d in flight | dlq: %d",
		time.Now().Format("15:04:05"), s.Vertices-book, s.Edges, book, s.Requests, s.Records, iv, inf, dv)
	if err := errors.Join(err1, err2); err != nil {
		line += " | queue depth unavailable: " + err.Error()
	}
	if w, err := workerStats(ctx, healthAddr); err == nil {
		line += fmt.Sprintf(" | worker: %d held, %d received, %d deleted, %d to DLQ", w.Held, w.Received, w.Deleted, w.DeadLettered)
		if m, err := workerMetrics(ctx, healthAddr); err == nil {
			line += " | " + m
		}
		if w.Breaker.Open {
			line += " | NEPTUNE UNAVAILABLE, intake paused: " + w.Breaker.Cause
		}
	}
	return line
}

// telemetryEnv is the OTEL_* settings for the worker and producer: the
// user's, or console traces (into their logs) when none are set.
func telemetryEnv() []string {
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OTEL_") {
			return nil // the user's own settings, inherited
		}
	}
	return []string{"OTEL_TRACES_EXPORTER=console"}
}

func traceDest(tel []string, logDir string) string {
	if len(tel) == 0 {
		return "as OTEL_* in the environment says"
	}
	return "printed as JSON into " + filepath.Join(logDir, "worker.log") + " and producer.log"
}

// workerMetrics summarises the worker's /metrics for the status line: the
// mean lag from observation to write, Neptune requests and their failures,
// and the adaptive limit.
func workerMetrics(ctx context.Context, addr string) (string, error) {
	body, err := fetch(ctx, "http://"+addr+"/metrics")
	if err != nil {
		return "", err
	}
	sum := func(prefix string, keep func(line string) bool) float64 {
		total := 0.0
		for _, line := range strings.Split(string(body), "\n") {
			if !strings.HasPrefix(line, prefix) || (keep != nil && !keep(line)) {
				continue
			}
			if i := strings.LastIndexByte(line, ' '); i > 0 {
				if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
					total += v
				}
			}
		}
		return total
	}
	lagSum, lagN := sum("graphfleet_lag_observed_seconds_sum", nil), sum("graphfleet_lag_observed_seconds_count", nil)
	reqs := sum("db_client_operation_duration_seconds_count", nil)
	failed := sum("db_client_operation_duration_seconds_count", func(l string) bool { return strings.Contains(l, "error_type=") })
	lag := "-"
	if lagN > 0 {
		lag = fmt.Sprintf("%.1fs", lagSum/lagN)
	}
	return fmt.Sprintf("metrics: lag %s mean, %.0f neptune requests (%.0f failed), limit %.0f", lag, reqs, failed,
		sum("graphfleet_neptune_writer_limit", nil)), nil
}

// workerStatus is the part of the worker's /stats the status line shows.
type workerStatus struct {
	Held, Received, Deleted int64
	DeadLettered            int64 `json:"dead_lettered"`
	Breaker                 struct {
		Open  bool
		Cause string
	}
}

func workerStats(ctx context.Context, addr string) (workerStatus, error) {
	var w workerStatus
	body, err := fetch(ctx, "http://"+addr+"/stats")
	if err != nil {
		return w, err
	}
	return w, json.Unmarshal(body, &w)
}

// fetch GETs url within a second: the status line must not wait on a
// worker that is slow to answer.
func fetch(ctx context.Context, url string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 4<<20))
}

// changesStatus counts the graph-change events on the local bus by type.
func changesStatus(bus *eventbridgelocal.Server) string {
	by := map[string]int{}
	events := bus.Events()
	for _, e := range events {
		by[e.DetailType]++
	}
	types := make([]string, 0, len(by))
	for t, n := range by {
		types = append(types, fmt.Sprintf("%d %s", n, t))
	}
	sort.Strings(types)
	if len(types) == 0 {
		return " | changes: no events yet"
	}
	return fmt.Sprintf(" | changes: %d events (%s)", len(events), strings.Join(types, ", "))
}
