// Package deepflow discovers the calls between services from a DeepFlow
// querier (its SQL API, POST /v1/query/) and turns one time window of them
// into one snapshot batch: Service vertices and calls edges with their
// traffic metrics. See FACTS-INTEGRATIONS.md, "4. DeepFlow querier SQL API".
//
// Client speaks the querier protocol; Source builds the query, pages through
// every row and maps the rows to a batch (map.go).
package deepflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// DefaultMaxResponseBytes bounds a querier response body. A page of 5000 rows
// is a few MiB; the bound only stops a misbehaving server or proxy from
// exhausting the producer's memory.
const DefaultMaxResponseBytes = 256 << 20

// Client is a DeepFlow querier client.
type Client struct {
	// URL is the querier's base URL, e.g. http://deepflow-server:20416.
	URL string
	// HTTP is the client used; nil means http.DefaultClient. Set a timeout on
	// it or on the context: the querier may take long on a big window.
	HTTP *http.Client
	// MaxResponseBytes bounds a response body; 0 means DefaultMaxResponseBytes.
	MaxResponseBytes int64
	// OrgID is the DeepFlow organisation queried, sent as the X-Org-Id
	// header; empty sends none, which the querier takes as organisation 1.
	OrgID string
}

// Result is the "result" of a querier response. Values hold json.Number for
// numbers, so integers keep their precision; tag ids may come as strings,
// depending on the ClickHouse type of the column.
type Result struct {
	Columns []string `json:"columns"`
	Values  [][]any  `json:"values"`
	Schemas []Schema `json:"schemas"`
}

// Schema describes one column: Type 0 is a tag, 1 a metric; ValueType is the
// ClickHouse type name.
type Schema struct {
	Unit      string `json:"unit"`
	Type      int    `json:"type"`
	ValueType string `json:"value_type"`
	PreAs     string `json:"pre_as"`
	LabelType string `json:"label_type"`
}

// Column returns the index of the column named name, or -1.
func (r *Result) Column(name string) int {
	for i, c := range r.Columns {
		if c == name {
			return i
		}
	}
	return -1
}

// QueryError is an OPT_STATUS other than SUCCESS: the querier refused or
// failed the query. It is never turned into a smaller result.
type QueryError struct {
	HTTPStatus  int
	OptStatus   string
	Description string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("deepflow querier: %s (HTTP %d): %s", e.OptStatus, e.HTTPStatus, e.Description)
}

// ErrMalformed is wrapped by every error about a body that is not the
// querier's JSON response shape.
var ErrMalformed = errors.New("malformed querier response")

// response is the querier's envelope. Result is a pointer so a missing or
// null result can be told from an empty one.
type response struct {
	OptStatus   *string `json:"OPT_STATUS"`
	Description string  `json:"DESCRIPTION"`
	Result      *Result `json:"result"`
}

// Query runs sql on database db at data precision ("1m" or "1s") and returns
// its result. The caller builds sql; Source only ever passes fixed text and
// integers (see buildSQL).
func (c *Client) Query(ctx context.Context, db, precision, sql string) (*Result, error) {
	form := url.Values{"db": {db}, "sql": {sql}, "data_precision": {precision}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(c.URL, "/")+"/v1/query/", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("deepflow querier: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if c.OrgID != "" {
		req.Header.Set("X-Org-Id", c.OrgID)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("deepflow querier: %w", err)
	}
	defer resp.Body.Close()

	limit := c.MaxResponseBytes
	if limit <= 0 {
		limit = DefaultMaxResponseBytes
	}
	// Read one byte more than the limit so an oversized body is an error,
	// not a JSON document cut at the limit that might still parse.
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("deepflow querier: reading response (HTTP %d): %w", resp.StatusCode, err)
	}
	if int64(len(body)) > limit {
		return nil, fmt.Errorf("deepflow querier: response (HTTP %d) is larger than %d bytes; use a smaller page size", resp.StatusCode, limit)
	}

	var r response
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("deepflow querier: %w (HTTP %d): %v: %q", ErrMalformed, resp.StatusCode, err, snippet(body))
	}
	if dec.More() {
		return nil, fmt.Errorf("deepflow querier: %w (HTTP %d): data after the JSON document", ErrMalformed, resp.StatusCode)
	}
	if r.OptStatus == nil {
		return nil, fmt.Errorf("deepflow querier: %w (HTTP %d): no OPT_STATUS: %q", ErrMalformed, resp.StatusCode, snippet(body))
	}
	if *r.OptStatus != "SUCCESS" {
		return nil, &QueryError{HTTPStatus: resp.StatusCode, OptStatus: *r.OptStatus, Description: r.Description}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("deepflow querier: %w (HTTP %d): OPT_STATUS is SUCCESS but the HTTP status is not 200", ErrMalformed, resp.StatusCode)
	}
	if r.Result == nil {
		return nil, fmt.Errorf("deepflow querier: %w (HTTP %d): SUCCESS without a result", ErrMalformed, resp.StatusCode)
	}
	for i, row := range r.Result.Values {
		if len(row) != len(r.Result.Columns) {
			return nil, fmt.Errorf("deepflow querier: %w (HTTP %d): row %d has %d values for %d columns", ErrMalformed, resp.StatusCode, i, len(row), len(r.Result.Columns))
		}
	}
	return r.Result, nil
}

// snippet is the start of a body, for an error message.
func snippet(b []byte) string {
	const max = 200
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}
