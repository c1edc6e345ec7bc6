package sqslocal_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
)

type redrivePolicy struct {
	DeadLetterTargetArn string `json:"deadLetterTargetArn"`
	MaxReceiveCount     any    `json:"maxReceiveCount"` // SQS may answer a number or a string
}

type redriveAllowPolicy struct {
	RedrivePermission string   `json:"redrivePermission"`
	SourceQueueArns   []string `json:"sourceQueueArns"`
}

func (f *fixture) attributes(t *testing.T, url string) map[string]string {
	t.Helper()
	out, err := f.client.GetQueueAttributes(testContext(t), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes(%s): %v", url, err)
	}
	return out.Attributes
}

// checkQueues verifies the attributes CreateQueues promises.
func (f *fixture) checkQueues(t *testing.T, q sqslocal.Queues, visibility string, maxReceive int) {
	t.Helper()
	for _, tc := range []struct {
		name, url, arn string
		redrive        bool
	}{
		{"ingest", q.Ingest, q.IngestARN, true},
		{"dlq", q.DLQ, q.DLQARN, false},
		{"replay", q.Replay, q.ReplayARN, true},
	} {
		a := f.attributes(t, tc.url)
		if a["QueueArn"] != tc.arn {
			t.Errorf("%s: QueueArn = %q, want %q", tc.name, a["QueueArn"], tc.arn)
		}
		if a["MaximumMessageSize"] != "1048576" {
			t.Errorf("%s: MaximumMessageSize = %q, want 1048576", tc.name, a["MaximumMessageSize"])
		}
		if a["VisibilityTimeout"] != visibility {
			t.Errorf("%s: VisibilityTimeout = %q, want %s", tc.name, a["VisibilityTimeout"], visibility)
		}
		rp, ok := a["RedrivePolicy"]
		if ok != tc.redrive {
			t.Errorf("%s: has RedrivePolicy = %v (%q), want %v", tc.name, ok, rp, tc.redrive)
		}
		if tc.redrive {
			var p redrivePolicy
			if err := json.Unmarshal([]byte(rp), &p); err != nil {
				t.Fatalf("%s: RedrivePolicy %q: %v", tc.name, rp, err)
			}
			if p.DeadLetterTargetArn != q.DLQARN {
				t.Errorf("%s: deadLetterTargetArn = %q, want %q", tc.name, p.DeadLetterTargetArn, q.DLQARN)
			}
			if got := strings.Trim(jsonString(p.MaxReceiveCount), `"`); got != jsonString(maxReceive) {
				t.Errorf("%s: maxReceiveCount = %s, want %d", tc.name, got, maxReceive)
			}
		}
	}
	var allow redriveAllowPolicy
	raw := f.attributes(t, q.DLQ)["RedriveAllowPolicy"]
	if err := json.Unmarshal([]byte(raw), &allow); err != nil {
		t.Fatalf("dlq: RedriveAllowPolicy %q: %v", raw, err)
	}
	slices.Sort(allow.SourceQueueArns)
	want := []string{q.IngestARN, q.ReplayARN}
	slices.Sort(want)
	if allow.RedrivePermission != "byQueue" || !slices.Equal(allow.SourceQueueArns, want) {
		t.Errorf("dlq: RedriveAllowPolicy = %+v, want byQueue %v", allow, want)
	}

	out, err := f.client.ListDeadLetterSourceQueues(testContext(t), &sqs.ListDeadLetterSourceQueuesInput{QueueUrl: aws.String(q.DLQ)})
	if err != nil {
		t.Fatalf("ListDeadLetterSourceQueues: %v", err)
	}
	got := slices.Clone(out.QueueUrls)
	slices.Sort(got)
	wantURLs := []string{q.Ingest, q.Replay}
	slices.Sort(wantURLs)
	if !slices.Equal(got, wantURLs) {
		t.Errorf("DLQ sources = %v, want %v", got, wantURLs)
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestCreateQueues(t *testing.T) {
	t.Parallel()
	f := start(t)
	ctx := testContext(t)

	q, err := sqslocal.CreateQueues(ctx, f.client, "graphfleet")
	if err != nil {
		t.Fatal(err)
	}
	for name, url := range map[string]string{"-ingest": q.Ingest, "-dlq": q.DLQ, "-replay": q.Replay} {
		if !strings.HasSuffix(url, "/graphfleet"+name) {
			t.Errorf("queue URL %q does not end in /graphfleet%s", url, name)
		}
	}
	f.checkQueues(t, q, "30", 5)

	t.Run("idempotent", func(t *testing.T) {
		again, err := sqslocal.CreateQueues(ctx, f.client, "graphfleet")
		if err != nil {
			t.Fatal(err)
		}
		if again != q {
			t.Fatalf("second CreateQueues = %+v, want %+v", again, q)
		}
		f.checkQueues(t, q, "30", 5)
	})

	t.Run("converges on new options", func(t *testing.T) {
		changed, err := sqslocal.CreateQueuesWithOptions(ctx, f.client, "graphfleet", sqslocal.QueueOptions{
			VisibilityTimeout: 5 * time.Second,
			MaxReceiveCount:   3,
		})
		if err != nil {
			t.Fatal(err)
		}
		if changed != q {
			t.Fatalf("CreateQueuesWithOptions = %+v, want %+v", changed, q)
		}
		f.checkQueues(t, q, "5", 3)
	})

	t.Run("invalid options", func(t *testing.T) {
		for _, tc := range []struct {
			prefix string
			opts   sqslocal.QueueOptions
		}{
			{"", sqslocal.QueueOptions{}},
			{"has.dot", sqslocal.QueueOptions{}},
			{strings.Repeat("x", 74), sqslocal.QueueOptions{}},
			{"ok", sqslocal.QueueOptions{VisibilityTimeout: 1500 * time.Millisecond}},
			{"ok", sqslocal.QueueOptions{VisibilityTimeout: 13 * time.Hour}},
			{"ok", sqslocal.QueueOptions{MaxReceiveCount: -1}},
			{"ok", sqslocal.QueueOptions{MaximumMessageSize: 2 << 20}},
		} {
			if _, err := sqslocal.CreateQueuesWithOptions(ctx, f.client, tc.prefix, tc.opts); err == nil {
				t.Errorf("CreateQueuesWithOptions(%q, %+v) succeeded", tc.prefix, tc.opts)
			}
		}
	})
}
