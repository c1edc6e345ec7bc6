package main

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// slowSQS is an in-memory 1 MiB queue whose every SendMessageBatch call
// takes latency, or until the caller gives up. The emulator cannot take part
// in a synctest bubble (its calls go over the network), and no sleep may
// decide a verdict, hence this fake.
type slowSQS struct {
	latency time.Duration

	mu       sync.Mutex
	accepted []*edgebatch.Batch
}

func (s *slowSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{string(types.QueueAttributeNameMaximumMessageSize): strconv.Itoa(1 << 20)}}, nil
}

func (s *slowSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(s.latency):
	}
	out := &sqs.SendMessageBatchOutput{}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range in.Entries {
		s.accepted = append(s.accepted, decodeEntry(e))
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
	}
	return out, nil
}

// sealedScopes returns the scopes whose seal was accepted, and the scopes of
// which anything was accepted.
func (s *slowSQS) scopes() (sealed, seen []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, b := range s.accepted {
		if b.Seal != nil && !slices.Contains(sealed, b.Snapshot.Scope) {
			sealed = append(sealed, b.Snapshot.Scope)
		}
		if !slices.Contains(seen, b.Snapshot.Scope) {
			seen = append(seen, b.Snapshot.Scope)
		}
	}
	return sealed, seen
}

// threeScopes discovers three small snapshots, each one batch and a seal:
// two calls of the fake's latency each.
func threeScopes(_ context.Context, at time.Time) ([]*edgebatch.Batch, error) {
	var out []*edgebatch.Batch
	for _, scope := range []string{"test/a", "test/b", "test/c"} {
		b := blobSnapshot(scope, 3, 10)
		b.ObservedAt = at.UTC().Truncate(time.Second)
		out = append(out, b)
	}
	return out, nil
}

func TestDiscoveryTimeout(t *testing.T) {
	t.Parallel()

	t.Run("a run that exceeds it is abandoned: the snapshot in progress stays unsealed and the rest are not sent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := &slowSQS{latency: time.Second}
			log, logs := testLog()
			ss, err := newSnapshotSender(t.Context(), q, "https://sqs.test/1/q", log)
			if err != nil {
				t.Fatal(err)
			}
			// test/a takes two calls (2s) and is sealed; test/b's data call is
			// under way when the timeout falls.
			err = discoverAndSend(t.Context(), source{name: "test", discover: threeScopes}, ss, 2500*time.Millisecond, log).Err

			if !errors.Is(err, errRunTimeout) || !strings.Contains(err.Error(), "DISCOVERY_TIMEOUT") {
				t.Fatalf("err = %v; want the run reported as past DISCOVERY_TIMEOUT", err)
			}
			sealed, seen := q.scopes()
			if !slices.Equal(sealed, []string{"test/a"}) {
				t.Fatalf("sealed scopes %v; want test/a alone", sealed)
			}
			if slices.Contains(seen, "test/c") {
				t.Fatal("test/c was sent after the run was abandoned")
			}
			out := logs.String()
			if !strings.Contains(out, `"msg":"snapshot not sealed; the next run supersedes it","source":"test","scope":"test/b"`) {
				t.Fatalf("no error logged for test/b:\n%s", out)
			}
			if !strings.Contains(out, `"not_sent":["test/c/`) {
				t.Fatalf("test/c not logged as not sent:\n%s", out)
			}
		})
	})

	t.Run("a run that finishes within it seals every scope", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := &slowSQS{latency: time.Second}
			log, _ := testLog()
			ss, err := newSnapshotSender(t.Context(), q, "https://sqs.test/1/q", log)
			if err != nil {
				t.Fatal(err)
			}
			if err := discoverAndSend(t.Context(), source{name: "test", discover: threeScopes}, ss, 6500*time.Millisecond, log).Err; err != nil {
				t.Fatal(err)
			}
			if sealed, _ := q.scopes(); !slices.Equal(sealed, []string{"test/a", "test/b", "test/c"}) {
				t.Fatalf("sealed scopes %v; want all three", sealed)
			}
		})
	})

	t.Run("a discovery that hangs is abandoned and nothing is sent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := &slowSQS{latency: time.Second}
			log, _ := testLog()
			ss, err := newSnapshotSender(t.Context(), q, "https://sqs.test/1/q", log)
			if err != nil {
				t.Fatal(err)
			}
			hang := func(ctx context.Context, _ time.Time) ([]*edgebatch.Batch, error) {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			err = discoverAndSend(t.Context(), source{name: "test", discover: hang}, ss, time.Minute, log).Err
			if !errors.Is(err, errRunTimeout) {
				t.Fatalf("err = %v; want the run reported as past DISCOVERY_TIMEOUT", err)
			}
			if _, seen := q.scopes(); len(seen) != 0 {
				t.Fatalf("sent %v", seen)
			}
		})
	})

	t.Run("the run after an abandoned one goes ahead", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			q := &slowSQS{latency: time.Second}
			log, logs := testLog()
			ss, err := newSnapshotSender(t.Context(), q, "https://sqs.test/1/q", log)
			if err != nil {
				t.Fatal(err)
			}
			ctx, stop := context.WithCancel(t.Context())
			defer stop()
			runs := 0
			discover := func(ctx context.Context, at time.Time) ([]*edgebatch.Batch, error) {
				runs++
				switch runs {
				case 1: // hangs
					<-ctx.Done()
					return nil, ctx.Err()
				case 2:
					return threeScopes(ctx, at)
				default: // the test has seen enough: shut down
					stop()
					return nil, ctx.Err()
				}
			}
			runLoop(ctx, source{name: "test", interval: time.Minute, discover: discover}, ss, 10*time.Second, log)
			if sealed, _ := q.scopes(); !slices.Equal(sealed, []string{"test/a", "test/b", "test/c"}) {
				t.Fatalf("sealed scopes %v; want all three from the second run", sealed)
			}
			if !strings.Contains(logs.String(), `"msg":"discovery run failed; the next one will supersede it"`) {
				t.Fatalf("the abandoned run was not logged:\n%s", logs)
			}
		})
	})
}
