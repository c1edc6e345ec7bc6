// Package edgebatch is the message contract between producers and workers:
// edge batch v1 (see DESIGN.md, "The message: edge batch v1"). It holds the
// types, the one validator, the one codec and the splitter. Producers, the push
// API and workers all use this package; nothing else parses a batch.
//
// A producer builds one Batch holding everything a discovery found, Split
// cuts it into batches that each fit one SQS message (numbering a snapshot's
// batches and appending its seal), and Encode turns each into a Message. A
// worker calls Decode on what it receives; any error wraps ErrMalformed, and
// the message goes to the DLQ as DeadLetter builds it, with Reason(err) as its
// reason. Validate is the one set of rules; Encode, Decode and Split all apply
// it. Ids come from ServiceID, AWSLabel, EdgeID and EdgeIDWithKey, never from
// string concatenation elsewhere: Validate checks every edge id against its
// endpoints.
package edgebatch

import "time"

// Version is the only schema version this package reads and writes.
const Version = 1

// Schema is the value of the "schema" message attribute.
const Schema = "edgebatch.v1"

// Batch is one self-contained set of vertices and edges: every edge's From and
// To appear in Vertices, so a batch can be applied alone, in any order, any
// number of times. A seal message carries Seal and no vertices or edges.
type Batch struct {
	V          int       `json:"v"`
	Source     string    `json:"source"`
	ObservedAt time.Time `json:"observed_at"`
	Snapshot   *Snapshot `json:"snapshot,omitempty"`
	Vertices   []Vertex  `json:"vertices,omitempty"`
	Edges      []Edge    `json:"edges,omitempty"`
	Seal       *Seal     `json:"seal,omitempty"`
}

// Snapshot marks a batch as part of one full discovery of Scope.
type Snapshot struct {
	ID    string `json:"id"`
	Scope string `json:"scope"`
	Seq   int    `json:"seq"`
}

// Seal closes a snapshot: Batches is how many data batches (seq 0..N-1) it has.
type Seal struct {
	Batches int `json:"batches"`
}

// Vertex is one vertex, keyed by its deterministic id (see ids.go).
type Vertex struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	Props Props  `json:"props,omitempty"`
}

// Edge is one directed edge between two vertices of the same batch.
type Edge struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	From  string `json:"from"`
	To    string `json:"to"`
	Props Props  `json:"props,omitempty"`
}
