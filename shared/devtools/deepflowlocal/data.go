package deepflowlocal

import (
	"fmt"
	"time"

	"github.com/graphfleet/graphfleet/producer/demo"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Endpoint types of auto_service_type.
const (
	typeK8sService = 11
	typeIP         = 255
)

// Constant tags of the generated rows.
const (
	Cluster = "petsite-eks"
	VPC     = "vpc-petsite"
)

// ExtraRowsPerCopy is how many rows each copy of the topology has besides
// demo's calls: two calls to endpoints known only by IP, and one call whose
// direction is a guess (a low direction_score).
const ExtraRowsPerCopy = 3

// LowDirectionScore is the direction_score of the guessed-direction call.
const LowDirectionScore = 60

// endpoint is one side of a call.
type endpoint struct {
	name    string
	typ     int64
	id      int64
	ns      string
	cluster string
	vpc     string
}

// callRow is one application_map row grouped by every tag served.
type callRow struct {
	side   [2]endpoint // client, server
	port   int64
	l7     string
	req    int64
	resp   int64
	err    int64
	srvErr int64
	cliErr int64
	tmo    int64
	rrtAvg float64
	rrtMax float64
	dir    int64
}

// generate maps demo's PetSite calls to rows: one K8s Service row per demo
// call edge (port 80, HTTP, direction 255), plus ExtraRowsPerCopy per copy.
// Service ids are stable: 4000 plus the service's place in demo's vertex list.
func generate(scale int, seed uint64) []callRow {
	b := demo.New(scale, seed).Calls(time.Unix(0, 0).UTC())
	svcs := make(map[string]endpoint, len(b.Vertices))
	var namespaces []string
	seenNS := map[string]bool{}
	for i, v := range b.Vertices {
		name, _ := v.Props["name"].(string)
		ns, _ := v.Props["namespace"].(string)
		svcs[v.ID] = endpoint{name: name, typ: typeK8sService, id: 4000 + int64(i), ns: ns, cluster: Cluster, vpc: VPC}
		if !seenNS[ns] {
			seenNS[ns] = true
			namespaces = append(namespaces, ns)
		}
	}
	num := func(props map[string]any, k string) int64 {
		n, _ := props[k].(int64) // counts are integers (Longs in the graph)
		return n
	}
	rows := make([]callRow, 0, len(b.Edges)+ExtraRowsPerCopy*len(namespaces))
	for _, e := range b.Edges {
		req := num(e.Props, "requests")
		srv, cli, tmo := num(e.Props, "server_errors"), num(e.Props, "client_errors"), num(e.Props, "timeouts")
		rrt, _ := e.Props["rrt_avg_us"].(float64)
		rows = append(rows, callRow{
			side: [2]endpoint{svcs[e.From], svcs[e.To]}, port: 80, l7: "HTTP",
			req: req, resp: req - tmo, err: srv + cli, srvErr: srv, cliErr: cli, tmo: tmo,
			rrtAvg: rrt, rrtMax: rrt*4 + 1000, dir: 255,
		})
	}
	for c, ns := range namespaces {
		svc := func(name string) endpoint {
			if e, ok := svcs[edgebatch.ServiceID(ns, name)]; ok {
				return e
			}
			panic("deepflowlocal: demo has no service " + name)
		}
		ip := func(host int) endpoint {
			return endpoint{name: fmt.Sprintf("10.%d.%d.%d", 1+c/250, c%250, host), typ: typeIP, vpc: VPC}
		}
		rows = append(rows,
			// PetSite's databases, seen by IP only.
			callRow{side: [2]endpoint{svc("petsearch"), ip(17)}, port: 5432, l7: "PostgreSQL",
				req: 9120, resp: 9120, rrtAvg: 812.5, rrtMax: 14002, dir: 254},
			callRow{side: [2]endpoint{svc("petfood"), ip(42)}, port: 6379, l7: "Redis",
				req: 4410, resp: 4408, err: 2, srvErr: 2, rrtAvg: 150.25, rrtMax: 2200, dir: 253},
			// A pair whose direction the agent could only guess.
			callRow{side: [2]endpoint{svc("petsearch"), svc("petsite")}, port: 80, l7: "HTTP",
				req: 12, resp: 12, rrtAvg: 900.5, rrtMax: 1500, dir: LowDirectionScore},
		)
	}
	return rows
}
