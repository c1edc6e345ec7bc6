package awsresources

import (
	"context"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eks"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// ecsClusters lists ECS clusters, their services, and the task definitions
// the services run. Task definitions are described only when a service runs
// them: ListTaskDefinitions would return every revision ever registered.
func (r *region) ecsClusters(ctx context.Context) error {
	var clusterARNs []string
	p := ecs.NewListClustersPaginator(r.ecs, &ecs.ListClustersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		clusterARNs = append(clusterARNs, page.ClusterArns...)
	}
	// DescribeClusters takes at most 100 clusters a call.
	for batch := range slices.Chunk(clusterARNs, 100) {
		out, err := r.ecs.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: batch})
		if err != nil {
			return err
		}
		for _, c := range out.Clusters {
			r.g.vertex("AWS::ECS::Cluster", aws.ToString(c.ClusterArn), props("name", c.ClusterName))
		}
	}
	taskDefs := map[string]bool{}
	for _, cluster := range clusterARNs {
		if err := r.ecsServices(ctx, cluster, taskDefs); err != nil {
			return apiFailure("AWS::ECS::Service", err)
		}
	}
	for _, td := range slices.Sorted(maps.Keys(taskDefs)) {
		if err := r.taskDefinition(ctx, td); err != nil {
			return apiFailure("AWS::ECS::TaskDefinition", err)
		}
	}
	return nil
}

func (r *region) ecsServices(ctx context.Context, cluster string, taskDefs map[string]bool) error {
	var arns []string
	p := ecs.NewListServicesPaginator(r.ecs, &ecs.ListServicesInput{Cluster: aws.String(cluster)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		arns = append(arns, page.ServiceArns...)
	}
	// DescribeServices takes at most 10 services a call.
	for batch := range slices.Chunk(arns, 10) {
		out, err := r.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: batch})
		if err != nil {
			return err
		}
		for _, s := range out.Services {
			arn := aws.ToString(s.ServiceArn)
			r.g.vertex("AWS::ECS::Service", arn, props("name", s.ServiceName, "launch_type", string(s.LaunchType)))
			from := arnRef(arn)
			r.g.edge(from, inClusterLabel, arnRef(cluster))
			if td := aws.ToString(s.TaskDefinition); td != "" {
				r.g.edge(from, runsTaskDefinitionLabel, arnRef(td))
				taskDefs[td] = true
			}
			if role := aws.ToString(s.RoleArn); role != "" {
				r.g.edge(from, edgebatch.UsesRoleLabel, arnRef(role))
			}
			if nc := s.NetworkConfiguration; nc != nil && nc.AwsvpcConfiguration != nil {
				r.g.edgesTo(from, edgebatch.InSubnetLabel, "subnet", nc.AwsvpcConfiguration.Subnets)
				r.g.edgesTo(from, edgebatch.HasSecurityGroupLabel, "security-group", nc.AwsvpcConfiguration.SecurityGroups)
			}
			for _, lb := range s.LoadBalancers {
				if tg := aws.ToString(lb.TargetGroupArn); tg != "" {
					r.g.edge(arnRef(tg), edgebatch.TargetsLabel, from)
				}
			}
		}
	}
	return nil
}

// taskDefinition adds a task definition and its two roles. The task role
// and the execution role may be one role, so the edges are keyed "task" and
// "execution".
func (r *region) taskDefinition(ctx context.Context, arn string) error {
	out, err := r.ecs.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(arn)})
	if err != nil {
		return err
	}
	td := out.TaskDefinition
	if td == nil {
		return nil
	}
	// Container definitions hold environment values and images: not props.
	r.g.vertex("AWS::ECS::TaskDefinition", arn,
		props("name", td.Family, "revision", td.Revision, "network_mode", string(td.NetworkMode)))
	if role := aws.ToString(td.TaskRoleArn); role != "" {
		r.g.keyedEdge(arnRef(arn), edgebatch.UsesRoleLabel, arnRef(role), "task", props("role", "task"))
	}
	if role := aws.ToString(td.ExecutionRoleArn); role != "" {
		r.g.keyedEdge(arnRef(arn), edgebatch.UsesRoleLabel, arnRef(role), "execution", props("role", "execution"))
	}
	return nil
}

// eksClusters lists EKS clusters; ListClusters gives names only.
func (r *region) eksClusters(ctx context.Context) error {
	p := eks.NewListClustersPaginator(r.eks, &eks.ListClustersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, name := range page.Clusters {
			out, err := r.eks.DescribeCluster(ctx, &eks.DescribeClusterInput{Name: aws.String(name)})
			if err != nil {
				return err
			}
			c := out.Cluster
			if c == nil {
				continue
			}
			arn := aws.ToString(c.Arn)
			r.g.vertex("AWS::EKS::Cluster", arn, props("name", c.Name, "version", c.Version))
			from := arnRef(arn)
			if role := aws.ToString(c.RoleArn); role != "" {
				r.g.edge(from, edgebatch.UsesRoleLabel, arnRef(role))
			}
			if vc := c.ResourcesVpcConfig; vc != nil {
				r.g.edgesTo(from, edgebatch.InVPCLabel, "vpc", []string{aws.ToString(vc.VpcId)})
				r.g.edgesTo(from, edgebatch.InSubnetLabel, "subnet", vc.SubnetIds)
				r.g.edgesTo(from, edgebatch.HasSecurityGroupLabel, "security-group", vc.SecurityGroupIds)
				r.g.edgesTo(from, edgebatch.HasSecurityGroupLabel, "security-group", []string{aws.ToString(vc.ClusterSecurityGroupId)})
			}
		}
	}
	return nil
}
