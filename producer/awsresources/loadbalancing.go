package awsresources

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// loadBalancers lists ELBv2 load balancers with their listeners, and the
// target groups each listener forwards to (default actions and rules).
func (r *region) loadBalancers(ctx context.Context) error {
	p := elb.NewDescribeLoadBalancersPaginator(r.elb, &elb.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, lb := range page.LoadBalancers {
			arn := aws.ToString(lb.LoadBalancerArn)
			r.g.vertex("AWS::ElasticLoadBalancingV2::LoadBalancer", arn,
				props("name", lb.LoadBalancerName, "type", string(lb.Type), "scheme", string(lb.Scheme)))
			from := arnRef(arn)
			r.g.edgesTo(from, edgebatch.InVPCLabel, "vpc", []string{aws.ToString(lb.VpcId)})
			for _, az := range lb.AvailabilityZones {
				r.g.edgesTo(from, edgebatch.InSubnetLabel, "subnet", []string{aws.ToString(az.SubnetId)})
			}
			r.g.edgesTo(from, edgebatch.HasSecurityGroupLabel, "security-group", lb.SecurityGroups)
			if err := r.listeners(ctx, arn); err != nil {
				return apiFailure("AWS::ElasticLoadBalancingV2::Listener", err)
			}
		}
	}
	return nil
}

func (r *region) listeners(ctx context.Context, lbARN string) error {
	p := elb.NewDescribeListenersPaginator(r.elb, &elb.DescribeListenersInput{LoadBalancerArn: aws.String(lbARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, l := range page.Listeners {
			arn := aws.ToString(l.ListenerArn)
			r.g.vertex("AWS::ElasticLoadBalancingV2::Listener", arn,
				props("port", l.Port, "protocol", string(l.Protocol)))
			r.g.edge(arnRef(lbARN), hasListenerLabel, arnRef(arn))
			r.forwards(arn, l.DefaultActions)
			if err := r.listenerRules(ctx, arn); err != nil {
				return err
			}
		}
	}
	return nil
}

// listenerRules adds what a listener's rules forward to: a path or host
// rule may send traffic to a target group no default action names.
func (r *region) listenerRules(ctx context.Context, listenerARN string) error {
	p := elb.NewDescribeRulesPaginator(r.elb, &elb.DescribeRulesInput{ListenerArn: aws.String(listenerARN)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, rule := range page.Rules {
			r.forwards(listenerARN, rule.Actions)
		}
	}
	return nil
}

// forwards adds listener forwards_to target group for each forward action,
// in either of its two spellings (TargetGroupArn, or ForwardConfig's
// weighted list).
func (r *region) forwards(listenerARN string, actions []elbtypes.Action) {
	for _, a := range actions {
		if tg := aws.ToString(a.TargetGroupArn); tg != "" {
			r.g.edge(arnRef(listenerARN), forwardsToLabel, arnRef(tg))
		}
		if a.ForwardConfig != nil {
			for _, t := range a.ForwardConfig.TargetGroups {
				if tg := aws.ToString(t.TargetGroupArn); tg != "" {
					r.g.edge(arnRef(listenerARN), forwardsToLabel, arnRef(tg))
				}
			}
		}
	}
}

// targetGroups lists target groups and their registered targets.
func (r *region) targetGroups(ctx context.Context) error {
	p := elb.NewDescribeTargetGroupsPaginator(r.elb, &elb.DescribeTargetGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, tg := range page.TargetGroups {
			arn := aws.ToString(tg.TargetGroupArn)
			r.g.vertex("AWS::ElasticLoadBalancingV2::TargetGroup", arn,
				props("name", tg.TargetGroupName, "target_type", string(tg.TargetType), "protocol", string(tg.Protocol), "port", tg.Port))
			r.g.edgesTo(arnRef(arn), edgebatch.InVPCLabel, "vpc", []string{aws.ToString(tg.VpcId)})
			if err := r.targets(ctx, arn, tg.TargetType); err != nil {
				return err
			}
		}
	}
	return nil
}

// targets adds target group targets <instance, function or load balancer>.
// Targets of type ip are addresses, not resources: they add nothing (an ECS
// service's tasks are tied to its target group by the service instead).
// One instance registered on several ports is one edge: the relation is
// the same.
func (r *region) targets(ctx context.Context, tgARN string, kind elbtypes.TargetTypeEnum) error {
	// DescribeTargetHealth returns every target in one answer: it has no
	// pagination.
	out, err := r.elb.DescribeTargetHealth(ctx, &elb.DescribeTargetHealthInput{TargetGroupArn: aws.String(tgARN)})
	if err != nil {
		return err
	}
	for _, d := range out.TargetHealthDescriptions {
		if d.Target == nil {
			continue
		}
		id := aws.ToString(d.Target.Id)
		switch {
		case kind == elbtypes.TargetTypeEnumInstance || strings.HasPrefix(id, "i-"):
			r.g.edge(arnRef(tgARN), edgebatch.TargetsLabel, ec2Ref("instance", id))
		case kind == elbtypes.TargetTypeEnumLambda:
			r.g.edge(arnRef(tgARN), edgebatch.TargetsLabel, arnRef(trimQualifier(id)))
		case kind == elbtypes.TargetTypeEnumAlb:
			r.g.edge(arnRef(tgARN), edgebatch.TargetsLabel, arnRef(id))
		}
	}
	return nil
}
