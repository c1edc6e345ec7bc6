package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/sqssend"
)

// queueClient is what the producer asks of SQS: sending, and reading the
// queue's MaximumMessageSize once at start.
type queueClient interface {
	sqssend.SQS
	sqssend.QueueAttributes
}

// snapshotSender sends snapshots to one queue, cut to fit that queue's
// messages: every data batch first and then, in a call of its own and only
// once SQS has accepted every data batch, the seal. Workers sweep what a
// sealed snapshot did not see, so a seal after a hole would delete live
// elements; an unsealed snapshot only waits for the next one to supersede it.
type snapshotSender struct {
	sender *sqssend.Sender
	limits edgebatch.SplitLimits
}

// newSnapshotSender reads the queue's MaximumMessageSize and cuts batches to
// fit it (see sqssend.MessageLimit). When the size cannot be read (most
// often a role without sqs:GetQueueAttributes) it logs so and assumes 256
// KiB, the size queues created before 2025 often still have; a queue that
// does not exist, or is too small for any edge batch, is an error.
func newSnapshotSender(ctx context.Context, client queueClient, queueURL string, log *slog.Logger, opts ...sqssend.Option) (*snapshotSender, error) {
	queueMax, err := sqssend.QueueMaxMessageBytes(ctx, client, queueURL)
	if err != nil {
		if ctx.Err() != nil || sqssend.IsQueueMissing(err) {
			return nil, err
		}
		log.WarnContext(ctx, "cannot read the queue's MaximumMessageSize, so messages are cut to the conservative 256 KiB; grant sqs:GetQueueAttributes to use the queue's own limit",
			"queue", queueURL, "assumed_bytes", sqssend.LegacyQueueMessageBytes, "err", err)
		queueMax = sqssend.LegacyQueueMessageBytes
	}
	limit, err := sqssend.MessageLimit(queueMax)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", queueURL, err)
	}
	log.InfoContext(ctx, "message size", "queue", queueURL, "queue_max_bytes", queueMax, "batch_max_bytes", limit)
	return &snapshotSender{
		sender: sqssend.New(client, queueURL, append([]sqssend.Option{sqssend.WithLogger(log)}, opts...)...),
		limits: edgebatch.SplitLimits{MaxBytes: limit},
	}, nil
}

// snapshotReport is what sending one sealed snapshot did.
type snapshotReport struct {
	Batches int            // data batches, seal excluded
	Sent    sqssend.Report // data and seal together
}

// unsealedError is a snapshot that was cut into batches but not sealed.
type unsealedError struct {
	ID       string
	Batches  int   // data batches of the snapshot
	Accepted int   // data batches SQS accepted
	Failed   []int // seq of each data batch not accepted; empty when only the seal failed
	Err      error
}

func (e *unsealedError) Error() string {
	if len(e.Failed) == 0 && e.Accepted == e.Batches {
		return fmt.Sprintf("snapshot %s not sealed: all %d data batches were accepted but the seal was not: %v", e.ID, e.Batches, e.Err)
	}
	return fmt.Sprintf("snapshot %s not sealed: SQS accepted %d of %d data batches (not accepted: seq %s): %v",
		e.ID, e.Accepted, e.Batches, seqList(e.Failed), e.Err)
}

func (e *unsealedError) Unwrap() error { return e.Err }

// seqList shows at most ten seq numbers; a log line need not hold thousands.
func seqList(seqs []int) string {
	const show = 10
	if len(seqs) == 0 {
		return "unknown"
	}
	if len(seqs) <= show {
		return fmt.Sprint(seqs)
	}
	return fmt.Sprintf("%v and %d more", seqs[:show], len(seqs)-show)
}

// send cuts snap (a full discovery of one scope, with a Snapshot) into
// batches and sends them, then the seal. Errors: the snapshot cannot be cut
// (nothing was sent), or an *unsealedError naming what SQS did not accept.
func (s *snapshotSender) send(ctx context.Context, snap *edgebatch.Batch) (snapshotReport, error) {
	if snap.Snapshot == nil {
		return snapshotReport{}, errors.New("not a snapshot: the batch has no snapshot id and scope")
	}
	id := snap.Snapshot.ID
	batches, err := edgebatch.Split(snap, s.limits)
	if err != nil {
		return snapshotReport{}, fmt.Errorf("cannot cut snapshot %s into batches: %w", id, err)
	}
	data, seal := batches[:len(batches)-1], batches[len(batches)-1]
	if seal.Seal == nil || seal.Seal.Batches != len(data) {
		return snapshotReport{}, fmt.Errorf("cannot send snapshot %s: Split's last batch is not a seal of its %d batches", id, len(data))
	}
	rep := snapshotReport{Batches: len(data)}

	dataRep, err := s.sender.SendBatches(ctx, data)
	rep.Sent = dataRep
	if err == nil && dataRep.Messages != len(data) {
		// Send promises an error for any message not accepted; the seal's
		// safety should not rest on that promise alone.
		err = fmt.Errorf("SQS accepted %d messages, not %d, with no error reported", dataRep.Messages, len(data))
	}
	if err != nil {
		ue := &unsealedError{ID: id, Batches: len(data), Accepted: dataRep.Messages, Err: err}
		if se, ok := errors.AsType[*sqssend.SendError](err); ok {
			for _, i := range se.Indices() {
				ue.Failed = append(ue.Failed, data[i].Snapshot.Seq)
			}
		}
		return rep, ue
	}
	if err := ctx.Err(); err != nil {
		return rep, &unsealedError{ID: id, Batches: len(data), Accepted: len(data), Err: fmt.Errorf("abandoned before the seal: %w", context.Cause(ctx))}
	}

	sealRep, err := s.sender.SendBatches(ctx, []*edgebatch.Batch{seal})
	rep.Sent.Messages += sealRep.Messages
	rep.Sent.Calls += sealRep.Calls
	rep.Sent.Retried += sealRep.Retried
	rep.Sent.Bytes += sealRep.Bytes
	if err == nil && sealRep.Messages != 1 {
		err = errors.New("SQS did not accept the seal, with no error reported")
	}
	if err != nil {
		return rep, &unsealedError{ID: id, Batches: len(data), Accepted: len(data), Err: fmt.Errorf("seal: %w", err)}
	}
	return rep, nil
}
