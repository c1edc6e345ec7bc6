package demo

import (
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// Snapshots returns one full discovery per demo scope, each marked as a
// snapshot observed at t, ready for edgebatch.Split.
func (s *Source) Snapshots(t time.Time) []*edgebatch.Batch {
	t = t.UTC().Truncate(time.Second)
	out := []*edgebatch.Batch{s.Calls(t), s.Resources(t), s.Stacks(t)}
	for _, b := range out {
		scope := ScopeCalls
		switch b.Source {
		case "aws":
			scope = ScopeResources
		case "cloudformation":
			scope = ScopeStacks
		}
		b.Snapshot = &edgebatch.Snapshot{ID: scope + "/" + t.Format(time.RFC3339), Scope: scope}
	}
	return out
}
