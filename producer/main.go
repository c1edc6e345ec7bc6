// Command producer turns discovery into edge batches on the ingest queue.
//
//	producer run --source deepflow,aws --once
//	QUEUE_URL=... SOURCE=demo producer run
//
// Every setting has one name, used as the environment variable and (lower
// case, dashes) as the flag: QUEUE_URL and -queue-url. See Config, or
// "producer run -help".
//
// Sources (sources.go; each lives in its own package): "deepflow" (call
// relations from a DeepFlow querier), "aws" (resources and their
// relationships from the AWS APIs), "cloudformation" (stacks, their
// resources, template references and cross-stack imports) and "demo" (the
// PetSite microservices, their AWS resources and stacks; no account needed).
//
// At start the producer reads the queue's MaximumMessageSize, so that
// batches fit a 256 KiB queue as well as a 1 MiB one. Each discovery run,
// bounded by DISCOVERY_TIMEOUT, is one snapshot per scope: edgebatch.Split
// cuts it into self-contained batches that fit the queue, sqssend.Sender
// sends them with SendMessageBatch, and only once SQS has accepted every one
// of them does the seal follow, in a call of its own (snapshotSender). A
// snapshot that failed part-way is never sealed; the next run supersedes it.
//
// With --once each source runs one time, a summary (elements, batches,
// messages, bytes, duration) goes to stdout, and the exit status is 1 when
// any discovery failed or any snapshot was not sealed: a scheduled ECS task.
// Without it each source repeats on its own interval until SIGTERM.
//
// A scheduled run that finds the ingest backlog above BACKLOG_HIGH_WATER
// defers (sends nothing; the next snapshot supersedes it), unless --force.
// `producer run --once --queue replay` sends the snapshots to the replay
// queue (REPLAY_QUEUE_URL) instead, each message marked replay=true, and
// never defers.
//
// `producer listen` consumes the trigger queue (TRIGGER_QUEUE_URL), fed by
// EventBridge rules for CloudFormation stack status changes and AWS Config
// item changes, and rediscovers the changed stack (or the changed resource's
// region) within seconds, as a snapshot of that scope (listen.go).
//
// `producer serve` is the push API: POST /v1/batches enqueues one edge batch
// from another system, behind a bearer token (INGEST_TOKEN), with 429 and
// Retry-After while the ingest backlog is above BACKLOG_HIGH_WATER
// (serve.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/shared/telemetry"
)

// telemetryFlush bounds the last export at exit: a few seconds, inside
// ECS's stop timeout (30 s) after STOP_TIMEOUT (25 s by default).
const telemetryFlush = 4 * time.Second

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}

// run is the command line: "run" (the default), "listen" or "serve", and
// their settings.
func run(args []string, stdout io.Writer) error {
	command := CommandRun
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		if args[0] != CommandRun && args[0] != CommandListen && args[0] != CommandServe {
			return fmt.Errorf("unknown command %q; usage: producer run [--source deepflow|aws|cloudformation|demo[,...]] [--once [--queue replay]] [settings], producer listen [settings], or producer serve [settings]", args[0])
		}
		command, args = args[0], args[1:]
	}
	cfg, err := parseConfig(command, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// One telemetry setup (shared/telemetry): the logger, traces and
	// metrics, exporters from OTEL_*.
	tel, err := telemetry.Setup(ctx, telemetry.Config{Service: "graphfleet-producer", LogLevel: cfg.LogLevel})
	if err != nil {
		return err
	}
	log := tel.Logger
	cfg.metrics = tel.MetricsHandler()
	defer func() {
		// The last spans and metrics, within the stop's budget.
		sctx, cancel := context.WithTimeout(context.Background(), telemetryFlush)
		defer cancel()
		if err := tel.Shutdown(sctx); err != nil {
			log.Warn("telemetry not flushed", "err", err)
		}
	}()
	var loadOpts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fmt.Errorf("cannot load AWS configuration: %w", err)
	}
	if cfg.Command == CommandServe {
		return runServe(ctx, cfg, sqs.NewFromConfig(awsCfg), log)
	}
	if cfg.Command == CommandListen {
		if len(cfg.AWSRegions) == 0 && awsCfg.Region == "" {
			return errors.New("listen needs AWS_REGIONS or a region from the SDK's chain (AWS_REGION)")
		}
		return runListen(ctx, cfg, awsCfg, sqs.NewFromConfig(awsCfg), log)
	}
	if (cfg.has("aws") || cfg.has("cloudformation")) && len(cfg.AWSRegions) == 0 && awsCfg.Region == "" {
		return errors.New("SOURCE=aws and SOURCE=cloudformation need AWS_REGIONS or a region from the SDK's chain (AWS_REGION)")
	}
	return runWith(ctx, cfg, awsCfg, sqs.NewFromConfig(awsCfg), stdout, log)
}

// runWith runs the configured sources against the queue client; tests call
// it with their own AWS configuration and queue.
func runWith(ctx context.Context, cfg Config, awsCfg aws.Config, queue queueClient, stdout io.Writer, log *slog.Logger) error {
	start := time.Now()
	ss, target, err := newRunSender(ctx, cfg, queue, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	gate := newBacklogGate(cfg, queue, log)
	var srcs []source
	for _, name := range sourceNames { // a fixed order, whatever SOURCE's
		if cfg.has(name) {
			srcs = append(srcs, source{name: name, interval: cfg.interval(name), discover: newSource(cfg, name, awsCfg), gate: gate})
		}
	}
	log.Info("producer started", "queue", target, "sources", cfg.Sources, "once", cfg.Once, "discovery_timeout", cfg.DiscoveryTimeout.String(),
		"backlog_high_water", cfg.BacklogHighWater, "defers", gate != nil, "replay", cfg.Queue == QueueReplay)
	reports, err := runSources(ctx, srcs, cfg.Once, cfg.DiscoveryTimeout, ss, log)
	if !cfg.Once {
		return nil // a shutdown; failed runs were logged and superseded
	}
	if perr := printSummary(stdout, reports, time.Since(start)); perr != nil {
		return perr
	}
	if ctx.Err() != nil && err == nil {
		return errors.New("stopped before every source had run")
	}
	return err
}
