package deepflow

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

var (
	windowEnd   = time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	windowStart = windowEnd.Add(-5 * time.Minute)
)

func edgeByID(t *testing.T, b *edgebatch.Batch, id string) edgebatch.Edge {
	t.Helper()
	for _, e := range b.Edges {
		if e.ID == id {
			return e
		}
	}
	t.Fatalf("no edge %q among %d edges", id, len(b.Edges))
	return edgebatch.Edge{}
}

func vertexByID(t *testing.T, b *edgebatch.Batch, id string) edgebatch.Vertex {
	t.Helper()
	for _, v := range b.Vertices {
		if v.ID == id {
			return v
		}
	}
	t.Fatalf("no vertex %q", id)
	return edgebatch.Vertex{}
}

func TestDiscoverReadsEveryRow(t *testing.T) {
	tests := []struct {
		name        string
		rows        int
		pageSize    int
		rowCap      int
		wantOffsets []int
	}{
		{"more rows than one page returns every row", 10, 3, 4, []int{0, 3, 6, 9}},
		{"rows filling the last page exactly still end the paging", 9, 3, 4, []int{0, 3, 6}},
		{"rows that fit one page take one query", 3, 3, 10000, []int{0}},
		{"many pages under a querier capped at the page size plus one", 250, 9, 10, nil},
		{"an empty window gives an empty snapshot", 0, 3, 4, []int{0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQuerier{t: t, rows: genRows(tt.rows), rowCap: tt.rowCap}
			s := q.serve(t, tt.pageSize)
			b, err := s.Discover(context.Background(), windowStart, windowEnd)
			if err != nil {
				t.Fatal(err)
			}
			if err := edgebatch.Validate(b); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			if len(b.Edges) != tt.rows {
				t.Errorf("%d edges; want %d, one per row", len(b.Edges), tt.rows)
			}
			var sum int64
			for _, e := range b.Edges {
				sum += e.Props["requests"].(int64)
			}
			if want := int64(tt.rows * (tt.rows + 1) / 2); sum != want {
				t.Errorf("requests sum to %d; want %d", sum, want)
			}
			if tt.wantOffsets != nil && !slices.Equal(q.offsets, tt.wantOffsets) {
				t.Errorf("queried offsets %v; want %v", q.offsets, tt.wantOffsets)
			}
			if b.Source != "deepflow" || !b.ObservedAt.Equal(windowEnd) {
				t.Errorf("source %q observed %v; want deepflow at %v", b.Source, b.ObservedAt, windowEnd)
			}
			want := edgebatch.Snapshot{ID: "deepflow/test-eks/2026-12-03T08:00:00Z", Scope: "deepflow/test-eks"}
			if b.Snapshot == nil || *b.Snapshot != want {
				t.Errorf("snapshot %+v; want %+v", b.Snapshot, want)
			}
			if _, err := edgebatch.Split(b, edgebatch.SplitLimits{}); err != nil {
				t.Errorf("Split: %v", err)
			}
		})
	}
}

func TestDiscoverFailsRatherThanReturningLess(t *testing.T) {
	status := func(code int, opt, desc string) func(int, http.ResponseWriter) bool {
		return func(_ int, w http.ResponseWriter) bool {
			(&fakeQuerier{}).fail(w, code, opt, desc)
			return true
		}
	}
	raw := func(code int, body string) func(int, http.ResponseWriter) bool {
		return func(_ int, w http.ResponseWriter) bool {
			w.WriteHeader(code)
			w.Write([]byte(body))
			return true
		}
	}
	tests := []struct {
		name    string
		respond func(int, http.ResponseWriter) bool
		want    []string
	}{
		{"a 400 RESOURCE_NOT_FOUND is an error naming its description", status(400, "RESOURCE_NOT_FOUND", "application_map not found"), []string{"RESOURCE_NOT_FOUND", "application_map not found", "HTTP 400"}},
		{"a 500 FAIL is an error naming its description", status(500, "FAIL", "parse sql failed"), []string{"FAIL", "parse sql failed", "HTTP 500"}},
		{"a 200 with a failure status is an error", status(200, "SERVER_ERROR", "clickhouse down"), []string{"SERVER_ERROR", "clickhouse down"}},
		{"a failure on the second page fails the whole discovery", func(n int, w http.ResponseWriter) bool {
			if n == 0 {
				return false
			}
			(&fakeQuerier{}).fail(w, 500, "FAIL", "timeout on page two")
			return true
		}, []string{"timeout on page two", "offset 3"}},
		{"an HTML page is a malformed response", raw(502, "<html><body>Bad Gateway</body></html>"), []string{"malformed querier response", "HTTP 502"}},
		{"truncated JSON is a malformed response", raw(200, `{"OPT_STATUS":"SUCCESS","DESCRIPTION":"","result":{"columns":["a"`), []string{"malformed querier response", "HTTP 200"}},
		{"a success without a result is a malformed response", raw(200, `{"OPT_STATUS":"SUCCESS","DESCRIPTION":""}`), []string{"malformed querier response", "without a result"}},
		{"a body without OPT_STATUS is a malformed response", raw(200, `{"result":{"columns":[],"values":[]}}`), []string{"malformed querier response", "no OPT_STATUS"}},
		{"an empty 500 body is a malformed response", raw(500, ""), []string{"malformed querier response", "HTTP 500"}},
		{"a missing column is a malformed response", raw(200, `{"OPT_STATUS":"SUCCESS","DESCRIPTION":"","result":{"columns":["req"],"values":[[1]],"schemas":[]}}`), []string{"malformed querier response", "auto_service_0"}},
		{"a row shorter than the columns is a malformed response", raw(200, `{"OPT_STATUS":"SUCCESS","DESCRIPTION":"","result":{"columns":["a","b"],"values":[[1]],"schemas":[]}}`), []string{"malformed querier response", "row 0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQuerier{t: t, rows: genRows(10), rowCap: 4, respond: tt.respond}
			b, err := q.serve(t, 3).Discover(context.Background(), windowStart, windowEnd)
			if err == nil {
				t.Fatalf("no error; got a batch of %d edges", len(b.Edges))
			}
			if b != nil {
				t.Errorf("a batch came with the error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %q", err, w)
				}
			}
		})
	}
}

func TestQueryErrorsAreTyped(t *testing.T) {
	q := &fakeQuerier{t: t, respond: func(_ int, w http.ResponseWriter) bool {
		(&fakeQuerier{}).fail(w, 400, "RESOURCE_NUM_EXCEEDED", "too many")
		return true
	}}
	_, err := q.serve(t, 3).Discover(context.Background(), windowStart, windowEnd)
	var qe *QueryError
	if !errors.As(err, &qe) || qe.OptStatus != "RESOURCE_NUM_EXCEEDED" || qe.Description != "too many" || qe.HTTPStatus != 400 {
		t.Fatalf("error %v; want a QueryError RESOURCE_NUM_EXCEEDED", err)
	}
}

func TestAResponseOverTheSizeLimitIsAnError(t *testing.T) {
	q := &fakeQuerier{t: t, rows: genRows(5)}
	s := q.serve(t, 3)
	s.Client.MaxResponseBytes = 100
	if _, err := s.Discover(context.Background(), windowStart, windowEnd); err == nil || !strings.Contains(err.Error(), "larger than 100 bytes") {
		t.Fatalf("error %v; want one about the size limit", err)
	}
}

func TestAPageSizeTheQuerierWouldCapIsRefused(t *testing.T) {
	q := &fakeQuerier{t: t, rows: genRows(10), rowCap: 3}
	_, err := q.serve(t, 3).Discover(context.Background(), windowStart, windowEnd)
	if err == nil || !strings.Contains(err.Error(), "row limit 3") {
		t.Fatalf("error %v; want a refusal naming the querier's row limit", err)
	}
	if q.queries != 0 {
		t.Errorf("%d queries were made; want none", q.queries)
	}
}

func TestACancelledContextStopsDiscovery(t *testing.T) {
	q := &fakeQuerier{t: t, rows: genRows(10), rowCap: 4}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := q.serve(t, 3).Discover(ctx, windowStart, windowEnd)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v; want context.Canceled", err)
	}
}

func TestPrecisionFollowsTheWindow(t *testing.T) {
	tests := []struct {
		name   string
		window time.Duration
		want   string
	}{
		{"a five-minute window reads minute data", 5 * time.Minute, "1m"},
		{"a two-minute window reads minute data", 2 * time.Minute, "1m"},
		{"a one-minute window reads second data", time.Minute, "1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQuerier{t: t}
			s := q.serve(t, 3)
			s.Window = tt.window
			s.Now = func() time.Time { return windowEnd.Add(700 * time.Millisecond) }
			b, err := s.Snapshot(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(q.precisions, []string{tt.want}) {
				t.Errorf("precisions %v; want [%s]", q.precisions, tt.want)
			}
			if !b.ObservedAt.Equal(windowEnd) {
				t.Errorf("observed at %v; want the window end %v in whole seconds", b.ObservedAt, windowEnd)
			}
		})
	}
}

func TestTheQueryIsFixedTextAndIntegers(t *testing.T) {
	got := buildSQL(1795392000, 1795392300, 5001, 10000)
	for _, want := range []string{
		"FROM application_map WHERE time >= 1795392000 AND time < 1795392300 GROUP BY ",
		" ORDER BY auto_service_0, auto_service_type_0, auto_service_id_0, pod_ns_0, pod_cluster_0, vpc_0, auto_service_1,",
		"Max(`direction_score`) AS dir",
		" LIMIT 5001 OFFSET 10000",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("sql %q lacks %q", got, want)
		}
	}
}

func TestMapping(t *testing.T) {
	base := callRow("frontend", "petsearch", 80, 100)
	tests := []struct {
		name  string
		rows  []map[string]any
		check func(t *testing.T, b *edgebatch.Batch)
	}{
		{"named services get service ids, keyed calls edges and typed metrics", []map[string]any{base}, func(t *testing.T, b *edgebatch.Batch) {
			v := vertexByID(t, b, "svc:shop/frontend")
			if v.Label != "Service" || v.Props["service_type"] != "K8s Service" || v.Props["deepflow_service_id"] != int64(4001) || v.Props["namespace"] != "shop" || v.Props["name"] != "frontend" {
				t.Errorf("vertex %+v", v)
			}
			e := edgeByID(t, b, "calls:svc:shop/frontend>svc:shop/petsearch#80/HTTP")
			want := map[string]any{"requests": int64(100), "responses": int64(100), "server_errors": int64(1), "client_errors": int64(2), "timeouts": int64(0),
				"rrt_avg_us": 1000.5, "rrt_max_us": 9000.0, "direction_score": int64(255), "direction_certain": true, "l7_protocol": "HTTP", "server_port": int64(80)}
			for k, w := range want {
				if e.Props[k] != w {
					t.Errorf("%s is %#v; want %#v", k, e.Props[k], w)
				}
			}
		}},
		{"ids and types sent as JSON numbers read as strings do", []map[string]any{with(base, "auto_service_type_0", 11, "auto_service_id_0", 4001, "server_port", "80", "req", "100")}, func(t *testing.T, b *edgebatch.Batch) {
			v := vertexByID(t, b, "svc:shop/frontend")
			if v.Props["deepflow_service_id"] != int64(4001) || v.Props["service_type"] != "K8s Service" {
				t.Errorf("vertex %+v", v)
			}
			edgeByID(t, b, "calls:svc:shop/frontend>svc:shop/petsearch#80/HTTP")
		}},
		{"IP endpoints get ip: ids apart from a service named like an IP", []map[string]any{
			with(base, "auto_service_1", "10.0.3.17", "auto_service_type_1", "255", "auto_service_id_1", "0", "pod_ns_1", "", "server_port", 5432, "l7", "PostgreSQL"),
			with(base, "auto_service_1", "10.0.3.17", "auto_service_type_1", "255", "auto_service_id_1", "0", "pod_ns_1", "", "vpc_1", "vpc-b", "server_port", 5432, "l7", "PostgreSQL"),
			with(base, "auto_service_1", "8.8.8.8", "auto_service_type_1", "0", "auto_service_id_1", "0", "pod_ns_1", "", "vpc_1", "", "server_port", 53, "l7", "DNS"),
			with(base, "auto_service_1", "10.0.3.17", "pod_ns_1", ""),
		}, func(t *testing.T, b *edgebatch.Batch) {
			for _, id := range []string{"ip:vpc-a/10.0.3.17", "ip:vpc-b/10.0.3.17", "ip:8.8.8.8"} {
				if v := vertexByID(t, b, id); v.Label != IPEndpointLabel {
					t.Errorf("%s is labelled %s", id, v.Label)
				}
			}
			if v := vertexByID(t, b, "svc:10.0.3.17"); v.Label != "Service" {
				t.Errorf("the service named 10.0.3.17 is labelled %s", v.Label)
			}
			edgeByID(t, b, "calls:svc:shop/frontend>ip:vpc-a/10.0.3.17#5432/PostgreSQL")
			edgeByID(t, b, "calls:svc:shop/frontend>ip:8.8.8.8#53/DNS")
		}},
		{"a low direction score is marked, neither dropped nor reversed", []map[string]any{with(base, "dir", 120)}, func(t *testing.T, b *edgebatch.Batch) {
			e := edgeByID(t, b, "calls:svc:shop/frontend>svc:shop/petsearch#80/HTTP")
			if e.Props["direction_certain"] != false || e.Props["direction_score"] != int64(120) || e.From != "svc:shop/frontend" {
				t.Errorf("edge %+v", e)
			}
		}},
		{"a score of 252 counts as certain", []map[string]any{with(base, "dir", 252)}, func(t *testing.T, b *edgebatch.Batch) {
			if e := edgeByID(t, b, "calls:svc:shop/frontend>svc:shop/petsearch#80/HTTP"); e.Props["direction_certain"] != true {
				t.Errorf("edge %+v", e)
			}
		}},
		{"two ports between one pair are two edges", []map[string]any{base, with(base, "server_port", 8080, "l7", "gRPC")}, func(t *testing.T, b *edgebatch.Batch) {
			edgeByID(t, b, "calls:svc:shop/frontend>svc:shop/petsearch#80/HTTP")
			edgeByID(t, b, "calls:svc:shop/frontend>svc:shop/petsearch#8080/gRPC")
			if len(b.Edges) != 2 || len(b.Vertices) != 2 {
				t.Errorf("%d edges and %d vertices; want 2 and 2", len(b.Edges), len(b.Vertices))
			}
		}},
		{"rows of one edge are merged: counters summed, rrt weighted, maxima kept", []map[string]any{
			with(base, "req", 100, "resp", 90, "rrt_avg", 1000.0, "rrt_max", 5000, "dir", 100),
			with(base, "vpc_0", "vpc-z", "req", 300, "resp", 300, "rrt_avg", 2000.0, "rrt_max", 7000, "dir", 254),
		}, func(t *testing.T, b *edgebatch.Batch) {
			e := edgeByID(t, b, "calls:svc:shop/frontend>svc:shop/petsearch#80/HTTP")
			want := map[string]any{"requests": int64(400), "responses": int64(390), "server_errors": int64(2), "rrt_avg_us": 1750.0, "rrt_max_us": 7000.0, "direction_score": int64(254), "direction_certain": true}
			for k, w := range want {
				if e.Props[k] != w {
					t.Errorf("%s is %#v; want %#v", k, e.Props[k], w)
				}
			}
			if len(b.Edges) != 1 {
				t.Errorf("%d edges; want 1", len(b.Edges))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQuerier{t: t, rows: tt.rows, rowCap: 4}
			b, err := q.serve(t, 3).Discover(context.Background(), windowStart, windowEnd)
			if err != nil {
				t.Fatal(err)
			}
			if err := edgebatch.Validate(b); err != nil {
				t.Fatalf("Validate: %v", err)
			}
			tt.check(t, b)
		})
	}
}

func TestRowsTheMappingCannotReadFailTheDiscovery(t *testing.T) {
	base := callRow("frontend", "petsearch", 80, 100)
	tests := []struct {
		name string
		row  map[string]any
		want string
	}{
		{"a nameless endpoint is an error", with(base, "auto_service_0", ""), "no auto_service"},
		{"a request count that is not a number is an error", with(base, "req", "many"), "column req"},
		{"a fractional request count is an error", with(base, "req", 1.5), "column req"},
		{"a tag that is an object is an error", with(base, "pod_ns_0", map[string]any{}), "column pod_ns_0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := &fakeQuerier{t: t, rows: []map[string]any{tt.row}}
			b, err := q.serve(t, 3).Discover(context.Background(), windowStart, windowEnd)
			if err == nil || !strings.Contains(err.Error(), tt.want) || b != nil {
				t.Fatalf("error %v, batch %v; want an error naming %q and no batch", err, b, tt.want)
			}
		})
	}
}
