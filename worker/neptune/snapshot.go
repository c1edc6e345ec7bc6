package neptune

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Snapshot progress lives in Neptune itself, so that any worker can tell
// when a snapshot is complete whichever workers wrote its batches (DESIGN.md,
// "Snapshots, order and stale data"). Three kinds of bookkeeping vertex,
// under edgebatch.ReservedIDPrefix so that no batch can touch them and no
// sweep can match them (they have no last_seen):
//
//	graphfleet:batch:<snapshot id>#<seq>  a data batch of the snapshot was written
//	graphfleet:seal:<snapshot id>         its seal: batches, observed, source, scope, swept
//	graphfleet:scope:<scope>              complete_observed: the newest complete snapshot's observation
//
// Every write to them is an idempotent upsert, so two workers recording or
// sweeping the same snapshot at once do no harm.
const (
	batchLabel = "GraphfleetBatch"
	sealLabel  = "GraphfleetSeal"
	scopeLabel = "GraphfleetScope"

	propBatches          = "batches"
	propSnapshotID       = "snapshot_id"
	propObserved         = "observed"
	propSnapshotScope    = "snapshot_scope"
	propSwept            = "swept"
	propCompleteObserved = "complete_observed"
	propClaimOwner       = "claim_owner"
	propClaimUntil       = "claim_until"
)

// SweepLease is how long a worker's claim on a snapshot's sweep keeps other
// workers from running it too. Several workers often find a snapshot
// complete at once (one per concurrent batch); one sweeps. A claimant that
// dies mid-sweep loses its claim when its message comes back (same owner) or
// when the lease runs out, and the next snapshot's sweep covers anything a
// lost one left.
const SweepLease = 5 * time.Minute

// SweepPage is how many elements one sweep request reads or changes: well
// under Neptune's guidance for one request, so a large sweep is many small
// requests rather than one that times out.
const SweepPage = 500

func batchID(snapshotID string, seq int) string {
	return edgebatch.ReservedIDPrefix + "batch:" + snapshotID + "#" + strconv.Itoa(seq)
}
func sealID(snapshotID string) string { return edgebatch.ReservedIDPrefix + "seal:" + snapshotID }
func scopeID(scope string) string     { return edgebatch.ReservedIDPrefix + "scope:" + scope }

// query runs one read or bookkeeping request with the writer's retries and
// returns its results.
func (w *Writer) query(ctx context.Context, name string, build func(*gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal) ([]*gremlingo.Result, error) {
	var mu sync.Mutex
	var out []*gremlingo.Result
	_, err := w.send(ctx, request{name: name}, build, func(rs []*gremlingo.Result) {
		mu.Lock()
		out = rs
		mu.Unlock()
	})
	mu.Lock()
	defer mu.Unlock()
	return out, err
}

// Superseded reports whether b is older than the newest complete snapshot of
// its scope: such a batch is skipped whole, so a replay cannot bring back
// what that snapshot's sweep removed. A batch without a snapshot never is.
func (w *Writer) Superseded(ctx context.Context, b *edgebatch.Batch) (bool, error) {
	if b.Snapshot == nil {
		return false, nil
	}
	rs, err := w.query(ctx, "neptune.superseded", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V(scopeID(b.Snapshot.Scope)).Values(propCompleteObserved)
	})
	if err != nil {
		return false, err
	}
	if len(rs) == 0 {
		return false, nil
	}
	complete, ok := asInt64(rs[0].GetInterface())
	return ok && b.ObservedAt.UnixMilli() < complete, nil
}

// Record notes in Neptune that b, a snapshot's data batch (already written)
// or its seal, has arrived.
func (w *Writer) Record(ctx context.Context, b *edgebatch.Batch) error {
	if b.Snapshot == nil {
		return nil
	}
	s := b.Snapshot
	_, err := w.query(ctx, "neptune.record", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		if b.Seal != nil {
			return g.MergeV(map[any]any{gremlingo.T.Id: sealID(s.ID)}).
				Option(gremlingo.Merge.OnCreate, map[any]any{
					gremlingo.T.Label: sealLabel, propBatches: int64(b.Seal.Batches), propObserved: b.ObservedAt.UnixMilli(),
					PropSource: b.Source, propSnapshotScope: s.Scope, propSnapshotID: s.ID, propSwept: false,
				}).Id()
		}
		return g.MergeV(map[any]any{gremlingo.T.Id: batchID(s.ID, s.Seq)}).
			Option(gremlingo.Merge.OnCreate, map[any]any{
				gremlingo.T.Label: batchLabel, propObserved: b.ObservedAt.UnixMilli(), propSnapshotScope: s.Scope, propSnapshotID: s.ID,
			}).Id()
	})
	return err
}

// OpenSnapshots counts, fleet-wide, the snapshots with a batch or seal
// recorded that have not been swept: those waiting for batches, for their
// seal, or for their sweep to finish. Superseded snapshots whose bookkeeping
// a newer sweep has not yet cleaned up count too, until it does. Two reads of
// the bookkeeping vertices, which the sweeps keep few.
func (w *Writer) OpenSnapshots(ctx context.Context) (int, error) {
	count := func(build func(*gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal) (int64, error) {
		rs, err := w.query(ctx, "neptune.open_snapshots", build)
		if err != nil || len(rs) != 1 {
			return 0, err
		}
		n, _ := asInt64(rs[0].GetInterface())
		return n, nil
	}
	recorded, err := count(func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V().HasLabel(batchLabel, sealLabel).Values(propSnapshotID).Dedup().Count()
	})
	if err != nil {
		return 0, err
	}
	swept, err := count(func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V().HasLabel(sealLabel).Has(propSwept, true).Has(propSnapshotID).Count()
	})
	if err != nil {
		return 0, err
	}
	return int(recorded - swept), nil
}

// SnapshotState is what Neptune knows of one snapshot.
type SnapshotState struct {
	Sealed   bool
	Batches  int // from the seal
	Written  int // data batches recorded, counted once sealed
	Swept    bool
	Complete bool // sealed and every data batch written
}

// State reads snapshot id's progress: its seal, and once sealed how many of
// its data batches have been recorded (by id, no scan).
func (w *Writer) State(ctx context.Context, id string) (SnapshotState, error) {
	var st SnapshotState
	rs, err := w.query(ctx, "neptune.snapshot_state", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V(sealID(id)).Project(propBatches, propSwept).
			By(gremlingo.T__.Values(propBatches)).
			By(gremlingo.T__.Values(propSwept))
	})
	if err != nil || len(rs) == 0 {
		return st, err
	}
	m, ok := rs[0].GetInterface().(map[any]any)
	if !ok {
		return st, fmt.Errorf("snapshot %s: the seal reads as %T", id, rs[0].GetInterface())
	}
	n, _ := asInt64(m[propBatches])
	st.Sealed, st.Batches, st.Swept = true, int(n), m[propSwept] == true
	for from := 0; from < st.Batches; from += SweepPage {
		ids := make([]any, 0, SweepPage)
		for seq := from; seq < min(from+SweepPage, st.Batches); seq++ {
			ids = append(ids, batchID(id, seq))
		}
		rs, err := w.query(ctx, "neptune.snapshot_state", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
			return g.V(ids...).Count()
		})
		if err != nil {
			return st, err
		}
		if len(rs) == 1 {
			c, _ := asInt64(rs[0].GetInterface())
			st.Written += int(c)
		}
	}
	st.Complete = st.Written == st.Batches
	return st, nil
}

// SweepResult is what one sweep did.
type SweepResult struct {
	Superseded  bool // a newer snapshot of the scope completed first: nothing swept
	Deactivated int  // DeepFlow calls edges marked active=false
	Removed     int  // AWS and CloudFormation edges and vertices dropped
	Requests    int
}

// Settle runs snapshot id's sweep if the snapshot is complete and not yet
// swept, and reports whether it ran. Any worker may call it after recording
// a batch or a seal; of those that find the snapshot complete, the one that
// claims it (owner: the message's id, so a redelivery of the claimant's own
// message may resume) sweeps. Two sweeps at once would still be harmless:
// every step is idempotent.
func (w *Writer) Settle(ctx context.Context, b *edgebatch.Batch, owner string) (ran bool, res SweepResult, err error) {
	if b.Snapshot == nil {
		return false, res, nil
	}
	st, err := w.State(ctx, b.Snapshot.ID)
	if err != nil || !st.Complete || st.Swept {
		return false, res, err
	}
	claimed, err := w.claim(ctx, b.Snapshot.ID, owner)
	if err != nil || !claimed {
		return false, res, err
	}
	res, err = w.Sweep(ctx, b.Snapshot.ID)
	return err == nil, res, err
}

// claim takes snapshot id's sweep for owner unless another owner holds an
// unexpired claim. The check and the write are one traversal: Neptune runs a
// mutation's reads and writes as one transaction, so of two concurrent
// claims one fails (and, retried, finds the other's claim).
func (w *Writer) claim(ctx context.Context, id, owner string) (bool, error) {
	now := time.Now()
	rs, err := w.query(ctx, "neptune.claim", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V(sealID(id)).Has(propSwept, false).
			Or(gremlingo.T__.HasNot(propClaimOwner),
				gremlingo.T__.Has(propClaimUntil, gremlingo.P.Lt(now.UnixMilli())),
				gremlingo.T__.Has(propClaimOwner, owner)).
			Property(gremlingo.Cardinality.Single, propClaimOwner, owner).
			Property(gremlingo.Cardinality.Single, propClaimUntil, now.Add(SweepLease).UnixMilli()).
			Count()
	})
	if err != nil || len(rs) != 1 {
		return false, err
	}
	n, _ := asInt64(rs[0].GetInterface())
	return n == 1, nil
}

// Sweep retires what complete snapshot id did not see: elements of its
// scope whose last_seen is older than its observation. DeepFlow calls edges
// are marked active=false; every other element is dropped, except a vertex
// that an edge of another source or scope still uses. The scope's complete_observed
// moves forward first, so batches older than this snapshot are skipped from
// then on; a snapshot older than the scope's newest complete one does not
// sweep at all (it is superseded).
func (w *Writer) Sweep(ctx context.Context, id string) (SweepResult, error) {
	var res SweepResult
	rs, err := w.query(ctx, "neptune.sweep", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V(sealID(id)).Project(propObserved, PropSource, propSnapshotScope).
			By(gremlingo.T__.Values(propObserved)).By(gremlingo.T__.Values(PropSource)).By(gremlingo.T__.Values(propSnapshotScope))
	})
	if err != nil {
		return res, err
	}
	if len(rs) == 0 {
		return res, fmt.Errorf("snapshot %s has no seal", id)
	}
	m, _ := rs[0].GetInterface().(map[any]any)
	observed, _ := asInt64(m[propObserved])
	source, _ := m[PropSource].(string)
	scope, _ := m[propSnapshotScope].(string)
	res.Requests++

	// Move the scope's mark forward (never back), then see whether a newer
	// snapshot got there first.
	rs, err = w.query(ctx, "neptune.sweep", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.MergeV(map[any]any{gremlingo.T.Id: scopeID(scope)}).
			Option(gremlingo.Merge.OnCreate, map[any]any{gremlingo.T.Label: scopeLabel, propCompleteObserved: observed, propSnapshotScope: scope}).
			SideEffect(gremlingo.T__.Has(propCompleteObserved, gremlingo.P.Lt(observed)).Property(gremlingo.Cardinality.Single, propCompleteObserved, observed)).
			Values(propCompleteObserved)
	})
	if err != nil {
		return res, err
	}
	res.Requests++
	if len(rs) == 1 {
		if mark, ok := asInt64(rs[0].GetInterface()); ok && mark > observed {
			res.Superseded = true
			return res, w.markSwept(ctx, id, scope, observed, &res)
		}
	}

	stale := func(t *gremlingo.GraphTraversal) *gremlingo.GraphTraversal {
		return t.Has(PropScope, scope).Has(PropLastSeen, gremlingo.P.Lt(observed))
	}
	if source == "deepflow" {
		// Calls edges are kept, marked inactive: a call not seen in this
		// window may come back, and its history is worth keeping.
		n, err := w.sweepPages(ctx, &res,
			func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
				return stale(g.E()).HasLabel(edgebatch.CallsLabel).Has(PropActive, true).Limit(SweepPage).Id()
			},
			func(g *gremlingo.GraphTraversalSource, ids []any) *gremlingo.GraphTraversal {
				return stale(g.E(ids...)).Has(PropActive, true).Property(PropActive, false).Count()
			})
		res.Deactivated += n
		if err != nil {
			return res, err
		}
	} else {
		n, err := w.sweepPages(ctx, &res,
			func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
				return stale(g.E()).Limit(SweepPage).Id()
			},
			func(g *gremlingo.GraphTraversalSource, ids []any) *gremlingo.GraphTraversal {
				return stale(g.E(ids...)).SideEffect(gremlingo.T__.Drop()).Count()
			})
		res.Removed += n
		if err != nil {
			return res, err
		}
		// A vertex an edge of another source or another scope still uses
		// stays: vertices can be shared, edges belong to one source and
		// scope. (This scope's stale edges are gone by now, and an edge
		// this snapshot saw has both its ends seen.) Another scope of the
		// same source matters too: one CloudFormation stack's import edge
		// points at the exporting stack's vertex, which a rediscovery of
		// the importer alone must not take away from the exporter.
		keep := gremlingo.T__.BothE().Or(
			gremlingo.T__.Has(PropSource, gremlingo.P.Neq(source)),
			gremlingo.T__.Has(PropScope, gremlingo.P.Neq(scope)))
		n, err = w.sweepPages(ctx, &res,
			func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
				return stale(g.V()).Not(keep).Limit(SweepPage).Id()
			},
			func(g *gremlingo.GraphTraversalSource, ids []any) *gremlingo.GraphTraversal {
				return stale(g.V(ids...)).Not(keep).SideEffect(gremlingo.T__.Drop()).Count()
			})
		res.Removed += n
		if err != nil {
			return res, err
		}
	}
	return res, w.markSwept(ctx, id, scope, observed, &res)
}

// sweepPages reads a page of ids, then changes them with a request that
// checks the same conditions again (an element refreshed in between is left
// alone), until a read finds nothing. It returns how many were changed.
func (w *Writer) sweepPages(ctx context.Context, res *SweepResult,
	read func(*gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal,
	change func(*gremlingo.GraphTraversalSource, []any) *gremlingo.GraphTraversal) (int, error) {
	total := 0
	var last []any
	for {
		rs, err := w.query(ctx, "neptune.sweep", read)
		res.Requests++
		if err != nil {
			return total, err
		}
		if len(rs) == 0 {
			return total, nil
		}
		ids := make([]any, len(rs))
		for i, r := range rs {
			ids[i] = r.GetInterface()
		}
		if sameIDs(ids, last) {
			// Nothing changed since the last page: another worker's
			// refresh is racing this sweep. The next snapshot sweeps again.
			return total, nil
		}
		last = ids
		rs, err = w.query(ctx, "neptune.sweep", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal { return change(g, ids) })
		res.Requests++
		if err != nil {
			return total, err
		}
		if len(rs) == 1 {
			n, _ := asInt64(rs[0].GetInterface())
			total += int(n)
		}
	}
}

func sameIDs(a, b []any) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// markSwept records the sweep on the seal and drops the scope's bookkeeping
// of snapshots older than this one: their batches can no longer matter.
func (w *Writer) markSwept(ctx context.Context, id, scope string, observed int64, res *SweepResult) error {
	_, err := w.query(ctx, "neptune.sweep", func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
		return g.V(sealID(id)).Property(gremlingo.Cardinality.Single, propSwept, true).Id()
	})
	res.Requests++
	if err != nil {
		return err
	}
	for _, label := range []string{batchLabel, sealLabel} {
		_, err := w.sweepPages(ctx, res,
			func(g *gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal {
				return g.V().HasLabel(label).Has(propSnapshotScope, scope).Has(propObserved, gremlingo.P.Lt(observed)).Limit(SweepPage).Id()
			},
			func(g *gremlingo.GraphTraversalSource, ids []any) *gremlingo.GraphTraversal {
				return g.V(ids...).SideEffect(gremlingo.T__.Drop()).Count()
			})
		if err != nil {
			return err
		}
	}
	return nil
}

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int32:
		return int64(n), true
	case int:
		return int64(n), true
	}
	return 0, false
}
