package deepflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Defaults of Source.
const (
	// DefaultWindow is how far back a discovery looks.
	DefaultWindow = 5 * time.Minute
	// DefaultPageSize is how many rows one query returns at most.
	DefaultPageSize = 5000
	// DefaultServerRowLimit is the querier's own row limit (its "limit"
	// setting, default 10000).
	DefaultServerRowLimit = 10000
	// ShortWindow: windows shorter than this are read at 1s precision, others
	// at 1m, whose buckets would round a short window to almost nothing.
	ShortWindow = 2 * time.Minute
)

// Source discovers one DeepFlow deployment's calls as snapshots.
type Source struct {
	Client *Client
	// Name names the deployment (a cluster name, say) in the snapshot scope
	// "deepflow/<Name>" and id. Required: two deployments must not share a
	// scope, or the sweep of one would retire the other's edges.
	Name string
	// Window is how far back Snapshot looks; 0 means DefaultWindow.
	Window time.Duration
	// PageSize is how many rows one query returns; 0 means DefaultPageSize.
	PageSize int
	// ServerRowLimit is the querier's configured row limit; 0 means
	// DefaultServerRowLimit. A page of PageSize+1 rows must fit in it, or a
	// capped page would look like the last one.
	ServerRowLimit int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Snapshot discovers the window that ends now.
func (s *Source) Snapshot(ctx context.Context) (*edgebatch.Batch, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	w := s.Window
	if w <= 0 {
		w = DefaultWindow
	}
	// Whole seconds: the querier's time column is unix seconds.
	end := now().UTC().Truncate(time.Second)
	return s.Discover(ctx, end.Add(-w), end)
}

// Discover reads every call relation of the window [start, end) and returns
// it as one snapshot batch observed at end, ready for edgebatch.Split. Any
// querier error, and any row it cannot read, fails the whole discovery: a
// partial snapshot would make the sweep retire edges that still exist.
func (s *Source) Discover(ctx context.Context, start, end time.Time) (*edgebatch.Batch, error) {
	if s.Client == nil {
		return nil, errors.New("deepflow: no querier client")
	}
	if s.Name == "" {
		return nil, errors.New("deepflow: the source needs a name (the scope is deepflow/<name>)")
	}
	if !start.Before(end) {
		return nil, fmt.Errorf("deepflow: empty window [%s, %s)", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	pageSize := s.PageSize
	if pageSize <= 0 {
		pageSize = DefaultPageSize
	}
	serverLimit := s.ServerRowLimit
	if serverLimit <= 0 {
		serverLimit = DefaultServerRowLimit
	}
	if pageSize+1 > serverLimit {
		return nil, fmt.Errorf("deepflow: page size %d needs %d rows per response, more than the querier's row limit %d: a capped page could not be told from the last one", pageSize, pageSize+1, serverLimit)
	}
	rows, err := s.readAll(ctx, start.Unix(), end.Unix(), precisionFor(end.Sub(start)), pageSize)
	if err != nil {
		return nil, err
	}
	end = end.UTC()
	b, err := buildBatch(rows, end)
	if err != nil {
		return nil, err
	}
	scope := "deepflow/" + s.Name
	b.Snapshot = &edgebatch.Snapshot{ID: scope + "/" + end.Format(time.RFC3339), Scope: scope}
	return b, nil
}

// precisionFor chooses the data precision of a window from a fixed set.
func precisionFor(w time.Duration) string {
	if w < ShortWindow {
		return "1s"
	}
	return "1m"
}

// groupColumns are the tags a row is grouped and ordered by: client (_0) and
// server (_1) services with the columns that make their ids stable, and the
// server port and L7 protocol that tell apart calls between one pair.
var groupColumns = []string{
	"auto_service_0", "auto_service_type_0", "auto_service_id_0", "pod_ns_0", "pod_cluster_0", "vpc_0",
	"auto_service_1", "auto_service_type_1", "auto_service_id_1", "pod_ns_1", "pod_cluster_1", "vpc_1",
	"server_port", "l7",
}

// selectList is the fixed SELECT list; metric aliases are the names row.go
// reads.
const selectList = "auto_service_0, auto_service_type_0, auto_service_id_0, pod_ns_0, pod_cluster_0, vpc_0, " +
	"auto_service_1, auto_service_type_1, auto_service_id_1, pod_ns_1, pod_cluster_1, vpc_1, " +
	"server_port, Enum(l7_protocol) AS l7, " +
	"Sum(`request`) AS req, Sum(`response`) AS resp, Sum(`server_error`) AS srv_err, " +
	"Sum(`client_error`) AS cli_err, Sum(`timeout`) AS tmo, Avg(`rrt`) AS rrt_avg, " +
	"Max(`rrt_max`) AS rrt_max, Max(`direction_score`) AS dir"

// buildSQL is the query of one page. It is fixed text and integers only:
// nothing a user configures is spliced into SQL. The ORDER BY covers every
// group-by column, so each row has one place in the order and LIMIT/OFFSET
// pages neither repeat nor skip a row (as long as the window's data does not
// change while it is read: end a window in the past for that).
func buildSQL(start, end int64, limit, offset int) string {
	group := strings.Join(groupColumns, ", ")
	return "SELECT " + selectList +
		" FROM application_map WHERE time >= " + strconv.FormatInt(start, 10) + " AND time < " + strconv.FormatInt(end, 10) +
		" GROUP BY " + group +
		" ORDER BY " + group +
		" LIMIT " + strconv.Itoa(limit) + " OFFSET " + strconv.Itoa(offset)
}

// readAll pages through the window. Each query asks for pageSize+1 rows: more
// than pageSize back means there is another page; at most pageSize means this
// was the last. The querier returns no total count, so this is how a row limit
// is told from the end of the data.
func (s *Source) readAll(ctx context.Context, start, end int64, precision string, pageSize int) ([]row, error) {
	var rows []row
	for offset := 0; ; offset += pageSize {
		res, err := s.Client.Query(ctx, "flow_metrics", precision, buildSQL(start, end, pageSize+1, offset))
		if err != nil {
			return nil, fmt.Errorf("deepflow: page at offset %d: %w", offset, err)
		}
		if len(res.Values) > pageSize+1 {
			return nil, fmt.Errorf("deepflow: page at offset %d: %d rows for LIMIT %d", offset, len(res.Values), pageSize+1)
		}
		more := len(res.Values) > pageSize
		if more {
			res.Values = res.Values[:pageSize]
		}
		page, err := readRows(res)
		if err != nil {
			return nil, fmt.Errorf("deepflow: page at offset %d: %w", offset, err)
		}
		rows = append(rows, page...)
		if !more {
			return rows, nil
		}
	}
}
