package awsarn

import (
	"slices"
	"testing"
)

func TestFromPhysicalIDAndTypeOfAgree(t *testing.T) {
	t.Parallel()
	a := NewAccount("123456789012", "us-east-1")
	cases := []struct{ cfnType, physical, want string }{
		{"AWS::EC2::VPC", "vpc-0123456789abcdef0", "arn:aws:ec2:us-east-1:123456789012:vpc/vpc-0123456789abcdef0"},
		{"AWS::EC2::SecurityGroup", "sg-0ccccccccccccccc3", "arn:aws:ec2:us-east-1:123456789012:security-group/sg-0ccccccccccccccc3"},
		{"AWS::SQS::Queue", "https://sqs.us-east-1.amazonaws.com/123456789012/petsite-adoptions", "arn:aws:sqs:us-east-1:123456789012:petsite-adoptions"},
		{"AWS::Lambda::Function", "petsite-statusupdater", "arn:aws:lambda:us-east-1:123456789012:function:petsite-statusupdater"},
		{"AWS::Lambda::EventSourceMapping", "6f1e2d3c-1111-4222-8333-444455556666", "arn:aws:lambda:us-east-1:123456789012:event-source-mapping:6f1e2d3c-1111-4222-8333-444455556666"},
		{"AWS::RDS::DBCluster", "PetSite-Adoptions-DB", "arn:aws:rds:us-east-1:123456789012:cluster:petsite-adoptions-db"},
		{"AWS::RDS::DBInstance", "petsite-adoptions-db-1", "arn:aws:rds:us-east-1:123456789012:db:petsite-adoptions-db-1"},
		{"AWS::S3::Bucket", "petsite-images-123456789012", "arn:aws:s3:::petsite-images-123456789012"},
		{"AWS::Events::Rule", "petsite-adoption-rule", "arn:aws:events:us-east-1:123456789012:rule/petsite-adoption-rule"},
		{"AWS::Events::Rule", "petsite-bus|petsite-adoption-rule", "arn:aws:events:us-east-1:123456789012:rule/petsite-bus/petsite-adoption-rule"},
		{"AWS::IAM::Role", "petsite-app-StatusUpdaterRole-ABC123", "arn:aws:iam::123456789012:role/petsite-app-StatusUpdaterRole-ABC123"},
		{"AWS::SNS::Topic", "arn:aws:sns:us-east-1:123456789012:petsite-notifications", "arn:aws:sns:us-east-1:123456789012:petsite-notifications"},
		{"AWS::SNS::Subscription", "arn:aws:sns:us-east-1:123456789012:petsite-notifications:0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff", "arn:aws:sns:us-east-1:123456789012:petsite-notifications:0f1e2d3c-aaaa-4bbb-8ccc-ddddeeeeffff"},
		{"AWS::ECS::Cluster", "petsite", "arn:aws:ecs:us-east-1:123456789012:cluster/petsite"},
		{"AWS::ECS::TaskDefinition", "arn:aws:ecs:us-east-1:123456789012:task-definition/petsite-petsearch:3", "arn:aws:ecs:us-east-1:123456789012:task-definition/petsite-petsearch:3"},
		{"AWS::StepFunctions::StateMachine", "arn:aws:states:us-east-1:123456789012:stateMachine:petsite-adoption", "arn:aws:states:us-east-1:123456789012:stateMachine:petsite-adoption"},
		{"AWS::ElasticLoadBalancingV2::TargetGroup", "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/petsite-petsearch/73e2d6bc24d8a067", "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/petsite-petsearch/73e2d6bc24d8a067"},
		{"AWS::ElasticLoadBalancingV2::Listener", "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/petsite-alb/50dc6c495c0c9188/f2f7dc8efc522ab2", "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/petsite-alb/50dc6c495c0c9188/f2f7dc8efc522ab2"},
	}
	for _, c := range cases {
		got, ok := FromPhysicalID(a, c.cfnType, c.physical)
		if !ok || got != c.want {
			t.Errorf("FromPhysicalID(%s, %s) = %q, %v; want %q", c.cfnType, c.physical, got, ok, c.want)
		}
		typ, ok := TypeOf(c.want)
		if !ok || typ != c.cfnType {
			t.Errorf("TypeOf(%s) = %q, %v; want %s", c.want, typ, ok, c.cfnType)
		}
	}
}

func TestFromPhysicalIDRefusesWhatItCannotDerive(t *testing.T) {
	t.Parallel()
	a := NewAccount("123456789012", "us-east-1")
	for _, c := range [][2]string{
		{"AWS::Logs::LogGroup", "/aws/lambda/petsite-statusupdater"},
		{"AWS::SNS::Topic", "not-an-arn"},
		{"AWS::SQS::Queue", "petsite-adoptions"},
		{"AWS::EC2::VPC", ""},
		{"Custom::Thing", "arn:aws:lambda:us-east-1:123456789012:function:x"},
	} {
		if got, ok := FromPhysicalID(a, c[0], c[1]); ok {
			t.Errorf("FromPhysicalID(%s, %s) = %q; want no ARN", c[0], c[1], got)
		}
	}
}

func TestPartitions(t *testing.T) {
	t.Parallel()
	if got := NewAccount("1", "cn-north-1").Regional("ec2", "vpc/v"); got != "arn:aws-cn:ec2:cn-north-1:1:vpc/v" {
		t.Errorf("got %s", got)
	}
	if got := NewAccount("1", "us-gov-west-1").RoleARN("/service-role/", "r"); got != "arn:aws-us-gov:iam::1:role/service-role/r" {
		t.Errorf("got %s", got)
	}
}

func TestDerivableTypesIsSortedAndComplete(t *testing.T) {
	t.Parallel()
	types := DerivableTypes()
	if !slices.IsSorted(types) {
		t.Errorf("not sorted: %q", types)
	}
	for _, typ := range types {
		if !Derivable(typ) {
			t.Errorf("%s listed but not Derivable", typ)
		}
	}
	if len(types) != len(derive) {
		t.Errorf("%d types listed; FromPhysicalID knows %d", len(types), len(derive))
	}
}
