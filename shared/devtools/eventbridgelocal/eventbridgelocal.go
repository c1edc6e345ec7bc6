// Package eventbridgelocal is a local stand-in for the one EventBridge
// action graphfleet calls, PutEvents (AWS JSON 1.1), for tests and the
// local stack: it keeps the events it accepts, in order, and can refuse
// entries or whole calls on demand, so a test can see what a consumer of
// the bus would. It checks what EventBridge documents: 1-10 entries a call,
// Source, DetailType and Detail required, Detail a JSON object, 256 KB a
// call, and buses that exist.
package eventbridgelocal

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

// maxCallBytes is PutEvents' limit on a call's entries.
const maxCallBytes = 256 << 10

// Event is one accepted entry.
type Event struct {
	ID          string          `json:"id"`
	Bus         string          `json:"bus"`
	Source      string          `json:"source"`
	DetailType  string          `json:"detail_type"`
	Detail      json.RawMessage `json:"detail"`
	Resources   []string        `json:"resources,omitempty"`
	Time        time.Time       `json:"time"`
	TraceHeader string          `json:"trace_header,omitempty"`
}

// Server is a running stand-in.
type Server struct {
	ln   net.Listener
	http *http.Server

	mu          sync.Mutex
	buses       map[string]bool
	events      []Event
	failEntries []string // error codes for the next entries, one each
	failCalls   []string // error codes for the next calls, one each
	calls       int
}

// Start serves on a free loopback port (addr "" ) or addr, with the named
// buses (and "default").
func Start(addr string, buses ...string) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("eventbridgelocal: %w", err)
	}
	s := &Server{ln: ln, buses: map[string]bool{"default": true}}
	for _, b := range buses {
		s.buses[b] = true
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /", s.servePutEvents)
	mux.HandleFunc("GET /events", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(s.Events())
	})
	s.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = s.http.Serve(ln) }()
	return s, nil
}

// URL is the endpoint to give the SDK (BaseEndpoint).
func (s *Server) URL() string { return "http://" + s.ln.Addr().String() }

// Close stops the server.
func (s *Server) Close() error { return s.http.Close() }

// Events returns the accepted events, in order.
func (s *Server) Events() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Event(nil), s.events...)
}

// Calls is how many PutEvents calls arrived.
func (s *Server) Calls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// FailEntries makes the next entries fail, one code each, in order
// ("ThrottlingException", "InternalFailure", or any code EventBridge
// answers for an entry).
func (s *Server) FailEntries(codes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failEntries = append(s.failEntries, codes...)
}

// FailCalls makes the next calls fail whole, one error code each (e.g.
// "AccessDeniedException", "InternalException").
func (s *Server) FailCalls(codes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failCalls = append(s.failCalls, codes...)
}

type putEventsInput struct {
	Entries []struct {
		Source       *string  `json:"Source"`
		DetailType   *string  `json:"DetailType"`
		Detail       *string  `json:"Detail"`
		EventBusName *string  `json:"EventBusName"`
		Resources    []string `json:"Resources"`
		Time         *float64 `json:"Time"`
		TraceHeader  *string  `json:"TraceHeader"`
	} `json:"Entries"`
}

type resultEntry struct {
	EventID      string `json:"EventId,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": msg})
}

func (s *Server) servePutEvents(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		fail(w, http.StatusBadRequest, "UnknownOperationException", "only AWSEvents.PutEvents is served here")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	var in putEventsInput
	if err := json.Unmarshal(body, &in); err != nil {
		fail(w, http.StatusBadRequest, "SerializationException", err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	if len(s.failCalls) > 0 {
		code := s.failCalls[0]
		s.failCalls = s.failCalls[1:]
		status := http.StatusBadRequest
		if strings.HasPrefix(code, "Internal") {
			status = http.StatusInternalServerError
		}
		fail(w, status, code, "failure injected by eventbridgelocal")
		return
	}
	if n := len(in.Entries); n < 1 || n > 10 {
		fail(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("1 validation error detected: Value at 'entries' failed to satisfy constraint: Member must have length between 1 and 10 (got %d)", n))
		return
	}
	size := 0
	for _, e := range in.Entries {
		size += len(deref(e.Source)) + len(deref(e.DetailType)) + len(deref(e.Detail))
		for _, res := range e.Resources {
			size += len(res)
		}
		if e.Time != nil {
			size += 14
		}
	}
	if size > maxCallBytes {
		fail(w, http.StatusBadRequest, "ValidationException", fmt.Sprintf("Total size of the entries in the request is over the limit (%d bytes)", size))
		return
	}
	out := struct {
		FailedEntryCount int           `json:"FailedEntryCount"`
		Entries          []resultEntry `json:"Entries"`
	}{Entries: make([]resultEntry, len(in.Entries))}
	for i, e := range in.Entries {
		var res resultEntry
		bus := deref(e.EventBusName)
		if bus == "" {
			bus = "default"
		}
		var detail map[string]any
		switch {
		case len(s.failEntries) > 0:
			res.ErrorCode, res.ErrorMessage = s.failEntries[0], "failure injected by eventbridgelocal"
			s.failEntries = s.failEntries[1:]
		case deref(e.Source) == "" || deref(e.DetailType) == "" || e.Detail == nil:
			res.ErrorCode, res.ErrorMessage = "InvalidArgument", "Parameter(s) Source, DetailType and Detail are required"
		case json.Unmarshal([]byte(*e.Detail), &detail) != nil:
			res.ErrorCode, res.ErrorMessage = "MalformedDetail", "Detail is malformed."
		case !s.buses[bus]:
			res.ErrorCode, res.ErrorMessage = "NotAuthorizedForDestinationException", "Event bus "+bus+" does not exist."
		}
		if res.ErrorCode != "" {
			out.FailedEntryCount++
			out.Entries[i] = res
			continue
		}
		t := time.Now()
		if e.Time != nil {
			sec := int64(*e.Time)
			t = time.Unix(sec, int64((*e.Time-float64(sec))*1e9))
		}
		ev := Event{ID: uuid.NewString(), Bus: bus, Source: *e.Source, DetailType: *e.DetailType, Detail: json.RawMessage(*e.Detail),
			Resources: e.Resources, Time: t.UTC(), TraceHeader: deref(e.TraceHeader)}
		s.events = append(s.events, ev)
		out.Entries[i] = resultEntry{EventID: ev.ID}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
