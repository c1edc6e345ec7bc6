// Package awsresources is the "aws" discovery source: it lists an account's
// resources in each region through the AWS APIs and sends one snapshot per
// region, scope "aws/<account>/<region>". Vertex ids are ARNs (built with
// producer/awsarn where an API gives only an id or a URL) and labels are
// edgebatch.AWSLabel of the CloudFormation type, so the CloudFormation
// source meets this one on the same vertices.
//
// A region's snapshot is all or nothing: any list call that fails (access
// denied included) fails the region, and its error names the resource type
// and the API's error code. A missing type must not look like an empty one,
// or the sweep would retire everything of that type.
//
// # Vertices
//
// VPC, subnet, security group, EC2 instance; ELBv2 load balancer, listener,
// target group; ECS cluster, service, task definition (those a service
// runs); EKS cluster; Lambda function and event source mapping; SQS queue;
// SNS topic and subscription; DynamoDB table; RDS cluster and instance
// (DocumentDB ones as DocDB_DBCluster/DocDB_DBInstance, Neptune instances as
// Neptune_DBInstance); Neptune cluster (Neptune API, engine neptune only;
// the RDS API's listing of it is ignored, so it is labelled once); S3
// bucket (this region's only); Step Functions state machine; EventBridge
// rule (every bus). IAM roles are not listed: a role is a vertex when
// something above references it (props name and path). Any other resource
// that is only referenced gets a vertex labelled by awsarn.TypeOf; a
// reference TypeOf cannot label is skipped, counted, and logged.
//
// Props are small and stable (name, runtime, engine, cidr, state, ...).
// Environment variables, container definitions and state machine
// definitions are never copied: they hold secrets.
//
// # Edges
//
//	from                  label                 to                    from (API field)
//	Subnet                in_vpc                VPC                   ec2 DescribeSubnets VpcId
//	SecurityGroup         in_vpc                VPC                   ec2 DescribeSecurityGroups VpcId
//	Instance              in_vpc, in_subnet     VPC, Subnet           ec2 DescribeInstances VpcId, SubnetId
//	Instance              has_security_group    SecurityGroup         ec2 DescribeInstances SecurityGroups
//	Instance              uses_role             IAM Role              IamInstanceProfile, resolved by iam ListInstanceProfiles Roles
//	LoadBalancer          in_vpc, in_subnet     VPC, Subnet           elbv2 DescribeLoadBalancers VpcId, AvailabilityZones.SubnetId
//	LoadBalancer          has_security_group    SecurityGroup         elbv2 DescribeLoadBalancers SecurityGroups
//	LoadBalancer          has_listener          Listener              elbv2 DescribeListeners (per load balancer)
//	Listener              forwards_to           TargetGroup           DefaultActions and DescribeRules Actions: TargetGroupArn, ForwardConfig
//	TargetGroup           in_vpc                VPC                   elbv2 DescribeTargetGroups VpcId
//	TargetGroup           targets               Instance/Function/LB  elbv2 DescribeTargetHealth Target.Id (ip targets add nothing)
//	TargetGroup           targets               ECS Service           ecs DescribeServices LoadBalancers.TargetGroupArn
//	ECS Service           in_cluster            ECS Cluster           ecs ListServices (per cluster)
//	ECS Service           runs_task_definition  TaskDefinition        ecs DescribeServices TaskDefinition
//	ECS Service           in_subnet, has_security_group               DescribeServices NetworkConfiguration.AwsvpcConfiguration
//	ECS Service           uses_role             IAM Role              ecs DescribeServices RoleArn
//	TaskDefinition        uses_role #task       IAM Role              ecs DescribeTaskDefinition TaskRoleArn (key "task", prop role)
//	TaskDefinition        uses_role #execution  IAM Role              ecs DescribeTaskDefinition ExecutionRoleArn (key "execution")
//	EKS Cluster           uses_role             IAM Role              eks DescribeCluster RoleArn
//	EKS Cluster           in_vpc, in_subnet, has_security_group       ResourcesVpcConfig VpcId, SubnetIds, SecurityGroupIds, ClusterSecurityGroupId
//	Function              uses_role             IAM Role              lambda ListFunctions Role
//	Function              in_vpc, in_subnet, has_security_group       ListFunctions VpcConfig
//	EventSourceMapping    invokes               Function              lambda ListEventSourceMappings FunctionArn (qualifier dropped)
//	EventSourceMapping    reads_from            Queue/Table/...       ListEventSourceMappings EventSourceArn (a DynamoDB stream: its table)
//	Queue/Table/...       triggers #<uuid>      Function              the same mapping, keyed by its UUID
//	Subscription          subscribes            Topic                 sns ListSubscriptions TopicArn
//	Subscription          targets               Queue/Function/...    sns ListSubscriptions Endpoint (when an ARN)
//	Topic                 triggers #<sub id>    Queue/Function/...    the same subscription, keyed by the last part of its ARN
//	DBInstance            member_of             DBCluster             rds DescribeDBInstances DBClusterIdentifier
//	DBInstance            in_vpc, in_subnet     VPC, Subnet           rds DescribeDBInstances DBSubnetGroup
//	DBInstance/DBCluster  has_security_group    SecurityGroup         rds/neptune VpcSecurityGroups
//	DBCluster             uses_role             IAM Role              rds/neptune DescribeDBClusters AssociatedRoles
//	StateMachine          uses_role             IAM Role              sfn DescribeStateMachine RoleArn
//	StateMachine          targets               Function/Queue/...    DescribeStateMachine Definition: Task states (see taskTargets)
//	Rule                  targets #<target id>  Function/StateMachine events ListTargetsByRule Arn (ECS: EcsParameters.TaskDefinitionArn)
//	Rule                  uses_role             IAM Role              events ListRules RoleArn, ListTargetsByRule RoleArn
//
// The labels not in shared/edgebatch (has_listener, forwards_to,
// in_cluster, runs_task_definition, invokes, reads_from, subscribes,
// member_of) are the constants below. A relation seen twice (an SG named by
// two fields, one instance on two ports) is one edge.
//
// # Calls
//
// Every list call goes through the SDK's paginator (EventBridge has none:
// NextToken is followed by hand). Up to awsapi.DefaultConcurrency resource types of
// a region are listed at once; regions run one after another. Throttling
// is retried by the SDK's adaptive retry mode.
//
// Permissions: sts:GetCallerIdentity, ec2:DescribeVpcs, DescribeSubnets,
// DescribeSecurityGroups, DescribeInstances, iam:ListInstanceProfiles,
// elasticloadbalancing:Describe*, ecs:ListClusters, DescribeClusters,
// ListServices, DescribeServices, DescribeTaskDefinition, eks:ListClusters,
// DescribeCluster, lambda:ListFunctions, ListEventSourceMappings,
// sqs:ListQueues, sns:ListTopics, ListSubscriptions, dynamodb:ListTables,
// rds:DescribeDBClusters, DescribeDBInstances, s3:ListAllMyBuckets,
// states:ListStateMachines, DescribeStateMachine, events:ListEventBuses,
// ListRules, ListTargetsByRule.
package awsresources

// Edge labels this source adds to those of shared/edgebatch, spelled the same
// way; the table above says between what.
const (
	hasListenerLabel        = "has_listener"
	forwardsToLabel         = "forwards_to"
	inClusterLabel          = "in_cluster"
	runsTaskDefinitionLabel = "runs_task_definition"
	invokesLabel            = "invokes"
	readsFromLabel          = "reads_from"
	subscribesLabel         = "subscribes"
	memberOfLabel           = "member_of"
)
