package awsresources

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/graphfleet/graphfleet/producer/awsarn"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// ref names one end of an edge. The collectors run concurrently and one
// often names a resource another one lists (a function names its subnets),
// so ends are resolved only once every collector is done: to the vertex a
// collector added, else to a vertex labelled from what the reference itself
// tells (cfnType, else awsarn.TypeOf), else the edge is skipped and counted.
type ref struct {
	arn string
	// ec2Kind and ec2ID name an EC2 resource by id ("subnet", "subnet-0a..."):
	// other APIs give ids, not ARNs, and a shared subnet's ARN carries its
	// owner's account, which only DescribeSubnets knows.
	ec2Kind, ec2ID string
	// cfnType is the type when the referrer knows it better than the ARN
	// does (an RDS instance of engine neptune names a Neptune cluster).
	cfnType string
}

func (r ref) empty() bool { return r.arn == "" && r.ec2ID == "" }

func arnRef(arn string) ref { return ref{arn: arn} }

func typedRef(arn, cfnType string) ref { return ref{arn: arn, cfnType: cfnType} }

func ec2Ref(kind, id string) ref { return ref{ec2Kind: kind, ec2ID: id} }

type pendingEdge struct {
	label    string
	from, to ref
	key      string
	props    map[string]any
}

// graph gathers one region's vertices and edges from concurrent collectors.
type graph struct {
	acct awsarn.Account

	mu       sync.Mutex
	vertices map[string]*edgebatch.Vertex
	edges    []pendingEdge
	ec2ARNs  map[string]string // EC2 id → ARN of the resource DescribeXxx listed
	problems []string
}

func newGraph(acct awsarn.Account) *graph {
	return &graph{acct: acct, vertices: map[string]*edgebatch.Vertex{}, ec2ARNs: map[string]string{}}
}

// vertex adds the resource arn of CloudFormation type cfnType. Each type is
// listed by one collector, so a second add with another label is a bug (or
// an API listing one resource under two types); it fails the snapshot
// rather than letting the order of goroutines pick the label.
func (g *graph) vertex(cfnType, arn string, props map[string]any) {
	label := edgebatch.AWSLabel(cfnType)
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok := g.vertices[arn]; ok {
		if v.Label != label {
			g.problems = append(g.problems, fmt.Sprintf("%s listed as both %s and %s", arn, v.Label, label))
		}
		return
	}
	g.vertices[arn] = &edgebatch.Vertex{ID: arn, Label: label, Props: props}
}

// ec2Vertex adds an EC2 resource and remembers its id's ARN.
func (g *graph) ec2Vertex(cfnType, id, arn string, props map[string]any) {
	g.vertex(cfnType, arn, props)
	g.mu.Lock()
	g.ec2ARNs[id] = arn
	g.mu.Unlock()
}

// edge adds the edge label from → to. A key tells apart several edges of
// one label between one pair (see EdgeIDWithKey).
func (g *graph) edge(from ref, label string, to ref) { g.keyedEdge(from, label, to, "", nil) }

func (g *graph) keyedEdge(from ref, label string, to ref, key string, props map[string]any) {
	if from.empty() || to.empty() {
		return // an optional field the API left empty: no relation
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.edges = append(g.edges, pendingEdge{label: label, from: from, to: to, key: key, props: props})
}

// edgesTo adds an edge from → each EC2 resource of kind among ids.
func (g *graph) edgesTo(from ref, label, kind string, ids []string) {
	for _, id := range ids {
		if id != "" {
			g.edge(from, label, ec2Ref(kind, id))
		}
	}
}

// skipped counts references that named no vertex this source can label,
// by what they named (an ARN's service, or "not an ARN").
type skipped map[string]int

func (s skipped) total() int {
	n := 0
	for _, c := range s {
		n += c
	}
	return n
}

func (s skipped) String() string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(s)) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, s[k]))
	}
	return strings.Join(parts, ",")
}

// build resolves every edge's ends and returns the vertices and edges in id
// order (so equal discoveries give equal batches), and what was skipped.
func (g *graph) build() ([]edgebatch.Vertex, []edgebatch.Edge, skipped, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.problems) > 0 {
		return nil, nil, nil, fmt.Errorf("inconsistent listing: %s", strings.Join(g.problems, "; "))
	}
	skip := skipped{}
	edges := map[string]edgebatch.Edge{}
	for _, e := range g.edges {
		from, ok := g.resolve(e.from, skip)
		if !ok {
			continue
		}
		to, ok := g.resolve(e.to, skip)
		if !ok {
			continue
		}
		id := edgebatch.EdgeIDWithKey(e.label, from, to, e.key)
		if _, dup := edges[id]; !dup { // one relation seen twice (an SG named twice) is one edge
			edges[id] = edgebatch.Edge{ID: id, Label: e.label, From: from, To: to, Props: e.props}
		}
	}
	vs := make([]edgebatch.Vertex, 0, len(g.vertices))
	for _, id := range slices.Sorted(maps.Keys(g.vertices)) {
		vs = append(vs, *g.vertices[id])
	}
	es := make([]edgebatch.Edge, 0, len(edges))
	for _, id := range slices.Sorted(maps.Keys(edges)) {
		es = append(es, edges[id])
	}
	return vs, es, skip, nil
}

// resolve returns the vertex id r names, adding a vertex for a resource seen
// only as a reference. It reports false, and counts r, when r names nothing
// this source can label: an edge to an unlabelled vertex would be a guess.
// Called with g.mu held.
func (g *graph) resolve(r ref, skip skipped) (string, bool) {
	id := r.arn
	if r.ec2ID != "" {
		if arn, ok := g.ec2ARNs[r.ec2ID]; ok {
			id = arn
		} else {
			id = g.acct.Regional("ec2", r.ec2Kind+"/"+r.ec2ID)
		}
	}
	if _, ok := g.vertices[id]; ok {
		return id, true
	}
	cfnType := r.cfnType
	if cfnType == "" {
		t, ok := awsarn.TypeOf(id)
		if !ok {
			service, _, _, _, isARN := awsarn.Parse(id)
			if !isARN {
				service = "not an ARN"
			}
			skip[service]++
			return "", false
		}
		cfnType = t
	}
	g.vertices[id] = &edgebatch.Vertex{ID: id, Label: edgebatch.AWSLabel(cfnType), Props: referenceProps(cfnType, id)}
	return id, true
}

// referenceProps are the props a vertex seen only as a reference gets: what
// its ARN tells. Only roles are always references (IAM is not listed), so
// they get their name and path.
func referenceProps(cfnType, arn string) map[string]any {
	if cfnType != "AWS::IAM::Role" {
		return nil
	}
	_, _, _, resource, _ := awsarn.Parse(arn)
	rest := strings.TrimPrefix(resource, "role")
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return nil
	}
	return map[string]any{"name": rest[i+1:], "path": rest[:i+1]}
}

// props builds a props map from key/value pairs, leaving out empty strings,
// nil pointers and zero numbers: an absent prop says "unknown" better than a
// zero that looks like a value.
func props(kv ...any) map[string]any {
	m := map[string]any{}
	for i := 0; i+1 < len(kv); i += 2 {
		k := kv[i].(string)
		switch v := kv[i+1].(type) {
		case string:
			if v != "" {
				m[k] = v
			}
		case *string:
			if v != nil && *v != "" {
				m[k] = *v
			}
		case *int32:
			if v != nil && *v != 0 {
				m[k] = int64(*v)
			}
		case int32:
			if v != 0 {
				m[k] = int64(v)
			}
		case int64:
			if v != 0 {
				m[k] = v
			}
		case *bool:
			if v != nil {
				m[k] = *v
			}
		case bool:
			m[k] = v
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}
