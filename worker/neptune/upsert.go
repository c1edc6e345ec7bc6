package neptune

import (
	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Properties the writer owns; a batch may not set them (the validator refuses
// them), so they mean the same thing on every element whoever wrote it.
const (
	PropSource    = "source"     // the source that created the element; never changed
	PropFirstSeen = "first_seen" // epoch ms of the first write; set on create only
	PropLastSeen  = "last_seen"  // epoch ms of the latest write
	PropScope     = "scope"      // scope of the last snapshot that saw the element
	PropSnapshot  = "snapshot"   // id of the last snapshot that saw the element
	PropActive    = "active"     // true on every write; false once a sweep finds it stale
)

// stamp is what the writer adds to every element of one batch.
type stamp struct {
	source   string
	nowMs    int64 // epoch milliseconds, the one time format used everywhere
	snapshot *edgebatch.Snapshot
}

// records counts what Neptune's upsert guidance calls records for one element:
// its label and each property it carries. The writer's own properties count.
func (s stamp) records(props map[string]any) int {
	n := 1 + len(props) + 4 // label, props, source, first_seen, last_seen, active
	if s.snapshot != nil {
		n += 2 // scope, snapshot
	}
	return n
}

// stepsPerElement is the instructions one upsert adds: mergeX, option(onCreate),
// option(onMatch).
const stepsPerElement = 3

// onCreate is the full element: label, writer-owned fields, batch properties.
func (s stamp) onCreate(label string, props map[string]any) map[any]any {
	m := make(map[any]any, len(props)+8)
	m[gremlingo.T.Label] = label
	m[PropSource] = s.source
	m[PropFirstSeen] = s.nowMs
	s.refreshed(m, props)
	return m
}

// onMatch refreshes what may change; label, source and first_seen stay as
// created.
func (s stamp) onMatch(props map[string]any) map[any]any {
	m := make(map[any]any, len(props)+4)
	s.refreshed(m, props)
	return m
}

func (s stamp) refreshed(m map[any]any, props map[string]any) {
	for k, v := range props {
		m[k] = v
	}
	m[PropLastSeen] = s.nowMs
	m[PropActive] = true
	if s.snapshot != nil {
		m[PropScope] = s.snapshot.Scope
		m[PropSnapshot] = s.snapshot.ID
	}
}

// appendVertex adds one id-keyed vertex upsert to t (or starts t when nil).
// onMatch carries Cardinality.single for every key: Neptune's default is
// set, under which an upsert that changes a value would keep the old one too.
func (s stamp) appendVertex(g *gremlingo.GraphTraversalSource, t *gremlingo.GraphTraversal, v edgebatch.Vertex) *gremlingo.GraphTraversal {
	search := map[any]any{gremlingo.T.Id: v.ID}
	if t == nil {
		t = g.MergeV(search)
	} else {
		t = t.MergeV(search)
	}
	return t.
		Option(gremlingo.Merge.OnCreate, s.onCreate(v.Label, v.Props)).
		Option(gremlingo.Merge.OnMatch, s.onMatch(v.Props), gremlingo.Cardinality.Single)
}

// appendEdge adds one id-keyed edge upsert. Endpoints and label go in
// onCreate only: searching by id alone is what Neptune optimises, and an edge
// id already names its endpoints. Edge properties are single-valued in
// Neptune, so no cardinality is given.
func (s stamp) appendEdge(g *gremlingo.GraphTraversalSource, t *gremlingo.GraphTraversal, e edgebatch.Edge) *gremlingo.GraphTraversal {
	search := map[any]any{gremlingo.T.Id: e.ID}
	if t == nil {
		t = g.MergeE(search)
	} else {
		t = t.MergeE(search)
	}
	create := s.onCreate(e.Label, e.Props)
	create[gremlingo.Direction.Out] = e.From
	create[gremlingo.Direction.In] = e.To
	return t.
		Option(gremlingo.Merge.OnCreate, create).
		Option(gremlingo.Merge.OnMatch, s.onMatch(e.Props))
}
