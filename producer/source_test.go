package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/graphfleet/graphfleet/shared/devtools/deepflowlocal"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// SOURCE=deepflow reads the querier named by DEEPFLOW_QUERIER_URL over the
// DEEPFLOW_WINDOW that ends at the run's time, as one snapshot of
// deepflow/<DEEPFLOW_NAME>.
func TestTheDeepFlowSourceReadsTheConfiguredQuerierAndWindow(t *testing.T) {
	t.Parallel()
	var sqlSeen, orgSeen atomic.Value // strings: written by the querier's goroutine
	querier := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		orgSeen.Store(r.Header.Get("X-Org-Id"))
		if r.URL.Path != "/v1/query/" || r.FormValue("db") != "flow_metrics" {
			http.Error(w, `{"OPT_STATUS":"INVALID_POST_DATA","DESCRIPTION":"bad request"}`, http.StatusBadRequest)
			return
		}
		sqlSeen.Store(r.FormValue("sql"))
		cols := []string{"auto_service_0", "auto_service_type_0", "auto_service_id_0", "pod_ns_0", "pod_cluster_0", "vpc_0",
			"auto_service_1", "auto_service_type_1", "auto_service_id_1", "pod_ns_1", "pod_cluster_1", "vpc_1",
			"server_port", "l7", "req", "resp", "srv_err", "cli_err", "tmo", "rrt_avg", "rrt_max", "dir"}
		row := []any{"frontend", 11, 4021, "petsite", "eks-prod", "vpc-a",
			"petsearch", 11, 4033, "petsite", "eks-prod", "vpc-a",
			80, "HTTP", 1200, 1200, 3, 0, 0, 1530.25, 88213, 255}
		_ = json.NewEncoder(w).Encode(map[string]any{"OPT_STATUS": "SUCCESS", "DESCRIPTION": "",
			"result": map[string]any{"columns": cols, "values": [][]any{row}}})
	}))
	defer querier.Close()

	cfg := Config{QueueURL: "http://127.0.0.1:9324/123456789012/q", Sources: []string{"deepflow"}, Once: true, DiscoveryTimeout: time.Minute, LogLevel: "info",
		DeepFlowQuerierURL: querier.URL, DeepFlowWindow: 5 * time.Minute, DeepFlowName: "prod-eks", DeepFlowRowLimit: 10000, DeepFlowOrgID: "3"}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	observed := time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)
	batches, err := newSource(cfg, "deepflow", aws.Config{})(context.Background(), observed)
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 {
		t.Fatalf("%d snapshots; want one", len(batches))
	}
	b := batches[0]
	if b.Source != "deepflow" || b.Snapshot == nil || b.Snapshot.Scope != "deepflow/prod-eks" || !b.ObservedAt.Equal(observed) {
		t.Fatalf("snapshot %s %+v observed %v", b.Source, b.Snapshot, b.ObservedAt)
	}
	if orgSeen.Load() != "3" {
		t.Errorf("X-Org-Id %q; want DEEPFLOW_ORG_ID's 3", orgSeen.Load())
	}
	if want := "time >= 1795255200 AND time < 1795255500"; !strings.Contains(sqlSeen.Load().(string), want) {
		t.Fatalf("query %q does not read the 5 minutes before the run (%s)", sqlSeen.Load(), want)
	}
	if len(b.Edges) != 1 || b.Edges[0].From != edgebatch.ServiceID("petsite", "frontend") || b.Edges[0].To != edgebatch.ServiceID("petsite", "petsearch") {
		t.Fatalf("edges %+v", b.Edges)
	}
	if err := edgebatch.Validate(b); err != nil {
		t.Fatal(err)
	}
}

func TestTheDeepFlowSettingsAreChecked(t *testing.T) {
	t.Parallel()
	cfg := Config{QueueURL: "http://127.0.0.1:9324/123456789012/q", Sources: []string{"deepflow"}, Once: true, DiscoveryTimeout: time.Minute, LogLevel: "info",
		DeepFlowWindow: 0, DeepFlowName: "Prod EKS", DeepFlowRowLimit: 0, DeepFlowOrgID: "0"}
	err := cfg.Validate()
	for _, want := range []string{"DEEPFLOW_QUERIER_URL", "DEEPFLOW_WINDOW", "DEEPFLOW_NAME", "DEEPFLOW_ROW_LIMIT", "DEEPFLOW_ORG_ID"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v; want it to name %s", err, want)
		}
	}
}

// Against the local querier, whose row limit is lower than the rows of the
// window, SOURCE=deepflow with DEEPFLOW_ROW_LIMIT set to that limit reads every
// row: nothing is cut.
func TestTheDeepFlowSourceReadsEveryRowPastTheQueriersLimit(t *testing.T) {
	t.Parallel()
	q, err := deepflowlocal.Start(deepflowlocal.Options{Scale: 3, RowLimit: 50})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	cfg := Config{QueueURL: "http://127.0.0.1:9324/123456789012/q", Sources: []string{"deepflow"}, Once: true, DiscoveryTimeout: time.Minute, LogLevel: "info",
		DeepFlowQuerierURL: q.URL(), DeepFlowWindow: 5 * time.Minute, DeepFlowName: "petsite", DeepFlowRowLimit: 50}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	observed := time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)
	batches, err := newSource(cfg, "deepflow", aws.Config{})(context.Background(), observed)
	if err != nil {
		t.Fatal(err)
	}
	want := q.Rows(observed.Add(-5 * time.Minute).Unix())
	if want <= 50 {
		t.Fatalf("the window holds %d rows; the test wants more than the limit", want)
	}
	if got := len(batches[0].Edges); got != want {
		t.Fatalf("%d calls edges from %d querier rows; a page was cut", got, want)
	}
}

// DEMO_CALLS=false leaves the PetSite calls to a DeepFlow source (as `make up`
// does), so the same calls are not sent twice under two scopes.
func TestTheDemoCanLeaveTheCallsToDeepFlow(t *testing.T) {
	t.Parallel()
	for _, calls := range []bool{true, false} {
		batches, err := newSource(Config{Sources: []string{"demo"}, DemoScale: 1, DemoCalls: calls}, "demo", aws.Config{})(context.Background(), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		var sources []string
		for _, b := range batches {
			sources = append(sources, b.Source)
		}
		hasCalls := strings.Contains(strings.Join(sources, ","), "deepflow")
		if hasCalls != calls || len(batches) < 2 {
			t.Fatalf("DEMO_CALLS=%v sends the sources %v", calls, sources)
		}
	}
}
