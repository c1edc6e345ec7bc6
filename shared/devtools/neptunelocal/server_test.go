package neptunelocal_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
)

// start runs a stand-in for one test.
func start(t testing.TB, opts neptunelocal.Options) *neptunelocal.Server {
	t.Helper()
	srv, err := neptunelocal.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv
}

// connect opens gremlin-go as graphfleet uses it.
func connect(t testing.TB, url string, settings ...func(*gremlingo.DriverRemoteConnectionSettings)) *gremlingo.GraphTraversalSource {
	t.Helper()
	conn, err := gremlingo.NewDriverRemoteConnection(url, append([]func(*gremlingo.DriverRemoteConnectionSettings){
		func(s *gremlingo.DriverRemoteConnectionSettings) { s.LogVerbosity = gremlingo.Off },
	}, settings...)...)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(conn.Close)
	return gremlingo.Traversal_().WithRemote(conn)
}

// connectAbandoned opens a connection the test will see dropped. It is never
// used or closed after the drop: gremlin-go v3.7.4 writes a connection's state
// from its read loop without synchronisation when the connection fails, so
// touching it afterwards is a data race inside the driver that -race reports.
func connectAbandoned(t testing.TB, url string) *gremlingo.GraphTraversalSource {
	t.Helper()
	conn, err := gremlingo.NewDriverRemoteConnection(url, func(s *gremlingo.DriverRemoteConnectionSettings) { s.LogVerbosity = gremlingo.Off })
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	return gremlingo.Traversal_().WithRemote(conn)
}

// eventuallyClosed waits for the server to count its connections closed.
func eventuallyClosed(t testing.TB, srv *neptunelocal.Server) {
	t.Helper()
	for range 200 {
		if srv.Stats().ConnectionsOpen == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%d connections still open after the outage began", srv.Stats().ConnectionsOpen)
}

// upsertService is the writer's shape: id-keyed mergeV, label and create-only
// fields in onCreate, refreshed fields with single cardinality in onMatch.
func upsertService(g *gremlingo.GraphTraversalSource, id, name string, requests int64) *gremlingo.GraphTraversal {
	return g.MergeV(map[any]any{gremlingo.T.Id: id}).
		Option(gremlingo.Merge.OnCreate, map[any]any{gremlingo.T.Label: "Service", "name": name, "requests": requests, "first_seen": int64(1)}).
		Option(gremlingo.Merge.OnMatch, map[any]any{"name": name, "requests": requests}, gremlingo.Cardinality.Single)
}

func values(t testing.TB, g *gremlingo.GraphTraversalSource, id, key string) []any {
	t.Helper()
	rs, err := g.V(id).Values(key).ToList()
	if err != nil {
		t.Fatalf("values %s.%s: %v", id, key, err)
	}
	out := make([]any, len(rs))
	for i, r := range rs {
		out[i] = r.GetInterface()
	}
	return out
}

func TestGremlinGoRoundTrips(t *testing.T) {
	t.Parallel()
	srv := start(t, neptunelocal.Options{})
	g := connect(t, srv.URL())

	t.Run("an id-keyed upsert creates the vertex with its label and properties", func(t *testing.T) {
		if _, err := upsertService(g, "svc:a", "a", 10).Id().ToList(); err != nil {
			t.Fatal(err)
		}
		rs, err := g.V("svc:a").ElementMap().ToList()
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 {
			t.Fatalf("got %d vertices, want 1", len(rs))
		}
		// gremlin-go reads the T.id and T.label keys back as the strings "id" and "label".
		m := rs[0].GetInterface().(map[any]any)
		if m["id"] != "svc:a" || m["label"] != "Service" || m["name"] != "a" || m["requests"] != int64(10) {
			t.Fatalf("elementMap = %v", m)
		}
	})

	t.Run("a second upsert with single cardinality replaces values and keeps create-only ones", func(t *testing.T) {
		if _, err := upsertService(g, "svc:a", "a2", 20).Id().ToList(); err != nil {
			t.Fatal(err)
		}
		if got := values(t, g, "svc:a", "requests"); len(got) != 1 || got[0] != int64(20) {
			t.Fatalf("requests = %v, want [20]", got)
		}
		if got := values(t, g, "svc:a", "name"); len(got) != 1 || got[0] != "a2" {
			t.Fatalf("name = %v, want [a2]", got)
		}
		if got := values(t, g, "svc:a", "first_seen"); len(got) != 1 || got[0] != int64(1) {
			t.Fatalf("first_seen = %v, want [1]", got)
		}
	})

	t.Run("property without cardinality keeps both values, as Neptune's set default does", func(t *testing.T) {
		if _, err := g.V("svc:a").Property("tag", "x").Property("tag", "y").Id().ToList(); err != nil {
			t.Fatal(err)
		}
		if got := values(t, g, "svc:a", "tag"); len(got) != 2 {
			t.Fatalf("tag = %v, want both x and y", got)
		}
		if _, err := g.V("svc:a").Property(gremlingo.Cardinality.Single, "tag", "z").Id().ToList(); err != nil {
			t.Fatal(err)
		}
		if got := values(t, g, "svc:a", "tag"); len(got) != 1 || got[0] != "z" {
			t.Fatalf("tag after single = %v, want [z]", got)
		}
	})

	t.Run("an onMatch map without cardinality accumulates values under set", func(t *testing.T) {
		if _, err := g.MergeV(map[any]any{gremlingo.T.Id: "svc:a"}).
			Option(gremlingo.Merge.OnMatch, map[any]any{"requests": int64(30)}).Id().ToList(); err != nil {
			t.Fatal(err)
		}
		if got := values(t, g, "svc:a", "requests"); len(got) != 2 {
			t.Fatalf("requests = %v, want the old and the new value (set cardinality)", got)
		}
	})

	t.Run("an id-keyed edge upsert joins existing vertices and reads back", func(t *testing.T) {
		if _, err := upsertService(g, "svc:b", "b", 1).Id().ToList(); err != nil {
			t.Fatal(err)
		}
		upsert := func(rq int64) error {
			_, err := g.MergeE(map[any]any{gremlingo.T.Id: "calls:svc:a>svc:b"}).
				Option(gremlingo.Merge.OnCreate, map[any]any{gremlingo.T.Label: "calls", gremlingo.Direction.Out: "svc:a", gremlingo.Direction.In: "svc:b", "requests": rq}).
				Option(gremlingo.Merge.OnMatch, map[any]any{"requests": rq}).Id().ToList()
			return err
		}
		if err := upsert(5); err != nil {
			t.Fatal(err)
		}
		if err := upsert(6); err != nil {
			t.Fatal(err)
		}
		rs, err := g.V("svc:a").OutE("calls").Values("requests").ToList()
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].GetInterface() != int64(6) {
			t.Fatalf("edge requests = %v, want [6]", rs)
		}
		ids, err := g.V("svc:a").Out("calls").Id().ToList()
		if err != nil || len(ids) != 1 || ids[0].GetInterface() != "svc:b" {
			t.Fatalf("out(calls) = %v, %v", ids, err)
		}
	})

	t.Run("mergeE to a vertex that does not exist fails and writes nothing", func(t *testing.T) {
		_, err := g.MergeV(map[any]any{gremlingo.T.Id: "svc:c"}).Option(gremlingo.Merge.OnCreate, map[any]any{gremlingo.T.Label: "Service"}).
			MergeE(map[any]any{gremlingo.T.Id: "calls:svc:c>svc:missing"}).
			Option(gremlingo.Merge.OnCreate, map[any]any{gremlingo.T.Label: "calls", gremlingo.Direction.Out: "svc:c", gremlingo.Direction.In: "svc:missing"}).
			Id().ToList()
		if err == nil {
			t.Fatal("mergeE to a missing vertex succeeded")
		}
		if n, _ := g.V("svc:c").Count().Next(); n.GetInterface() != int64(0) {
			t.Fatalf("svc:c exists after a failed request: the request was not one transaction")
		}
	})

	t.Run("a non-string id is refused", func(t *testing.T) {
		_, err := g.AddV("Service").Property(gremlingo.T.Id, int64(7)).Id().ToList()
		if err == nil {
			t.Fatal("a numeric id was accepted; Neptune refuses it")
		}
	})

	t.Run("an unsupported step is an error naming it", func(t *testing.T) {
		_, err := g.V().ShortestPath().ToList()
		if err == nil || !strings.Contains(err.Error(), "shortestPath") {
			t.Fatalf("err = %v, want one naming shortestPath", err)
		}
	})

	t.Run("a large result arrives whole across several response parts", func(t *testing.T) {
		tr := g.Inject(int64(0))
		for i := 1; i < 500; i++ {
			tr = tr.Inject(int64(i))
		}
		rs, err := tr.ToList()
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 500 {
			t.Fatalf("got %d results, want 500 (the stand-in sends 64 a part)", len(rs))
		}
	})
}

func TestStepLimit(t *testing.T) {
	t.Parallel()
	srv := start(t, neptunelocal.Options{})
	g := connect(t, srv.URL())
	chain := func(n int) *gremlingo.GraphTraversal {
		tr := g.Inject(int64(1))
		for i := 1; i < n; i++ {
			tr = tr.Identity()
		}
		return tr
	}
	t.Run("a request of 1,500 steps runs", func(t *testing.T) {
		if _, err := chain(1500).ToList(); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("a request of 1,501 steps is refused with the limit in the message", func(t *testing.T) {
		_, err := chain(1501).ToList()
		if err == nil || !strings.Contains(err.Error(), "1500") {
			t.Fatalf("err = %v, want a refusal naming the 1500 limit", err)
		}
	})
}

func TestFaults(t *testing.T) {
	t.Parallel()

	t.Run("every request fails with Neptune's ConcurrentModificationException at rate 1", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{Faults: neptunelocal.Faults{ConcurrentModificationRate: 1}})
		g := connect(t, srv.URL())
		_, err := upsertService(g, "svc:x", "x", 1).Id().ToList()
		if err == nil || !strings.Contains(err.Error(), "ConcurrentModificationException") ||
			!strings.Contains(err.Error(), "conflicting concurrent operations") {
			t.Fatalf("err = %v", err)
		}
		if v, _ := srv.Graph().Counts(); v != 0 {
			t.Fatal("a failed request wrote to the graph")
		}
	})

	t.Run("every request is throttled at rate 1 and succeeds once the fault is lifted", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{Faults: neptunelocal.Faults{ThrottleRate: 1}})
		g := connect(t, srv.URL())
		_, err := upsertService(g, "svc:x", "x", 1).Id().ToList()
		if err == nil || !strings.Contains(err.Error(), "ThrottlingException") {
			t.Fatalf("err = %v", err)
		}
		if err := srv.SetFaults(neptunelocal.Faults{}); err != nil {
			t.Fatal(err)
		}
		if _, err := upsertService(g, "svc:x", "x", 1).Id().ToList(); err != nil {
			t.Fatalf("after lifting the fault: %v", err)
		}
	})

	t.Run("a fraction of requests fails, the rest succeed", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{Faults: neptunelocal.Faults{ConcurrentModificationRate: 0.5}})
		g := connect(t, srv.URL())
		failed := 0
		for i := range 200 {
			if _, err := upsertService(g, fmt.Sprint("svc:", i), "x", 1).Id().ToList(); err != nil {
				failed++
			}
		}
		// With p=0.5 over 200 tries, all-or-nothing has probability 2^-199.
		if failed == 0 || failed == 200 {
			t.Fatalf("%d of 200 failed; want some but not all", failed)
		}
		if v, _ := srv.Graph().Counts(); v != 200-failed {
			t.Fatalf("graph has %d vertices, want %d (the ones that succeeded)", v, 200-failed)
		}
	})

	t.Run("a dropped connection fails the request after applying it, and a new connection works", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{Faults: neptunelocal.Faults{DropRate: 1}})
		g := connectAbandoned(t, srv.URL())
		if _, err := upsertService(g, "svc:d", "d", 1).Id().ToList(); err == nil {
			t.Fatal("the request succeeded although its connection was dropped")
		}
		if v, _ := srv.Graph().Counts(); v != 1 {
			t.Fatalf("graph has %d vertices; the dropped request should have been applied", v)
		}
		if n := srv.Stats().InjectedConnectionDrops; n != 1 {
			t.Fatalf("%d drops counted, want 1", n)
		}
		_ = srv.SetFaults(neptunelocal.Faults{})
		if _, err := connect(t, srv.URL()).V("svc:d").Count().ToList(); err != nil {
			t.Fatalf("after the drop: %v", err)
		}
	})

	t.Run("refused handshakes fail new connections with 429 and open ones keep working", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{})
		g := connect(t, srv.URL())
		if _, err := g.Inject(int64(1)).ToList(); err != nil {
			t.Fatal(err)
		}
		_ = srv.SetFaults(neptunelocal.Faults{RefuseConnections: true})
		resp, err := http.Get("http://" + srv.Addr() + "/gremlin")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("handshake status %d, want 429", resp.StatusCode)
		}
		if _, err := gremlingo.NewDriverRemoteConnection(srv.URL(), func(s *gremlingo.DriverRemoteConnectionSettings) { s.LogVerbosity = gremlingo.Off }); err == nil {
			t.Fatal("a new connection was accepted")
		}
		if _, err := g.Inject(int64(1)).ToList(); err != nil {
			t.Fatalf("the open connection stopped working: %v", err)
		}
	})

	t.Run("an outage drops connections and refuses new ones until the server comes back with its graph", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{})
		g := connectAbandoned(t, srv.URL())
		if _, err := upsertService(g, "svc:o", "o", 1).Id().ToList(); err != nil {
			t.Fatal(err)
		}
		if err := srv.SetDown(true); err != nil {
			t.Fatal(err)
		}
		if n := srv.Stats().ConnectionsOpen; n != 0 {
			eventuallyClosed(t, srv)
		}
		if _, err := gremlingo.NewDriverRemoteConnection(srv.URL(), func(s *gremlingo.DriverRemoteConnectionSettings) { s.LogVerbosity = gremlingo.Off }); err == nil {
			t.Fatal("a connection was accepted during the outage")
		}
		if err := srv.SetDown(false); err != nil {
			t.Fatal(err)
		}
		rs, err := connect(t, srv.URL()).V("svc:o").Count().ToList()
		if err != nil {
			t.Fatalf("after the outage: %v", err)
		}
		if rs[0].GetInterface() != int64(1) {
			t.Fatalf("count = %v, want 1: the graph should survive the outage", rs[0])
		}
	})

	t.Run("latency faults are set and read over HTTP", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{})
		req, _ := http.NewRequest(http.MethodPut, "http://"+srv.Addr()+"/faults", strings.NewReader(`{"latency":"5ms","latency_jitter":"1ms"}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if f := srv.Faults(); f.Latency != 5*time.Millisecond || f.LatencyJitter != time.Millisecond {
			t.Fatalf("faults = %+v", f)
		}
		req, _ = http.NewRequest(http.MethodPut, "http://"+srv.Addr()+"/faults", strings.NewReader(`{"latncy":"5ms"}`))
		resp, err = http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("a misspelt fault got %d, want 400", resp.StatusCode)
		}
	})

	t.Run("the queue capacity throttles requests beyond it", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{Workers: 1, QueueCapacity: 1, Faults: neptunelocal.Faults{Latency: 200 * time.Millisecond}})
		g := connect(t, srv.URL())
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for range 8 {
			wg.Go(func() {
				_, err := g.Inject(int64(1)).ToList()
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		throttled := 0
		for err := range errs {
			if err != nil && strings.Contains(err.Error(), "ThrottlingException") {
				throttled++
			}
		}
		// One runs, at most one waits: at least six of eight are refused.
		if throttled < 6 {
			t.Fatalf("%d of 8 throttled, want at least 6", throttled)
		}
	})
}

func TestIAM(t *testing.T) {
	t.Parallel()
	creds := neptunelocal.Credentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "secret-example"}
	srv := start(t, neptunelocal.Options{Credentials: &creds, Region: "eu-west-1"})

	signed := func(c aws.Credentials, region, service string, at time.Time) http.Header {
		req, _ := http.NewRequest(http.MethodGet, "https://"+srv.Addr()+"/gremlin", nil)
		if err := v4.NewSigner().SignHTTP(context.Background(), c, req,
			"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", service, region, at); err != nil {
			t.Fatal(err)
		}
		h := req.Header.Clone()
		h.Set("Host", srv.Addr())
		return h
	}
	good := aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: creds.SecretAccessKey}
	tryConnect := func(h http.Header) error {
		conn, err := gremlingo.NewDriverRemoteConnection(srv.URL(), func(s *gremlingo.DriverRemoteConnectionSettings) {
			s.LogVerbosity = gremlingo.Off
			if h != nil {
				s.AuthInfo = gremlingo.HeaderAuthInfo(h)
			}
		})
		if err != nil {
			return err
		}
		defer conn.Close()
		_, err = gremlingo.Traversal_().WithRemote(conn).Inject(int64(1)).ToList()
		return err
	}

	t.Run("a handshake signed with the right key for neptune-db is accepted", func(t *testing.T) {
		if err := tryConnect(signed(good, "eu-west-1", "neptune-db", time.Now())); err != nil {
			t.Fatal(err)
		}
	})
	refusals := []struct {
		name   string
		header http.Header
	}{
		{"a handshake without a signature is refused", nil},
		{"a signature made with the wrong secret is refused", signed(aws.Credentials{AccessKeyID: creds.AccessKeyID, SecretAccessKey: "wrong"}, "eu-west-1", "neptune-db", time.Now())},
		{"a signature for another service is refused", signed(good, "eu-west-1", "execute-api", time.Now())},
		{"a signature for another region is refused", signed(good, "us-east-1", "neptune-db", time.Now())},
		{"a signature from an hour ago is refused", signed(good, "eu-west-1", "neptune-db", time.Now().Add(-time.Hour))},
	}
	for _, tc := range refusals {
		t.Run(tc.name, func(t *testing.T) {
			before := srv.Stats().AuthFailures
			if err := tryConnect(tc.header); err == nil {
				t.Fatal("connected")
			}
			if srv.Stats().AuthFailures != before+1 {
				t.Fatal("the refusal was not counted as an auth failure")
			}
		})
	}
	t.Run("a tampered signature is refused", func(t *testing.T) {
		h := signed(good, "eu-west-1", "neptune-db", time.Now())
		a := h.Get("Authorization")
		last := a[len(a)-1]
		flip := byte('0')
		if last == '0' {
			flip = '1'
		}
		h.Set("Authorization", a[:len(a)-1]+string(flip))
		if err := tryConnect(h); err == nil {
			t.Fatal("connected")
		}
	})
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	srv := start(t, neptunelocal.Options{})
	const writers, perWriter = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		g := connect(t, srv.URL())
		wg.Go(func() {
			for i := range perWriter {
				// Writers overlap on half the ids, so upserts of one vertex race.
				id := fmt.Sprintf("svc:%d", (w%2)*1000+i)
				tr := upsertService(g, id, "n", int64(w))
				tr = tr.MergeE(map[any]any{gremlingo.T.Id: "self:" + id}).
					Option(gremlingo.Merge.OnCreate, map[any]any{gremlingo.T.Label: "calls", gremlingo.Direction.Out: id, gremlingo.Direction.In: id})
				if _, err := tr.Id().ToList(); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	v, e := srv.Graph().Counts()
	if v != 2*perWriter || e != 2*perWriter {
		t.Fatalf("graph has %d vertices and %d edges, want %d of each", v, e, 2*perWriter)
	}
	g := connect(t, srv.URL())
	rs, err := g.V().Values("requests").Count().ToList()
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].GetInterface() != int64(2*perWriter) {
		t.Fatalf("%v requests values, want exactly one per vertex", rs[0].GetInterface())
	}
}

func TestInspection(t *testing.T) {
	t.Parallel()
	srv := start(t, neptunelocal.Options{})
	g := connect(t, srv.URL())
	if _, err := upsertService(g, "svc:i", "i", 3).Id().ToList(); err != nil {
		t.Fatal(err)
	}
	get := func(path string) []byte {
		resp, err := http.Get("http://" + srv.Addr() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, b)
		}
		return b
	}
	t.Run("the graph dump shows the vertex and its properties", func(t *testing.T) {
		b := get("/graph")
		for _, want := range []string{`"svc:i"`, `"Service"`, `"requests"`} {
			if !strings.Contains(string(b), want) {
				t.Fatalf("dump lacks %s: %s", want, b)
			}
		}
	})
	t.Run("the counters show requests, records and steps", func(t *testing.T) {
		var st neptunelocal.Stats
		if err := json.Unmarshal(get("/stats"), &st); err != nil {
			t.Fatal(err)
		}
		// mergeV, option, option, id: 4 steps; records: the label and the
		// properties name, requests, first_seen, each counted once.
		if st.Requests != 1 || st.Steps != 4 || st.Records != 4 || st.Vertices != 1 || st.Committed != 1 {
			t.Fatalf("stats = %+v", st)
		}
	})
}

// errorCode reads the code of Neptune's error document out of a gremlin-go
// error, as a client must: the driver carries the document in its text.
func errorCode(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	s := err.Error()
	i := strings.Index(s, `{"requestId"`)
	if i < 0 {
		t.Fatalf("no Neptune error document in %q", s)
	}
	var doc struct{ Code, DetailedMessage string }
	if err := json.NewDecoder(strings.NewReader(s[i:])).Decode(&doc); err != nil {
		t.Fatalf("error document in %q: %v", s, err)
	}
	return doc.Code
}

func putFaults(t testing.TB, srv *neptunelocal.Server, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, "http://"+srv.Addr()+"/faults", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestDemote(t *testing.T) {
	t.Parallel()
	demoteBy := map[string]func(*neptunelocal.Server) int{
		"Demote": func(s *neptunelocal.Server) int { return s.Demote() },
		"PUT /faults": func(s *neptunelocal.Server) int {
			before := s.Stats().ConnectionsDemoted
			if code := putFaults(t, s, `{"demote":true,"latency":"1ms"}`); code != http.StatusOK {
				t.Fatalf("PUT demote: %d", code)
			}
			if f := s.Faults(); f.Demote || f.Latency != time.Millisecond {
				t.Fatalf("faults after a demotion = %+v; demote is an action, not kept", f)
			}
			return int(s.Stats().ConnectionsDemoted - before)
		},
	}
	for name, demote := range demoteBy {
		t.Run("after "+name+" an old connection refuses writes with ReadOnlyViolationException and still reads, a new one writes", func(t *testing.T) {
			t.Parallel()
			srv := start(t, neptunelocal.Options{})
			old := connect(t, srv.URL())
			if _, err := upsertService(old, "svc:before", "b", 1).Id().ToList(); err != nil {
				t.Fatal(err)
			}
			if n := demote(srv); n != 1 {
				t.Fatalf("demoted %d connections, want the 1 open", n)
			}
			_, err := upsertService(old, "svc:after", "a", 1).Id().ToList()
			if code := errorCode(t, err); code != "ReadOnlyViolationException" {
				t.Fatalf("code %q, want ReadOnlyViolationException (err %v)", code, err)
			}
			if !strings.Contains(err.Error(), "read-only restriction") {
				t.Fatalf("err = %v; want Neptune's wording", err)
			}
			// 499 reaches gremlin-go as its low byte, 243: the status Neptune's
			// 400-class errors travel with.
			if !strings.Contains(err.Error(), "statusCode: 243") {
				t.Fatalf("err = %v; want status 499", err)
			}
			if got := values(t, old, "svc:before", "name"); len(got) != 1 {
				t.Fatalf("a read on the demoted connection failed: %v", got)
			}
			if _, err := connect(t, srv.URL()).V("svc:before").Count().ToList(); err != nil {
				t.Fatal(err)
			}
			if _, err := upsertService(connect(t, srv.URL()), "svc:after", "a", 1).Id().ToList(); err != nil {
				t.Fatalf("a new connection (the new writer) refused a write: %v", err)
			}
			if v, _ := srv.Graph().Counts(); v != 2 {
				t.Fatalf("graph has %d vertices, want 2: the refused write must not be applied", v)
			}
			st := srv.Stats()
			if st.ConnectionsDemoted != 1 || st.ConnectionsDemotedOpen != 1 || st.ErrorsByCode["ReadOnlyViolationException"] != 1 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
	t.Run("a demoted connection stops counting as open once its client closes it", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{})
		conn, err := gremlingo.NewDriverRemoteConnection(srv.URL(), func(s *gremlingo.DriverRemoteConnectionSettings) { s.LogVerbosity = gremlingo.Off })
		if err != nil {
			t.Fatal(err)
		}
		if _, err := gremlingo.Traversal_().WithRemote(conn).Inject(int64(1)).ToList(); err != nil {
			t.Fatal(err)
		}
		srv.Demote()
		conn.Close()
		for range 200 {
			if srv.Stats().ConnectionsDemotedOpen == 0 {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("stats = %+v; the closed demoted connection still counts as open", srv.Stats())
	})
}

func TestFailWith(t *testing.T) {
	t.Parallel()
	for _, code := range neptunelocal.ErrorCodes() {
		t.Run(code+" answers writes with its document and status, reads succeed", func(t *testing.T) {
			t.Parallel()
			srv := start(t, neptunelocal.Options{Faults: neptunelocal.Faults{FailWith: code, FailRate: 1}})
			g := connect(t, srv.URL())
			_, err := upsertService(g, "svc:x", "x", 1).Id().ToList()
			if got := errorCode(t, err); got != code {
				t.Fatalf("code %q, want %q (err %v)", got, code, err)
			}
			want := map[int]int{400: 499, 403: 401, 405: 499, 408: 499, 429: 499, 500: 500}[neptunelocal.ErrorStatus(code)]
			if !strings.Contains(err.Error(), fmt.Sprintf("statusCode: %d", want&0xFF)) {
				t.Fatalf("err = %v; want Gremlin status %d for HTTP %d", err, want, neptunelocal.ErrorStatus(code))
			}
			if _, err := g.V("svc:x").Count().ToList(); err != nil {
				t.Fatalf("a read failed: %v", err)
			}
			if v, _ := srv.Graph().Counts(); v != 0 {
				t.Fatal("a refused write was applied")
			}
			if st := srv.Stats(); st.InjectedFailures != 1 || st.ErrorsByCode[code] != 1 {
				t.Fatalf("stats = %+v", st)
			}
		})
	}
	t.Run("fail_with and fail_rate are set over HTTP; an unknown code is refused", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{})
		if code := putFaults(t, srv, `{"fail_with":"AccessDeniedException","fail_rate":0.5}`); code != http.StatusOK {
			t.Fatalf("PUT: %d", code)
		}
		if f := srv.Faults(); f.FailWith != "AccessDeniedException" || f.FailRate != 0.5 {
			t.Fatalf("faults = %+v", f)
		}
		if code := putFaults(t, srv, `{"fail_with":"NoSuchException","fail_rate":1}`); code != http.StatusBadRequest {
			t.Fatalf("an unknown code got %d, want 400", code)
		}
		if err := srv.SetFaults(neptunelocal.Faults{FailWith: "AccessDeniedException", FailRate: 2}); err == nil {
			t.Fatal("a rate of 2 was accepted")
		}
	})
	t.Run("refused handshakes carry Neptune's error document", func(t *testing.T) {
		t.Parallel()
		srv := start(t, neptunelocal.Options{Faults: neptunelocal.Faults{RefuseConnections: true}})
		resp, err := http.Get("http://" + srv.Addr() + "/gremlin")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc struct{ Code string }
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 429 || doc.Code != "TooManyRequestsException" {
			t.Fatalf("status %d, doc %+v, err %v", resp.StatusCode, doc, err)
		}
	})
}
