package changes_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"go.opentelemetry.io/otel"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/graphfleet/graphfleet/shared/devtools/eventbridgelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graph"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/changes"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

var t0 = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// snapshot is a complete snapshot of scope at 'at': vertices and "a>b"
// edges (calls for deepflow, uses otherwise), one data batch and its seal.
func snapshot(source, scope string, at time.Time, items ...string) []*edgebatch.Batch {
	id := scope + "/" + at.Format(time.RFC3339)
	b := &edgebatch.Batch{V: 1, Source: source, ObservedAt: at, Snapshot: &edgebatch.Snapshot{ID: id, Scope: scope}}
	seen := map[string]bool{}
	addV := func(v string) string {
		vid := "svc:" + v
		if source != "deepflow" {
			vid = "arn:aws:lambda:eu-west-1:123456789012:function:" + v
		}
		if !seen[v] {
			seen[v] = true
			b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: vid, Label: "Service", Props: map[string]any{"name": v}})
		}
		return vid
	}
	for _, item := range items {
		from, to, isEdge := strings.Cut(item, ">")
		f := addV(from)
		if isEdge {
			t := addV(to)
			label := "uses"
			if source == "deepflow" {
				label = edgebatch.CallsLabel
			}
			b.Edges = append(b.Edges, edgebatch.Edge{ID: edgebatch.EdgeID(label, f, t), Label: label, From: f, To: t})
		}
	}
	return []*edgebatch.Batch{b, {V: 1, Source: source, ObservedAt: at, Snapshot: &edgebatch.Snapshot{ID: id, Scope: scope, Seq: 1}, Seal: &edgebatch.Seal{Batches: 1}}}
}

// deliver does with each batch what the worker's handler does.
func deliver(t *testing.T, w *neptune.Writer, batches []*edgebatch.Batch) {
	t.Helper()
	ctx := context.Background()
	for _, b := range batches {
		if b.Seal == nil {
			if _, err := w.Write(ctx, b); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Record(ctx, b); err != nil {
			t.Fatal(err)
		}
		if _, _, err := w.Settle(ctx, b, fmt.Sprint(b.Snapshot.ID, b.Snapshot.Seq)); err != nil {
			t.Fatal(err)
		}
	}
}

type rig struct {
	srv    *neptunelocal.Server
	bus    *eventbridgelocal.Server
	writer *neptune.Writer
	spans  *tracetest.InMemoryExporter
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	mp     *sdkmetric.MeterProvider
}

func newRig(t testing.TB, streamRecords int) *rig {
	t.Helper()
	srv, err := neptunelocal.Start(neptunelocal.Options{StreamRecords: streamRecords, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	bus, err := eventbridgelocal.Start("", "graph")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	r := &rig{srv: srv, bus: bus, spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	r.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(r.spans))
	r.mp = sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	// The writer's spans go to the global provider, as in the binary.
	otel.SetTracerProvider(r.tp)
	w, err := neptune.New(context.Background(), neptune.Config{Endpoint: srv.URL(), Logger: quiet, BaseBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	r.writer = w
	return r
}

// start runs a feed until the test ends or stop is called.
func (r *rig) start(t testing.TB, cfg changes.Config) (*changes.Feed, func()) {
	t.Helper()
	streamURL, err := changes.StreamURL(r.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 10 * time.Millisecond
	}
	cfg.Cluster = "local"
	api := eventbridge.New(eventbridge.Options{Region: "us-east-1", BaseEndpoint: aws.String(r.bus.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDLOCAL", "secret", "")})
	pub := &changes.Publisher{API: api, Bus: "graph", RetryBase: time.Millisecond, RetryMax: 5 * time.Millisecond}
	f, err := changes.New(cfg, &changes.Stream{URL: streamURL}, r.writer, pub, quiet, r.tp, r.mp)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return f, stop
}

// settled waits until the feed has mapped every change in the stream so
// far (the wait only bounds a hang; the verdict is on what the bus holds).
func (r *rig) settled(t testing.TB, f *changes.Feed) changes.Status {
	t.Helper()
	last, err := r.srv.Graph().ReadStream(graph.Latest, 0, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	target := last[0]
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st := f.Status()
		var c, o int64
		if _, err := fmt.Sscanf(st.Position, "%d.%d", &c, &o); err == nil &&
			(c > target.CommitNum || c == target.CommitNum && o >= target.OpNum) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("the feed did not reach %d.%d: %+v", target.CommitNum, target.OpNum, f.Status())
	return changes.Status{}
}

// seen renders the bus's events after 'from' as "type id [from>to]".
func seen(bus *eventbridgelocal.Server, from int) []string {
	var out []string
	for _, e := range bus.Events()[from:] {
		var d changes.Detail
		_ = jsonUnmarshal(e.Detail, &d)
		s := e.DetailType + " " + short(d.ID)
		if d.From != "" {
			s += " " + short(d.From) + ">" + short(d.To)
		}
		if d.Reactivated {
			s += " reactivated"
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func short(id string) string {
	if i := strings.LastIndexAny(id, ":/"); i >= 0 && !strings.HasPrefix(id, "calls:") && !strings.HasPrefix(id, "uses:") {
		return id[i+1:]
	}
	if strings.HasPrefix(id, "calls:") || strings.HasPrefix(id, "uses:") {
		label, rest, _ := strings.Cut(id, ":")
		f, to, _ := strings.Cut(rest, ">")
		return label + ":" + short(f) + ">" + short(to)
	}
	return id
}

func TestFeedPublishesGraphChanges(t *testing.T) {
	r := newRig(t, 100_000)
	f, stop := r.start(t, changes.Config{})

	// A new graph: every vertex and edge is an event, no bookkeeping is.
	deliver(t, r.writer, snapshot("deepflow", "deepflow/prod", t0, "a>b", "b>c"))
	deliver(t, r.writer, snapshot("aws", "aws/123/eu-west-1", t0, "x>y"))
	r.settled(t, f)
	got := seen(r.bus, 0)
	want := []string{
		"dependency.added calls:a>b a>b",
		"dependency.added calls:b>c b>c",
		"dependency.added uses:x>y x>y",
		"resource.added a", "resource.added b", "resource.added c", "resource.added x", "resource.added y",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("events of a new graph:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range r.bus.Events() {
		if e.Source != "graphfleet" || e.Bus != "graph" {
			t.Fatalf("event %+v: want source graphfleet on bus graph", e)
		}
		if strings.Contains(e.DetailType, "resource") && strings.Contains(string(e.Detail), "arn:aws:lambda") && len(e.Resources) != 1 {
			t.Fatalf("an AWS resource's event without its ARN in resources: %+v", e)
		}
		if e.TraceHeader == "" || !strings.HasPrefix(e.TraceHeader, "Root=1-") {
			t.Fatalf("event without the publish span's X-Ray header: %+v", e)
		}
	}

	// The same snapshot seen again later refreshes last_seen: noise, no event.
	n := len(r.bus.Events())
	deliver(t, r.writer, snapshot("deepflow", "deepflow/prod", t0.Add(time.Minute), "a>b", "b>c"))
	st := r.settled(t, f)
	if extra := seen(r.bus, n); len(extra) != 0 {
		t.Fatalf("a refresh made events: %v", extra)
	}
	if st.Noise == 0 {
		t.Fatalf("status %+v: the refresh's records should count as noise", st)
	}

	// b>c not seen: the sweep deactivates it (a calls edge); x>y gone from
	// AWS: the edge and both vertices are removed.
	n = len(r.bus.Events())
	deliver(t, r.writer, snapshot("deepflow", "deepflow/prod", t0.Add(2*time.Minute), "a>b", "c"))
	deliver(t, r.writer, snapshot("aws", "aws/123/eu-west-1", t0.Add(2*time.Minute), "z"))
	r.settled(t, f)
	got = seen(r.bus, n)
	want = []string{"dependency.deactivated calls:b>c b>c", "dependency.removed uses:x>y x>y", "resource.added z", "resource.removed x", "resource.removed y"}
	if !slices.Equal(got, want) {
		t.Fatalf("events of a sweep:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// b>c seen again: the dependency is back.
	n = len(r.bus.Events())
	deliver(t, r.writer, snapshot("deepflow", "deepflow/prod", t0.Add(3*time.Minute), "a>b", "b>c"))
	r.settled(t, f)
	if got := seen(r.bus, n); !slices.Equal(got, []string{"dependency.added calls:b>c b>c reactivated"}) {
		t.Fatalf("events of a reactivation: %v", got)
	}

	// EventBridge throttling and failing: retried, nothing lost, nothing
	// twice.
	n = len(r.bus.Events())
	r.bus.FailCalls("InternalException", "AccessDeniedException")
	r.bus.FailEntries("ThrottlingException", "InternalFailure")
	deliver(t, r.writer, snapshot("deepflow", "deepflow/prod", t0.Add(4*time.Minute), "a>b", "b>c", "c>d"))
	r.settled(t, f)
	if got := seen(r.bus, n); !slices.Equal(got, []string{"dependency.added calls:c>d c>d", "resource.added d"}) {
		t.Fatalf("events while EventBridge failed: %v", got)
	}

	// Refusals about the bus or the feed's rights (here more than the
	// attempts an event's own fault gets) are not the event's: nothing is
	// dropped, the position waits.
	n = len(r.bus.Events())
	r.bus.FailEntries(slices.Repeat([]string{"NotAuthorizedForDestinationException"}, 8)...)
	deliver(t, r.writer, snapshot("deepflow", "deepflow/prod", t0.Add(5*time.Minute), "a>b", "b>c", "c>d", "d>e"))
	if st := r.settled(t, f); st.Dropped != 0 {
		t.Fatalf("status %+v: events dropped for the bus's refusals", st)
	}
	if got := seen(r.bus, n); !slices.Equal(got, []string{"dependency.added calls:d>e d>e", "resource.added e"}) {
		t.Fatalf("events while the bus refused the feed: %v", got)
	}
	stop()

	// Every event id is unique and names its change; a feed started anew
	// from the oldest change repeats every event with the same id, the
	// duplicates a consumer drops after a crash.
	ids := map[string]bool{}
	for _, e := range r.bus.Events() {
		var d changes.Detail
		_ = jsonUnmarshal(e.Detail, &d)
		if ids[d.EventID] || d.EventID != fmt.Sprintf("local:%d:%d", d.CommitNum, d.OpNum) {
			t.Fatalf("event id %q (commit %d, op %d): duplicate or not deterministic", d.EventID, d.CommitNum, d.OpNum)
		}
		ids[d.EventID] = true
	}
	first := len(r.bus.Events())
	again, _ := r.start(t, changes.Config{Name: "second"})
	r.settled(t, again)
	for _, e := range r.bus.Events()[first:] {
		var d changes.Detail
		_ = jsonUnmarshal(e.Detail, &d)
		if !ids[d.EventID] {
			t.Fatalf("replayed event %s is new", d.EventID)
		}
		delete(ids, d.EventID)
	}
	if len(ids) != 0 {
		t.Fatalf("events not replayed: %v", ids)
	}

	// The first feed, restarted, resumes at its checkpoint: nothing again.
	n = len(r.bus.Events())
	resumed, _ := r.start(t, changes.Config{})
	if st := r.settled(t, resumed); len(r.bus.Events()) != n {
		t.Fatalf("a restarted feed published %d events again (status %+v)", len(r.bus.Events())-n, st)
	}

	// Telemetry: a span per mapped read with the read, the publish and the
	// checkpoint under it; the lag gauge.
	var names []string
	for _, s := range r.spans.GetSpans() {
		if s.Parent.IsValid() {
			names = append(names, s.Name)
		}
	}
	for _, want := range []string{"neptune.stream_read", "publish graph", "neptune.checkpoint_save", "neptune.edge_ends"} {
		if !slices.Contains(names, want) {
			t.Errorf("no %q span under graphfleet.changes (have %v)", want, slices.Compact(slices.Sorted(slices.Values(names))))
		}
	}
	var rm metricdata.ResourceMetrics
	if err := r.reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			found[m.Name] = true
		}
	}
	for _, name := range []string{"graphfleet.changes.lag", "graphfleet.changes.events", "graphfleet.changes.records", "graphfleet.changes.errors"} {
		if !found[name] {
			t.Errorf("metric %s not recorded", name)
		}
	}
}

// A feed stopped longer than the stream keeps changes finds its position
// expired: it says so, counts the gap, and goes on from the oldest kept.
func TestFeedAfterItsPositionExpired(t *testing.T) {
	r := newRig(t, 60)
	if err := r.writer.SaveCheckpoint(context.Background(), "late", 1, 1); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		deliver(t, r.writer, snapshot("deepflow", "deepflow/prod", t0.Add(time.Duration(i)*time.Minute), "a>b", fmt.Sprintf("b>c%d", i)))
	}
	f, _ := r.start(t, changes.Config{Name: "late"})
	st := r.settled(t, f)
	if st.Gaps != 1 {
		t.Fatalf("status %+v: want one gap counted", st)
	}
	if got := seen(r.bus, 0); !slices.Contains(got, "dependency.added calls:b>c4 b>c4") {
		t.Fatalf("after the gap the feed did not go on: %v", got)
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// A checkpoint ahead of the stream (the cluster behind the endpoint was
// restored or recreated, and its numbers started over) is found, counted
// as a gap, and the feed goes on from the oldest change kept rather than
// waiting, caught up in appearance, for numbers that will not come.
func TestFeedAheadOfTheStream(t *testing.T) {
	r := newRig(t, 100_000)
	if err := r.writer.SaveCheckpoint(context.Background(), "ahead", 1_000_000, 1); err != nil {
		t.Fatal(err)
	}
	deliver(t, r.writer, snapshot("deepflow", "deepflow/prod", t0, "a>b"))
	f, _ := r.start(t, changes.Config{Name: "ahead"})
	// Its position starts past everything, so wait on the bus itself (the
	// deadline only bounds a hang).
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline) && len(r.bus.Events()) < 3; {
		time.Sleep(5 * time.Millisecond)
	}
	if st := f.Status(); st.Gaps != 1 {
		t.Fatalf("status %+v: want the checkpoint ahead counted as one gap", st)
	}
	if got := seen(r.bus, 0); !slices.Equal(got, []string{"dependency.added calls:a>b a>b", "resource.added a", "resource.added b"}) {
		t.Fatalf("after the reset the feed did not go on: %v", got)
	}
}
