package awsresources

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/graphfleet/graphfleet/producer/awsapi"
	"github.com/graphfleet/graphfleet/producer/awsreplay"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

var observed = time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)

const (
	acct = "123456789012"

	vpc        = "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"
	subnetA    = "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0aaaaaaaaaaaaaaa1"
	subnetB    = "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0bbbbbbbbbbbbbbb2"
	sg         = "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0ccccccccccccccc3"
	bastion    = "arn:aws:ec2:us-east-1:123456789012:instance/i-0123456789abcdef1"
	bastionRl  = "arn:aws:iam::123456789012:role/petsite-bastion"
	alb        = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/petsite-alb/50dc6c495c0c9188"
	listener   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/petsite-alb/50dc6c495c0c9188/f2f7dc8efc522ab2"
	tg         = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/petsite-petsearch/73e2d6bc24d8a067"
	ecsCluster = "arn:aws:ecs:us-east-1:123456789012:cluster/petsite"
	ecsService = "arn:aws:ecs:us-east-1:123456789012:service/petsite/petsearch"
	taskDef    = "arn:aws:ecs:us-east-1:123456789012:task-definition/petsite-petsearch:3"
	taskRole   = "arn:aws:iam::123456789012:role/petsite-petsearch-task"
	execRole   = "arn:aws:iam::123456789012:role/service-role/petsite-ecs-execution"
	eksCluster = "arn:aws:eks:us-east-1:123456789012:cluster/petsite-eks"
	eksRole    = "arn:aws:iam::123456789012:role/petsite-eks-cluster"
	fnRole     = "arn:aws:iam::123456789012:role/petsite-app-StatusUpdaterRole-ABC123"
	fn         = "arn:aws:lambda:us-east-1:123456789012:function:petsite-statusupdater"
	queue      = "arn:aws:sqs:us-east-1:123456789012:petsite-adoptions"
	mapping    = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:6f1e2d3c-1111-4222-8333-444455556666"
	table      = "arn:aws:dynamodb:us-east-1:123456789012:table/petsite-adoptions"
	topic      = "arn:aws:sns:us-east-1:123456789012:petsite-notifications"
	sub        = "arn:aws:sns:us-east-1:123456789012:petsite-notifications:0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff"
	bucket     = "arn:aws:s3:::petsite-images-123456789012"
	workflow   = "arn:aws:states:us-east-1:123456789012:stateMachine:petsite-adoption"
	rule       = "arn:aws:events:us-east-1:123456789012:rule/petsite-adoption-rule"
	dbCluster  = "arn:aws:rds:us-east-1:123456789012:cluster:petsite-adoptions-db"
	dbInstance = "arn:aws:rds:us-east-1:123456789012:db:petsite-adoptions-db-1"
	neptuneDB  = "arn:aws:rds:us-east-1:123456789012:cluster:graphfleet-neptune"
)

// syncBuffer is a log sink the source may write to from any goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// replay discovers regions from the recording dir, and fails the test if
// any request went unanswered (a call the recording does not expect).
func replay(t *testing.T, dir string, regions ...string) (*awsreplay.Replayer, []*edgebatch.Batch, error, string) {
	t.Helper()
	r, err := awsreplay.Load("testdata/" + dir)
	if err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	src := New(r.Config(regions[0]), regions,
		awsapi.WithMaxBackoff(time.Millisecond),
		awsapi.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	batches, err := src.Discover(context.Background(), observed)
	if u := r.Unmatched(); len(u) > 0 {
		t.Errorf("requests the recording does not answer:\n%s", strings.Join(u, "\n"))
	}
	for _, b := range batches {
		if verr := edgebatch.Validate(b); verr != nil {
			t.Errorf("snapshot %s does not validate: %v", b.Snapshot.ID, verr)
		}
	}
	return r, batches, err, logs.String()
}

func checkSnapshot(t *testing.T, b *edgebatch.Batch, region string) {
	t.Helper()
	scope := "aws/" + acct + "/" + region
	if b.V != edgebatch.Version || b.Source != "aws" || !b.ObservedAt.Equal(observed) {
		t.Errorf("header v=%d source=%q observed_at=%s", b.V, b.Source, b.ObservedAt)
	}
	if b.Snapshot == nil || b.Snapshot.Scope != scope || b.Snapshot.ID != scope+"/2026-11-21T10:05:00Z" || b.Snapshot.Seq != 0 {
		t.Errorf("snapshot %+v; want scope %s", b.Snapshot, scope)
	}
}

func TestPetsiteGivesEveryResourceWithTheIDAndLabelTheInventoryLists(t *testing.T) {
	t.Parallel()
	r, batches, err, logs := replay(t, "petsite", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 {
		t.Fatalf("%d snapshots; want 1", len(batches))
	}
	b := batches[0]
	checkSnapshot(t, b, "us-east-1")

	want := map[string]string{
		vpc: "EC2_VPC", subnetA: "EC2_Subnet", subnetB: "EC2_Subnet", sg: "EC2_SecurityGroup",
		bastion: "EC2_Instance", bastionRl: "IAM_Role",
		alb: "ElasticLoadBalancingV2_LoadBalancer", listener: "ElasticLoadBalancingV2_Listener", tg: "ElasticLoadBalancingV2_TargetGroup",
		ecsCluster: "ECS_Cluster", ecsService: "ECS_Service", taskDef: "ECS_TaskDefinition", taskRole: "IAM_Role", execRole: "IAM_Role",
		eksCluster: "EKS_Cluster", eksRole: "IAM_Role",
		fn: "Lambda_Function", fnRole: "IAM_Role", mapping: "Lambda_EventSourceMapping",
		queue: "SQS_Queue", topic: "SNS_Topic", sub: "SNS_Subscription", table: "DynamoDB_Table", bucket: "S3_Bucket",
		workflow: "StepFunctions_StateMachine", rule: "Events_Rule",
		dbCluster: "RDS_DBCluster", dbInstance: "RDS_DBInstance", neptuneDB: "Neptune_DBCluster",
	}
	got := map[string]string{}
	for _, v := range b.Vertices {
		if _, dup := got[v.ID]; dup {
			t.Errorf("vertex %s appears twice", v.ID)
		}
		got[v.ID] = v.Label
	}
	if !maps.Equal(got, want) {
		for _, id := range slices.Sorted(maps.Keys(want)) {
			if got[id] != want[id] {
				t.Errorf("vertex %s: label %q; want %q", id, got[id], want[id])
			}
		}
		for _, id := range slices.Sorted(maps.Keys(got)) {
			if _, ok := want[id]; !ok {
				t.Errorf("unexpected vertex %s (%s)", id, got[id])
			}
		}
	}

	edges := map[string]edgebatch.Edge{}
	for _, e := range b.Edges {
		edges[e.ID] = e
	}
	for _, e := range []struct{ from, label, to, key string }{
		{subnetA, "in_vpc", vpc, ""},
		{subnetB, "in_vpc", vpc, ""},
		{sg, "in_vpc", vpc, ""},
		{bastion, "in_subnet", subnetA, ""},
		{bastion, "has_security_group", sg, ""},
		{bastion, "uses_role", bastionRl, ""},
		{alb, "has_listener", listener, ""},
		{alb, "in_subnet", subnetB, ""},
		{listener, "forwards_to", tg, ""},
		{tg, "targets", ecsService, ""},
		{ecsService, "in_cluster", ecsCluster, ""},
		{ecsService, "runs_task_definition", taskDef, ""},
		{ecsService, "in_subnet", subnetA, ""},
		{taskDef, "uses_role", taskRole, "task"},
		{taskDef, "uses_role", execRole, "execution"},
		{eksCluster, "uses_role", eksRole, ""},
		{eksCluster, "has_security_group", sg, ""},
		{fn, "uses_role", fnRole, ""},
		{fn, "in_vpc", vpc, ""},
		{fn, "in_subnet", subnetA, ""},
		{fn, "in_subnet", subnetB, ""},
		{fn, "has_security_group", sg, ""},
		{queue, "triggers", fn, "6f1e2d3c-1111-4222-8333-444455556666"},
		{mapping, "reads_from", queue, ""},
		{mapping, "invokes", fn, ""},
		{sub, "subscribes", topic, ""},
		{sub, "targets", queue, ""},
		{topic, "triggers", queue, "0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff"},
		{workflow, "uses_role", fnRole, ""},
		{workflow, "targets", fn, ""},
		{rule, "targets", workflow, "AdoptionWorkflow"},
		{dbInstance, "member_of", dbCluster, ""},
		{dbInstance, "in_subnet", subnetB, ""},
		{dbCluster, "has_security_group", sg, ""},
		{neptuneDB, "has_security_group", sg, ""},
	} {
		id := edgebatch.EdgeIDWithKey(e.label, e.from, e.to, e.key)
		if _, ok := edges[id]; !ok {
			t.Errorf("no edge %s", id)
		}
	}
	// The state machine calls its function from two states, once with
	// a qualifier: one edge.
	for id, e := range edges {
		if e.From == workflow && e.Label == "targets" && id != edgebatch.EdgeID("targets", workflow, fn) {
			t.Errorf("unexpected state machine edge %s", id)
		}
		if e.From == tg && e.Label == "targets" && e.To != ecsService {
			t.Errorf("ip targets are addresses, not resources; got edge %s", id)
		}
	}

	// A role with a path keeps it, in its id and its props.
	for _, v := range b.Vertices {
		if v.ID == execRole && (v.Props["path"] != "/service-role/" || v.Props["name"] != "petsite-ecs-execution") {
			t.Errorf("execution role props %v; want path /service-role/ and name petsite-ecs-execution", v.Props)
		}
		for k, p := range v.Props {
			if s, ok := p.(string); ok && strings.Contains(s, "s3cr3t") {
				t.Errorf("vertex %s prop %s carries a secret: %q", v.ID, k, s)
			}
		}
	}

	// Every page of the paginated lists was read.
	for _, c := range []struct {
		service, op string
		want        int
	}{
		{"ec2", "DescribeSubnets", 2},
		{"lambda", "GET /2015-03-31/functions", 2},
		{"events", "ListRules", 2}, // the default bus and petsite-bus
		{"rds", "DescribeDBClusters", 2},
		{"iam", "ListInstanceProfiles", 1},
	} {
		if got := r.Calls(c.service, c.op); got != c.want {
			t.Errorf("%s %s called %d times; want %d", c.service, c.op, got, c.want)
		}
	}

	// The rule's log group target is a type this source does not model.
	if !strings.Contains(logs, "skipped=1") || !strings.Contains(logs, `by_service="logs=1"`) {
		t.Errorf("want a log line counting one skipped logs reference; got %q", logs)
	}
}

func TestThrottledCallIsRetriedAndTheSnapshotIsComplete(t *testing.T) {
	t.Parallel()
	r, batches, err, _ := replay(t, "throttled", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 {
		t.Fatalf("%d snapshots; want 1", len(batches))
	}
	checkSnapshot(t, batches[0], "us-east-1")
	if n := r.Calls("dynamodb", "ListTables"); n != 2 {
		t.Errorf("ListTables called %d times; want 2 (a throttled attempt and its retry)", n)
	}
	if len(batches[0].Vertices) != 1 || batches[0].Vertices[0].ID != table {
		t.Errorf("vertices %v; want only the table listed after the retry", batches[0].Vertices)
	}
}

func TestDeniedTypeFailsTheRegionNamingTypeAndCode(t *testing.T) {
	t.Parallel()
	_, batches, err, _ := replay(t, "denied", "eu-west-1")
	if len(batches) != 0 {
		t.Errorf("%d snapshots; a region with a denied type must give none", len(batches))
	}
	if err == nil {
		t.Fatal("no error")
	}
	for _, s := range []string{"eu-west-1", "AWS::DynamoDB::Table", "AccessDeniedException"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not name %s", err, s)
		}
	}
	var te *TypeError
	if !errors.As(err, &te) || te.Type != "AWS::DynamoDB::Table" || te.Code != "AccessDeniedException" {
		t.Errorf("error %v; want a *TypeError for AWS::DynamoDB::Table, code AccessDeniedException", err)
	}
}

func TestOneFailedRegionLeavesTheOthersSnapshots(t *testing.T) {
	t.Parallel()
	_, batches, err, _ := replay(t, "denied", "us-east-1", "eu-west-1")
	if len(batches) != 1 {
		t.Fatalf("%d snapshots; want 1, us-east-1's", len(batches))
	}
	checkSnapshot(t, batches[0], "us-east-1")
	if err == nil || !strings.Contains(err.Error(), "region eu-west-1") || strings.Contains(err.Error(), "region us-east-1") {
		t.Errorf("error %v; want one naming eu-west-1 only", err)
	}
}

func TestEmptyAccountIsAnEmptySnapshot(t *testing.T) {
	t.Parallel()
	_, batches, err, _ := replay(t, "empty", "us-east-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(batches) != 1 {
		t.Fatalf("%d snapshots; want 1", len(batches))
	}
	checkSnapshot(t, batches[0], "us-east-1")
	if len(batches[0].Vertices) != 0 || len(batches[0].Edges) != 0 {
		t.Errorf("%d vertices, %d edges; want none", len(batches[0].Vertices), len(batches[0].Edges))
	}
}

func TestCancelledContextGivesNoSnapshot(t *testing.T) {
	t.Parallel()
	r, err := awsreplay.Load("testdata/petsite")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	batches, err := New(r.Config("us-east-1"), []string{"us-east-1"}).Discover(ctx, observed)
	if len(batches) != 0 || !errors.Is(err, context.Canceled) {
		t.Errorf("%d snapshots, error %v; want none and context.Canceled", len(batches), err)
	}
}
