package edgebatch_test

import (
	"fmt"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

func ExampleEncode() {
	from := edgebatch.ServiceID("petsite", "payforadoption")
	to := edgebatch.ServiceID("petsite", "petsearch")
	b := &edgebatch.Batch{
		V:          edgebatch.Version,
		Source:     "deepflow",
		ObservedAt: time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC),
		Vertices: []edgebatch.Vertex{
			{ID: from, Label: edgebatch.ServiceLabel, Props: map[string]any{"name": "payforadoption", "namespace": "petsite"}},
			{ID: to, Label: edgebatch.ServiceLabel, Props: map[string]any{"name": "petsearch", "namespace": "petsite"}},
		},
		Edges: []edgebatch.Edge{{
			ID:    edgebatch.EdgeID(edgebatch.CallsLabel, from, to),
			Label: edgebatch.CallsLabel, From: from, To: to,
			Props: map[string]any{"requests": 1200, "rrt_avg_us": 1530.2},
		}},
	}

	// Producer side.
	msg, err := edgebatch.Encode(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(msg.Attributes)
	fmt.Println(msg.Body)

	// Worker side.
	got, err := edgebatch.Decode(msg.Body, msg.Attributes)
	if err != nil {
		// errors.Is(err, edgebatch.ErrMalformed): to the DLQ with edgebatch.Reason(err).
		panic(err)
	}
	fmt.Println(got.Edges[0].ID, got.Edges[0].Props["requests"])

	// A broken message is refused for good, with a reason for the DLQ.
	_, err = edgebatch.Decode(`{"v":1,"source":"deepflow","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"svc:a","label":"Service"}],"edges":[{"id":"calls:svc:a>svc:b","label":"calls","from":"svc:a","to":"svc:b"}]}`, nil)
	fmt.Println(edgebatch.Reason(err))
	// Output:
	// map[schema:edgebatch.v1 source:deepflow]
	// {"v":1,"source":"deepflow","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"svc:petsite/payforadoption","label":"Service","props":{"name":"payforadoption","namespace":"petsite"}},{"id":"svc:petsite/petsearch","label":"Service","props":{"name":"petsearch","namespace":"petsite"}}],"edges":[{"id":"calls:svc:petsite/payforadoption>svc:petsite/petsearch","label":"calls","from":"svc:petsite/payforadoption","to":"svc:petsite/petsearch","props":{"requests":1200,"rrt_avg_us":1530.2}}]}
	// calls:svc:petsite/payforadoption>svc:petsite/petsearch 1200
	// invalid edge batch: edges[0].to: "svc:b" is not among the batch's vertices
}

func ExampleSplit() {
	discovery := &edgebatch.Batch{
		V:          edgebatch.Version,
		Source:     "deepflow",
		ObservedAt: time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC),
		Snapshot:   &edgebatch.Snapshot{ID: "deepflow/prod-eks/2026-11-21T10:05:00Z", Scope: "deepflow/prod-eks"},
	}
	for i := range 5 {
		id := edgebatch.ServiceID("shop", fmt.Sprint("svc-", i))
		discovery.Vertices = append(discovery.Vertices, edgebatch.Vertex{ID: id, Label: edgebatch.ServiceLabel})
		if i > 0 {
			prev := discovery.Vertices[i-1].ID
			discovery.Edges = append(discovery.Edges, edgebatch.Edge{
				ID: edgebatch.EdgeID(edgebatch.CallsLabel, prev, id), Label: edgebatch.CallsLabel, From: prev, To: id,
			})
		}
	}

	batches, err := edgebatch.Split(discovery, edgebatch.SplitLimits{MaxElements: 5})
	if err != nil {
		panic(err)
	}
	for _, b := range batches {
		if b.Seal != nil {
			fmt.Printf("seq %d: seal of %d batches\n", b.Snapshot.Seq, b.Seal.Batches)
			continue
		}
		fmt.Printf("seq %d: %d vertices, %d edges\n", b.Snapshot.Seq, len(b.Vertices), len(b.Edges))
	}
	// Output:
	// seq 0: 3 vertices, 2 edges
	// seq 1: 3 vertices, 2 edges
	// seq 2: seal of 2 batches
}

func ExampleEdgeID() {
	fmt.Println(edgebatch.EdgeID(edgebatch.CallsLabel, "svc:petsite/payforadoption", "svc:petsite/petsearch"))
	// A '>' or '#' in an endpoint could let two edges share a readable id
	// ("calls:svc:a>b>svc:c" for both of these), so such edges are hashed.
	fmt.Println(edgebatch.EdgeID(edgebatch.CallsLabel, "svc:a>b", "svc:c"))
	fmt.Println(edgebatch.EdgeID(edgebatch.CallsLabel, "svc:a", "b>svc:c"))
	// Output:
	// calls:svc:petsite/payforadoption>svc:petsite/petsearch
	// calls:sha256:9a5a80348adae8f373142dca01368baeed4fa2c07dde2deddb4e5b19d1836e2e
	// calls:sha256:d2662506a21d7b28abefd346087545307af756b3a0bc5643544712c6072d7168
}
