package edgebatch

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

var testTime = time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)

// testBatch is a small valid batch: two services and a call between them.
func testBatch() *Batch {
	a, b := ServiceID("petsite", "payforadoption"), ServiceID("petsite", "petsearch")
	return &Batch{
		V:          Version,
		Source:     "deepflow",
		ObservedAt: testTime,
		Vertices: []Vertex{
			{ID: a, Label: ServiceLabel, Props: map[string]any{"name": "payforadoption", "namespace": "petsite"}},
			{ID: b, Label: ServiceLabel, Props: map[string]any{"name": "petsearch", "namespace": "petsite"}},
		},
		Edges: []Edge{{
			ID: EdgeID(CallsLabel, a, b), Label: CallsLabel, From: a, To: b,
			Props: map[string]any{"requests": 1200, "server_errors": 3, "client_errors": 0, "timeouts": 0, "rrt_avg_us": 1530.2},
		}},
	}
}

// graph is a DeepFlow-like graph: nv services in namespaces of 50, ne
// distinct calls between them chosen by rng (nv*nv must exceed ne), and lone
// vertices without edges.
func graph(rng *rand.Rand, nv, ne, lone int) *Batch {
	b := &Batch{V: Version, Source: "deepflow", ObservedAt: testTime}
	svc := func(i int) string { return ServiceID(fmt.Sprintf("ns-%d", i/50), fmt.Sprintf("service-%d", i)) }
	for i := range nv + lone {
		b.Vertices = append(b.Vertices, Vertex{ID: svc(i), Label: ServiceLabel, Props: map[string]any{
			"name": fmt.Sprintf("service-%d", i), "namespace": fmt.Sprintf("ns-%d", i/50),
		}})
	}
	seen := make(map[[2]int]bool, ne)
	for len(b.Edges) < ne {
		f, t := rng.IntN(nv), rng.IntN(nv)
		if seen[[2]int{f, t}] {
			continue
		}
		seen[[2]int{f, t}] = true
		b.Edges = append(b.Edges, Edge{
			ID: EdgeID(CallsLabel, svc(f), svc(t)), Label: CallsLabel, From: svc(f), To: svc(t),
			Props: map[string]any{
				"requests": float64(rng.IntN(100000)), "server_errors": float64(rng.IntN(100)),
				"client_errors": float64(rng.IntN(100)), "timeouts": float64(rng.IntN(10)),
				"rrt_avg_us": float64(rng.IntN(1e7)) / 10, "l7_protocol": "HTTP",
			},
		})
	}
	return b
}

// randomText is n bytes of printable ASCII that gzip cannot shrink enough to
// pay for base64 ('"' and '\' left out so that the JSON is n bytes too).
func randomText(rng *rand.Rand, n int) string {
	const alphabet = " !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~"
	var sb strings.Builder
	sb.Grow(n)
	for range n {
		sb.WriteByte(alphabet[rng.IntN(len(alphabet))])
	}
	return sb.String()
}

// problemPaths is the paths of err's problems, or nil when err is nil.
func problemPaths(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	ve, ok := err.(*ValidationError)
	if !ok {
		t.Fatalf("error is a %T, not a *ValidationError: %v", err, err)
	}
	var paths []string
	for _, p := range ve.Problems {
		paths = append(paths, p.Path)
	}
	return paths
}
