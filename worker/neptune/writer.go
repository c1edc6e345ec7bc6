// Package neptune is graphfleet's Neptune writer: it turns an edge batch into a
// few large, id-keyed upsert requests (mergeV/mergeE, about 200 records and
// far fewer than 1,500 steps each, vertices before edges) and sends them over
// a long-lived gremlin-go WebSocket pool, signed with IAM SigV4 when asked,
// retrying Neptune's transient failures with jittered exponential backoff.
//
// Every request is one Neptune transaction and every upsert is keyed by a
// deterministic id, so a request can be repeated any number of times: that is
// what makes retries after an ambiguous failure (a dropped connection) safe.
package neptune

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/sourcegraph/conc/pool"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
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
	// across all batches; 8 when zero. Neptune runs about 2 x vCPU queries at
	// once on the writer; more only queue there.
	Writers int
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
	// RequestTimeout bounds one request, waiting included; 30s when zero.
	// gremlin-go has no timeout of its own.
	RequestTimeout time.Duration
	// Logger; slog.Default() when nil.
	Logger *slog.Logger
	// Now is the clock for first_seen/last_seen; time.Now when nil.
	Now func() time.Time
}

// MaxSteps is Neptune's limit on steps in one request.
const MaxSteps = 1500

func (c *Config) setDefaults() {
	if c.Writers <= 0 {
		c.Writers = 8
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
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
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
		errs = append(errs, fmt.Errorf("neptune endpoint %q: scheme must be ws or wss", c.Endpoint))
	}
	if c.IAMAuth && c.Credentials == nil {
		errs = append(errs, errors.New("IAM auth needs credentials"))
	}
	if c.IAMAuth && c.Region == "" {
		errs = append(errs, errors.New("IAM auth needs a region (AWS_REGION)"))
	}
	if c.RecordsPerRequest > 0 && c.RecordsPerRequest*stepsPerElement > MaxSteps*7 {
		// Each element carries at least 7 records, so this keeps steps under the cap.
		errs = append(errs, fmt.Errorf("records per request %d is too large", c.RecordsPerRequest))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrConfig, errors.Join(errs...))
	}
	return nil
}

// Writer writes edge batches to Neptune. It is safe for concurrent use: many
// batches may be written at once, sharing the Writers limit.
type Writer struct {
	cfg    Config
	conn   *gremlingo.DriverRemoteConnection
	g      *gremlingo.GraphTraversalSource
	slots  chan struct{}
	tracer trace.Tracer

	inflight sync.WaitGroup // requests sent and not yet answered
}

// New connects to Neptune. It fails if the first connection cannot be made,
// so a misconfigured endpoint is found at start, not at the first message.
func New(ctx context.Context, cfg Config) (*Writer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	var auth gremlingo.AuthInfoProvider
	if cfg.IAMAuth {
		signer := newHandshakeSigner(cfg.Endpoint, cfg.Region, cfg.Credentials, cfg.Logger)
		auth = gremlingo.NewDynamicAuth(signer.authInfo)
	}
	conn, err := gremlingo.NewDriverRemoteConnection(cfg.Endpoint, func(s *gremlingo.DriverRemoteConnectionSettings) {
		s.AuthInfo = auth
		s.Logger = slogLogger{cfg.Logger}
		s.LogVerbosity = gremlingo.Warning
		s.ConnectionTimeout = 10 * time.Second
		// One connection per writer slot at most: each carries requests
		// serially from the pool's point of view, as Neptune's guidance
		// recommends for upserts.
		s.MaximumConcurrentConnections = cfg.Writers
		s.NewConnectionThreshold = 1
	})
	if err != nil {
		return nil, fmt.Errorf("cannot connect to Neptune at %s: %w", redactURL(cfg.Endpoint), err)
	}
	return &Writer{
		cfg:    cfg,
		conn:   conn,
		g:      gremlingo.Traversal_().WithRemote(conn),
		slots:  make(chan struct{}, cfg.Writers),
		tracer: otel.Tracer("github.com/graphfleet/graphfleet/worker/neptune"),
	}, nil
}

// Close waits for requests still in flight (at most RequestTimeout: gremlin-go
// must not be closed under a request it is still sending), then closes the
// connection pool.
func (w *Writer) Close() error {
	done := make(chan struct{})
	go func() { w.inflight.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(w.cfg.RequestTimeout):
		w.cfg.Logger.Warn("closing the Neptune connection with requests still unanswered")
	}
	w.conn.Close()
	return nil
}

// Result tells what writing one batch took.
type Result struct {
	Requests int // requests that succeeded (one per chunk)
	Attempts int // tries, retries included
	Records  int
	Vertices int
	Edges    int
}

// Write applies one batch: its vertices, then its edges, each in chunks of
// about RecordsPerRequest records sent in parallel within the Writers limit.
// It returns when every chunk is written, or with the first error once no
// chunk is still running. A batch that fails part-way may be written again in
// full: every upsert is idempotent.
func (w *Writer) Write(ctx context.Context, b *edgebatch.Batch) (Result, error) {
	st := stamp{source: b.Source, nowMs: w.cfg.Now().UnixMilli(), snapshot: b.Snapshot}
	var res Result
	vchunks := chunk(st, b.Vertices, func(v edgebatch.Vertex) map[string]any { return v.Props }, w.cfg.RecordsPerRequest)
	echunks := chunk(st, b.Edges, func(e edgebatch.Edge) map[string]any { return e.Props }, w.cfg.RecordsPerRequest)

	// Vertices first: mergeE refuses an edge whose endpoints do not exist.
	if err := runChunks(ctx, w, vchunks, &res, func(c []edgebatch.Vertex) *gremlingo.GraphTraversal {
		var t *gremlingo.GraphTraversal
		for _, v := range c {
			t = st.appendVertex(w.g, t, v)
		}
		return t
	}, func(r *Result, n int) { r.Vertices += n }); err != nil {
		return res, err
	}
	err := runChunks(ctx, w, echunks, &res, func(c []edgebatch.Edge) *gremlingo.GraphTraversal {
		var t *gremlingo.GraphTraversal
		for _, e := range c {
			t = st.appendEdge(w.g, t, e)
		}
		return t
	}, func(r *Result, n int) { r.Edges += n })
	return res, err
}

// chunked is one request's worth of elements and its record count.
type chunked[T any] struct {
	items   []T
	records int
}

// chunk cuts elements into requests of at most budget records (an element
// larger than the budget goes alone) and at most MaxSteps steps.
func chunk[T any](st stamp, items []T, props func(T) map[string]any, budget int) []chunked[T] {
	var out []chunked[T]
	var cur chunked[T]
	for _, it := range items {
		r := st.records(props(it))
		full := cur.records+r > budget || (len(cur.items)+1)*stepsPerElement+1 > MaxSteps
		if len(cur.items) > 0 && full {
			out = append(out, cur)
			cur = chunked[T]{}
		}
		cur.items = append(cur.items, it)
		cur.records += r
	}
	if len(cur.items) > 0 {
		out = append(out, cur)
	}
	return out
}

func runChunks[T any](ctx context.Context, w *Writer, chunks []chunked[T], res *Result,
	build func([]T) *gremlingo.GraphTraversal, count func(*Result, int)) error {
	if len(chunks) == 0 {
		return nil
	}
	type done struct {
		attempts, records, n int
	}
	p := pool.NewWithResults[done]().WithErrors().WithContext(ctx).WithCancelOnError().WithFirstError()
	for _, c := range chunks {
		p.Go(func(ctx context.Context) (done, error) {
			attempts, err := w.send(ctx, len(c.items), c.records, func() *gremlingo.GraphTraversal { return build(c.items) })
			return done{attempts, c.records, len(c.items)}, err
		})
	}
	results, err := p.Wait()
	for _, d := range results {
		res.Requests++
		res.Attempts += d.attempts
		res.Records += d.records
		count(res, d.n)
	}
	return err
}

// send runs one request with retries. build makes a fresh traversal per try:
// a gremlin-go traversal is spent once submitted.
func (w *Writer) send(ctx context.Context, elements, records int, build func() *gremlingo.GraphTraversal) (int, error) {
	var err error
	for attempt := 1; attempt <= w.cfg.MaxAttempts; attempt++ {
		if attempt > 1 {
			if serr := backoff.Sleep(ctx, backoff.FullJitter(attempt-2, w.cfg.BaseBackoff, w.cfg.MaxBackoff)); serr != nil {
				return attempt - 1, errors.Join(err, serr)
			}
		}
		err = w.try(ctx, attempt, elements, records, build)
		if err == nil {
			return attempt, nil
		}
		if !Retryable(err) || ctx.Err() != nil {
			return attempt, err
		}
		w.cfg.Logger.DebugContext(ctx, "neptune request failed, will retry", "attempt", attempt, "err", err)
	}
	return w.cfg.MaxAttempts, fmt.Errorf("gave up after %d attempts: %w", w.cfg.MaxAttempts, err)
}

// try sends one request within a writer slot and its own span.
func (w *Writer) try(ctx context.Context, attempt, elements, records int, build func() *gremlingo.GraphTraversal) (err error) {
	select {
	case w.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}

	ctx, span := w.tracer.Start(ctx, "neptune.upsert", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("db.system", "neptune"),
			attribute.Int("graphfleet.records", records),
			attribute.Int("graphfleet.elements", elements),
			attribute.Int("graphfleet.attempt", attempt),
		))
	defer func() {
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, errorClass(err))
		}
		span.SetAttributes(attribute.String("graphfleet.outcome", errorClass(err)))
		span.End()
	}()

	ctx, cancel := context.WithTimeout(ctx, w.cfg.RequestTimeout)
	defer cancel()
	done := make(chan error, 1)
	// The request runs in a goroutine of its own so that a cancelled or
	// timed-out caller need not wait for it. It keeps its writer slot until
	// Neptune answers, so the Writers limit bounds what Neptune really has
	// in flight, and Close waits for it.
	w.inflight.Add(1)
	go func() {
		defer w.inflight.Done()
		defer func() { <-w.slots }()
		// gremlin-go v3.7.4 can panic ("send on closed channel") when a
		// request is written to a connection that has just failed: the pool
		// still sees it as established while its transport is closed. That
		// is a lost connection like any other, so it becomes a retryable
		// error here instead of taking the worker down.
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("%s: gremlin-go panicked writing to a failed connection: %v", connectionLost, r)
			}
		}()
		// End with id(): Neptune's guidance, so whole elements are not
		// serialised back. The chain of upserts yields one traverser.
		_, err := build().Id().ToList()
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			return &RequestError{err: err}
		}
		return nil
	case <-ctx.Done():
		// The request may still complete on the server; every upsert is
		// idempotent, so a retry is safe either way.
		return &RequestError{err: fmt.Errorf("no answer within %s: %w", w.cfg.RequestTimeout, ctx.Err()), timeout: true}
	}
}

// RequestError is a failed Neptune request.
type RequestError struct {
	err     error
	timeout bool
}

func (e *RequestError) Error() string { return "neptune request: " + e.err.Error() }
func (e *RequestError) Unwrap() error { return e.err }

// Retryable reports whether a request error is one Neptune tells clients to
// retry (concurrent modification, throttling, overload) or a lost connection,
// after which the request may or may not have been applied: retrying an
// idempotent upsert is right in both cases. Malformed queries, constraint
// violations and the like are not retried.
func Retryable(err error) bool {
	var re *RequestError
	if !errors.As(err, &re) {
		return false
	}
	if re.timeout {
		return true
	}
	switch errorClass(err) {
	case "concurrent_modification", "throttled", "connection", "server_unavailable":
		return true
	}
	return false
}

// errorClass names an outcome for spans, metrics and retry decisions.
// gremlin-go gives errors as text: Neptune's error document travels in the
// status message, and connection failures surface as read-loop or dial errors.
func errorClass(err error) string {
	if err == nil {
		return "ok"
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "ConcurrentModificationException"):
		return "concurrent_modification"
	case strings.Contains(s, "ThrottlingException"), strings.Contains(s, "TooManyRequests"),
		strings.Contains(s, "MemoryLimitExceededException"):
		return "throttled"
	case strings.Contains(s, "ReadOnlyViolationException"), strings.Contains(s, "InternalFailureException"),
		strings.Contains(s, "TimeLimitExceededException"):
		return "server_unavailable"
	case strings.Contains(s, "\"code\""):
		return "refused" // any other Neptune error document: the query itself is wrong
	case isConnectionError(s):
		return "connection"
	}
	return "other"
}

// connectionLost marks errors the writer itself raises for a lost connection.
const connectionLost = "connection lost"

func isConnectionError(s string) bool {
	for _, marker := range []string{
		connectionLost,
		"connection refused", "connection reset", "broken pipe", "EOF", "use of closed network connection",
		"websocket", "E0101", "E0102", "E0104", "E0105", "E0501", "bad handshake", "i/o timeout",
		"no answer within",
	} {
		if strings.Contains(s, marker) {
			return true
		}
	}
	return false
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
