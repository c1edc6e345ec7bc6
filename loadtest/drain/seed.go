package main

// The seed-style writer: the design graphfleet replaces, rebuilt so that it
// can run on the same workload, against the same stand-in, in the same run.
// Its request pattern is the one DESIGN.md describes (about 700 serial
// requests for 100 call relations among 40 services):
//
//	per edge      one upsert per endpoint vertex (2), two id look-ups (2),
//	              one edge upsert (1)                         = 5 requests
//	per service   four queries (in/out degree, in/out neighbours) and one
//	              update (the degrees it read)                = 5 requests
//
// serial, on a new gremlin-go remote connection per request (dial, WebSocket
// handshake, request, close). The upserts are the pre-mergeV idiom
// (fold().coalesce(unfold(), addV/addE)), keyed by id: look-ups keyed by id
// are what an index serves on Neptune; a scan of the stand-in's vertices for
// has('name', x) would charge the baseline for something Neptune does not do.
//
// The batched variant is the seed design's first round of batching: every
// per-vertex operation carries 20 vertices a request (endpoint upserts, id
// look-ups, each of the four per-service queries, the per-service update);
// edges stay one request each. For the PetSite set that is 10 + 10 + 100 +
// 8 + 2 = 130 requests (the original reached about 180).

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// seedBatch is how many vertices the batched variant puts in one request.
const seedBatch = 20

// seedVariant names the two seed-style writers.
type seedVariant int

const (
	seedSerial seedVariant = iota
	seedBatched
)

func (v seedVariant) String() string {
	if v == seedBatched {
		return "seed-style, batched (20 vertices/request)"
	}
	return "seed-style, serial"
}

// seedPlan is what a seed-style writer does for a workload, and how many
// requests it takes: the model the run is checked against.
type seedPlan struct {
	Edges, Services int
	// EdgePhase and ServicePhase count requests.
	EdgePhase, ServicePhase int
}

func (p seedPlan) Requests() int { return p.EdgePhase + p.ServicePhase }

// planSeed counts the requests of a seed-style writer for b.
func planSeed(b *edgebatch.Batch, v seedVariant) seedPlan {
	p := seedPlan{Edges: len(b.Edges), Services: len(servicesOf(b))}
	switch v {
	case seedBatched:
		p.EdgePhase = 2*ceilDiv(2*p.Edges, seedBatch) + p.Edges
		p.ServicePhase = 5 * ceilDiv(p.Services, seedBatch)
	default:
		p.EdgePhase = 5 * p.Edges
		p.ServicePhase = 5 * p.Services
	}
	return p
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// servicesOf lists the vertices that edges touch, in first-seen order: the
// "services" whose per-service queries the seed design ran.
func servicesOf(b *edgebatch.Batch) []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range b.Edges {
		for _, id := range []string{e.From, e.To} {
			if !seen[id] {
				seen[id] = true
				out = append(out, id)
			}
		}
	}
	return out
}

// seedResult is one seed-style run: measured, and extrapolated to the whole
// workload when capped.
type seedResult struct {
	Variant seedVariant
	Plan    seedPlan
	// Measured part.
	EdgesDone, ServicesDone int
	RequestsSent            int
	EdgeTime, ServiceTime   time.Duration
	// StandinRequests is what the stand-in counted during the run (a check
	// of RequestsSent).
	StandinRequests int64
	Capped          bool
	// Total is the measured time when not capped, the extrapolation when
	// capped: each phase's time per unit times the workload's units.
	Total time.Duration
}

// seedWriter runs the seed-style pattern against a Gremlin endpoint.
type seedWriter struct {
	endpoint string
	variant  seedVariant
	vertices map[string]edgebatch.Vertex
	// connectDelay is slept before each new connection: the handshake round
	// trips (TCP, TLS, WebSocket upgrade) a loopback dial does not pay. Zero
	// by default, which favours the baseline.
	connectDelay time.Duration
}

// request runs one traversal on a new connection, as the seed design did.
func (s *seedWriter) request(build func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal) error {
	if s.connectDelay > 0 {
		time.Sleep(s.connectDelay)
	}
	conn, err := gremlingo.NewDriverRemoteConnection(s.endpoint, func(st *gremlingo.DriverRemoteConnectionSettings) {
		st.LogVerbosity = gremlingo.Off
		st.ConnectionTimeout = 10 * time.Second
	})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	g := gremlingo.Traversal_().WithRemote(conn)
	_, err = build(g).ToList()
	return err
}

var __ = gremlingo.T__

// upsertV is the pre-mergeV vertex upsert: find by id or create, then set
// the properties.
func upsertV(t *gremlingo.GraphTraversal, v edgebatch.Vertex) *gremlingo.GraphTraversal {
	t = t.Fold().Coalesce(__.Unfold(), __.AddV(v.Label).Property(gremlingo.T.Id, v.ID))
	for _, k := range sortedKeys(v.Props) {
		t = t.Property(gremlingo.Cardinality.Single, k, v.Props[k])
	}
	return t
}

func sortedKeys(m map[string]any) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (s *seedWriter) vertex(id string) edgebatch.Vertex {
	if v, ok := s.vertices[id]; ok {
		return v
	}
	return edgebatch.Vertex{ID: id, Label: edgebatch.ServiceLabel}
}

// upsertVertices upserts ids, one request each (serial) or seedBatch a
// request (batched).
func (s *seedWriter) upsertVertices(ids []string, sent *int) error {
	for _, chunk := range s.chunks(ids) {
		err := s.request(func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
			t := g.Inject(int64(0))
			for _, id := range chunk {
				t = t.SideEffect(upsertV(__.V(id), s.vertex(id)))
			}
			return t
		})
		*sent++
		if err != nil {
			return fmt.Errorf("vertex upsert: %w", err)
		}
	}
	return nil
}

// lookUp asks for the ids of ids (the seed design found each endpoint's id
// before writing the edge).
func (s *seedWriter) lookUp(ids []string, sent *int) error {
	for _, chunk := range s.chunks(ids) {
		args := make([]any, len(chunk))
		for i, id := range chunk {
			args[i] = id
		}
		err := s.request(func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal { return g.V(args...).Id() })
		*sent++
		if err != nil {
			return fmt.Errorf("id look-up: %w", err)
		}
	}
	return nil
}

func (s *seedWriter) chunks(ids []string) [][]string {
	n := 1
	if s.variant == seedBatched {
		n = seedBatch
	}
	var out [][]string
	for len(ids) > 0 {
		k := min(n, len(ids))
		out = append(out, ids[:k])
		ids = ids[k:]
	}
	return out
}

// writeEdge is the pre-mergeE edge upsert: find the edge between the two or
// add it, then set its properties.
func (s *seedWriter) writeEdge(e edgebatch.Edge, sent *int) error {
	err := s.request(func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		t := g.V(e.From).OutE(e.Label).Where(__.InV().HasId(e.To)).Fold().
			Coalesce(__.Unfold(), __.AddE(e.Label).From(__.V(e.From)).To(__.V(e.To)).Property(gremlingo.T.Id, e.ID))
		for _, k := range sortedKeys(e.Props) {
			t = t.Property(k, e.Props[k])
		}
		return t.Id()
	})
	*sent++
	if err != nil {
		return fmt.Errorf("edge upsert: %w", err)
	}
	return nil
}

// serviceQueries are the four per-service reads, for one or more services.
var serviceQueries = []func(t *gremlingo.GraphTraversal) *gremlingo.GraphTraversal{
	func(t *gremlingo.GraphTraversal) *gremlingo.GraphTraversal { return t.InE().Count() },
	func(t *gremlingo.GraphTraversal) *gremlingo.GraphTraversal { return t.OutE().Count() },
	func(t *gremlingo.GraphTraversal) *gremlingo.GraphTraversal { return t.In().Id().Fold() },
	func(t *gremlingo.GraphTraversal) *gremlingo.GraphTraversal { return t.Out().Id().Fold() },
}

// services runs the four queries and the update for a chunk of services.
func (s *seedWriter) services(chunk []string, sent *int) error {
	args := make([]any, len(chunk))
	for i, id := range chunk {
		args[i] = id
	}
	for _, q := range serviceQueries {
		err := s.request(func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
			// One answer per service: its count or list.
			return g.V(args...).Project("id", "answer").By(__.Id()).By(q(__.Identity()))
		})
		*sent++
		if err != nil {
			return fmt.Errorf("service query: %w", err)
		}
	}
	err := s.request(func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V(args...).Property(gremlingo.Cardinality.Single, "in_degree", __.InE().Count()).
			Property(gremlingo.Cardinality.Single, "out_degree", __.OutE().Count()).Id()
	})
	*sent++
	if err != nil {
		return fmt.Errorf("service update: %w", err)
	}
	return nil
}

// run writes b the seed way. A cap (0: none) bounds the time: half of it
// for the edge phase, half for the service phase; the result then
// extrapolates each phase from its measured rate. requests, when set, reads
// the stand-in's request counter.
func (s *seedWriter) run(ctx context.Context, b *edgebatch.Batch, limit time.Duration, requests func() int64) (seedResult, error) {
	s.vertices = make(map[string]edgebatch.Vertex, len(b.Vertices))
	for _, v := range b.Vertices {
		s.vertices[v.ID] = v
	}
	res := seedResult{Variant: s.variant, Plan: planSeed(b, s.variant)}
	var before int64
	if requests != nil {
		before = requests()
	}
	phaseCap := limit / 2
	// Edge phase. The batched variant takes edges ten at a time: their 20
	// endpoints make one upsert request and one look-up request.
	step := 1
	if s.variant == seedBatched {
		step = seedBatch / 2
	}
	start := time.Now()
	for i := 0; i < len(b.Edges); i += step {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if limit > 0 && time.Since(start) > phaseCap {
			res.Capped = true
			break
		}
		chunk := b.Edges[i:min(i+step, len(b.Edges))]
		var ends []string
		for _, e := range chunk {
			ends = append(ends, e.From, e.To)
		}
		if err := s.upsertVertices(ends, &res.RequestsSent); err != nil {
			return res, err
		}
		if err := s.lookUp(ends, &res.RequestsSent); err != nil {
			return res, err
		}
		for _, e := range chunk {
			if err := s.writeEdge(e, &res.RequestsSent); err != nil {
				return res, err
			}
		}
		res.EdgesDone += len(chunk)
	}
	res.EdgeTime = time.Since(start)
	// Service phase, over the services of the edges written.
	svcs := servicesOf(&edgebatch.Batch{Edges: b.Edges[:res.EdgesDone]})
	n := 1
	if s.variant == seedBatched {
		n = seedBatch
	}
	start = time.Now()
	for i := 0; i < len(svcs); i += n {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		if limit > 0 && time.Since(start) > phaseCap {
			res.Capped = true
			break
		}
		chunk := svcs[i:min(i+n, len(svcs))]
		if err := s.services(chunk, &res.RequestsSent); err != nil {
			return res, err
		}
		res.ServicesDone += len(chunk)
	}
	res.ServiceTime = time.Since(start)
	if requests != nil {
		res.StandinRequests = requests() - before
	}
	if res.ServicesDone < res.Plan.Services {
		res.Capped = true
	}
	if res.EdgesDone == 0 || res.ServicesDone == 0 {
		return res, errors.New("seed-style writer: the cap left no time to measure a phase")
	}
	res.Total = extrapolate(res.EdgeTime, res.EdgesDone, res.Plan.Edges) + extrapolate(res.ServiceTime, res.ServicesDone, res.Plan.Services)
	return res, nil
}

// extrapolate scales the time taken for done units to total units.
func extrapolate(took time.Duration, done, total int) time.Duration {
	if done <= 0 {
		return 0
	}
	return time.Duration(float64(took) * float64(total) / float64(done))
}
