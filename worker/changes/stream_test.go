package changes_test

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal"
	"github.com/graphfleet/graphfleet/worker/changes"
)

func TestStreamURL(t *testing.T) {
	for in, want := range map[string]string{
		"wss://c.cluster-x.eu-west-1.neptune.amazonaws.com:8182/gremlin": "https://c.cluster-x.eu-west-1.neptune.amazonaws.com:8182/propertygraph/stream",
		"ws://127.0.0.1:8182/gremlin":                                    "http://127.0.0.1:8182/propertygraph/stream",
	} {
		if got, err := changes.StreamURL(in); err != nil || got != want {
			t.Errorf("StreamURL(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := changes.StreamURL("ftp://x"); err == nil {
		t.Error("an ftp endpoint accepted")
	}
}

// The stream API as the feed meets it: signed with IAM when the cluster
// wants it, Neptune's errors as StreamErrors, a caught-up read as an empty
// page.
func TestStreamReads(t *testing.T) {
	creds := neptunelocal.Credentials{AccessKeyID: "AKIDFEED", SecretAccessKey: "feed-secret"}
	srv, err := neptunelocal.Start(neptunelocal.Options{Credentials: &creds, Region: "eu-west-1", StreamRecords: 100, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	url, _ := changes.StreamURL(srv.URL())
	ctx := context.Background()
	signed := &changes.Stream{URL: url, Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider(creds.AccessKeyID, creds.SecretAccessKey, "")}

	page, err := signed.Read(ctx, nil, false, 10)
	if err != nil || len(page.Records) != 0 {
		t.Fatalf("an empty stream: %+v, %v; want an empty page", page, err)
	}
	var se *changes.StreamError
	if _, err := (&changes.Stream{URL: url}).Read(ctx, nil, false, 10); !errors.As(err, &se) || se.Status != 403 || se.Code != "AccessDeniedException" {
		t.Fatalf("an unsigned read of an IAM cluster: %v", err)
	}
	if _, err := signed.Read(ctx, &changes.EventID{CommitNum: 1, OpNum: 1}, false, 0); !errors.As(err, &se) || se.Code != "InvalidParameterException" {
		t.Fatalf("limit 0: %v", err)
	}

	off, err := neptunelocal.Start(neptunelocal.Options{Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = off.Close() })
	offURL, _ := changes.StreamURL(off.URL())
	if _, err := (&changes.Stream{URL: offURL}).Read(ctx, nil, false, 10); !errors.As(err, &se) || se.Code != "UnsupportedOperationException" || changes.Expired(err) {
		t.Fatalf("a cluster without streams: %v", err)
	}
}
