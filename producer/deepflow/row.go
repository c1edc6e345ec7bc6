package deepflow

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// endpoint is one side of a call as the querier reports it.
type endpoint struct {
	name    string // auto_service: a service name, or the IP for IP types
	typ     int64  // auto_service_type
	id      int64  // auto_service_id
	ns      string // pod_ns
	cluster string // pod_cluster
	vpc     string // vpc
}

// row is one grouped row of application_map: client -> server on one port
// and L7 protocol, with the window's metrics.
type row struct {
	client, server endpoint
	port           int64
	l7             string

	requests, responses, serverErrors, clientErrors, timeouts int64
	rrtAvg, rrtMax                                            float64
	directionScore                                            int64
}

// metricColumns are the aliases of selectList's metrics.
var metricColumns = []string{"req", "resp", "srv_err", "cli_err", "tmo", "rrt_avg", "rrt_max", "dir"}

// readRows converts a result to rows, finding each column by name: the
// querier's column order is not part of its contract.
func readRows(res *Result) ([]row, error) {
	col := map[string]int{}
	for _, name := range append(append([]string{}, groupColumns...), metricColumns...) {
		i := res.Column(name)
		if i < 0 {
			return nil, fmt.Errorf("%w: no column %q in %q", ErrMalformed, name, res.Columns)
		}
		col[name] = i
	}
	rows := make([]row, 0, len(res.Values))
	for n, vals := range res.Values {
		r := rowReader{vals: vals, col: col}
		out := row{
			client:         r.endpoint("0"),
			server:         r.endpoint("1"),
			port:           r.int("server_port"),
			l7:             r.str("l7"),
			requests:       r.int("req"),
			responses:      r.int("resp"),
			serverErrors:   r.int("srv_err"),
			clientErrors:   r.int("cli_err"),
			timeouts:       r.int("tmo"),
			rrtAvg:         r.float("rrt_avg"),
			rrtMax:         r.float("rrt_max"),
			directionScore: r.int("dir"),
		}
		if r.err != nil {
			return nil, fmt.Errorf("row %d: %w", n, r.err)
		}
		rows = append(rows, out)
	}
	return rows, nil
}

// rowReader reads typed values from one row, keeping the first error.
type rowReader struct {
	vals []any
	col  map[string]int
	err  error
}

func (r *rowReader) endpoint(side string) endpoint {
	return endpoint{
		name:    r.str("auto_service_" + side),
		typ:     r.int("auto_service_type_" + side),
		id:      r.int("auto_service_id_" + side),
		ns:      r.str("pod_ns_" + side),
		cluster: r.str("pod_cluster_" + side),
		vpc:     r.str("vpc_" + side),
	}
}

func (r *rowReader) fail(name string, v any, want string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: column %s is %T %v; want %s", ErrMalformed, name, v, v, want)
	}
}

// str reads a tag. A number is accepted too (a tag of a numeric ClickHouse
// type); null is "".
func (r *rowReader) str(name string) string {
	switch v := r.vals[r.col[name]].(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		r.fail(name, v, "a string")
		return ""
	}
}

// int reads an integer sent as a JSON number or as a string (tag ids and
// enums come as strings from String columns). A whole float ("1200.0", which
// a Sum over a Float64 column gives) is accepted; null is 0, as ClickHouse
// gives for a sum of nothing.
func (r *rowReader) int(name string) int64 {
	s, ok := r.numberText(name, "an integer")
	if !ok {
		return 0
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		r.fail(name, s, "an integer")
		return 0
	}
	return int64(f)
}

// float reads a finite number sent as a JSON number or a string; null is 0
// (an average over no responses).
func (r *rowReader) float(name string) float64 {
	s, ok := r.numberText(name, "a number")
	if !ok {
		return 0
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		r.fail(name, s, "a finite number")
		return 0
	}
	return f
}

// numberText is a numeric cell as text: a JSON number or a string. ok is
// false for null (the caller's zero) and for any other type (reported as not
// being want).
func (r *rowReader) numberText(name, want string) (s string, ok bool) {
	switch v := r.vals[r.col[name]].(type) {
	case json.Number:
		return v.String(), true
	case string:
		return v, true
	case nil:
		return "", false
	default:
		r.fail(name, v, want)
		return "", false
	}
}
