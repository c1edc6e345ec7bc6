package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/graphfleet/graphfleet/shared/backoff"
	"github.com/graphfleet/graphfleet/shared/consume"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/envflag"
	"github.com/graphfleet/graphfleet/shared/telemetry"
)

// `worker replay dlq` moves the dead-letter queue's messages into the replay
// queue, where workers take them with the capacity live traffic leaves:
//
//	worker replay dlq -replay-queue-url URL [-dlq-url URL | -queue-url URL] [-rate 50] [-method auto|move|copy]
//
// The move is SQS's own message move task (StartMessageMoveTask with the
// replay queue as destination): SQS moves the messages server-side, keeping
// their attributes and AWSTraceHeader, at the given rate. Where it is not
// available (an SQS emulator without it, a role without
// sqs:StartMessageMoveTask), the command copies: receive from the DLQ, send
// to the replay queue (edgebatch.ReplayCopy: same body and attributes, the
// AWSTraceHeader kept, replay=true added), delete from the DLQ only once the
// send succeeded. Either way progress shows on stderr every second or so,
// and the final count on stdout.

// replayAPI is the SQS API `worker replay dlq` calls.
type replayAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, opts ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, opts ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, opts ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// Replay methods.
const (
	methodAuto = "auto" // the move task, or the copy where it is unavailable
	methodMove = "move" // the move task only
	methodCopy = "copy" // receive, send, delete
)

// maxMoveRate is SQS's limit on MaxNumberOfMessagesPerSecond.
const maxMoveRate = 500

// replayDLQConfig is `worker replay dlq`'s settings.
type replayDLQConfig struct {
	QueueURL, DLQURL, ReplayURL string
	Rate                        int
	Method                      string
	// Progress is how often progress is shown; 1s.
	Progress time.Duration
}

func parseReplayDLQ(args []string) (replayDLQConfig, error) {
	fs := envflag.New("worker replay dlq")
	queueURL := fs.String("QUEUE_URL", "", "the ingest queue, whose RedrivePolicy names the DLQ (when DLQ_URL is not given)")
	dlqURL := fs.String("DLQ_URL", "", "the dead-letter queue to empty")
	replayURL := fs.String("REPLAY_QUEUE_URL", "", "the replay queue the messages go to")
	rate := fs.Int("REPLAY_RATE", 50, "messages per second at most, 1 to 500 (SQS's limit for a move task)")
	method := fs.String("REPLAY_METHOD", methodAuto, "auto (SQS's move task, else copy), move, or copy (receive, send, delete)")
	if err := fs.Parse(args); err != nil {
		return replayDLQConfig{}, err
	}
	c := replayDLQConfig{QueueURL: *queueURL, DLQURL: *dlqURL, ReplayURL: *replayURL, Rate: *rate, Method: *method, Progress: time.Second}
	var errs []error
	if c.ReplayURL == "" {
		errs = append(errs, errors.New("REPLAY_QUEUE_URL is required"))
	}
	if c.DLQURL == "" && c.QueueURL == "" {
		errs = append(errs, errors.New("DLQ_URL, or QUEUE_URL whose RedrivePolicy names it, is required"))
	}
	if c.Rate < 1 || c.Rate > maxMoveRate {
		errs = append(errs, fmt.Errorf("REPLAY_RATE %d: want 1 to %d messages per second", c.Rate, maxMoveRate))
	}
	if c.Method != methodAuto && c.Method != methodMove && c.Method != methodCopy {
		errs = append(errs, fmt.Errorf("REPLAY_METHOD %q: want auto, move or copy", c.Method))
	}
	return c, errors.Join(errs...)
}

// runReplayCommand is `worker replay ...`.
func runReplayCommand(args []string) error {
	if len(args) == 0 || args[0] != "dlq" {
		return errors.New("usage: worker replay dlq [flags] (see worker replay dlq -help)")
	}
	cfg, err := parseReplayDLQ(args[1:])
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	awsCfg, err := awsconfig.LoadDefaultConfig(ctx)
	if err != nil {
		return fmt.Errorf("cannot load AWS configuration: %w", err)
	}
	log := telemetry.NewLogger(os.Stderr, "info")
	client := sqs.NewFromConfig(awsCfg)
	if cfg.DLQURL == "" {
		if cfg.DLQURL, err = consume.FindDLQ(ctx, client, cfg.QueueURL); err != nil {
			return fmt.Errorf("finding the DLQ (or give DLQ_URL): %w", err)
		}
	}
	n, err := replayDLQ(ctx, client, cfg, os.Stderr, log)
	fmt.Printf("replayed %d message(s) from %s to %s\n", n, cfg.DLQURL, cfg.ReplayURL)
	return err
}

// replayDLQ moves the DLQ's messages to the replay queue and returns how
// many it moved.
func replayDLQ(ctx context.Context, client replayAPI, cfg replayDLQConfig, progress io.Writer, log *slog.Logger) (int64, error) {
	if cfg.DLQURL == "" {
		dlq, err := consume.FindDLQ(ctx, client, cfg.QueueURL)
		if err != nil {
			return 0, fmt.Errorf("finding the DLQ (or give DLQ_URL): %w", err)
		}
		cfg.DLQURL = dlq
	}
	if cfg.Progress <= 0 {
		cfg.Progress = time.Second
	}
	src, err := queueAttrs(ctx, client, cfg.DLQURL)
	if err != nil {
		return 0, err
	}
	if cfg.Method != methodCopy {
		dst, err := queueAttrs(ctx, client, cfg.ReplayURL)
		if err != nil {
			return 0, err
		}
		n, err := moveTask(ctx, client, cfg, src, dst, progress)
		if err == nil || cfg.Method == methodMove || !moveUnavailable(err) {
			return n, err
		}
		log.Warn("SQS's message move task is unavailable here; copying the messages instead", "err", err)
	}
	return copyMessages(ctx, client, cfg, src.visible, progress)
}

// queueInfo is what the command reads of a queue.
type queueInfo struct {
	arn     string
	visible int64
}

func queueAttrs(ctx context.Context, client replayAPI, url string) (queueInfo, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn, types.QueueAttributeNameApproximateNumberOfMessages}})
	if err != nil {
		return queueInfo{}, fmt.Errorf("cannot read queue %s: %w", url, err)
	}
	n, _ := strconv.ParseInt(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)], 10, 64)
	return queueInfo{arn: out.Attributes[string(types.QueueAttributeNameQueueArn)], visible: n}, nil
}

// moveUnavailable reports whether StartMessageMoveTask failed because the
// operation is not there for us (not implemented, or not allowed), rather
// than for the queues' state: only then does auto fall back to copying.
func moveUnavailable(err error) bool {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.ErrorCode() {
	case "UnsupportedOperation", "InvalidAction", "UnknownOperationException", "AWS.SimpleQueueService.UnsupportedOperation",
		"AccessDenied", "AccessDeniedException", "NotImplemented":
		return true
	}
	return false
}

// moveTask runs SQS's message move task from the DLQ to the replay queue
// and follows it until it ends.
func moveTask(ctx context.Context, client replayAPI, cfg replayDLQConfig, src, dst queueInfo, progress io.Writer) (int64, error) {
	if src.visible == 0 {
		fmt.Fprintf(progress, "the DLQ %s holds no visible message: nothing to replay\n", cfg.DLQURL)
		return 0, nil
	}
	started, err := client.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{
		SourceArn: aws.String(src.arn), DestinationArn: aws.String(dst.arn), MaxNumberOfMessagesPerSecond: aws.Int32(int32(cfg.Rate)),
	})
	if err != nil {
		return 0, fmt.Errorf("StartMessageMoveTask from %s to %s: %w", src.arn, dst.arn, err)
	}
	handle := aws.ToString(started.TaskHandle)
	fmt.Fprintf(progress, "moving about %d message(s) from %s to %s at %d/s (SQS message move task)\n", src.visible, src.arn, dst.arn, cfg.Rate)
	t := time.NewTicker(cfg.Progress)
	defer t.Stop()
	began := time.Now()
	for {
		select {
		case <-ctx.Done():
			// The task goes on in SQS; say how to follow or stop it.
			return 0, fmt.Errorf("stopped following the move task (it goes on in SQS; CancelMessageMoveTask with handle %s stops it): %w", handle, ctx.Err())
		case <-t.C:
		}
		out, err := client.ListMessageMoveTasks(ctx, &sqs.ListMessageMoveTasksInput{SourceArn: aws.String(src.arn), MaxResults: aws.Int32(1)})
		if err != nil {
			fmt.Fprintf(progress, "cannot read the move task's progress (will try again): %v\n", err)
			continue
		}
		if len(out.Results) == 0 {
			continue
		}
		r := out.Results[0] // the most recent task of the source
		moved, toMove := r.ApproximateNumberOfMessagesMoved, r.ApproximateNumberOfMessagesToMove
		fmt.Fprintf(progress, "%s: moved %d of about %d (%.0f/s)\n", aws.ToString(r.Status), moved, aws.ToInt64(toMove), float64(moved)/time.Since(began).Seconds())
		switch aws.ToString(r.Status) {
		case "COMPLETED":
			return moved, nil
		case "FAILED":
			return moved, fmt.Errorf("the move task failed after %d message(s): %s", moved, aws.ToString(r.FailureReason))
		case "CANCELLED":
			return moved, fmt.Errorf("the move task was cancelled after %d message(s)", moved)
		}
	}
}

// copyMessages receives from the DLQ, sends each message to the replay queue
// and deletes it from the DLQ once the send succeeded, at most cfg.Rate a
// second, until a receive finds the DLQ empty. A message whose send fails is
// left in the DLQ (visible again after its visibility timeout), so nothing is
// lost; the count says how many moved.
func copyMessages(ctx context.Context, client replayAPI, cfg replayDLQConfig, total int64, progress io.Writer) (int64, error) {
	fmt.Fprintf(progress, "copying about %d message(s) from %s to %s at %d/s (receive, send, delete)\n", total, cfg.DLQURL, cfg.ReplayURL, cfg.Rate)
	var moved, failed int64
	began, shown := time.Now(), time.Now()
	// Each round takes at most ten messages and then waits its share of a
	// second: rate r is ten messages every 10/r seconds.
	perRound := min(10, cfg.Rate)
	roundEvery := time.Duration(float64(time.Second) * float64(perRound) / float64(cfg.Rate))
	emptyRounds := 0
	for {
		roundStart := time.Now()
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(cfg.DLQURL), MaxNumberOfMessages: int32(perRound), WaitTimeSeconds: 1,
			// Long enough to send and delete a batch; a message not
			// deleted comes back after it and is copied on a later run.
			VisibilityTimeout:           60,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAWSTraceHeader},
			AttributeNames:              []types.QueueAttributeName{types.QueueAttributeName("All")},
		})
		if err != nil {
			if ctx.Err() != nil {
				return moved, ctx.Err()
			}
			return moved, fmt.Errorf("receiving from the DLQ %s: %w", cfg.DLQURL, err)
		}
		if len(out.Messages) == 0 {
			// Two empty long polls in a row: what was visible is moved.
			if emptyRounds++; emptyRounds >= 2 {
				break
			}
			continue
		}
		emptyRounds = 0
		n, f, err := copyBatch(ctx, client, cfg, out.Messages)
		moved += n
		failed += f
		if err != nil {
			return moved, err
		}
		if time.Since(shown) >= cfg.Progress {
			fmt.Fprintf(progress, "copied %d of about %d (%.0f/s)\n", moved, total, float64(moved)/time.Since(began).Seconds())
			shown = time.Now()
		}
		if err := backoff.Sleep(ctx, roundEvery-time.Since(roundStart)); err != nil {
			return moved, err
		}
	}
	fmt.Fprintf(progress, "copied %d message(s) in %s\n", moved, time.Since(began).Round(time.Millisecond))
	if failed > 0 {
		return moved, fmt.Errorf("%d message(s) could not be sent to the replay queue and stay in the DLQ", failed)
	}
	return moved, nil
}

// copyBatch sends one received batch to the replay queue and deletes what
// was sent from the DLQ.
func copyBatch(ctx context.Context, client replayAPI, cfg replayDLQConfig, msgs []types.Message) (moved, failed int64, err error) {
	entries := make([]types.SendMessageBatchRequestEntry, 0, len(msgs))
	byID := map[string]types.Message{}
	for i, m := range msgs {
		attrs := map[string]string{}
		for k, v := range m.MessageAttributes {
			if v.StringValue != nil && aws.ToString(v.DataType) == "String" {
				attrs[k] = *v.StringValue
			}
		}
		cp, err := edgebatch.ReplayCopy(aws.ToString(m.Body), attrs)
		if err != nil {
			failed++
			continue // stays in the DLQ, visible again after the timeout
		}
		e := types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(cp.Body),
			MessageAttributes: map[string]types.MessageAttributeValue{}}
		for k, v := range cp.Attributes {
			e.MessageAttributes[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
		}
		if th := m.Attributes[string(types.MessageSystemAttributeNameAWSTraceHeader)]; th != "" {
			e.MessageSystemAttributes = map[string]types.MessageSystemAttributeValue{
				string(types.MessageSystemAttributeNameAWSTraceHeader): {DataType: aws.String("String"), StringValue: aws.String(th)},
			}
		}
		entries = append(entries, e)
		byID[strconv.Itoa(i)] = m
	}
	if len(entries) == 0 {
		return 0, failed, nil
	}
	sent, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(cfg.ReplayURL), Entries: entries})
	if err != nil {
		return 0, failed, fmt.Errorf("sending to the replay queue %s: %w", cfg.ReplayURL, err)
	}
	failed += int64(len(sent.Failed))
	var del []types.DeleteMessageBatchRequestEntry
	for _, s := range sent.Successful {
		m := byID[aws.ToString(s.Id)]
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: s.Id, ReceiptHandle: m.ReceiptHandle})
	}
	if len(del) == 0 {
		return 0, failed, nil
	}
	out, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(cfg.DLQURL), Entries: del})
	if err != nil {
		// Sent but not deleted: it comes back in the DLQ and a later run
		// replays it again, which the graph's order rules make harmless.
		return int64(len(del)), failed, fmt.Errorf("deleting copied messages from the DLQ %s (they were sent; a later run sends them again): %w", cfg.DLQURL, err)
	}
	return int64(len(out.Successful)), failed, nil
}
