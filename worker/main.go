// Command worker consumes edge batches from SQS and writes them to Neptune.
//
//	QUEUE_URL=... NEPTUNE_ENDPOINT=wss://cluster:8182/gremlin go run ./worker
//
// Every setting has one name, used as the environment variable and (lower
// case, dashes) as the flag: QUEUE_URL and -queue-url. AWS_ENDPOINT_URL_SQS
// points the SDK at a local SQS. See -help for the list.
//
// The path of a message: consume.Consumer receives it and holds it, handler
// decodes and validates it (shared/edgebatch) and writes it (worker/neptune);
// the consumer then deletes it, retries it later, sends it to the DLQ, or,
// when Neptune is unwell rather than the message wrong, keeps it and stops
// receiving until Neptune answers again. SIGTERM (as ECS sends it) stops
// receiving, lets the last long poll and work in progress finish, releases
// what is held, all within STOP_TIMEOUT, and exits.
//
// With REPLAY_QUEUE_URL set the worker consumes the replay queue too, with
// the capacity live traffic leaves: REPLAY_SHARE percent of PROCESSORS,
// nothing while the live backlog is above REPLAY_PAUSE_ABOVE, and Neptune
// requests that wait behind live ones (see replay.go). One depth sampler
// (shared/queuedepth) reads both queues; the pollers of each follow its
// backlog.
//
// `worker -healthcheck` is the ECS container health check: it asks the
// running worker's /healthz (liveness) and exits 0 or 1. `worker replay dlq`
// moves the DLQ's messages into the replay queue (replaydlq.go). `worker
// changes` is the graph's change feed: Neptune Streams to graph-change
// events on an EventBridge bus (changes_cmd.go, worker/changes).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/shared/consume"
	"github.com/graphfleet/graphfleet/shared/envflag"
	"github.com/graphfleet/graphfleet/shared/queuedepth"
	"github.com/graphfleet/graphfleet/shared/telemetry"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

// Config is the whole worker's configuration: each part is validated once,
// by its own package (consume.Config, neptune.Config), and all problems are
// reported together.
type Config struct {
	// Consumer is the SQS side: QUEUE_URL, DLQ_URL, PROCESSORS,
	// MAX_HELD_MESSAGES, POLLERS, POLLER_BACKLOG, RECEIVE_WAIT_TIME,
	// VISIBILITY_TIMEOUT, MESSAGE_TIMEOUT, STOP_TIMEOUT.
	Consumer consume.Config
	// Replay is the replay queue's side: REPLAY_QUEUE_URL, REPLAY_SHARE,
	// REPLAY_PAUSE_ABOVE.
	Replay ReplayConfig
	// DepthInterval is how often the queues' depth is read (DEPTH_INTERVAL).
	DepthInterval time.Duration
	// Neptune is the writer: NEPTUNE_ENDPOINT, NEPTUNE_IAM_AUTH, AWS_REGION,
	// NEPTUNE_WRITERS, NEPTUNE_RECORDS_PER_REQUEST.
	Neptune neptune.Config
	// HealthAddr serves /healthz (liveness), /readyz (readiness) and /stats.
	HealthAddr string
	// LogLevel is debug, info, warn or error.
	LogLevel string
}

// parseConfig reads flags and the environment. Problems with the values are
// left to Config.Validate, so they are all reported at once.
func parseConfig(args []string) (cfg Config, healthcheck bool, err error) {
	fs := envflag.New("worker")
	queueURL := fs.String("QUEUE_URL", "", "URL of the SQS queue to consume")
	dlqURL := fs.String("DLQ_URL", "", "dead-letter queue for malformed messages (default: from the queue's RedrivePolicy)")
	endpoint := fs.String("NEPTUNE_ENDPOINT", "", "Gremlin WebSocket endpoint, wss://cluster:8182/gremlin or ws://127.0.0.1:8182/gremlin")
	iam := fs.Bool("NEPTUNE_IAM_AUTH", false, "sign Neptune handshakes with IAM SigV4")
	region := fs.String("AWS_REGION", "", "AWS region (SigV4 scope and SQS)")
	writers := fs.Int("NEPTUNE_WRITERS", 8, "Neptune requests in flight at once at start (about 2 x the writer's vCPUs); the limit then adapts")
	writersMin := fs.Int("NEPTUNE_WRITERS_MIN", 1, "least the adaptive limit on Neptune requests in flight goes to")
	writersMax := fs.Int("NEPTUNE_WRITERS_MAX", 0, "most the adaptive limit goes to (default 4 x NEPTUNE_WRITERS)")
	records := fs.Int("NEPTUNE_RECORDS_PER_REQUEST", 200, "records (labels and properties) per Neptune request")
	processors := fs.Int("PROCESSORS", 8, "messages processed at once")
	maxHeld := fs.Int("MAX_HELD_MESSAGES", 0, "messages held at once, receiving pauses at this cap (default PROCESSORS+2: small prefetch)")
	pollers := fs.Int("POLLERS", 4, "most long polls at once: one while the queue is shallow, one more per POLLER_BACKLOG messages")
	pollerBacklog := fs.Int("POLLER_BACKLOG", 100, "messages of backlog that call for one more long poll")
	replayURL := fs.String("REPLAY_QUEUE_URL", "", "replay queue to consume with the capacity the live queue leaves (none when empty)")
	replayShare := fs.Int("REPLAY_SHARE", 25, "percent of PROCESSORS that may work on replayed messages (at least one)")
	replayPause := fs.Int("REPLAY_PAUSE_ABOVE", 100, "live backlog (messages) above which the replay queue is not received from")
	depthInterval := fs.Duration("DEPTH_INTERVAL", 5*time.Second, "how often the queues' depth is read")
	waitTime := fs.Duration("RECEIVE_WAIT_TIME", 20*time.Second, "long-poll wait of each receive, 1s to 20s")
	visibility := fs.Duration("VISIBILITY_TIMEOUT", 30*time.Second, "visibility asked for on receive and kept up by the heartbeat")
	messageTimeout := fs.Duration("MESSAGE_TIMEOUT", 2*time.Minute, "how long one message may stay in work, waits for a writer slot included")
	stopTimeout := fs.Duration("STOP_TIMEOUT", 25*time.Second, "the whole stop on SIGTERM: last long poll, work in progress, releases (keep under the ECS stopTimeout)")
	healthAddr := fs.String("HEALTH_ADDR", ":8080", "address of /healthz, /readyz and /stats")
	logLevel := fs.String("LOG_LEVEL", "info", "debug, info, warn or error")
	fs.BoolVar(&healthcheck, "healthcheck", false, "check the liveness of the worker serving HEALTH_ADDR on this host and exit 0 or 1 (the ECS container health check)")
	if err := fs.Parse(args); err != nil {
		return cfg, false, err
	}
	cfg = Config{
		Consumer: consume.Config{
			QueueURL: *queueURL, DLQURL: *dlqURL, Processors: *processors, MaxHeld: *maxHeld, Pollers: *pollers, BacklogPerPoller: *pollerBacklog,
			WaitTime: *waitTime, VisibilityTimeout: *visibility, MessageTimeout: *messageTimeout, StopTimeout: *stopTimeout,
		},
		Replay:        ReplayConfig{QueueURL: *replayURL, SharePercent: *replayShare, PauseAbove: *replayPause},
		DepthInterval: *depthInterval,
		Neptune: neptune.Config{
			Endpoint: *endpoint, IAMAuth: *iam, Region: *region, Writers: *writers, MinWriters: *writersMin, MaxWriters: *writersMax, RecordsPerRequest: *records,
		},
		HealthAddr: *healthAddr, LogLevel: *logLevel,
	}
	return cfg, healthcheck, nil
}

// Validate reports every problem of every part at once.
func (c *Config) Validate() error {
	var errs []error
	c.Consumer.SetDefaults()
	if err := c.Consumer.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Neptune.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Replay.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.DepthInterval < time.Second {
		errs = append(errs, fmt.Errorf("DEPTH_INTERVAL %s: at least 1s (each read is a GetQueueAttributes call per queue)", c.DepthInterval))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	return errors.Join(errs...)
}

func run(args []string) error {
	if len(args) > 0 && args[0] == "replay" {
		return runReplayCommand(args[1:])
	}
	if len(args) > 0 && args[0] == "changes" {
		return runChanges(args[1:])
	}
	cfg, healthcheck, err := parseConfig(args)
	if err != nil {
		return err
	}
	if healthcheck {
		return checkHealth(cfg.HealthAddr)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	awsCfg, err := loadAWS(ctx, &cfg.Neptune)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	// One telemetry setup (shared/telemetry): the logger, traces and
	// metrics, exporters from OTEL_*.
	tel, err := telemetry.Setup(ctx, telemetry.Config{Service: "graphfleet-worker", LogLevel: cfg.LogLevel})
	if err != nil {
		return err
	}
	log := tel.Logger
	// The stop's clock: SIGTERM starts it; everything, the telemetry's
	// last flush included, fits STOP_TIMEOUT.
	var stopAt atomic.Int64
	context.AfterFunc(ctx, func() { stopAt.Store(time.Now().UnixNano()) })
	stopLeft := func(margin time.Duration) time.Duration {
		if stopAt.Load() == 0 {
			return cfg.Consumer.StopTimeout - margin
		}
		return time.Until(time.Unix(0, stopAt.Load()).Add(cfg.Consumer.StopTimeout)) - margin
	}
	defer func() {
		// Flushed last, with what is left of the stop (at least a second).
		sctx, cancel := context.WithTimeout(context.Background(), max(time.Second, stopLeft(0)))
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			log.Warn("telemetry not flushed", "err", err)
		}
	}()
	cfg.Neptune.Logger = log
	cfg.Consumer.Logger = log

	// The writer does not need Neptune to answer yet: a worker started during
	// an outage comes up, serves its health, and waits behind the breaker.
	writer, err := neptune.New(ctx, cfg.Neptune)
	if err != nil {
		return err
	}
	// The whole stop fits STOP_TIMEOUT: the writer gets what the consumer
	// left of it (the consumer has released everything by then).
	defer func() { _ = writer.CloseWithin(stopLeft(500 * time.Millisecond)) }()

	h := newHandler(writer, log)
	h.liveQueue = path.Base(cfg.Consumer.QueueURL)
	if cfg.Replay.QueueURL != "" {
		h.replayQueue = path.Base(cfg.Replay.QueueURL)
	}
	client := sqs.NewFromConfig(awsCfg)
	// One sampler reads both queues' depth for everything that acts on it:
	// each consumer's pollers, the replay gate, /stats.
	depth := queuedepth.New(client, cfg.DepthInterval, log)
	depth.Watch(queueLive, cfg.Consumer.QueueURL)
	depth.Watch(queueReplay, cfg.Replay.QueueURL)
	if reg, err := depth.Metrics(); err == nil {
		defer func() { _ = reg.Unregister() }()
	}
	maxAge := 3 * cfg.DepthInterval
	cfg.Consumer.Backlog = backlogOf(depth, queueLive, maxAge)
	// The probe's failure is classified like a write's, so access denied
	// found by a probe (a 403 on the handshake) reads as access denied.
	cfg.Consumer.Probe = func(ctx context.Context) error {
		if err := writer.Probe(ctx); err != nil {
			return whoseFault(err)
		}
		return nil
	}
	consumers := []*consume.Consumer{}
	live, err := consume.New(ctx, client, cfg.Consumer, h.handle)
	if err != nil {
		return err
	}
	consumers = append(consumers, live)
	var replay *consume.Consumer
	if cfg.Replay.QueueURL != "" {
		rc := cfg.Replay.consumerConfig(cfg.Consumer, depth, maxAge)
		if replay, err = consume.New(ctx, client, rc, h.handleReplay); err != nil {
			return fmt.Errorf("replay queue: %w", err)
		}
		consumers = append(consumers, replay)
	}
	health, err := serveHealth(cfg.HealthAddr, live, replay, depth, writer.Limit, h.graphStatus, tel.MetricsHandler(), log)
	if err != nil {
		return err
	}
	defer health.Close()
	bgCtx, stopBackground := context.WithCancel(context.WithoutCancel(ctx))
	defer stopBackground()
	go h.watchOpenSnapshots(ctx)
	// The sampler keeps going through the stop: the replay gate and /stats
	// read it until the consumers are done.
	go depth.Run(bgCtx)
	log.Info("worker started", "queue", cfg.Consumer.QueueURL, "replay_queue", cfg.Replay.QueueURL, "neptune", cfg.Neptune.Endpoint,
		"iam", cfg.Neptune.IAMAuth, "writers", cfg.Neptune.Writers, "writers_min", cfg.Neptune.MinWriters, "writers_max", cfg.Neptune.MaxWriters, "processors", cfg.Consumer.Processors, "max_held", cfg.Consumer.MaxHeld,
		"max_pollers", cfg.Consumer.Pollers, "health", health.Addr, "telemetry", tel.Exporters)
	// Both consumers stop together on SIGTERM, each within STOP_TIMEOUT.
	errs := make(chan error, len(consumers))
	for _, c := range consumers {
		go func() { errs <- c.Run(ctx) }()
	}
	var runErrs []error
	for range consumers {
		runErrs = append(runErrs, <-errs)
	}
	return errors.Join(runErrs...)
}

// loadAWS loads the SDK's configuration (AWS_REGION when given, else the
// SDK's chain) and gives the Neptune writer its credentials and region:
// the worker and `worker changes` both sign Neptune requests with them.
func loadAWS(ctx context.Context, nc *neptune.Config) (aws.Config, error) {
	var loadOpts []func(*awsconfig.LoadOptions) error
	if nc.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(nc.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("cannot load AWS configuration: %w", err)
	}
	nc.Credentials, nc.Region = awsCfg.Credentials, awsCfg.Region
	return awsCfg, nil
}

// healthServer serves /healthz (liveness: 200 unless a loop is stuck),
// /readyz (readiness: SQS and Neptune reachable), /stats and /metrics
// (Prometheus).
type healthServer struct {
	*http.Server
	Addr string
}

func serveHealth(addr string, c, replay *consume.Consumer, depth *queuedepth.Sampler, limit func() neptune.LimitStatus, graph func() GraphStatus, metrics http.Handler, log *slog.Logger) (*healthServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("HEALTH_ADDR: %w", err)
	}
	mux := healthMux(c, replay, depth, limit, graph)
	mux.Handle("/metrics", metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health server stopped", "err", err)
		}
	}()
	return &healthServer{Server: srv, Addr: ln.Addr().String()}, nil
}

// stats is /stats: the live queue's consumer at the top level, the replay
// queue's under "replay", the depth of both under "queues" and, under
// "graph", what the order rules and sweeps did.
type stats struct {
	consume.Status
	Replay *consume.Status             `json:"replay,omitempty"`
	Queues map[string]queuedepth.Depth `json:"queues"`
	Writer neptune.LimitStatus         `json:"writer"`
	Graph  GraphStatus                 `json:"graph"`
}

func healthMux(c, replay *consume.Consumer, depth *queuedepth.Sampler, limit func() neptune.LimitStatus, graph func() GraphStatus) *http.ServeMux {
	mux := http.NewServeMux()
	answer := func(w http.ResponseWriter, ok bool, why string) {
		if !ok {
			http.Error(w, why, http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := c.Alive(time.Now())
		if ok && replay != nil {
			if ok, why = replay.Alive(time.Now()); !ok {
				why = "replay queue: " + why
			}
		}
		answer(w, ok, why)
	})
	// Readiness is the live queue's: a replay consumer waiting for its turn
	// is not a reason to take the task out of service.
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		ok, why := c.Ready()
		answer(w, ok, why)
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		st := stats{Status: c.Status(), Queues: depth.All(), Writer: limit(), Graph: graph()}
		if replay != nil {
			rs := replay.Status()
			st.Replay = &rs
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(st)
	})
	return mux
}

// checkHealth is `worker -healthcheck`: the ECS container health check. The
// distroless image has no curl, so the binary asks its sibling process.
func checkHealth(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("HEALTH_ADDR %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + net.JoinHostPort(host, port) + "/healthz")
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("health check: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	return nil
}
