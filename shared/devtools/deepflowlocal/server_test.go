package deepflowlocal

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/producer/deepflow"
	"github.com/graphfleet/graphfleet/producer/demo"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

var (
	windowStart = time.Unix(1795392000, 0).UTC()
	windowEnd   = windowStart.Add(5 * time.Minute)
)

func start(t *testing.T, opts Options) *Server {
	t.Helper()
	srv, err := Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func source(srv *Server, pageSize int) *deepflow.Source {
	return &deepflow.Source{
		Client:         &deepflow.Client{URL: srv.URL()},
		Name:           "petsite-eks",
		PageSize:       pageSize,
		ServerRowLimit: srv.RowLimit(),
	}
}

// checkBatch checks b holds every demo call of scale copies, the IP
// endpoints and the guessed-direction pair, and nothing else.
func checkBatch(t *testing.T, b *edgebatch.Batch, scale int) {
	t.Helper()
	if err := edgebatch.Validate(b); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	want := demo.New(scale, 1).Calls(windowEnd)
	if got, n := len(b.Edges), len(want.Edges)+ExtraRowsPerCopy*scale; got != n {
		t.Fatalf("%d edges, want %d", got, n)
	}
	if len(want.Edges) != 100*scale {
		t.Fatalf("demo has %d calls for scale %d; the test assumes 100 per copy", len(want.Edges), scale)
	}
	if got, n := len(b.Vertices), len(want.Vertices)+2*scale; got != n {
		t.Errorf("%d vertices, want %d services and %d IP endpoints", got, len(want.Vertices), 2*scale)
	}
	edges := map[string]edgebatch.Edge{}
	for _, e := range b.Edges {
		if e.Label != edgebatch.CallsLabel {
			t.Errorf("edge %s has label %s", e.ID, e.Label)
		}
		edges[e.ID] = e
	}
	for _, e := range want.Edges {
		id := edgebatch.EdgeIDWithKey(edgebatch.CallsLabel, e.From, e.To, deepflow.CallKey(80, "HTTP"))
		got, ok := edges[id]
		if !ok {
			t.Fatalf("no edge %s", id)
		}
		// Metrics are seeded by the window, not by demo's seed: check only
		// that they came through as integers.
		if req, ok := got.Props["requests"].(int64); !ok || req < 100 {
			t.Errorf("edge %s requests %v", id, got.Props["requests"])
		}
		if got.Props["direction_certain"] != true {
			t.Errorf("edge %s direction %v", id, got.Props["direction_score"])
		}
	}
	ips, guessed := 0, 0
	for _, v := range b.Vertices {
		if v.Label == deepflow.IPEndpointLabel {
			ips++
		}
	}
	for _, e := range b.Edges {
		if e.Props["direction_certain"] == false {
			guessed++
			if e.Props["direction_score"] != int64(LowDirectionScore) {
				t.Errorf("guessed edge %s score %v", e.ID, e.Props["direction_score"])
			}
		}
	}
	if ips != 2*scale || guessed != scale {
		t.Errorf("%d IP endpoints and %d guessed-direction edges; want %d and %d", ips, guessed, 2*scale, scale)
	}
}

func TestSourceReadsEveryRow(t *testing.T) {
	srv := start(t, Options{})
	b, err := source(srv, 0).Discover(context.Background(), windowStart, windowEnd)
	if err != nil {
		t.Fatal(err)
	}
	checkBatch(t, b, 1)
	if srv.Queries() != 1 {
		t.Errorf("%d queries for one page", srv.Queries())
	}
}

func TestSourcePagesPastRowLimit(t *testing.T) {
	const scale, rowLimit, pageSize = 3, 50, 20
	srv := start(t, Options{Scale: scale, RowLimit: rowLimit})
	rows := srv.Rows(windowStart.Unix())
	if rows <= rowLimit {
		t.Fatalf("%d rows do not exceed the row limit %d", rows, rowLimit)
	}
	b, err := source(srv, pageSize).Discover(context.Background(), windowStart, windowEnd)
	if err != nil {
		t.Fatal(err)
	}
	checkBatch(t, b, scale)
	if want := int64(rows/pageSize + 1); srv.Queries() != want {
		t.Errorf("%d queries, want %d", srv.Queries(), want)
	}
	// The same window read again is the same batch.
	again, err := source(srv, pageSize).Discover(context.Background(), windowStart, windowEnd)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := json.Marshal(b)
	y, _ := json.Marshal(again)
	if string(x) != string(y) {
		t.Error("two reads of one window differ")
	}
}

// post sends a raw query and returns the HTTP status and decoded body.
func post(t *testing.T, srv *Server, form url.Values) (int, map[string]any, []byte) {
	t.Helper()
	resp, err := http.PostForm(srv.URL()+"/v1/query/", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("body %q: %v", body, err)
		}
	}
	return resp.StatusCode, m, body
}

const shortSelect = "SELECT auto_service_0, auto_service_id_0, auto_service_1, auto_service_id_1, server_port, " +
	"Enum(l7_protocol) AS l7, Sum(`request`) AS req FROM application_map WHERE time >= %A AND time < %B " +
	"GROUP BY auto_service_0, auto_service_id_0, auto_service_1, auto_service_id_1, server_port, l7 "

func sql(a, b, tail string) string {
	return strings.NewReplacer("%A", a, "%B", b).Replace(shortSelect) + tail
}

func values(t *testing.T, m map[string]any) []any {
	t.Helper()
	if m["OPT_STATUS"] != "SUCCESS" || m["DESCRIPTION"] != "" {
		t.Fatalf("response %v", m)
	}
	res := m["result"].(map[string]any)
	if n := len(res["columns"].([]any)); n != 7 || len(res["schemas"].([]any)) != n {
		t.Fatalf("columns %v schemas %v", res["columns"], res["schemas"])
	}
	return res["values"].([]any)
}

func TestLimitIsCutToRowLimit(t *testing.T) {
	srv := start(t, Options{RowLimit: 50})
	q := func(s string) []any {
		code, m, _ := post(t, srv, url.Values{"db": {"flow_metrics"}, "data_precision": {"1m"}, "sql": {s}})
		if code != http.StatusOK {
			t.Fatalf("HTTP %d: %v", code, m)
		}
		return values(t, m)
	}
	for tail, want := range map[string]int{
		"ORDER BY req DESC LIMIT 1000": 50, // cut to the row limit, silently
		"ORDER BY req DESC":            50, // no LIMIT is the row limit
		"LIMIT 10 OFFSET 5":            10,
		"LIMIT 10 OFFSET 100":          3, // 103 rows
		"LIMIT 10 OFFSET 1000":         0,
	} {
		if got := len(q(sql("1795392000", "1795392300", tail))); got != want {
			t.Errorf("%s: %d rows, want %d", tail, got, want)
		}
	}
	// ORDER BY req DESC is honoured.
	vals := q(sql("1795392000", "1795392300", "ORDER BY req DESC LIMIT 5"))
	prev := 1 << 62
	for _, v := range vals {
		req := int(v.([]any)[6].(float64))
		if req > prev {
			t.Errorf("req %d after %d in DESC order", req, prev)
		}
		prev = req
	}
	// An empty window holds no rows.
	for _, w := range [][2]string{{"1795392000", "1795392000"}, {"1795392300", "1795392000"}} {
		if got := len(q(sql(w[0], w[1], "LIMIT 10"))); got != 0 {
			t.Errorf("window %v: %d rows", w, got)
		}
	}
}

func TestFailWith(t *testing.T) {
	srv := start(t, Options{FailWith: &Failure{Status: "FAIL", Description: "clickhouse: connection refused"}})
	_, err := source(srv, 0).Discover(context.Background(), windowStart, windowEnd)
	var qe *deepflow.QueryError
	if !errors.As(err, &qe) || qe.OptStatus != "FAIL" || qe.HTTPStatus != 500 || !strings.Contains(err.Error(), "clickhouse: connection refused") {
		t.Fatalf("error %v", err)
	}
	srv.SetFailWith(&Failure{Status: "RESOURCE_NUM_EXCEEDED", Description: "too many"})
	_, err = source(srv, 0).Discover(context.Background(), windowStart, windowEnd)
	if !errors.As(err, &qe) || qe.OptStatus != "RESOURCE_NUM_EXCEEDED" || qe.HTTPStatus != 400 {
		t.Fatalf("error %v", err)
	}
	// A status the querier's router has no case for: HTTP 200, no body.
	srv.SetFailWith(&Failure{Status: "NO_SUCH_STATUS", Description: "x"})
	_, err = source(srv, 0).Discover(context.Background(), windowStart, windowEnd)
	if !errors.Is(err, deepflow.ErrMalformed) {
		t.Fatalf("error %v", err)
	}
	srv.SetFailWith(nil)
	if _, err := source(srv, 0).Discover(context.Background(), windowStart, windowEnd); err != nil {
		t.Fatal(err)
	}
}

func TestUnknownDatabase(t *testing.T) {
	srv := start(t, Options{})
	code, m, _ := post(t, srv, url.Values{"db": {"flow_log"}, "sql": {sql("1", "2", "LIMIT 1")}})
	if code != http.StatusBadRequest || m["OPT_STATUS"] != "RESOURCE_NOT_FOUND" || m["DESCRIPTION"] != "flow_log not found" {
		t.Fatalf("HTTP %d %v", code, m)
	}
	if _, ok := m["result"]; !ok {
		t.Errorf("no result key: %v", m)
	}
}

func TestRefusesWhatItDoesNotUnderstand(t *testing.T) {
	srv := start(t, Options{})
	for name, s := range map[string]string{
		"not a select": "SHOW tables",
		"other table":  strings.Replace(sql("1", "2", "LIMIT 1"), "application_map", "application", 1),
		"extra filter": strings.Replace(sql("1", "2", "LIMIT 1"), "time < 2", "time < 2 AND pod_ns_0 = 'x'", 1),
		"unknown col":  strings.Replace(sql("1", "2", "LIMIT 1"), "Sum(`request`)", "Sum(`bytes`)", 1),
		"bare metric":  strings.Replace(sql("1", "2", "LIMIT 1"), "Sum(`request`)", "request", 1),
		"fewer groups": strings.Replace(sql("1", "2", "LIMIT 1"), ", server_port, l7 ", ", l7 ", 1),
		"bad order":    sql("1", "2", "ORDER BY nothing LIMIT 1"),
		"limit comma":  sql("1", "2", "LIMIT 1, 2"),
	} {
		code, m, _ := post(t, srv, url.Values{"db": {"flow_metrics"}, "sql": {s}})
		if code != http.StatusInternalServerError || m["OPT_STATUS"] != "FAIL" || m["DESCRIPTION"] == "" {
			t.Errorf("%s: HTTP %d %v", name, code, m)
		}
	}
	code, m, _ := post(t, srv, url.Values{"db": {"flow_metrics"}, "data_precision": {"1h"}, "sql": {sql("1", "2", "LIMIT 1")}})
	if code != http.StatusInternalServerError || m["OPT_STATUS"] != "FAIL" {
		t.Errorf("precision 1h: HTTP %d %v", code, m)
	}
	// The client sees the querier's refusal as a QueryError.
	c := &deepflow.Client{URL: srv.URL()}
	_, err := c.Query(context.Background(), "flow_metrics", "1m", "SHOW tables")
	var qe *deepflow.QueryError
	if !errors.As(err, &qe) || qe.OptStatus != "FAIL" {
		t.Fatalf("error %v", err)
	}
}

func TestJSONBodyAndPrecisionInTable(t *testing.T) {
	srv := start(t, Options{})
	body, _ := json.Marshal(map[string]string{"db": "flow_metrics", "sql": strings.Replace(sql("1795392000", "1795392300", "LIMIT 7"), "application_map", "`application_map.1s`", 1)})
	resp, err := http.Post(srv.URL()+"/v1/query/", "application/json", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var m map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
		t.Fatal(err)
	}
	if got := len(values(t, m)); got != 7 {
		t.Errorf("%d rows", got)
	}
}
