package neptune_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
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
	clock := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	w := newWriter(t, neptune.Config{Endpoint: srv.URL(), Now: func() time.Time { return clock }})
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
		want := map[string]any{
			"name": "petsearch", "namespace": "petsite", neptune.PropSource: "deepflow",
			neptune.PropFirstSeen: clock.UnixMilli(), neptune.PropLastSeen: clock.UnixMilli(), neptune.PropActive: true,
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
	t.Run("a later write refreshes values in place and keeps first_seen", func(t *testing.T) {
		clock = clock.Add(time.Hour)
		b2 := petsite()
		for i := range b2.Vertices {
			b2.Vertices[i].Props["namespace"] = "renamed"
		}
		if _, err := w.Write(context.Background(), b2); err != nil {
			t.Fatal(err)
		}
		v, _ := vertexByID(srv.Graph().Dump(), edgebatch.ServiceID("petsite", "petsearch"))
		if got := v.Properties["namespace"]; len(got) != 1 || got[0] != "renamed" {
			t.Fatalf("namespace = %v; Neptune's set default would keep both, the writer must ask for single", got)
		}
		if got := v.Properties[neptune.PropFirstSeen]; len(got) != 1 || got[0] != clock.Add(-time.Hour).UnixMilli() {
			t.Fatalf("first_seen = %v", got)
		}
		if got := v.Properties[neptune.PropLastSeen]; len(got) != 1 || got[0] != clock.UnixMilli() {
			t.Fatalf("last_seen = %v", got)
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
		if err == nil || !neptune.Retryable(err) {
			t.Fatalf("err = %v; want a retryable error", err)
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
		if !errors.As(err, &re) || neptune.Retryable(err) {
			t.Fatalf("err = %v; want a non-retryable request error", err)
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
		if _, err := w.Write(context.Background(), petsite()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a writer with the wrong secret cannot connect", func(t *testing.T) {
		_, err := neptune.New(context.Background(), neptune.Config{Endpoint: srv.URL(), IAMAuth: true, Region: "eu-west-1", Logger: quiet,
			Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, "wrong", creds.SessionToken)})
		if err == nil {
			t.Fatal("connected with a wrong secret")
		}
	})
	t.Run("without IAM the handshake is refused by an IAM-enabled endpoint", func(t *testing.T) {
		_, err := neptune.New(context.Background(), neptune.Config{Endpoint: srv.URL(), Logger: quiet})
		if err == nil {
			t.Fatal("connected unsigned")
		}
	})
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
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := neptune.New(context.Background(), tc.cfg)
			if !errors.Is(err, neptune.ErrConfig) {
				t.Fatalf("err = %v, want ErrConfig", err)
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
