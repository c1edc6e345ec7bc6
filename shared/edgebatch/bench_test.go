package edgebatch

import (
	"math/rand/v2"
	"testing"
)

// benchGraph is the benchmarks' discovery: 10,000 calls among 2,000 services.
func benchGraph() *Batch {
	b := graph(rand.New(rand.NewPCG(42, 42)), 2000, 10_000, 0)
	b.Snapshot = &Snapshot{ID: "deepflow/prod-eks/2026-11-21T10:05:00Z", Scope: "deepflow/prod-eks"}
	return b
}

// BenchmarkSplit splits 10,000 edges into batches of DefaultMaxElements.
func BenchmarkSplit(b *testing.B) {
	in := benchGraph()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Split(in, SplitLimits{}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(in.Edges)), "ns/edge")
}

// BenchmarkEncode encodes every batch of 10,000 edges (split as Split does;
// the batches are gzipped).
func BenchmarkEncode(b *testing.B) {
	batches, err := Split(benchGraph(), SplitLimits{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, bt := range batches {
			if _, err := Encode(bt); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/edge")
}

// BenchmarkEncodePlain is BenchmarkEncode with batches under GzipThreshold.
func BenchmarkEncodePlain(b *testing.B) {
	batches, err := Split(benchGraph(), SplitLimits{MaxBytes: GzipThreshold})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, bt := range batches {
			if _, err := Encode(bt); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/edge")
}

// BenchmarkDecode decodes the messages of 10,000 edges (gzipped).
func BenchmarkDecode(b *testing.B) {
	batches, err := Split(benchGraph(), SplitLimits{})
	if err != nil {
		b.Fatal(err)
	}
	msgs := make([]Message, len(batches))
	for i, bt := range batches {
		msgs[i] = mustEncode(b, bt)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, m := range msgs {
			if _, err := Decode(m.Body, m.Attributes); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/10_000, "ns/edge")
}

// BenchmarkValidate validates the batches of 10,000 edges.
func BenchmarkValidate(b *testing.B) {
	batches, err := Split(benchGraph(), SplitLimits{})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, bt := range batches {
			if err := Validate(bt); err != nil {
				b.Fatal(err)
			}
		}
	}
}
