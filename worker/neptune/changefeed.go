package neptune

import (
	"context"
	"fmt"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// The change feed (worker changes) keeps its place in the stream in
// Neptune itself, like the snapshots' progress: no other store to run, and
// the same IAM actions the writer already has. The checkpoint vertex's id
// is reserved, so no batch can touch it, and the feed leaves its own
// changes out of the events.

const (
	checkpointLabel = "GraphfleetChangeFeed"
	propCommitNum   = "commit_num"
	propOpNum       = "op_num"
)

// CheckpointID is the id of the change feed's checkpoint vertex.
func CheckpointID(feed string) string { return edgebatch.ReservedIDPrefix + "changes:" + feed }

// Checkpoint reads where feed left off: the stream position of the last
// change whose events were all accepted. ok is false when it never saved one.
func (w *Writer) Checkpoint(ctx context.Context, feed string) (commitNum, opNum int64, ok bool, err error) {
	rs, err := w.query(ctx, "neptune.checkpoint_read", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V(CheckpointID(feed)).Project(propCommitNum, propOpNum).
			By(gremlingo.T__.Values(propCommitNum)).
			By(gremlingo.T__.Values(propOpNum))
	})
	if err != nil || len(rs) == 0 {
		return 0, 0, false, err
	}
	m, isMap := rs[0].GetInterface().(map[any]any)
	if !isMap {
		return 0, 0, false, fmt.Errorf("change feed %s: the checkpoint reads as %T", feed, rs[0].GetInterface())
	}
	c, ok1 := asInt64(m[propCommitNum])
	o, ok2 := asInt64(m[propOpNum])
	if !ok1 || !ok2 {
		return 0, 0, false, fmt.Errorf("change feed %s: the checkpoint holds %v", feed, m)
	}
	return c, o, true, nil
}

// SaveCheckpoint records feed's position. It never moves the checkpoint
// back: of two feeds that overlap (a deployment's old and new task), the
// one behind cannot undo the other's progress. One request: the vertex is
// created at the position, or moved forward only if it is behind.
func (w *Writer) SaveCheckpoint(ctx context.Context, feed string, commitNum, opNum int64) error {
	_, err := w.query(ctx, "neptune.checkpoint_save", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.MergeV(map[any]any{gremlingo.T.Id: CheckpointID(feed)}).
			Option(gremlingo.Merge.OnCreate, map[any]any{gremlingo.T.Label: checkpointLabel, propCommitNum: commitNum, propOpNum: opNum}).
			Or(gremlingo.T__.Has(propCommitNum, gremlingo.P.Lt(commitNum)),
				gremlingo.T__.Has(propCommitNum, commitNum).Has(propOpNum, gremlingo.P.Lt(opNum))).
			Property(gremlingo.Cardinality.Single, propCommitNum, commitNum).
			Property(gremlingo.Cardinality.Single, propOpNum, opNum).
			Count()
	})
	return err
}

// EdgeEnds is an edge's label and endpoints.
type EdgeEnds struct {
	Label, From, To string
}

// EdgeEnds reads the label and endpoints of the edges that still exist
// among ids, in one request per SweepPage ids. A change record of an edge's
// property names only the edge; its events name both ends.
func (w *Writer) EdgeEnds(ctx context.Context, ids []string) (map[string]EdgeEnds, error) {
	out := make(map[string]EdgeEnds, len(ids))
	for from := 0; from < len(ids); from += SweepPage {
		page := make([]any, 0, SweepPage)
		for _, id := range ids[from:min(from+SweepPage, len(ids))] {
			page = append(page, id)
		}
		rs, err := w.query(ctx, "neptune.edge_ends", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
			return g.E(page...).Project("id", "label", "from", "to").
				By(gremlingo.T.Id).By(gremlingo.T.Label).
				By(gremlingo.T__.OutV().Id()).By(gremlingo.T__.InV().Id())
		})
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			m, ok := r.GetInterface().(map[any]any)
			if !ok {
				continue
			}
			id, _ := m["id"].(string)
			label, _ := m["label"].(string)
			f, _ := m["from"].(string)
			t, _ := m["to"].(string)
			out[id] = EdgeEnds{Label: label, From: f, To: t}
		}
	}
	return out, nil
}

// DropCheckpoint forgets feed's position: for a checkpoint ahead of the
// stream (the cluster behind the endpoint was restored or recreated), which
// SaveCheckpoint, never moving back, could not correct.
func (w *Writer) DropCheckpoint(ctx context.Context, feed string) error {
	_, err := w.query(ctx, "neptune.checkpoint_drop", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V(CheckpointID(feed)).Drop()
	})
	return err
}
