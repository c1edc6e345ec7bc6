package cloudformation

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/graphfleet/graphfleet/producer/awsarn"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// graph is a snapshot being built: vertices and edges by id, so that
// something seen twice (a nested stack is both a stack and its parent's
// resource) is one element.
type graph struct {
	vertices map[string]*edgebatch.Vertex
	edges    map[string]*edgebatch.Edge
}

func newGraph() *graph {
	return &graph{vertices: map[string]*edgebatch.Vertex{}, edges: map[string]*edgebatch.Edge{}}
}

// vertex adds a vertex, or adds the props it lacks to the one already there:
// the first writer of a prop wins, and callers add the most specific view
// (a stack's own description) first.
func (g *graph) vertex(id, label string, props map[string]any) {
	v, ok := g.vertices[id]
	if !ok {
		g.vertices[id] = &edgebatch.Vertex{ID: id, Label: label, Props: props}
		return
	}
	for k, val := range props {
		if _, set := v.Props[k]; !set {
			if v.Props == nil {
				v.Props = map[string]any{}
			}
			v.Props[k] = val
		}
	}
}

// edge adds an edge unless one with its id is there already (the first
// wins, so callers add in a deterministic order).
func (g *graph) edge(label, from, to, key string, props map[string]any) {
	id := edgebatch.EdgeIDWithKey(label, from, to, key)
	if _, ok := g.edges[id]; ok {
		return
	}
	g.edges[id] = &edgebatch.Edge{ID: id, Label: label, From: from, To: to, Props: props}
}

func (g *graph) sortedVertices() []edgebatch.Vertex {
	out := make([]edgebatch.Vertex, 0, len(g.vertices))
	for _, v := range g.vertices {
		out = append(out, *v)
	}
	slices.SortFunc(out, func(a, b edgebatch.Vertex) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

func (g *graph) sortedEdges() []edgebatch.Edge {
	out := make([]edgebatch.Edge, 0, len(g.edges))
	for _, e := range g.edges {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b edgebatch.Edge) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// build turns the scan into the snapshot's graph.
func (r *regionScan) build() (*graph, *stats) {
	g := newGraph()
	st := &stats{stacks: len(r.stacks)}
	slices.SortFunc(r.stacks, func(a, b *stack) int { return cmp.Compare(a.arn, b.arn) })

	// Stacks first, so that a nested stack's vertex carries its own
	// description and not only what its parent's resource list says.
	for _, s := range r.stacks {
		g.vertex(s.arn, edgebatch.StackLabel, stackProps(s))
	}
	for _, s := range r.stacks {
		r.buildStack(g, st, s)
	}
	// A nested stack whose parent's resource list did not show it (a
	// parent being updated) is still contained by its parent.
	for _, s := range r.stacks {
		if s.parent != "" && g.vertices[s.parent] != nil {
			g.edge(edgebatch.ContainsLabel, s.parent, s.arn, "", nil)
		}
	}
	r.buildImports(g, st)
	return g, st
}

func stackProps(s *stack) map[string]any {
	p := map[string]any{"name": s.name, "status": s.status}
	if s.parent != "" {
		p["parent"] = s.parent
	}
	if s.root != "" {
		p["root"] = s.root
	}
	return p
}

// buildStack adds a stack's resources, the contains edges to them, and the
// depends_on edges its template shows between them.
func (r *regionScan) buildStack(g *graph, st *stats, s *stack) {
	ids := map[string]string{} // logical id -> vertex id
	res := slices.Clone(s.resources)
	slices.SortFunc(res, func(a, b types.StackResourceSummary) int {
		return cmp.Compare(aws.ToString(a.LogicalResourceId), aws.ToString(b.LogicalResourceId))
	})
	for _, sum := range res {
		if !hasPhysicalID(sum) {
			st.pending++
			continue
		}
		st.resources++
		logical, typ, physical := aws.ToString(sum.LogicalResourceId), aws.ToString(sum.ResourceType), aws.ToString(sum.PhysicalResourceId)
		id, derived := r.resourceID(st, s, logical, typ, physical)
		var props map[string]any
		if !derived {
			st.underivedIDs++
			// The id says nothing a reader can use; these do.
			props = map[string]any{"physical_id": physical, "logical_id": logical}
		}
		g.vertex(id, edgebatch.AWSLabel(typ), props)
		g.edge(edgebatch.ContainsLabel, s.arn, id, "", map[string]any{"logical_id": logical})
		ids[logical] = id
	}
	for _, ref := range s.refs {
		from, to := ids[ref.from], ids[ref.to]
		if from == "" || to == "" {
			st.danglingEdges++
			continue
		}
		g.edge(edgebatch.DependsOnLabel, from, to, dependsOnKey(ref.intrinsic, ref.property),
			map[string]any{"property": ref.property, "intrinsic": ref.intrinsic})
	}
}

// maxKeyProperty bounds the property path in a depends_on edge key, so that
// even the hashed form of the id stays far inside edgebatch.MaxIDBytes.
const maxKeyProperty = 160

// dependsOnKey is the edge key of a depends_on edge: "<intrinsic>@<property>",
// one edge per place in the template that names the other resource. A very
// long property path is cut and completed with a digest of the whole path,
// so two long paths still give two keys.
func dependsOnKey(intrinsic, property string) string {
	if len(property) > maxKeyProperty {
		sum := sha256.Sum256([]byte(property))
		property = property[:maxKeyProperty] + "~" + hex.EncodeToString(sum[:8])
	}
	return intrinsic + "@" + property
}

// resourceID is the vertex id of a resource: its ARN where awsarn can derive
// it (derived), "cfn:<stack ARN>/<logical id>" otherwise (see the package
// doc). A role's ARN includes its path, which only the template tells.
func (r *regionScan) resourceID(st *stats, s *stack, logical, typ, physical string) (id string, derived bool) {
	if typ == "AWS::IAM::Role" {
		path, known := s.rolePath(logical)
		if !known {
			st.rolePathUnknown++
		}
		return r.acct.RoleARN(path, physical), true
	}
	if arn, ok := awsarn.FromPhysicalID(r.acct, typ, physical); ok {
		return arn, true
	}
	return UnderivedID(s.arn, logical), false
}

// UnderivedID is the vertex id of a resource whose ARN this source cannot
// derive from its physical id: "cfn:<stack ARN>/<logical id>". It names the
// resource for as long as its stack lives, and cannot equal an ARN (every
// ARN starts with "arn:").
func UnderivedID(stackARN, logicalID string) string {
	return "cfn:" + stackARN + "/" + logicalID
}

// rolePath is the Path the template gives role logical: a literal, or a Ref
// to a parameter whose value the stack shows. known is false when the
// template sets a Path this source cannot read (then "/" is returned, which
// may name the wrong role); a role without Path is at "/".
func (s *stack) rolePath(logical string) (path string, known bool) {
	if s.tmpl == nil || s.tmpl.resources[logical] == nil {
		return "/", false
	}
	props, _ := s.tmpl.resources[logical].properties.(map[string]any)
	switch p := props["Path"].(type) {
	case nil:
		return "/", true
	case string:
		return normalizePath(p)
	case map[string]any:
		if name, ok := p["Ref"].(string); ok && len(p) == 1 {
			if v, ok := s.params[name]; ok {
				return normalizePath(v)
			}
		}
	}
	return "/", false
}

// normalizePath checks an IAM path ("/" or "/a/b/"). A NoEcho parameter's
// "****" is not one.
func normalizePath(p string) (string, bool) {
	if !strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/") {
		return "/", false
	}
	return p, true
}

// buildImports adds an imports edge from each importing stack to the
// exporting one, keyed by export name: ListImports is the source of truth,
// and a literal Fn::ImportValue in a template adds its edge too (they can
// disagree only while a stack changes during the scan). Where templates show
// which resources import it, the edge's referenced_by prop lists them as
// "<logical id>.<property>", comma-separated and sorted.
func (r *regionScan) buildImports(g *graph, st *stats) {
	byName := map[string]string{} // stack name -> ARN, for ListImports' names
	live := map[string]bool{}
	for _, s := range r.stacks {
		byName[s.name] = s.arn
		live[s.arn] = true
	}
	exporter := map[string]string{} // export name -> exporting stack ARN
	for _, e := range r.exports {
		exporter[e.name] = e.exporter
	}
	type pair struct{ from, to, export string }
	uses := map[pair][]string{}
	add := func(p pair, use string) {
		if !live[p.from] || !live[p.to] {
			st.strayImports++
			return
		}
		if _, ok := uses[p]; !ok {
			uses[p] = nil
		}
		if use != "" && !slices.Contains(uses[p], use) {
			uses[p] = append(uses[p], use)
		}
	}
	for _, e := range r.exports {
		for _, name := range e.importers {
			add(pair{byName[name], e.exporter, e.name}, "")
		}
	}
	for _, s := range r.stacks {
		for _, im := range s.imports {
			to, ok := exporter[im.export]
			if !ok {
				st.strayImports++
				continue
			}
			add(pair{s.arn, to, im.export}, im.from+"."+im.property)
		}
	}
	for p, refs := range uses {
		props := map[string]any{"export": p.export}
		if len(refs) > 0 {
			slices.Sort(refs)
			props["referenced_by"] = strings.Join(refs, ",")
		}
		g.edge(edgebatch.ImportsLabel, p.from, p.to, p.export, props)
	}
}
