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

// build is the graph of stack s's snapshot: the stack with its props, its
// resources with their contains and depends_on edges, the imports edges
// where s is the importer, and, without props, the other stacks those edges
// reach (every edge's endpoints are in the snapshot). It reads only s and
// what the discovery learned about the region (exports, importers, the
// parent's resource list), so a full scan and DiscoverStack build the same
// snapshot of the same stack.
func (r *regionScan) build(s *stack, st *stats) *graph {
	g := newGraph()
	// The stack first: its vertex carries its own description.
	g.vertex(s.arn, edgebatch.StackLabel, stackProps(s))
	r.buildResources(g, st, s)
	// A nested stack is contained by its parent through the parent's
	// resource (in the parent's snapshot). When the parent's resource list
	// does not show it (a parent being updated), the edge is still true and
	// comes with the nested stack's own snapshot.
	if p := r.known[s.parent]; s.parent != "" && p != nil && !p.shows(s.arn) {
		g.vertex(p.arn, edgebatch.StackLabel, nil)
		g.edge(edgebatch.ContainsLabel, p.arn, s.arn, "", nil)
	}
	r.buildImports(g, st, s)
	return g
}

// shows reports whether s's resource list has the nested stack arn, with a
// physical id (the resource buildResources makes the contains edge for).
func (s *stack) shows(arn string) bool {
	return slices.ContainsFunc(s.resources, func(sum types.StackResourceSummary) bool {
		return hasPhysicalID(sum) && aws.ToString(sum.ResourceType) == "AWS::CloudFormation::Stack" &&
			aws.ToString(sum.PhysicalResourceId) == arn
	})
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

// buildResources adds a stack's resources, the contains edges to them, and
// the depends_on edges its template shows between them. A nested stack is
// one of its parent's resources: a vertex without props here, described in
// its own snapshot.
func (r *regionScan) buildResources(g *graph, st *stats, s *stack) {
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

// buildImports adds an imports edge from stack s to each stack it imports
// from, keyed by export name, with the exporting stack's vertex (without
// props: it is described in its own snapshot). ListImports is the source of
// truth, and a literal Fn::ImportValue in s's template adds its edge too
// (they can disagree only while a stack changes during the discovery).
// Where the template shows which resources import it, the edge's
// referenced_by prop lists them as "<logical id>.<property>",
// comma-separated and sorted.
//
// The exporter need not be among the stacks DescribeStacks listed:
// ListExports names it, and CloudFormation refuses to delete a stack whose
// export is imported.
func (r *regionScan) buildImports(g *graph, st *stats, s *stack) {
	exporter := map[string]string{} // export name -> exporting stack ARN
	type use struct{ to, export string }
	uses := map[use][]string{}
	for _, e := range r.exports {
		exporter[e.name] = e.exporter
		// ListImports answers stack names; a live stack's name is unique
		// in its region.
		if slices.Contains(e.importers, s.name) {
			uses[use{e.exporter, e.name}] = nil
		}
	}
	for _, im := range s.imports {
		to, ok := exporter[im.export]
		if !ok {
			st.strayImports++
			continue
		}
		u := use{to, im.export}
		if ref := im.from + "." + im.property; !slices.Contains(uses[u], ref) {
			uses[u] = append(uses[u], ref)
		}
	}
	for u, refs := range uses {
		props := map[string]any{"export": u.export}
		if len(refs) > 0 {
			slices.Sort(refs)
			props["referenced_by"] = strings.Join(refs, ",")
		}
		g.vertex(u.to, edgebatch.StackLabel, nil)
		g.edge(edgebatch.ImportsLabel, s.arn, u.to, u.export, props)
	}
}
