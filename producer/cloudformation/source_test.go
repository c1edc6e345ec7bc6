package cloudformation

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/graphfleet/graphfleet/producer/awsapi"
	"github.com/graphfleet/graphfleet/producer/awsarn"
	"github.com/graphfleet/graphfleet/producer/awsreplay"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

const (
	networkStack = "arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-network/1a2b3c4d-0000-4000-8000-000000000001"
	appStack     = "arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-app/1a2b3c4d-0000-4000-8000-000000000002"
	dbStack      = "arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-app-DatabaseStack-1ABCDEF/1a2b3c4d-0000-4000-8000-000000000003"
)

var observed = time.Date(2026, 11, 21, 10, 5, 0, 0, time.UTC)

// replay loads a recording and a Source whose only client is the replayer.
func replay(t *testing.T, dir string) (*awsreplay.Replayer, *Source) {
	t.Helper()
	r, err := awsreplay.Load(filepath.Join("testdata", dir))
	if err != nil {
		t.Fatal(err)
	}
	s := New(r.Config("us-east-1"), []string{"us-east-1"},
		awsapi.WithMaxBackoff(time.Millisecond), awsapi.WithLogger(slog.New(slog.DiscardHandler)))
	return r, s
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkSnapshot checks what every snapshot of the recorded account has: a
// valid batch of the stack's own scope, observed at observed.
func checkSnapshot(t *testing.T, b *edgebatch.Batch, stackARN string, observed time.Time) {
	t.Helper()
	if err := edgebatch.Validate(b); err != nil {
		t.Fatalf("the snapshot is not a valid batch: %v", err)
	}
	scope, err := StackScope(stackARN)
	if err != nil {
		t.Fatal(err)
	}
	if b.Source != "cloudformation" || b.V != edgebatch.Version || !b.ObservedAt.Equal(observed) || b.Snapshot == nil ||
		b.Snapshot.Scope != scope || b.Snapshot.ID != scope+"/"+observed.UTC().Format(time.RFC3339) {
		t.Fatalf("batch header: source %q v %d observed %v snapshot %+v; want scope %s", b.Source, b.V, b.ObservedAt, b.Snapshot, scope)
	}
}

// byScope indexes snapshots by scope; a scope twice is a failure.
func byScope(t *testing.T, bs []*edgebatch.Batch) map[string]*edgebatch.Batch {
	t.Helper()
	m := map[string]*edgebatch.Batch{}
	for _, b := range bs {
		if m[b.Snapshot.Scope] != nil {
			t.Fatalf("two snapshots of scope %s", b.Snapshot.Scope)
		}
		m[b.Snapshot.Scope] = b
	}
	return m
}

func scopeOf(t *testing.T, stackARN string) string {
	t.Helper()
	scope, err := StackScope(stackARN)
	if err != nil {
		t.Fatal(err)
	}
	return scope
}

// union is every snapshot's vertices and edges in one batch (not a valid
// one: a vertex seen by several snapshots keeps the copy with props).
func union(bs []*edgebatch.Batch) *edgebatch.Batch {
	u := &edgebatch.Batch{}
	vertices := map[string]int{}
	edges := map[string]bool{}
	for _, b := range bs {
		for _, v := range b.Vertices {
			if i, ok := vertices[v.ID]; ok {
				if len(v.Props) > 0 {
					u.Vertices[i] = v
				}
				continue
			}
			vertices[v.ID] = len(u.Vertices)
			u.Vertices = append(u.Vertices, v)
		}
		for _, e := range b.Edges {
			if !edges[e.ID] {
				edges[e.ID] = true
				u.Edges = append(u.Edges, e)
			}
		}
	}
	return u
}

type edgeKey struct{ label, from, to string }

func edgesByKey(b *edgebatch.Batch) map[edgeKey][]edgebatch.Edge {
	m := map[edgeKey][]edgebatch.Edge{}
	for _, e := range b.Edges {
		k := edgeKey{e.Label, e.From, e.To}
		m[k] = append(m[k], e)
	}
	return m
}

// The petsite recording's deleted stacks (ListStacks, two pages): one long
// gone, one deleted twenty-five minutes before observed.
const (
	canaryStack   = "arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-canary/1a2b3c4d-0000-4000-8000-000000000004"
	loadtestStack = "arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-loadtest/1a2b3c4d-0000-4000-8000-000000000005"
)

// The petsite inventory's resources, by stack and logical id: the AWS
// source records the same account and must meet these on the same ids and
// labels.
type resource struct{ stack, logical, id, label string }

var petsiteResources = []resource{
	{networkStack, "Vpc", "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0", "EC2_VPC"},
	{networkStack, "PrivateSubnetA", "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0aaaaaaaaaaaaaaa1", "EC2_Subnet"},
	{networkStack, "PrivateSubnetB", "arn:aws:ec2:us-east-1:123456789012:subnet/subnet-0bbbbbbbbbbbbbbb2", "EC2_Subnet"},
	{networkStack, "ServicesSecurityGroup", "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0ccccccccccccccc3", "EC2_SecurityGroup"},
	{appStack, "StatusUpdaterRole", "arn:aws:iam::123456789012:role/petsite-app-StatusUpdaterRole-ABC123", "IAM_Role"},
	{appStack, "StatusUpdater", "arn:aws:lambda:us-east-1:123456789012:function:petsite-statusupdater", "Lambda_Function"},
	{appStack, "AdoptionsQueue", "arn:aws:sqs:us-east-1:123456789012:petsite-adoptions", "SQS_Queue"},
	{appStack, "QueueMapping", "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:6f1e2d3c-1111-4222-8333-444455556666", "Lambda_EventSourceMapping"},
	{appStack, "AdoptionsTable", "arn:aws:dynamodb:us-east-1:123456789012:table/petsite-adoptions", "DynamoDB_Table"},
	{appStack, "NotificationsTopic", "arn:aws:sns:us-east-1:123456789012:petsite-notifications", "SNS_Topic"},
	{appStack, "QueueSubscription", "arn:aws:sns:us-east-1:123456789012:petsite-notifications:0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff", "SNS_Subscription"},
	{appStack, "ImagesBucket", "arn:aws:s3:::petsite-images-123456789012", "S3_Bucket"},
	{appStack, "AdoptionWorkflow", "arn:aws:states:us-east-1:123456789012:stateMachine:petsite-adoption", "StepFunctions_StateMachine"},
	{appStack, "AdoptionRule", "arn:aws:events:us-east-1:123456789012:rule/petsite-adoption-rule", "Events_Rule"},
	{appStack, "StatusUpdaterLogs", UnderivedID(appStack, "StatusUpdaterLogs"), "Logs_LogGroup"},
	{appStack, "DatabaseStack", dbStack, "CloudFormation_Stack"},
	{dbStack, "AdoptionsDb", "arn:aws:rds:us-east-1:123456789012:cluster:petsite-adoptions-db", "RDS_DBCluster"},
	{dbStack, "AdoptionsDbInstance", "arn:aws:rds:us-east-1:123456789012:db:petsite-adoptions-db-1", "RDS_DBInstance"},
}

// dep is a depends_on edge by logical ids, with its evidence.
type dep struct{ from, to, property, intrinsic string }

// petsiteDeps are the templates' references, by the stack that has them.
var petsiteDeps = map[string][]dep{
	networkStack: {
		{"PrivateSubnetA", "Vpc", "VpcId", "Ref"},
		{"PrivateSubnetB", "Vpc", "VpcId", "Ref"},
		{"ServicesSecurityGroup", "Vpc", "VpcId", "Fn::GetAtt"},
	},
	appStack: {
		{"StatusUpdater", "StatusUpdaterRole", "Role", "Fn::GetAtt"},
		{"StatusUpdater", "AdoptionsTable", "Environment.Variables.TABLE", "Ref"},
		{"QueueMapping", "AdoptionsQueue", "EventSourceArn", "Fn::GetAtt"},
		{"QueueMapping", "StatusUpdater", "FunctionName", "Ref"},
		{"QueueMapping", "StatusUpdaterRole", "DependsOn", "DependsOn"},
		{"QueueSubscription", "NotificationsTopic", "TopicArn", "Ref"},
		{"QueueSubscription", "AdoptionsQueue", "Endpoint", "Fn::GetAtt"},
		{"AdoptionWorkflow", "StatusUpdaterRole", "RoleArn", "Fn::GetAtt"},
		{"AdoptionWorkflow", "StatusUpdater", "DefinitionString", "Fn::Sub"},
		{"AdoptionRule", "AdoptionWorkflow", "Targets[0].Arn", "Ref"},
		{"StatusUpdaterLogs", "StatusUpdater", "LogGroupName", "Fn::Sub"},
	},
	dbStack: {
		{"AdoptionsDbInstance", "AdoptionsDb", "DBClusterIdentifier", "Ref"},
	},
}

// imp is an imports edge with its props.
type imp struct{ from, to, export, referencedBy string }

var petsiteImports = []imp{
	{appStack, networkStack, "petsite-PrivateSubnets", "StatusUpdater.VpcConfig.SubnetIds"},
	{appStack, networkStack, "petsite-ServicesSG", "StatusUpdater.VpcConfig.SecurityGroupIds[0]"},
	{appStack, networkStack, "petsite-VpcId", ""}, // ListImports says so; the template has no literal import
	{dbStack, networkStack, "petsite-ServicesSG", "AdoptionsDb.VpcSecurityGroupIds[0]"},
}

func TestPetsite(t *testing.T) {
	t.Parallel()
	r, s := replay(t, "petsite")
	bs, err := s.Discover(testContext(t), observed)
	if err != nil {
		t.Fatal(err)
	}
	if u := r.Unmatched(); len(u) > 0 {
		t.Fatalf("requests the recording does not answer: %q", u)
	}
	snaps := byScope(t, bs)
	stacks := []string{networkStack, appStack, dbStack, canaryStack, loadtestStack}
	if len(bs) != len(stacks) {
		t.Fatalf("%d snapshots; want %d, one per stack, the deleted ones included", len(bs), len(stacks))
	}
	for _, arn := range stacks {
		b := snaps[scopeOf(t, arn)]
		if b == nil {
			t.Fatalf("no snapshot of %s", arn)
		}
		checkSnapshot(t, b, arn, observed)
	}
	all := union(bs)
	vertices := map[string]edgebatch.Vertex{}
	for _, v := range all.Vertices {
		vertices[v.ID] = v
	}
	edges := edgesByKey(all)
	logical := map[string]string{} // logical id -> vertex id, for the edges below
	for _, res := range petsiteResources {
		logical[res.logical] = res.id
	}

	t.Run("every page of every list was read, and each template once", func(t *testing.T) {
		for _, c := range []struct {
			op   string
			want int
		}{
			{"DescribeStacks", 2},     // two pages
			{"ListStacks", 2},         // two pages of deleted stacks
			{"ListStackResources", 4}, // three stacks, petsite-app in two pages
			{"GetTemplate", 3},
			{"ListExports", 1},
			{"ListImports", 4}, // one per export, petsite-Unused included
		} {
			if got := r.Calls("cloudformation", c.op); got != c.want {
				t.Errorf("%s called %d times; want %d", c.op, got, c.want)
			}
		}
	})

	t.Run("each stack's snapshot holds exactly its resources, references and imports", func(t *testing.T) {
		for _, stack := range []string{networkStack, appStack, dbStack} {
			b := snaps[scopeOf(t, stack)]
			// vertex id -> whether it has props: only the stack itself
			// and its resources without an ARN do.
			wantV := map[string]bool{stack: true}
			wantE := map[edgeKey]bool{}
			ids := map[string]string{}
			for _, res := range petsiteResources {
				if res.stack == stack {
					wantV[res.id] = strings.HasPrefix(res.id, "cfn:")
					wantE[edgeKey{edgebatch.ContainsLabel, stack, res.id}] = true
					ids[res.logical] = res.id
				}
			}
			for _, d := range petsiteDeps[stack] {
				wantE[edgeKey{edgebatch.DependsOnLabel, ids[d.from], ids[d.to]}] = true
			}
			for _, i := range petsiteImports {
				if i.from == stack {
					wantV[i.to] = false // the exporter, described in its own snapshot
					wantE[edgeKey{edgebatch.ImportsLabel, i.from, i.to}] = true
				}
			}
			if len(b.Vertices) != len(wantV) {
				t.Errorf("%s: %d vertices; want %d", stack, len(b.Vertices), len(wantV))
			}
			for _, v := range b.Vertices {
				hasProps, ok := wantV[v.ID]
				if !ok {
					t.Errorf("%s: unexpected vertex %s", stack, v.ID)
				} else if hasProps != (len(v.Props) > 0) {
					t.Errorf("%s: vertex %s has props %v; want props: %v", stack, v.ID, v.Props, hasProps)
				}
			}
			got := edgesByKey(b)
			for k := range got {
				if !wantE[k] {
					t.Errorf("%s: unexpected edge %+v", stack, k)
				}
			}
			for k := range wantE {
				if got[k] == nil {
					t.Errorf("%s: missing edge %+v", stack, k)
				}
			}
		}
	})

	t.Run("a deleted stack's snapshot is empty", func(t *testing.T) {
		for _, arn := range []string{canaryStack, loadtestStack} {
			if b := snaps[scopeOf(t, arn)]; len(b.Vertices) != 0 || len(b.Edges) != 0 {
				t.Errorf("%s: %d vertices, %d edges; want none", arn, len(b.Vertices), len(b.Edges))
			}
		}
	})

	t.Run("every resource is one vertex with the inventory's id and label, contained by its stack", func(t *testing.T) {
		for _, res := range petsiteResources {
			v, ok := vertices[res.id]
			if !ok {
				t.Errorf("%s: no vertex %s", res.logical, res.id)
				continue
			}
			if v.Label != res.label {
				t.Errorf("%s: label %s; want %s", res.logical, v.Label, res.label)
			}
			c := edges[edgeKey{edgebatch.ContainsLabel, res.stack, res.id}]
			if len(c) != 1 || c[0].Props["logical_id"] != res.logical || c[0].ID != edgebatch.EdgeID(edgebatch.ContainsLabel, res.stack, res.id) {
				t.Errorf("%s: contains edges from its stack %+v; want one with logical_id %s", res.logical, c, res.logical)
			}
		}
		if want := len(petsiteResources) + 2; len(vertices) != want { // the nested stack is among the resources; plus the two top-level stacks
			t.Errorf("%d vertices; want %d", len(vertices), want)
		}
	})

	t.Run("a resource without a derivable ARN has the cfn: id and says what it is", func(t *testing.T) {
		logGroup := UnderivedID(appStack, "StatusUpdaterLogs")
		v := vertices[logGroup]
		if !strings.HasPrefix(v.ID, "cfn:"+appStack+"/") || v.Props["physical_id"] != "/aws/lambda/petsite-statusupdater" || v.Props["logical_id"] != "StatusUpdaterLogs" {
			t.Errorf("log group vertex %+v", v)
		}
		if _, derivable := awsarn.FromPhysicalID(awsarn.NewAccount("123456789012", "us-east-1"), "AWS::Logs::LogGroup", "/aws/lambda/x"); derivable {
			t.Error("awsarn now derives log group ARNs; the inventory says it does not")
		}
	})

	t.Run("stacks are vertices, the nested one with its parent and root, each described in its own snapshot", func(t *testing.T) {
		for arn, want := range map[string]map[string]any{
			networkStack: {"name": "petsite-network", "status": "CREATE_COMPLETE"},
			appStack:     {"name": "petsite-app", "status": "UPDATE_COMPLETE"},
			dbStack:      {"name": "petsite-app-DatabaseStack-1ABCDEF", "status": "UPDATE_COMPLETE", "parent": appStack, "root": appStack},
		} {
			var v edgebatch.Vertex
			for _, x := range snaps[scopeOf(t, arn)].Vertices {
				if x.ID == arn {
					v = x
				}
			}
			if v.Label != edgebatch.StackLabel || len(v.Props) != len(want) {
				t.Errorf("stack %s: %+v; want label %s, props %v", arn, v, edgebatch.StackLabel, want)
				continue
			}
			for k, val := range want {
				if v.Props[k] != val {
					t.Errorf("stack %s: %s = %v; want %v", arn, k, v.Props[k], val)
				}
			}
		}
	})

	t.Run("depends_on edges are exactly the template's references, with their evidence", func(t *testing.T) {
		want := map[dep]bool{}
		for _, deps := range petsiteDeps {
			for _, d := range deps {
				want[d] = true
			}
		}
		byID := map[string]string{}
		for l, id := range logical {
			byID[id] = l
		}
		got := map[dep]bool{}
		for _, e := range all.Edges {
			if e.Label != edgebatch.DependsOnLabel {
				continue
			}
			d := dep{byID[e.From], byID[e.To], e.Props["property"].(string), e.Props["intrinsic"].(string)}
			if got[d] {
				t.Errorf("%+v twice", d)
			}
			got[d] = true
			if key := d.intrinsic + "@" + d.property; e.ID != edgebatch.EdgeIDWithKey(edgebatch.DependsOnLabel, e.From, e.To, key) {
				t.Errorf("%+v has id %s; want the key %s", d, e.ID, key)
			}
			if !want[d] {
				t.Errorf("unexpected depends_on %+v", d)
			}
		}
		for d := range want {
			if !got[d] {
				t.Errorf("missing depends_on %+v", d)
			}
		}
	})

	t.Run("imports edges follow ListImports, keyed by export, and none for the unused export", func(t *testing.T) {
		want := map[imp]bool{}
		for _, i := range petsiteImports {
			want[i] = true
		}
		got := map[imp]bool{}
		for _, e := range all.Edges {
			if e.Label != edgebatch.ImportsLabel {
				continue
			}
			ref, _ := e.Props["referenced_by"].(string)
			i := imp{e.From, e.To, e.Props["export"].(string), ref}
			got[i] = true
			if e.ID != edgebatch.EdgeIDWithKey(edgebatch.ImportsLabel, e.From, e.To, i.export) {
				t.Errorf("%+v has id %s", i, e.ID)
			}
			if !want[i] {
				t.Errorf("unexpected imports %+v", i)
			}
		}
		for i := range want {
			if !got[i] {
				t.Errorf("missing imports %+v", i)
			}
		}
	})

	t.Run("the nested stack is contained by its parent, in the parent's snapshot", func(t *testing.T) {
		if len(edgesByKey(snaps[scopeOf(t, appStack)])[edgeKey{edgebatch.ContainsLabel, appStack, dbStack}]) != 1 {
			t.Error("no contains edge petsite-app -> its nested stack in petsite-app's snapshot")
		}
		for _, v := range snaps[scopeOf(t, dbStack)].Vertices {
			if v.ID == appStack {
				t.Error("the nested stack's snapshot has its parent although the parent's resources show it")
			}
		}
	})

	t.Run("the same recording gives the same snapshots", func(t *testing.T) {
		_, s2 := replay(t, "petsite")
		again, err := s2.Discover(testContext(t), observed)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(again, bs) {
			t.Fatal("a second discovery differs")
		}
	})
}

// Deleted stacks get their empty snapshot in every scan until a scan more
// than an hour after their deletion returned: all of them on the process's
// first scan, then only those deleted since the previous scan, less an hour.
func TestDeletedStacksGetAnEmptySnapshotUntilAScanAnHourLater(t *testing.T) {
	t.Parallel()
	r, s := replay(t, "petsite")
	for _, run := range []struct {
		at   time.Time
		want []string
	}{
		{observed, []string{canaryStack, loadtestStack}},          // the first scan: every deleted stack
		{observed.Add(15 * time.Minute), []string{loadtestStack}}, // deleted 09:40, after 10:05 less an hour
		{observed.Add(45 * time.Minute), []string{loadtestStack}}, // after 10:20 less an hour
		{observed.Add(60 * time.Minute), nil},                     // not after 10:50 less an hour
		{observed.Add(30 * time.Minute), nil},                     // an earlier time does not move the bound back
		{observed.Add(90 * time.Minute), nil},
	} {
		bs, err := s.Discover(testContext(t), run.at)
		if err != nil {
			t.Fatal(err)
		}
		var deleted []string
		for _, b := range bs {
			checkSnapshot(t, b, stackOfScope(b.Snapshot.Scope), run.at)
			if len(b.Vertices) == 0 {
				deleted = append(deleted, stackOfScope(b.Snapshot.Scope))
			}
		}
		if len(bs) != 3+len(run.want) || !slices.Equal(deleted, run.want) {
			t.Errorf("scan at %s: %d snapshots, deleted stacks %q; want the 3 live stacks and %q", run.at.Format(time.TimeOnly), len(bs), deleted, run.want)
		}
	}
	if u := r.Unmatched(); len(u) > 0 {
		t.Fatalf("requests the recording does not answer: %q", u)
	}
}

// stackOfScope is the petsite stack whose scope is scope.
func stackOfScope(scope string) string {
	for _, arn := range []string{networkStack, appStack, dbStack, canaryStack, loadtestStack} {
		if s, _ := StackScope(arn); s == scope {
			return arn
		}
	}
	return "unknown stack of scope " + scope
}

// A triggered rediscovery of a stack gives the very snapshot a full scan
// gives of it, nested stacks included.
func TestDiscoverStackIsTheScansSnapshotOfTheStack(t *testing.T) {
	t.Parallel()
	for _, recording := range []string{"petsite", "petsite-updated"} {
		_, full := replay(t, recording)
		bs, err := full.Discover(testContext(t), observed)
		if err != nil {
			t.Fatal(err)
		}
		scan := byScope(t, bs)
		for _, stack := range []string{networkStack, appStack, dbStack} {
			r, s := replay(t, recording)
			b, err := s.DiscoverStack(testContext(t), stack, observed)
			if err != nil {
				t.Fatalf("%s, %s: %v", recording, stack, err)
			}
			if u := r.Unmatched(); len(u) > 0 {
				t.Fatalf("%s: requests the recording does not answer: %q", recording, u)
			}
			checkSnapshot(t, b, stack, observed)
			if want := scan[scopeOf(t, stack)]; !reflect.DeepEqual(b, want) {
				t.Errorf("%s, %s: DiscoverStack differs from the scan's snapshot\n got %+v\nwant %+v", recording, stack, b, want)
			}
			if n := r.Calls("cloudformation", "ListStacks"); n != 0 {
				t.Errorf("%s, %s: ListStacks called %d times; a stack's rediscovery has no use for it", recording, stack, n)
			}
			if n := r.Calls("cloudformation", "GetTemplate"); n != 1 {
				t.Errorf("%s, %s: GetTemplate called %d times; want once, for the stack", recording, stack, n)
			}
			wantDescribe := 1
			if stack == dbStack {
				wantDescribe = 2 // and its parent, whose resources tell where the contains edge goes
			}
			if n := r.Calls("cloudformation", "DescribeStacks"); n != wantDescribe {
				t.Errorf("%s, %s: DescribeStacks called %d times; want %d", recording, stack, n, wantDescribe)
			}
		}
	}
}

// petsite-updated is petsite after an update of petsite-app: the event
// source mapping removed, a dead-letter queue added and named by the
// adoptions queue's redrive policy. The other stacks are as they were.
func TestPetsiteUpdated(t *testing.T) {
	t.Parallel()
	_, before := replay(t, "petsite")
	_, after := replay(t, "petsite-updated")
	b1, err := before.Discover(testContext(t), observed)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := after.Discover(testContext(t), observed)
	if err != nil {
		t.Fatal(err)
	}
	s1, s2 := byScope(t, b1), byScope(t, b2)
	if len(s1) != len(s2) {
		t.Fatalf("%d snapshots before, %d after", len(s1), len(s2))
	}
	for scope, b := range s1 {
		if scope != scopeOf(t, appStack) && !reflect.DeepEqual(b, s2[scope]) {
			t.Errorf("%s changed; only petsite-app was updated", scope)
		}
	}
	ids := func(b *edgebatch.Batch) map[string]bool {
		m := map[string]bool{}
		for _, v := range b.Vertices {
			m[v.ID] = true
		}
		for _, e := range b.Edges {
			m[e.ID] = true
		}
		return m
	}
	old, upd := ids(s1[scopeOf(t, appStack)]), ids(s2[scopeOf(t, appStack)])
	var removed, added []string
	for id := range old {
		if !upd[id] {
			removed = append(removed, id)
		}
	}
	for id := range upd {
		if !old[id] {
			added = append(added, id)
		}
	}
	const (
		mapping = "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:6f1e2d3c-1111-4222-8333-444455556666"
		queue   = "arn:aws:sqs:us-east-1:123456789012:petsite-adoptions"
		dlq     = "arn:aws:sqs:us-east-1:123456789012:petsite-adoptions-dlq"
		fn      = "arn:aws:lambda:us-east-1:123456789012:function:petsite-statusupdater"
		role    = "arn:aws:iam::123456789012:role/petsite-app-StatusUpdaterRole-ABC123"
	)
	wantRemoved := []string{
		mapping,
		edgebatch.EdgeID(edgebatch.ContainsLabel, appStack, mapping),
		edgebatch.EdgeIDWithKey(edgebatch.DependsOnLabel, mapping, queue, "Fn::GetAtt@EventSourceArn"),
		edgebatch.EdgeIDWithKey(edgebatch.DependsOnLabel, mapping, fn, "Ref@FunctionName"),
		edgebatch.EdgeIDWithKey(edgebatch.DependsOnLabel, mapping, role, "DependsOn@DependsOn"),
	}
	wantAdded := []string{
		dlq,
		edgebatch.EdgeID(edgebatch.ContainsLabel, appStack, dlq),
		edgebatch.EdgeIDWithKey(edgebatch.DependsOnLabel, queue, dlq, "Fn::GetAtt@RedrivePolicy.deadLetterTargetArn"),
	}
	slices.Sort(removed)
	slices.Sort(added)
	slices.Sort(wantRemoved)
	slices.Sort(wantAdded)
	if !slices.Equal(removed, wantRemoved) || !slices.Equal(added, wantAdded) {
		t.Errorf("petsite-app's snapshot: removed %q, added %q; want removed %q, added %q", removed, added, wantRemoved, wantAdded)
	}
}

// A stack CloudFormation answers as DELETE_COMPLETE, or does not know, gives
// the empty snapshot of its scope, after no more calls than it takes to
// learn that.
func TestDiscoverStackOfAGoneStackIsItsEmptySnapshot(t *testing.T) {
	t.Parallel()
	const gone = "arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-gone/1a2b3c4d-0000-4000-8000-000000000006"
	for _, stack := range []string{appStack, gone} {
		r, s := replay(t, "petsite-deleted")
		b, err := s.DiscoverStack(testContext(t), stack, observed)
		if err != nil {
			t.Fatalf("%s: %v", stack, err)
		}
		if u := r.Unmatched(); len(u) > 0 {
			t.Fatalf("%s: requests the recording does not answer: %q", stack, u)
		}
		checkSnapshot(t, b, stack, observed)
		if len(b.Vertices) != 0 || len(b.Edges) != 0 {
			t.Errorf("%s: %d vertices, %d edges; want an empty snapshot", stack, len(b.Vertices), len(b.Edges))
		}
		if n := r.Calls("cloudformation", "DescribeStacks"); n != 1 {
			t.Errorf("%s: DescribeStacks called %d times; want 1", stack, n)
		}
	}
}

func TestDiscoverStackRefusesWhatThisSourceDoesNotDiscover(t *testing.T) {
	t.Parallel()
	t.Run("a region without a client", func(t *testing.T) {
		r, s := replay(t, "petsite")
		_, err := s.DiscoverStack(testContext(t), "arn:aws:cloudformation:us-west-2:123456789012:stack/petsite-app/1a2b3c4d-0000-4000-8000-000000000009", observed)
		if !errors.Is(err, ErrRegionNotConfigured) || !strings.Contains(err.Error(), "us-west-2") {
			t.Fatalf("error %v; want ErrRegionNotConfigured naming us-west-2", err)
		}
		if n := r.Calls("sts", "GetCallerIdentity"); n != 0 {
			t.Errorf("GetCallerIdentity called %d times", n)
		}
	})
	t.Run("another account", func(t *testing.T) {
		r, s := replay(t, "petsite")
		_, err := s.DiscoverStack(testContext(t), "arn:aws:cloudformation:us-east-1:210987654321:stack/petsite-app/1a2b3c4d-0000-4000-8000-000000000002", observed)
		if !errors.Is(err, ErrOtherAccount) || !strings.Contains(err.Error(), "210987654321") {
			t.Fatalf("error %v; want ErrOtherAccount naming the stack's account", err)
		}
		if n := r.Calls("cloudformation", "DescribeStacks"); n != 0 {
			t.Errorf("DescribeStacks called %d times for another account's stack", n)
		}
	})
	t.Run("not a stack ARN", func(t *testing.T) {
		_, s := replay(t, "petsite")
		_, err := s.DiscoverStack(testContext(t), "petsite-app", observed)
		if err == nil || errors.Is(err, ErrRegionNotConfigured) || errors.Is(err, ErrOtherAccount) {
			t.Fatalf("error %v; want a malformed ARN", err)
		}
	})
}

func TestDiscoverStackFailureNamesTheOperationStackAndCode(t *testing.T) {
	t.Parallel()
	r, s := replay(t, "denied")
	b, err := s.DiscoverStack(testContext(t), appStack, observed)
	if err == nil || b != nil {
		t.Fatalf("batch %v, error %v; want only an error", b, err)
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Op != "cloudformation:GetTemplate" || ae.Code != "AccessDenied" || !strings.HasPrefix(ae.Stack, "petsite-app (") {
		t.Fatalf("error %v; want an APIError for GetTemplate of petsite-app with code AccessDenied", err)
	}
	var se smithy.APIError
	if !errors.As(err, &se) || se.ErrorCode() != "AccessDenied" {
		t.Errorf("error %v does not unwrap to the API's error", err)
	}
	if n := r.Calls("cloudformation", "ListExports"); n != 0 {
		t.Errorf("ListExports called %d times after the snapshot was already lost", n)
	}
}

func TestStackScope(t *testing.T) {
	t.Parallel()
	for arn, want := range map[string]string{
		appStack: "cloudformation/123456789012/us-east-1/petsite-app/1a2b3c4d-0000-4000-8000-000000000002",
		"arn:aws-cn:cloudformation:cn-north-1:123456789012:stack/a-b/9f0e": "cloudformation/123456789012/cn-north-1/a-b/9f0e",
	} {
		got, err := StackScope(arn)
		if err != nil || got != want {
			t.Errorf("StackScope(%q) = %q, %v; want %q", arn, got, err, want)
		}
	}
	for _, arn := range []string{
		"",
		"petsite-app",
		"arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-app",
		"arn:aws:cloudformation:us-east-1:123456789012:stack/petsite-app/uuid/extra",
		"arn:aws:cloudformation:us-east-1:123456789012:stack//uuid",
		"arn:aws:cloudformation:us-east-1:123456789012:stackset/petsite:uuid",
		"arn:aws:cloudformation:us-east-1:123456789012:changeSet/cs/uuid",
		"arn:aws:sqs:us-east-1:123456789012:stack/petsite-app/uuid",
		"arn:aws:cloudformation::123456789012:stack/petsite-app/uuid",
		"arn:aws:cloudformation:us-east-1::stack/petsite-app/uuid",
		"arn::cloudformation:us-east-1:123456789012:stack/petsite-app/uuid",
	} {
		if got, err := StackScope(arn); err == nil {
			t.Errorf("StackScope(%q) = %q; want an error", arn, got)
		}
	}
}

// When a parent's resource list does not show its nested stack (the parent
// being updated), the contains edge comes with the nested stack's snapshot,
// with the parent's vertex; otherwise with the parent's.
func TestTheParentContainsEdgeOfANestedStackTheParentDoesNotShow(t *testing.T) {
	t.Parallel()
	parent := &stack{arn: appStack, name: "petsite-app", status: "UPDATE_IN_PROGRESS"}
	nested := &stack{arn: dbStack, name: "petsite-app-DatabaseStack-1ABCDEF", status: "CREATE_COMPLETE", parent: appStack, root: appStack}
	r := &regionScan{acct: awsarn.NewAccount("123456789012", "us-east-1"), stacks: []*stack{parent, nested},
		known: map[string]*stack{appStack: parent, dbStack: nested}}
	st := &stats{}
	containsEdge := edgebatch.EdgeID(edgebatch.ContainsLabel, appStack, dbStack)
	has := func(g *graph, id string) bool { return g.edges[id] != nil || g.vertices[id] != nil }

	if g := r.build(parent, st); has(g, containsEdge) || has(g, dbStack) {
		t.Error("the parent's snapshot has the nested stack its resources do not show")
	}
	g := r.build(nested, st)
	if !has(g, containsEdge) || g.edges[containsEdge].Props != nil {
		t.Errorf("the nested stack's snapshot has no contains edge from its parent (or one with props): %+v", g.edges[containsEdge])
	}
	if v := g.vertices[appStack]; v == nil || v.Props != nil || v.Label != edgebatch.StackLabel {
		t.Errorf("the nested stack's snapshot has parent vertex %+v; want one without props", v)
	}
	if _, err := stackSnapshot(dbStack, observed, g); err != nil {
		t.Errorf("the nested stack's snapshot is not valid: %v", err)
	}

	// Once the parent shows it again, the edge is back in the parent's.
	parent.resources = []types.StackResourceSummary{{
		LogicalResourceId: aws.String("DatabaseStack"), PhysicalResourceId: aws.String(dbStack),
		ResourceType: aws.String("AWS::CloudFormation::Stack"), ResourceStatus: types.ResourceStatusUpdateComplete,
	}}
	if g := r.build(nested, st); has(g, containsEdge) || has(g, appStack) {
		t.Error("the nested stack's snapshot still has the edge its parent's snapshot has")
	}
	if g := r.build(parent, st); !has(g, containsEdge) || g.vertices[dbStack].Props != nil {
		t.Error("the parent's snapshot lacks the contains edge to its nested stack, or describes it")
	}
}

func TestAThrottledCallIsRetriedAndTheSnapshotsAreComplete(t *testing.T) {
	t.Parallel()
	r, s := replay(t, "throttled")
	bs, st, err := s.discoverRegion(testContext(t), s.clients["us-east-1"], observed)
	if err != nil {
		t.Fatal(err)
	}
	if u := r.Unmatched(); len(u) > 0 {
		t.Fatalf("requests the recording does not answer (billing has no resource to read a template for): %q", u)
	}
	if n := r.Calls("cloudformation", "ListImports"); n != 2 {
		t.Errorf("ListImports called %d times; want 2 (Throttling, then the answer)", n)
	}
	const (
		orders    = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders/0f9e8d7c-0000-4000-8000-0000000000a1"
		billing   = "arn:aws:cloudformation:us-east-1:123456789012:stack/billing/0f9e8d7c-0000-4000-8000-0000000000b2"
		ordersOld = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders-old/0f9e8d7c-0000-4000-8000-0000000000c3"
	)
	snaps := byScope(t, bs)
	for _, arn := range []string{orders, billing, ordersOld} {
		if snaps[scopeOf(t, arn)] == nil {
			t.Fatalf("no snapshot of %s", arn)
		}
		checkSnapshot(t, snaps[scopeOf(t, arn)], arn, observed)
	}
	if len(bs) != 3 {
		t.Errorf("%d snapshots; want 3", len(bs))
	}
	if old := snaps[scopeOf(t, ordersOld)]; len(old.Vertices)+len(old.Edges) != 0 {
		t.Errorf("the deleted orders-old has %d vertices, %d edges; want an empty snapshot", len(old.Vertices), len(old.Edges))
	}
	all := union(bs)
	edges := edgesByKey(all)
	if e := edges[edgeKey{edgebatch.ImportsLabel, billing, orders}]; len(e) != 1 || e[0].Props["export"] != "orders-QueueUrl" {
		t.Errorf("imports billing -> orders: %+v", e)
	}
	if n := len(edgesByKey(snaps[scopeOf(t, billing)])[edgeKey{edgebatch.ImportsLabel, billing, orders}]); n != 1 {
		t.Error("the imports edge is not in the importer's snapshot")
	}
	ids := map[string]bool{}
	for _, v := range all.Vertices {
		ids[v.ID] = true
	}
	if !ids["arn:aws:iam::123456789012:role/service-role/orders-OrdersRole-1Q2W3E4R"] {
		t.Error("the role's ARN does not carry the path its template takes from the RolePath parameter")
	}
	for _, gone := range []string{ordersOld, "arn:aws:sns:us-east-1:123456789012:orders-old-topic"} {
		if ids[gone] {
			t.Errorf("%s is deleted but has a vertex", gone)
		}
	}
	if len(all.Vertices) != 4 { // two stacks, the queue, the role
		t.Errorf("%d vertices; want 4: %+v", len(all.Vertices), all.Vertices)
	}
	// OrdersWorker (being created), BillingConsumer (being created),
	// OldTopic (deleted); OrdersWorker's two references have no vertex to
	// start from.
	if st.pending != 3 || st.danglingEdges != 2 || st.rolePathUnknown != 0 || st.deleted != 1 {
		t.Errorf("stats %+v; want 3 pending resources, 2 dangling references, every role path known, 1 deleted stack", st)
	}
}

func TestAccessDeniedFailsTheRegionAndNamesTheStackAndCode(t *testing.T) {
	t.Parallel()
	r, s := replay(t, "denied")
	bs, err := s.Discover(testContext(t), observed)
	if err == nil {
		t.Fatal("no error")
	}
	if len(bs) != 0 {
		t.Fatalf("%d batches from a failed region", len(bs))
	}
	var ae *APIError
	if !errors.As(err, &ae) || ae.Op != "cloudformation:GetTemplate" || ae.Code != "AccessDenied" || !strings.HasPrefix(ae.Stack, "petsite-app (") {
		t.Fatalf("error %v; want an APIError for GetTemplate of petsite-app with code AccessDenied", err)
	}
	for _, want := range []string{"region us-east-1", "GetTemplate", "petsite-app", "AccessDenied"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if n := r.Calls("cloudformation", "GetTemplate"); n != 1 {
		t.Errorf("GetTemplate called %d times; access denied is not worth retrying", n)
	}
	if n := r.Calls("cloudformation", "ListExports"); n != 0 {
		t.Errorf("ListExports called %d times after the snapshot was already lost", n)
	}
	if _, first := s.deletedSince("us-east-1"); !first {
		t.Error("a failed scan counts as the region's previous scan: deleted stacks it never returned would be skipped")
	}
}

func TestAnAccountWithoutStacksHasNoSnapshot(t *testing.T) {
	t.Parallel()
	r, s := replay(t, "empty")
	bs, err := s.Discover(testContext(t), observed)
	if err != nil {
		t.Fatal(err)
	}
	if u := r.Unmatched(); len(u) > 0 {
		t.Fatalf("requests the recording does not answer: %q", u)
	}
	if len(bs) != 0 {
		t.Fatalf("batches %+v; want none: there is no stack to have a snapshot of", bs)
	}
}

func TestOnlyNotImportedIsNotAnError(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err  error
		want bool
	}{
		{&smithy.GenericAPIError{Code: "ValidationError", Message: "Export 'petsite-Unused' is not imported by any stack."}, true},
		{&smithy.GenericAPIError{Code: "ValidationError", Message: "Export 'x' does not exist."}, false},
		{&smithy.GenericAPIError{Code: "Throttling", Message: "Rate exceeded"}, false},
		{&smithy.GenericAPIError{Code: "AccessDenied", Message: "is not imported by any stack"}, false},
		{context.Canceled, false},
		{nil, false},
	}
	for _, c := range cases {
		if got := notImported(c.err); got != c.want {
			t.Errorf("notImported(%v) = %v; want %v", c.err, got, c.want)
		}
	}
}

// The package doc lists the types whose ARN is derived; it must list
// exactly awsarn's.
func TestThePackageDocListsTheDerivableTypes(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		if rest, ok := strings.CutPrefix(line, "//\tAWS::"); ok {
			typ, _, _ := strings.Cut(rest, " ")
			listed["AWS::"+typ] = true
		}
	}
	for _, typ := range awsarn.DerivableTypes() {
		if !listed[typ] {
			t.Errorf("doc.go does not list %s", typ)
		}
		delete(listed, typ)
	}
	for typ := range listed {
		t.Errorf("doc.go lists %s, which awsarn does not derive", typ)
	}
}
