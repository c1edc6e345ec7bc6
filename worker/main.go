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
// the consumer then deletes it, retries it later, or sends it to the DLQ.
// SIGTERM (as ECS sends it) stops receiving, finishes or releases what is
// held within STOP_TIMEOUT, and exits.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/shared/envflag"
	"github.com/graphfleet/graphfleet/worker/consume"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

type config struct {
	queueURL, dlqURL        string
	neptuneEndpoint, region string
	iamAuth                 bool
	writers, records        int
	maxHeld, processors     int
	pollers                 int
	visibility, stopTimeout time.Duration
	healthAddr, logLevel    string
}

func parseConfig(args []string) (config, error) {
	var c config
	fs := envflag.New("worker")
	queueURL := fs.String("QUEUE_URL", "", "URL of the SQS queue to consume")
	dlqURL := fs.String("DLQ_URL", "", "dead-letter queue for malformed messages (default: from the queue's RedrivePolicy)")
	endpoint := fs.String("NEPTUNE_ENDPOINT", "", "Gremlin WebSocket endpoint, wss://cluster:8182/gremlin or ws://127.0.0.1:8182/gremlin")
	iam := fs.Bool("NEPTUNE_IAM_AUTH", false, "sign Neptune handshakes with IAM SigV4")
	region := fs.String("AWS_REGION", "", "AWS region (SigV4 scope and SQS)")
	writers := fs.Int("NEPTUNE_WRITERS", 8, "Neptune requests in flight at once (about 2 x the writer's vCPUs)")
	records := fs.Int("NEPTUNE_RECORDS_PER_REQUEST", 200, "records (labels and properties) per Neptune request")
	maxHeld := fs.Int("MAX_HELD_MESSAGES", 100, "messages held at once; receiving pauses at this cap")
	processors := fs.Int("PROCESSORS", 8, "messages processed at once")
	pollers := fs.Int("POLLERS", 1, "concurrent long polls")
	visibility := fs.Duration("VISIBILITY_TIMEOUT", 30*time.Second, "visibility asked for on receive and kept up by the heartbeat")
	stopTimeout := fs.Duration("STOP_TIMEOUT", 25*time.Second, "time allowed on SIGTERM to finish the last long poll and held work (keep under the ECS stopTimeout)")
	healthAddr := fs.String("HEALTH_ADDR", ":8080", "address of /healthz and /stats")
	logLevel := fs.String("LOG_LEVEL", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c = config{
		queueURL: *queueURL, dlqURL: *dlqURL, neptuneEndpoint: *endpoint, region: *region, iamAuth: *iam,
		writers: *writers, records: *records, maxHeld: *maxHeld, processors: *processors, pollers: *pollers,
		visibility: *visibility, stopTimeout: *stopTimeout, healthAddr: *healthAddr, logLevel: *logLevel,
	}
	var errs []error
	if c.queueURL == "" {
		errs = append(errs, errors.New("QUEUE_URL is required"))
	}
	if c.neptuneEndpoint == "" {
		errs = append(errs, errors.New("NEPTUNE_ENDPOINT is required"))
	}
	if c.iamAuth && c.region == "" {
		errs = append(errs, errors.New("NEPTUNE_IAM_AUTH needs AWS_REGION"))
	}
	return c, errors.Join(errs...)
}

func run(args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.logLevel)); err != nil {
		return fmt.Errorf("LOG_LEVEL: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var loadOpts []func(*awsconfig.LoadOptions) error
	if cfg.region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(cfg.region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fmt.Errorf("cannot load AWS configuration: %w", err)
	}
	writer, err := connectNeptune(ctx, neptune.Config{
		Endpoint:          cfg.neptuneEndpoint,
		IAMAuth:           cfg.iamAuth,
		Credentials:       awsCfg.Credentials,
		Region:            awsCfg.Region,
		Writers:           cfg.writers,
		RecordsPerRequest: cfg.records,
		Logger:            log,
	}, log)
	if err != nil {
		return err
	}
	defer writer.Close()

	h := newHandler(writer, log)
	consumer, err := consume.New(ctx, sqs.NewFromConfig(awsCfg), consume.Config{
		QueueURL:          cfg.queueURL,
		DLQURL:            cfg.dlqURL,
		MaxHeld:           cfg.maxHeld,
		Processors:        cfg.processors,
		Pollers:           cfg.pollers,
		VisibilityTimeout: cfg.visibility,
		StopTimeout:       cfg.stopTimeout,
		Logger:            log,
	}, h.handle)
	if err != nil {
		return err
	}
	health, err := serveHealth(cfg.healthAddr, consumer, log)
	if err != nil {
		return err
	}
	defer health.Close()
	log.Info("worker started", "queue", cfg.queueURL, "neptune", cfg.neptuneEndpoint, "iam", cfg.iamAuth, "writers", cfg.writers, "health", health.Addr)
	return consumer.Run(ctx)
}

// connectNeptune retries the first connection with backoff: at a cold start
// (or a failover) Neptune may not answer yet, and a worker that cannot write
// should not take messages.
func connectNeptune(ctx context.Context, cfg neptune.Config, log *slog.Logger) (*neptune.Writer, error) {
	delay := 500 * time.Millisecond
	for {
		w, err := neptune.New(ctx, cfg)
		if err == nil {
			return w, nil
		}
		if errors.Is(err, neptune.ErrConfig) {
			return nil, err
		}
		log.Warn("cannot connect to Neptune yet", "err", err, "retry_in", delay)
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("stopped before Neptune answered: %w", err)
		case <-time.After(delay):
		}
		delay = min(2*delay, 10*time.Second)
	}
}

// healthServer serves /healthz (200 while the consumer polls, 503 otherwise)
// and /stats for people watching a local run.
type healthServer struct {
	*http.Server
	Addr string
}

func serveHealth(addr string, c *consume.Consumer, log *slog.Logger) (*healthServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("HEALTH_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !c.Healthy() {
			http.Error(w, "not polling", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, _ *http.Request) {
		s := c.Stats()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]int64{
			"held":          int64(c.Held()),
			"received":      s.Received.Load(),
			"deleted":       s.Deleted.Load(),
			"dead_lettered": s.DeadLettered.Load(),
			"retried":       s.Retried.Load(),
			"released":      s.Released.Load(),
			"extended":      s.Extended.Load(),
		})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("health server stopped", "err", err)
		}
	}()
	return &healthServer{Server: srv, Addr: ln.Addr().String()}, nil
}
