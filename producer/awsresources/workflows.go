package awsresources

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/sfn"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// stateMachines lists Step Functions state machines with their role and
// what their Task states call. The definition itself is never a prop: it
// can hold anything, secrets included.
func (r *region) stateMachines(ctx context.Context) error {
	p := sfn.NewListStateMachinesPaginator(r.sfn, &sfn.ListStateMachinesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, sm := range page.StateMachines {
			arn := aws.ToString(sm.StateMachineArn)
			out, err := r.sfn.DescribeStateMachine(ctx, &sfn.DescribeStateMachineInput{StateMachineArn: aws.String(arn)})
			if err != nil {
				return err
			}
			r.g.vertex("AWS::StepFunctions::StateMachine", arn, props("name", sm.Name, "type", string(sm.Type)))
			from := arnRef(arn)
			if role := aws.ToString(out.RoleArn); role != "" {
				r.g.edge(from, edgebatch.UsesRoleLabel, arnRef(role))
			}
			// A definition this code cannot read still leaves the machine
			// and its role: the Task targets are what is lost, and an
			// unreadable definition would not read better next run.
			for _, target := range taskTargets(aws.ToString(out.Definition), r.acct) {
				r.g.edge(from, edgebatch.TargetsLabel, arnRef(target))
			}
		}
	}
	return nil
}

// rules lists EventBridge rules on every event bus (the default one and
// each custom or partner bus) and their targets. EventBridge has no SDK
// paginators: its NextToken is followed by hand.
func (r *region) rules(ctx context.Context) error {
	buses := []string{"default"}
	for token := (*string)(nil); ; {
		out, err := r.eventbridge.ListEventBuses(ctx, &eventbridge.ListEventBusesInput{NextToken: token})
		if err != nil {
			return err
		}
		for _, b := range out.EventBuses {
			if name := aws.ToString(b.Name); name != "default" {
				buses = append(buses, name)
			}
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			break
		}
	}
	for _, bus := range buses {
		if err := r.busRules(ctx, bus); err != nil {
			return err
		}
	}
	return nil
}

func (r *region) busRules(ctx context.Context, bus string) error {
	for token := (*string)(nil); ; {
		out, err := r.eventbridge.ListRules(ctx, &eventbridge.ListRulesInput{EventBusName: aws.String(bus), NextToken: token})
		if err != nil {
			return err
		}
		for _, rule := range out.Rules {
			arn := aws.ToString(rule.Arn)
			r.g.vertex("AWS::Events::Rule", arn,
				props("name", rule.Name, "state", string(rule.State), "event_bus", bus, "schedule", rule.ScheduleExpression))
			if role := aws.ToString(rule.RoleArn); role != "" {
				r.g.edge(arnRef(arn), edgebatch.UsesRoleLabel, arnRef(role))
			}
			if err := r.ruleTargets(ctx, bus, arn, aws.ToString(rule.Name)); err != nil {
				return err
			}
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			return nil
		}
	}
}

// ruleTargets adds rule targets <target>, keyed by the target's id: a rule
// may send to one resource through two targets (with different inputs).
// The role EventBridge assumes to reach a target is the rule's too.
func (r *region) ruleTargets(ctx context.Context, bus, ruleARN, name string) error {
	for token := (*string)(nil); ; {
		out, err := r.eventbridge.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{
			Rule: aws.String(name), EventBusName: aws.String(bus), NextToken: token,
		})
		if err != nil {
			return err
		}
		for _, t := range out.Targets {
			target := aws.ToString(t.Arn)
			if t.EcsParameters != nil && aws.ToString(t.EcsParameters.TaskDefinitionArn) != "" {
				// An ECS target is a cluster; what runs is the task definition.
				target = aws.ToString(t.EcsParameters.TaskDefinitionArn)
			}
			r.g.keyedEdge(arnRef(ruleARN), edgebatch.TargetsLabel, arnRef(trimQualifier(target)), aws.ToString(t.Id), nil)
			if role := aws.ToString(t.RoleArn); role != "" {
				r.g.edge(arnRef(ruleARN), edgebatch.UsesRoleLabel, arnRef(role))
			}
		}
		if token = out.NextToken; aws.ToString(token) == "" {
			return nil
		}
	}
}
