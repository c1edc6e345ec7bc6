package demo

import (
	"fmt"
	"time"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// resource is one AWS resource of the demo: its CloudFormation type, name,
// and the ARN that is its id.
type resource struct {
	cfnType, name, arn string
	props              map[string]any
}

func (s *Source) arn(service, resourcePart string) string {
	return fmt.Sprintf("arn:aws:%s:%s:%s:%s", service, s.region, s.account, resourcePart)
}

// resources of copy i and the relationships AWS's APIs would show between them.
func (s *Source) resources(i int) ([]resource, [][3]string) {
	ns := s.Namespace(i)
	r := func(cfnType, svc, part, name string, props map[string]any) resource {
		if props == nil {
			props = map[string]any{}
		}
		props["name"] = name
		return resource{cfnType: cfnType, name: name, arn: s.arn(svc, part), props: props}
	}
	vpc := r("AWS::EC2::VPC", "ec2", "vpc/vpc-"+hex8(ns+"vpc"), ns+"-vpc", map[string]any{"cidr": "10.0.0.0/16"})
	subA := r("AWS::EC2::Subnet", "ec2", "subnet/subnet-"+hex8(ns+"a"), ns+"-private-a", map[string]any{"az": "us-east-1a"})
	subB := r("AWS::EC2::Subnet", "ec2", "subnet/subnet-"+hex8(ns+"b"), ns+"-private-b", map[string]any{"az": "us-east-1b"})
	sg := r("AWS::EC2::SecurityGroup", "ec2", "security-group/sg-"+hex8(ns+"sg"), ns+"-services", nil)
	role := r("AWS::IAM::Role", "iam", "role/"+ns+"-statusupdater", ns+"-statusupdater", nil)
	role.arn = fmt.Sprintf("arn:aws:iam::%s:role/%s-statusupdater", s.account, ns) // IAM ARNs have no region
	table := r("AWS::DynamoDB::Table", "dynamodb", "table/"+ns+"-adoptions", ns+"-adoptions", map[string]any{"billing_mode": "PAY_PER_REQUEST"})
	queue := r("AWS::SQS::Queue", "sqs", ns+"-adoptions", ns+"-adoptions", nil)
	fn := r("AWS::Lambda::Function", "lambda", "function:"+ns+"-statusupdater", ns+"-statusupdater", map[string]any{"runtime": "nodejs20.x", "memory_mb": 128})
	db := r("AWS::RDS::DBCluster", "rds", "cluster:"+ns+"-adoptions", ns+"-adoptions", map[string]any{"engine": "aurora-postgresql"})
	bucket := r("AWS::S3::Bucket", "s3", "", ns+"-images", nil)
	bucket.arn = "arn:aws:s3:::" + ns + "-images-" + s.account // S3 ARNs have neither
	sfn := r("AWS::StepFunctions::StateMachine", "states", "stateMachine:"+ns+"-adoption", ns+"-adoption", nil)
	res := []resource{vpc, subA, subB, sg, role, table, queue, fn, db, bucket, sfn}
	rels := [][3]string{
		{fn.arn, edgebatch.InVPCLabel, vpc.arn},
		{fn.arn, edgebatch.InSubnetLabel, subA.arn},
		{fn.arn, edgebatch.InSubnetLabel, subB.arn},
		{fn.arn, edgebatch.HasSecurityGroupLabel, sg.arn},
		{fn.arn, edgebatch.UsesRoleLabel, role.arn},
		{queue.arn, edgebatch.TriggersLabel, fn.arn},
		{db.arn, edgebatch.InVPCLabel, vpc.arn},
		{db.arn, edgebatch.InSubnetLabel, subA.arn},
		{db.arn, edgebatch.InSubnetLabel, subB.arn},
		{db.arn, edgebatch.HasSecurityGroupLabel, sg.arn},
		{subA.arn, edgebatch.InVPCLabel, vpc.arn},
		{subB.arn, edgebatch.InVPCLabel, vpc.arn},
		{sg.arn, edgebatch.InVPCLabel, vpc.arn},
		{sfn.arn, edgebatch.TargetsLabel, fn.arn},
		{sfn.arn, edgebatch.UsesRoleLabel, role.arn},
	}
	return res, rels
}

// Resources is what an AWS discovery of the account and region would send.
func (s *Source) Resources(observed time.Time) *edgebatch.Batch {
	b := &edgebatch.Batch{V: edgebatch.Version, Source: "aws", ObservedAt: observed}
	for i := range s.scale {
		res, rels := s.resources(i)
		for _, r := range res {
			b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: r.arn, Label: edgebatch.AWSLabel(r.cfnType), Props: r.props})
		}
		for _, rel := range rels {
			b.Edges = append(b.Edges, edgebatch.Edge{
				ID: edgebatch.EdgeID(rel[1], rel[0], rel[2]), Label: rel[1], From: rel[0], To: rel[2],
			})
		}
	}
	return b
}

// Stacks is what a CloudFormation discovery would send: two stacks per copy,
// the resources each contains, and the network stack's exports imported by
// the application stack.
func (s *Source) Stacks(observed time.Time) *edgebatch.Batch {
	b := &edgebatch.Batch{V: edgebatch.Version, Source: "cloudformation", ObservedAt: observed}
	for i := range s.scale {
		ns := s.Namespace(i)
		res, _ := s.resources(i)
		network := s.arn("cloudformation", "stack/"+ns+"-network/"+uuidish(ns+"network"))
		app := s.arn("cloudformation", "stack/"+ns+"-app/"+uuidish(ns+"app"))
		for _, st := range []struct{ arn, name string }{{network, ns + "-network"}, {app, ns + "-app"}} {
			b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: st.arn, Label: edgebatch.StackLabel,
				Props: map[string]any{"name": st.name, "status": "UPDATE_COMPLETE"}})
		}
		for _, r := range res {
			owner := app
			switch r.cfnType {
			case "AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::SecurityGroup":
				owner = network
			}
			b.Vertices = append(b.Vertices, edgebatch.Vertex{ID: r.arn, Label: edgebatch.AWSLabel(r.cfnType), Props: map[string]any{"name": r.name}})
			b.Edges = append(b.Edges, edgebatch.Edge{
				ID: edgebatch.EdgeID(edgebatch.ContainsLabel, owner, r.arn), Label: edgebatch.ContainsLabel, From: owner, To: r.arn,
				Props: map[string]any{"logical_id": logicalID(r.name)},
			})
		}
		for _, export := range []string{ns + "-VpcId", ns + "-PrivateSubnets"} {
			b.Edges = append(b.Edges, edgebatch.Edge{
				ID:    edgebatch.EdgeIDWithKey(edgebatch.ImportsLabel, app, network, export),
				Label: edgebatch.ImportsLabel, From: app, To: network,
				Props: map[string]any{"export": export},
			})
		}
	}
	return b
}

// hex8 is a stable fake resource suffix.
func hex8(s string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}

func uuidish(s string) string {
	return hex8(s) + "-" + hex8(s + "1")[:4] + "-" + hex8(s + "2")[:4] + "-" + hex8(s + "3")[:4] + "-" + hex8(s+"4") + hex8(s + "5")[:4]
}

func logicalID(name string) string {
	out := make([]byte, 0, len(name))
	up := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c == '-' || c == '_' {
			up = true
			continue
		}
		if up && c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		up = false
		out = append(out, c)
	}
	return string(out)
}
