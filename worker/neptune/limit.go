package neptune

import (
	"context"
	"math"
	"sync"
	"time"
)

// The writer's limit on requests in flight adapts to Neptune, between
// MinWriters and MaxWriters, starting at Writers. Neptune runs about 2 x vCPU
// queries at once and queues the rest (throttling past the queue), so a
// limit above what it sustains buys nothing but queueing, throttling and
// concurrent-modification errors; one below leaves it idle.
//
// The rule is AIMD, as TCP's congestion control:
//   - additive increase: +1 once a limit's worth of requests in a row were
//     answered while latency held (about +1 per round trip);
//   - multiplicative decrease, x0.75, on a ThrottlingException, a
//     ConcurrentModificationException, a request unanswered within
//     RequestTimeout, or latency (an average of recent upserts) above
//     latencyTolerance x the baseline (the lowest recent upsert latency,
//     which creeps up slowly so one lucky sample does not stay the
//     reference). Decreases closer together than a round trip count once:
//     the requests of one burst fail together and say the same thing once;
//     but each failure restarts the run of answers an increase waits for.
//
// Why AIMD rather than a gradient limiter (Netflix's Gradient2, Vegas): a
// gradient limiter sets the limit from the ratio of baseline to current
// latency, so it needs latency to track load, and upsert latency here
// depends as much on the request's size (a chunk of 10 records or 200) as
// on Neptune's queue. Neptune's overload signals are explicit instead
// (throttling, concurrent modification), and AIMD acts on those directly;
// latency only backs them up with a wide tolerance. A fixed limit (what
// there was before) cannot follow a writer instance resized, failed over or
// shared with other clients.
//
// Requests of replayed messages wait behind live ones (WithPriority): when a
// place frees up and both wait, the live request gets it.
const (
	latencyTolerance = 3.0
	decreaseFactor   = 0.75
	// latencyWeight is the weight of a new sample in the latency average.
	latencyWeight = 0.2
	// baselineCreep is how far the baseline moves towards a higher sample.
	baselineCreep = 0.01
	// minCooldown is the least time between two decreases; otherwise the
	// cooldown is a round trip (the latency average), as TCP's once per RTT.
	minCooldown = 5 * time.Millisecond
)

// Priority orders requests waiting for a place under the limit.
type Priority int

const (
	PriorityLive   Priority = iota // the default: live traffic
	PriorityReplay                 // replayed messages: only what live traffic leaves
)

type priorityKey struct{}

// WithPriority marks ctx's Neptune requests with p.
func WithPriority(ctx context.Context, p Priority) context.Context {
	return context.WithValue(ctx, priorityKey{}, p)
}

func priorityOf(ctx context.Context) Priority {
	if p, ok := ctx.Value(priorityKey{}).(Priority); ok && p == PriorityReplay {
		return PriorityReplay
	}
	return PriorityLive
}

// signal is what an answered request tells the limiter.
type signal int

const (
	signalNone     signal = iota // says nothing about load (a content refusal, a lost connection, a cancelled caller)
	signalOK                     // answered: its latency counts
	signalThrottle               // ThrottlingException
	signalConflict               // ConcurrentModificationException
	signalTimeout                // no answer within RequestTimeout
)

// LimitStatus is the limit as /stats shows it.
type LimitStatus struct {
	Limit int `json:"limit"`
	Min   int `json:"min"`
	Max   int `json:"max"`
	// Peak is the highest the limit has been: what Neptune may have seen
	// in flight at most.
	Peak          int     `json:"peak"`
	InFlight      int     `json:"in_flight"`
	WaitingLive   int     `json:"waiting_live"`
	WaitingReplay int     `json:"waiting_replay"`
	LatencyMs     float64 `json:"latency_ms"`
	BaselineMs    float64 `json:"baseline_ms"`
	Increases     int64   `json:"increases"`
	// Decreases by cause: throttling, concurrent_modification, timeout,
	// latency.
	Decreases map[string]int64 `json:"decreases"`
}

type waiter struct {
	ch      chan struct{}
	granted bool
}

// limiter bounds the requests in flight. A request holds its place from
// before it is sent until Neptune answers it, even if its caller gave up,
// so the limit bounds what Neptune really has in flight.
type limiter struct {
	mu       sync.Mutex
	limit    float64
	min, max int
	peak     int
	inFlight int
	waiting  [2][]*waiter  // by Priority
	idle     chan struct{} // closed when nothing is in flight; replaced when a request starts
	now      func() time.Time

	okInARow     int
	lastDecrease time.Time
	latency      float64 // average of recent upsert latencies, seconds
	baseline     float64 // lowest recent upsert latency, seconds
	increases    int64
	decreases    map[string]int64
}

func newLimiter(start, lo, hi int, now func() time.Time) *limiter {
	idle := make(chan struct{})
	close(idle)
	return &limiter{limit: float64(start), min: lo, max: hi, peak: start, idle: idle, now: now, decreases: map[string]int64{}}
}

func (l *limiter) cap() int { return int(l.limit) }

// acquire waits for a place under the limit, behind waiting requests of the
// same or a higher priority. It gives up when ctx ends (ctx's error) or
// closing closes (ErrClosed).
func (l *limiter) acquire(ctx context.Context, p Priority, closing <-chan struct{}) error {
	l.mu.Lock()
	if l.inFlight < l.cap() && len(l.waiting[PriorityLive]) == 0 && (p == PriorityLive || len(l.waiting[PriorityReplay]) == 0) {
		l.takeLocked()
		l.mu.Unlock()
		return nil
	}
	w := &waiter{ch: make(chan struct{})}
	l.waiting[p] = append(l.waiting[p], w)
	l.mu.Unlock()
	var err error
	select {
	case <-w.ch:
		return nil
	case <-ctx.Done():
		err = ctx.Err()
	case <-closing:
		err = ErrClosed
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.granted {
		// Granted as it gave up: pass the place on.
		l.inFlight--
		l.grantLocked()
		return err
	}
	q := l.waiting[p]
	for i, x := range q {
		if x == w {
			l.waiting[p] = append(q[:i:i], q[i+1:]...)
			break
		}
	}
	return err
}

func (l *limiter) takeLocked() {
	if l.inFlight == 0 {
		l.idle = make(chan struct{})
	}
	l.inFlight++
}

// release gives a place back once Neptune answered (or the request was
// abandoned for good).
func (l *limiter) release() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.inFlight--
	if l.inFlight == 0 {
		close(l.idle)
	}
	l.grantLocked()
}

// grantLocked hands free places to waiters, live ones first.
func (l *limiter) grantLocked() {
	for l.inFlight < l.cap() {
		p := PriorityLive
		if len(l.waiting[p]) == 0 {
			p = PriorityReplay
		}
		if len(l.waiting[p]) == 0 {
			return
		}
		w := l.waiting[p][0]
		l.waiting[p] = l.waiting[p][1:]
		w.granted = true
		l.takeLocked()
		close(w.ch)
	}
}

// idleCh is closed once nothing is in flight.
func (l *limiter) idleCh() <-chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.idle
}

// observe adapts the limit to one answered request. latency counts only for
// signalOK requests that say something about load (upserts, not probes).
func (l *limiter) observe(s signal, latency time.Duration, timed bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch s {
	case signalThrottle:
		l.decreaseLocked("throttling")
	case signalConflict:
		l.decreaseLocked("concurrent_modification")
	case signalTimeout:
		l.decreaseLocked("timeout")
	case signalOK:
		if timed {
			x := latency.Seconds()
			if l.latency == 0 {
				l.latency, l.baseline = x, x
			} else {
				l.latency += latencyWeight * (x - l.latency)
				if x < l.baseline {
					l.baseline = x
				} else {
					l.baseline += baselineCreep * (x - l.baseline)
				}
			}
			if l.latency > latencyTolerance*l.baseline {
				l.decreaseLocked("latency")
				return
			}
		}
		l.okInARow++
		if l.okInARow >= l.cap() && l.cap() < l.max {
			l.limit = math.Min(float64(l.max), l.limit+1)
			l.peak = max(l.peak, l.cap())
			l.okInARow = 0
			l.increases++
			l.grantLocked()
		}
	}
}

func (l *limiter) decreaseLocked(cause string) {
	// Any overload signal breaks the run of answers an increase needs, even
	// one inside the cooldown: otherwise, with fast requests, increases
	// (one per limit's worth of answers) outpace decreases (one per round
	// trip) and the limit climbs through steady throttling.
	l.okInARow = 0
	now := l.now()
	cooldown := max(minCooldown, time.Duration(l.latency*float64(time.Second)))
	if !l.lastDecrease.IsZero() && now.Sub(l.lastDecrease) < cooldown {
		return // the same burst
	}
	l.lastDecrease = now
	l.decreases[cause]++
	l.limit = math.Max(float64(l.min), math.Floor(l.limit*decreaseFactor))
	if cause == "latency" {
		// The new limit gets a fresh look: without this the average stays
		// high for a while and takes the limit down to its floor.
		l.latency = l.baseline * latencyTolerance / 2
	}
}

func (l *limiter) status() LimitStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := LimitStatus{Limit: l.cap(), Min: l.min, Max: l.max, Peak: l.peak, InFlight: l.inFlight,
		WaitingLive: len(l.waiting[PriorityLive]), WaitingReplay: len(l.waiting[PriorityReplay]),
		LatencyMs: l.latency * 1000, BaselineMs: l.baseline * 1000, Increases: l.increases, Decreases: map[string]int64{}}
	for k, v := range l.decreases {
		st.Decreases[k] = v
	}
	return st
}
