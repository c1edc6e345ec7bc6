package changes

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/backoff"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// Store is where the feed keeps its place and reads edges' ends: the
// Neptune writer.
type Store interface {
	Checkpoint(ctx context.Context, feed string) (commitNum, opNum int64, ok bool, err error)
	SaveCheckpoint(ctx context.Context, feed string, commitNum, opNum int64) error
	DropCheckpoint(ctx context.Context, feed string) error
	EdgeEnds(ctx context.Context, ids []string) (map[string]neptune.EdgeEnds, error)
}

// Config is the feed's.
type Config struct {
	// Name names the checkpoint: one feed per cluster and bus ("default").
	Name string
	// Cluster names the cluster in every event (its endpoint's host).
	Cluster string
	// PollInterval is the wait after a read that found nothing new.
	PollInterval time.Duration
	// Limit is the most records one read asks for (Neptune: 1-100,000).
	Limit int
	// CheckpointEvery is how often the position is saved when only noise
	// went by (a position after events is saved at once).
	CheckpointEvery time.Duration
	// StartAtLatest: with no checkpoint, start after the newest record
	// rather than at the oldest kept (a new feed on a graph with days of
	// stream behind it would otherwise replay them all as events).
	StartAtLatest bool
	// MaxPending bounds the records held of a transaction not yet read to
	// its end (a read cut it); past it, they are mapped as they are.
	MaxPending int
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "default"
	}
	if c.PollInterval <= 0 {
		c.PollInterval = time.Second
	}
	if c.Limit <= 0 {
		c.Limit = 1000
	}
	if c.CheckpointEvery <= 0 {
		c.CheckpointEvery = 10 * time.Second
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 100_000
	}
}

// Status is the feed's state, for /stats and the lag gauge.
type Status struct {
	Position     string           `json:"position"`   // the last record read
	Checkpoint   string           `json:"checkpoint"` // the last position saved
	CaughtUp     bool             `json:"caught_up"`
	LagSeconds   float64          `json:"lag_seconds"` // now minus the last mapped change's commit time; 0 when caught up
	Records      int64            `json:"records"`
	Noise        int64            `json:"noise"`
	Events       map[string]int64 `json:"events"` // published, by type
	Dropped      int64            `json:"dropped"`
	Gaps         int64            `json:"gaps"` // times the position had expired
	LastError    string           `json:"last_error,omitempty"`
	LastErrorAt  time.Time        `json:"last_error_at,omitzero"`
	LastProgress time.Time        `json:"last_progress,omitzero"`
}

// Feed is the change feed.
type Feed struct {
	cfg    Config
	stream *Stream
	store  Store
	pub    *Publisher
	log    *slog.Logger
	tracer trace.Tracer
	m      *feedMetrics

	mu       sync.Mutex
	st       Status
	lastTS   int64 // commit time (ms) of the last mapped change
	caughtUp bool
}

// New returns a feed; tp and mp may be nil (no telemetry).
func New(cfg Config, stream *Stream, store Store, pub *Publisher, log *slog.Logger, tp trace.TracerProvider, mp metric.MeterProvider) (*Feed, error) {
	cfg.setDefaults()
	if pub.Log == nil {
		pub.Log = log
	}
	pub.Cluster = cfg.Cluster
	f := &Feed{cfg: cfg, stream: stream, store: store, pub: pub, log: log, st: Status{Events: map[string]int64{}}}
	f.tracer = tracerFrom(tp)
	m, err := newFeedMetrics(mp, f)
	if err != nil {
		return nil, err
	}
	f.m = m
	// EventBridge refusing shows in /readyz and the errors counter while
	// Publish keeps trying.
	pub.OnFailure = func(err error) {
		f.mu.Lock()
		f.st.LastError, f.st.LastErrorAt = "publish: "+err.Error(), time.Now()
		f.mu.Unlock()
		f.m.errors.Add(context.Background(), 1, metric.WithAttributes(attribute.String("operation", "publish"), attribute.String("error.type", "eventbridge")))
	}
	return f, nil
}

// Status returns a copy of the feed's state.
func (f *Feed) Status() Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.st
	st.Events = make(map[string]int64, len(f.st.Events))
	for k, v := range f.st.Events {
		st.Events[k] = v
	}
	st.CaughtUp = f.caughtUp
	st.LagSeconds = f.lagLocked(time.Now())
	return st
}

func (f *Feed) lagLocked(now time.Time) float64 {
	if f.caughtUp || f.lastTS == 0 {
		return 0
	}
	return max(0, now.Sub(time.UnixMilli(f.lastTS)).Seconds())
}

// Ready reports whether the last attempt at anything succeeded.
func (f *Feed) Ready() (bool, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st.LastError != "" && f.st.LastErrorAt.After(f.st.LastProgress) {
		return false, f.st.LastError
	}
	return true, ""
}

func (f *Feed) failed(ctx context.Context, what string, err error) {
	f.log.WarnContext(ctx, "change feed: "+what, "err", err)
	f.mu.Lock()
	f.st.LastError, f.st.LastErrorAt = what+": "+err.Error(), time.Now()
	f.mu.Unlock()
}

func (f *Feed) progressed() {
	f.mu.Lock()
	f.st.LastProgress = time.Now()
	f.mu.Unlock()
}

// retry runs op until it succeeds or ctx ends, waiting between attempts:
// Neptune and EventBridge being unwell delays the feed, never skips a change.
func (f *Feed) retry(ctx context.Context, what string, op func() error) error {
	for n := 0; ; n++ {
		err := op()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		f.failed(ctx, what, err)
		f.m.errors.Add(ctx, 1, metric.WithAttributes(attribute.String("operation", what), attribute.String("error.type", errorType(err))))
		if err := backoff.Sleep(ctx, backoff.FullJitter(n, 200*time.Millisecond, 30*time.Second)); err != nil {
			return err
		}
	}
}

// Run follows the stream until ctx ends.
func (f *Feed) Run(ctx context.Context) error {
	var cursor *EventID
	var saved EventID
	if err := f.retry(ctx, "read checkpoint", func() error {
		c, o, ok, err := f.store.Checkpoint(ctx, f.cfg.Name)
		if err == nil && ok {
			cursor, saved = &EventID{c, o}, EventID{c, o}
		}
		return err
	}); err != nil {
		return nil // stopped
	}
	f.setPositions(cursor, saved)
	latest := cursor == nil && f.cfg.StartAtLatest
	f.log.Info("change feed started", "feed", f.cfg.Name, "cluster", f.cfg.Cluster, "stream", f.stream.URL, "bus", f.pub.Bus,
		"checkpoint", cursor, "start_at_latest", latest)
	var pending []Record
	lastSave := time.Now()
	var lastVerify time.Time
	for n := 0; ctx.Err() == nil; {
		readStart := time.Now()
		page, err := f.stream.Read(ctx, cursor, latest, f.cfg.Limit)
		readEnd := time.Now()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if Expired(err) {
				// The position left the stream's retention: changes were
				// lost to the feed (it was stopped longer than Neptune keeps
				// them). Say so loudly, count it, and go on from the oldest.
				f.log.ErrorContext(ctx, "change feed: the checkpoint has expired; changes since were lost to the feed, going on from the oldest kept",
					"position", cursor, "err", err)
				f.m.gaps.Add(ctx, 1)
				f.mu.Lock()
				f.st.Gaps++
				f.mu.Unlock()
				cursor, latest, pending = nil, false, nil
				continue
			}
			f.failed(ctx, "read stream", err)
			f.m.errors.Add(ctx, 1, metric.WithAttributes(attribute.String("operation", "read stream"), attribute.String("error.type", errorType(err))))
			if backoff.Sleep(ctx, backoff.FullJitter(n, 200*time.Millisecond, 30*time.Second)) != nil {
				break
			}
			n++
			continue
		}
		n = 0
		f.progressed()
		if len(page.Records) == 0 {
			// Caught up, or ahead: Neptune answers a position past its last
			// record the same way, and a cluster restored or recreated
			// behind the endpoint has its numbers start over. Now and then
			// (not on every idle poll), look at the newest record.
			if cursor != nil && time.Since(lastVerify) >= verifyEvery {
				lastVerify = time.Now()
				if ahead, err := f.ahead(ctx, *cursor); err == nil && ahead {
					f.log.ErrorContext(ctx, "change feed: the checkpoint is ahead of the stream (the cluster was restored or recreated?); going on from the oldest change kept",
						"position", cursor.String())
					f.m.gaps.Add(ctx, 1)
					f.mu.Lock()
					f.st.Gaps++
					f.mu.Unlock()
					if f.retry(ctx, "drop checkpoint", func() error { return f.store.DropCheckpoint(ctx, f.cfg.Name) }) != nil {
						break
					}
					cursor, latest, pending, saved = nil, false, nil, EventID{}
					continue
				}
			}
			// An empty stream: nothing is before the feed, so it starts at
			// the oldest record to come, not at whichever is newest then.
			latest = false
			f.mu.Lock()
			f.caughtUp = true
			f.mu.Unlock()
			if backoff.Sleep(ctx, f.cfg.PollInterval) != nil {
				break
			}
			continue
		}
		last := page.Records[len(page.Records)-1].EventID
		if latest {
			// Start after the newest change: nothing before it is mapped.
			cursor, latest = &last, false
			if f.retry(ctx, "save checkpoint", func() error { return f.store.SaveCheckpoint(ctx, f.cfg.Name, last.CommitNum, last.OpNum) }) != nil {
				break
			}
			f.setPositions(cursor, last)
			continue
		}
		cursor = &last
		f.mu.Lock()
		f.caughtUp = false
		f.mu.Unlock()
		pending = append(pending, page.Records...)
		cut := 0
		for i, r := range pending {
			if r.IsLastOp {
				cut = i + 1
			}
		}
		if cut == 0 && len(pending) > f.cfg.MaxPending {
			f.log.WarnContext(ctx, "change feed: a transaction larger than MaxPending records is mapped in parts", "records", len(pending))
			cut = len(pending)
		}
		if cut == 0 {
			f.setPositions(cursor, saved)
			continue // the transaction goes on in the next read
		}
		complete := pending[:cut]
		pending = append([]Record(nil), pending[cut:]...)
		done, err := f.process(ctx, complete, readStart, readEnd, time.Since(lastSave) >= f.cfg.CheckpointEvery)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			// Not a stop: something the retries cannot fix. The task exits
			// non-zero and ECS starts another at the checkpoint.
			f.log.ErrorContext(ctx, "change feed stopped", "err", err, "position", last.String())
			return err
		}
		if done != nil {
			saved, lastSave = *done, time.Now()
		}
		f.setPositions(cursor, saved)
	}
	return nil
}

// verifyEvery is how often an idle feed checks it is not ahead of the
// stream: one extra read a minute.
const verifyEvery = time.Minute

// ahead reports whether pos is past the stream's newest record.
func (f *Feed) ahead(ctx context.Context, pos EventID) (bool, error) {
	page, err := f.stream.Read(ctx, nil, true, 1)
	if err != nil {
		return false, err
	}
	if len(page.Records) == 0 {
		return true, nil // a position in an empty stream
	}
	last := page.Records[len(page.Records)-1].EventID
	return pos.CommitNum > last.CommitNum || pos.CommitNum == last.CommitNum && pos.OpNum > last.OpNum, nil
}

func (f *Feed) setPositions(cursor *EventID, saved EventID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cursor != nil {
		f.st.Position = cursor.String()
	}
	if saved.CommitNum > 0 {
		f.st.Checkpoint = saved.String()
	}
}

// process maps whole transactions to events, publishes them and saves the
// position after them; it returns the position saved, if it saved one.
func (f *Feed) process(ctx context.Context, recs []Record, readStart, readEnd time.Time, saveAnyway bool) (*EventID, error) {
	first, last := recs[0].EventID, recs[len(recs)-1].EventID
	ctx, span := f.tracer.Start(ctx, "graphfleet.changes", trace.WithTimestamp(readStart), trace.WithAttributes(
		attribute.String("graphfleet.changes.from", first.String()), attribute.String("graphfleet.changes.to", last.String()),
		attribute.Int("graphfleet.records", len(recs))))
	defer span.End()
	_, read := f.tracer.Start(ctx, "neptune.stream_read", trace.WithSpanKind(trace.SpanKindClient), trace.WithTimestamp(readStart),
		trace.WithAttributes(attribute.String("db.system.name", "aws.neptune"), attribute.String("db.operation.name", "GetPropertygraphStream"),
			attribute.String("server.address", f.cfg.Cluster), attribute.Int("graphfleet.records", len(recs))))
	read.End(trace.WithTimestamp(readEnd))

	events, noise := Events(recs)
	if err := f.resolveEnds(ctx, events); err != nil {
		return nil, err
	}
	res, err := f.publish(ctx, events)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return nil, err
	}
	own := true // only this feed's own checkpoint writes went by
	for _, r := range recs {
		if r.Data.ID != neptune.CheckpointID(f.cfg.Name) {
			own = false
			break
		}
	}
	var saved *EventID
	if !own && (len(events) > 0 || saveAnyway) {
		if err := f.retry(ctx, "save checkpoint", func() error { return f.store.SaveCheckpoint(ctx, f.cfg.Name, last.CommitNum, last.OpNum) }); err != nil {
			return nil, err
		}
		saved = &last
	}
	f.m.records.Add(ctx, int64(len(recs)-noise), metric.WithAttributes(attribute.String("kind", "event")))
	f.m.records.Add(ctx, int64(noise), metric.WithAttributes(attribute.String("kind", "noise")))
	f.mu.Lock()
	f.st.Records += int64(len(recs))
	f.st.Noise += int64(noise)
	f.st.Dropped += int64(len(res.Dropped))
	for _, e := range events {
		f.st.Events[e.Type]++
	}
	for _, e := range res.Dropped {
		f.st.Events[e.Type]--
	}
	f.lastTS = recs[len(recs)-1].CommitTimestamp
	f.st.LastProgress = time.Now()
	f.mu.Unlock()
	span.SetAttributes(attribute.Int("graphfleet.events", len(events)), attribute.Int("graphfleet.noise", noise))
	if len(events) > 0 {
		f.log.DebugContext(ctx, "change feed: events published", "events", len(events), "noise", noise, "from", first.String(), "to", last.String())
	}
	return saved, nil
}

// resolveEnds fills the label and ends of dependency events made from a
// property change; an edge gone since keeps its id only.
func (f *Feed) resolveEnds(ctx context.Context, events []Event) error {
	var ids []string
	for _, e := range events {
		if e.needsEnds {
			ids = append(ids, e.Element)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	var ends map[string]neptune.EdgeEnds
	if err := f.retry(ctx, "read edge ends", func() (err error) {
		ends, err = f.store.EdgeEnds(ctx, ids)
		return err
	}); err != nil {
		return err
	}
	for i := range events {
		if e, ok := ends[events[i].Element]; ok && events[i].needsEnds {
			events[i].Label, events[i].From, events[i].To = e.Label, e.From, e.To
		}
	}
	return nil
}

// publish puts the events on the bus in a PRODUCER span.
func (f *Feed) publish(ctx context.Context, events []Event) (PublishResult, error) {
	if len(events) == 0 {
		return PublishResult{}, nil
	}
	ctx, span := f.tracer.Start(ctx, "publish "+f.pub.Bus, trace.WithSpanKind(trace.SpanKindProducer), trace.WithAttributes(
		attribute.String("messaging.system", "aws_eventbridge"), attribute.String("messaging.operation.type", "send"),
		attribute.String("messaging.destination.name", f.pub.Bus), attribute.Int("messaging.batch.message_count", len(events))))
	defer span.End()
	res, err := f.pub.Publish(ctx, events)
	span.SetAttributes(attribute.Int("graphfleet.eventbridge.calls", res.Calls), attribute.Int("graphfleet.retries", res.Retries),
		attribute.Int("graphfleet.events.dropped", len(res.Dropped)))
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
		return res, err
	}
	dropped := map[EventID]bool{}
	for _, e := range res.Dropped {
		dropped[e.Position] = true
		f.m.events.Add(ctx, 1, metric.WithAttributes(attribute.String("type", e.Type), attribute.String("outcome", "dropped")))
	}
	for _, e := range events {
		if !dropped[e.Position] {
			f.m.events.Add(ctx, 1, metric.WithAttributes(attribute.String("type", e.Type), attribute.String("outcome", "published")))
		}
	}
	if len(res.Dropped) > 0 {
		span.SetStatus(codes.Error, fmt.Sprintf("%d events refused by EventBridge", len(res.Dropped)))
	}
	return res, nil
}
