package graph

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
)

func TestConcurrentWriters(t *testing.T) {
	const (
		writers  = 8
		requests = 100
		pool     = 20
		perReq   = 5
	)
	vid := func(i int) string { return fmt.Sprintf("v%02d", i%pool) }
	eid := func(i int) string { return fmt.Sprintf("e:%s>%s", vid(i), vid(i+1)) }

	// request upserts perReq overlapping vertices, then the edges between
	// them; every tenth request of writer 0 also upserts a temporary vertex
	// and then fails, so it must leave nothing behind.
	request := func(w, r int) *tb {
		b := g()
		start := r*perReq + w
		wk := fmt.Sprintf("w%d", w)
		for j := 0; j < perReq; j++ {
			id := vid(start + j)
			b.s("mergeV", m(tID, id)).
				s("option", onCreate, m(tLabel, "Service", "name", id, wk, true, "writers", int32(w))).
				s("option", onMatch, m(wk, cv(single, true), "writers", int32(w)))
		}
		for j := 0; j < perReq-1; j++ {
			b.s("mergeE", m(tID, eid(start+j))).
				s("option", onCreate, m(dOut, vid(start+j), dIn, vid(start+j+1), tLabel, "calls", "n", int32(1))).
				s("option", onMatch, m("last_writer", int32(w)))
		}
		if w == 0 && r%10 == 0 {
			b.s("mergeV", m(tID, fmt.Sprintf("tmp-%d", r))).
				s("mergeE", m(tID, "broken")).s("option", onCreate, m(dOut, vid(0), dIn, "missing", tLabel, "x"))
		}
		return b.s("id")
	}

	gr := New()
	var wg sync.WaitGroup
	var failures, unexpected atomic.Int64
	stop := make(chan struct{})
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for r := 0; r < requests; r++ {
				_, err := gr.Execute(context.Background(), request(w, r).B())
				switch {
				case err == nil:
				case w == 0 && r%10 == 0:
					failures.Add(1)
				default:
					t.Errorf("writer %d request %d: %v", w, r, err)
					unexpected.Add(1)
				}
			}
		}(w)
	}
	// Readers check that every snapshot is consistent while writers run.
	var readers sync.WaitGroup
	for i := 0; i < 2; i++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				d := gr.Dump()
				ids := map[string]bool{}
				for _, v := range d.Vertices {
					ids[v.ID] = true
					if len(v.ID) > 4 && v.ID[:4] == "tmp-" {
						t.Errorf("a failed request's vertex is visible: %s", v.ID)
						return
					}
				}
				for _, e := range d.Edges {
					if !ids[e.From] || !ids[e.To] {
						t.Errorf("edge %s has a missing endpoint in a snapshot", e.ID)
						return
					}
				}
				if _, err := gr.Execute(context.Background(), g().s("V").s("out").s("count").B()); err != nil {
					t.Errorf("read: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	if unexpected.Load() > 0 {
		t.FailNow()
	}
	if failures.Load() != requests/10 {
		t.Fatalf("%d failing requests failed, want %d", failures.Load(), requests/10)
	}

	d := gr.Dump()
	if len(d.Vertices) != pool {
		t.Fatalf("%d vertices, want %d", len(d.Vertices), pool)
	}
	for i, v := range d.Vertices {
		want := map[string][]any{"name": {vid(i)}}
		for w := 0; w < writers; w++ {
			want[fmt.Sprintf("w%d", w)] = []any{true}
		}
		writersSeen := sortedAny(v.Properties["writers"])
		delete(v.Properties, "writers")
		if v.ID != vid(i) || v.Label != "Service" {
			t.Fatalf("vertex %d is %s/%s", i, v.ID, v.Label)
		}
		same(t, v.Properties, want)
		same(t, writersSeen, []any{int32(0), int32(1), int32(2), int32(3), int32(4), int32(5), int32(6), int32(7)})
	}
	var gotEdges, wantEdges []string
	for _, e := range d.Edges {
		gotEdges = append(gotEdges, e.ID)
		lw, ok := e.Properties["last_writer"].(int32)
		if e.Label != "calls" || e.Properties["n"] != int32(1) || !ok || lw < 0 || lw >= writers || len(e.Properties) != 2 {
			t.Fatalf("edge %+v", e)
		}
		if eid(0) == e.ID && (e.From != vid(0) || e.To != vid(1)) {
			t.Fatalf("edge %+v has the wrong endpoints", e)
		}
	}
	for i := 0; i < pool; i++ {
		wantEdges = append(wantEdges, eid(i))
	}
	sort.Strings(wantEdges)
	same(t, gotEdges, wantEdges)
}
