package graph

import (
	"context"
	"fmt"
	"testing"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

// upsertRequest is one writer request of 200 records: 40 chained mergeV
// upserts of a label and 4 properties, ending with id() as Neptune advises.
func upsertRequest(n, poolSize int) *graphbinary.Bytecode {
	b := g()
	for j := 0; j < 40; j++ {
		id := fmt.Sprintf("svc:bench/%d", (n*40+j)%poolSize)
		props := m("name", id, "requests", int64(n), "rrt_avg_us", 1530.2, "active", true)
		refresh := m()
		for k, v := range props {
			refresh[k] = cv(single, v)
		}
		create := m(tLabel, "Service")
		for k, v := range props {
			create[k] = v
		}
		b.s("mergeV", m(tID, id)).s("option", onCreate, create).s("option", onMatch, refresh)
	}
	return b.s("id").B()
}

func BenchmarkUpsert200Records(b *testing.B) {
	const records = 200
	reqs := make([]*graphbinary.Bytecode, 512)
	for i := range reqs {
		reqs[i] = upsertRequest(i, 20000) // a mix of creates and matches
	}
	b.Run("serial", func(b *testing.B) {
		gr := New()
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := gr.Execute(context.Background(), reqs[i%len(reqs)]); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
	})
	b.Run("parallel", func(b *testing.B) {
		gr := New()
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := gr.Execute(context.Background(), reqs[i%len(reqs)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
		b.ReportMetric(float64(records*b.N)/b.Elapsed().Seconds(), "records/s")
	})
}
