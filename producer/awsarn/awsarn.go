// Package awsarn builds the ARNs that are the ids of AWS resources in the
// graph. Both discovery sources use it: the AWS source for resources whose
// APIs return an id but no ARN (a VPC, a subnet, an SQS queue URL), and the
// CloudFormation source for every resource a stack lists by physical id. So a
// resource seen by both meets on one vertex.
package awsarn

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Account is where a resource lives.
type Account struct {
	Partition string // "aws", "aws-cn", "aws-us-gov"; see PartitionOf
	ID        string // the 12-digit account id
	Region    string // e.g. "us-east-1"
}

// PartitionOf is the partition of a region.
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "us-iso-"):
		return "aws-iso"
	case strings.HasPrefix(region, "us-isob-"):
		return "aws-iso-b"
	case strings.HasPrefix(region, "eu-isoe-"):
		return "aws-iso-e"
	}
	return "aws"
}

// NewAccount is the account id in region, with the region's partition.
func NewAccount(id, region string) Account {
	return Account{Partition: PartitionOf(region), ID: id, Region: region}
}

// Regional is the ARN of a regional resource of service:
// arn:<partition>:<service>:<region>:<account>:<resource>.
func (a Account) Regional(service, resource string) string {
	return "arn:" + a.Partition + ":" + service + ":" + a.Region + ":" + a.ID + ":" + resource
}

// Global is the ARN of a resource of a global service (IAM):
// arn:<partition>:<service>::<account>:<resource>.
func (a Account) Global(service, resource string) string {
	return "arn:" + a.Partition + ":" + service + "::" + a.ID + ":" + resource
}

// RoleARN is the ARN of the IAM role name under path ("/" or "/a/b/"; empty
// means "/"). A role's ARN includes its path, so a role created with a path
// cannot be named from its name alone.
func (a Account) RoleARN(path, name string) string {
	if path == "" {
		path = "/"
	}
	return a.Global("iam", "role"+path+name)
}

// QueueARN is the ARN of the SQS queue with url
// (https://sqs.<region>.amazonaws.com/<account>/<name>), which names the
// queue's own account and region. The queue URL is the physical id
// CloudFormation reports and what ListQueues returns.
func QueueARN(partition, queueURL string) (string, error) {
	u, err := url.Parse(queueURL)
	if err != nil {
		return "", fmt.Errorf("queue URL %q: %w", queueURL, err)
	}
	parts := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(parts) != 2 || parts[0] == "" || parts[1] == "" {
		return "", fmt.Errorf("queue URL %q is not https://sqs.<region>.<domain>/<account>/<name>", queueURL)
	}
	host := strings.Split(u.Host, ".")
	region := ""
	switch {
	case len(host) >= 3 && host[0] == "sqs":
		region = host[1] // sqs.us-east-1.amazonaws.com
	case len(host) >= 3 && host[1] == "queue":
		region = host[0] // us-east-1.queue.amazonaws.com (legacy)
	case len(host) >= 2 && host[0] == "queue":
		region = "us-east-1" // queue.amazonaws.com (legacy, us-east-1)
	default:
		return "", fmt.Errorf("queue URL %q: cannot tell the region from host %q", queueURL, u.Host)
	}
	if partition == "" {
		partition = PartitionOf(region)
	}
	return "arn:" + partition + ":sqs:" + region + ":" + parts[0] + ":" + parts[1], nil
}

// IsARN reports whether s has the shape of an ARN.
func IsARN(s string) bool {
	return strings.HasPrefix(s, "arn:") && strings.Count(s, ":") >= 5
}

// FromPhysicalID is the ARN of the resource of CloudFormation type cfnType
// whose physical id (what DescribeStackResources and ListStackResources
// report) is physicalID, in account a. ok is false for a type whose ARN this
// package cannot derive; Derivable lists those it can.
//
// A physical id that already is an ARN (load balancers, listeners, target
// groups, SNS topics, ECS services, task definitions, state machines, nested
// stacks) is returned as it is.
func FromPhysicalID(a Account, cfnType, physicalID string) (arn string, ok bool) {
	if physicalID == "" {
		return "", false
	}
	if IsARN(physicalID) {
		if _, known := derive[cfnType]; known {
			return physicalID, true
		}
		return "", false
	}
	f, known := derive[cfnType]
	if !known || f == nil {
		return "", false
	}
	return f(a, physicalID)
}

// Derivable reports whether FromPhysicalID knows cfnType.
func Derivable(cfnType string) bool {
	_, ok := derive[cfnType]
	return ok
}

// DerivableTypes lists the CloudFormation types FromPhysicalID knows, sorted,
// so that a listing of them (a package doc, a test) is stable.
func DerivableTypes() []string {
	out := make([]string, 0, len(derive))
	for t := range derive {
		out = append(out, t)
	}
	slices.Sort(out)
	return out
}

type deriveFunc func(a Account, id string) (string, bool)

func regional(service, prefix string) deriveFunc {
	return func(a Account, id string) (string, bool) { return a.Regional(service, prefix+id), true }
}

// derive maps a type to how its ARN follows from its physical id. A nil
// function means the physical id is always the ARN.
var derive = map[string]deriveFunc{
	"AWS::EC2::VPC":           regional("ec2", "vpc/"),
	"AWS::EC2::Subnet":        regional("ec2", "subnet/"),
	"AWS::EC2::SecurityGroup": regional("ec2", "security-group/"),
	"AWS::EC2::Instance":      regional("ec2", "instance/"),

	"AWS::ElasticLoadBalancingV2::LoadBalancer": nil,
	"AWS::ElasticLoadBalancingV2::Listener":     nil,
	"AWS::ElasticLoadBalancingV2::TargetGroup":  nil,

	"AWS::ECS::Cluster":        regional("ecs", "cluster/"),
	"AWS::ECS::Service":        nil,
	"AWS::ECS::TaskDefinition": nil,
	"AWS::EKS::Cluster":        regional("eks", "cluster/"),

	"AWS::Lambda::Function":           regional("lambda", "function:"),
	"AWS::Lambda::EventSourceMapping": regional("lambda", "event-source-mapping:"),

	"AWS::SQS::Queue": func(a Account, id string) (string, bool) {
		arn, err := QueueARN(a.Partition, id)
		return arn, err == nil
	},
	"AWS::SNS::Topic":        nil,
	"AWS::SNS::Subscription": nil,

	"AWS::DynamoDB::Table": regional("dynamodb", "table/"),
	// RDS identifiers are stored in lower case, and ARNs carry them so.
	"AWS::RDS::DBCluster": func(a Account, id string) (string, bool) {
		return a.Regional("rds", "cluster:"+strings.ToLower(id)), true
	},
	"AWS::RDS::DBInstance": func(a Account, id string) (string, bool) {
		return a.Regional("rds", "db:"+strings.ToLower(id)), true
	},
	// Neptune clusters are RDS clusters: same ARN form.
	"AWS::Neptune::DBCluster": func(a Account, id string) (string, bool) {
		return a.Regional("rds", "cluster:"+strings.ToLower(id)), true
	},
	"AWS::Neptune::DBInstance": func(a Account, id string) (string, bool) {
		return a.Regional("rds", "db:"+strings.ToLower(id)), true
	},
	"AWS::S3::Bucket": func(a Account, id string) (string, bool) {
		return "arn:" + a.Partition + ":s3:::" + id, true
	},
	"AWS::StepFunctions::StateMachine": nil,
	// An EventBridge rule's physical id is its name on the default bus and
	// "<bus>|<name>" on another bus.
	"AWS::Events::Rule": func(a Account, id string) (string, bool) {
		if bus, name, ok := strings.Cut(id, "|"); ok {
			return a.Regional("events", "rule/"+bus+"/"+name), true
		}
		return a.Regional("events", "rule/"+id), true
	},
	// A role's physical id is its name; its ARN also needs its path, which
	// only the template (or IAM) knows: use RoleARN. This assumes path "/".
	"AWS::IAM::Role": func(a Account, id string) (string, bool) {
		return a.RoleARN("/", id), true
	},
	"AWS::CloudFormation::Stack": nil,
}

// Parse splits an ARN into its service, region, account and resource parts.
func Parse(arn string) (service, region, account, resource string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" || parts[2] == "" {
		return "", "", "", "", false
	}
	return parts[2], parts[3], parts[4], parts[5], true
}

// TypeOf is the CloudFormation type of the resource arn names, for the types
// the sources discover, so that a resource seen only as a reference (a
// role, an event target) gets the label its own discovery would give it. ok
// is false for an ARN of another type.
//
// An RDS cluster ARN cannot tell an Aurora cluster from a Neptune one (both
// are arn:...:rds:...:cluster:<id>); TypeOf says AWS::RDS::DBCluster, and a
// source that knows better uses the engine instead.
func TypeOf(arn string) (cfnType string, ok bool) {
	service, _, _, resource, ok := Parse(arn)
	if !ok {
		return "", false
	}
	kind, _, _ := strings.Cut(resource, "/")
	if c, _, found := strings.Cut(resource, ":"); found && (len(c) < len(kind)) {
		kind = c
	}
	switch service + " " + kind {
	case "ec2 vpc":
		return "AWS::EC2::VPC", true
	case "ec2 subnet":
		return "AWS::EC2::Subnet", true
	case "ec2 security-group":
		return "AWS::EC2::SecurityGroup", true
	case "ec2 instance":
		return "AWS::EC2::Instance", true
	case "elasticloadbalancing loadbalancer":
		return "AWS::ElasticLoadBalancingV2::LoadBalancer", true
	case "elasticloadbalancing listener":
		return "AWS::ElasticLoadBalancingV2::Listener", true
	case "elasticloadbalancing targetgroup":
		return "AWS::ElasticLoadBalancingV2::TargetGroup", true
	case "ecs cluster":
		return "AWS::ECS::Cluster", true
	case "ecs service":
		return "AWS::ECS::Service", true
	case "ecs task-definition":
		return "AWS::ECS::TaskDefinition", true
	case "eks cluster":
		return "AWS::EKS::Cluster", true
	case "lambda function":
		return "AWS::Lambda::Function", true
	case "lambda event-source-mapping":
		return "AWS::Lambda::EventSourceMapping", true
	case "dynamodb table":
		if strings.Contains(resource, "/stream/") {
			return "", false // a table's stream, not the table
		}
		return "AWS::DynamoDB::Table", true
	case "rds cluster":
		return "AWS::RDS::DBCluster", true
	case "rds db":
		return "AWS::RDS::DBInstance", true
	case "states stateMachine":
		return "AWS::StepFunctions::StateMachine", true
	case "events rule":
		return "AWS::Events::Rule", true
	case "iam role":
		return "AWS::IAM::Role", true
	case "cloudformation stack":
		return "AWS::CloudFormation::Stack", true
	}
	switch service {
	case "sqs":
		return "AWS::SQS::Queue", true
	case "sns":
		if strings.Contains(resource, ":") {
			return "AWS::SNS::Subscription", true // <topic>:<subscription id>
		}
		return "AWS::SNS::Topic", true
	case "s3":
		if resource != "" && !strings.Contains(resource, "/") {
			return "AWS::S3::Bucket", true
		}
	}
	return "", false
}
