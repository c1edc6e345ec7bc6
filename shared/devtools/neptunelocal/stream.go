package neptunelocal

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graph"
)

// streamResponse is Neptune Streams' answer (PG_JSON).
type streamResponse struct {
	LastEventID      eventID        `json:"lastEventId"`
	LastTrxTimestamp int64          `json:"lastTrxTimestamp"`
	Format           string         `json:"format"`
	Records          []streamRecord `json:"records"`
	TotalRecords     int            `json:"totalRecords"`
}

type eventID struct {
	CommitNum int64 `json:"commitNum"`
	OpNum     int64 `json:"opNum"`
}

type streamRecord struct {
	CommitTimestamp int64      `json:"commitTimestamp"`
	EventID         eventID    `json:"eventId"`
	Data            streamData `json:"data"`
	Op              string     `json:"op"`
	IsLastOp        bool       `json:"isLastOp,omitempty"`
}

type streamData struct {
	ID    string      `json:"id"`
	Type  string      `json:"type"`
	Key   string      `json:"key"`
	Value streamValue `json:"value"`
	From  string      `json:"from,omitempty"`
	To    string      `json:"to,omitempty"`
}

type streamValue struct {
	Value    any    `json:"value"`
	DataType string `json:"dataType"`
}

// streamStatus is the HTTP status of each error the stream API answers
// (Neptune's "Neptune Streams API Exceptions" table).
var streamStatus = map[string]int{
	"InvalidParameterException":      400,
	"ExpiredStreamException":         400,
	"UnsupportedOperationException":  400, // streams not enabled
	"StreamRecordsNotFoundException": 404,
	"ThrottlingException":            500,
	"MemoryLimitExceededException":   500,
}

// serveStream is GET /propertygraph/stream (and /pg/stream): Neptune
// Streams' REST API with its parameters (limit 1-100,000, default 10;
// iteratorType, default AT_SEQUENCE_NUMBER; commitNum, required for the
// sequence-number iterators; opNum, default 1), SigV4 when IAM is on, and
// its errors as Neptune's JSON error documents.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, code, detail string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write(errorDocument(uuid.NewString(), code, detail))
	}
	if r.Method != http.MethodGet {
		fail(http.StatusMethodNotAllowed, "MethodNotAllowedException", "only GET is allowed on the stream endpoint")
		return
	}
	if s.auth != nil {
		if err := s.auth.verify(r); err != nil {
			s.stats.authFailures.Add(1)
			fail(http.StatusForbidden, "AccessDeniedException", err.Error())
			return
		}
	}
	q := r.URL.Query()
	num := func(name string, def int64) (int64, bool) {
		v := q.Get(name)
		if v == "" {
			return def, true
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			fail(http.StatusBadRequest, "InvalidParameterException", name+" must be a whole number")
			return 0, false
		}
		return n, true
	}
	limit, ok := num("limit", 10)
	if !ok {
		return
	}
	commit, ok := num("commitNum", 0)
	if !ok {
		return
	}
	op, ok := num("opNum", 1)
	if !ok {
		return
	}
	it := q.Get("iteratorType")
	if it == "" {
		it = graph.AtSequenceNumber
	}
	if (it == graph.AtSequenceNumber || it == graph.AfterSequenceNumber) && q.Get("commitNum") == "" {
		fail(http.StatusBadRequest, "InvalidParameterException", "commitNum is required for "+it)
		return
	}
	if limit < 1 || limit > 100000 {
		fail(http.StatusBadRequest, "InvalidParameterException", "limit must be between 1 and 100000")
		return
	}
	changes, err := s.graph.ReadStream(it, commit, op, int(limit))
	if err != nil {
		var ge *graph.Error
		if errors.As(err, &ge) {
			status := streamStatus[ge.Code]
			if status == 0 {
				status = http.StatusInternalServerError
			}
			fail(status, ge.Code, ge.Message)
			return
		}
		fail(http.StatusInternalServerError, "InternalFailureException", err.Error())
		return
	}
	resp := streamResponse{Format: "PG_JSON", Records: make([]streamRecord, len(changes)), TotalRecords: len(changes)}
	for i, c := range changes {
		resp.Records[i] = streamRecord{
			CommitTimestamp: c.CommitTimestamp, EventID: eventID{c.CommitNum, c.OpNum}, Op: c.Op, IsLastOp: c.IsLastOp,
			Data: streamData{ID: c.ID, Type: c.Type, Key: c.Key, From: c.From, To: c.To,
				Value: streamValue{Value: graph.JSONValue(c.Value), DataType: graph.DataType(c.Value)}},
		}
	}
	last := changes[len(changes)-1]
	resp.LastEventID, resp.LastTrxTimestamp = eventID{last.CommitNum, last.OpNum}, last.CommitTimestamp
	writeJSON(w, resp)
}
