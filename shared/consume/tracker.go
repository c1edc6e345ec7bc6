package consume

import (
	"context"
	"slices"
	"sync"
	"time"
)

// tracker owns the in-flight state: every message received and not yet
// deleted, released or requeued, with the two times that matter for it. It
// has one job, so the rules about what the consumer holds live in one place:
//
//   - room: at most limit messages are held; pollers wait for room before
//     receiving, which is the consumer's backpressure (prefetch stays small).
//   - visibility: when SQS will make each message visible again, so the
//     heartbeat extends what is due, ordered by that deadline.
//   - work deadline: a message in work may be kept hidden only until its
//     deadline; past it the heartbeat lets it go back to the queue, so a stuck
//     write cannot hide messages forever.
type tracker struct {
	mu      sync.Mutex
	held    map[string]*Message // by receipt handle
	limit   int
	reserve int           // room promised to receives under way
	freed   chan struct{} // closed and replaced whenever room is given back
}

func newTracker(limit int) *tracker {
	return &tracker{held: make(map[string]*Message), limit: limit, freed: make(chan struct{})}
}

// reserveRoom waits until at least one message may be received, then
// reserves up to max places. It returns 0 when ctx ends first.
func (t *tracker) reserveRoom(ctx context.Context, max int) int {
	for {
		t.mu.Lock()
		free := t.limit - len(t.held) - t.reserve
		if free > 0 {
			n := min(free, max)
			t.reserve += n
			t.mu.Unlock()
			return n
		}
		freed := t.freed
		t.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return 0
		}
	}
}

// admit turns n reserved places into held messages (fewer may have arrived;
// the rest of the reservation is returned).
func (t *tracker) admit(reserved int, msgs []*Message) {
	t.mu.Lock()
	t.reserve -= reserved
	for _, m := range msgs {
		t.held[m.receipt] = m
	}
	t.wakeLocked()
	t.mu.Unlock()
}

// remove drops a message; it reports whether it was held.
func (t *tracker) remove(m *Message) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.held[m.receipt]; !ok {
		return false
	}
	delete(t.held, m.receipt)
	t.wakeLocked()
	return true
}

func (t *tracker) wakeLocked() {
	close(t.freed)
	t.freed = make(chan struct{})
}

// len is how many messages are held.
func (t *tracker) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.held)
}

// startWork marks m in work until deadline.
func (t *tracker) startWork(m *Message, deadline time.Time) {
	t.mu.Lock()
	m.workDeadline = deadline
	t.mu.Unlock()
}

// endWork marks m as no longer in work (done, or parked while Neptune is
// unwell: a parked message is held on purpose and kept hidden).
func (t *tracker) endWork(m *Message) {
	t.mu.Lock()
	m.workDeadline = time.Time{}
	t.mu.Unlock()
}

// due returns the messages whose visibility ends before horizon and that may
// still be extended (not in work past their deadline), soonest first.
func (t *tracker) due(now, horizon time.Time) []*Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Message
	for _, m := range t.held {
		if m.visibleAt.Before(horizon) && (m.workDeadline.IsZero() || now.Before(m.workDeadline)) {
			out = append(out, m)
		}
	}
	slices.SortFunc(out, func(a, b *Message) int { return a.visibleAt.Compare(b.visibleAt) })
	return out
}

// extended records that SQS now keeps msgs hidden until visibleAt.
func (t *tracker) extended(msgs []*Message, visibleAt time.Time) {
	t.mu.Lock()
	for _, m := range msgs {
		m.visibleAt = visibleAt
	}
	t.mu.Unlock()
}

// overdue returns the messages in work past deadline plus grace: a handler
// that ignores its context that long is stuck.
func (t *tracker) overdue(now time.Time, grace time.Duration) []*Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*Message
	for _, m := range t.held {
		if !m.workDeadline.IsZero() && now.After(m.workDeadline.Add(grace)) {
			out = append(out, m)
		}
	}
	return out
}

// all returns every held message, soonest visibility first.
func (t *tracker) all() []*Message {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]*Message, 0, len(t.held))
	for _, m := range t.held {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b *Message) int { return a.visibleAt.Compare(b.visibleAt) })
	return out
}
