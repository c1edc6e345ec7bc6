// Package deepflowlocal is a local stand-in for the DeepFlow querier's SQL API
// (POST /v1/query/, see FACTS-INTEGRATIONS.md "4. DeepFlow querier SQL API"),
// serving application_map rows generated from the PetSite call graph of
// producer/demo, so that the DeepFlow source can be run end to end without a
// DeepFlow deployment.
//
// It speaks the querier's request and response format: form fields db, sql
// and data_precision (or a JSON body {"db","sql"} when both form fields are
// empty); HTTP 200 {"OPT_STATUS":"SUCCESS","DESCRIPTION":"","result":{
// "columns","values","schemas"}} on success; HTTP 400 RESOURCE_NOT_FOUND for
// an unknown database; HTTP 500 {"OPT_STATUS":"FAIL"} for SQL it does not
// understand. It understands only the query shape of producer/deepflow:
//
//	SELECT <tags and aggregates> FROM application_map
//	WHERE time >= A AND time < B GROUP BY <tags> [ORDER BY <cols>] [LIMIT n [OFFSET m]]
//
// and refuses anything else rather than answer it wrongly. Like the querier,
// it caps every result at its row limit (the querier's "limit" setting,
// default 10000): a query without LIMIT, or with a larger one, gets at most
// that many rows, silently.
//
// Not implemented: X-Org-Id (other organisations), the debug and cache
// query-string options, grouping by fewer tags than identify a row, WHERE
// filters other than the time window, and real time series (every window
// B > A holds every call of the topology, with metrics that depend on A).
package deepflowlocal

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRowLimit is the querier's default row limit (its "limit" setting).
const DefaultRowLimit = 10000

// Database is the only database served.
const Database = "flow_metrics"

// Failure is an OPT_STATUS and DESCRIPTION to answer queries with. The HTTP
// status follows the querier's router: RESOURCE_NOT_FOUND, INVALID_POST_DATA,
// RESOURCE_NUM_EXCEEDED and SELECTED_RESOURCES_NUM_EXCEEDED are 400;
// SERVER_ERROR and FAIL are 500; any other status is answered, as the
// querier's router does, with HTTP 200 and no body at all.
type Failure struct {
	Status      string
	Description string
}

// Options configure a Server.
type Options struct {
	// Addr is the address to listen on; "" means 127.0.0.1:0.
	Addr string
	// Scale is how many copies of the PetSite topology are served (in
	// namespaces petsite-0, petsite-1, ... when more than one); 0 means 1.
	Scale int
	// Seed seeds the metrics; the topology is the same for every seed.
	Seed uint64
	// RowLimit caps every result, as the querier's "limit" setting does; 0
	// means DefaultRowLimit.
	RowLimit int
	// FailWith, when set, answers every query with this failure.
	FailWith *Failure
	// Logger logs refused queries; nil means no logging.
	Logger *slog.Logger
}

// Server is a running local querier.
type Server struct {
	opts Options
	ln   net.Listener
	http *http.Server

	queries atomic.Int64

	mu       sync.Mutex
	failWith *Failure
	cacheKey int64
	cache    []callRow
	// sortedKey and sortedRows keep the window's rows in the last ORDER
	// BY's order: a source pages through one window with one order.
	sortedKey  string
	sortedRows []callRow
}

// Start listens on opts.Addr and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Scale <= 0 {
		opts.Scale = 1
	}
	if opts.RowLimit <= 0 {
		opts.RowLimit = DefaultRowLimit
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("deepflowlocal: %w", err)
	}
	s := &Server{opts: opts, ln: ln, failWith: opts.FailWith}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/query/{$}", s.query)
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln) //nolint:errcheck // returns http.ErrServerClosed on Close
	return s, nil
}

// URL is the querier's base URL, e.g. http://127.0.0.1:20416, for
// deepflow.Client.URL.
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Addr is the address listened on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Close stops the server and closes its connections.
func (s *Server) Close() error {
	err := s.http.Close()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// SetFailWith answers every later query with f; nil answers them normally.
func (s *Server) SetFailWith(f *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failWith = f
}

// Queries is how many requests reached POST /v1/query/.
func (s *Server) Queries() int64 { return s.queries.Load() }

// RowLimit is the server's row limit.
func (s *Server) RowLimit() int { return s.opts.RowLimit }

// Rows is how many rows a window starting at start holds: one per call.
func (s *Server) Rows(start int64) int { return len(s.rows(start)) }

// rows are the calls of the window starting at start. Metrics are seeded by
// the window, so every page of one window reads the same data while windows
// differ; the last window's rows are kept, as a source pages through one.
func (s *Server) rows(start int64) []callRow {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cache == nil || s.cacheKey != start {
		s.cache = generate(s.opts.Scale, s.opts.Seed^uint64(start))
		s.cacheKey = start
	}
	return s.cache
}

// sorted is the rows of q's window in q's order.
func (s *Server) sorted(q *query) []callRow {
	rows := s.rows(q.start)
	key := fmt.Sprintf("%d|%s", q.start, q.orderKey())
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sortedKey != key {
		s.sortedRows = q.sort(rows)
		s.sortedKey = key
	}
	return s.sortedRows
}

// request is the JSON body form of a query.
type request struct {
	DB  string `json:"db"`
	SQL string `json:"sql"`
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	s.queries.Add(1)
	s.mu.Lock()
	f := s.failWith
	s.mu.Unlock()
	if f != nil {
		s.fail(w, f.Status, f.Description)
		return
	}
	if err := r.ParseForm(); err != nil {
		s.fail(w, "INVALID_POST_DATA", err.Error())
		return
	}
	req := request{DB: r.PostForm.Get("db"), SQL: r.PostForm.Get("sql")}
	precision := r.PostForm.Get("data_precision")
	if req.DB == "" && req.SQL == "" {
		// The querier reads the body as JSON when both form fields are
		// empty; that path has no data_precision.
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&req); err != nil {
			s.fail(w, "INVALID_POST_DATA", "invalid JSON body: "+err.Error())
			return
		}
		precision = ""
	}
	if req.DB != Database {
		s.fail(w, "RESOURCE_NOT_FOUND", req.DB+" not found")
		return
	}
	if precision != "" && precision != "1m" && precision != "1s" {
		s.fail(w, "FAIL", "data_precision "+precision+" is not supported (1m or 1s)")
		return
	}
	q, err := parse(req.SQL)
	if err != nil {
		s.opts.Logger.Info("deepflowlocal: refused query", "error", err, "sql", req.SQL)
		s.fail(w, "FAIL", err.Error())
		return
	}
	var sorted []callRow
	if q.end > q.start {
		sorted = s.sorted(q)
	}
	s.respond(w, q.page(sorted, s.opts.RowLimit))
}

// result is the querier's "result".
type result struct {
	Columns []string `json:"columns"`
	Values  [][]any  `json:"values"`
	Schemas []schema `json:"schemas"`
}

type schema struct {
	LabelType string `json:"label_type"`
	PreAs     string `json:"pre_as"`
	Type      int    `json:"type"`
	Unit      string `json:"unit"`
	ValueType string `json:"value_type"`
}

type success struct {
	OptStatus   string  `json:"OPT_STATUS"`
	Description string  `json:"DESCRIPTION"`
	Result      *result `json:"result"`
}

type failure struct {
	OptStatus   string `json:"OPT_STATUS"`
	Description string `json:"DESCRIPTION"`
	Result      any    `json:"result"`
	Debug       any    `json:"debug"`
}

func (s *Server) respond(w http.ResponseWriter, res *result) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	json.NewEncoder(w).Encode(success{OptStatus: "SUCCESS", Result: res}) //nolint:errcheck // the client has gone
}

// fail answers as the querier's router does for status.
func (s *Server) fail(w http.ResponseWriter, status, desc string) {
	var code int
	switch status {
	case "RESOURCE_NOT_FOUND", "INVALID_POST_DATA", "RESOURCE_NUM_EXCEEDED", "SELECTED_RESOURCES_NUM_EXCEEDED":
		code = http.StatusBadRequest
	case "SERVER_ERROR", "FAIL":
		code = http.StatusInternalServerError
	default:
		// The querier's router has no default case: no body, HTTP 200.
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(failure{OptStatus: status, Description: desc}) //nolint:errcheck // the client has gone
}

// Endpoint is one side of a call as the querier reports it.
type Endpoint struct {
	Name      string // auto_service: a service name, or an IP for IP types
	Type      int64  // auto_service_type: 11 K8s service, 255 IP
	Namespace string // pod_ns
	VPC       string // vpc
}

// Call is one row of the window: what a test compares the graph against.
type Call struct {
	Client, Server Endpoint
	Port           int64
	L7             string
	Requests       int64
	ServerErrors   int64
	RRTAvg         float64
	DirectionScore int64
}

// Calls are the rows a window starting at start holds, one per call.
func (s *Server) Calls(start int64) []Call {
	rows := s.rows(start)
	out := make([]Call, 0, len(rows))
	ep := func(e endpoint) Endpoint { return Endpoint{Name: e.name, Type: e.typ, Namespace: e.ns, VPC: e.vpc} }
	for _, r := range rows {
		out = append(out, Call{Client: ep(r.side[0]), Server: ep(r.side[1]), Port: r.port, L7: r.l7,
			Requests: r.req, ServerErrors: r.srvErr, RRTAvg: r.rrtAvg, DirectionScore: r.dir})
	}
	return out
}
