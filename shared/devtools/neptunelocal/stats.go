package neptunelocal

import (
	"sync"
	"sync/atomic"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

// Stats are the stand-in's counters since it started, for tests and for the
// /stats endpoint. Tests use them to assert how many requests a writer made.
type Stats struct {
	ConnectionsOpen    int64 `json:"connections_open"`
	ConnectionsTotal   int64 `json:"connections_total"`
	ConnectionsRefused int64 `json:"connections_refused"`
	AuthFailures       int64 `json:"auth_failures"`
	// Requests counts every request message received, well-formed or not.
	Requests int64 `json:"requests"`
	// Committed counts requests whose traversal ran to the end and was applied.
	Committed int64 `json:"committed"`
	// InFlight is how many well-formed requests are being handled now
	// (waiting for a query worker, or executing); MaxInFlight the most at
	// once since start: what a client's concurrency limit let through.
	InFlight    int64 `json:"in_flight"`
	MaxInFlight int64 `json:"max_in_flight"`
	Responses   int64 `json:"responses"`
	Malformed   int64 `json:"malformed"`
	// Records counts labels and properties received in write steps, the unit
	// of Neptune's upsert guidance (about 200 a request).
	Records int64 `json:"records"`
	// Steps counts instructions received, nested traversals included.
	Steps int64 `json:"steps"`
	// Errors counts error responses of every kind; ErrorsByCode the ones the
	// engine raised, by Neptune error code.
	Errors                  int64            `json:"errors"`
	ErrorsByCode            map[string]int64 `json:"errors_by_code,omitempty"`
	Throttled               int64            `json:"throttled"`
	InjectedConcurrentMods  int64            `json:"injected_concurrent_modifications"`
	InjectedConnectionDrops int64            `json:"injected_connection_drops"`
	// InjectedFailures counts writes refused with Faults.FailWith.
	InjectedFailures int64 `json:"injected_failures"`
	// ConnectionsDemoted counts connections Demote has demoted;
	// ConnectionsDemotedOpen the ones still open, which a client that
	// rebuilds its connections after a failover brings back to zero.
	ConnectionsDemoted     int64 `json:"connections_demoted"`
	ConnectionsDemotedOpen int64 `json:"connections_demoted_open"`
	Vertices               int   `json:"vertices"`
	Edges                  int   `json:"edges"`
}

type counters struct {
	connsOpen, connsTotal, refusedConns, authFailures atomic.Int64
	requests, committed, responses, malformed         atomic.Int64
	records, steps, errors, throttled                 atomic.Int64
	injectedCME, injectedDrops, injectedFailures      atomic.Int64
	demoted, demotedOpen                              atomic.Int64
	inFlight, maxInFlight                             atomic.Int64

	mu     sync.Mutex
	byCode map[string]int64
}

func (c *counters) countError(code string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byCode == nil {
		c.byCode = make(map[string]int64)
	}
	c.byCode[code]++
}

// Stats returns a copy of the counters and the graph's current size.
func (s *Server) Stats() Stats {
	c := &s.stats
	st := Stats{
		ConnectionsOpen:         c.connsOpen.Load(),
		ConnectionsTotal:        c.connsTotal.Load(),
		ConnectionsRefused:      c.refusedConns.Load(),
		AuthFailures:            c.authFailures.Load(),
		Requests:                c.requests.Load(),
		Committed:               c.committed.Load(),
		InFlight:                c.inFlight.Load(),
		MaxInFlight:             c.maxInFlight.Load(),
		Responses:               c.responses.Load(),
		Malformed:               c.malformed.Load(),
		Records:                 c.records.Load(),
		Steps:                   c.steps.Load(),
		Errors:                  c.errors.Load(),
		Throttled:               c.throttled.Load(),
		InjectedConcurrentMods:  c.injectedCME.Load(),
		InjectedConnectionDrops: c.injectedDrops.Load(),
		InjectedFailures:        c.injectedFailures.Load(),
		ConnectionsDemoted:      c.demoted.Load(),
		ConnectionsDemotedOpen:  c.demotedOpen.Load(),
	}
	c.mu.Lock()
	if len(c.byCode) > 0 {
		st.ErrorsByCode = make(map[string]int64, len(c.byCode))
		for k, v := range c.byCode {
			st.ErrorsByCode[k] = v
		}
	}
	c.mu.Unlock()
	st.Vertices, st.Edges = s.graph.Counts()
	return st
}

// countRecords counts what Neptune's upsert guidance calls records: each
// label and each property a write step carries. An upsert (mergeV or mergeE
// and the option steps that follow it) counts the distinct keys of its maps
// once, whether a key is in onCreate, onMatch or both, leaving out T.id and
// the from/to keys, which name the element rather than write to it; addV and
// addE count their label, property() one each. A sideEffect right after an
// upsert that sets properties (graphfleet's guarded refresh: the element
// gets either onCreate or those properties, never both) adds its keys to
// the upsert's rather than counting again.
func countRecords(bc *graphbinary.Bytecode) int {
	n := 0
	var upsert map[any]struct{} // keys of the upsert being read, nil outside one
	flush := func() {
		n += len(upsert)
		upsert = nil
	}
	addKeys := func(args []any) {
		for _, a := range args {
			m, ok := a.(map[any]any)
			if !ok {
				continue
			}
			for k := range m {
				if e, ok := k.(graphbinary.Enum); ok && (e.Type == graphbinary.EnumDirection || (e.Type == graphbinary.EnumT && e.Value == "id")) {
					continue
				}
				upsert[k] = struct{}{}
			}
		}
	}
	for _, in := range bc.Steps {
		switch in.Operator {
		case "mergeV", "mergeE":
			flush()
			upsert = map[any]struct{}{}
			addKeys(in.Args)
		case "option":
			if upsert != nil {
				addKeys(in.Args)
			}
		case "sideEffect":
			if upsert != nil && len(in.Args) == 1 {
				if nested, ok := in.Args[0].(*graphbinary.Bytecode); ok {
					for _, st := range nested.Steps {
						if st.Operator == "property" && len(st.Args) >= 2 {
							k := st.Args[0]
							if _, card := k.(graphbinary.Enum); card && len(st.Args) >= 3 {
								k = st.Args[1]
							}
							upsert[k] = struct{}{}
						}
					}
					continue
				}
			}
			flush()
		case "addV", "addE", "property":
			flush()
			n++
		default:
			flush()
		}
		for _, a := range in.Args {
			if nested, ok := a.(*graphbinary.Bytecode); ok {
				n += countRecords(nested)
			}
		}
	}
	flush()
	return n
}

// enter counts a request in flight, keeping the most at once; the returned
// function ends it.
func (c *counters) enter() func() {
	n := c.inFlight.Add(1)
	for {
		m := c.maxInFlight.Load()
		if n <= m || c.maxInFlight.CompareAndSwap(m, n) {
			break
		}
	}
	return func() { c.inFlight.Add(-1) }
}
