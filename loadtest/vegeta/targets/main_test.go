package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Every generated batch passes the one validator, wrapping around the
// topology's end included.
func TestBatchesAreValid(t *testing.T) {
	for _, start := range []int{0, 17, 9_990} {
		b := batch(2000, 5, start, 100, time.Unix(1_800_000_000, 0))
		body, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got, err := edgebatch.Decode(string(body), nil)
		if err != nil {
			t.Fatalf("start %d: %v", start, err)
		}
		if len(got.Edges) != 100 {
			t.Errorf("start %d: %d edges", start, len(got.Edges))
		}
	}
}
