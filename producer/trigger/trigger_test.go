package trigger

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func event(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const appStack = "arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-app/1a2b3c4d-0000-4000-8000-000000000002"

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		file string
		want Change
	}{
		{"stack-update-complete.json", Change{Kind: KindStack, Account: "123456789012", Region: "us-east-1",
			At: time.Date(2026, 12, 1, 10, 5, 12, 0, time.UTC), Key: appStack, Status: "UPDATE_COMPLETE"}},
		{"stack-delete-complete.json", Change{Kind: KindStack, Account: "123456789012", Region: "us-east-1",
			At: time.Date(2026, 12, 1, 10, 9, 40, 0, time.UTC), Key: appStack, Status: "DELETE_COMPLETE", Deleted: true}},
		{"config-item-change.json", Change{Kind: KindResource, Account: "123456789012", Region: "us-east-1",
			At: time.Date(2026, 12, 1, 10, 6, 0, 0, time.UTC), Key: "arn:aws:sqs:us-east-1:123456789012:petsite-adoptions",
			Status: "UPDATE", ResourceType: "AWS::SQS::Queue"}},
		{"config-oversized-deleted.json", Change{Kind: KindResource, Account: "123456789012", Region: "us-east-1",
			At: time.Date(2026, 12, 1, 10, 7, 0, 0, time.UTC), Key: "arn:aws:lambda:us-east-1:123456789012:function:petsite-statusupdater",
			Status: "DELETE", ResourceType: "AWS::Lambda::Function", Deleted: true}},
	}
	for _, c := range cases {
		got, err := Parse(event(t, c.file))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s:\n got %+v\nwant %+v", c.file, got, c.want)
		}
	}
}

func TestParseRefusesWithAReason(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ name, body, reason string }{
		{"an in-progress status the rule should not have let through", string(event(t, "stack-update-in-progress.json")), `"UPDATE_IN_PROGRESS" is not a *_COMPLETE status`},
		{"an event graphfleet does not listen to", string(event(t, "ec2-state-change.json")), "is not one graphfleet listens to"},
		{"not JSON", "stack updated", "not an EventBridge event"},
		{"a stack id that is not an ARN", strings.Replace(string(event(t, "stack-update-complete.json")), `"stack-id": "arn:aws:cloudformation`, `"stack-id": "petsite-app`, 1), "is not a stack ARN"},
		{"an envelope of another version", strings.Replace(string(event(t, "stack-update-complete.json")), `"version": "0"`, `"version": "1"`, 1), `event version "1"`},
		{"a body over 256 KiB", `{"version":"0","detail":"` + strings.Repeat("x", MaxEventBytes) + `"}`, "at most"},
	} {
		_, err := Parse([]byte(c.body))
		if err == nil || !strings.Contains(Reason(err), c.reason) {
			t.Errorf("%s: err %v; want a reason containing %q", c.name, err, c.reason)
		}
	}
}

func TestCoalesceKeepsTheLatestChangePerStack(t *testing.T) {
	t.Parallel()
	upd, _ := Parse(event(t, "stack-update-complete.json"))
	del, _ := Parse(event(t, "stack-delete-complete.json"))
	q, _ := Parse(event(t, "config-item-change.json"))
	got := Coalesce([]Change{del, upd, q, upd, q})
	if len(got) != 2 || got[0] != del || got[1] != q {
		t.Fatalf("coalesced %+v; want the delete (the latest for the stack) then the queue change", got)
	}
}
