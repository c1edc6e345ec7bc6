// Command producer turns discovery into edge batches on the ingest queue.
//
//	QUEUE_URL=... go run ./producer -source demo -interval 15s
//
// Each discovery run is one snapshot per scope: edgebatch.Split cuts it into
// self-contained batches under SQS's 1 MiB, followed by a seal, and
// sqssend.Sender sends them with SendMessageBatch. Every setting has one
// name: QUEUE_URL is -queue-url.
//
// Sources: "demo" (the PetSite microservices, their AWS resources and
// CloudFormation stacks; no AWS account needed).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/producer/demo"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/envflag"
	"github.com/graphfleet/graphfleet/shared/sqssend"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "producer:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := envflag.New("producer")
	queueURL := fs.String("QUEUE_URL", "", "URL of the ingest queue")
	region := fs.String("AWS_REGION", "", "AWS region")
	source := fs.String("SOURCE", "demo", "discovery source: demo")
	interval := fs.Duration("INTERVAL", 0, "time between discovery runs; 0 runs once and exits")
	scale := fs.Int("DEMO_SCALE", 1, "demo: copies of the PetSite topology (40 services and 100 calls each)")
	logLevel := fs.String("LOG_LEVEL", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("LOG_LEVEL: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	slog.SetDefault(log)
	if *queueURL == "" {
		return errors.New("QUEUE_URL is required")
	}
	if *source != "demo" {
		return fmt.Errorf("SOURCE %q is not known; the sources are: demo", *source)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var loadOpts []func(*awsconfig.LoadOptions) error
	if *region != "" {
		loadOpts = append(loadOpts, awsconfig.WithRegion(*region))
	}
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return fmt.Errorf("cannot load AWS configuration: %w", err)
	}
	sender := sqssend.New(sqs.NewFromConfig(awsCfg), *queueURL, sqssend.WithLogger(log))
	src := demo.New(*scale, 1)

	for {
		if err := discoverAndSend(ctx, src, sender, log); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if *interval == 0 {
				return err
			}
			log.Error("discovery run failed; the next one will supersede it", "err", err)
		}
		if *interval == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

// discoverAndSend runs one discovery of every scope and sends each as a
// snapshot: its batches, then its seal.
func discoverAndSend(ctx context.Context, src *demo.Source, sender *sqssend.Sender, log *slog.Logger) error {
	var errs []error
	for _, snap := range src.Snapshots(time.Now()) {
		batches, err := edgebatch.Split(snap, edgebatch.SplitLimits{})
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", snap.Snapshot.Scope, err))
			continue
		}
		start := time.Now()
		rep, err := sender.SendBatches(ctx, batches)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", snap.Snapshot.Scope, err))
			continue
		}
		log.Info("snapshot sent", "scope", snap.Snapshot.Scope, "vertices", len(snap.Vertices), "edges", len(snap.Edges),
			"messages", rep.Messages, "calls", rep.Calls, "bytes", rep.Bytes, "took", time.Since(start).Round(time.Millisecond))
	}
	return errors.Join(errs...)
}
