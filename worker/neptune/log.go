package neptune

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
)

// driverLogger routes gremlin-go's own log lines to slog, so the worker's
// logs stay one JSON stream, and rate-limits them: at most one line per kind
// per interval, the next one carrying how many were suppressed. During an
// outage gremlin-go logs a warning per failed dial from every request that
// tries one (about 66,000 lines, 11 MB, in 30 s), which would drown
// everything else and cost real money in CloudWatch.
//
// A kind is the driver's format string ("Error creating new connection for
// connection pool: %s"), not the formatted line, so one failure with
// varying details is one kind. A suppressed line is never formatted.
type driverLogger struct {
	l     *slog.Logger
	every time.Duration
	now   func() time.Time

	mu    sync.Mutex
	kinds map[string]*logKind
}

type logKind struct {
	level      slog.Level
	last       time.Time // when a line of this kind was last written
	suppressed int       // lines of this kind not written since
}

// maxLogKinds bounds the kinds remembered; gremlin-go has a few dozen
// messages, so this only guards against a message used without a format.
const maxLogKinds = 256

// otherKind collects lines beyond maxLogKinds kinds.
const otherKind = "(other gremlin-go messages)"

func newDriverLogger(l *slog.Logger, every time.Duration, now func() time.Time) *driverLogger {
	return &driverLogger{l: l, every: every, now: now, kinds: make(map[string]*logKind)}
}

// Log is gremlingo.Logger's unformatted form; gremlin-go itself always calls
// Logf.
func (d *driverLogger) Log(v gremlingo.LogVerbosity, args ...any) {
	msg := fmt.Sprint(args...)
	d.log(v, msg, func() string { return msg })
}

// Logf is gremlingo.Logger's formatted form.
func (d *driverLogger) Logf(v gremlingo.LogVerbosity, format string, args ...any) {
	d.log(v, format, func() string { return fmt.Sprintf(format, args...) })
}

func (d *driverLogger) log(v gremlingo.LogVerbosity, kind string, render func() string) {
	level := slogLevel(v)
	if !d.l.Enabled(context.Background(), level) {
		return
	}
	now := d.now()
	d.mu.Lock()
	k, ok := d.kinds[kind]
	if !ok && len(d.kinds) >= maxLogKinds {
		kind = otherKind
		k, ok = d.kinds[kind]
	}
	if !ok {
		k = &logKind{level: level}
		d.kinds[kind] = k
	} else if now.Sub(k.last) < d.every {
		k.suppressed++
		d.mu.Unlock()
		return
	}
	suppressed := k.suppressed
	k.last, k.suppressed = now, 0
	d.mu.Unlock()

	attrs := []any{"component", "gremlin-go"}
	if suppressed > 0 {
		attrs = append(attrs, "suppressed", suppressed, "suppressed_over", d.every.String())
	}
	d.l.Log(context.Background(), level, render(), attrs...)
}

// flush writes one line per kind with lines still suppressed, so a count is
// not lost when no later line of its kind comes (at Close).
func (d *driverLogger) flush() {
	type pending struct {
		kind  string
		level slog.Level
		n     int
	}
	var out []pending
	d.mu.Lock()
	for kind, k := range d.kinds {
		if k.suppressed > 0 {
			out = append(out, pending{kind, k.level, k.suppressed})
			k.suppressed = 0
		}
	}
	d.mu.Unlock()
	for _, p := range out {
		d.l.Log(context.Background(), p.level, "gremlin-go log lines suppressed", "component", "gremlin-go", "kind", p.kind, "suppressed", p.n)
	}
}

func slogLevel(v gremlingo.LogVerbosity) slog.Level {
	switch v {
	case gremlingo.Debug:
		return slog.LevelDebug
	case gremlingo.Info:
		return slog.LevelInfo
	case gremlingo.Warning:
		return slog.LevelWarn
	}
	return slog.LevelError
}
