package main

// The IAM each task role gets: exactly the actions the binaries call, on
// the resources they call them on. iam_test.go checks this table both ways
// against the product's Go source (every SDK operation the binaries use is
// granted to a role, and every granted action is one the code calls) and
// against the synthesised template (each role's policy is exactly this).

// Resources a grant can name.
const (
	resIngest     = "ingest-queue"
	resDLQ        = "dead-letter-queue"
	resReplay     = "replay-queue"
	resTrigger    = "trigger-queue"
	resTriggerDLQ = "trigger-dead-letter-queue"
	resNeptune    = "neptune-cluster" // arn:aws:neptune-db:REGION:ACCOUNT:CLUSTER_RESOURCE_ID/*
	resBus        = "graph-change-bus"
	resAll        = "*"
)

type grant struct {
	Role     string // worker, changes, listen, serve, replay-dlq, source-<name>
	Sid      string
	Resource string
	Actions  []string
	Why      string
}

// SQS actions by what a part of the code does with a queue (the SDK
// operation in brackets where its name differs from the IAM action).
var (
	// shared/consume: receive, settle (DeleteMessageBatch), heartbeat and
	// release (ChangeMessageVisibilityBatch), requeue a message on its last
	// receive (SendMessage), read the RedrivePolicy and, via
	// shared/queuedepth, the depth (GetQueueAttributes).
	consumeActions = []string{"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:SendMessage", "sqs:GetQueueAttributes"}
	// shared/sqssend (SendMessageBatch) and the queue's MaximumMessageSize,
	// plus the backlog gate's depth (GetQueueAttributes).
	sendActions = []string{"sqs:SendMessage", "sqs:GetQueueAttributes"}
	// shared/consume/dlq.go: a refused message goes to the DLQ with its
	// reason (SendMessage). The DLQ's URL is given (DLQ_URL,
	// TRIGGER_DLQ_URL), so GetQueueUrl is never called.
	deadLetterActions = []string{"sqs:SendMessage"}
)

// discoveryAWS is what producer/awsresources calls (README, "Discovery
// sources"); discoveryCFN what producer/cloudformation calls. These list
// whole accounts and regions and take Resource "*".
var (
	discoveryAWS = []string{
		"ec2:DescribeVpcs", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeInstances",
		"iam:ListInstanceProfiles",
		"elasticloadbalancing:DescribeLoadBalancers", "elasticloadbalancing:DescribeListeners",
		"elasticloadbalancing:DescribeRules", "elasticloadbalancing:DescribeTargetGroups", "elasticloadbalancing:DescribeTargetHealth",
		"ecs:ListClusters", "ecs:DescribeClusters", "ecs:ListServices", "ecs:DescribeServices", "ecs:DescribeTaskDefinition",
		"eks:ListClusters", "eks:DescribeCluster",
		"lambda:ListFunctions", "lambda:ListEventSourceMappings",
		"sqs:ListQueues", "sns:ListTopics", "sns:ListSubscriptions", "dynamodb:ListTables",
		"rds:DescribeDBClusters", "rds:DescribeDBInstances", "s3:ListAllMyBuckets",
		"states:ListStateMachines", "states:DescribeStateMachine",
		"events:ListEventBuses", "events:ListRules", "events:ListTargetsByRule",
	}
	discoveryCFN = []string{
		"cloudformation:DescribeStacks", "cloudformation:ListStacks", "cloudformation:ListStackResources",
		"cloudformation:GetTemplate", "cloudformation:ListExports", "cloudformation:ListImports",
	}
)

// Neptune data-plane actions. Neptune authorises a Gremlin query by every
// action it could perform: mergeV/mergeE need Read and Write, the sweep's
// drop() needs Delete (worker/neptune/snapshot.go; for worker changes, the
// checkpoint dropped when it is found ahead of the stream,
// worker/neptune/changefeed.go).
var (
	neptuneWorker  = []string{"neptune-db:connect", "neptune-db:ReadDataViaQuery", "neptune-db:WriteDataViaQuery", "neptune-db:DeleteDataViaQuery"}
	neptuneChanges = []string{"neptune-db:connect", "neptune-db:GetStreamRecords", "neptune-db:ReadDataViaQuery", "neptune-db:WriteDataViaQuery", "neptune-db:DeleteDataViaQuery"}
)

// The collector sidecar's actions: awsxray's PutTraceSegments (X-Ray has no
// resource-level permissions: "*"), awsemf's log stream and events in the
// stack's metrics log group.
var (
	collectorTraceActions = []string{"xray:PutTraceSegments"}
	collectorLogActions   = []string{"logs:CreateLogStream", "logs:PutLogEvents"}
)

var iamGrants = []grant{
	{"worker", "IngestQueue", resIngest, consumeActions, "live consumer (shared/consume) and depth sampler (shared/queuedepth)"},
	{"worker", "ReplayQueue", resReplay, consumeActions, "replay consumer (worker/replay.go)"},
	{"worker", "DeadLetterQueue", resDLQ, deadLetterActions, "malformed and refused messages with their reason"},
	{"worker", "Neptune", resNeptune, neptuneWorker, "upserts, bookkeeping and sweeps (worker/neptune)"},

	{"changes", "Neptune", resNeptune, neptuneChanges, "Neptune Streams; the checkpoint lives in Neptune"},
	{"changes", "GraphChangeBus", resBus, []string{"events:PutEvents"}, "dependency and resource events"},

	{"listen", "TriggerQueue", resTrigger, consumeActions, "producer listen consumes change events (shared/consume)"},
	{"listen", "TriggerDeadLetterQueue", resTriggerDLQ, deadLetterActions, "events listen cannot act on, with the reason"},
	{"listen", "IngestQueue", resIngest, sendActions, "rediscovered snapshots"},
	{"listen", "Discovery", resAll, append(append([]string{}, discoveryAWS...), discoveryCFN...), "rediscovery with the aws and cloudformation sources"},

	{"serve", "IngestQueue", resIngest, sendActions, "push API: one batch, one message; the backlog's 429"},

	{"source-deepflow", "IngestQueue", resIngest, sendActions, "snapshots; the backlog gate"},
	{"source-aws", "IngestQueue", resIngest, sendActions, "snapshots; the backlog gate"},
	{"source-aws", "Discovery", resAll, discoveryAWS, "producer/awsresources"},
	{"source-cloudformation", "IngestQueue", resIngest, sendActions, "snapshots; the backlog gate"},
	{"source-cloudformation", "Discovery", resAll, discoveryCFN, "producer/cloudformation"},

	{"replay-dlq", "DeadLetterQueue", resDLQ, []string{"sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
		"worker replay dlq: the move task, or the receive-send-delete copy (worker/replaydlq.go)"},
	{"replay-dlq", "ReplayQueue", resReplay, []string{"sqs:SendMessage", "sqs:GetQueueAttributes"}, "destination of the move or the copy"},
}
