package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
)

// sdkOp is one AWS SDK operation the product's code uses.
type sdkOp struct {
	Service, Op string // the SDK package (sqs) and operation (SendMessageBatch)
	File        string
}

// iamPrefix maps an aws-sdk-go-v2 service package to its IAM prefix.
var iamPrefix = map[string]string{
	"cloudformation": "cloudformation", "dynamodb": "dynamodb", "ec2": "ec2", "ecs": "ecs", "eks": "eks",
	"elasticloadbalancingv2": "elasticloadbalancing", "eventbridge": "events", "iam": "iam", "lambda": "lambda",
	"neptune": "rds", // the Neptune management API is authorised by rds: actions
	"rds":     "rds", "s3": "s3", "sfn": "states", "sns": "sns", "sqs": "sqs", "sts": "sts",
}

// opAction is the IAM action of an operation whose name differs from it.
var opAction = map[string]string{
	"sqs:SendMessageBatch":             "sqs:SendMessage",
	"sqs:DeleteMessageBatch":           "sqs:DeleteMessage",
	"sqs:ChangeMessageVisibilityBatch": "sqs:ChangeMessageVisibility",
	"s3:ListBuckets":                   "s3:ListAllMyBuckets",
}

// notGranted are operations the code calls that the stack deliberately
// does not allow, and why.
var notGranted = map[string]string{
	"sts:GetCallerIdentity": "needs no permission (AWS: always allowed)",
	"sqs:GetQueueUrl":       "only resolves a DLQ from a RedrivePolicy when DLQ_URL / TRIGGER_DLQ_URL is unset; every task definition sets them",
}

// scanSDKOps finds every AWS SDK operation used in files: a reference to
// <svc>.<Op>Input (the request of a call, also when built beforehand) or
// <svc>.New<Op>Paginator, where <svc> is an import of
// github.com/aws/aws-sdk-go-v2/service/<svc> under whatever name.
func scanSDKOps(t *testing.T, files []string) []sdkOp {
	t.Helper()
	input := regexp.MustCompile(`^([A-Z][A-Za-z0-9]+)Input$`)
	paginator := regexp.MustCompile(`^New([A-Z][A-Za-z0-9]+)Paginator$`)
	var ops []sdkOp
	fset := token.NewFileSet()
	for _, path := range files {
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{} // local name -> service
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			svc, ok := strings.CutPrefix(p, "github.com/aws/aws-sdk-go-v2/service/")
			if !ok || strings.Contains(svc, "/") {
				continue
			}
			name := svc
			if imp.Name != nil {
				name = imp.Name.Name
			}
			names[name] = svc
		}
		ast.Inspect(f, func(node ast.Node) bool {
			sel, ok := node.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok || names[x.Name] == "" {
				return true
			}
			for _, re := range []*regexp.Regexp{input, paginator} {
				if m := re.FindStringSubmatch(sel.Sel.Name); m != nil {
					ops = append(ops, sdkOp{Service: names[x.Name], Op: m[1], File: path})
				}
			}
			return true
		})
	}
	return ops
}

func (o sdkOp) action(t *testing.T) string {
	prefix, ok := iamPrefix[o.Service]
	if !ok {
		t.Fatalf("%s uses service package %q: add its IAM prefix to iamPrefix and grant what it calls", o.File, o.Service)
	}
	a := prefix + ":" + o.Op
	if r, ok := opAction[o.Service+":"+o.Op]; ok {
		return r
	}
	return a
}

// binaryOps are the SDK operations of the binaries (worker, producer and
// what they link from shared/, without the local development tools).
func binaryOps(t *testing.T) []sdkOp {
	ops := scanSDKOps(t, goFiles(t, "worker", "producer", "shared"))
	if len(ops) < 40 {
		t.Fatalf("found only %d SDK operations in the product: the scan is broken", len(ops))
	}
	return ops
}

// TestEverySDKCallIsGranted: each operation the binaries call is allowed to
// some task role (or listed in notGranted with the reason), and each
// discovery action granted is one the sources call: nothing stale.
func TestEverySDKCallIsGranted(t *testing.T) {
	granted := map[string]bool{}
	for _, gr := range iamGrants {
		for _, a := range gr.Actions {
			granted[a] = true
		}
	}
	called := map[string][]string{}
	for _, op := range binaryOps(t) {
		a := op.action(t)
		called[a] = append(called[a], op.File)
	}
	for _, a := range sortedKeys(called) {
		if why, ok := notGranted[a]; ok {
			t.Logf("not granted: %s (%s)", a, why)
			continue
		}
		if !granted[a] {
			t.Errorf("%s is called (%s) but no task role is allowed it: add it to iamGrants", a, strings.Join(slices.Compact(called[a]), ", "))
		}
	}
	// Nothing granted that the code does not call, except the data-plane
	// and sidecar actions no SDK call stands for.
	for a := range granted {
		if strings.HasPrefix(a, "neptune-db:") {
			continue
		}
		if len(called[a]) == 0 {
			t.Errorf("%s is granted but no binary calls it: remove it from iamGrants", a)
		}
	}
}

// TestDiscoveryGrantsMatchSources: the aws source's role gets exactly what
// producer/awsresources calls, the cloudformation source's exactly what
// producer/cloudformation calls (sts:GetCallerIdentity aside).
func TestDiscoveryGrantsMatchSources(t *testing.T) {
	for _, c := range []struct {
		dir  string
		want []string
	}{{"producer/awsresources", discoveryAWS}, {"producer/cloudformation", discoveryCFN}} {
		got := map[string]bool{}
		for _, op := range scanSDKOps(t, goFiles(t, c.dir)) {
			if a := op.action(t); notGranted[a] == "" {
				got[a] = true
			}
		}
		want := map[string]bool{}
		for _, a := range c.want {
			want[a] = true
		}
		if canon(sortedKeys(got)) != canon(sortedKeys(want)) {
			t.Errorf("%s calls %v; the stack grants %v", c.dir, sortedKeys(got), sortedKeys(want))
		}
	}
	// The README publishes the same list for people writing their own
	// policy: keep the two in step.
	readme, err := os.ReadFile(filepath.Join(productRoot, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range append(append([]string{}, discoveryAWS...), discoveryCFN...) {
		if !strings.Contains(string(readme), `"`+a+`"`) {
			t.Errorf("README's policy for the producer does not list %s", a)
		}
	}
}

// TestNeptuneActionsMatchQueries: the worker drops elements in its sweep,
// so it needs DeleteDataViaQuery; it upserts (mergeV/mergeE), so Read and
// Write.
func TestNeptuneActionsMatchQueries(t *testing.T) {
	var src strings.Builder
	for _, f := range goFiles(t, "worker/neptune") {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		src.Write(b)
	}
	need := map[string]string{".Drop()": "neptune-db:DeleteDataViaQuery", ".MergeV(": "neptune-db:WriteDataViaQuery", ".MergeE(": "neptune-db:WriteDataViaQuery"}
	for step, action := range need {
		if strings.Contains(src.String(), step) && !slices.Contains(neptuneWorker, action) {
			t.Errorf("worker/neptune uses %s but the worker is not granted %s", step, action)
		}
	}
	if !strings.Contains(src.String(), ".Drop()") && slices.Contains(neptuneWorker, "neptune-db:DeleteDataViaQuery") {
		t.Errorf("worker/neptune drops nothing any more: remove neptune-db:DeleteDataViaQuery")
	}
}

// allowed is one (action, resource) pair a policy allows.
type allowed struct{ Action, Resource string }

// policiesByRole collects every AWS::IAM::Policy statement by the role it
// is attached to.
func policiesByRole(t *testing.T, doc map[string]any) map[string][]map[string]any {
	out := map[string][]map[string]any{}
	for id, p := range resources(doc, "AWS::IAM::Policy") {
		pp := props(p)
		roles := pp["Roles"].([]any)
		if len(roles) != 1 {
			t.Errorf("policy %s is attached to %d roles; want one", id, len(roles))
		}
		role := roles[0].(map[string]any)["Ref"].(string)
		for _, st := range pp["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			out[role] = append(out[role], st.(map[string]any))
		}
	}
	return out
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{v}
}

// TestTaskRolePoliciesAreExactlyTheGrants: each task role's policy allows
// exactly iamGrants' pairs plus the collector's, nothing more or less.
func TestTaskRolePoliciesAreExactlyTheGrants(t *testing.T) {
	g, _, doc := synthesized(t)
	byRole := policiesByRole(t, doc)
	roles := map[string]awsiam.Role{"worker": g.WorkerRole, "changes": g.ChangesRole, "listen": g.ListenRole, "serve": g.ServeRole,
		"replay-dlq": g.ReplayDLQRole}
	for src, r := range g.SourceRoles {
		roles["source-"+src] = r
	}
	res := map[string]string{
		resIngest: resolved(g, g.Ingest.QueueArn()), resDLQ: resolved(g, g.DLQ.QueueArn()), resReplay: resolved(g, g.Replay.QueueArn()),
		resTrigger: resolved(g, g.Trigger.QueueArn()), resTriggerDLQ: resolved(g, g.TriggerDLQ.QueueArn()),
		resBus: resolved(g, g.Bus.AttrArn()), resAll: `"*"`,
		resNeptune: `{"Fn::Sub":"arn:${AWS::Partition}:neptune-db:${AWS::Region}:${AWS::AccountId}:${NeptuneClusterResourceId}/*"}`,
	}
	metricsGroup := ""
	for id := range resources(doc, "AWS::Logs::LogGroup") {
		if strings.HasPrefix(id, "MetricsLogs") {
			metricsGroup = `{"Fn::GetAtt":["` + id + `","Arn"]}`
		}
	}
	for name, r := range roles {
		want := map[allowed]bool{}
		for _, gr := range iamGrants {
			if gr.Role != name {
				continue
			}
			for _, a := range gr.Actions {
				want[allowed{a, res[gr.Resource]}] = true
			}
		}
		if name != "replay-dlq" { // no telemetry setup, no collector
			for _, a := range collectorTraceActions {
				want[allowed{a, `"*"`}] = true
			}
			for _, a := range collectorLogActions {
				want[allowed{a, metricsGroup}] = true
			}
		}
		got := map[allowed]bool{}
		for _, st := range byRole[idOf(g, r.Node().DefaultChild())] {
			if st["Effect"] != "Allow" || st["Condition"] != nil {
				t.Errorf("%s: unexpected statement %s", name, canon(st))
			}
			for _, a := range list(st["Action"]) {
				for _, rs := range list(st["Resource"]) {
					got[allowed{a.(string), canon(rs)}] = true
				}
			}
		}
		for p := range want {
			if !got[p] {
				t.Errorf("%s role: missing %s on %s", name, p.Action, p.Resource)
			}
		}
		for p := range got {
			if !want[p] {
				t.Errorf("%s role: allows %s on %s, which no grant asks for", name, p.Action, p.Resource)
			}
		}
	}
}

// starResourceAllowed are the actions that may take Resource "*": the
// discovery calls (they list whole accounts; most List/Describe calls
// support no resource-level permission), X-Ray's PutTraceSegments and ECR's
// GetAuthorizationToken (neither supports resource-level permissions).
func starResourceAllowed() map[string]bool {
	ok := map[string]bool{"xray:PutTraceSegments": true, "ecr:GetAuthorizationToken": true}
	for _, a := range append(append([]string{}, discoveryAWS...), discoveryCFN...) {
		ok[a] = true
	}
	return ok
}

// TestNoBroadStatements: no policy in the template (task roles, execution
// roles, scheduler role, queue policies) uses a wildcard action, and
// Resource "*" appears only with the actions that need it.
func TestNoBroadStatements(t *testing.T) {
	_, _, doc := synthesized(t)
	starOK := starResourceAllowed()
	check := func(where string, st map[string]any) {
		if st["Effect"] == "Deny" {
			// EnforceSSL's deny of sqs:* without TLS narrows, never widens.
			return
		}
		for _, a := range list(st["Action"]) {
			if strings.Contains(a.(string), "*") {
				t.Errorf("%s: wildcard action %q", where, a)
			}
		}
		if st["NotAction"] != nil || st["NotResource"] != nil {
			t.Errorf("%s: NotAction/NotResource: %s", where, canon(st))
		}
		for _, r := range list(st["Resource"]) {
			if r != "*" {
				continue
			}
			for _, a := range list(st["Action"]) {
				if !starOK[a.(string)] {
					t.Errorf("%s: %s on Resource \"*\"", where, a)
				}
			}
		}
	}
	for id, p := range resources(doc, "AWS::IAM::Policy") {
		for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			check(id, st.(map[string]any))
		}
	}
	for id, r := range resources(doc, "AWS::IAM::Role") {
		if props(r)["Policies"] != nil || props(r)["ManagedPolicyArns"] != nil {
			t.Errorf("role %s has inline or managed policies outside the checked AWS::IAM::Policy resources", id)
		}
	}
	for id, p := range resources(doc, "AWS::SQS::QueuePolicy") {
		for _, st := range props(p)["PolicyDocument"].(map[string]any)["Statement"].([]any) {
			check(id, st.(map[string]any))
		}
	}
}

// TestExecutionAndSchedulerRoles: execution roles are separate from task
// roles and only pull the image, write logs and (the push API's) read the
// token; the scheduler may run exactly the discovery task definitions and
// pass exactly their roles.
func TestExecutionAndSchedulerRoles(t *testing.T) {
	g, _, doc := synthesized(t)
	byRole := policiesByRole(t, doc)
	taskRoles := map[string]bool{}
	for _, r := range []awsiam.Role{g.WorkerRole, g.ChangesRole, g.ListenRole, g.ServeRole, g.ReplayDLQRole} {
		taskRoles[idOf(g, r.Node().DefaultChild())] = true
	}
	for _, r := range g.SourceRoles {
		taskRoles[idOf(g, r.Node().DefaultChild())] = true
	}
	for id, td := range resources(doc, "AWS::ECS::TaskDefinition") {
		exec := props(td)["ExecutionRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		task := props(td)["TaskRoleArn"].(map[string]any)["Fn::GetAtt"].([]any)[0].(string)
		if exec == task || taskRoles[exec] || !taskRoles[task] {
			t.Errorf("%s: execution role %s, task role %s: want a separate execution role and one of the task roles", id, exec, task)
		}
	}
	execActions := map[string]bool{"ecr:BatchCheckLayerAvailability": true, "ecr:GetDownloadUrlForLayer": true, "ecr:BatchGetImage": true,
		"ecr:GetAuthorizationToken": true, "logs:CreateLogStream": true, "logs:PutLogEvents": true}
	for _, r := range []awsiam.Role{g.ExecutionRole, g.ServeExecutionRole} {
		for _, st := range byRole[idOf(g, r.Node().DefaultChild())] {
			for _, a := range list(st["Action"]) {
				secret := r == g.ServeExecutionRole && (a == "secretsmanager:GetSecretValue" || a == "secretsmanager:DescribeSecret")
				if !execActions[a.(string)] && !secret {
					t.Errorf("execution role %s allows %s", idOf(g, r.Node().DefaultChild()), a)
				}
			}
		}
	}
	var runTask, passRole []string
	for _, st := range byRole[idOf(g, g.SchedulerRole.Node().DefaultChild())] {
		for _, a := range list(st["Action"]) {
			for _, r := range list(st["Resource"]) {
				switch a {
				case "ecs:RunTask":
					runTask = append(runTask, canon(r))
				case "iam:PassRole":
					passRole = append(passRole, canon(r))
				default:
					t.Errorf("scheduler role allows %s", a)
				}
			}
		}
		if st["Condition"] == nil {
			t.Errorf("scheduler statement without a condition: %s", canon(st))
		}
	}
	var wantRun, wantPass []string
	for _, src := range scheduledSources {
		wantRun = append(wantRun, resolved(g, g.TaskDefs["Source"+title(src)+"Task"].TaskDefinitionArn()))
		wantPass = append(wantPass, resolved(g, g.SourceRoles[src].RoleArn()))
	}
	wantPass = append(wantPass, resolved(g, g.ExecutionRole.RoleArn()))
	for _, l := range [][]string{runTask, passRole, wantRun, wantPass} {
		sort.Strings(l)
	}
	if canon(runTask) != canon(wantRun) || canon(passRole) != canon(wantPass) {
		t.Errorf("scheduler role: RunTask on %v, PassRole on %v; want %v and %v", runTask, passRole, wantRun, wantPass)
	}
}
