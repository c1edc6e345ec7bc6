package graph

import (
	"fmt"
	"time"
)

// Neptune Streams: the change log of committed transactions, as Neptune
// reports it in PG_JSON (https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html).
// Every committed write transaction gets the next commit number; its
// changes are numbered from 1 (opNum) and the last one is marked. A change
// is one of:
//   - vl: a vertex label added or removed (key "label");
//   - vp: one vertex property value added or removed;
//   - e: an edge added or removed (key "label", with from and to);
//   - ep: an edge property value added or removed.
//
// A property update is a REMOVE of the old value and an ADD of the new one;
// dropping an element removes its properties, then the element itself (a
// vertex's edges first). Writes that change nothing (a single-cardinality
// property set to the value it has) record nothing: the stand-in records
// changes, and a consumer must not depend on no-op records either way.
// A rolled-back transaction records nothing.
//
// The log is off until EnableStream (Neptune's neptune_streams parameter);
// it keeps at least the newest capacity records (up to an eighth more
// before it trims), and older positions answer ExpiredStreamException, as
// records past Neptune's retention do.

// Change is one stream record.
type Change struct {
	CommitNum       int64
	OpNum           int64
	CommitTimestamp int64 // epoch ms
	Op              string
	Type            string
	ID              string
	Key             string
	Value           any
	From, To        string
	IsLastOp        bool
}

// stream is the graph's change log; nil while streams are off.
type stream struct {
	capacity int
	records  []Change
	commit   int64  // last commit number given out
	trimmed  Change // the newest record trimmed away (CommitNum 0: none)
	now      func() time.Time
}

// EnableStream turns the change log on, keeping at most capacity records.
func (g *Graph) EnableStream(capacity int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if capacity < 1 {
		capacity = 1
	}
	if g.stream == nil {
		g.stream = &stream{now: time.Now}
	}
	g.stream.capacity = capacity
}

// StreamEnabled reports whether the change log is on.
func (g *Graph) StreamEnabled() bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.stream != nil
}

// Iterator types of a stream read.
const (
	AtSequenceNumber    = "AT_SEQUENCE_NUMBER"
	AfterSequenceNumber = "AFTER_SEQUENCE_NUMBER"
	TrimHorizon         = "TRIM_HORIZON"
	Latest              = "LATEST"
)

// ReadStream returns up to limit records from the position the iterator
// names, with Neptune's errors: StreamRecordsNotFoundException when there
// is nothing at or after it (a consumer that is caught up), and
// ExpiredStreamException when the position is older than what is kept.
func (g *Graph) ReadStream(iterator string, commitNum, opNum int64, limit int) ([]Change, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	s := g.stream
	if s == nil {
		return nil, errf("UnsupportedOperationException", "Neptune Streams is not enabled on this cluster (neptune_streams = 0)")
	}
	if limit < 1 || limit > 100000 {
		return nil, errf("InvalidParameterException", "limit %d is out of range 1-100000", limit)
	}
	if len(s.records) == 0 {
		if t := s.trimmed; t.CommitNum > 0 && (iterator == AtSequenceNumber || iterator == AfterSequenceNumber) &&
			(commitNum < t.CommitNum || commitNum == t.CommitNum && opNum < t.OpNum) {
			return nil, errf("ExpiredStreamException", "the requested records (commitNum %d, opNum %d) have expired", commitNum, opNum)
		}
		return nil, errf("StreamRecordsNotFoundException", "no stream records: the stream is empty")
	}
	first, last := s.records[0], s.records[len(s.records)-1]
	before := func(c, o int64, r Change) bool { return c < r.CommitNum || c == r.CommitNum && o < r.OpNum }
	start := 0
	switch iterator {
	case TrimHorizon:
	case Latest:
		start, limit = len(s.records)-1, 1
	case AtSequenceNumber, AfterSequenceNumber:
		if commitNum < 1 || opNum < 1 {
			return nil, errf("InvalidParameterException", "commitNum and opNum must be positive for %s", iterator)
		}
		// A position before the last trimmed record lost records.
		if t := s.trimmed; t.CommitNum > 0 && (before(commitNum, opNum, t) || iterator == AtSequenceNumber && commitNum == t.CommitNum && opNum == t.OpNum) {
			return nil, errf("ExpiredStreamException", "the requested records (commitNum %d, opNum %d) have expired; the oldest kept is commitNum %d, opNum %d",
				commitNum, opNum, first.CommitNum, first.OpNum)
		}
		// Binary search for the first record at (or after) the position.
		lo, hi := 0, len(s.records)
		for lo < hi {
			m := (lo + hi) / 2
			if before(s.records[m].CommitNum, s.records[m].OpNum, Change{CommitNum: commitNum, OpNum: opNum}) {
				lo = m + 1
			} else {
				hi = m
			}
		}
		start = lo
		if iterator == AfterSequenceNumber && start < len(s.records) && s.records[start].CommitNum == commitNum && s.records[start].OpNum == opNum {
			start++
		}
	default:
		return nil, errf("InvalidParameterException", "iteratorType %q: want AT_SEQUENCE_NUMBER, AFTER_SEQUENCE_NUMBER, TRIM_HORIZON or LATEST", iterator)
	}
	if start >= len(s.records) {
		return nil, errf("StreamRecordsNotFoundException", "no stream records after commitNum %d, opNum %d; the last is commitNum %d, opNum %d",
			commitNum, opNum, last.CommitNum, last.OpNum)
	}
	end := min(len(s.records), start+limit)
	return append([]Change(nil), s.records[start:end]...), nil
}

// record adds one change to the transaction's pending list.
func (t *txn) record(c Change) {
	if t.g.stream == nil {
		return
	}
	t.changes = append(t.changes, c)
}

// publish numbers and appends a committed transaction's changes, trimming
// the oldest whole commits past capacity.
func (s *stream) publish(changes []Change) {
	if len(changes) == 0 {
		return
	}
	s.commit++
	ts := s.now().UnixMilli()
	for i := range changes {
		changes[i].CommitNum, changes[i].OpNum, changes[i].CommitTimestamp = s.commit, int64(i+1), ts
	}
	changes[len(changes)-1].IsLastOp = true
	s.records = append(s.records, changes...)
	// Trimmed in steps of an eighth of the capacity, so a full log costs
	// one copy per capacity/8 records, not one per commit.
	if over := len(s.records) - s.capacity; over > 0 && over >= max(1, s.capacity/8) {
		// Trim whole commits, so the oldest kept record starts a commit,
		// and never the newest commit, however large.
		newest := len(s.records) - len(changes)
		cut := over
		for cut < newest && s.records[cut].OpNum != 1 {
			cut++
		}
		cut = min(cut, newest)
		s.trimmed = s.records[cut-1]
		s.records = append([]Change(nil), s.records[cut:]...)
	}
}

// DataType names a value's type as PG_JSON does.
func DataType(v any) string {
	switch v.(type) {
	case string:
		return "String"
	case bool:
		return "Boolean"
	case int64, int:
		return "Long"
	case int32:
		return "Integer"
	case int16:
		return "Short"
	case int8, uint8:
		return "Byte"
	case float64:
		return "Double"
	case float32:
		return "Float"
	case time.Time:
		return "Date"
	}
	return fmt.Sprintf("%T", v)
}

// JSONValue is v as it can be written to JSON (non-finite floats as the
// strings "NaN", "+Inf" and "-Inf").
func JSONValue(v any) any { return dumpValue(v) }
