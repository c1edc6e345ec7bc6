package neptune

import (
	"slices"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Properties the writer owns; a batch may not set them (the validator refuses
// them), so they mean the same thing on every element whoever wrote it.
const (
	PropSource    = "source"     // the source that created the element; never changed
	PropFirstSeen = "first_seen" // epoch ms of the observation that created the element; set on create only
	PropLastSeen  = "last_seen"  // epoch ms of the newest observation that wrote the element; never moves back
	PropScope     = "scope"      // scope of the last snapshot that saw the element
	PropSnapshot  = "snapshot"   // id of the last snapshot that saw the element
	PropActive    = "active"     // true on every write; false once a sweep finds it stale
)

// stamp is what the writer adds to every element of one batch.
type stamp struct {
	source     string
	observedMs int64 // the batch's observed_at in epoch milliseconds, the one time format used everywhere
	snapshot   *edgebatch.Snapshot
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

// steps counts the instructions one upsert adds: mergeX, option(onCreate),
// sideEffect, the guard's has, and a property step per refreshed key.
func (s stamp) steps(props map[string]any) int {
	n := 4 + len(props) + 2 // last_seen, active
	if s.snapshot != nil {
		n += 2
	}
	return n
}

// requestSteps are the steps of a request besides its upserts: the count
// of newer elements (V or E, has, count, as) and the final select.
const requestSteps = 5

// staleLabel names the count of a request's elements that a newer
// observation already wrote.
const staleLabel = "stale"

// countNewer starts a request at the batch's elements that already hold a
// newer observation and counts them, so the request can report what its
// guard left alone. count() always yields one traverser, so the upserts
// chained after it run once each.
func (s stamp) countNewer(t *gremlingo.GraphTraversal) *gremlingo.GraphTraversal {
	return t.Has(PropLastSeen, gremlingo.P.Gt(s.observedMs)).Count().As(staleLabel)
}

// staleCount reads a request's result: the count countNewer took.
func staleCount(rs []*gremlingo.Result) int64 {
	if len(rs) != 1 {
		return 0
	}
	switch n := rs[0].GetInterface().(type) {
	case int64:
		return n
	case int32:
		return int64(n)
	}
	return 0
}

// onCreate is the full element: label, writer-owned fields, batch properties.
// first_seen and last_seen are the batch's observation time, not the time of
// the write: a batch written late says when the element was seen.
func (s stamp) onCreate(label string, props map[string]any) map[any]any {
	m := make(map[any]any, len(props)+8)
	m[gremlingo.T.Label] = label
	m[PropSource] = s.source
	m[PropFirstSeen] = s.observedMs
	for k, v := range props {
		m[k] = v
	}
	m[PropLastSeen] = s.observedMs
	m[PropActive] = true
	if s.snapshot != nil {
		m[PropScope] = s.snapshot.Scope
		m[PropSnapshot] = s.snapshot.ID
	}
	return m
}

// guard refreshes a matched element only when what it holds is older than
// this batch's observation: last_seen never moves backwards, and a late or
// replayed batch never overwrites newer properties. It is a sideEffect, not
// mergeV's onMatch: onMatch applies unconditionally, and the sideEffect's
// filter (has last_seen < observed) also skips the element this very upsert
// just created (its last_seen equals the observation). An element written
// by the same observation before (a redelivery) is skipped too: same
// observation, same values. single is the cardinality for vertex
// properties: Neptune's default is set, under which a changed value would
// keep the old one too; edge properties are always single.
func (s stamp) guard(props map[string]any, vertex bool) *gremlingo.GraphTraversal {
	t := gremlingo.T__.Has(PropLastSeen, gremlingo.P.Lt(s.observedMs))
	set := func(k string, v any) {
		if vertex {
			t = t.Property(gremlingo.Cardinality.Single, k, v)
		} else {
			t = t.Property(k, v)
		}
	}
	for _, k := range sortedKeys(props) {
		set(k, props[k])
	}
	set(PropLastSeen, s.observedMs)
	set(PropActive, true)
	if s.snapshot != nil {
		set(PropScope, s.snapshot.Scope)
		set(PropSnapshot, s.snapshot.ID)
	}
	return t
}

// sortedKeys gives a request the same shape for the same batch.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// appendVertex adds one id-keyed vertex upsert to t: created whole when
// missing, refreshed by guard when it holds an older observation.
func (s stamp) appendVertex(t *gremlingo.GraphTraversal, v edgebatch.Vertex) *gremlingo.GraphTraversal {
	return t.MergeV(map[any]any{gremlingo.T.Id: v.ID}).
		Option(gremlingo.Merge.OnCreate, s.onCreate(v.Label, v.Props)).
		SideEffect(s.guard(v.Props, true))
}

// appendEdge adds one id-keyed edge upsert. Endpoints and label go in
// onCreate only: searching by id alone is what Neptune optimises, and an edge
// id already names its endpoints.
func (s stamp) appendEdge(t *gremlingo.GraphTraversal, e edgebatch.Edge) *gremlingo.GraphTraversal {
	create := s.onCreate(e.Label, e.Props)
	create[gremlingo.Direction.Out] = e.From
	create[gremlingo.Direction.In] = e.To
	return t.MergeE(map[any]any{gremlingo.T.Id: e.ID}).
		Option(gremlingo.Merge.OnCreate, create).
		SideEffect(s.guard(e.Props, false))
}
