package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/graphfleet/graphfleet/producer/awsresources"
	"github.com/graphfleet/graphfleet/producer/cloudformation"
	"github.com/graphfleet/graphfleet/producer/trigger"
	"github.com/graphfleet/graphfleet/shared/consume"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// listenProcessors is how many trigger messages are handled at once. Most
// of them only wait for their group's rediscovery (see coalescer), so it is
// well above the rediscoveries that run at once; a burst larger than it
// still coalesces through the covered check.
const listenProcessors = 32

// listener is `producer listen`: it consumes the trigger queue (EventBridge
// rules deliver CloudFormation stack status changes and AWS Config item
// changes to it) and rediscovers what changed, within seconds:
//
//	a stack reached a *_COMPLETE status  -> that stack's snapshot (scope: the stack; a deleted stack's is empty, so its sweep removes it)
//	a Config item changed                -> the AWS source's snapshot of the item's account and region
//
// A Config change rediscovers the whole region because the AWS source's
// scope is the region: a snapshot of one resource would sweep nothing right
// (see the README). Events are coalesced per stack or region. An event that
// cannot be acted on (malformed, not a kind graphfleet listens to, another
// account, a region not configured) goes to the trigger queue's DLQ with
// the reason; a rediscovery that fails for AWS's reasons (throttled, down)
// keeps its messages and is tried again, as the worker does with Neptune.
type listener struct {
	account  string
	regions  []string
	cfn      *cloudformation.Source
	aws      map[string]*awsresources.Source // per region
	ss       *snapshotSender
	timeout  time.Duration
	log      *slog.Logger
	coalesce *coalescer
}

// Key prefixes of the coalescer's keys.
const (
	stackKeyPrefix  = "stack "
	regionKeyPrefix = "region "
)

// runListen consumes the trigger queue until ctx ends.
func runListen(ctx context.Context, cfg Config, awsCfg aws.Config, queue listenQueue, log *slog.Logger) error {
	id, err := sts.NewFromConfig(awsCfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return fmt.Errorf("cannot tell which account to rediscover (sts:GetCallerIdentity): %w", err)
	}
	ss, err := newSnapshotSender(ctx, queue, cfg.QueueURL, log)
	if err != nil {
		return err
	}
	rs := regions(cfg, awsCfg)
	l := &listener{
		account: aws.ToString(id.Account),
		regions: rs,
		cfn:     cloudformation.New(awsCfg, rs),
		aws:     map[string]*awsresources.Source{},
		ss:      ss,
		timeout: cfg.DiscoveryTimeout,
		log:     log,
	}
	for _, r := range rs {
		l.aws[r] = awsresources.New(awsCfg, []string{r})
	}
	// Rediscoveries run on a context of their own: many messages wait on
	// one, and one message's deadline must not cut it short for the others.
	// It ends with the listener.
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	l.coalesce = newCoalescer(runCtx, cfg.TriggerCoalesce, l.rediscover)

	c, err := consume.New(ctx, queue, consume.Config{
		QueueURL:   cfg.TriggerQueueURL,
		DLQURL:     cfg.TriggerDLQURL,
		Processors: listenProcessors,
		// A message may wait for the rediscovery before its own group's,
		// then the window, then its own.
		MessageTimeout: 2*(cfg.TriggerCoalesce+cfg.DiscoveryTimeout) + 30*time.Second,
		// The whole stop on SIGTERM, as the worker's: the last long poll,
		// work in progress, releases.
		StopTimeout: cfg.StopTimeout,
		Logger:      log,
	}, l.handle)
	if err != nil {
		return err
	}
	log.Info("producer listening", "trigger_queue", cfg.TriggerQueueURL, "queue", cfg.QueueURL, "account", l.account,
		"regions", rs, "coalesce", cfg.TriggerCoalesce.String())
	return c.Run(ctx)
}

// listenQueue is the SQS API `producer listen` uses: consuming the trigger
// queue and sending snapshots to the ingest queue.
type listenQueue interface {
	consume.SQS
	queueClient
}

// handle is one trigger message: parse it, check it is ours, and wait for
// the rediscovery of its stack or region.
func (l *listener) handle(ctx context.Context, m *consume.Message) error {
	ch, err := trigger.Parse([]byte(m.Body))
	if err != nil {
		return &consume.PermanentError{Reason: trigger.Reason(err), Err: err}
	}
	if ch.Account != l.account {
		return &consume.PermanentError{Reason: fmt.Sprintf("event of account %s; this producer discovers account %s", ch.Account, l.account)}
	}
	if !slices.Contains(l.regions, ch.Region) {
		return &consume.PermanentError{Reason: fmt.Sprintf("event of region %s; this producer discovers %s (AWS_REGIONS)", ch.Region, strings.Join(l.regions, ", "))}
	}
	key := regionKeyPrefix + ch.Region
	if ch.Kind == trigger.KindStack {
		key = stackKeyPrefix + ch.Key
	}
	covered, err := l.coalesce.wait(ctx, key, ch.At)
	if covered {
		l.log.DebugContext(ctx, "change already covered by a rediscovery that started after it", "message_id", m.ID, "key", key, "event_time", ch.At)
	}
	return err
}

// rediscover runs one rediscovery and sends its snapshot. Its error tells
// the consumer whose fault a failure is (see classify).
func (l *listener) rediscover(ctx context.Context, key string, started time.Time) error {
	ctx, cancel := context.WithTimeoutCause(ctx, l.timeout, errRunTimeout)
	defer cancel()
	var snaps []*edgebatch.Batch
	var err error
	if stack, ok := strings.CutPrefix(key, stackKeyPrefix); ok {
		var b *edgebatch.Batch
		if b, err = l.cfn.DiscoverStack(ctx, stack, started); err == nil {
			snaps = []*edgebatch.Batch{b}
		}
	} else {
		region := strings.TrimPrefix(key, regionKeyPrefix)
		snaps, err = l.aws[region].Discover(ctx, started)
	}
	if err != nil {
		err = withCause(ctx, err)
		l.log.ErrorContext(ctx, "rediscovery failed", "key", key, "err", err)
		return classify(fmt.Errorf("rediscovery of %s: %w", key, err))
	}
	for _, snap := range snaps {
		rep, err := l.ss.send(ctx, snap)
		if err != nil {
			err = withCause(ctx, err)
			l.log.ErrorContext(ctx, "rediscovered snapshot not sealed", "key", key, "snapshot", snapshotID(snap), "err", err)
			// The ingest queue refused or timed out: not the event's fault.
			return fmt.Errorf("sending the rediscovery of %s: %w", key, err)
		}
		l.log.InfoContext(ctx, "rediscovered and sent", "key", key, "scope", snapshotScope(snap), "snapshot", snapshotID(snap),
			"vertices", len(snap.Vertices), "edges", len(snap.Edges), "messages", rep.Sent.Messages,
			"took", time.Since(started).Round(time.Millisecond).String())
	}
	return nil
}

// classify says whose fault a failed rediscovery is, for the consumer:
//   - the event names what this producer does not discover: the event's
//     (to the DLQ at once);
//   - AWS refuses our credentials: intake stops until they work;
//   - an AWS call failed otherwise or did not answer (throttling past the
//     retries, an outage, a timeout): AWS is unwell, the messages are kept
//     and tried again;
//   - anything else (a template that does not parse, a snapshot the
//     validator refuses): the stack's content, retried a few times through
//     the queue and then dead-lettered with the reason, so that one odd stack
//     cannot stop every other rediscovery.
func classify(err error) error {
	if errors.Is(err, cloudformation.ErrRegionNotConfigured) || errors.Is(err, cloudformation.ErrOtherAccount) {
		return &consume.PermanentError{Reason: err.Error(), Err: err}
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		denied := strings.HasPrefix(code, "AccessDenied") || code == "UnauthorizedOperation" || code == "ExpiredToken" ||
			code == "InvalidClientTokenId" || code == "UnrecognizedClientException"
		return &consume.SinkError{Denied: denied, Err: err}
	}
	var ne net.Error
	var oe *smithy.OperationError
	if errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return err
	}
	return &consume.ContentError{Reason: err.Error(), Err: err}
}
