package changes

import (
	"fmt"
	"strings"
	"testing"
)

// rec builds a record: "commit.op OP type id key=value [from>to] [last]".
func rec(commit, op int64, o, typ, id, key string, value any, ends ...string) Record {
	r := Record{CommitTimestamp: 1_764_000_000_000 + commit, EventID: EventID{commit, op}, Op: o}
	r.Data.ID, r.Data.Type, r.Data.Key = id, typ, key
	r.Data.Value.Value = value
	if len(ends) == 2 {
		r.Data.From, r.Data.To = ends[0], ends[1]
	}
	return r
}

func render(events []Event) string {
	var b strings.Builder
	for _, e := range events {
		fmt.Fprintf(&b, "%s %s %s %s", e.Position, e.Type, e.Element, e.Label)
		if e.From != "" {
			fmt.Fprintf(&b, " %s>%s", e.From, e.To)
		}
		if e.Reactivated {
			b.WriteString(" reactivated")
		}
		if e.needsEnds {
			b.WriteString(" (ends to read)")
		}
		if e.Props["source"] != nil {
			fmt.Fprintf(&b, " source=%v", e.Props["source"])
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestEvents(t *testing.T) {
	records := []Record{
		// 1: a vertex and an edge created, with the writer's bookkeeping.
		rec(1, 1, "ADD", "vl", "svc:a", "label", "Service"),
		rec(1, 2, "ADD", "vp", "svc:a", "source", "deepflow"),
		rec(1, 3, "ADD", "vl", "svc:b", "label", "Service"),
		rec(1, 4, "ADD", "e", "calls:a>b", "label", "calls", "svc:a", "svc:b"),
		rec(1, 5, "ADD", "ep", "calls:a>b", "source", "deepflow"),
		rec(1, 6, "ADD", "ep", "calls:a>b", "active", true),
		rec(1, 7, "ADD", "vl", "graphfleet:batch:s#0", "label", "GraphfleetBatch"),
		rec(1, 8, "ADD", "vp", "graphfleet:batch:s#0", "observed", int64(5)),
		// 2: a refresh (last_seen, figures, active true again): noise.
		rec(2, 1, "REMOVE", "ep", "calls:a>b", "last_seen", int64(1)),
		rec(2, 2, "ADD", "ep", "calls:a>b", "last_seen", int64(2)),
		rec(2, 3, "REMOVE", "ep", "calls:a>b", "active", true),
		rec(2, 4, "ADD", "ep", "calls:a>b", "active", true),
		rec(2, 5, "REMOVE", "vp", "svc:a", "last_seen", int64(1)),
		rec(2, 6, "ADD", "vp", "svc:a", "last_seen", int64(2)),
		// 3: a sweep deactivates the calls edge.
		rec(3, 1, "REMOVE", "ep", "calls:a>b", "active", true),
		rec(3, 2, "ADD", "ep", "calls:a>b", "active", false),
		// 4: seen again: active.
		rec(4, 1, "REMOVE", "ep", "calls:a>b", "active", false),
		rec(4, 2, "ADD", "ep", "calls:a>b", "active", true),
		// 5: a vertex dropped with its edge, and a bookkeeping vertex.
		rec(5, 1, "REMOVE", "ep", "calls:a>b", "active", true),
		rec(5, 2, "REMOVE", "e", "calls:a>b", "label", "calls", "svc:a", "svc:b"),
		rec(5, 3, "REMOVE", "vp", "svc:b", "name", "b"),
		rec(5, 4, "REMOVE", "vl", "svc:b", "label", "Service"),
		rec(5, 5, "REMOVE", "vl", "graphfleet:seal:s", "label", "GraphfleetSeal"),
	}
	events, noise := Events(records)
	want := `1.1 resource.added svc:a Service source=deepflow
1.3 resource.added svc:b Service
1.4 dependency.added calls:a>b calls svc:a>svc:b source=deepflow
3.2 dependency.deactivated calls:a>b  (ends to read)
4.2 dependency.added calls:a>b  reactivated (ends to read)
5.2 dependency.removed calls:a>b calls svc:a>svc:b
5.4 resource.removed svc:b Service
`
	if got := render(events); got != want {
		t.Fatalf("events:\n%s\nwant:\n%s", got, want)
	}
	if noise == 0 || noise >= len(records) {
		t.Fatalf("noise %d of %d records", noise, len(records))
	}
	d, err := events[2].Detail("cluster-1")
	if err != nil || !strings.Contains(string(d), `"event_id":"cluster-1:1:4"`) || !strings.Contains(string(d), `"source":"deepflow"`) {
		t.Fatalf("detail %s, %v", d, err)
	}
	// Too many properties to send: the event goes without them, marked.
	big := events[0]
	big.Props = map[string]any{"blob": strings.Repeat("x", maxDetail)}
	if d, err := big.Detail("c"); err != nil || len(d) > maxDetail || !strings.Contains(string(d), `"props_truncated":true`) {
		t.Fatalf("a detail over the limit: %d bytes, %v", len(d), err)
	}
}
