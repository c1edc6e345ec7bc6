package main

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/shared/devtools/deepflowlocal"
	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
)

// BenchmarkDeepFlowToQueue measures discovery to queue for the DeepFlow
// source: a run of SOURCE=deepflow against the local querier (its default
// row limit of 10,000, so 100k rows take 21 pages of 5,000) until the
// snapshot is sealed on the SQS emulator. One op is one run. It reports the
// querier's rows, the calls edges, the messages (seal included) and bytes
// sent, and those per edge, and how the time splits between reading the
// querier (paging, mapping rows) and sending (split, encode, SendMessageBatch
// until the seal is accepted).
//
//	go test -run '^$' -bench DeepFlowToQueue -benchtime 3x ./producer/
//
// The querier, the emulator and the producer share the machine, so the time
// includes the querier building its JSON and the emulator storing messages.
func BenchmarkDeepFlowToQueue(b *testing.B) {
	srv := sqslocal.StartT(b)
	client := srv.Client(context.Background())
	for _, rows := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("rows=%d", rows), func(b *testing.B) {
			// Each copy of the PetSite topology is 100 calls and
			// ExtraRowsPerCopy more rows.
			scale := (rows + 100 + deepflowlocal.ExtraRowsPerCopy - 1) / (100 + deepflowlocal.ExtraRowsPerCopy)
			q, err := deepflowlocal.Start(deepflowlocal.Options{Scale: scale})
			if err != nil {
				b.Fatal(err)
			}
			defer q.Close()
			cfg := Config{Sources: []string{"deepflow"}, Once: true, DiscoveryTimeout: 10 * time.Minute,
				DeepFlowQuerierURL: q.URL(), DeepFlowWindow: 5 * time.Minute, DeepFlowName: "bench", DeepFlowRowLimit: q.RowLimit()}
			src := source{name: "deepflow", discover: newSource(cfg, "deepflow", aws.Config{})}
			log := slog.New(slog.DiscardHandler)

			var edges, messages, bytes int
			var discover, send time.Duration
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				queues, err := sqslocal.CreateQueuesWithOptions(context.Background(), client, fmt.Sprintf("bench%d-%d", rows, i), sqslocal.QueueOptions{})
				if err != nil {
					b.Fatal(err)
				}
				ss, err := newSnapshotSender(context.Background(), client, queues.Ingest, log)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				rep := discoverAndSend(context.Background(), src, ss, cfg.DiscoveryTimeout, log)
				b.StopTimer()
				if rep.Err != nil || len(rep.Snapshots) != 1 {
					b.Fatalf("run: %v", rep.Err)
				}
				s := rep.Snapshots[0]
				edges, messages, bytes = s.Edges, s.Report.Sent.Messages, s.Report.Sent.Bytes
				discover += rep.Took - s.Took
				send += s.Took
				for _, u := range []string{queues.Ingest, queues.DLQ, queues.Replay} {
					_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(discover.Milliseconds())/float64(b.N), "ms-querying")
			b.ReportMetric(float64(send.Milliseconds())/float64(b.N), "ms-sending")
			b.ReportMetric(float64(q.Rows(0)), "rows")
			b.ReportMetric(float64(edges), "edges")
			b.ReportMetric(float64(messages), "messages")
			b.ReportMetric(float64(bytes), "bytes")
			b.ReportMetric(float64(messages)/float64(edges), "messages/edge")
			b.ReportMetric(float64(bytes)/float64(edges), "bytes/edge")
		})
	}
}
