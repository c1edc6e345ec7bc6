// Package neptunelocal is graphfleet's local stand-in for Amazon Neptune: an
// in-memory Gremlin server that speaks what gremlin-go v3.7.4 speaks (WebSocket,
// GraphBinary v1, the bytecode op) and executes traversals with Neptune's
// semantics where they differ from TinkerGraph (string ids, `set` as the default
// cardinality, at most 1,500 steps a request, one transaction a request).
//
// It exists because no Gremlin Server or Neptune can run on the machines where
// graphfleet is developed and tested. It is a test and development tool, never a
// production store: nothing is persisted.
//
// Beyond the protocol it can misbehave on purpose, as Neptune does under load or
// failover: latency per request, ConcurrentModificationException and
// ThrottlingException on a fraction of requests, any other Neptune error code on
// a fraction of writes, dropped connections, refused handshakes, a demoted
// writer (connections open at a failover answer writes with
// ReadOnlyViolationException until they are closed), and a full outage (the
// listener closes and later comes back on the same address). With credentials it
// checks the SigV4 signature of the WebSocket handshake as Neptune's IAM
// authentication does.
//
// Endpoints on the one listener:
//
//	/gremlin   the WebSocket Gremlin endpoint
//	/status    Neptune-like health: {"status":"healthy"}
//	/graph     the whole graph as JSON (vertices, edges, properties)
//	/stats     counters: connections, requests, records and steps received, errors
//	/faults    GET the fault settings; PUT a JSON Faults to change them
package neptunelocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graph"
)

// Options configure a Server. The zero value serves plain (no IAM) on a free
// loopback port with no faults.
type Options struct {
	// Addr is the address to listen on; "127.0.0.1:0" (a free port) when empty.
	Addr string
	// Credentials, when set, turn on IAM authentication: every WebSocket
	// handshake must carry a valid SigV4 signature (service neptune-db) made
	// with them. Without credentials every handshake is accepted.
	Credentials *Credentials
	// Region is the region signatures must be scoped to; "us-east-1" when empty.
	Region string
	// Workers is how many requests execute at once, as Neptune runs about
	// 2 x vCPU queries at a time; 2 x GOMAXPROCS when zero. Latency faults hold
	// a worker, so they limit throughput the way a slow Neptune does.
	Workers int
	// QueueCapacity is how many requests may wait for a worker before new ones
	// are refused with ThrottlingException; 8,192 (Neptune's figure) when zero.
	QueueCapacity int
	// ResultBatchSize is how many results one response message carries before
	// the rest follows in further parts (206 then 200); 64 when zero, as
	// Gremlin Server's resultIterationBatchSize.
	ResultBatchSize int
	// MaxMessageBytes bounds one incoming WebSocket message; 64 MiB when zero.
	MaxMessageBytes int64
	// StreamRecords turns Neptune Streams on (the neptune_streams cluster
	// parameter) and keeps the newest this many change records; older
	// positions answer ExpiredStreamException, as records past Neptune's
	// retention do. Zero leaves streams off: the stream endpoint answers
	// UnsupportedOperationException, as a cluster without streams does.
	StreamRecords int
	// Faults to start with.
	Faults Faults
	// Logger receives one line per refused handshake and per injected fault
	// at debug level; slog.Default() when nil.
	Logger *slog.Logger
}

// Server is a running stand-in. Its methods are safe for concurrent use.
type Server struct {
	opts   Options
	graph  *graph.Graph
	log    *slog.Logger
	auth   *verifier
	http   *http.Server
	up     websocket.Upgrader
	queue  chan struct{} // worker slots
	waited atomic.Int64  // requests waiting for a worker

	mu       sync.Mutex
	addr     string
	ln       net.Listener
	down     bool
	faults   Faults
	conns    map[*conn]struct{}
	serveErr chan error

	stats counters
}

// Start listens and serves until Close. It returns once the listener is open,
// so the URL is usable at once.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	if opts.Workers <= 0 {
		opts.Workers = 2 * runtime.GOMAXPROCS(0)
	}
	if opts.QueueCapacity <= 0 {
		opts.QueueCapacity = 8192
	}
	if opts.ResultBatchSize <= 0 {
		opts.ResultBatchSize = 64
	}
	if opts.MaxMessageBytes <= 0 {
		opts.MaxMessageBytes = 64 << 20
	}
	if err := opts.Faults.validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Server{
		opts:   opts,
		graph:  graph.New(),
		log:    opts.Logger,
		queue:  make(chan struct{}, opts.Workers),
		faults: opts.Faults,
		conns:  make(map[*conn]struct{}),
	}
	if opts.StreamRecords > 0 {
		s.graph.EnableStream(opts.StreamRecords)
	}
	if opts.Credentials != nil {
		s.auth = &verifier{creds: *opts.Credentials, region: opts.Region, now: time.Now}
	}
	// The driver sends 1 MiB frames by default; match its buffers.
	s.up = websocket.Upgrader{ReadBufferSize: 1 << 16, WriteBufferSize: 1 << 16}
	mux := http.NewServeMux()
	mux.HandleFunc("/gremlin", s.serveGremlin)
	mux.HandleFunc("/status", s.serveStatus)
	mux.HandleFunc("/graph", s.serveGraph)
	mux.HandleFunc("/stats", s.serveStats)
	mux.HandleFunc("/faults", s.serveFaults)
	// Neptune serves the property-graph stream on both paths.
	mux.HandleFunc("/propertygraph/stream", s.serveStream)
	mux.HandleFunc("/pg/stream", s.serveStream)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	if err := s.listen(opts.Addr); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Server) listen(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("neptunelocal: cannot listen on %s: %w", addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.addr = ln.Addr().String()
	done := make(chan error, 1)
	s.serveErr = done
	s.mu.Unlock()
	go func() { done <- s.http.Serve(ln) }()
	return nil
}

// Addr is the host:port the server listens on.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// URL is the Gremlin endpoint, ws://host:port/gremlin.
func (s *Server) URL() string { return "ws://" + s.Addr() + "/gremlin" }

// Graph is the graph the server executes against, for tests that inspect it.
func (s *Server) Graph() *graph.Graph { return s.graph }

// Close stops listening and closes every connection.
func (s *Server) Close() error {
	s.dropAll()
	return s.http.Close()
}

// SetDown takes the server down (true): the listener closes, so new
// connections are refused at the TCP level, and every open connection is
// dropped, as in a Neptune failover. SetDown(false) listens again on the same
// address. The graph survives an outage.
func (s *Server) SetDown(down bool) error {
	s.mu.Lock()
	if s.down == down {
		s.mu.Unlock()
		return nil
	}
	s.down = down
	ln, addr := s.ln, s.addr
	s.mu.Unlock()
	if down {
		err := ln.Close()
		s.dropAll()
		return err
	}
	return s.listen(addr)
}

// DropConnections closes every open WebSocket connection at the TCP level,
// without a close frame, and returns how many it closed.
func (s *Server) DropConnections() int { return s.dropAll() }

func (s *Server) dropAll() int {
	s.mu.Lock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	s.mu.Unlock()
	for _, c := range cs {
		c.drop()
	}
	return len(cs)
}

// Demote makes the server behave, for every connection open at this moment,
// like a writer that a failover has just demoted to a reader: each of those
// connections answers every write with Neptune's ReadOnlyViolationException
// (reads still succeed) until it is closed. Connections opened afterwards
// reach "the new writer" and work normally. This is why Neptune tells clients
// to rebuild their connections after a failover: DNS has moved, but an open
// connection stays pinned to the old instance. It returns how many
// connections it demoted.
func (s *Server) Demote() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.conns {
		if c.demoted.CompareAndSwap(false, true) {
			n++
		}
	}
	s.stats.demoted.Add(int64(n))
	s.stats.demotedOpen.Add(int64(n))
	s.log.Debug("neptunelocal: demoted open connections", "connections", n)
	return n
}

// SetFaults replaces the fault settings; they apply to the next request.
// f.Demote is carried out (Demote) rather than kept.
func (s *Server) SetFaults(f Faults) error {
	if err := f.validate(); err != nil {
		return err
	}
	demote := f.Demote
	f.Demote = false
	s.mu.Lock()
	s.faults = f
	s.mu.Unlock()
	if demote {
		s.Demote()
	}
	return nil
}

// Faults returns the fault settings in force.
func (s *Server) Faults() Faults {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.faults
}

func (s *Server) serveStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, map[string]string{"status": "healthy", "role": "writer", "dbEngineVersion": "neptunelocal"})
}

func (s *Server) serveGraph(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.graph.Dump())
}

func (s *Server) serveStats(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.Stats())
}

func (s *Server) serveFaults(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut, http.MethodPost:
		var f Faults
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f); err != nil {
			http.Error(w, "faults: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := s.SetFaults(f); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	default:
		w.Header().Set("Allow", "GET, PUT")
		http.Error(w, "use GET or PUT", http.StatusMethodNotAllowed)
		return
	}
	writeJSON(w, s.Faults())
}

// refuseHandshake answers a WebSocket handshake with an HTTP error carrying
// Neptune's JSON error document, as Neptune's HTTP errors do. gremlin-go
// reports only "bad handshake"; a client that wants the status (403: access
// denied, 429: too many connections) reads it from a handshake of its own.
func refuseHandshake(w http.ResponseWriter, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(errorDocument(uuid.NewString(), code, detail))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// serveGremlin authenticates and upgrades one connection, then reads requests
// from it until it closes.
func (s *Server) serveGremlin(w http.ResponseWriter, r *http.Request) {
	f := s.Faults()
	if f.RefuseConnections {
		s.stats.refusedConns.Add(1)
		// Neptune answers 429 once an instance is at its connection limit.
		refuseHandshake(w, http.StatusTooManyRequests, "TooManyRequestsException", "Too many connections")
		return
	}
	if s.auth != nil {
		if err := s.auth.verify(r); err != nil {
			s.stats.authFailures.Add(1)
			s.log.Debug("neptunelocal: refused handshake", "remote", r.RemoteAddr, "reason", err.Error())
			// Neptune answers a bad or missing signature with 403 before the upgrade.
			refuseHandshake(w, http.StatusForbidden, "AccessDeniedException", err.Error())
			return
		}
	}
	ws, err := s.up.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	ws.SetReadLimit(s.opts.MaxMessageBytes)
	c := newConn(s, ws)
	s.mu.Lock()
	if s.down {
		s.mu.Unlock()
		_ = ws.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.stats.connsTotal.Add(1)
	s.stats.connsOpen.Add(1)
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		if c.demoted.Load() {
			// Under the lock, so that Demote cannot count it after this.
			s.stats.demotedOpen.Add(-1)
		}
		s.mu.Unlock()
		s.stats.connsOpen.Add(-1)
		c.drop()
	}()
	c.readLoop()
}

// acquire waits for a worker slot, or refuses at once when more requests than
// QueueCapacity are already waiting, as Neptune does past its queue.
func (s *Server) acquire(ctx context.Context) bool {
	select {
	case s.queue <- struct{}{}:
		return true
	default:
	}
	if s.waited.Add(1) > int64(s.opts.QueueCapacity) {
		s.waited.Add(-1)
		return false
	}
	defer s.waited.Add(-1)
	select {
	case s.queue <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (s *Server) release() { <-s.queue }

// delay returns the latency to inject into one request.
func (f Faults) delay() time.Duration {
	d := f.Latency
	if f.LatencyJitter > 0 {
		d += rand.N(f.LatencyJitter)
	}
	return d
}

// errServerDown is returned to requests caught by an outage.
var errServerDown = errors.New("neptunelocal: server is down")
