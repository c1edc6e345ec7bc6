package main

// `producer serve`: the push API (DESIGN.md, "The push API"). Other systems
// that discover edges POST one edge batch v1 at a time; the batch is checked
// by the one validator (edgebatch.Decode), encoded by the one codec and sent
// by the one sending path (sqssend, which carries the trace context), as it
// is: one batch, one message, not split or merged.
//
//	POST /v1/batches   202 {"message_id": "..."}; 4xx/5xx {"error": "...", "where": "...", ...}
//	GET  /healthz      200 {"status": "serving", "ingest": {...}}
//
// Order of the checks, cheapest first, so a refused request costs little:
// method (405), token (401), Content-Type and Content-Encoding (415), backlog
// (429), declared length (413), then the body: read within
// SERVE_BODY_TIMEOUT (408), at most 1 MiB as sent and 1 MiB once inflated
// (413), valid (400), fitting the queue (413), sent (503 when SQS does not
// take it).

import (
	"compress/flate"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/queuedepth"
	"github.com/graphfleet/graphfleet/shared/sqssend"
	"github.com/graphfleet/graphfleet/shared/telemetry"
)

const (
	pushPath   = "/v1/batches"
	healthPath = "/healthz"

	// pushBodyBytes is the most a push body may be, as sent and once
	// inflated: SQS's message limit. A batch larger than that could never
	// be one message, so reading more is wasted.
	pushBodyBytes = edgebatch.MaxMessageBytes

	// pushSendTimeout bounds one push's send to SQS, retries included; past
	// it the client gets 503 and may retry (batches are idempotent).
	pushSendTimeout = 10 * time.Second

	// serveHeaderTimeout bounds reading a request's headers: a client that
	// trickles them (slowloris) holds a connection for no more than this.
	serveHeaderTimeout = 5 * time.Second
	// serveIdleTimeout closes keep-alive connections left idle.
	serveIdleTimeout = 60 * time.Second
	// serveMaxHeaderBytes: a bearer token and the usual headers need a few
	// hundred bytes; Go's default (1 MiB) lets a client make the server
	// buffer a megabyte before any check.
	serveMaxHeaderBytes = 32 << 10

	// depthMaxAgeIntervals is how many sampler intervals a depth sample is
	// trusted for. A read or two may fail (throttling) without the gate
	// changing its mind; past that the backlog is unknown.
	depthMaxAgeIntervals = 3
	// maxRetryAfterFactor caps Retry-After at this many sampler intervals
	// (a minute at the default 5 s): a client told to wait longer may as
	// well have been refused for good.
	maxRetryAfterFactor = 12
)

// pushAPI is the push API's handler and what it needs.
type pushAPI struct {
	client   sqssend.SQS
	queueURL string
	// queueMax is the ingest queue's MaximumMessageSize read at start (or
	// assumed, when assumedMax); limit is what an encoded batch may count
	// to fit it with sqssend's attribute reserve (sqssend.MessageLimit).
	queueMax, limit int
	assumedMax      bool

	// tokenHash is the SHA-256 of INGEST_TOKEN. Comparing hashes in constant
	// time compares equal-length values, so neither the token's bytes nor
	// its length leak through timing. auth is false only for
	// SERVE_INSECURE_LOCAL without a token.
	tokenHash [sha256.Size]byte
	auth      bool

	depth       *queuedepth.Sampler
	mark        int64 // BACKLOG_HIGH_WATER; 0: never 429
	bodyTimeout time.Duration
	sendTimeout time.Duration
	senderOpts  []sqssend.Option
	// metrics serves /metrics (Prometheus) when set.
	metrics http.Handler
	log     *slog.Logger

	// depthUnknown is whether the last push found no fresh depth sample, so
	// that the change is logged once, not once per request.
	depthUnknown atomic.Bool
}

// newPushAPI reads the ingest queue's MaximumMessageSize, as the producer
// does for its snapshots (newSnapshotSender): when it cannot be read (most
// often a role without sqs:GetQueueAttributes) it assumes 256 KiB, the size
// every queue takes, and says so; a missing queue is an error. The sampler
// must watch the ingest queue under ingestQueue.
func newPushAPI(ctx context.Context, cfg Config, client queueClient, depth *queuedepth.Sampler, log *slog.Logger, opts ...sqssend.Option) (*pushAPI, error) {
	queueMax, err := sqssend.QueueMaxMessageBytes(ctx, client, cfg.QueueURL)
	assumed := false
	if err != nil {
		if ctx.Err() != nil || sqssend.IsQueueMissing(err) {
			return nil, err
		}
		log.WarnContext(ctx, "cannot read the queue's MaximumMessageSize, so pushes larger than 256 KiB are refused with 413; grant sqs:GetQueueAttributes to use the queue's own limit",
			"queue", cfg.QueueURL, "assumed_bytes", sqssend.LegacyQueueMessageBytes, "err", err)
		queueMax, assumed = sqssend.LegacyQueueMessageBytes, true
	}
	limit, err := sqssend.MessageLimit(queueMax)
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", cfg.QueueURL, err)
	}
	p := &pushAPI{
		client: client, queueURL: cfg.QueueURL, queueMax: queueMax, limit: limit, assumedMax: assumed,
		auth:  cfg.IngestToken != "",
		depth: depth, mark: int64(cfg.BacklogHighWater),
		bodyTimeout: cfg.ServeBodyTimeout, sendTimeout: pushSendTimeout,
		senderOpts: opts, log: log, metrics: cfg.metrics,
	}
	if p.auth {
		p.tokenHash = sha256.Sum256([]byte(cfg.IngestToken))
	}
	return p, nil
}

// handler routes the API's two paths; anything else is a JSON 404.
func (p *pushAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pushPath, measured(pushPath, p.push))
	mux.HandleFunc(healthPath, p.health)
	if p.metrics != nil {
		mux.Handle("/metrics", p.metrics)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &apiError{Status: http.StatusNotFound, Msg: "no such path; the push API is POST " + pushPath, Where: "path"})
	})
	return mux
}

// server is the http.Server for the API, with every timeout set: a client
// that sends slowly, never finishes, or reads the answer slowly holds a
// connection for a bounded time.
func (p *pushAPI) server() *http.Server {
	return &http.Server{
		Handler:           p.handler(),
		ReadHeaderTimeout: serveHeaderTimeout,
		// The push handler sets its own body deadline (SERVE_BODY_TIMEOUT,
		// answered with 408); ReadTimeout is the backstop for the rest, such
		// as a body the server drains after an early refusal.
		ReadTimeout:    serveHeaderTimeout + p.bodyTimeout,
		WriteTimeout:   p.bodyTimeout + p.sendTimeout + serveHeaderTimeout,
		IdleTimeout:    serveIdleTimeout,
		MaxHeaderBytes: serveMaxHeaderBytes,
		ErrorLog:       slog.NewLogLogger(p.log.Handler(), slog.LevelWarn),
	}
}

// apiError is a refusal, as its JSON body says it: what is wrong and where
// (a header, "body", or a path into the batch such as edges[3].from).
type apiError struct {
	Status int    `json:"-"`
	Msg    string `json:"error"`
	Where  string `json:"where"`
	// Problems lists every validation problem (edgebatch.ValidationError),
	// Omitted how many more there were.
	Problems []apiProblem `json:"problems,omitempty"`
	Omitted  int          `json:"omitted,omitempty"`
	// LimitBytes is the limit a 413 refers to.
	LimitBytes int `json:"limit_bytes,omitempty"`
	// For 429: the backlog, the mark, and Retry-After again.
	Backlog           int64 `json:"backlog,omitempty"`
	Mark              int64 `json:"backlog_high_water,omitempty"`
	RetryAfterSeconds int   `json:"retry_after_seconds,omitempty"`

	header http.Header // extra response headers (Allow, WWW-Authenticate)
}

type apiProblem struct {
	Where string `json:"where"`
	Msg   string `json:"error"`
}

func writeError(w http.ResponseWriter, e *apiError) {
	for k, vs := range e.header {
		w.Header()[k] = vs
	}
	if e.RetryAfterSeconds > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfterSeconds))
	}
	writeJSON(w, e.Status, e)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	// Edge ids are full of '>'; HTML escaping would print \u003e, and the
	// answer is JSON with nosniff, never rendered as HTML.
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v) // the client may be gone; nothing to do
}

// push is POST /v1/batches.
func (p *pushAPI) push(w http.ResponseWriter, r *http.Request) {
	// The body deadline starts now, before any check: after an early
	// refusal Go's server still drains up to 256 KiB of the body, and a
	// client trickling that must be cut off as one trickling a batch is.
	// ErrNotSupported (a ResponseWriter without a connection, as in the fuzz
	// test) leaves the server's ReadTimeout as the bound.
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(p.bodyTimeout))
	if e := p.admit(r); e != nil {
		p.refused(r, e)
		writeError(w, e)
		return
	}
	data, e := p.readBody(w, r)
	if e != nil {
		p.refused(r, e)
		writeError(w, e)
		return
	}
	id, e := p.enqueue(r, data)
	if e != nil {
		p.refused(r, e)
		writeError(w, e)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"message_id": id})
}

// refused logs a refusal: at debug for the client's mistakes (a busy client
// can make thousands; the answer tells it what is wrong), at error for ours.
// Never the Authorization header.
func (p *pushAPI) refused(r *http.Request, e *apiError) {
	level := slog.LevelDebug
	if e.Status >= 500 {
		level = slog.LevelError
	}
	p.log.Log(r.Context(), level, "push refused", "status", e.Status, "error", e.Msg, "where", e.Where, "remote", r.RemoteAddr)
}

// admit runs the checks that need no body: method, token, content headers,
// backlog.
func (p *pushAPI) admit(r *http.Request) *apiError {
	if r.Method != http.MethodPost {
		return &apiError{Status: http.StatusMethodNotAllowed, Msg: fmt.Sprintf("method %s is not allowed; send the batch with POST", r.Method),
			Where: "method", header: http.Header{"Allow": {http.MethodPost}}}
	}
	if e := p.authorize(r); e != nil {
		return e
	}
	if e := checkContentType(r.Header); e != nil {
		return e
	}
	if _, e := contentEncoding(r.Header); e != nil {
		return e
	}
	if e := p.checkBacklog(time.Now()); e != nil {
		return e
	}
	if r.ContentLength > pushBodyBytes {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Where: "body", LimitBytes: pushBodyBytes,
			Msg: fmt.Sprintf("body is %d bytes; a batch is at most %d bytes (1 MiB, SQS's message limit): split it into smaller self-contained batches", r.ContentLength, pushBodyBytes)}
	}
	return nil
}

// authorize checks the bearer token (RFC 6750), in constant time.
func (p *pushAPI) authorize(r *http.Request) *apiError {
	if !p.auth {
		return nil
	}
	unauthorized := func(msg, errCode string) *apiError {
		challenge := `Bearer realm="graphfleet"`
		if errCode != "" {
			challenge += `, error="` + errCode + `"`
		}
		return &apiError{Status: http.StatusUnauthorized, Msg: msg, Where: "header Authorization",
			header: http.Header{"Www-Authenticate": {challenge}}}
	}
	values := r.Header.Values("Authorization")
	if len(values) == 0 {
		return unauthorized("missing Authorization header; send Authorization: Bearer <INGEST_TOKEN>", "")
	}
	scheme, token, _ := strings.Cut(values[0], " ")
	if len(values) != 1 || !strings.EqualFold(scheme, "Bearer") {
		return unauthorized("Authorization is not one bearer token; send Authorization: Bearer <INGEST_TOKEN>", "invalid_request")
	}
	given := sha256.Sum256([]byte(strings.TrimLeft(token, " ")))
	if subtle.ConstantTimeCompare(given[:], p.tokenHash[:]) != 1 {
		return unauthorized("the bearer token is not the one this server takes", "invalid_token")
	}
	return nil
}

// checkContentType wants application/json, with at most a UTF-8 charset:
// edge batch v1 is UTF-8 JSON.
func checkContentType(h http.Header) *apiError {
	ct := h.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if ct == "" || err != nil || mt != "application/json" {
		return &apiError{Status: http.StatusUnsupportedMediaType, Where: "header Content-Type",
			Msg: fmt.Sprintf("Content-Type %q is not application/json; send the batch as JSON", trimForMessage(ct))}
	}
	for k, v := range params {
		if k != "charset" || !strings.EqualFold(v, "utf-8") {
			return &apiError{Status: http.StatusUnsupportedMediaType, Where: "header Content-Type",
				Msg: fmt.Sprintf("Content-Type parameter %s=%q is not supported; an edge batch is UTF-8 JSON (charset=utf-8 or nothing)", trimForMessage(k), trimForMessage(v))}
		}
	}
	return nil
}

// contentEncoding reports whether the body is gzip: Content-Encoding absent,
// identity, or gzip (x-gzip, its old name, too), once.
func contentEncoding(h http.Header) (gzipped bool, _ *apiError) {
	var codings []string
	for _, v := range h.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.ToLower(strings.TrimSpace(c)); c != "" && c != "identity" {
				codings = append(codings, c)
			}
		}
	}
	switch {
	case len(codings) == 0:
		return false, nil
	case len(codings) == 1 && (codings[0] == "gzip" || codings[0] == "x-gzip"):
		return true, nil
	}
	return false, &apiError{Status: http.StatusUnsupportedMediaType, Where: "header Content-Encoding",
		Msg: fmt.Sprintf("Content-Encoding %q is not supported; send the body plain or gzip-compressed once", trimForMessage(strings.Join(h.Values("Content-Encoding"), ", ")))}
}

// checkBacklog refuses with 429 while the ingest backlog is above the mark.
//
// With no fresh sample (at start before the first read, or when reads have
// failed for depthMaxAgeIntervals) it accepts: SQS itself still takes the
// message, and refusing every push because sqs:GetQueueAttributes is
// denied or throttled would turn a flow-control aid into an outage. The
// change is logged once each way.
func (p *pushAPI) checkBacklog(now time.Time) *apiError {
	if p.mark <= 0 {
		return nil
	}
	d, _ := p.depth.Depth(ingestQueue)
	if !d.Known(now, p.depthMaxAge()) {
		if !p.depthUnknown.Swap(true) {
			p.log.Warn("the ingest backlog is unknown; pushes are accepted without the BACKLOG_HIGH_WATER check until it is read again",
				"last_read", d.At, "err", d.Err)
		}
		return nil
	}
	if p.depthUnknown.Swap(false) {
		p.log.Info("the ingest backlog is known again; BACKLOG_HIGH_WATER applies", "backlog", d.Backlog())
	}
	backlog := d.Backlog()
	if backlog <= p.mark {
		return nil
	}
	retry := p.retryAfter(backlog)
	return &apiError{Status: http.StatusTooManyRequests, Where: "queue",
		Msg:     fmt.Sprintf("the ingest backlog (%d messages) is above the mark (%d); retry after %d s", backlog, p.mark, retry),
		Backlog: backlog, Mark: p.mark, RetryAfterSeconds: retry}
}

func (p *pushAPI) depthMaxAge() time.Duration { return depthMaxAgeIntervals * p.depth.Interval() }

// retryAfter is how many seconds a client should wait: one sampler interval
// (nothing can change the verdict sooner) times how many marks deep the
// backlog is, so clients back off further the deeper it is, up to
// maxRetryAfterFactor intervals. Clients should add their own jitter.
func (p *pushAPI) retryAfter(backlog int64) int {
	factor := min(max(backlog/p.mark, 1), maxRetryAfterFactor)
	return max(1, int(math.Ceil((time.Duration(factor) * p.depth.Interval()).Seconds())))
}

// readBody reads the body (within the deadline push set), at most pushBodyBytes as
// sent and, for gzip, at most pushBodyBytes once inflated (so a small gzip
// bomb costs no more than a large plain body).
func (p *pushAPI) readBody(w http.ResponseWriter, r *http.Request) ([]byte, *apiError) {
	gzipped, _ := contentEncoding(r.Header) // admit checked it
	body := http.MaxBytesReader(w, r.Body, pushBodyBytes)
	var rd io.Reader = body
	if gzipped {
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, p.bodyError(err, true)
		}
		rd = io.LimitReader(zr, pushBodyBytes+1)
	}
	data, err := io.ReadAll(rd)
	if err != nil {
		return nil, p.bodyError(err, gzipped)
	}
	if len(data) > pushBodyBytes {
		return nil, &apiError{Status: http.StatusRequestEntityTooLarge, Where: "body", LimitBytes: pushBodyBytes,
			Msg: fmt.Sprintf("the gzip body inflates past %d bytes (1 MiB); a batch is at most that once decompressed: split it into smaller self-contained batches", pushBodyBytes)}
	}
	return data, nil
}

// bodyError says why reading the body failed.
func (p *pushAPI) bodyError(err error, gzipped bool) *apiError {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return &apiError{Status: http.StatusRequestEntityTooLarge, Where: "body", LimitBytes: pushBodyBytes,
			Msg: fmt.Sprintf("body is larger than %d bytes (1 MiB, SQS's message limit): split it into smaller self-contained batches", pushBodyBytes)}
	}
	if ne, ok := errors.AsType[net.Error](err); (ok && ne.Timeout()) || errors.Is(err, os.ErrDeadlineExceeded) {
		return &apiError{Status: http.StatusRequestTimeout, Where: "body", header: http.Header{"Connection": {"close"}},
			Msg: fmt.Sprintf("the body did not arrive within %v", p.bodyTimeout)}
	}
	_, corrupt := errors.AsType[flate.CorruptInputError](err)
	if gzipped && (corrupt || errors.Is(err, gzip.ErrHeader) || errors.Is(err, gzip.ErrChecksum) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
		return &apiError{Status: http.StatusBadRequest, Where: "body", Msg: "Content-Encoding is gzip but the body is not valid gzip: " + err.Error()}
	}
	return &apiError{Status: http.StatusBadRequest, Where: "body", Msg: "cannot read the body: " + err.Error()}
}

// enqueue validates data with the one validator, encodes it with the one
// codec and sends it with the one sender, returning SQS's message id.
func (p *pushAPI) enqueue(r *http.Request, data []byte) (string, *apiError) {
	b, err := edgebatch.Decode(string(data), nil)
	if err != nil {
		return "", invalid(err)
	}
	m, err := edgebatch.Encode(b)
	if errors.Is(err, edgebatch.ErrTooLarge) || (err == nil && m.Size() > p.limit) {
		size := "more than the limit"
		if err == nil {
			size = strconv.Itoa(m.Size()) + " bytes"
		}
		assumed := ""
		if p.assumedMax {
			assumed = " (assumed: the queue's own MaximumMessageSize could not be read)"
		}
		return "", &apiError{Status: http.StatusRequestEntityTooLarge, Where: "body", LimitBytes: p.limit,
			Msg: fmt.Sprintf("the encoded batch counts %s; the ingest queue takes at most %d (its MaximumMessageSize %d%s, less %d bytes kept for trace context and a dead-letter reason): split it into smaller self-contained batches",
				size, p.limit, p.queueMax, assumed, edgebatch.AttributeReserve)}
	}
	if err != nil {
		// Decode accepted what Encode refuses: the two disagree, our bug.
		return "", &apiError{Status: http.StatusInternalServerError, Where: "server", Msg: "cannot encode a valid batch: " + err.Error()}
	}

	// The client's trace (traceparent, or X-Amzn-Trace-Id from an
	// X-Ray-instrumented client) is the parent of the request's server span,
	// and that of sqssend's send span, so the worker's span joins the
	// client's trace.
	ctx := telemetry.Propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := tracer.Start(ctx, "POST "+pushPath, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", http.MethodPost), attribute.String("http.route", pushPath),
			attribute.String("graphfleet.source", b.Source), attribute.Int("graphfleet.vertices", len(b.Vertices)), attribute.Int("graphfleet.edges", len(b.Edges))))
	defer span.End()
	// Once started, a send finishes even if the client hangs up: cut short,
	// it would leave the client unsure and the message perhaps sent anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.sendTimeout)
	defer cancel()
	ids := &messageIDs{SQS: p.client}
	sender := sqssend.New(ids, p.queueURL, append([]sqssend.Option{sqssend.WithLogger(p.log)}, p.senderOpts...)...)
	rep, err := sender.Send(ctx, []edgebatch.Message{m})
	id := ids.get()
	if err == nil && (rep.Messages != 1 || id == "") {
		err = errors.New("SQS reported no message id")
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		return "", &apiError{Status: http.StatusServiceUnavailable, Where: "queue", RetryAfterSeconds: max(1, int(p.depth.Interval().Seconds())),
			Msg: "the ingest queue did not take the batch; nothing was enqueued by this request, retry later: " + oneLine(err)}
	}
	p.log.DebugContext(ctx, "push accepted", "message_id", id, "source", b.Source, "vertices", len(b.Vertices), "edges", len(b.Edges), "bytes", m.Size())
	return id, nil
}

// invalid is the 400 for a batch Decode refused: every problem with its path
// when the validator listed them, else Decode's one reason (bad JSON, an
// unknown or repeated field, which it names in the message).
func invalid(err error) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Where: "body"}
	if ve, ok := errors.AsType[*edgebatch.ValidationError](err); ok && len(ve.Problems) > 0 {
		for _, pr := range ve.Problems {
			e.Problems = append(e.Problems, apiProblem{Where: pr.Path, Msg: pr.Msg})
		}
		e.Omitted = ve.Omitted
		n := len(ve.Problems) + ve.Omitted
		e.Where = ve.Problems[0].Path
		e.Msg = fmt.Sprintf("not a valid edge batch v1: %d problem(s); the first: %s: %s", n, ve.Problems[0].Path, ve.Problems[0].Msg)
		return e
	}
	e.Msg = "not a valid edge batch v1: " + strings.TrimPrefix(err.Error(), edgebatch.ErrMalformed.Error()+": ")
	return e
}

// messageIDs is the SQS client of one push: it keeps the message id SQS gave
// the push's single entry, which sqssend's Report does not carry.
type messageIDs struct {
	sqssend.SQS
	mu sync.Mutex
	id string
}

func (m *messageIDs) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, opts ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	out, err := m.SQS.SendMessageBatch(ctx, in, opts...)
	if err == nil && out != nil && len(in.Entries) == 1 {
		for _, s := range out.Successful {
			if aws.ToString(s.Id) == aws.ToString(in.Entries[0].Id) {
				m.mu.Lock()
				m.id = aws.ToString(s.MessageId)
				m.mu.Unlock()
			}
		}
	}
	return out, err
}

func (m *messageIDs) get() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.id
}

// health is GET /healthz: 200 while the server serves. It stays 200 when the
// queue depth cannot be read: pushes are still accepted then (SQS takes
// them), and a health check that failed with SQS would have ECS replace
// every task at once for something a restart cannot fix. The depth and its
// last error are in the body, for people.
func (p *pushAPI) health(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, &apiError{Status: http.StatusMethodNotAllowed, Msg: fmt.Sprintf("method %s is not allowed; use GET", r.Method), Where: "method",
			header: http.Header{"Allow": {"GET, HEAD"}}})
		return
	}
	d, _ := p.depth.Depth(ingestQueue)
	writeJSON(w, http.StatusOK, map[string]any{
		"status": "serving",
		"ingest": map[string]any{
			"backlog": d.Backlog(), "in_flight": d.NotVisible, "read_at": d.At, "error": d.Err,
			"known": d.Known(time.Now(), p.depthMaxAge()), "backlog_high_water": p.mark,
		},
	})
}

// trimForMessage keeps a client's header value short in an error message.
func trimForMessage(s string) string {
	const n = 100
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// runServe is `producer serve`: it listens on SERVE_ADDR and serves until ctx
// ends (SIGTERM, SIGINT).
func runServe(ctx context.Context, cfg Config, client queueClient, log *slog.Logger) error {
	ln, err := net.Listen("tcp", cfg.ServeAddr)
	if err != nil {
		return fmt.Errorf("SERVE_ADDR: %w", err)
	}
	return serveOn(ctx, ln, cfg, client, queuedepth.New(client, 0, log), log)
}

// serveOn serves the push API on ln until ctx ends, then stops: no new
// connections, requests in flight get STOP_TIMEOUT to finish. depth must be
// a new Sampler; serveOn watches the ingest queue with it and runs it. It
// returns nil after a clean stop, an error when the API cannot start or
// requests had to be cut off.
func serveOn(ctx context.Context, ln net.Listener, cfg Config, client queueClient, depth *queuedepth.Sampler, log *slog.Logger, opts ...sqssend.Option) error {
	defer ln.Close()
	api, err := newPushAPI(ctx, cfg, client, depth, log, opts...)
	if err != nil {
		return err
	}
	depth.Watch(ingestQueue, cfg.QueueURL)
	if reg, err := depth.Metrics(); err == nil {
		defer func() { _ = reg.Unregister() }()
	}
	// One read before the first request, so the mark applies from the start;
	// Run reads again at once, which costs one call.
	depth.SampleOnce(ctx)
	sampleCtx, stopSampling := context.WithCancel(context.WithoutCancel(ctx))
	var sampling sync.WaitGroup
	sampling.Go(func() { depth.Run(sampleCtx) })
	defer func() {
		stopSampling()
		sampling.Wait()
	}()

	srv := api.server()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	authMode := "bearer token (INGEST_TOKEN)"
	if !api.auth {
		authMode = "NONE: SERVE_INSECURE_LOCAL, every push is accepted unauthenticated"
		log.Warn("serving WITHOUT authentication (SERVE_INSECURE_LOCAL and no INGEST_TOKEN); never do this where others can reach the address", "addr", ln.Addr().String())
	}
	log.Info("push API serving", "addr", ln.Addr().String(), "path", pushPath, "queue", cfg.QueueURL, "auth", authMode,
		"backlog_high_water", cfg.BacklogHighWater, "queue_max_bytes", api.queueMax, "batch_max_bytes", api.limit, "body_timeout", cfg.ServeBodyTimeout.String())

	select {
	case err := <-served:
		return fmt.Errorf("serving on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	// Shutdown runs OnShutdown functions once it has closed the listeners,
	// so the line is true when it appears: no new connection is accepted.
	closed := make(chan struct{})
	srv.RegisterOnShutdown(func() {
		log.Info("shutting down: no new connections; requests in flight may finish", "stop_timeout", cfg.StopTimeout.String())
		close(closed)
	})
	stopCtx, cancel := context.WithTimeout(context.Background(), cfg.StopTimeout)
	defer cancel()
	err = srv.Shutdown(stopCtx)
	<-closed
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("requests still in flight after STOP_TIMEOUT (%v) were cut off: %w", cfg.StopTimeout, err)
	}
	<-served // http.ErrServerClosed
	log.Info("stopped")
	return nil
}
