// Command targets writes vegeta targets for the push API: -n POSTs of
// /v1/batches, each an edge batch v1 of -edges-per-batch edges drawn from a
// generated topology (the k6 scenarios' topology: -services services
// "svc:ns<i%7>/svc-<i>", each calling the next -fanout), built with
// shared/edgebatch and checked by its validator, so every body is valid.
// Output: vegeta's JSON target format, one target a line, body base64.
//
//	go run ./loadtest/vegeta/targets -n 500 -url http://127.0.0.1:8088 > /tmp/targets.json
//	cd loadtest/tools && go tool vegeta attack -format=json -targets /tmp/targets.json -rate 100 -duration 30s | go tool vegeta report
//
// INGEST_TOKEN, when set, goes into each target's Authorization header (so
// the targets file holds the token: keep it out of version control).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// target is one line of vegeta's JSON target format.
type target struct {
	Method string              `json:"method"`
	URL    string              `json:"url"`
	Body   []byte              `json:"body"` // base64 in JSON, as vegeta wants
	Header map[string][]string `json:"header"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "targets:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 500, "targets to write (vegeta cycles through them)")
	base := flag.String("url", "http://127.0.0.1:8088", "push API base URL")
	services := flag.Int("services", 2000, "services in the topology")
	fanout := flag.Int("fanout", 5, "calls per service")
	per := flag.Int("edges-per-batch", 100, "edges per batch")
	seed := flag.Uint64("seed", 1, "random seed (the same seed gives the same file)")
	flag.Parse()
	if *services < 2 || *fanout < 1 || *fanout >= *services || *per < 1 {
		return fmt.Errorf("want -services >= 2, 1 <= -fanout < -services, -edges-per-batch >= 1")
	}
	header := map[string][]string{"Content-Type": {"application/json"}}
	if tok := os.Getenv("INGEST_TOKEN"); tok != "" {
		header["Authorization"] = []string{"Bearer " + tok}
	}
	rng := rand.New(rand.NewPCG(*seed, 0))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	observed := time.Now().UTC().Truncate(time.Second)
	for range *n {
		b := batch(*services, *fanout, rng.IntN(*services**fanout), *per, observed)
		body, err := json.Marshal(b)
		if err != nil {
			return err
		}
		// The push API's own check, so a bad target is found here.
		if _, err := edgebatch.Decode(string(body), nil); err != nil {
			return fmt.Errorf("generated an invalid batch: %w", err)
		}
		if err := enc.Encode(target{Method: "POST", URL: *base + "/v1/batches", Body: body, Header: header}); err != nil {
			return err
		}
	}
	return nil
}

func serviceID(i int) string {
	return edgebatch.ServiceID(fmt.Sprintf("ns%d", i%7), fmt.Sprintf("svc-%d", i))
}

// batch is n consecutive edges of the topology from edge number start, with
// their endpoints.
func batch(services, fanout, start, n int, observed time.Time) *edgebatch.Batch {
	b := &edgebatch.Batch{V: edgebatch.Version, Source: "vegeta", ObservedAt: observed}
	seen := map[int]bool{}
	vertex := func(i int) {
		if !seen[i] {
			seen[i] = true
			b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: serviceID(i), Label: edgebatch.ServiceLabel,
				Props: map[string]any{"name": fmt.Sprintf("svc-%d", i), "namespace": fmt.Sprintf("ns%d", i%7), "tier": int64(i % 3)}})
		}
	}
	total := services * fanout
	for e := range n {
		k := (start + e) % total
		i, j := k/fanout, k%fanout+1
		to := (i + j) % services
		vertex(i)
		vertex(to)
		from, toID := serviceID(i), serviceID(to)
		b.Edges = append(b.Edges, edgebatch.Edge{ID: edgebatch.EdgeID(edgebatch.CallsLabel, from, toID), Label: edgebatch.CallsLabel, From: from, To: toID,
			Props: map[string]any{"requests": int64(1 + k*7919%5000), "server_errors": int64(k % 3), "rrt_avg_us": 1530.25 + float64(k%100)}})
	}
	return b
}
