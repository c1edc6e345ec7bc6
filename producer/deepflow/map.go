package deepflow

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// IPEndpointLabel labels an endpoint DeepFlow knows only by its IP address.
const IPEndpointLabel = "IPEndpoint"

// DirectionCertainScore is the lowest direction_score whose client/server
// direction DeepFlow's agent derived from evidence (252 from SYN/SYN-ACK, 253
// a configured server port, 254 L7 parsing, 255 certain); below it the
// direction is a heuristic guess.
const DirectionCertainScore = 252

// Service types of auto_service_type (DeepFlow's auto_service_type enum).
var serviceTypes = map[int64]string{
	0: "Internet IP", 1: "Cloud Host", 5: "Router", 6: "VM Hypervisor", 9: "DHCP GW",
	11: "K8s Service", 12: "Redis", 13: "RDS", 14: "K8s Node", 15: "LB", 16: "NAT GW",
	101: "K8s Workload", 102: "Service", 103: "K8s Cluster", 104: "Biz Service",
	105: "Custom Biz Service", 120: "Process", 130: "Deployment", 131: "StatefulSet",
	132: "ReplicationController", 133: "DaemonSet", 134: "ReplicaSetController",
	135: "CloneSet", 255: "IP",
}

// serviceTypeName is the enum name of t, or its number for a type added after
// this list.
func serviceTypeName(t int64) string {
	if n, ok := serviceTypes[t]; ok {
		return n
	}
	return strconv.FormatInt(t, 10)
}

// isIPType reports whether the querier returns the endpoint's IP string as
// its auto_service: 0 (Internet IP) and 255 (IP, an address no resource of
// DeepFlow's matched).
func isIPType(t int64) bool { return t == 0 || t == 255 }

// IPEndpointID is the id of an endpoint known only by its IP address:
// "ip:<ip>" for an Internet IP (type 0), whose address is global, and
// "ip:<vpc>/<ip>" for a private one (type 255) when the row names its VPC, so
// that 10.0.3.17 in two VPCs is two vertices ("ip:<ip>" when it does not).
//
// It is not edgebatch.ServiceID: an IP is not a service, it names whatever
// holds the address at the moment, and a service may be named like an IP
// ("svc:10.0.3.17" is a Kubernetes service called 10.0.3.17, never this
// endpoint). The "ip:" prefix keeps the two apart. The VPC is DeepFlow's VPC
// name, the only VPC column application_map has; renaming a VPC renames its
// IP endpoints.
func IPEndpointID(typ int64, ip, vpc string) string {
	if typ == 255 && vpc != "" {
		return "ip:" + vpc + "/" + ip
	}
	return "ip:" + ip
}

// vertex is the vertex of one endpoint.
func vertex(e endpoint) (edgebatch.Vertex, error) {
	if e.name == "" {
		// Never invent an id for a nameless endpoint, nor drop its calls
		// quietly: the querier always names services and IPs.
		return edgebatch.Vertex{}, fmt.Errorf("deepflow: an endpoint of type %s (id %d) has no auto_service", serviceTypeName(e.typ), e.id)
	}
	props := map[string]any{
		"name":                e.name,
		"service_type":        serviceTypeName(e.typ),
		"deepflow_service_id": e.id,
	}
	if e.cluster != "" {
		props["cluster"] = e.cluster
	}
	if isIPType(e.typ) {
		props["ip"] = e.name
		if e.vpc != "" {
			props["vpc"] = e.vpc
		}
		return edgebatch.Vertex{ID: IPEndpointID(e.typ, e.name, e.vpc), Label: IPEndpointLabel, Props: props}, nil
	}
	props["namespace"] = e.ns
	return edgebatch.Vertex{ID: edgebatch.ServiceID(e.ns, e.name), Label: edgebatch.ServiceLabel, Props: props}, nil
}

// CallKey is the key of a calls edge: "<server_port>/<l7 protocol>", e.g.
// "80/HTTP". Every calls edge is keyed (edgebatch.EdgeIDWithKey), even when
// only one port joins a pair: keying only when a second port appears would
// rename an edge from one window to the next, and the sweep would retire it
// while a twin appeared. One id per (client, server, port, protocol) stays
// the same across windows.
func CallKey(port int64, l7 string) string {
	return strconv.FormatInt(port, 10) + "/" + l7
}

// call accumulates the rows of one edge. Rows of one edge differ only in
// columns that are not part of its id (a VPC, a cluster, a type name).
type call struct {
	edge           edgebatch.Edge
	requests       int64
	responses      int64
	serverErrors   int64
	clientErrors   int64
	timeouts       int64
	rrtWeighted    float64 // sum of rrt_avg * requests
	rrtSum         float64 // sum of rrt_avg, for rows with no requests
	rows           int64
	rrtMax         float64
	directionScore int64
	port           int64
	l7             string
}

func (c *call) add(r *row) {
	c.requests += r.requests
	c.responses += r.responses
	c.serverErrors += r.serverErrors
	c.clientErrors += r.clientErrors
	c.timeouts += r.timeouts
	c.rrtWeighted += r.rrtAvg * float64(r.requests)
	c.rrtSum += r.rrtAvg
	c.rows++
	c.rrtMax = max(c.rrtMax, r.rrtMax)
	c.directionScore = max(c.directionScore, r.directionScore)
}

// rrtAvg is the average response time weighted by requests, or the plain
// mean of the rows when none has requests.
func (c *call) rrtAvg() float64 {
	if c.requests > 0 {
		return c.rrtWeighted / float64(c.requests)
	}
	return c.rrtSum / float64(c.rows)
}

// buildBatch maps rows to one batch observed at observed. Vertices and edges
// are sorted by id, so the same rows give the same batch whatever their order.
//
// Direction: an edge runs from the client (_0) to the server (_1) as DeepFlow
// reports it, and direction_certain says whether direction_score reached
// DirectionCertainScore. An uncertain pair is neither dropped nor reversed:
// dropping would hide real traffic, and reversing would guess against the
// only evidence there is; DeepFlow documents the score as a confidence for
// its consumers to judge, so the graph keeps both the edge and the score.
func buildBatch(rows []row, observed time.Time) (*edgebatch.Batch, error) {
	vertices := map[string]edgebatch.Vertex{}
	calls := map[string]*call{}
	for i := range rows {
		r := &rows[i]
		var ids [2]string
		for j, e := range [2]endpoint{r.client, r.server} {
			v, err := vertex(e)
			if err != nil {
				return nil, err
			}
			// The first row to name a vertex gives its props; rows come in
			// the query's total order, so the choice is the same every run.
			if _, ok := vertices[v.ID]; !ok {
				vertices[v.ID] = v
			}
			ids[j] = v.ID
		}
		key := CallKey(r.port, r.l7)
		id := edgebatch.EdgeIDWithKey(edgebatch.CallsLabel, ids[0], ids[1], key)
		c, ok := calls[id]
		if !ok {
			c = &call{edge: edgebatch.Edge{ID: id, Label: edgebatch.CallsLabel, From: ids[0], To: ids[1]}, port: r.port, l7: r.l7}
			calls[id] = c
		}
		c.add(r)
	}

	b := &edgebatch.Batch{V: edgebatch.Version, Source: "deepflow", ObservedAt: observed}
	for _, v := range vertices {
		b.Vertices = append(b.Vertices, v)
	}
	slices.SortFunc(b.Vertices, func(x, y edgebatch.Vertex) int { return cmp.Compare(x.ID, y.ID) })
	for _, c := range calls {
		e := c.edge
		e.Props = map[string]any{
			"requests":          c.requests,
			"responses":         c.responses,
			"server_errors":     c.serverErrors,
			"client_errors":     c.clientErrors,
			"timeouts":          c.timeouts,
			"rrt_avg_us":        c.rrtAvg(),
			"rrt_max_us":        c.rrtMax,
			"direction_score":   c.directionScore,
			"direction_certain": c.directionScore >= DirectionCertainScore,
			"l7_protocol":       c.l7,
			"server_port":       c.port,
		}
		b.Edges = append(b.Edges, e)
	}
	slices.SortFunc(b.Edges, func(x, y edgebatch.Edge) int { return cmp.Compare(x.ID, y.ID) })
	return b, nil
}
