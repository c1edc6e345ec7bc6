// Command neptunelocal runs graphfleet's in-memory Neptune stand-in:
//
//	go run ./shared/devtools/neptunelocal/cmd/neptunelocal -listen 127.0.0.1:8182
//
// serves ws://127.0.0.1:8182/gremlin for gremlin-go, and /graph, /stats,
// /faults and /status over HTTP on the same port. Faults can be set at start
// with flags or at run time with PUT /faults, for example
//
//	curl -X PUT localhost:8182/faults -d '{"latency":"10ms","concurrent_modification_rate":0.05}'
//	curl -X PUT localhost:8182/faults -d '{"fail_with":"AccessDeniedException","fail_rate":1}'
//	curl -X PUT localhost:8182/faults -d '{"demote":true}'   # a failover, now
//
// (a PUT replaces every fault setting; "demote" is an action and is not kept).
// With -iam it checks SigV4 signatures (service neptune-db) on every handshake
// against the credentials in AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and
// AWS_SESSION_TOKEN; secrets are read from the environment, never from flags,
// so they do not show in process listings.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "neptunelocal:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		opts neptunelocal.Options
		iam  bool
	)
	flag.StringVar(&opts.Addr, "listen", "127.0.0.1:8182", "address to listen on")
	flag.BoolVar(&iam, "iam", false, "require SigV4 (neptune-db) signed handshakes, with the credentials in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/AWS_SESSION_TOKEN")
	flag.StringVar(&opts.Region, "region", envOr("AWS_REGION", "us-east-1"), "region signatures must be scoped to")
	flag.IntVar(&opts.Workers, "workers", 0, "requests executed at once (0: 2 x GOMAXPROCS, like Neptune's 2 x vCPU)")
	flag.IntVar(&opts.StreamRecords, "stream-records", 0, "turn Neptune Streams on, keeping the newest this many change records (0: off, as neptune_streams=0)")
	flag.IntVar(&opts.QueueCapacity, "queue-capacity", 0, "requests that may wait for a worker before ThrottlingException (0: 8192)")
	flag.DurationVar(&opts.Faults.Latency, "latency", 0, "delay added to every request")
	flag.DurationVar(&opts.Faults.LatencyJitter, "latency-jitter", 0, "random extra delay in [0, jitter) per request")
	flag.Float64Var(&opts.Faults.ConcurrentModificationRate, "cme-rate", 0, "fraction of requests failing with ConcurrentModificationException")
	flag.Float64Var(&opts.Faults.ThrottleRate, "throttle-rate", 0, "fraction of requests failing with ThrottlingException")
	flag.Float64Var(&opts.Faults.DropRate, "drop-rate", 0, "fraction of requests whose connection is dropped after they are applied")
	flag.BoolVar(&opts.Faults.RefuseConnections, "refuse-connections", false, "answer new handshakes with 429")
	flag.StringVar(&opts.Faults.FailWith, "fail-with", "", "Neptune error code to answer a fraction (-fail-rate) of writes with, e.g. AccessDeniedException")
	flag.Float64Var(&opts.Faults.FailRate, "fail-rate", 0, "fraction of writes answered with -fail-with")
	demoteEvery := flag.Duration("demote-every", 0, "every interval, demote the connections open at that moment (writes on them get ReadOnlyViolationException until they close), as a failover does; 0: never")
	debug := flag.Bool("debug", false, "log refused handshakes and other detail")
	flag.Parse()

	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	opts.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	if iam {
		c := neptunelocal.Credentials{
			AccessKeyID:     os.Getenv("AWS_ACCESS_KEY_ID"),
			SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
			SessionToken:    os.Getenv("AWS_SESSION_TOKEN"),
		}
		if c.AccessKeyID == "" || c.SecretAccessKey == "" {
			return fmt.Errorf("-iam needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment")
		}
		opts.Credentials = &c
	}
	srv, err := neptunelocal.Start(opts)
	if err != nil {
		return err
	}
	opts.Logger.Info("neptunelocal serving", "gremlin", srv.URL(), "iam", iam, "faults", srv.Faults())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *demoteEvery > 0 {
		go demoteLoop(ctx, srv, *demoteEvery, opts.Logger)
	}
	<-ctx.Done()
	return srv.Close()
}

// demoteLoop stages a failover every interval: the connections open at that
// moment stay pinned to a demoted writer until their clients rebuild them.
func demoteLoop(ctx context.Context, srv *neptunelocal.Server, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			log.Info("neptunelocal: failover, open connections demoted", "connections", srv.Demote())
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
