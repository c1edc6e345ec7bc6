package awsresources

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// nameTag is an EC2 resource's Name tag, the name people know it by.
func nameTag(tags []ec2types.Tag) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == "Name" {
			return aws.ToString(t.Value)
		}
	}
	return ""
}

// ec2ARN is the ARN of an EC2 resource, in its owner's account: a VPC or
// subnet shared from another account carries the owner's id.
func (r *region) ec2ARN(kind, id, owner string) string {
	a := r.acct
	if owner != "" {
		a.ID = owner
	}
	return a.Regional("ec2", kind+"/"+id)
}

func (r *region) vpcs(ctx context.Context) error {
	p := ec2.NewDescribeVpcsPaginator(r.ec2, &ec2.DescribeVpcsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, v := range page.Vpcs {
			id := aws.ToString(v.VpcId)
			r.g.ec2Vertex("AWS::EC2::VPC", id, r.ec2ARN("vpc", id, aws.ToString(v.OwnerId)),
				props("name", nameTag(v.Tags), "cidr", v.CidrBlock, "is_default", v.IsDefault))
		}
	}
	return nil
}

func (r *region) subnets(ctx context.Context) error {
	p := ec2.NewDescribeSubnetsPaginator(r.ec2, &ec2.DescribeSubnetsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.Subnets {
			id := aws.ToString(s.SubnetId)
			arn := aws.ToString(s.SubnetArn)
			if arn == "" {
				arn = r.ec2ARN("subnet", id, aws.ToString(s.OwnerId))
			}
			r.g.ec2Vertex("AWS::EC2::Subnet", id, arn,
				props("name", nameTag(s.Tags), "cidr", s.CidrBlock, "az", s.AvailabilityZone))
			r.g.edgesTo(arnRef(arn), edgebatch.InVPCLabel, "vpc", []string{aws.ToString(s.VpcId)})
		}
	}
	return nil
}

func (r *region) securityGroups(ctx context.Context) error {
	p := ec2.NewDescribeSecurityGroupsPaginator(r.ec2, &ec2.DescribeSecurityGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, sg := range page.SecurityGroups {
			id := aws.ToString(sg.GroupId)
			arn := aws.ToString(sg.SecurityGroupArn)
			if arn == "" {
				arn = r.ec2ARN("security-group", id, aws.ToString(sg.OwnerId))
			}
			r.g.ec2Vertex("AWS::EC2::SecurityGroup", id, arn, props("name", sg.GroupName))
			r.g.edgesTo(arnRef(arn), edgebatch.InVPCLabel, "vpc", []string{aws.ToString(sg.VpcId)})
		}
	}
	return nil
}

// instances lists EC2 instances, and resolves their instance profiles to
// roles: an instance names a profile, and only IAM knows its role.
func (r *region) instances(ctx context.Context) error {
	profileUsers := map[string][]string{} // instance profile ARN → instance ARNs
	p := ec2.NewDescribeInstancesPaginator(r.ec2, &ec2.DescribeInstancesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, res := range page.Reservations {
			for _, in := range res.Instances {
				if in.State != nil && in.State.Name == ec2types.InstanceStateNameTerminated {
					continue // gone; AWS lists it for about an hour more
				}
				id := aws.ToString(in.InstanceId)
				arn := r.ec2ARN("instance", id, aws.ToString(res.OwnerId))
				state := ""
				if in.State != nil {
					state = string(in.State.Name)
				}
				r.g.ec2Vertex("AWS::EC2::Instance", id, arn,
					props("name", nameTag(in.Tags), "instance_type", string(in.InstanceType), "state", state))
				from := arnRef(arn)
				r.g.edgesTo(from, edgebatch.InVPCLabel, "vpc", []string{aws.ToString(in.VpcId)})
				r.g.edgesTo(from, edgebatch.InSubnetLabel, "subnet", []string{aws.ToString(in.SubnetId)})
				for _, sg := range in.SecurityGroups {
					r.g.edgesTo(from, edgebatch.HasSecurityGroupLabel, "security-group", []string{aws.ToString(sg.GroupId)})
				}
				if in.IamInstanceProfile != nil && aws.ToString(in.IamInstanceProfile.Arn) != "" {
					prof := aws.ToString(in.IamInstanceProfile.Arn)
					profileUsers[prof] = append(profileUsers[prof], arn)
				}
			}
		}
	}
	if len(profileUsers) == 0 {
		return nil // no need to ask IAM
	}
	roles, err := r.instanceProfileRoles(ctx)
	if err != nil {
		return apiFailure("AWS::IAM::InstanceProfile", err)
	}
	for prof, users := range profileUsers {
		roleARNs, ok := roles[prof]
		if !ok {
			// A profile IAM does not list (deleted, or in a path the
			// instance's ARN spells differently): count it like any other
			// reference this source cannot label.
			roleARNs = []string{prof}
		}
		for _, inst := range users {
			for _, role := range roleARNs {
				r.g.edge(arnRef(inst), edgebatch.UsesRoleLabel, arnRef(role))
			}
		}
	}
	return nil
}

// instanceProfileRoles maps each instance profile's ARN to its roles' ARNs.
// One paginated list serves every instance, where GetInstanceProfile would
// cost one call per profile.
func (r *region) instanceProfileRoles(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	p := iam.NewListInstanceProfilesPaginator(r.iam, &iam.ListInstanceProfilesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, ip := range page.InstanceProfiles {
			roles := []string{}
			for _, role := range ip.Roles {
				arn := aws.ToString(role.Arn)
				if arn == "" {
					arn = r.acct.RoleARN(aws.ToString(role.Path), aws.ToString(role.RoleName))
				}
				roles = append(roles, arn)
			}
			out[aws.ToString(ip.Arn)] = roles
		}
	}
	return out, nil
}

// trimQualifier is a Lambda function's ARN without a version or alias
// (arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]): the
// function is the vertex, whichever version an event source invokes.
func trimQualifier(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) > 7 && parts[5] == "function" {
		return strings.Join(parts[:7], ":")
	}
	return arn
}
