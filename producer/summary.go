package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// printSummary writes what a --once run did: a line per snapshot (sealed or
// not, with why), a line per source that failed before it had snapshots or
// deferred, and the totals: elements, batches, messages, bytes and duration,
// and how many sources deferred. A deferral is in lower case like "sealed":
// it is flow control working, not a failure.
func printSummary(w io.Writer, reports []runReport, took time.Duration) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SOURCE\tSCOPE\tVERTICES\tEDGES\tBATCHES\tMESSAGES\tBYTES\tTOOK\tRESULT")
	var snaps, sealed, vertices, edges, batches, messages, bytes, deferred int
	for _, r := range reports {
		if r.Deferred != nil {
			deferred++
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t\t%s\t%s\n", r.Source, r.Took.Round(time.Millisecond), r.Deferred)
		}
		for _, s := range r.Snapshots {
			result := "sealed"
			if s.Err != nil {
				result = "NOT SEALED: " + oneLine(s.Err)
			} else {
				sealed++
			}
			snaps++
			vertices += s.Vertices
			edges += s.Edges
			batches += s.Report.Batches
			messages += s.Report.Sent.Messages
			bytes += s.Report.Sent.Bytes
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%d\t%s\t%s\n", r.Source, s.Scope, s.Vertices, s.Edges,
				s.Report.Batches, s.Report.Sent.Messages, s.Report.Sent.Bytes, s.Took.Round(time.Millisecond), result)
		}
		if r.Err != nil && !onlySnapshotErrors(r) {
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t\t%s\tFAILED: %s\n", r.Source, r.Took.Round(time.Millisecond), oneLine(r.Err))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	deferNote := ""
	if deferred > 0 {
		deferNote = fmt.Sprintf("; %d source(s) deferred", deferred)
	}
	_, err := fmt.Fprintf(w, "total: %d of %d snapshot(s) sealed, %d elements (%d vertices, %d edges), %d batches, %d messages, %d bytes, in %s%s\n",
		sealed, snaps, vertices+edges, vertices, edges, batches, messages, bytes, took.Round(time.Millisecond), deferNote)
	return err
}

// onlySnapshotErrors reports whether every failure of r is already shown on
// one of its snapshot lines.
func onlySnapshotErrors(r runReport) bool {
	n := 0
	for _, s := range r.Snapshots {
		if s.Err != nil {
			n++
		}
	}
	if n == 0 {
		return false
	}
	joined, ok := r.Err.(interface{ Unwrap() []error })
	return ok && len(joined.Unwrap()) == n
}

// oneLine is err on one line: errors.Join puts each error on its own.
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
