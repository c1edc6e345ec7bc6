// Package neptune is graphfleet's Neptune writer: it turns an edge batch into a
// few large, id-keyed upsert requests (mergeV/mergeE, about 200 records and
// far fewer than 1,500 steps each, vertices before edges) and sends them over
// a long-lived gremlin-go WebSocket pool, signed with IAM SigV4 when asked,
// retrying Neptune's transient failures with jittered exponential backoff.
//
// Every request is one Neptune transaction and every upsert is keyed by a
// deterministic id, so a request can be repeated any number of times: that is
// what makes retries after an ambiguous failure (a dropped connection) safe.
//
// Failures are classified by the code of Neptune's error document (Classify,
// Fault): only a closed list of codes blames the batch's content. The pool is
// opened on first use, not by New, so a worker started during an outage
// starts; it is rebuilt after ReadOnlyViolationException (a failover) or
// after RebuildAfter requests in a row got no answer.
package neptune

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sourcegraph/conc/pool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/backoff"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Config configures a Writer. Zero fields take the documented defaults.
type Config struct {
	// Endpoint is the Gremlin WebSocket URL: wss://cluster:8182/gremlin for
	// Neptune, ws://127.0.0.1:8182/gremlin for the local stand-in.
	Endpoint string
	// IAMAuth signs every WebSocket handshake with SigV4 (service neptune-db),
	// re-signed per connection so rotating credentials are picked up.
	IAMAuth bool
	// Credentials provide the keys for IAMAuth; Region scopes the signature.
	Credentials aws.CredentialsProvider
	Region      string
	// Writers is how many requests may be in flight to Neptune at once,
	// across all batches, at start; 8 when zero. Neptune runs about 2 x vCPU
	// queries at once on the writer; more only queue there. The limit then
	// adapts between MinWriters and MaxWriters (see limit.go).
	Writers int
	// MinWriters and MaxWriters bound the adaptive limit; 1 and 4 x Writers
	// when zero. MinWriters = MaxWriters = Writers is a fixed limit.
	MinWriters, MaxWriters int
	// RecordsPerRequest is the budget of records (labels and properties) per
	// request; 200 when zero, Neptune's guidance for upserts.
	RecordsPerRequest int
	// MaxAttempts bounds tries per request (first try included); 6 when zero.
	// After that the batch fails and its message goes back to the queue,
	// whose redrive policy decides when to give up.
	MaxAttempts int
	// BaseBackoff and MaxBackoff shape the jittered exponential backoff
	// between tries; 50ms and 2s when zero.
	BaseBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one request, waiting for a connection included;
	// 30s when zero. gremlin-go has no timeout of its own.
	RequestTimeout time.Duration
	// RebuildAfter is how many requests in a row may get no answer
	// (connection refused or lost, timeout) before the connection pool is
	// rebuilt; 3 when zero. A ReadOnlyViolationException rebuilds it at once.
	RebuildAfter int
	// DriverLogInterval is the least time between two log lines of one kind
	// from gremlin-go, the ones in between being counted, not written; 10s
	// when zero. During an outage the driver logs a warning per failed dial,
	// tens of thousands a minute.
	DriverLogInterval time.Duration
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
}

// MaxSteps is Neptune's limit on steps in one request.
const MaxSteps = 1500

// MaxRecordsPerRequest bounds NEPTUNE_RECORDS_PER_REQUEST: each record is
// about one step of the request, and each element adds a few more.
const MaxRecordsPerRequest = 1000

func (c *Config) setDefaults() {
	if c.Writers <= 0 {
		c.Writers = 8
	}
	if c.MinWriters <= 0 {
		c.MinWriters = 1
	}
	if c.MaxWriters <= 0 {
		c.MaxWriters = 4 * c.Writers
	}
	if c.RecordsPerRequest <= 0 {
		c.RecordsPerRequest = 200
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 6
	}
	if c.BaseBackoff <= 0 {
		c.BaseBackoff = 50 * time.Millisecond
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 2 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 30 * time.Second
	}
	if c.RebuildAfter <= 0 {
		c.RebuildAfter = 3
	}
	if c.DriverLogInterval <= 0 {
		c.DriverLogInterval = 10 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// ErrConfig is wrapped by configuration errors: retrying cannot fix them.
var ErrConfig = errors.New("invalid Neptune writer configuration")

// Validate reports every problem with the configuration at once.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.Endpoint)
	switch {
	case c.Endpoint == "":
		errs = append(errs, errors.New("neptune endpoint is empty (NEPTUNE_ENDPOINT, e.g. wss://my-cluster:8182/gremlin)"))
	case err != nil:
		errs = append(errs, fmt.Errorf("neptune endpoint: %w", err))
	case u.Scheme != "ws" && u.Scheme != "wss":
		errs = append(errs, fmt.Errorf("neptune endpoint %q: scheme must be ws or wss", redactURL(c.Endpoint)))
	case u.User != nil:
		// Credentials in the URL would end up in the driver's error texts
		// and logs; Neptune authenticates with IAM, not the URL.
		errs = append(errs, errors.New("neptune endpoint must not carry credentials (use IAM auth)"))
	}
	if c.IAMAuth && c.Credentials == nil {
		errs = append(errs, errors.New("IAM auth needs credentials"))
	}
	if c.IAMAuth && c.Region == "" {
		errs = append(errs, errors.New("IAM auth needs a region (AWS_REGION)"))
	}
	// Validate may run before setDefaults (the worker reports every
	// problem before making the writer): zeros are the defaults.
	d := c
	d.setDefaults()
	if d.MinWriters > d.Writers || d.Writers > d.MaxWriters {
		errs = append(errs, fmt.Errorf("writers: want NEPTUNE_WRITERS_MIN (%d) <= NEPTUNE_WRITERS (%d) <= NEPTUNE_WRITERS_MAX (%d)", d.MinWriters, d.Writers, d.MaxWriters))
	}
	if c.RecordsPerRequest > MaxRecordsPerRequest {
		// Each record is about one step, and Neptune's cap is MaxSteps.
		errs = append(errs, fmt.Errorf("records per request %d is too large; at most %d", c.RecordsPerRequest, MaxRecordsPerRequest))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

// Writer writes edge batches to Neptune. It is safe for concurrent use: many
// batches may be written at once, sharing the Writers limit.
type Writer struct {
	cfg      Config
	settings func(*gremlingo.DriverRemoteConnectionSettings)
	signer   *handshakeSigner // nil without IAM
	driver   *driverLogger
	tracer   trace.Tracer

	// limit is the writer's one bound on concurrency, adaptive (limit.go):
	// a request holds a place from before it is sent until Neptune answers
	// it, even if its caller has given up (so the limit bounds what Neptune
	// really has in flight); waiting for one honours the caller's context
	// (the message's deadline counts the wait) and priority (replay waits
	// behind live); and Close waits until nothing is in flight. A conc pool
	// could not enforce it: its bound is fixed when the pool is made and
	// pool.Go waits without a context. Write's per-batch conc pool only fans
	// chunks out and stops them on the first error; the limit bounds them.
	limit     *limiter
	metrics   writerMetrics
	host      string        // server.address on spans
	closing   chan struct{} // closed when Close begins: no new request
	closeOnce sync.Once

	mu      sync.Mutex
	cur     *generation // nil until first use, and after a rebuild
	dialing *dialCall
	// refused is the last dial refused as access denied, and when: requests
	// arriving within refusedHold share it rather than dial again (see pool).
	refused   error
	refusedAt time.Time
	draining  map[*generation]struct{} // retired, waiting for their requests
	closed    bool

	pools    atomic.Int64 // pools opened
	rebuilds atomic.Int64 // pools retired for a failover or failures
}

// ErrClosed is returned by requests made after Close began.
var ErrClosed = errors.New("neptune writer is closed")

// New prepares a writer. It fails only for a configuration error (ErrConfig):
// it does not connect, so a worker restarted during an outage starts, serves
// its health and waits. The connection pool is opened by the first request
// or Probe.
func New(ctx context.Context, cfg Config) (*Writer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Writer{
		cfg:      cfg,
		driver:   newDriverLogger(cfg.Logger, cfg.DriverLogInterval, time.Now),
		tracer:   otel.Tracer("github.com/graphfleet/graphfleet/worker/neptune"),
		limit:    newLimiter(cfg.Writers, cfg.MinWriters, cfg.MaxWriters, time.Now),
		closing:  make(chan struct{}),
		draining: make(map[*generation]struct{}),
	}
	w.metrics = newWriterMetrics(w.limit)
	if u, err := url.Parse(cfg.Endpoint); err == nil {
		w.host = u.Hostname()
	}
	var auth gremlingo.AuthInfoProvider
	if cfg.IAMAuth {
		w.signer = newHandshakeSigner(cfg.Endpoint, cfg.Region, cfg.Credentials, cfg.Logger)
		auth = gremlingo.NewDynamicAuth(w.signer.authInfo)
	}
	w.settings = func(s *gremlingo.DriverRemoteConnectionSettings) {
		s.AuthInfo = auth
		s.Logger = w.driver
		s.LogVerbosity = gremlingo.Warning
		s.ConnectionTimeout = connectTimeout
		// One connection per writer slot at most: each carries requests
		// serially from the pool's point of view, as Neptune's guidance
		// recommends for upserts.
		s.MaximumConcurrentConnections = cfg.MaxWriters
		s.NewConnectionThreshold = 1
	}
	return w, nil
}

// Close stops new requests, waits for the ones in flight (at most
// RequestTimeout: gremlin-go must not be closed under a request it is still
// sending), then closes every connection pool. It is safe to call more than
// once.
func (w *Writer) Close() error { return w.CloseWithin(w.cfg.RequestTimeout) }

// CloseWithin is Close waiting at most d for requests in flight: a stopping
// worker has only what is left of its stop timeout, and a request abandoned
// by a hard stop may never be answered. Every upsert is idempotent, so one
// cut off here is simply written again by whoever takes its message next.
func (w *Writer) CloseWithin(d time.Duration) error {
	w.closeOnce.Do(func() {
		close(w.closing)
		t := time.NewTimer(max(d, 0))
		defer t.Stop()
		select {
		case <-w.limit.idleCh():
		case <-t.C:
			w.cfg.Logger.Warn("closing the Neptune connection with requests still unanswered")
		}
		w.mu.Lock()
		w.closed = true
		if w.metrics.gauges != nil {
			_ = w.metrics.gauges.Unregister()
		}
		pools := make([]*generation, 0, len(w.draining)+1)
		if w.cur != nil {
			pools = append(pools, w.cur)
		}
		for p := range w.draining {
			pools = append(pools, p)
		}
		w.cur = nil
		w.mu.Unlock()
		for _, p := range pools {
			p.retire()
			p.close()
		}
		w.driver.flush()
	})
	return nil
}

// Stats are the writer's connection counters, for health and tests.
type Stats struct {
	Pools    int64 // connection pools opened
	Rebuilds int64 // pools replaced after a failover or repeated failures
	// Unanswered is how many requests in a row got no answer on the
	// current pool.
	Unanswered int64
}

// Limit is the adaptive limit on requests in flight, for /stats.
func (w *Writer) Limit() LimitStatus { return w.limit.status() }

// Stats returns the writer's connection counters.
func (w *Writer) Stats() Stats {
	st := Stats{Pools: w.pools.Load(), Rebuilds: w.rebuilds.Load()}
	w.mu.Lock()
	if w.cur != nil {
		st.Unanswered = w.cur.unanswered.Load()
	}
	w.mu.Unlock()
	return st
}

// probeID is a vertex id no batch can carry (edgebatch ids are "svc:...",
// ARNs, or "<label>:<from>><to>"), so the probe reads nothing real.
const probeID = "graphfleet:probe"

// Probe asks Neptune one cheap question that touches no data (the count of a
// vertex that does not exist): nil when Neptune answers. It opens the pool
// first when there is none, at start or after it was marked broken, so it is
// also how a worker finds Neptune back after an outage. It takes a writer
// slot like any request, and its error classifies like a write's: a refused
// IAM handshake is FaultAccess.
func (w *Writer) Probe(ctx context.Context) error {
	return w.try(ctx, request{name: "neptune.probe"}, 1, func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V(probeID).Count()
	}, nil)
}

// Result tells what writing one batch took.
type Result struct {
	Requests int // requests that succeeded (one per chunk)
	Attempts int // tries, retries included
	Records  int
	Vertices int
	Edges    int
	// StaleVertices and StaleEdges are elements of the batch that a newer
	// observation had already written: left as they were (see stamp.guard).
	StaleVertices int
	StaleEdges    int
}

// Write applies one batch: its vertices, then its edges, each in chunks of
// about RecordsPerRequest records sent in parallel within the Writers limit.
// It returns when every chunk is written, or with the first error once no
// chunk is still running. A batch that fails part-way may be written again in
// full: every upsert is idempotent.
func (w *Writer) Write(ctx context.Context, b *edgebatch.Batch) (Result, error) {
	st := stamp{source: b.Source, observedMs: b.ObservedAt.UnixMilli(), snapshot: b.Snapshot}
	var res Result
	// What was written counts, even if a later request failed.
	defer func() { w.metrics.written(ctx, res.Vertices, res.Edges) }()
	vchunks := chunk(st, b.Vertices, func(v edgebatch.Vertex) map[string]any { return v.Props }, w.cfg.RecordsPerRequest)
	echunks := chunk(st, b.Edges, func(e edgebatch.Edge) map[string]any { return e.Props }, w.cfg.RecordsPerRequest)

	// Vertices first: mergeE refuses an edge whose endpoints do not exist.
	// Each request starts by counting its elements that a newer observation
	// already wrote (the upserts leave those alone, see stamp.guard) and
	// ends by returning that count: Neptune's guidance is to return little,
	// not whole elements.
	if err := runChunks(ctx, w, "vertex", vchunks, &res, func(g *gremlingo.GraphTraversalSource, c []edgebatch.Vertex) *gremlingo.GraphTraversal {
		ids := make([]any, len(c))
		for i, v := range c {
			ids[i] = v.ID
		}
		t := st.countNewer(g.V(ids...))
		for _, v := range c {
			t = st.appendVertex(t, v)
		}
		return t.Select(staleLabel)
	}, func(r *Result, n, stale int) { r.Vertices += n; r.StaleVertices += stale }); err != nil {
		return res, err
	}
	err := runChunks(ctx, w, "edge", echunks, &res, func(g *gremlingo.GraphTraversalSource, c []edgebatch.Edge) *gremlingo.GraphTraversal {
		ids := make([]any, len(c))
		for i, e := range c {
			ids[i] = e.ID
		}
		t := st.countNewer(g.E(ids...))
		for _, e := range c {
			t = st.appendEdge(t, e)
		}
		return t.Select(staleLabel)
	}, func(r *Result, n, stale int) { r.Edges += n; r.StaleEdges += stale })
	return res, err
}

// chunked is one request's worth of elements and its record count.
type chunked[T any] struct {
	items   []T
	records int
	steps   int
}

// chunk cuts elements into requests of at most budget records (an element
// larger than the budget goes alone) and at most MaxSteps steps.
func chunk[T any](st stamp, items []T, props func(T) map[string]any, budget int) []chunked[T] {
	var out []chunked[T]
	var cur chunked[T]
	for _, it := range items {
		r := st.records(props(it))
		s := st.steps(props(it))
		full := cur.records+r > budget || cur.steps+s+requestSteps > MaxSteps
		if len(cur.items) > 0 && full {
			out = append(out, cur)
			cur = chunked[T]{}
		}
		cur.items = append(cur.items, it)
		cur.records += r
		cur.steps += s
	}
	if len(cur.items) > 0 {
		out = append(out, cur)
	}
	return out
}

func runChunks[T any](ctx context.Context, w *Writer, kind string, chunks []chunked[T], res *Result,
	build func(*gremlingo.GraphTraversalSource, []T) *gremlingo.GraphTraversal, count func(r *Result, written, stale int)) error {
	if len(chunks) == 0 {
		return nil
	}
	type done struct {
		attempts, records, n, stale int
	}
	p := pool.NewWithResults[done]().WithErrors().WithContext(ctx).WithCancelOnError().WithFirstError()
	for _, c := range chunks {
		p.Go(func(ctx context.Context) (done, error) {
			var stale atomic.Int64
			attempts, err := w.send(ctx, request{name: "neptune.upsert", kind: kind, elements: len(c.items), records: c.records}, func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
				return build(g, c.items)
			}, func(rs []*gremlingo.Result) { stale.Store(staleCount(rs)) })
			return done{attempts, c.records, len(c.items), int(stale.Load())}, err
		})
	}
	results, err := p.Wait()
	for _, d := range results {
		res.Requests++
		res.Attempts += d.attempts
		res.Records += d.records
		count(res, d.n, d.stale)
	}
	return err
}

// send runs one request with retries. build makes a fresh traversal per try,
// on the pool the try uses: a gremlin-go traversal is spent once submitted.
func (w *Writer) send(ctx context.Context, req request, build func(*gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal, sink func([]*gremlingo.Result)) (int, error) {
	var err error
	for attempt := 1; attempt <= w.cfg.MaxAttempts; attempt++ {
		if attempt > 1 {
			if serr := backoff.Sleep(ctx, backoff.FullJitter(attempt-2, w.cfg.BaseBackoff, w.cfg.MaxBackoff)); serr != nil {
				return attempt - 1, errors.Join(err, serr)
			}
		}
		err = w.try(ctx, req, attempt, build, sink)
		if err == nil {
			return attempt, nil
		}
		if !Retryable(err) || ctx.Err() != nil {
			return attempt, err
		}
		w.metrics.retries.Add(ctx, 1, metric.WithAttributes(attribute.String("db.operation.name", req.operation()), attribute.String("error.type", errorType(err))))
		w.cfg.Logger.DebugContext(ctx, "neptune request failed, will retry", "attempt", attempt, "err", err)
	}
	return w.cfg.MaxAttempts, fmt.Errorf("gave up after %d attempts: %w", w.cfg.MaxAttempts, err)
}

// try sends one request within a writer slot and its own span.
//
// sink, when not nil, receives the request's results when it succeeds. It
// runs on the request's own goroutine, possibly after try gave up waiting.
func (w *Writer) try(ctx context.Context, req request, attempt int,
	build func(*gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal, sink func([]*gremlingo.Result)) (err error) {
	select {
	case <-w.closing:
		return ErrClosed
	default:
	}
	if err := w.limit.acquire(ctx, priorityOf(ctx), w.closing); err != nil {
		if errors.Is(err, ErrClosed) {
			return ErrClosed
		}
		return &RequestError{err: fmt.Errorf("waiting for a writer slot: %w", err), code: "cancelled", fault: FaultNeptune}
	}
	release := w.limit.release

	// A client span per request, on OTel's DB conventions: Neptune has no
	// registered db.system.name, and "aws.neptune" follows AWS's precedents
	// (aws.dynamodb, aws.redshift).
	ctx, span := w.tracer.Start(ctx, req.name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system.name", "aws.neptune"),
			attribute.String("db.operation.name", req.operation()),
			attribute.String("server.address", w.host),
			attribute.Int("graphfleet.records", req.records),
			attribute.Int("graphfleet.vertices", req.count("vertex")),
			attribute.Int("graphfleet.edges", req.count("edge")),
			attribute.Int("graphfleet.attempt", attempt),
		))
	start := time.Now()
	defer func() {
		outcome, fault := "ok", FaultNone
		attrs := []attribute.KeyValue{attribute.String("db.system.name", "aws.neptune"), attribute.String("db.operation.name", req.operation())}
		if err != nil {
			outcome, fault = errorType(err), Classify(err)
			span.RecordError(err)
			span.SetStatus(codes.Error, outcome)
			span.SetAttributes(attribute.String("error.type", outcome))
			attrs = append(attrs, attribute.String("error.type", outcome))
		}
		span.SetAttributes(attribute.String("graphfleet.outcome", outcome), attribute.String("graphfleet.fault", fault.String()))
		span.End()
		w.metrics.duration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(attrs...))
	}()

	reqCtx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	p, err := w.pool(reqCtx)
	if err != nil {
		release()
		return w.connectFailed(ctx, err)
	}
	// The request runs in a goroutine of its own so that a cancelled or
	// timed-out caller need not wait for it. It keeps its writer slot, and
	// its place on its pool, until Neptune answers.
	answered := make(chan error, 1)
	sent := time.Now()
	go func() { answered <- p.run(build, sink) }()
	select {
	case err := <-answered:
		p.leave()
		err = w.answered(p, err)
		// Only upserts time the limit: a probe or a bookkeeping read is
		// much lighter and would skew the baseline.
		w.limit.observe(loadSignal(err), time.Since(sent), req.name == "neptune.upsert")
		release()
		return err
	case <-reqCtx.Done():
		go func() {
			// If the pool is closed under it (retired, and still
			// unanswered after RequestTimeout), gremlin-go never answers:
			// give the slot back then rather than never.
			select {
			case <-answered:
			case <-p.closed:
			}
			p.leave()
			release()
		}()
		if ctx.Err() != nil {
			return &RequestError{err: ctx.Err(), code: "cancelled", fault: FaultNeptune}
		}
		// The request may still complete on the server; every upsert is
		// idempotent, so a retry is safe either way. A pool whose requests
		// keep going unanswered may be pinned to a dead instance.
		w.unanswered(p)
		w.limit.observe(signalTimeout, 0, false)
		return &RequestError{err: fmt.Errorf("no answer within %s: %w", w.cfg.RequestTimeout, reqCtx.Err()),
			code: "timeout", fault: FaultNeptune, retry: true}
	}
}

// answered turns a request's answer into its error, and acts on what the
// answer says about the pool.
func (w *Writer) answered(p *generation, err error) error {
	if err == nil {
		p.unanswered.Store(0)
		return nil
	}
	c := classifyDriverError(err)
	switch {
	case c.rebuild:
		w.retire(p, c.code)
	case c.connection:
		w.unanswered(p)
	default:
		p.unanswered.Store(0) // Neptune answered: the connection works
	}
	return &RequestError{err: err, code: c.code, fault: c.fault, retry: c.retry}
}

// unanswered counts a request that got no answer on p, and rebuilds the pool
// after RebuildAfter in a row.
func (w *Writer) unanswered(p *generation) {
	if p.unanswered.Add(1) >= int64(w.cfg.RebuildAfter) {
		w.retire(p, fmt.Sprintf("%d requests in a row got no answer", w.cfg.RebuildAfter))
	}
}

// connectFailed turns a failure to get a pool into the request's error.
func (w *Writer) connectFailed(ctx context.Context, err error) error {
	var ce *ConnectError
	switch {
	case errors.As(err, &ce):
		f := ce.fault()
		// Access denied is not retried here: the same credentials are
		// refused the same way; the consumer stops intake and alarms.
		return &RequestError{err: err, code: "connect", fault: f, retry: f == FaultNeptune}
	case errors.Is(err, ErrClosed):
		return err
	case ctx.Err() != nil:
		return &RequestError{err: ctx.Err(), code: "cancelled", fault: FaultNeptune}
	}
	return &RequestError{err: fmt.Errorf("no connection within %s: %w", w.cfg.RequestTimeout, err),
		code: "timeout", fault: FaultNeptune, retry: true}
}

// request is what one Neptune request carries, for its span and metrics.
type request struct {
	name     string // the span's name: neptune.upsert, neptune.probe, ...
	kind     string // "vertex" or "edge" for upserts
	elements int
	records  int
}

// operation is db.operation.name: the span name without its prefix.
func (r request) operation() string { return strings.TrimPrefix(r.name, "neptune.") }

func (r request) count(kind string) int {
	if r.kind == kind {
		return r.elements
	}
	return 0
}

// errorType is error.type for a failed request: Neptune's error code (or
// ours: timeout, cancelled, connection), else the Go type.
func errorType(err error) string {
	var re *RequestError
	if errors.As(err, &re) && re.code != "" {
		return re.code
	}
	if errors.Is(err, ErrClosed) {
		return "closed"
	}
	return fmt.Sprintf("%T", err)
}

// loadSignal is what a request's outcome says about Neptune's load.
func loadSignal(err error) signal {
	if err == nil {
		return signalOK
	}
	var re *RequestError
	if errors.As(err, &re) {
		switch re.code {
		case "ThrottlingException":
			return signalThrottle
		case "ConcurrentModificationException":
			return signalConflict
		}
	}
	return signalNone
}

// RequestError is a failed Neptune request, classified.
type RequestError struct {
	err   error
	code  string // Neptune's error code, a gremlin-go code, or connection, connect, timeout, cancelled
	fault Fault
	retry bool
}

func (e *RequestError) Error() string { return "neptune request: " + e.err.Error() }
func (e *RequestError) Unwrap() error { return e.err }

// Code is Neptune's error code for the failure ("ConcurrentModificationException"),
// a gremlin-go error code ("E1201"), or one of "connection" (no answer),
// "connect" (no connection could be opened), "timeout" and "cancelled".
func (e *RequestError) Code() string { return e.code }

// Fault is whose fault the failure is (as Classify).
func (e *RequestError) Fault() Fault { return e.fault }

// Retryable reports whether the writer retries this error itself: the codes
// Neptune's error table marks retryable (concurrent modification, throttling,
// ...), a failover (after rebuilding its connections), and requests that got
// no answer (refused or lost connections, timeouts), after which the request
// may or may not have been applied: retrying an idempotent upsert is right in
// both cases. Content refusals and access denial are not retried.
func Retryable(err error) bool {
	var re *RequestError
	return errors.As(err, &re) && re.retry
}

// redactURL drops anything but scheme, host and path, in case credentials
// were put in the endpoint.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparseable endpoint)"
	}
	return u.Scheme + "://" + u.Host + u.Path
}

// RequestsFor is how many requests Write makes for b when none fails: its
// vertex chunks plus its edge chunks at recordsPerRequest (200 when zero).
func RequestsFor(b *edgebatch.Batch, recordsPerRequest int) int {
	if recordsPerRequest <= 0 {
		recordsPerRequest = 200
	}
	st := stamp{source: b.Source, snapshot: b.Snapshot}
	return len(chunk(st, b.Vertices, func(v edgebatch.Vertex) map[string]any { return v.Props }, recordsPerRequest)) +
		len(chunk(st, b.Edges, func(e edgebatch.Edge) map[string]any { return e.Props }, recordsPerRequest))
}
