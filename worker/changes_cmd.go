package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/eventbridge"

	"github.com/graphfleet/graphfleet/shared/envflag"
	"github.com/graphfleet/graphfleet/shared/telemetry"
	"github.com/graphfleet/graphfleet/worker/changes"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// changesConfig is `worker changes`: the graph's change feed, one task per
// cluster (worker/changes).
type changesConfig struct {
	Neptune         neptune.Config
	StreamURL       string
	Bus             string
	Feed            changes.Config
	Start           string
	Cluster         string
	HealthAddr      string
	LogLevel        string
	StopTimeout     time.Duration
	healthcheckOnly bool
}

func parseChangesConfig(args []string) (changesConfig, error) {
	fs := envflag.New("worker changes")
	endpoint := fs.String("NEPTUNE_ENDPOINT", "", "Gremlin WebSocket endpoint, wss://cluster:8182/gremlin (the checkpoint is kept there)")
	iam := fs.Bool("NEPTUNE_IAM_AUTH", false, "sign Neptune requests with IAM SigV4")
	region := fs.String("AWS_REGION", "", "AWS region (SigV4 scope and EventBridge)")
	streamURL := fs.String("NEPTUNE_STREAM_URL", "", "Neptune Streams endpoint (default: from NEPTUNE_ENDPOINT, https://cluster:8182/propertygraph/stream)")
	bus := fs.String("EVENT_BUS_NAME", "", "EventBridge bus the graph-change events go to")
	name := fs.String("CHANGES_FEED", "default", "name of the feed's checkpoint (one feed per cluster and bus)")
	cluster := fs.String("CHANGES_CLUSTER", "", "the cluster's name in every event and event id (default: the stream endpoint's host; set it to keep ids stable across endpoints)")
	poll := fs.Duration("CHANGES_POLL_INTERVAL", time.Second, "wait after a read of the stream that found nothing new")
	limit := fs.Int("CHANGES_READ_LIMIT", 1000, "most change records one read of the stream asks for (1-100000)")
	every := fs.Duration("CHANGES_CHECKPOINT_EVERY", 10*time.Second, "how often the position is saved when only noise went by")
	start := fs.String("CHANGES_START", "latest", "where a feed without a checkpoint starts: latest (after the newest change) or oldest (every change the stream keeps)")
	healthAddr := fs.String("HEALTH_ADDR", ":8080", "address of /healthz, /readyz, /stats and /metrics")
	logLevel := fs.String("LOG_LEVEL", "info", "debug, info, warn or error")
	stop := fs.Duration("STOP_TIMEOUT", 10*time.Second, "the whole stop on SIGTERM (keep under the ECS stopTimeout)")
	var hc bool
	fs.BoolVar(&hc, "healthcheck", false, "check the liveness of the feed serving HEALTH_ADDR on this host and exit 0 or 1")
	if err := fs.Parse(args); err != nil {
		return changesConfig{}, err
	}
	return changesConfig{
		Neptune:   neptune.Config{Endpoint: *endpoint, IAMAuth: *iam, Region: *region, Writers: 2, MinWriters: 1, MaxWriters: 4},
		StreamURL: *streamURL, Bus: *bus, Start: *start, Cluster: *cluster, HealthAddr: *healthAddr, LogLevel: *logLevel, StopTimeout: *stop,
		Feed:            changes.Config{Name: *name, PollInterval: *poll, Limit: *limit, CheckpointEvery: *every},
		healthcheckOnly: hc,
	}, nil
}

func (c *changesConfig) Validate() error {
	var errs []error
	if err := c.Neptune.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Bus == "" {
		errs = append(errs, errors.New("EVENT_BUS_NAME is required: the bus the graph-change events go to"))
	}
	if c.StreamURL == "" && c.Neptune.Endpoint != "" {
		u, err := changes.StreamURL(c.Neptune.Endpoint)
		if err != nil {
			errs = append(errs, err)
		}
		c.StreamURL = u
	}
	if u, err := url.Parse(c.StreamURL); c.StreamURL != "" && (err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil) {
		errs = append(errs, fmt.Errorf("NEPTUNE_STREAM_URL %q: want https://host:port/propertygraph/stream", c.StreamURL))
	}
	switch c.Start {
	case "latest", "oldest":
	default:
		errs = append(errs, fmt.Errorf("CHANGES_START %q: want latest or oldest", c.Start))
	}
	if c.Feed.Limit < 1 || c.Feed.Limit > 100000 {
		errs = append(errs, fmt.Errorf("CHANGES_READ_LIMIT %d: want 1 to 100000", c.Feed.Limit))
	}
	if c.Feed.PollInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("CHANGES_POLL_INTERVAL %s: at least 100ms", c.Feed.PollInterval))
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		errs = append(errs, fmt.Errorf("LOG_LEVEL: %w", err))
	}
	return errors.Join(errs...)
}

// runChanges is `worker changes`.
func runChanges(args []string) error {
	cfg, err := parseChangesConfig(args)
	if err != nil {
		return err
	}
	if cfg.healthcheckOnly {
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
	tel, err := telemetry.Setup(ctx, telemetry.Config{Service: "graphfleet-changes", LogLevel: cfg.LogLevel})
	if err != nil {
		return err
	}
	log := tel.Logger
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), max(time.Second, cfg.StopTimeout/2))
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			log.Warn("telemetry not flushed", "err", err)
		}
	}()
	cfg.Neptune.Logger = log
	writer, err := neptune.New(ctx, cfg.Neptune)
	if err != nil {
		return err
	}
	defer func() { _ = writer.CloseWithin(cfg.StopTimeout / 2) }()

	stream := &changes.Stream{URL: cfg.StreamURL, Region: cfg.Neptune.Region}
	if cfg.Neptune.IAMAuth {
		stream.Credentials = cfg.Neptune.Credentials
	}
	cfg.Feed.Cluster = cfg.Cluster
	if cfg.Feed.Cluster == "" {
		u, _ := url.Parse(cfg.StreamURL)
		cfg.Feed.Cluster = u.Hostname()
	}
	cfg.Feed.StartAtLatest = cfg.Start == "latest"
	pub := &changes.Publisher{API: eventbridge.NewFromConfig(awsCfg), Bus: cfg.Bus, Log: log}
	feed, err := changes.New(cfg.Feed, stream, writer, pub, log, tel.Tracer, tel.Meter)
	if err != nil {
		return err
	}
	done := make(chan struct{})
	health, err := serveChangesHealth(cfg.HealthAddr, feed, done, tel.MetricsHandler(), log)
	if err != nil {
		return err
	}
	defer health.Close()
	log.Info("change feed starting", "neptune", cfg.Neptune.Endpoint, "stream", cfg.StreamURL, "bus", cfg.Bus, "health", health.Addr, "telemetry", tel.Exporters)
	// SIGTERM ends the feed between two steps: what it published and did
	// not yet checkpoint is published again by the next task, with the
	// same event ids.
	err = feed.Run(ctx)
	close(done)
	return err
}

// serveChangesHealth serves the feed's /healthz (the loop runs), /readyz
// (nothing failed since its last progress: the stream, EventBridge, the
// checkpoint),
// /stats and /metrics.
func serveChangesHealth(addr string, feed *changes.Feed, done <-chan struct{}, metrics http.Handler, log *slog.Logger) (*healthServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("HEALTH_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case <-done:
			http.Error(w, "the feed has stopped", http.StatusServiceUnavailable)
		default:
			_, _ = w.Write([]byte("ok\n"))
		}
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if ok, why := feed.Ready(); !ok {
			http.Error(w, strings.TrimSpace(why), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(feed.Status())
	})
	mux.Handle("/metrics", metrics)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health server stopped", "err", err)
		}
	}()
	return &healthServer{Server: srv, Addr: ln.Addr().String()}, nil
}
