package neptune

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
)

// fakeClock is a clock the test moves by hand: no sleep decides a verdict.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type logLine struct {
	Level      string `json:"level"`
	Msg        string `json:"msg"`
	Component  string `json:"component"`
	Kind       string `json:"kind"`
	Suppressed int    `json:"suppressed"`
}

func lines(t *testing.T, buf *bytes.Buffer) []logLine {
	t.Helper()
	var out []logLine
	for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if l == "" {
			continue
		}
		var ll logLine
		if err := json.Unmarshal([]byte(l), &ll); err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		out = append(out, ll)
	}
	buf.Reset()
	return out
}

// gremlin-go's own format strings (resources/logger-messages/en.json, v3.7.4).
const (
	failedConnection = "Failed to instantiate the new connection; setting connection state to closed."
	createConnError  = "Error creating new connection for connection pool: %s"
)

func TestDriverLogRateLimit(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := &fakeClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	d := newDriverLogger(slog.New(slog.NewJSONHandler(&buf, nil)), 10*time.Second, clock.Now)

	t.Run("an outage's flood becomes one line per kind per interval", func(t *testing.T) {
		// 66,000 warnings in 30 s is what an outage produced: 2,200 a second.
		for i := range 66_000 {
			if i > 0 && i%2_200 == 0 {
				clock.Advance(time.Second)
			}
			d.Logf(gremlingo.Warning, failedConnection)
			d.Logf(gremlingo.Warning, createConnError, "dial tcp 10.0.0.1:8182: connect: connection refused")
		}
		got := lines(t, &buf)
		// Each kind: at 0 s, 10 s and 20 s.
		if len(got) != 6 {
			t.Fatalf("%d lines, want 6: %+v", len(got), got)
		}
		total := 0
		for _, l := range got {
			if l.Level != "WARN" || l.Component != "gremlin-go" {
				t.Fatalf("line %+v", l)
			}
			total += 1 + l.Suppressed
		}
		if first := got[0]; first.Suppressed != 0 {
			t.Fatalf("the first line reports %d suppressed", first.Suppressed)
		}
		if got[2].Suppressed != 10*2_200-1 {
			t.Fatalf("the second line of a kind reports %d suppressed, want %d", got[2].Suppressed, 10*2_200-1)
		}
		// Lines suppressed after the last written one are still owed.
		d.flush()
		for _, l := range lines(t, &buf) {
			total += l.Suppressed
			if l.Kind != failedConnection && l.Kind != createConnError {
				t.Fatalf("flush line %+v does not name its kind", l)
			}
		}
		if total != 2*66_000 {
			t.Fatalf("%d lines accounted for, want %d: none may be lost from the count", total, 2*66_000)
		}
	})

	t.Run("the formatted details of a written line are kept", func(t *testing.T) {
		clock.Advance(time.Minute)
		d.Logf(gremlingo.Error, "Read loop error '%s', closing read loop.", "unexpected EOF")
		got := lines(t, &buf)
		if len(got) != 1 || got[0].Msg != "Read loop error 'unexpected EOF', closing read loop." || got[0].Level != "ERROR" {
			t.Fatalf("%+v", got)
		}
	})

	t.Run("a quiet kind is written at once", func(t *testing.T) {
		d.Logf(gremlingo.Warning, "Ignoring error closing connection: %s", "E0101")
		if got := lines(t, &buf); len(got) != 1 {
			t.Fatalf("%+v", got)
		}
	})

	t.Run("unformatted messages count as kinds too, and the kinds kept are bounded", func(t *testing.T) {
		for i := range 2 * maxLogKinds {
			d.Log(gremlingo.Warning, "distinct message ", i)
		}
		if n := len(lines(t, &buf)); n > maxLogKinds+1 {
			t.Fatalf("%d lines for %d distinct messages in one instant; want at most %d", n, 2*maxLogKinds, maxLogKinds+1)
		}
		d.mu.Lock()
		kinds := len(d.kinds)
		d.mu.Unlock()
		if kinds > maxLogKinds+1 {
			t.Fatalf("%d kinds remembered", kinds)
		}
	})
}

func TestDriverLogHonoursLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	clock := &fakeClock{now: time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)}
	d := newDriverLogger(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})), 10*time.Second, clock.Now)
	d.Logf(gremlingo.Warning, failedConnection)
	d.Logf(gremlingo.Error, "Read loop error '%s', closing read loop.", "EOF")
	got := lines(t, &buf)
	if len(got) != 1 || got[0].Level != "ERROR" {
		t.Fatalf("%+v", got)
	}
}
