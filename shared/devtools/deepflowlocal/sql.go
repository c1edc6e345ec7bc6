package deepflowlocal

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// column is a SELECT expression the server can evaluate.
type column struct {
	metric    bool
	valueType string
	// value is the JSON value; sortKey orders rows (int64, float64 or string).
	value   func(*callRow) any
	sortKey func(*callRow) any
}

// tag returns a String tag column.
func tag(f func(*callRow) string) column {
	return column{valueType: "String", value: func(r *callRow) any { return f(r) }, sortKey: func(r *callRow) any { return f(r) }}
}

// numTag is a numeric tag, sent as a string (as the querier sends ids and
// enums of String columns) and ordered as a number.
func numTag(f func(*callRow) int64) column {
	return column{valueType: "String",
		value:   func(r *callRow) any { return strconv.FormatInt(f(r), 10) },
		sortKey: func(r *callRow) any { return f(r) }}
}

func intMetric(f func(*callRow) int64) column {
	return column{metric: true, valueType: "UInt64", value: func(r *callRow) any { return f(r) }, sortKey: func(r *callRow) any { return f(r) }}
}

func floatMetric(f func(*callRow) float64) column {
	return column{metric: true, valueType: "Float64", value: func(r *callRow) any { return f(r) }, sortKey: func(r *callRow) any { return f(r) }}
}

// columns are the expressions understood, by normalised text (see normalise).
var columns = func() map[string]column {
	m := map[string]column{
		"server_port":       numTag(func(r *callRow) int64 { return r.port }),
		"Enum(l7_protocol)": tag(func(r *callRow) string { return r.l7 }),

		"Sum(request)":         intMetric(func(r *callRow) int64 { return r.req }),
		"Sum(response)":        intMetric(func(r *callRow) int64 { return r.resp }),
		"Sum(error)":           intMetric(func(r *callRow) int64 { return r.err }),
		"Sum(server_error)":    intMetric(func(r *callRow) int64 { return r.srvErr }),
		"Sum(client_error)":    intMetric(func(r *callRow) int64 { return r.cliErr }),
		"Sum(timeout)":         intMetric(func(r *callRow) int64 { return r.tmo }),
		"Avg(rrt)":             floatMetric(func(r *callRow) float64 { return r.rrtAvg }),
		"Max(rrt_max)":         floatMetric(func(r *callRow) float64 { return r.rrtMax }),
		"Max(direction_score)": intMetric(func(r *callRow) int64 { return r.dir }),
	}
	for side := range 2 {
		sfx := "_" + strconv.Itoa(side)
		m["auto_service"+sfx] = tag(func(r *callRow) string { return r.side[side].name })
		m["auto_service_type"+sfx] = numTag(func(r *callRow) int64 { return r.side[side].typ })
		m["auto_service_id"+sfx] = numTag(func(r *callRow) int64 { return r.side[side].id })
		m["pod_ns"+sfx] = tag(func(r *callRow) string { return r.side[side].ns })
		m["pod_cluster"+sfx] = tag(func(r *callRow) string { return r.side[side].cluster })
		m["vpc"+sfx] = tag(func(r *callRow) string { return r.side[side].vpc })
	}
	m["Max(direction_score)"] = column{metric: true, valueType: "UInt8", value: m["Max(direction_score)"].value, sortKey: m["Max(direction_score)"].sortKey}
	return m
}()

// identifying are the tags that tell every served row apart: a GROUP BY must
// include them, since grouping over fewer would need an aggregation the
// server does not implement.
var identifying = []string{"auto_service_0", "auto_service_id_0", "auto_service_1", "auto_service_id_1", "server_port", "Enum(l7_protocol)"}

var (
	queryRE = regexp.MustCompile(`(?i)^SELECT (.+) FROM (\S+) WHERE time ?>= ?(\d+) AND time ?< ?(\d+) GROUP BY (.+?)(?: ORDER BY (.+?))?(?: LIMIT (\d+)(?: OFFSET (\d+))?)?$`)
	itemRE  = regexp.MustCompile(`(?i)^(.+?)(?: AS (\w+))?$`)
	funcRE  = regexp.MustCompile(`^(\w+)\((\w+)\)$`)
	orderRE = regexp.MustCompile(`(?i)^(\S+)(?: (ASC|DESC))?$`)
)

// tables are the names of application_map (with a precision, or its old name).
var tables = map[string]bool{
	"application_map": true, "application_map.1m": true, "application_map.1s": true,
	"vtap_app_edge_port": true, "vtap_app_edge_port.1m": true, "vtap_app_edge_port.1s": true,
}

// selected is one SELECT item.
type selected struct {
	name string // the alias, or the expression as written
	key  string // the normalised expression
	col  column
}

type order struct {
	col  column
	key  string // the selected expression, normalised
	desc bool
}

// query is a parsed query.
type query struct {
	start, end int64
	items      []selected
	orderBy    []order
	limit      int // -1: none
	offset     int
}

// normalise is the key of an expression: backticks removed, function names
// in the case of the columns map (DeepFlow's function names are not case
// sensitive; its column names are).
func normalise(expr string) string {
	e := strings.ReplaceAll(strings.TrimSpace(expr), "`", "")
	if m := funcRE.FindStringSubmatch(e); m != nil {
		fn := strings.ToLower(m[1])
		if fn != "" {
			fn = strings.ToUpper(fn[:1]) + fn[1:]
		}
		return fn + "(" + m[2] + ")"
	}
	return e
}

// splitList splits a comma-separated list; the expressions understood have
// no commas of their own.
func splitList(s string) []string {
	parts := strings.Split(s, ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	return parts
}

// parse reads the query shape of producer/deepflow, refusing anything else.
func parse(sql string) (*query, error) {
	text := strings.Join(strings.Fields(sql), " ")
	m := queryRE.FindStringSubmatch(text)
	if m == nil {
		return nil, fmt.Errorf("deepflowlocal: cannot parse sql: only SELECT ... FROM application_map WHERE time >= A AND time < B GROUP BY ... [ORDER BY ...] [LIMIT n [OFFSET m]] is understood: %q", sql)
	}
	table := strings.ReplaceAll(m[2], "`", "")
	if !tables[table] {
		return nil, fmt.Errorf("deepflowlocal: table %s is not served (only application_map)", table)
	}
	q := &query{limit: -1}
	var err error
	if q.start, err = strconv.ParseInt(m[3], 10, 64); err != nil {
		return nil, fmt.Errorf("deepflowlocal: time %s: %w", m[3], err)
	}
	if q.end, err = strconv.ParseInt(m[4], 10, 64); err != nil {
		return nil, fmt.Errorf("deepflowlocal: time %s: %w", m[4], err)
	}
	if m[7] != "" {
		if q.limit, err = strconv.Atoi(m[7]); err != nil {
			return nil, fmt.Errorf("deepflowlocal: LIMIT %s: %w", m[7], err)
		}
	}
	if m[8] != "" {
		if q.offset, err = strconv.Atoi(m[8]); err != nil {
			return nil, fmt.Errorf("deepflowlocal: OFFSET %s: %w", m[8], err)
		}
	}

	byName := map[string]int{}
	for _, item := range splitList(m[1]) {
		im := itemRE.FindStringSubmatch(item)
		key := normalise(im[1])
		col, ok := columns[key]
		if !ok {
			return nil, fmt.Errorf("deepflowlocal: %s is not a served column or aggregate of application_map", im[1])
		}
		name := im[2]
		if name == "" {
			name = strings.TrimSpace(im[1])
		}
		if _, dup := byName[name]; dup {
			return nil, fmt.Errorf("deepflowlocal: column %s selected twice", name)
		}
		q.items = append(q.items, selected{name: name, key: key, col: col})
		byName[name] = len(q.items) - 1
	}
	// Names resolve to an alias first, then to an expression.
	lookup := func(name string) *selected {
		if i, ok := byName[name]; ok {
			return &q.items[i]
		}
		key := normalise(name)
		for i := range q.items {
			if q.items[i].key == key {
				return &q.items[i]
			}
		}
		return nil
	}

	grouped := map[string]bool{}
	for _, g := range splitList(m[5]) {
		s := lookup(g)
		if s == nil {
			return nil, fmt.Errorf("deepflowlocal: GROUP BY %s is not a selected tag", g)
		}
		if s.col.metric {
			return nil, fmt.Errorf("deepflowlocal: cannot GROUP BY the aggregate %s", g)
		}
		grouped[s.key] = true
	}
	for _, s := range q.items {
		if !s.col.metric && !grouped[s.key] {
			return nil, fmt.Errorf("deepflowlocal: tag %s is selected but not in GROUP BY", s.name)
		}
	}
	for _, k := range identifying {
		if !grouped[k] {
			return nil, fmt.Errorf("deepflowlocal: GROUP BY must include %s: grouping over fewer tags is not implemented", k)
		}
	}

	if m[6] != "" {
		for _, o := range splitList(m[6]) {
			om := orderRE.FindStringSubmatch(o)
			if om == nil {
				return nil, fmt.Errorf("deepflowlocal: cannot parse ORDER BY %s", o)
			}
			s := lookup(om[1])
			if s == nil {
				return nil, fmt.Errorf("deepflowlocal: ORDER BY %s is not a selected column", om[1])
			}
			q.orderBy = append(q.orderBy, order{col: s.col, key: s.key, desc: strings.EqualFold(om[2], "DESC")})
		}
	}
	return q, nil
}

// compareKeys compares two sort keys of one column.
func compareKeys(a, b any) int {
	switch x := a.(type) {
	case int64:
		return cmp.Compare(x, b.(int64))
	case float64:
		return cmp.Compare(x, b.(float64))
	default:
		return cmp.Compare(x.(string), b.(string))
	}
}

// tieBreak orders rows the ORDER BY leaves equal, so that every row has one
// place and pages neither repeat nor skip a row.
var tieBreak = func() []column {
	var cols []column
	for _, k := range []string{"auto_service_0", "auto_service_type_0", "auto_service_id_0", "pod_ns_0", "pod_cluster_0", "vpc_0",
		"auto_service_1", "auto_service_type_1", "auto_service_id_1", "pod_ns_1", "pod_cluster_1", "vpc_1", "server_port", "Enum(l7_protocol)"} {
		cols = append(cols, columns[k])
	}
	return cols
}()

// run answers q over rows, at most rowLimit of them.
// orderKey names q's ORDER BY, so that the pages of one window and order
// share one sort (see Server.sorted).
func (q *query) orderKey() string {
	var sb strings.Builder
	for _, o := range q.orderBy {
		sb.WriteString(o.key)
		if o.desc {
			sb.WriteString(" DESC")
		}
		sb.WriteByte(',')
	}
	return sb.String()
}

// sort orders rows by q's ORDER BY and then by every tag, as a total order,
// so that LIMIT/OFFSET pages neither repeat nor skip a row. Sort keys are
// computed once per row, not once per comparison.
func (q *query) sort(rows []callRow) []callRow {
	cols := make([]order, 0, len(q.orderBy)+len(tieBreak))
	cols = append(cols, q.orderBy...)
	for _, c := range tieBreak {
		cols = append(cols, order{col: c})
	}
	keys := make([][]any, len(rows))
	for i := range rows {
		keys[i] = make([]any, len(cols))
		for j, o := range cols {
			keys[i][j] = o.col.sortKey(&rows[i])
		}
	}
	idx := make([]int, len(rows))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int {
		for j, o := range cols {
			c := compareKeys(keys[a][j], keys[b][j])
			if o.desc {
				c = -c
			}
			if c != 0 {
				return c
			}
		}
		return 0
	})
	sorted := make([]callRow, len(rows))
	for i, k := range idx {
		sorted[i] = rows[k]
	}
	return sorted
}

// page is the result of q over rows already sorted by q.sort.
func (q *query) page(sorted []callRow, rowLimit int) *result {
	limit := q.limit
	if limit < 0 || limit > rowLimit {
		limit = rowLimit
	}
	from := min(q.offset, len(sorted))
	to := min(from+limit, len(sorted))

	res := &result{Values: [][]any{}}
	for _, s := range q.items {
		res.Columns = append(res.Columns, s.name)
		typ := 0
		if s.col.metric {
			typ = 1
		}
		res.Schemas = append(res.Schemas, schema{Type: typ, ValueType: s.col.valueType})
	}
	for i := from; i < to; i++ {
		vals := make([]any, len(q.items))
		for j, s := range q.items {
			vals[j] = s.col.value(&sorted[i])
		}
		res.Values = append(res.Values, vals)
	}
	return res
}
