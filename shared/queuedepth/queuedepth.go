// Package queuedepth samples the depth of SQS queues: one Sampler per
// process reads ApproximateNumberOfMessages, ...NotVisible and ...Delayed of
// each queue it watches every few seconds, and everything in the process
// that acts on depth (the pollers, the replay gate, the push API's 429, a
// scheduled discovery's deferral, /stats) reads the latest sample instead of
// calling SQS itself. SQS documents these counts as approximate and about a
// minute behind at worst; nothing here needs them exact, only the trend.
package queuedepth

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// DefaultInterval is how often a Sampler reads its queues: a few seconds,
// so pollers and the push API follow a backlog quickly, at one
// GetQueueAttributes call per queue and interval.
const DefaultInterval = 5 * time.Second

// API is the SQS call a Sampler makes.
type API interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// Depth is one queue's sample.
type Depth struct {
	// Visible is ApproximateNumberOfMessages: messages ready to be received.
	Visible int64 `json:"visible"`
	// NotVisible is ApproximateNumberOfMessagesNotVisible: received and not
	// yet deleted (in work somewhere).
	NotVisible int64 `json:"not_visible"`
	// Delayed is ApproximateNumberOfMessagesDelayed: sent with a delay, or
	// retried later, not yet visible.
	Delayed int64 `json:"delayed"`
	// At is when the sample was read; zero when no read has succeeded yet.
	At time.Time `json:"at"`
	// Err is the last read's failure, empty when it succeeded. A failed read
	// keeps the previous counts and their time.
	Err string `json:"error,omitempty"`
}

// Backlog is what waits to be taken: visible and delayed messages. Messages
// in work (NotVisible) are not backlog: someone already holds them.
func (d Depth) Backlog() int64 { return d.Visible + d.Delayed }

// Known reports whether the sample holds counts read within maxAge of now.
func (d Depth) Known(now time.Time, maxAge time.Duration) bool {
	return !d.At.IsZero() && now.Sub(d.At) <= maxAge
}

// Sampler reads the depth of a set of queues every Interval.
type Sampler struct {
	client   API
	interval time.Duration
	log      *slog.Logger

	mu     sync.Mutex
	queues map[string]string // name -> URL
	last   map[string]Depth
	// changed is closed and replaced after every round, for WaitSample.
	changed chan struct{}
}

// New returns a Sampler that reads every interval (DefaultInterval when
// zero). Watch the queues, then Run it.
func New(client API, interval time.Duration, log *slog.Logger) *Sampler {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if log == nil {
		log = slog.Default()
	}
	return &Sampler{client: client, interval: interval, log: log, queues: map[string]string{}, last: map[string]Depth{}, changed: make(chan struct{})}
}

// Interval is how often the Sampler reads.
func (s *Sampler) Interval() time.Duration { return s.interval }

// Watch adds a queue under a name ("ingest", "replay"). An empty URL is
// ignored, so optional queues need no check at the caller.
func (s *Sampler) Watch(name, url string) {
	if url == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queues[name] = url
}

// Run reads every queue at once, then every Interval until ctx ends.
func (s *Sampler) Run(ctx context.Context) {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		s.SampleOnce(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// SampleOnce reads every queue now. A one-shot process (producer run
// --once) calls it instead of Run.
func (s *Sampler) SampleOnce(ctx context.Context) {
	s.mu.Lock()
	queues := make(map[string]string, len(s.queues))
	for k, v := range s.queues {
		queues[k] = v
	}
	s.mu.Unlock()
	for name, url := range queues {
		d, err := read(ctx, s.client, url, s.interval)
		s.mu.Lock()
		if err != nil {
			prev := s.last[name]
			if prev.Err == "" {
				s.log.Warn("cannot read the queue's depth; decisions use the last known sample", "queue", url, "err", err)
			}
			prev.Err = err.Error()
			s.last[name] = prev
		} else {
			if s.last[name].Err != "" {
				s.log.Info("queue depth readable again", "queue", url)
			}
			s.last[name] = d
		}
		s.mu.Unlock()
	}
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// Depth is the latest sample of the queue watched under name; false when
// the name is not watched.
func (s *Sampler) Depth(name string) (Depth, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.queues[name]; !ok {
		return Depth{}, false
	}
	return s.last[name], true
}

// All is every watched queue's latest sample, for /stats.
func (s *Sampler) All() map[string]Depth {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]Depth, len(s.queues))
	for name := range s.queues {
		out[name] = s.last[name]
	}
	return out
}

// Fresh reports whether a sample read within maxAge is known for every
// watched queue.
func (s *Sampler) Fresh(now time.Time, maxAge time.Duration) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for name := range s.queues {
		if !s.last[name].Known(now, maxAge) {
			return false
		}
	}
	return true
}

// WaitSample waits for the next round of reads to end, or for ctx.
func (s *Sampler) WaitSample(ctx context.Context) error {
	s.mu.Lock()
	ch := s.changed
	s.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// depthAttributes are the three counts, asked for by name: "All" would
// return the policies too, on every sample.
var depthAttributes = []types.QueueAttributeName{
	types.QueueAttributeNameApproximateNumberOfMessages,
	types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
}

// Read reads one queue's depth once.
func Read(ctx context.Context, client API, url string) (Depth, error) {
	return read(ctx, client, url, 10*time.Second)
}

func read(ctx context.Context, client API, url string, timeout time.Duration) (Depth, error) {
	ctx, cancel := context.WithTimeout(ctx, max(timeout, 2*time.Second))
	defer cancel()
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: depthAttributes})
	if err != nil {
		return Depth{}, fmt.Errorf("reading the depth of %s: %w", url, err)
	}
	d := Depth{At: time.Now()}
	for _, f := range []struct {
		name types.QueueAttributeName
		dst  *int64
	}{
		{types.QueueAttributeNameApproximateNumberOfMessages, &d.Visible},
		{types.QueueAttributeNameApproximateNumberOfMessagesNotVisible, &d.NotVisible},
		{types.QueueAttributeNameApproximateNumberOfMessagesDelayed, &d.Delayed},
	} {
		v, ok := out.Attributes[string(f.name)]
		if !ok {
			// Every SQS answers all three; one missing would read as an
			// empty queue and open every gate, so it is an error instead.
			return Depth{}, fmt.Errorf("reading the depth of %s: %s missing from the answer", url, f.name)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return Depth{}, fmt.Errorf("reading the depth of %s: %s = %q", url, f.name, v)
		}
		*f.dst = n
	}
	return d, nil
}
