// Command producer turns discovery into edge batches on the ingest queue.
//
//	QUEUE_URL=... go run ./producer -source demo -interval 15s
//
// Every setting has one name, used as the environment variable and (lower
// case, dashes) as the flag: QUEUE_URL and -queue-url. See Config, or -help.
//
// At start the producer reads the queue's MaximumMessageSize, so that
// batches fit a 256 KiB queue as well as a 1 MiB one. Each discovery run,
// bounded by DISCOVERY_TIMEOUT, is one snapshot per scope: edgebatch.Split
// cuts it into self-contained batches that fit the queue, sqssend.Sender
// sends them with SendMessageBatch, and only once SQS has accepted every one
// of them does the seal follow, in a call of its own (snapshotSender). A
// snapshot that failed part-way is never sealed; the next run supersedes it.
//
// Sources: "deepflow" (call relations from a DeepFlow querier:
// DEEPFLOW_QUERIER_URL, DEEPFLOW_WINDOW, DEEPFLOW_NAME), "demo" (the PetSite microservices, their AWS resources and
// CloudFormation stacks; no AWS account needed).
package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/producer/deepflow"
	"github.com/graphfleet/graphfleet/producer/demo"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	level, _ := cfg.level()
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var loadOpts []func(*awsconfig.LoadOptions) error
	if cfg.Region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(cfg.Region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fmt.Errorf("cannot load AWS configuration: %w", err)
	}
	ss, err := newSnapshotSender(ctx, sqs.NewFromConfig(awsCfg), cfg.QueueURL, log)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	discover := newSource(cfg)
	log.Info("producer started", "queue", cfg.QueueURL, "source", cfg.Source, "interval", cfg.Interval.String(), "discovery_timeout", cfg.DiscoveryTimeout.String())
	return runLoop(ctx, cfg, discover, ss, log)
}

// newSource is the discovery source SOURCE names, as one function from a run's
// time to that run's snapshots.
func newSource(cfg Config) discoverFunc {
	switch cfg.Source {
	case "deepflow":
		src := &deepflow.Source{
			Client: &deepflow.Client{URL: cfg.DeepFlowQuerierURL, HTTP: &http.Client{Timeout: cfg.DiscoveryTimeout}},
			Name:   cfg.DeepFlowName,
			Window: cfg.DeepFlowWindow,
			// A page of PageSize+1 rows must fit under the querier's
			// limit, so that a cut page is told from the last one.
			ServerRowLimit: cfg.DeepFlowRowLimit,
			PageSize:       min(deepflow.DefaultPageSize, cfg.DeepFlowRowLimit-1),
		}
		return func(ctx context.Context, observed time.Time) ([]*edgebatch.Batch, error) {
			// The window ends at the run's time, in whole seconds (the
			// querier's time column).
			end := observed.UTC().Truncate(time.Second)
			b, err := src.Discover(ctx, end.Add(-cfg.DeepFlowWindow), end)
			if err != nil {
				return nil, err
			}
			return []*edgebatch.Batch{b}, nil
		}
	default:
		src := demo.New(cfg.DemoScale, 1)
		return func(_ context.Context, observed time.Time) ([]*edgebatch.Batch, error) {
			snaps := src.Snapshots(observed)
			if cfg.DemoCalls {
				return snaps, nil
			}
			var out []*edgebatch.Batch
			for _, b := range snaps {
				if b.Source != "deepflow" {
					out = append(out, b)
				}
			}
			return out, nil
		}
	}
}
