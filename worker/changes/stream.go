// Package changes is the graph's change feed (`worker changes`): it reads
// Neptune Streams, turns committed changes into dependency events and puts
// them on an EventBridge bus, and keeps its place in the stream in Neptune.
//
// The path of a change: Stream.Read (one GET of the stream API) -> Feed
// collects whole transactions -> Events (the one mapping from change
// records to events, noise left out) -> Publisher.Publish (PutEvents, failed
// entries retried) -> Writer.SaveCheckpoint. The checkpoint moves only past
// changes whose events EventBridge accepted, and every event's id is
// derived from the change that caused it, so a crash between publishing
// and saving repeats events with the ids they had: consumers drop them.
package changes

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/graphfleet/graphfleet/worker/neptune"
)

// EventID is a position in the stream: a transaction (commit) and an
// operation within it.
type EventID struct {
	CommitNum int64 `json:"commitNum"`
	OpNum     int64 `json:"opNum"`
}

func (e EventID) String() string { return fmt.Sprintf("%d.%d", e.CommitNum, e.OpNum) }

// Record is one change record (PG_JSON).
type Record struct {
	CommitTimestamp int64   `json:"commitTimestamp"`
	EventID         EventID `json:"eventId"`
	Data            Data    `json:"data"`
	Op              string  `json:"op"`
	IsLastOp        bool    `json:"isLastOp"`
}

// Data is what a record changed: an element (id; type vl, vp, e or ep), a
// key (the property, or "label"), a value, and an edge's ends.
type Data struct {
	ID    string `json:"id"`
	Type  string `json:"type"`
	Key   string `json:"key"`
	Value struct {
		Value    any    `json:"value"`
		DataType string `json:"dataType"`
	} `json:"value"`
	From string `json:"from"`
	To   string `json:"to"`
}

// Page is one read's answer.
type Page struct {
	LastEventID      EventID  `json:"lastEventId"`
	LastTrxTimestamp int64    `json:"lastTrxTimestamp"`
	Format           string   `json:"format"`
	Records          []Record `json:"records"`
}

// maxPageBytes bounds one answer: Neptune caps a response at 10 MB (plus
// the record that crossed it).
const maxPageBytes = 16 << 20

// StreamError is an error answer of the stream API, with Neptune's code.
type StreamError struct {
	Status  int
	Code    string
	Message string
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("neptune stream: %d %s: %s", e.Status, e.Code, e.Message)
}

// Expired reports whether err says the position has left the stream's
// retention: changes were lost to the feed.
func Expired(err error) bool {
	var se *StreamError
	return errors.As(err, &se) && se.Code == "ExpiredStreamException"
}

// Stream reads Neptune Streams' property-graph endpoint.
type Stream struct {
	URL         string // https://cluster:8182/propertygraph/stream
	HTTP        *http.Client
	Region      string
	Credentials aws.CredentialsProvider // nil: unsigned (a local endpoint)
}

// StreamURL derives the stream endpoint from the Gremlin endpoint:
// wss://host:8182/gremlin -> https://host:8182/propertygraph/stream.
func StreamURL(gremlinEndpoint string) (string, error) {
	u, err := url.Parse(gremlinEndpoint)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("NEPTUNE_ENDPOINT %q is not a URL", gremlinEndpoint)
	}
	switch u.Scheme {
	case "wss", "https":
		u.Scheme = "https"
	case "ws", "http":
		u.Scheme = "http"
	default:
		return "", fmt.Errorf("NEPTUNE_ENDPOINT %q: want wss:// or ws://", gremlinEndpoint)
	}
	u.Path, u.RawQuery = "/propertygraph/stream", ""
	return u.String(), nil
}

// Read returns up to limit records after pos (from the oldest kept record
// when pos is nil; only the newest with latest). A caught-up feed gets an
// empty page: Neptune answers StreamRecordsNotFoundException (404) when
// nothing follows the position.
func (s *Stream) Read(ctx context.Context, pos *EventID, latest bool, limit int) (Page, error) {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	switch {
	case pos != nil:
		q.Set("iteratorType", "AFTER_SEQUENCE_NUMBER")
		q.Set("commitNum", strconv.FormatInt(pos.CommitNum, 10))
		q.Set("opNum", strconv.FormatInt(pos.OpNum, 10))
	case latest:
		q.Set("iteratorType", "LATEST")
	default:
		q.Set("iteratorType", "TRIM_HORIZON")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"?"+q.Encode(), nil)
	if err != nil {
		return Page{}, err
	}
	if s.Credentials != nil {
		if err := neptune.SignGet(ctx, req, s.Region, s.Credentials); err != nil {
			return Page{}, err
		}
	}
	client := s.HTTP
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	resp, err := client.Do(req)
	if err != nil {
		return Page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	if err != nil {
		return Page{}, fmt.Errorf("neptune stream: reading the answer: %w", err)
	}
	if len(body) > maxPageBytes {
		return Page{}, fmt.Errorf("neptune stream: an answer over %d bytes", maxPageBytes)
	}
	if resp.StatusCode != http.StatusOK {
		var doc struct {
			Code            string `json:"code"`
			DetailedMessage string `json:"detailedMessage"`
		}
		_ = json.Unmarshal(body, &doc)
		if doc.Code == "StreamRecordsNotFoundException" {
			return Page{}, nil
		}
		if doc.Code == "" {
			doc.Code, doc.DetailedMessage = http.StatusText(resp.StatusCode), strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		return Page{}, &StreamError{Status: resp.StatusCode, Code: doc.Code, Message: doc.DetailedMessage}
	}
	var p Page
	// Numbers stay as written: a Long past 2^53 would lose digits as a float.
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return Page{}, fmt.Errorf("neptune stream: the answer is not a stream page: %w", err)
	}
	if p.Format != "" && p.Format != "PG_JSON" {
		return Page{}, fmt.Errorf("neptune stream: format %q, want PG_JSON (a property-graph stream)", p.Format)
	}
	return p, nil
}
