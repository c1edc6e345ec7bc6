// Command drain measures how fast graphfleet's workers drain a backlog, and
// what it costs, side by side with the seed-style writer graphfleet replaces,
// on the same workload against the same Neptune stand-in in one run.
//
//	go run ./loadtest/drain -workload petsite              # 100 call relations, 40 services
//	go run ./loadtest/drain -edges 100000                  # 20,000 services x 5 calls
//	go run ./loadtest/drain -edges 1000000 -seed-cap 40s   # the seed-style writers capped, extrapolated
//
// It starts the SQS emulator and the stand-in (shared/devtools/devstack), or
// targets running ones (-queue-url with AWS_ENDPOINT_URL_SQS, -neptune);
// builds ./worker once and runs -workers of it as child processes; loads the
// backlog into SQS with shared/sqssend; prints progress every -every; then
// runs the seed-style writers (seed.go) on the same workload, and writes
// summary.md, drain.svg and drain.json into -out.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/producer/demo"
	"github.com/graphfleet/graphfleet/shared/devtools/devstack"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/sqssend"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

type config struct {
	workload       string
	edges, fanout  int
	workers        int
	writers        int
	writersMax     int
	processors     int
	latency        time.Duration
	jitter         time.Duration
	throttle       float64
	standinWorkers int
	queueCapacity  int
	live           bool
	seed           bool
	seedCap        time.Duration
	seedConnect    time.Duration
	out            string
	every          time.Duration
	timeout        time.Duration
	rssLimit       int64
	queueURL       string
	dlqURL         string
	neptune        string
	workerEnv      string
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "drain:", err)
		os.Exit(1)
	}
}

func parseFlags() config {
	var c config
	var rssMiB int
	flag.StringVar(&c.workload, "workload", "edges", "petsite (the PetSite demo's 100 call relations among 40 services) or edges (-edges over -edges/-fanout services)")
	flag.IntVar(&c.edges, "edges", 100_000, "edges of the generated topology (workload edges)")
	flag.IntVar(&c.fanout, "fanout", 5, "calls per service of the generated topology")
	flag.IntVar(&c.workers, "workers", 2, "worker processes")
	flag.IntVar(&c.writers, "writers", 8, "NEPTUNE_WRITERS of each worker (the adaptive limit's start)")
	flag.IntVar(&c.writersMax, "writers-max", 0, "NEPTUNE_WRITERS_MAX of each worker (0: the worker's default, 4 x writers)")
	flag.IntVar(&c.processors, "processors", 8, "PROCESSORS of each worker")
	flag.DurationVar(&c.latency, "latency", 5*time.Millisecond, "stand-in latency per request (network round trip plus query time)")
	flag.DurationVar(&c.jitter, "jitter", 0, "stand-in latency jitter per request")
	flag.Float64Var(&c.throttle, "throttle", 0, "fraction of requests the stand-in throttles (ThrottlingException)")
	flag.IntVar(&c.standinWorkers, "standin-workers", 16, "requests the stand-in executes at once (Neptune: about 2 x vCPU)")
	flag.IntVar(&c.queueCapacity, "standin-queue", 0, "requests that may wait for a stand-in slot before it throttles (0: 8,192, Neptune's)")
	flag.BoolVar(&c.live, "live", false, "start the workers first and send while they run (default: load the backlog, then start them)")
	flag.BoolVar(&c.seed, "seed", true, "also run the seed-style writers (serial and batched)")
	flag.DurationVar(&c.seedCap, "seed-cap", 60*time.Second, "time cap per seed-style writer (0: none); past it the total is extrapolated")
	flag.DurationVar(&c.seedConnect, "seed-connect-delay", 0, "sleep before each seed-style connection, modelling handshake round trips a loopback dial does not pay")
	flag.StringVar(&c.out, "out", "", "directory for summary.md, drain.svg, drain.json and logs/ (default loadtest/results/<workload>)")
	flag.DurationVar(&c.every, "every", time.Second, "progress interval")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "give up on the drain after this long")
	flag.IntVar(&rssMiB, "rss-limit-mib", 256, "flag workers whose peak RSS reaches this")
	flag.StringVar(&c.queueURL, "queue-url", "", "target this ingest queue (AWS_ENDPOINT_URL_SQS for an emulator) instead of starting the emulator")
	flag.StringVar(&c.dlqURL, "dlq-url", "", "its DLQ, to report on (with -queue-url)")
	flag.StringVar(&c.neptune, "neptune", "", "target this stand-in (ws://host:port/gremlin) instead of starting one; its /stats on the same port gives the counts")
	flag.StringVar(&c.workerEnv, "worker-env", "", "extra worker environment, comma-separated KEY=VALUE")
	flag.Parse()
	c.rssLimit = int64(rssMiB) << 20
	return c
}

// makeWorkload returns the workload's one big batch and a name.
func makeWorkload(c config, now time.Time) (*edgebatch.Batch, string, error) {
	switch c.workload {
	case "petsite":
		return demo.New(1, 1).Calls(now), "petsite-100-calls", nil
	case "edges":
		if c.fanout < 1 || c.edges < c.fanout*2 {
			return nil, "", fmt.Errorf("-edges %d -fanout %d: want fanout >= 1 and edges >= 2 x fanout", c.edges, c.fanout)
		}
		return topology(c.edges/c.fanout, c.fanout, now), fmt.Sprintf("edges-%d", c.edges/c.fanout*c.fanout), nil
	}
	return nil, "", fmt.Errorf("-workload %q: petsite or edges", c.workload)
}

// topology is a deterministic graph of n services, each calling the next k
// (n x k distinct edges), as the worker's benchmarks generate it.
func topology(n, k int, observed time.Time) *edgebatch.Batch {
	b := &edgebatch.Batch{V: edgebatch.Version, Source: "deepflow", ObservedAt: observed}
	id := func(i int) string { return edgebatch.ServiceID(fmt.Sprintf("ns%d", i%7), fmt.Sprintf("svc-%d", i)) }
	b.Vertices = make([]edgebatch.Vertex, 0, n)
	for i := range n {
		b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: id(i), Label: edgebatch.ServiceLabel,
			Props: map[string]any{"name": fmt.Sprintf("svc-%d", i), "namespace": fmt.Sprintf("ns%d", i%7), "tier": int64(i % 3)}})
	}
	b.Edges = make([]edgebatch.Edge, 0, n*k)
	for i := range n {
		for j := 1; j <= k; j++ {
			from, to := id(i), id((i+j)%n)
			b.Edges = append(b.Edges, edgebatch.Edge{ID: edgebatch.EdgeID(edgebatch.CallsLabel, from, to), Label: edgebatch.CallsLabel, From: from, To: to,
				Props: map[string]any{"requests": int64(i*k + j), "server_errors": int64(j % 2), "rrt_avg_us": 1530.25}})
		}
	}
	return b
}

// standin is the Neptune stand-in the run writes to: in-process (started
// here) or over the network.
type standin interface {
	URL() string
	Stats() (neptunelocal.Stats, error)
	// Existing says which of ids are edges in the graph.
	Existing(ctx context.Context, ids []string) (map[string]bool, error)
	// Reset empties the graph; false when it cannot.
	Reset() bool
	Close()
}

type localStandin struct{ srv *neptunelocal.Server }

func (l localStandin) URL() string                        { return l.srv.URL() }
func (l localStandin) Stats() (neptunelocal.Stats, error) { return l.srv.Stats(), nil }
func (l localStandin) Reset() bool                        { l.srv.Graph().Reset(); return true }
func (l localStandin) Close()                             {}
func (l localStandin) Existing(ctx context.Context, ids []string) (map[string]bool, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	res, err := l.srv.Graph().Execute(ctx, &graphbinary.Bytecode{Steps: []graphbinary.Instruction{{Operator: "E", Args: args}, {Operator: "id"}}})
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(res))
	for _, r := range res {
		if s, ok := r.(string); ok {
			out[s] = true
		}
	}
	return out, nil
}

// remoteStandin reads a running stand-in: /stats over HTTP, edges over
// Gremlin (requests the probe makes are counted and left out of Stats).
type remoteStandin struct {
	url, stats string
	conn       *gremlingo.DriverRemoteConnection
	mu         sync.Mutex
	probes     int64
}

func newRemoteStandin(u string) (*remoteStandin, error) {
	pu, err := url.Parse(u)
	if err != nil {
		return nil, fmt.Errorf("-neptune: %w", err)
	}
	conn, err := gremlingo.NewDriverRemoteConnection(u, func(s *gremlingo.DriverRemoteConnectionSettings) { s.LogVerbosity = gremlingo.Off })
	if err != nil {
		return nil, fmt.Errorf("-neptune %s: %w", u, err)
	}
	return &remoteStandin{url: u, stats: "http://" + pu.Host + "/stats", conn: conn}, nil
}

func (r *remoteStandin) URL() string { return r.url }

// latency is the running stand-in's injected latency (GET /faults); 0 when
// it cannot be read.
func (r *remoteStandin) latency() time.Duration {
	resp, err := http.Get(strings.TrimSuffix(r.stats, "/stats") + "/faults")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	var f struct {
		Latency string `json:"latency"`
	}
	if json.NewDecoder(resp.Body).Decode(&f) != nil {
		return 0
	}
	d, _ := time.ParseDuration(f.Latency)
	return d
}
func (r *remoteStandin) Reset() bool { return false }
func (r *remoteStandin) Close()      { r.conn.Close() }
func (r *remoteStandin) Stats() (neptunelocal.Stats, error) {
	var st neptunelocal.Stats
	resp, err := http.Get(r.stats)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return st, fmt.Errorf("%s: %s", r.stats, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, err
	}
	r.mu.Lock()
	st.Requests -= r.probes
	st.Committed -= r.probes
	r.mu.Unlock()
	return st, nil
}
func (r *remoteStandin) Existing(ctx context.Context, ids []string) (map[string]bool, error) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	g := gremlingo.Traversal_().WithRemote(r.conn)
	res, err := g.E(args...).Id().ToList()
	r.mu.Lock()
	r.probes++
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, x := range res {
		out[x.GetString()] = true
	}
	return out, nil
}

// message is one sent batch and its sentinel edges.
type message struct {
	sentinels []string
	sent      time.Time
	written   time.Time
}

// workerProc is one worker child process.
type workerProc struct {
	cmd    *exec.Cmd
	health string
	done   chan struct{}
	log    *os.File
}

func run() error {
	c := parseFlags()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root, err := sqslocal.FindModuleRoot(".")
	if err != nil {
		return err
	}
	now := time.Now().UTC().Truncate(time.Millisecond)
	src, name, err := makeWorkload(c, now)
	if err != nil {
		return err
	}
	if c.out == "" {
		c.out = filepath.Join(root, "loadtest", "results", name)
	}
	logDir := filepath.Join(c.out, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return err
	}
	batches, err := edgebatch.Split(src, edgebatch.SplitLimits{})
	if err != nil {
		return err
	}
	msgs := make([]edgebatch.Message, len(batches))
	for i, b := range batches {
		if msgs[i], err = edgebatch.Encode(b); err != nil {
			return fmt.Errorf("batch %d: %w", i, err)
		}
	}
	dataRequests := 0
	for _, b := range batches {
		dataRequests += neptune.RequestsFor(b, 0)
	}
	fmt.Printf("workload %s: %d vertices, %d edges, %d messages, %d Neptune requests by the writer's chunking\n", name, len(src.Vertices), len(src.Edges), len(msgs), dataRequests)

	workerBin := filepath.Join(logDir, "worker.bin")
	fmt.Println("building ./worker")
	build := exec.CommandContext(ctx, "go", "build", "-o", workerBin, "./worker")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./worker: %w", err)
	}
	defer os.Remove(workerBin)

	// The stack.
	var (
		client   *sqs.Client
		queueURL = c.queueURL
		dlqURL   = c.dlqURL
		sqsPID   int
		nep      standin
		env      []string
	)
	faults := neptunelocal.Faults{Latency: c.latency, LatencyJitter: c.jitter, ThrottleRate: c.throttle}
	if c.queueURL == "" {
		if strings.Contains(c.neptune, "://") {
			return errors.New("-neptune ws://... targets a running stand-in and needs -queue-url; without it, -neptune is the listen address (host:port) of the stand-in started here")
		}
		sqsLog, err := os.Create(filepath.Join(logDir, "sqs.log"))
		if err != nil {
			return err
		}
		defer sqsLog.Close()
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		st, err := devstack.Start(sctx, devstack.Options{SQSOutput: sqsLog, NeptuneAddr: neptuneAddr(c.neptune),
			Neptune: neptunelocal.Options{Workers: c.standinWorkers, QueueCapacity: c.queueCapacity, Faults: faults,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}})
		cancel()
		if err != nil {
			return err
		}
		defer st.Close()
		client, queueURL, dlqURL, sqsPID = st.Client, st.Queues.Ingest, st.Queues.DLQ, st.SQS.PID
		env = st.Env()
		nep = localStandin{st.Neptune}
		fmt.Printf("SQS emulator %s (pid %d), stand-in %s: latency %s, %d slots\n", st.SQS.Endpoint, sqsPID, st.Neptune.URL(), c.latency, c.standinWorkers)
	} else {
		if c.neptune == "" {
			return errors.New("-queue-url needs -neptune")
		}
		cfg, err := awsconfig.LoadDefaultConfig(ctx)
		if err != nil {
			return err
		}
		client = sqs.NewFromConfig(cfg)
		r, err := newRemoteStandin(c.neptune)
		if err != nil {
			return err
		}
		defer r.Close()
		nep = r
		// The stand-in's own latency, for the report; its slots are unknown.
		c.latency, c.standinWorkers = r.latency(), 0
		env = []string{"QUEUE_URL=" + queueURL, "NEPTUNE_ENDPOINT=" + c.neptune}
		fmt.Printf("targeting queue %s and stand-in %s (its faults as configured there)\n", queueURL, c.neptune)
	}
	canReset := nep.Reset()

	// The workers' environment.
	wenv := append(os.Environ(), env...)
	wenv = append(wenv, "LOG_LEVEL=warn", "RECEIVE_WAIT_TIME=2s", "DEPTH_INTERVAL=1s", "STOP_TIMEOUT=10s",
		"NEPTUNE_WRITERS="+strconv.Itoa(c.writers), "PROCESSORS="+strconv.Itoa(c.processors), "REPLAY_QUEUE_URL=")
	if c.writersMax > 0 {
		wenv = append(wenv, "NEPTUNE_WRITERS_MAX="+strconv.Itoa(c.writersMax))
	}
	if c.workerEnv != "" {
		wenv = append(wenv, strings.Split(c.workerEnv, ",")...)
	}
	var workers []*workerProc
	defer func() {
		for _, w := range workers {
			w.terminate()
		}
	}()
	startWorkers := func() error {
		for i := range c.workers {
			w, err := startWorker(workerBin, wenv, filepath.Join(logDir, fmt.Sprintf("worker-%d.log", i+1)))
			if err != nil {
				return err
			}
			workers = append(workers, w)
		}
		return nil
	}

	sent := make([]*message, len(batches))
	for i, b := range batches {
		m := &message{}
		if len(b.Edges) > 0 {
			m.sentinels = []string{b.Edges[0].ID, b.Edges[len(b.Edges)-1].ID}
		}
		sent[i] = m
	}
	load := func() error {
		sender := sqssend.New(client, queueURL)
		for i := 0; i < len(msgs); i += 10 {
			j := min(i+10, len(msgs))
			if _, err := sender.Send(ctx, msgs[i:j]); err != nil {
				return fmt.Errorf("loading the backlog: %w", err)
			}
			at := time.Now()
			for _, m := range sent[i:j] {
				m.sent = at
			}
		}
		return nil
	}

	base, err := nep.Stats()
	if err != nil {
		return fmt.Errorf("stand-in stats: %w", err)
	}
	var start time.Time
	if c.live {
		if err := startWorkers(); err != nil {
			return err
		}
		if err := waitReady(ctx, workers); err != nil {
			return err
		}
		// The workers' start-up requests (readiness probes, the open
		// snapshots read) are not the drain's.
		if base, err = nep.Stats(); err != nil {
			return fmt.Errorf("stand-in stats: %w", err)
		}
		fmt.Println("workers ready; sending")
		start = time.Now()
		if err := load(); err != nil {
			return err
		}
	} else {
		t0 := time.Now()
		if err := load(); err != nil {
			return err
		}
		fmt.Printf("backlog of %d messages loaded in %s; starting %d worker(s)\n", len(msgs), fmtDur(time.Since(t0)), c.workers)
		start = time.Now()
		if err := startWorkers(); err != nil {
			return err
		}
	}
	harness0, _ := cpuOf(0)
	machine0, _ := readMachineCPU()
	sqs0, sqsErr := cpuOf(sqsPID)
	if sqsPID == 0 {
		sqsErr = errors.New("not started here")
	}

	// The lag probe: every 50 ms, which messages' sentinels are in the graph.
	var probeMu sync.Mutex
	written := 0
	probeCtx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	probeDone := make(chan struct{})
	go func() {
		defer close(probeDone)
		// Finer polls while few messages are pending, so a small set's lag
		// is not the poll interval.
		for {
			var ids []string
			var pending []*message
			probeMu.Lock()
			for _, m := range sent {
				if m.written.IsZero() {
					pending = append(pending, m)
					ids = append(ids, m.sentinels...)
				}
			}
			probeMu.Unlock()
			if len(pending) == 0 {
				return
			}
			have, err := nep.Existing(probeCtx, ids)
			at := time.Now()
			if err == nil {
				probeMu.Lock()
				for _, m := range pending {
					all := true
					for _, id := range m.sentinels {
						all = all && have[id]
					}
					if all {
						m.written = at
						written++
					}
				}
				probeMu.Unlock()
			}
			wait := 50 * time.Millisecond
			if len(ids) <= 100 {
				wait = 5 * time.Millisecond
			}
			select {
			case <-probeCtx.Done():
				return
			case <-time.After(wait):
			}
		}
	}()

	// Progress until every edge is in the graph and every message written.
	var samples []sample
	lastEdges, lastT := 0, 0.0
	deadline := time.Now().Add(c.timeout)
	tick := time.NewTicker(c.every)
	var drain time.Duration
progress:
	for {
		select {
		case <-ctx.Done():
			stopProbe()
			return ctx.Err()
		case <-tick.C:
		case <-probeDone:
		}
		st, err := nep.Stats()
		if err != nil {
			return fmt.Errorf("stand-in stats: %w", err)
		}
		now := time.Since(start)
		edges := st.Edges - base.Edges
		vis, infl, _ := queueDepth(ctx, client, queueURL)
		var limits []int
		for _, w := range workers {
			limits = append(limits, w.limit())
		}
		s := sample{T: now.Seconds(), Edges: edges, Depth: vis + infl, Limits: limits, Committed: st.Committed - base.Committed}
		if dt := s.T - lastT; dt > 0 {
			s.EdgesPerS = float64(edges-lastEdges) / dt
		}
		lastEdges, lastT = edges, s.T
		samples = append(samples, s)
		probeMu.Lock()
		w := written
		probeMu.Unlock()
		fmt.Printf("%7.1fs  edges %9d/%d  %8.0f edges/s  queue %5d (%d in flight)  messages written %d/%d  neptune requests %d  writer limits %v\n",
			s.T, edges, len(src.Edges), s.EdgesPerS, vis+infl, infl, w, len(msgs), s.Committed, limits)
		for i, wp := range workers {
			select {
			case <-wp.done:
				stopProbe()
				return fmt.Errorf("worker %d exited early; see %s", i+1, wp.log.Name())
			default:
			}
		}
		if w == len(msgs) && (edges >= len(src.Edges) || !canReset) {
			// The drain ended with the last message written.
			var last time.Time
			probeMu.Lock()
			for _, m := range sent {
				if m.written.After(last) {
					last = m.written
				}
			}
			probeMu.Unlock()
			drain = last.Sub(start)
			break progress
		}
		if time.Now().After(deadline) {
			stopProbe()
			return fmt.Errorf("not drained after %s", c.timeout)
		}
	}
	tick.Stop()
	stopProbe()
	<-probeDone
	harness1, _ := cpuOf(0)
	machine1, _ := readMachineCPU()
	sqs1, _ := cpuOf(sqsPID)
	end, _ := nep.Stats()

	res := drainRun{
		Workload: name, Edges: len(src.Edges), Vertices: len(src.Vertices), Messages: len(msgs), Drain: drain,
		Requests: end.Committed - base.Committed, Records: end.Records - base.Records, Errors: end.Errors - base.Errors,
		Throttled: end.Throttled - base.Throttled, MaxInFl: end.MaxInFlight,
		HarnessCPU: harness1 - harness0, SQSCPU: sqs1 - sqs0, SQSKnown: sqsErr == nil, Samples: samples,
		Cores: runtime.NumCPU(), Latency: c.latency, StandinWorkers: c.standinWorkers, WorkerCount: c.workers,
		WriterLimit: fmt.Sprintf("NEPTUNE_WRITERS=%d (max %s), PROCESSORS=%d", c.writers, orDefault(c.writersMax, "4x"), c.processors),
		Live:        c.live, RSSLimit: c.rssLimit, DataRequests: dataRequests, MachineBusy: busyShare(machine0, machine1),
	}
	for _, m := range sent {
		res.Lags = append(res.Lags, m.written.Sub(m.sent))
	}
	for _, w := range workers {
		cpu, err1 := cpuOf(w.cmd.Process.Pid)
		rss, err2 := peakRSS(w.cmd.Process.Pid)
		if err := errors.Join(err1, err2); err != nil {
			return fmt.Errorf("worker %d: %w", w.cmd.Process.Pid, err)
		}
		res.Workers = append(res.Workers, workerUsage{PID: w.cmd.Process.Pid, CPU: cpu, PeakRSS: rss})
	}
	// Deletes trail the writes by a little: wait for the queue to empty.
	for t := time.Now(); time.Since(t) < 30*time.Second; time.Sleep(200 * time.Millisecond) {
		if v, f, err := queueDepth(ctx, client, queueURL); err == nil {
			res.Left = v + f
			if v+f == 0 {
				break
			}
		}
	}
	if dlqURL != "" {
		v, f, _ := queueDepth(ctx, client, dlqURL)
		res.DLQ = v + f
	}
	for _, w := range workers {
		w.terminate()
	}
	workers = nil
	fmt.Printf("drained %d edges in %s (%.0f edges/s); %d Neptune requests, %.0f records/request; lag p50 %s p99 %s; worker CPU %.1f µs/edge\n",
		res.Edges, fmtDur(res.Drain), res.EdgesPerSecond(), res.Requests, res.RecordsPerRequest(),
		fmtDur(percentile(res.Lags, 50)), fmtDur(percentile(res.Lags, 99)), float64(res.CPUPerEdge())/float64(time.Microsecond))
	for _, w := range res.RSSOver() {
		fmt.Printf("WARNING: worker pid %d peak RSS %s reached the %s limit\n", w.PID, fmtBytes(w.PeakRSS), fmtBytes(c.rssLimit))
	}

	// The seed-style writers, on the same stand-in.
	cmp := comparison{Ours: res}
	if c.seed {
		for _, v := range []seedVariant{seedSerial, seedBatched} {
			if !nep.Reset() {
				fmt.Println("note: the stand-in is remote and cannot be reset; the seed-style writer finds the elements graphfleet wrote")
			}
			fmt.Printf("running the %s writer (cap %s)...\n", v, c.seedCap)
			sw := &seedWriter{endpoint: nep.URL(), variant: v, connectDelay: c.seedConnect}
			r, err := sw.run(ctx, src, c.seedCap, func() int64 { s, _ := nep.Stats(); return s.Committed })
			if err != nil {
				return fmt.Errorf("%s: %w", v, err)
			}
			label := "measured"
			if r.Capped {
				label = "EXTRAPOLATED from " + fmtDur(r.EdgeTime+r.ServiceTime) + " measured"
			}
			fmt.Printf("  %s: %d requests (model), %d sent, %s (%s)\n", v, r.Plan.Requests(), r.RequestsSent, fmtDur(r.Total), label)
			cmp.Seeds = append(cmp.Seeds, r)
		}
	}

	cmd := "go run ./loadtest/drain " + strings.Join(os.Args[1:], " ")
	machine := machineLine()
	md := cmp.markdown(name, cmd, machine)
	if err := os.WriteFile(filepath.Join(c.out, "summary.md"), []byte(md), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(c.out, "drain.svg"), []byte(chartSVG("graphfleet drain: "+name, drainPanels(samples))), 0o644); err != nil {
		return err
	}
	raw, _ := json.MarshalIndent(struct {
		Command string       `json:"command"`
		Machine string       `json:"machine"`
		Drain   drainRun     `json:"drain"`
		Seeds   []seedResult `json:"seed_style"`
	}{cmd, machine, res, cmp.Seeds}, "", "  ")
	if err := os.WriteFile(filepath.Join(c.out, "drain.json"), raw, 0o644); err != nil {
		return err
	}
	fmt.Println()
	fmt.Println(md)
	fmt.Printf("wrote %s/{summary.md,drain.svg,drain.json}\n", c.out)
	if len(res.RSSOver()) > 0 {
		return fmt.Errorf("%d worker(s) reached the RSS limit", len(res.RSSOver()))
	}
	return nil
}

func orDefault(n int, d string) string {
	if n == 0 {
		return d
	}
	return strconv.Itoa(n)
}

// neptuneAddr is the listen address for a stand-in started here: -neptune
// when it is host:port, else a free port.
func neptuneAddr(flagValue string) string {
	if flagValue != "" && !strings.Contains(flagValue, "://") {
		return flagValue
	}
	return ""
}

// machineLine describes the machine and its load when the run ends.
func machineLine() string {
	load, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(load))
	la := "unknown"
	if len(f) >= 3 {
		la = strings.Join(f[:3], " ")
	}
	return fmt.Sprintf("%d cores (%s/%s, %s), load average at the end %s", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH, runtime.Version(), la)
}

func queueDepth(ctx context.Context, client *sqs.Client, u string) (visible, inFlight int, err error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &u,
		AttributeNames: []sqstypes.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if err != nil {
		return 0, 0, err
	}
	visible, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessages"])
	inFlight, _ = strconv.Atoi(out.Attributes["ApproximateNumberOfMessagesNotVisible"])
	return visible, inFlight, nil
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startWorker(bin string, env []string, logPath string) (*workerProc, error) {
	addr, err := freePort()
	if err != nil {
		return nil, err
	}
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin)
	cmd.Env = append(append([]string(nil), env...), "HEALTH_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, err
	}
	w := &workerProc{cmd: cmd, health: addr, done: make(chan struct{}), log: f}
	go func() { _ = cmd.Wait(); close(w.done) }()
	return w, nil
}

var statsClient = &http.Client{Timeout: 2 * time.Second}

// limit is the worker's writer limit from /stats; -1 when unknown.
func (w *workerProc) limit() int {
	resp, err := statsClient.Get("http://" + w.health + "/stats")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var st struct {
		Writer struct {
			Limit int `json:"limit"`
		} `json:"writer"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil {
		return -1
	}
	return st.Writer.Limit
}

// terminate stops the worker as ECS does (SIGTERM, then SIGKILL).
func (w *workerProc) terminate() {
	select {
	case <-w.done:
	default:
		_ = w.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-w.done:
		case <-time.After(15 * time.Second):
			_ = w.cmd.Process.Kill()
			<-w.done
		}
	}
	w.log.Close()
}

// waitReady waits for every worker's /readyz.
func waitReady(ctx context.Context, ws []*workerProc) error {
	deadline := time.Now().Add(time.Minute)
	for _, w := range ws {
		for {
			resp, err := statsClient.Get("http://" + w.health + "/readyz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return fmt.Errorf("worker pid %d not ready after a minute; see %s", w.cmd.Process.Pid, w.log.Name())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}
