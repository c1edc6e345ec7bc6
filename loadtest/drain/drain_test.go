package main

import (
	"context"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		out := make([]time.Duration, len(v))
		for i, x := range v {
			out[i] = time.Duration(x) * time.Millisecond
		}
		return out
	}
	xs := ms(50, 10, 40, 20, 30, 60, 70, 80, 90, 100)
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{50, 50 * time.Millisecond}, {99, 100 * time.Millisecond}, {100, 100 * time.Millisecond}, {10, 10 * time.Millisecond}, {0, 10 * time.Millisecond}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("percentile(p%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if xs[0] != 50*time.Millisecond {
		t.Error("percentile sorted its argument in place")
	}
	if percentile(nil, 50) != 0 {
		t.Error("percentile of nothing is not 0")
	}
	if got := percentile(ms(7), 99); got != 7*time.Millisecond {
		t.Errorf("one value: %v", got)
	}
}

func TestProcParsing(t *testing.T) {
	// A command name with spaces and a parenthesis, as /proc allows.
	stat := "1234 (my (odd) worker) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 50 0 0 20 0 9 0 100 1000000 2000 18446744073709551615"
	got, err := parseProcStat(stat)
	if err != nil || got != 3*time.Second {
		t.Fatalf("parseProcStat = %v, %v; want 3s (300 ticks)", got, err)
	}
	if _, err := parseProcStat("garbage"); err == nil {
		t.Error("parseProcStat accepted garbage")
	}
	status := "Name:\tworker\nVmPeak:\t  900000 kB\nVmHWM:\t   65536 kB\nVmRSS:\t   40000 kB\n"
	rss, err := parseVmHWM(status)
	if err != nil || rss != 64<<20 {
		t.Fatalf("parseVmHWM = %d, %v; want 64 MiB", rss, err)
	}
	if _, err := parseVmHWM("Name:\tx\n"); err == nil {
		t.Error("parseVmHWM found a VmHWM in a status without one")
	}
	m0, err := parseMachineCPU("cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 1 2 3 4 5 6 7 8 9 10\n")
	if err != nil || m0 != (machineCPU{Busy: 150, Total: 1000}) {
		t.Fatalf("parseMachineCPU = %+v, %v", m0, err)
	}
	m1 := machineCPU{Busy: 1050, Total: 2000}
	if got := busyShare(m0, m1); got != 0.9 {
		t.Errorf("busyShare = %v, want 0.9", got)
	}
	if _, err := readMachineCPU(); err != nil {
		t.Errorf("readMachineCPU: %v", err)
	}
	// This process's own, to check the live files parse.
	if _, err := cpuOf(0); err != nil {
		t.Errorf("cpuOf(self): %v", err)
	}
}

func run100k() drainRun {
	return drainRun{
		Workload: "edges-100000", Edges: 100_000, Vertices: 20_000, Messages: 111, Drain: 10 * time.Second,
		Requests: 9_000, DataRequests: 8_917, Records: 1_773_000,
		Lags:       []time.Duration{time.Second, 2 * time.Second, 9 * time.Second},
		Workers:    []workerUsage{{PID: 1, CPU: 5 * time.Second, PeakRSS: 100 << 20}, {PID: 2, CPU: 4 * time.Second, PeakRSS: 300 << 20}},
		HarnessCPU: 8 * time.Second, SQSCPU: time.Second, SQSKnown: true,
		Cores: 2, Latency: 5 * time.Millisecond, StandinWorkers: 16, WorkerCount: 2, RSSLimit: 256 << 20,
		Samples: []sample{{T: 1, Edges: 10_000, EdgesPerS: 10_000, Depth: 100, Limits: []int{8, 8}}, {T: 2, Edges: 20_000, EdgesPerS: 10_000, Depth: 90, Limits: []int{9, 10}}},
	}
}

func TestReportComputation(t *testing.T) {
	d := run100k()
	if got := d.EdgesPerSecond(); got != 10_000 {
		t.Errorf("edges/s = %v", got)
	}
	if got := d.RecordsPerRequest(); got != 197 {
		t.Errorf("records/request = %v", got)
	}
	if got := d.CPUPerEdge(); got != 90*time.Microsecond {
		t.Errorf("CPU per edge = %v", got)
	}
	if over := d.RSSOver(); len(over) != 1 || over[0].PID != 2 {
		t.Errorf("RSSOver = %+v, want worker 2 only", over)
	}

	// 18 s of CPU in 10 s on 2 cores: 90% busy, CPU-bound, the stand-in's
	// slots held 9000 x 5 ms / (16 x 10 s) = 28%.
	l := limitedBy(d)
	if !strings.HasPrefix(l.Verdict, "CPU") || l.CPUBusy < 0.89 || l.CPUBusy > 0.91 {
		t.Errorf("limiter = %+v, want CPU at 90%%", l)
	}
	if l.NeptuneBusy < 0.28 || l.NeptuneBusy > 0.29 {
		t.Errorf("Neptune busy = %v, want 0.28", l.NeptuneBusy)
	}
	// The same requests at 50 ms hold the slots: Neptune-bound.
	d.Latency = 50 * time.Millisecond
	if l := limitedBy(d); !strings.HasPrefix(l.Verdict, "Neptune") {
		t.Errorf("at 50 ms: %q, want Neptune's capacity", l.Verdict)
	}
	// Little CPU of our own on a machine others kept busy: still CPU.
	d = run100k()
	d.Workers, d.HarnessCPU, d.SQSCPU, d.MachineBusy = nil, 6*time.Second, time.Second, 0.97
	if l := limitedBy(d); !strings.HasPrefix(l.Verdict, "CPU") {
		t.Errorf("busy machine: %q", l.Verdict)
	}
	// Little CPU and idle slots: waiting.
	d = run100k()
	d.Workers, d.HarnessCPU, d.SQSCPU = nil, time.Second, time.Second
	if l := limitedBy(d); !strings.HasPrefix(l.Verdict, "neither") {
		t.Errorf("idle: %q", l.Verdict)
	}

	capped := seedResult{Variant: seedSerial, Plan: seedPlan{Edges: 100_000, Services: 20_000, EdgePhase: 500_000, ServicePhase: 100_000},
		EdgesDone: 1_000, ServicesDone: 500, RequestsSent: 7_500, EdgeTime: 30 * time.Second, ServiceTime: 30 * time.Second, Capped: true}
	capped.Total = extrapolate(capped.EdgeTime, capped.EdgesDone, capped.Plan.Edges) + extrapolate(capped.ServiceTime, capped.ServicesDone, capped.Plan.Services)
	if capped.Total != 3000*time.Second+1200*time.Second {
		t.Errorf("extrapolated total = %v, want 4200s", capped.Total)
	}
	md := comparison{Ours: run100k(), Seeds: []seedResult{capped}}.markdown("edges-100000", "go run ./loadtest/drain -edges 100000", "2 cores")
	for _, want := range []string{"| Neptune requests | 9000 | 600000 (model;", "**1.2 h extrapolated**", "| graphfleet is faster by |  | 420x |",
		"| graphfleet sends fewer requests by |  | 67x |", "**OVER the 256 MiB limit**", "**RSS FLAG:**", "p50 2.00 s, p99 9.00 s"} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}

func TestSVG(t *testing.T) {
	doc := chartSVG("drain <test> & more", drainPanels(run100k().Samples))
	// Well-formed XML, escaped title, three panels, one line per worker limit.
	dec := xml.NewDecoder(strings.NewReader(doc))
	polylines, panels := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("not well-formed: %v\n%s", err, doc)
			}
			break
		}
		if se, ok := tok.(xml.StartElement); ok {
			switch se.Name.Local {
			case "polyline":
				polylines++
			case "g":
				panels++
			}
		}
	}
	if panels != 3 || polylines != 4 {
		t.Errorf("%d panels and %d lines, want 3 and 4 (rate, depth, 2 writer limits)", panels, polylines)
	}
	if !strings.Contains(doc, "drain &lt;test&gt; &amp; more") {
		t.Error("title not escaped")
	}
	// No samples still gives a valid document.
	if err := xml.Unmarshal([]byte(chartSVG("empty", drainPanels(nil))), new(struct{})); err != nil {
		t.Errorf("empty chart: %v", err)
	}
	for v, want := range map[float64]float64{0: 1, 0.3: 0.5, 7: 10, 10: 10, 12_345: 20_000, 150: 200} {
		if got := niceMax(v); got != want {
			t.Errorf("niceMax(%v) = %v, want %v", v, got, want)
		}
	}
}

// tiny is three services calling each other in a ring, plus one isolated
// vertex (which no edge touches, so no per-service work).
func tiny() *edgebatch.Batch {
	b := &edgebatch.Batch{V: edgebatch.Version, Source: "deepflow", ObservedAt: time.Unix(1_800_000_000, 0).UTC()}
	ids := []string{"svc:a/x", "svc:a/y", "svc:a/z", "svc:a/lonely"}
	for _, id := range ids {
		b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: id, Label: edgebatch.ServiceLabel, Props: map[string]any{"name": id[6:]}})
	}
	for i := range 3 {
		from, to := ids[i], ids[(i+1)%3]
		b.Edges = append(b.Edges, edgebatch.Edge{ID: edgebatch.EdgeID(edgebatch.CallsLabel, from, to), Label: edgebatch.CallsLabel,
			From: from, To: to, Props: map[string]any{"requests": int64(i + 1)}})
	}
	return b
}

func TestSeedStyleRequestCounts(t *testing.T) {
	b := tiny()
	// 3 edges x 5 + 3 services x 5 = 30; batched: 2 x ceil(6/20) + 3 + 5 x ceil(3/20) = 10.
	if p := planSeed(b, seedSerial); p.Requests() != 30 || p.Services != 3 {
		t.Errorf("serial plan %+v, want 30 requests over 3 services", p)
	}
	if p := planSeed(b, seedBatched); p.Requests() != 10 {
		t.Errorf("batched plan %+v, want 10 requests", p)
	}
	// The PetSite figures DESIGN.md quotes: 100 relations among 40 services.
	if got := (seedPlan{EdgePhase: 5 * 100, ServicePhase: 5 * 40}).Requests(); got != 700 {
		t.Errorf("PetSite model %d, want 700", got)
	}

	srv, err := neptunelocal.Start(neptunelocal.Options{Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	for _, v := range []seedVariant{seedSerial, seedBatched} {
		srv.Graph().Reset()
		before := srv.Stats()
		w := &seedWriter{endpoint: srv.URL(), variant: v}
		res, err := w.run(context.Background(), b, 0, func() int64 { return srv.Stats().Committed })
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		after := srv.Stats()
		want := int64(planSeed(b, v).Requests())
		if res.StandinRequests != want || int64(res.RequestsSent) != want || after.Requests-before.Requests != want {
			t.Errorf("%v: sent %d, stand-in committed %d of %d received, want %d", v, res.RequestsSent, res.StandinRequests, after.Requests-before.Requests, want)
		}
		if after.Errors != before.Errors {
			t.Errorf("%v: %d errors", v, after.Errors-before.Errors)
		}
		// A new connection per request.
		if got := after.ConnectionsTotal - before.ConnectionsTotal; got != want {
			t.Errorf("%v: %d connections for %d requests", v, got, want)
		}
		if res.Capped || res.Total <= 0 {
			t.Errorf("%v: capped %v, total %v", v, res.Capped, res.Total)
		}
		// The seed-style writer wrote the same graph: the 3 ring services and
		// edges (the lonely vertex has no edge, so it never wrote it).
		if nv, ne := srv.Graph().Counts(); nv != 3 || ne != 3 {
			t.Errorf("%v: graph has %d vertices and %d edges, want 3 and 3", v, nv, ne)
		}
	}
}
