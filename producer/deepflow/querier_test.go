package deepflow

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"testing"
)

// fakeQuerier speaks the DeepFlow querier's SQL API (POST /v1/query/) over a
// fixed data set, honouring LIMIT and OFFSET and capping every response at
// rowCap rows as the real querier caps at its "limit" setting.
type fakeQuerier struct {
	t      *testing.T
	rows   []map[string]any // by column name
	rowCap int
	// respond, when set, answers query n (0-based) instead of the data set;
	// returning false falls through to the data set.
	respond func(n int, w http.ResponseWriter) bool

	mu         sync.Mutex
	queries    int
	offsets    []int
	precisions []string
}

var (
	limitRE = regexp.MustCompile(`LIMIT (\d+) OFFSET (\d+)$`)
	timeRE  = regexp.MustCompile(`WHERE time >= (\d+) AND time < (\d+) GROUP BY`)
)

// columns is the order the fake returns columns in: reversed from the
// SELECT list, so a client reading by position would fail.
func fakeColumns() []string {
	cols := append(append([]string{}, groupColumns...), metricColumns...)
	slices.Reverse(cols)
	return cols
}

func (q *fakeQuerier) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v1/query/" {
		http.NotFound(w, r)
		return
	}
	if err := r.ParseForm(); err != nil {
		q.fail(w, http.StatusBadRequest, "INVALID_POST_DATA", err.Error())
		return
	}
	db, sql, precision := r.PostForm.Get("db"), r.PostForm.Get("sql"), r.PostForm.Get("data_precision")
	q.mu.Lock()
	n := q.queries
	q.queries++
	q.precisions = append(q.precisions, precision)
	q.mu.Unlock()
	if db != "flow_metrics" {
		q.fail(w, http.StatusBadRequest, "RESOURCE_NOT_FOUND", db+" not found")
		return
	}
	if precision != "1m" && precision != "1s" {
		q.fail(w, http.StatusInternalServerError, "FAIL", "bad data_precision "+precision)
		return
	}
	if q.respond != nil && q.respond(n, w) {
		return
	}
	m := limitRE.FindStringSubmatch(sql)
	if m == nil || !timeRE.MatchString(sql) {
		q.fail(w, http.StatusInternalServerError, "FAIL", "cannot parse sql: "+sql)
		return
	}
	limit, _ := strconv.Atoi(m[1])
	offset, _ := strconv.Atoi(m[2])
	q.mu.Lock()
	q.offsets = append(q.offsets, offset)
	q.mu.Unlock()
	limit = min(limit, q.rowCap)
	cols := fakeColumns()
	values := [][]any{}
	for i := offset; i < len(q.rows) && i < offset+limit; i++ {
		vals := make([]any, len(cols))
		for j, c := range cols {
			vals[j] = q.rows[i][c]
		}
		values = append(values, vals)
	}
	schemas := make([]map[string]any, len(cols))
	for j := range cols {
		schemas[j] = map[string]any{"label_type": "", "pre_as": "", "type": 0, "unit": "", "value_type": "String"}
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{
		"OPT_STATUS": "SUCCESS", "DESCRIPTION": "",
		"result": map[string]any{"columns": cols, "values": values, "schemas": schemas},
	})
}

func (q *fakeQuerier) fail(w http.ResponseWriter, code int, status, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{"OPT_STATUS": status, "DESCRIPTION": desc, "result": nil, "debug": nil})
}

// serve starts q and returns a source reading from it.
func (q *fakeQuerier) serve(t *testing.T, pageSize int) *Source {
	t.Helper()
	if q.rowCap == 0 {
		q.rowCap = 10000
	}
	srv := httptest.NewServer(q)
	t.Cleanup(srv.Close)
	return &Source{
		Client:         &Client{URL: srv.URL, HTTP: srv.Client()},
		Name:           "test-eks",
		PageSize:       pageSize,
		ServerRowLimit: q.rowCap,
	}
}

// callRow is a row from client to server: K8s services in namespace "shop",
// their ids and types as strings (as String columns give them), metrics as
// numbers.
func callRow(client, server string, port int, req int64) map[string]any {
	return map[string]any{
		"auto_service_0": client, "auto_service_type_0": "11", "auto_service_id_0": "4001", "pod_ns_0": "shop", "pod_cluster_0": "eks-prod", "vpc_0": "vpc-a",
		"auto_service_1": server, "auto_service_type_1": "11", "auto_service_id_1": "4002", "pod_ns_1": "shop", "pod_cluster_1": "eks-prod", "vpc_1": "vpc-a",
		"server_port": port, "l7": "HTTP",
		"req": req, "resp": req, "srv_err": 1, "cli_err": 2, "tmo": 0,
		"rrt_avg": 1000.5, "rrt_max": 9000, "dir": 255,
	}
}

// genRows is n distinct calls: client-<i%5> to server-<i/5> on port 80, with
// i+1 requests, so all of them hold n(n+1)/2 requests.
func genRows(n int) []map[string]any {
	rows := make([]map[string]any, n)
	for i := range rows {
		rows[i] = callRow(fmt.Sprintf("client-%d", i%5), fmt.Sprintf("server-%d", i/5), 80, int64(i+1))
	}
	return rows
}

// with returns a copy of r with the given columns changed.
func with(r map[string]any, kv ...any) map[string]any {
	out := map[string]any{}
	for k, v := range r {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}
