package cloudformation

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

// checkSnapshot checks what every snapshot of the recorded account has.
func checkSnapshot(t *testing.T, b *edgebatch.Batch) {
	t.Helper()
	if err := edgebatch.Validate(b); err != nil {
		t.Fatalf("the snapshot is not a valid batch: %v", err)
	}
	const scope = "cloudformation/123456789012/us-east-1"
	if b.Source != "cloudformation" || b.V != edgebatch.Version || !b.ObservedAt.Equal(observed) || b.Snapshot == nil ||
		b.Snapshot.Scope != scope || b.Snapshot.ID != scope+"/2026-11-21T10:05:00Z" {
		t.Fatalf("batch header: source %q v %d observed %v snapshot %+v", b.Source, b.V, b.ObservedAt, b.Snapshot)
	}
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
	if len(bs) != 1 {
		t.Fatalf("%d batches; want 1", len(bs))
	}
	b := bs[0]
	checkSnapshot(t, b)
	vertices := map[string]edgebatch.Vertex{}
	for _, v := range b.Vertices {
		vertices[v.ID] = v
	}
	edges := edgesByKey(b)

	t.Run("every page of every list was read, and each template once", func(t *testing.T) {
		for _, c := range []struct {
			op   string
			want int
		}{
			{"DescribeStacks", 2},     // two pages
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

	// The inventory's resources, by stack and logical id: the AWS source
	// records the same account and must meet these on the same ids and
	// labels.
	type resource struct{ stack, logical, id, label string }
	logGroup := UnderivedID(appStack, "StatusUpdaterLogs")
	resources := []resource{
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
		{appStack, "StatusUpdaterLogs", logGroup, "Logs_LogGroup"},
		{appStack, "DatabaseStack", dbStack, "CloudFormation_Stack"},
		{dbStack, "AdoptionsDb", "arn:aws:rds:us-east-1:123456789012:cluster:petsite-adoptions-db", "RDS_DBCluster"},
		{dbStack, "AdoptionsDbInstance", "arn:aws:rds:us-east-1:123456789012:db:petsite-adoptions-db-1", "RDS_DBInstance"},
	}
	logical := map[string]string{} // logical id -> vertex id, for the edges below
	for _, res := range resources {
		logical[res.logical] = res.id
	}

	t.Run("every resource is one vertex with the inventory's id and label, contained by its stack", func(t *testing.T) {
		for _, res := range resources {
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
		if want := len(resources) + 2; len(vertices) != want { // the nested stack is among the resources; plus the two top-level stacks
			t.Errorf("%d vertices; want %d", len(vertices), want)
		}
	})

	t.Run("a resource without a derivable ARN has the cfn: id and says what it is", func(t *testing.T) {
		v := vertices[logGroup]
		if !strings.HasPrefix(v.ID, "cfn:"+appStack+"/") || v.Props["physical_id"] != "/aws/lambda/petsite-statusupdater" || v.Props["logical_id"] != "StatusUpdaterLogs" {
			t.Errorf("log group vertex %+v", v)
		}
		if _, derivable := awsarn.FromPhysicalID(awsarn.NewAccount("123456789012", "us-east-1"), "AWS::Logs::LogGroup", "/aws/lambda/x"); derivable {
			t.Error("awsarn now derives log group ARNs; the inventory says it does not")
		}
	})

	t.Run("stacks are vertices, the nested one with its parent and root", func(t *testing.T) {
		for arn, want := range map[string]map[string]any{
			networkStack: {"name": "petsite-network", "status": "CREATE_COMPLETE"},
			appStack:     {"name": "petsite-app", "status": "UPDATE_COMPLETE"},
			dbStack:      {"name": "petsite-app-DatabaseStack-1ABCDEF", "status": "UPDATE_COMPLETE", "parent": appStack, "root": appStack},
		} {
			v := vertices[arn]
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
		type dep struct{ from, to, property, intrinsic string }
		want := map[dep]bool{
			{"PrivateSubnetA", "Vpc", "VpcId", "Ref"}:                                 true,
			{"PrivateSubnetB", "Vpc", "VpcId", "Ref"}:                                 true,
			{"ServicesSecurityGroup", "Vpc", "VpcId", "Fn::GetAtt"}:                   true,
			{"StatusUpdater", "StatusUpdaterRole", "Role", "Fn::GetAtt"}:              true,
			{"StatusUpdater", "AdoptionsTable", "Environment.Variables.TABLE", "Ref"}: true,
			{"QueueMapping", "AdoptionsQueue", "EventSourceArn", "Fn::GetAtt"}:        true,
			{"QueueMapping", "StatusUpdater", "FunctionName", "Ref"}:                  true,
			{"QueueMapping", "StatusUpdaterRole", "DependsOn", "DependsOn"}:           true,
			{"QueueSubscription", "NotificationsTopic", "TopicArn", "Ref"}:            true,
			{"QueueSubscription", "AdoptionsQueue", "Endpoint", "Fn::GetAtt"}:         true,
			{"AdoptionWorkflow", "StatusUpdaterRole", "RoleArn", "Fn::GetAtt"}:        true,
			{"AdoptionWorkflow", "StatusUpdater", "DefinitionString", "Fn::Sub"}:      true,
			{"AdoptionRule", "AdoptionWorkflow", "Targets[0].Arn", "Ref"}:             true,
			{"StatusUpdaterLogs", "StatusUpdater", "LogGroupName", "Fn::Sub"}:         true,
			{"AdoptionsDbInstance", "AdoptionsDb", "DBClusterIdentifier", "Ref"}:      true,
		}
		byID := map[string]string{}
		for l, id := range logical {
			byID[id] = l
		}
		got := map[dep]bool{}
		for _, e := range b.Edges {
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
		type imp struct{ from, to, export, referencedBy string }
		want := map[imp]bool{
			{appStack, networkStack, "petsite-PrivateSubnets", "StatusUpdater.VpcConfig.SubnetIds"}:       true,
			{appStack, networkStack, "petsite-ServicesSG", "StatusUpdater.VpcConfig.SecurityGroupIds[0]"}: true,
			{appStack, networkStack, "petsite-VpcId", ""}:                                                 true, // ListImports says so; the template has no literal import
			{dbStack, networkStack, "petsite-ServicesSG", "AdoptionsDb.VpcSecurityGroupIds[0]"}:           true,
		}
		got := map[imp]bool{}
		for _, e := range b.Edges {
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

	t.Run("the nested stack is contained by its parent", func(t *testing.T) {
		if len(edges[edgeKey{edgebatch.ContainsLabel, appStack, dbStack}]) != 1 {
			t.Error("no contains edge petsite-app -> its nested stack")
		}
	})

	t.Run("the same recording gives the same batch", func(t *testing.T) {
		_, s2 := replay(t, "petsite")
		again, err := s2.Discover(testContext(t), observed)
		if err != nil {
			t.Fatal(err)
		}
		if len(again[0].Edges) != len(b.Edges) || len(again[0].Vertices) != len(b.Vertices) {
			t.Fatal("a second discovery differs in size")
		}
		for i := range b.Edges {
			if again[0].Edges[i].ID != b.Edges[i].ID {
				t.Fatalf("edge %d: %s, then %s", i, b.Edges[i].ID, again[0].Edges[i].ID)
			}
		}
	})
}

func TestAThrottledCallIsRetriedAndTheSnapshotIsComplete(t *testing.T) {
	t.Parallel()
	r, s := replay(t, "throttled")
	b, st, err := s.discoverRegion(testContext(t), s.clients["us-east-1"], observed)
	if err != nil {
		t.Fatal(err)
	}
	if u := r.Unmatched(); len(u) > 0 {
		t.Fatalf("requests the recording does not answer (orders-old is deleted; billing has no resource to read a template for): %q", u)
	}
	checkSnapshot(t, b)
	if n := r.Calls("cloudformation", "ListImports"); n != 2 {
		t.Errorf("ListImports called %d times; want 2 (Throttling, then the answer)", n)
	}
	const (
		orders  = "arn:aws:cloudformation:us-east-1:123456789012:stack/orders/0f9e8d7c-0000-4000-8000-0000000000a1"
		billing = "arn:aws:cloudformation:us-east-1:123456789012:stack/billing/0f9e8d7c-0000-4000-8000-0000000000b2"
	)
	edges := edgesByKey(b)
	if e := edges[edgeKey{edgebatch.ImportsLabel, billing, orders}]; len(e) != 1 || e[0].Props["export"] != "orders-QueueUrl" {
		t.Errorf("imports billing -> orders: %+v", e)
	}
	ids := map[string]bool{}
	for _, v := range b.Vertices {
		ids[v.ID] = true
	}
	if !ids["arn:aws:iam::123456789012:role/service-role/orders-OrdersRole-1Q2W3E4R"] {
		t.Error("the role's ARN does not carry the path its template takes from the RolePath parameter")
	}
	for _, gone := range []string{
		"arn:aws:cloudformation:us-east-1:123456789012:stack/orders-old/0f9e8d7c-0000-4000-8000-0000000000c3",
		"arn:aws:sns:us-east-1:123456789012:orders-old-topic",
	} {
		if ids[gone] {
			t.Errorf("%s is deleted but has a vertex", gone)
		}
	}
	if len(b.Vertices) != 4 { // two stacks, the queue, the role
		t.Errorf("%d vertices; want 4: %+v", len(b.Vertices), b.Vertices)
	}
	// OrdersWorker (being created), BillingConsumer (being created),
	// OldTopic (deleted); OrdersWorker's two references have no vertex to
	// start from.
	if st.pending != 3 || st.danglingEdges != 2 || st.rolePathUnknown != 0 {
		t.Errorf("stats %+v; want 3 pending resources, 2 dangling references, every role path known", st)
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
}

func TestAnAccountWithoutStacksIsAValidEmptySnapshot(t *testing.T) {
	t.Parallel()
	r, s := replay(t, "empty")
	bs, err := s.Discover(testContext(t), observed)
	if err != nil {
		t.Fatal(err)
	}
	if u := r.Unmatched(); len(u) > 0 {
		t.Fatalf("requests the recording does not answer: %q", u)
	}
	if len(bs) != 1 || len(bs[0].Vertices) != 0 || len(bs[0].Edges) != 0 {
		t.Fatalf("batches %+v; want one empty snapshot", bs)
	}
	checkSnapshot(t, bs[0])
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
