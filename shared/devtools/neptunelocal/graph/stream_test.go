package graph

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// changes renders records as "commit.op OP type id key=value [from>to] last".
func changes(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%d.%d %s %s %s %s=%v", c.CommitNum, c.OpNum, c.Op, c.Type, c.ID, c.Key, c.Value)
		if c.From != "" {
			fmt.Fprintf(&b, " %s>%s", c.From, c.To)
		}
		if c.IsLastOp {
			b.WriteString(" last")
		}
		b.WriteString("\n")
	}
	return b.String()
}

func TestStream(t *testing.T) {
	gr := New()
	if _, err := gr.ReadStream(TrimHorizon, 0, 0, 10); err == nil || err.(*Error).Code != "UnsupportedOperationException" {
		t.Fatalf("a graph without streams: %v", err)
	}
	gr.EnableStream(100)
	if _, err := gr.ReadStream(TrimHorizon, 0, 0, 10); err == nil || err.(*Error).Code != "StreamRecordsNotFoundException" {
		t.Fatalf("an empty stream: %v", err)
	}
	run(t, gr, g().s("addV", "Service").s("property", tID, "a").s("property", "name", "a").
		s("addV", "Service").s("property", tID, "b").
		s("addE", "calls").s("from", anon().s("V", "a").B()).s("to", anon().s("V", "b").B()).s("property", tID, "a>b").s("property", "active", true))
	// Same value again: no change, no record; a new value: REMOVE then ADD.
	run(t, gr, g().s("V", "a").s("property", single, "name", "a"))
	run(t, gr, g().s("E", "a>b").s("property", "active", true))
	run(t, gr, g().s("E", "a>b").s("property", "active", false))
	// A rolled-back transaction records nothing.
	mustFail(t, gr, g().s("V", "a").s("property", single, "name", "x").s("addV", "Service").s("property", tID, "b"), CodeConstraintViolation, "")
	run(t, gr, g().s("V", "b").s("drop"))

	all, err := gr.ReadStream(TrimHorizon, 0, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	want := `1.1 ADD vl a label=Service
1.2 ADD vp a name=a
1.3 ADD vl b label=Service
1.4 ADD e a>b label=calls a>b
1.5 ADD ep a>b active=true last
2.1 REMOVE ep a>b active=true
2.2 ADD ep a>b active=false last
3.1 REMOVE ep a>b active=false
3.2 REMOVE e a>b label=calls a>b
3.3 REMOVE vl b label=Service last
`
	if got := changes(all); got != want {
		t.Fatalf("stream:\n%s\nwant:\n%s", got, want)
	}
	after, err := gr.ReadStream(AfterSequenceNumber, 1, 5, 2)
	if err != nil || changes(after) != "2.1 REMOVE ep a>b active=true\n2.2 ADD ep a>b active=false last\n" {
		t.Fatalf("after 1.5, limit 2: %v\n%s", err, changes(after))
	}
	at, err := gr.ReadStream(AtSequenceNumber, 3, 2, 1)
	if err != nil || changes(at) != "3.2 REMOVE e a>b label=calls a>b\n" {
		t.Fatalf("at 3.2: %v\n%s", err, changes(at))
	}
	if _, err := gr.ReadStream(AfterSequenceNumber, 3, 3, 10); err == nil || err.(*Error).Code != "StreamRecordsNotFoundException" {
		t.Fatalf("after the last record: %v", err)
	}
	if l, err := gr.ReadStream(Latest, 0, 0, 10); err != nil || changes(l) != "3.3 REMOVE vl b label=Service last\n" {
		t.Fatalf("latest: %v %s", err, changes(l))
	}

	// Past capacity, whole commits are trimmed; positions before what is
	// kept have expired, positions at a kept commit's edge have not.
	gr.EnableStream(4)
	run(t, gr, g().s("V", "a").s("property", single, "name", "a2"))
	first, err := gr.ReadStream(TrimHorizon, 0, 0, 100)
	if err != nil || first[0].OpNum != 1 || len(first) > 4+4/8 {
		t.Fatalf("after trimming: %v\n%s", err, changes(first))
	}
	if _, err := gr.ReadStream(AfterSequenceNumber, 1, 5, 10); err == nil || err.(*Error).Code != "ExpiredStreamException" {
		t.Fatalf("a trimmed position: %v", err)
	}
	prev := first[0].CommitNum - 1
	if _, err := gr.ReadStream(AfterSequenceNumber, prev, 3, 10); err != nil {
		t.Fatalf("after the last trimmed record (%d.3), nothing is lost: %v", prev, err)
	}
}

// BenchmarkStreamFullLog is one small write into a graph whose change log
// is full: trimming must not cost a copy of the log per commit.
func BenchmarkStreamFullLog(b *testing.B) {
	gr := New()
	gr.EnableStream(300_000) // full after the set-up
	for i := range 200_000 {
		if _, err := gr.Execute(context.Background(), g().s("addV", "Thing").s("property", tID, fmt.Sprint("v", i)).s("property", "n", int64(i)).B()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := range b.N {
		if _, err := gr.Execute(context.Background(), g().s("V", fmt.Sprint("v", i%200_000)).s("property", single, "n", int64(-i-1)).B()); err != nil {
			b.Fatal(err)
		}
	}
}
