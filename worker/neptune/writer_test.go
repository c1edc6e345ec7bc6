package neptune_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/graphfleet/graphfleet/producer/demo"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graph"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func startStandIn(t testing.TB, opts neptunelocal.Options) *neptunelocal.Server {
	t.Helper()
	srv, err := neptunelocal.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

func newWriter(t testing.TB, cfg neptune.Config) *neptune.Writer {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.BaseBackoff == 0 {
		cfg.BaseBackoff = time.Millisecond
	}
	w, err := neptune.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// writeTimes writes the petsite batch n times and adds up what it took.
func writeTimes(t *testing.T, w *neptune.Writer, n int) neptune.Result {
	t.Helper()
	var res neptune.Result
	for range n {
		r, err := w.Write(context.Background(), petsite())
		if err != nil {
			t.Fatal(err)
		}
		res.Requests += r.Requests
		res.Attempts += r.Attempts
	}
	return res
}

// petsite is the 40 services and 100 call relations the old ETL needed about
// 700 requests and 30 s for.
func petsite() *edgebatch.Batch {
	return demo.New(1, 1).Calls(time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC))
}

func vertexByID(d graph.Dump, id string) (graph.DumpVertex, bool) {
	for _, v := range d.Vertices {
		if v.ID == id {
			return v, true
		}
	}
	return graph.DumpVertex{}, false
}

func TestWriteBatch(t *testing.T) {
	t.Parallel()
	srv := startStandIn(t, neptunelocal.Options{})
	w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
	b := petsite()
	b.Snapshot = &edgebatch.Snapshot{ID: "deepflow/demo/1", Scope: "deepflow/demo"}

	res, err := w.Write(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("100 call relations among 40 services take a handful of requests of about 200 records", func(t *testing.T) {
		if res.Vertices != 40 || res.Edges != 100 {
			t.Fatalf("wrote %d vertices and %d edges", res.Vertices, res.Edges)
		}
		st := srv.Stats()
		if st.Committed != int64(res.Requests) || res.Requests != neptune.RequestsFor(b, 0) {
			t.Fatalf("%d requests committed, writer says %d, plan says %d", st.Committed, res.Requests, neptune.RequestsFor(b, 0))
		}
		if st.Records != int64(res.Records) {
			t.Fatalf("the stand-in counted %d records, the writer %d", st.Records, res.Records)
		}
		if res.Requests > 15 {
			t.Fatalf("%d requests; the point is a handful, not hundreds", res.Requests)
		}
		if per := float64(res.Records) / float64(res.Requests); per < 100 || per > 200 {
			t.Fatalf("%.0f records per request; want close to 200", per)
		}
		t.Logf("%d requests, %d records, %d steps for 40 services and 100 calls", res.Requests, res.Records, st.Steps)
	})
	t.Run("vertices and edges carry the batch's properties and the writer's own", func(t *testing.T) {
		d := srv.Graph().Dump()
		v, ok := vertexByID(d, edgebatch.ServiceID("petsite", "petsearch"))
		if !ok {
			t.Fatal("petsearch missing")
		}
		// first_seen and last_seen are the batch's observation, not the
		// writer's clock.
		observed := b.ObservedAt.UnixMilli()
		want := map[string]any{
			"name": "petsearch", "namespace": "petsite", neptune.PropSource: "deepflow",
			neptune.PropFirstSeen: observed, neptune.PropLastSeen: observed, neptune.PropActive: true,
			neptune.PropScope: "deepflow/demo", neptune.PropSnapshot: "deepflow/demo/1",
		}
		for k, val := range want {
			if got := v.Properties[k]; len(got) != 1 || got[0] != val {
				t.Fatalf("%s = %v, want [%v]", k, got, val)
			}
		}
		if len(v.Properties) != len(want) {
			t.Fatalf("properties %v, want exactly %v", v.Properties, want)
		}
		if len(d.Edges) != 100 {
			t.Fatalf("%d edges", len(d.Edges))
		}
		for _, e := range d.Edges {
			if e.Properties[neptune.PropSource] != "deepflow" || e.Properties[neptune.PropActive] != true || e.Properties["requests"] == nil {
				t.Fatalf("edge %s properties %v", e.ID, e.Properties)
			}
		}
	})
	t.Run("a later observation refreshes values in place and keeps first_seen", func(t *testing.T) {
		b2 := petsite()
		b2.ObservedAt = b.ObservedAt.Add(time.Hour)
		for i := range b2.Vertices {
			b2.Vertices[i].Props["namespace"] = "renamed"
		}
		res, err := w.Write(context.Background(), b2)
		if err != nil {
			t.Fatal(err)
		}
		if res.StaleVertices != 0 || res.StaleEdges != 0 {
			t.Fatalf("%d vertices and %d edges counted stale; none is", res.StaleVertices, res.StaleEdges)
		}
		v, _ := vertexByID(srv.Graph().Dump(), edgebatch.ServiceID("petsite", "petsearch"))
		if got := v.Properties["namespace"]; len(got) != 1 || got[0] != "renamed" {
			t.Fatalf("namespace = %v; Neptune's set default would keep both, the writer must ask for single", got)
		}
		if got := v.Properties[neptune.PropFirstSeen]; len(got) != 1 || got[0] != b.ObservedAt.UnixMilli() {
			t.Fatalf("first_seen = %v", got)
		}
		if got := v.Properties[neptune.PropLastSeen]; len(got) != 1 || got[0] != b2.ObservedAt.UnixMilli() {
			t.Fatalf("last_seen = %v", got)
		}
	})
	t.Run("an older observation written late changes nothing, and is counted", func(t *testing.T) {
		before := srv.Graph().Dump()
		old := petsite()
		old.ObservedAt = b.ObservedAt.Add(-time.Hour)
		for i := range old.Vertices {
			old.Vertices[i].Props["namespace"] = "ancient"
		}
		for i := range old.Edges {
			old.Edges[i].Props["requests"] = int64(1)
		}
		res, err := w.Write(context.Background(), old)
		if err != nil {
			t.Fatal(err)
		}
		if res.StaleVertices != len(old.Vertices) || res.StaleEdges != len(old.Edges) {
			t.Fatalf("%d vertices and %d edges counted stale; want all %d and %d", res.StaleVertices, res.StaleEdges, len(old.Vertices), len(old.Edges))
		}
		if !reflect.DeepEqual(srv.Graph().Dump(), before) {
			t.Fatal("an older observation changed the graph")
		}
	})
}

func TestRetries(t *testing.T) {
	t.Parallel()
	t.Run("concurrent modifications are retried until the batch is written", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{Faults: neptunelocal.Faults{ConcurrentModificationRate: 0.4}})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL(), MaxAttempts: 40})
		// Four deliveries, over 30 requests: the chance that none meets a
		// conflict at 40% is below one in a million.
		res := writeTimes(t, w, 4)
		if res.Attempts <= res.Requests || srv.Stats().InjectedConcurrentMods == 0 {
			t.Fatalf("%d attempts for %d requests at a 40%% failure rate; no retry happened?", res.Attempts, res.Requests)
		}
		if v, e := srv.Graph().Counts(); v != 40 || e != 100 {
			t.Fatalf("graph has %d vertices, %d edges", v, e)
		}
	})
	t.Run("throttling that does not end gives up after the attempts allowed, as retryable", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{Faults: neptunelocal.Faults{ThrottleRate: 1}})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL(), MaxAttempts: 3})
		_, err := w.Write(context.Background(), petsite())
		if err == nil || !neptune.Retryable(err) || neptune.Classify(err) != neptune.FaultNeptune {
			t.Fatalf("err = %v; want a retryable error, Neptune's fault", err)
		}
		if e := srv.Stats().Throttled; e < 3 {
			t.Fatalf("%d throttled requests; want at least the 3 attempts", e)
		}
	})
	t.Run("a refusal of the content is not retried", func(t *testing.T) {
		t.Parallel()
		srv := startStandIn(t, neptunelocal.Options{})
		w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
		// An edge to a vertex the batch does not carry: the validator would
		// refuse it; here it reaches Neptune to show the refusal is final.
		b := &edgebatch.Batch{V: 1, Source: "deepflow", ObservedAt: time.Now(),
			Edges: []edgebatch.Edge{{ID: "calls:a>b", Label: "calls", From: "svc:a", To: "svc:b"}}}
		_, err := w.Write(context.Background(), b)
		var re *neptune.RequestError
		if !errors.As(err, &re) || neptune.Retryable(err) || neptune.Classify(err) != neptune.FaultContent || re.Code() != "InvalidParameterException" {
			t.Fatalf("err = %v; want a non-retryable request error, the content's fault", err)
		}
		if srv.Stats().Requests != 1 {
			t.Fatalf("%d requests; a refusal must not be retried", srv.Stats().Requests)
		}
	})
}

func TestIAMAuth(t *testing.T) {
	t.Parallel()
	creds := neptunelocal.Credentials{AccessKeyID: "AKIDWRITER", SecretAccessKey: "writer-secret", SessionToken: "token-1"}
	srv := startStandIn(t, neptunelocal.Options{Credentials: &creds, Region: "eu-west-1"})
	t.Run("a writer signing with the right credentials writes", func(t *testing.T) {
		w := newWriter(t, neptune.Config{Endpoint: srv.URL(), IAMAuth: true, Region: "eu-west-1",
			Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)})
		if err := w.Probe(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(context.Background(), petsite()); err != nil {
			t.Fatal(err)
		}
	})
	refused := []struct {
		name string
		cfg  neptune.Config
	}{
		{"a writer with the wrong secret", neptune.Config{Endpoint: srv.URL(), IAMAuth: true, Region: "eu-west-1",
			Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, "wrong", creds.SessionToken)}},
		{"a writer that does not sign", neptune.Config{Endpoint: srv.URL()}},
	}
	for _, tc := range refused {
		t.Run(tc.name+" starts, and its probe and writes fail as access denied (HTTP 403 on the handshake), not retried", func(t *testing.T) {
			// Many small requests per batch: they all find the pool missing,
			// and one refusal must answer them all.
			tc.cfg.RecordsPerRequest = 5
			w := newWriter(t, tc.cfg) // New does not connect: it cannot fail here
			err := w.Probe(context.Background())
			var ce *neptune.ConnectError
			if neptune.Classify(err) != neptune.FaultAccess || !errors.As(err, &ce) || ce.Status != 403 || ce.Code != "AccessDeniedException" {
				t.Fatalf("probe: err = %v (%v); want access denied from a 403", err, neptune.Classify(err))
			}
			before := srv.Stats().AuthFailures
			_, err = w.Write(context.Background(), petsite())
			if neptune.Classify(err) != neptune.FaultAccess || neptune.Retryable(err) {
				t.Fatalf("write: err = %v (%v); want access denied, not retried", err, neptune.Classify(err))
			}
			// One handshake by gremlin-go, one to read its status: not
			// MaxAttempts of each.
			if n := srv.Stats().AuthFailures - before; n > 2 {
				t.Fatalf("%d refused handshakes for one write; access denied must not be retried", n)
			}
		})
	}
}

func TestStartsDuringAnOutage(t *testing.T) {
	t.Parallel()
	srv := startStandIn(t, neptunelocal.Options{})
	if err := srv.SetDown(true); err != nil {
		t.Fatal(err)
	}
	w := newWriter(t, neptune.Config{Endpoint: srv.URL(), MaxAttempts: 2})
	err := w.Probe(context.Background())
	var ce *neptune.ConnectError
	if neptune.Classify(err) != neptune.FaultNeptune || !errors.As(err, &ce) || ce.Status != 0 {
		t.Fatalf("probe during the outage: err = %v (%v); want Neptune's fault, no HTTP status", err, neptune.Classify(err))
	}
	if _, err := w.Write(context.Background(), petsite()); neptune.Classify(err) != neptune.FaultNeptune || !neptune.Retryable(err) {
		t.Fatalf("write during the outage: err = %v; want Neptune's fault, retryable", err)
	}
	if err := srv.SetDown(false); err != nil {
		t.Fatal(err)
	}
	// The first probe may join a dial that a chunk of the failed write began
	// during the outage and then left (its context cancelled with the
	// write's first error); that dial fails as it began. The one after it
	// dials a Neptune that is back.
	err = w.Probe(context.Background())
	if err != nil {
		err = w.Probe(context.Background())
	}
	if err != nil {
		t.Fatalf("probe once Neptune is back: %v", err)
	}
	if _, err := w.Write(context.Background(), petsite()); err != nil {
		t.Fatal(err)
	}
	if st := w.Stats(); st.Pools != 1 {
		t.Fatalf("stats = %+v; want one pool, opened once Neptune answered", st)
	}
}

func TestProbe(t *testing.T) {
	t.Parallel()
	srv := startStandIn(t, neptunelocal.Options{})
	w := newWriter(t, neptune.Config{Endpoint: srv.URL()})
	if srv.Stats().ConnectionsTotal != 0 {
		t.Fatal("New connected; the pool is opened on first use")
	}
	if err := w.Probe(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := srv.Stats()
	if st.Requests != 1 || st.Committed != 1 || st.Records != 0 || st.Vertices != 0 {
		t.Fatalf("stats after a probe = %+v; want one request that writes nothing", st)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := w.Probe(ctx); !errors.Is(err, context.Canceled) || neptune.Classify(err) != neptune.FaultNeptune {
		t.Fatalf("a probe with a cancelled context: %v", err)
	}
}

// wantFault is what the writer must make of each Neptune error code, written
// out here rather than taken from the implementation.
var wantFault = map[string]neptune.Fault{
	"AccessDeniedException":           neptune.FaultAccess,
	"BadRequestException":             neptune.FaultContent,
	"CancelledByUserException":        neptune.FaultNeptune,
	"ClientTimeoutException":          neptune.FaultNeptune,
	"ConcurrentModificationException": neptune.FaultNeptune,
	"ConstraintViolationException":    neptune.FaultNeptune,
	"FailureByQueryException":         neptune.FaultNeptune,
	"IllegalArgumentException":        neptune.FaultContent,
	"InternalFailureException":        neptune.FaultNeptune,
	"InvalidArgumentException":        neptune.FaultContent,
	"InvalidNumericDataException":     neptune.FaultContent,
	"InvalidParameterException":       neptune.FaultContent,
	"MalformedQueryException":         neptune.FaultContent,
	"MemoryLimitExceededException":    neptune.FaultNeptune,
	"MethodNotAllowedException":       neptune.FaultNeptune,
	"MissingParameterException":       neptune.FaultContent,
	"ParsingException":                neptune.FaultContent,
	"PreconditionsFailedException":    neptune.FaultNeptune,
	"QueryLimitExceededException":     neptune.FaultNeptune,
	"QueryLimitException":             neptune.FaultContent,
	"QueryTooLargeException":          neptune.FaultContent,
	"ReadOnlyViolationException":      neptune.FaultNeptune,
	"ServerShutdownException":         neptune.FaultNeptune,
	"ThrottlingException":             neptune.FaultNeptune,
	"TimeLimitExceededException":      neptune.FaultNeptune,
	"TooManyRequestsException":        neptune.FaultNeptune,
	"UnsupportedOperationException":   neptune.FaultContent,
}

// oneVertex is a batch of one request.
func oneVertex() *edgebatch.Batch {
	return &edgebatch.Batch{V: 1, Source: "deepflow", ObservedAt: time.Now(),
		Vertices: []edgebatch.Vertex{{ID: "svc:a", Label: "Service", Props: map[string]any{"name": "a"}}}}
}

// TestClassificationThroughTheDriver has the stand-in answer writes with each
// Neptune error code, in Neptune's document and status, and checks what the
// writer makes of it through the real driver: whose fault, whether it retried,
// and that a probe (a read) still succeeds.
func TestClassificationThroughTheDriver(t *testing.T) {
	t.Parallel()
	codes := neptunelocal.ErrorCodes()
	if len(codes) != len(wantFault) {
		t.Fatalf("the stand-in knows %d codes, this test %d", len(codes), len(wantFault))
	}
	for _, code := range codes {
		want, ok := wantFault[code]
		if !ok {
			t.Fatalf("no expectation for %s", code)
		}
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			srv := startStandIn(t, neptunelocal.Options{Faults: neptunelocal.Faults{FailWith: code, FailRate: 1}})
			w := newWriter(t, neptune.Config{Endpoint: srv.URL(), MaxAttempts: 2})
			_, err := w.Write(context.Background(), oneVertex())
			var re *neptune.RequestError
			if got := neptune.Classify(err); got != want || !errors.As(err, &re) || re.Code() != code || re.Fault() != want {
				t.Fatalf("err = %v: %v, want %v", err, got, want)
			}
			tries := srv.Stats().InjectedFailures
			if neptune.Retryable(err) {
				if want != neptune.FaultNeptune || tries != 2 {
					t.Fatalf("retried a %v error, %d tries for 2 attempts", want, tries)
				}
			} else if tries != 1 {
				t.Fatalf("%d tries of an error the writer does not retry", tries)
			}
			if err := w.Probe(context.Background()); err != nil {
				t.Fatalf("probe: %v; reads still work", err)
			}
		})
	}
}

// distinctBatches are n batches of distinct vertices and edges, each of a few
// requests.
func distinctBatches(n int) []*edgebatch.Batch {
	out := make([]*edgebatch.Batch, n)
	for i := range out {
		b := &edgebatch.Batch{V: 1, Source: "deepflow", ObservedAt: time.Now()}
		for j := range 30 {
			b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: fmt.Sprintf("svc:b%d/v%d", i, j), Label: "Service",
				Props: map[string]any{"name": fmt.Sprint(j), "namespace": fmt.Sprint(i)}})
		}
		for j := range 29 {
			from, to := b.Vertices[j].ID, b.Vertices[j+1].ID
			b.Edges = append(b.Edges, edgebatch.Edge{ID: "calls:" + from + ">" + to, Label: "calls", From: from, To: to,
				Props: map[string]any{"requests": int64(j)}})
		}
		out[i] = b
	}
	return out
}

func TestFailoverMidDrain(t *testing.T) {
	t.Parallel()
	srv := startStandIn(t, neptunelocal.Options{Faults: neptunelocal.Faults{Latency: 2 * time.Millisecond}})
	w := newWriter(t, neptune.Config{Endpoint: srv.URL(), MaxBackoff: 20 * time.Millisecond})
	batches := distinctBatches(40)
	var wg sync.WaitGroup
	errs := make(chan error, len(batches))
	for _, b := range batches {
		wg.Go(func() {
			if _, err := w.Write(context.Background(), b); err != nil {
				errs <- err
			}
		})
	}
	// Fail over once the drain is well under way.
	for srv.Stats().Committed < 20 {
		time.Sleep(time.Millisecond)
	}
	demoted := srv.Demote()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a batch failed across the failover: %v", err)
	}

	st := srv.Stats()
	if demoted == 0 || st.ErrorsByCode["ReadOnlyViolationException"] == 0 {
		t.Fatalf("demoted %d connections, %d read-only refusals: the failover came too late to test anything", demoted, st.ErrorsByCode["ReadOnlyViolationException"])
	}
	if v, e := srv.Graph().Counts(); v != 40*30 || e != 40*29 {
		t.Fatalf("graph has %d vertices and %d edges, want %d and %d: something was lost", v, e, 40*30, 40*29)
	}
	if ws := w.Stats(); ws.Rebuilds == 0 || ws.Pools < 2 {
		t.Fatalf("writer stats %+v; want the pool rebuilt", ws)
	}
	if st.ConnectionsTotal <= int64(demoted) {
		t.Fatalf("%d connections in all, %d demoted: no new connection reached the new writer", st.ConnectionsTotal, demoted)
	}
	// The old pool is closed once its requests are answered: no connection
	// stays pinned to the demoted writer.
	deadline := time.Now().Add(10 * time.Second)
	for srv.Stats().ConnectionsDemotedOpen > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stats = %+v; connections to the demoted writer are still open", srv.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("%d connections demoted, %d read-only refusals, %d connections in all, writer %+v",
		demoted, st.ErrorsByCode["ReadOnlyViolationException"], st.ConnectionsTotal, w.Stats())
}

func TestClose(t *testing.T) {
	t.Parallel()
	srv := startStandIn(t, neptunelocal.Options{Faults: neptunelocal.Faults{Latency: 200 * time.Millisecond}})
	w, err := neptune.New(context.Background(), neptune.Config{Endpoint: srv.URL(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := w.Write(context.Background(), oneVertex())
		done <- err
	}()
	for srv.Stats().Requests == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if srv.Stats().Committed != 1 {
		t.Fatal("Close returned before the request in flight was answered")
	}
	if err := <-done; err != nil {
		t.Fatalf("the write in flight at Close: %v", err)
	}
	if _, err := w.Write(context.Background(), oneVertex()); !errors.Is(err, neptune.ErrClosed) || neptune.Classify(err) != neptune.FaultNeptune {
		t.Fatalf("a write after Close: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		cfg  neptune.Config
	}{
		{"an empty endpoint is refused", neptune.Config{}},
		{"an http endpoint is refused", neptune.Config{Endpoint: "http://localhost:8182/gremlin"}},
		{"IAM without credentials is refused", neptune.Config{Endpoint: "wss://x:8182/gremlin", IAMAuth: true, Region: "us-east-1"}},
		{"IAM without a region is refused", neptune.Config{Endpoint: "wss://x:8182/gremlin", IAMAuth: true, Credentials: aws.AnonymousCredentials{}}},
		{"credentials in the endpoint are refused", neptune.Config{Endpoint: "wss://user:secret@x:8182/gremlin"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := neptune.New(context.Background(), tc.cfg)
			if !errors.Is(err, neptune.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("err = %v shows the endpoint's credentials", err)
			}
		})
	}
}

// BenchmarkWrite measures the writer alone against the stand-in with no
// injected latency: the client side's cost per edge.
func BenchmarkWrite(b *testing.B) {
	srv := startStandIn(b, neptunelocal.Options{})
	w := newWriter(b, neptune.Config{Endpoint: srv.URL()})
	batch := petsite()
	b.ResetTimer()
	for range b.N {
		if _, err := w.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch.Edges))/b.Elapsed().Seconds(), "edges/s")
}
