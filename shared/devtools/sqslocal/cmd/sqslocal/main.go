// Command sqslocal runs the local-aws-sqs emulator (npm, on Node) for
// graphfleet's local development and creates the project's queues:
//
//	go run ./shared/devtools/sqslocal/cmd/sqslocal -listen 127.0.0.1:9324 -queues graphfleet
//
// It prints the endpoint and the queue URLs, then runs until SIGINT or
// SIGTERM. node_modules must be installed first (`npm ci` at the module root).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "sqslocal:", err)
		os.Exit(1)
	}
}

func run() error {
	listen := flag.String("listen", "127.0.0.1:9324", "host:port to listen on (port 0 picks a free port)")
	prefix := flag.String("queues", "graphfleet", "queue name prefix: creates PREFIX-ingest, PREFIX-dlq and PREFIX-replay (empty: create none)")
	visibility := flag.Duration("visibility-timeout", sqslocal.DefaultVisibilityTimeout, "visibility timeout of the queues")
	maxReceive := flag.Int("max-receive-count", sqslocal.DefaultMaxReceiveCount, "receives before a message is redriven to the DLQ")
	region := flag.String("region", sqslocal.DefaultRegion, "region in queue ARNs")
	account := flag.String("account-id", sqslocal.DefaultAccountID, "account id in queue ARNs and URLs")
	logFile := flag.String("log", "", "file for the emulator's output (default: this process's stderr)")
	flag.Parse()
	if flag.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", flag.Args())
	}

	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("-listen: %w", err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("-listen: bad port %q", portStr)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := sqslocal.Options{Host: host, Port: port, Region: *region, AccountID: *account, LogFile: *logFile}
	if *logFile == "" {
		opts.Output = os.Stderr
	}
	srv, err := sqslocal.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer srv.Close() //nolint:errcheck // the explicit Close below reports

	fmt.Printf("endpoint   %s (local-aws-sqs %s, pid %d)\n", srv.Endpoint, srv.Version, srv.PID)
	if srv.LogPath != "" {
		fmt.Printf("log        %s\n", srv.LogPath)
	}
	if *prefix != "" {
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		q, err := sqslocal.CreateQueuesWithOptions(cctx, srv.Client(cctx), *prefix, sqslocal.QueueOptions{
			VisibilityTimeout: *visibility,
			MaxReceiveCount:   *maxReceive,
		})
		cancel()
		if err != nil {
			return err
		}
		fmt.Printf("ingest     %s\n", q.Ingest)
		fmt.Printf("dlq        %s\n", q.DLQ)
		fmt.Printf("replay     %s\n", q.Replay)
	}
	fmt.Printf("export AWS_ENDPOINT_URL_SQS=%s\n", srv.Endpoint)

	select {
	case <-ctx.Done():
		fmt.Fprintln(os.Stderr, "sqslocal: stopping")
		return srv.Close()
	case <-srv.Done():
		if err := srv.Close(); err != nil {
			return err
		}
		return errors.New("emulator exited on its own")
	}
}
