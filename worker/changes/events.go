package changes

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// The event types on the bus (detail-type).
const (
	DependencyAdded       = "dependency.added"       // an edge created, or a calls edge active again
	DependencyRemoved     = "dependency.removed"     // an edge dropped (a sweep, or its vertex dropped)
	DependencyDeactivated = "dependency.deactivated" // a calls edge a sweep found stale (active=false)
	ResourceAdded         = "resource.added"         // a vertex created
	ResourceRemoved       = "resource.removed"       // a vertex dropped
)

// EventSource is the events' source on the bus.
const EventSource = "graphfleet"

// maxDetail bounds one event's detail; EventBridge takes 256 KB per call,
// and an event whose properties would not fit is sent without them.
const maxDetail = 64 << 10

// Event is one graph change as the bus carries it.
type Event struct {
	Type     string
	Position EventID   // the change record that caused it
	Time     time.Time // the commit's
	Element  string    // the vertex's or edge's id
	Label    string
	From, To string
	// Props are the properties the same transaction added (a new element's).
	Props       map[string]any
	Reactivated bool
	// needsEnds marks a dependency event made from a property change: the
	// record names only the edge, so its label and ends are read before
	// publishing.
	needsEnds bool
}

// Detail is the event's detail document.
type Detail struct {
	// EventID is deterministic (cluster, commit, operation): a crash may
	// repeat an event, always with the same id.
	EventID        string         `json:"event_id"`
	Cluster        string         `json:"cluster"`
	CommitNum      int64          `json:"commit_num"`
	OpNum          int64          `json:"op_num"`
	CommittedAt    time.Time      `json:"committed_at"`
	ID             string         `json:"id"`
	Label          string         `json:"label,omitempty"`
	From           string         `json:"from,omitempty"`
	To             string         `json:"to,omitempty"`
	Source         string         `json:"source,omitempty"`
	Scope          string         `json:"scope,omitempty"`
	Props          map[string]any `json:"props,omitempty"`
	PropsTruncated bool           `json:"props_truncated,omitempty"`
	Reactivated    bool           `json:"reactivated,omitempty"`
}

// EventIDFor is the event id of the change at pos on cluster.
func EventIDFor(cluster string, pos EventID) string {
	return fmt.Sprintf("%s:%d:%d", cluster, pos.CommitNum, pos.OpNum)
}

// Detail renders e for cluster, within maxDetail.
func (e Event) Detail(cluster string) ([]byte, error) {
	d := Detail{EventID: EventIDFor(cluster, e.Position), Cluster: cluster, CommitNum: e.Position.CommitNum, OpNum: e.Position.OpNum,
		CommittedAt: e.Time.UTC(), ID: e.Element, Label: e.Label, From: e.From, To: e.To, Reactivated: e.Reactivated}
	if len(e.Props) > 0 {
		d.Props = make(map[string]any, len(e.Props))
		for k, v := range e.Props {
			switch k {
			case neptune.PropSource:
				d.Source, _ = v.(string)
			case neptune.PropScope:
				d.Scope, _ = v.(string)
			default:
				d.Props[k] = v
			}
		}
	}
	b, err := json.Marshal(d)
	if err == nil && len(b) > maxDetail {
		d.Props, d.PropsTruncated = nil, true
		b, err = json.Marshal(d)
	}
	return b, err
}

// Events turns whole transactions' records into events, in stream order,
// and counts the records that made none (refreshed last_seen, traffic
// figures, snapshot and scope bookkeeping: noise to a consumer of the
// graph's shape). The writer's own vertices (ids with the reserved prefix:
// snapshot progress, this feed's checkpoint) never make events.
func Events(records []Record) (events []Event, noise int) {
	for start := 0; start < len(records); {
		end := start + 1
		for end < len(records) && records[end].EventID.CommitNum == records[start].EventID.CommitNum {
			end++
		}
		ev, n := commitEvents(records[start:end])
		events, noise = append(events, ev...), noise+n
		start = end
	}
	return events, noise
}

// commitEvents maps one transaction's records.
func commitEvents(recs []Record) ([]Event, int) {
	type activeChange struct {
		removed, added *bool
		at             EventID
		ts             int64
	}
	var events []Event
	created := map[string]int{} // element id -> index in events of its added event
	removedEdges := map[string]bool{}
	active := map[string]*activeChange{}
	var order []string // edges whose active flag changed, in order
	used := 0
	for _, r := range recs {
		d := r.Data
		if strings.HasPrefix(d.ID, edgebatch.ReservedIDPrefix) {
			continue
		}
		at := time.UnixMilli(r.CommitTimestamp)
		label, _ := d.Value.Value.(string)
		switch {
		case d.Type == "vl" && r.Op == "ADD":
			if i, ok := created[d.ID]; ok { // a second label of the same new vertex
				events[i].Label += "::" + label
				used++
				continue
			}
			created[d.ID] = len(events)
			events = append(events, Event{Type: ResourceAdded, Position: r.EventID, Time: at, Element: d.ID, Label: label})
			used++
		case d.Type == "vl" && r.Op == "REMOVE":
			if n := len(events); n > 0 && events[n-1].Type == ResourceRemoved && events[n-1].Element == d.ID {
				events[n-1].Label += "::" + label
			} else {
				events = append(events, Event{Type: ResourceRemoved, Position: r.EventID, Time: at, Element: d.ID, Label: label})
			}
			used++
		case d.Type == "e" && r.Op == "ADD":
			created[d.ID] = len(events)
			events = append(events, Event{Type: DependencyAdded, Position: r.EventID, Time: at, Element: d.ID, Label: label, From: d.From, To: d.To})
			used++
		case d.Type == "e" && r.Op == "REMOVE":
			removedEdges[d.ID] = true
			events = append(events, Event{Type: DependencyRemoved, Position: r.EventID, Time: at, Element: d.ID, Label: label, From: d.From, To: d.To})
			used++
		case (d.Type == "vp" || d.Type == "ep") && r.Op == "ADD":
			if i, ok := created[d.ID]; ok { // a new element's property
				if events[i].Props == nil {
					events[i].Props = map[string]any{}
				}
				events[i].Props[d.Key] = d.Value.Value
				used++
			}
			if d.Type == "ep" && d.Key == neptune.PropActive {
				if b, ok := d.Value.Value.(bool); ok {
					ac := active[d.ID]
					if ac == nil {
						ac = &activeChange{}
						active[d.ID] = ac
						order = append(order, d.ID)
					}
					ac.added, ac.at, ac.ts = &b, r.EventID, r.CommitTimestamp
				}
			}
		case d.Type == "ep" && r.Op == "REMOVE" && d.Key == neptune.PropActive:
			if b, ok := d.Value.Value.(bool); ok {
				ac := active[d.ID]
				if ac == nil {
					ac = &activeChange{}
					active[d.ID] = ac
					order = append(order, d.ID)
				}
				ac.removed = &b
			}
		}
	}
	// A calls edge's active flag: false is a deactivation; true after false
	// is the dependency back. A new or dropped edge has its own event.
	for _, id := range order {
		ac := active[id]
		if _, isNew := created[id]; isNew || removedEdges[id] || ac.added == nil {
			continue
		}
		switch {
		case !*ac.added && (ac.removed == nil || *ac.removed):
			events = append(events, Event{Type: DependencyDeactivated, Position: ac.at, Time: time.UnixMilli(ac.ts), Element: id, needsEnds: true})
			used++
		case *ac.added && ac.removed != nil && !*ac.removed:
			events = append(events, Event{Type: DependencyAdded, Position: ac.at, Time: time.UnixMilli(ac.ts), Element: id, Reactivated: true, needsEnds: true})
			used++
		}
	}
	sortByPosition(events)
	return events, len(recs) - used
}

func sortByPosition(events []Event) {
	slices.SortStableFunc(events, func(a, b Event) int {
		return cmp.Or(cmp.Compare(a.Position.CommitNum, b.Position.CommitNum), cmp.Compare(a.Position.OpNum, b.Position.OpNum))
	})
}
