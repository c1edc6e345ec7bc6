package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/producer/awsreplay"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graph"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/worker/neptune"
)

// The shared resources of the recorded "petsite" account (see the two
// recordings' README): the AWS source sees them through their own APIs, the
// CloudFormation source through the stacks that manage them.
var petsiteShared = map[string]string{ // ARN -> label
	"arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0":                                    "EC2_VPC",
	"arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0aaaaaaaaaaaaaaa1":                              "EC2_Subnet",
	"arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0bbbbbbbbbbbbbbb2":                              "EC2_Subnet",
	"arn:aws:ec2:us-east-1:123456789012:security-group/sg-0ccccccccccccccc3":                          "EC2_SecurityGroup",
	"arn:aws:iam::123456789012:role/petsite-app-StatusUpdaterRole-ABC123":                             "IAM_Role",
	"arn:aws:lambda:us-east-1:123456789012:function:petsite-statusupdater":                            "Lambda_Function",
	"arn:aws:sqs:us-east-1:123456789012:petsite-adoptions":                                            "SQS_Queue",
	"arn:aws:dynamodb:us-east-1:123456789012:table/petsite-adoptions":                                 "DynamoDB_Table",
	"arn:aws:sns:us-east-1:123456789012:petsite-notifications":                                        "SNS_Topic",
	"arn:aws:s3:::petsite-images-123456789012":                                                        "S3_Bucket",
	"arn:aws:states:us-east-1:123456789012:stateMachine:petsite-adoption":                             "StepFunctions_StateMachine",
	"arn:aws:events:us-east-1:123456789012:rule/petsite-adoption-rule":                                "Events_Rule",
	"arn:aws:rds:us-east-1:123456789012:cluster:petsite-adoptions-db":                                 "RDS_DBCluster",
	"arn:aws:rds:us-east-1:123456789012:db:petsite-adoptions-db-1":                                    "RDS_DBInstance",
	"arn:aws:lambda:us-east-1:123456789012:event-source-mapping:6f1e2d3c-1111-4222-8333-444455556666": "Lambda_EventSourceMapping",
	"arn:aws:sns:us-east-1:123456789012:petsite-notifications:0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff":   "SNS_Subscription",
}

const (
	networkStack = "arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-network/1a2b3c4d-0000-4000-8000-000000000001"
	appStack     = "arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-app/1a2b3c4d-0000-4000-8000-000000000002"
)

// Both AWS sources, describing the same account from recorded responses,
// go through the producer, the SQS emulator and the worker's writer into the
// stand-in: every resource is one vertex, reached by the stack that manages
// it and by the relationships the AWS APIs show; the template's
// !ImportValue and Ref show as imports and depends_on edges.
func TestTheAWSAndCloudFormationSourcesMeetOnOneVertexPerResource(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	log, logs := testLog()
	for _, src := range []struct{ name, recording, sealed string }{
		{"aws", "awsresources/testdata/petsite", "total: 1 of 1 snapshot(s) sealed"},
		// One snapshot per stack: three live (a nested one among them)
		// and two deleted, whose empty snapshots sweep what they left.
		{"cloudformation", "cloudformation/testdata/petsite", "total: 5 of 5 snapshot(s) sealed"},
	} {
		r, err := awsreplay.Load(src.recording)
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{QueueURL: st.Queues.Ingest, Sources: []string{src.name}, Once: true, DiscoveryTimeout: time.Minute,
			AWSRegions: []string{"us-east-1"}, LogLevel: "info"}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		var summary bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err = runWith(ctx, cfg, r.Config("us-east-1"), st.Client, &summary, log)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s\nlogs:\n%s", src.name, err, summary.String(), logs)
		}
		if !strings.Contains(summary.String(), src.sealed) {
			t.Fatalf("%s summary:\n%s", src.name, summary.String())
		}
		if u := r.Unmatched(); len(u) > 0 {
			t.Fatalf("%s made requests the recording does not answer: %q", src.name, u)
		}
	}
	applyQueue(t, st)
	d := st.Neptune.Graph().Dump()

	vertices := map[string]graph.DumpVertex{}
	for _, v := range d.Vertices {
		vertices[v.ID] = v
	}
	type edgeKey struct{ from, label, to string }
	edges := map[edgeKey][]graph.DumpEdge{}
	touching := map[string]map[string]bool{} // vertex id -> labels of edges touching it
	for _, e := range d.Edges {
		k := edgeKey{e.From, e.Label, e.To}
		edges[k] = append(edges[k], e)
		for _, id := range []string{e.From, e.To} {
			if touching[id] == nil {
				touching[id] = map[string]bool{}
			}
			touching[id][e.Label] = true
		}
	}

	t.Run("each shared resource is one vertex, with the label both sources give it, reached by both", func(t *testing.T) {
		for arn, label := range petsiteShared {
			v, ok := vertices[arn]
			if !ok {
				t.Errorf("no vertex %s", arn)
				continue
			}
			if v.Label != label {
				t.Errorf("vertex %s is labelled %s; want %s", arn, v.Label, label)
			}
			if !touching[arn][edgebatch.ContainsLabel] {
				t.Errorf("vertex %s has no contains edge: the CloudFormation source did not reach it", arn)
			}
			// The CloudFormation source sets no props on a resource whose
			// ARN it derived (the AWS source owns them), so props mean the
			// AWS source wrote this same vertex.
			own := 0
			for k := range v.Properties {
				switch k {
				case neptune.PropSource, neptune.PropFirstSeen, neptune.PropLastSeen, neptune.PropActive, neptune.PropScope, neptune.PropSnapshot:
				default:
					own++
				}
			}
			if own == 0 {
				t.Errorf("vertex %s has no props from the AWS source: %v", arn, v.Properties)
			}
		}
	})

	t.Run("no resource appears twice under two ids", func(t *testing.T) {
		// Two vertices of one label whose ids end in the same resource
		// name would be one resource named two ways (a queue URL and its
		// ARN, a role's name and its ARN).
		byName := map[string]string{}
		for _, v := range d.Vertices {
			name := v.ID[strings.LastIndexAny(v.ID, ":/")+1:]
			key := v.Label + " " + name
			if other, ok := byName[key]; ok {
				t.Errorf("%s and %s look like one resource", other, v.ID)
			}
			byName[key] = v.ID
		}
	})

	t.Run("the template's !ImportValue is an imports edge and its Ref a depends_on edge", func(t *testing.T) {
		imports := edges[edgeKey{appStack, edgebatch.ImportsLabel, networkStack}]
		exports := map[string]bool{}
		for _, e := range imports {
			exports[fmt.Sprint(e.Properties["export"])] = true
		}
		for _, want := range []string{"petsite-PrivateSubnets", "petsite-ServicesSG"} {
			if !exports[want] {
				t.Errorf("no imports edge petsite-app -> petsite-network for %s (have %v)", want, exports)
			}
		}
		fn := "arn:aws:lambda:us-east-1:123456789012:function:petsite-statusupdater"
		table := "arn:aws:dynamodb:us-east-1:123456789012:table/petsite-adoptions"
		refs := edges[edgeKey{fn, edgebatch.DependsOnLabel, table}]
		found := false
		for _, e := range refs {
			found = found || e.Properties["intrinsic"] == "Ref"
		}
		if !found {
			t.Errorf("no depends_on edge from the function to the table with intrinsic Ref: %+v", refs)
		}
	})
}

// A region denied one resource type sends the other region's snapshot, and
// --once still fails: the summary shows the sealed snapshot and names the
// failed region, type and code on one line.
func TestRunOnceSendsTheRegionsThatWorkedAndFailsForTheRest(t *testing.T) {
	t.Parallel()
	st := startStack(t)
	r, err := awsreplay.Load("awsresources/testdata/denied")
	if err != nil {
		t.Fatal(err)
	}
	log, _ := testLog()
	cfg := Config{QueueURL: st.Queues.Ingest, Sources: []string{"aws"}, Once: true, DiscoveryTimeout: time.Minute,
		AWSRegions: []string{"us-east-1", "eu-west-1"}, LogLevel: "info"}
	var summary bytes.Buffer
	err = runWith(context.Background(), cfg, r.Config("us-east-1"), st.Client, &summary, log)
	if err == nil || !strings.Contains(err.Error(), "eu-west-1") {
		t.Fatalf("err = %v; want the run failed, naming eu-west-1", err)
	}
	out := summary.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "aws/123456789012/us-east-1") || !strings.Contains(lines[1], "sealed") ||
		!strings.Contains(lines[2], "FAILED") || !strings.Contains(lines[2], "AWS::DynamoDB::Table") || !strings.Contains(lines[2], "AccessDenied") ||
		!strings.HasPrefix(lines[3], "total: 1 of 1 snapshot(s) sealed") {
		t.Fatalf("summary:\n%s", out)
	}
	var seals int
	for _, b := range applyQueue(t, st) {
		if b.Seal != nil {
			seals++
			if b.Snapshot.Scope != "aws/123456789012/us-east-1" {
				t.Errorf("sealed %s", b.Snapshot.Scope)
			}
		}
	}
	if seals != 1 {
		t.Fatalf("%d seals; want us-east-1's alone", seals)
	}
}
