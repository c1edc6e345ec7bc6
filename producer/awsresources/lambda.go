package awsresources

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// functions lists Lambda functions. The environment is never read into
// props: its values are often secrets.
func (r *region) functions(ctx context.Context) error {
	p := lambda.NewListFunctionsPaginator(r.lambda, &lambda.ListFunctionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, f := range page.Functions {
			arn := trimQualifier(aws.ToString(f.FunctionArn))
			r.g.vertex("AWS::Lambda::Function", arn,
				props("name", f.FunctionName, "runtime", string(f.Runtime), "memory_mb", f.MemorySize, "package_type", string(f.PackageType)))
			from := arnRef(arn)
			if role := aws.ToString(f.Role); role != "" {
				r.g.edge(from, edgebatch.UsesRoleLabel, arnRef(role))
			}
			if vc := f.VpcConfig; vc != nil && aws.ToString(vc.VpcId) != "" {
				r.g.edgesTo(from, edgebatch.InVPCLabel, "vpc", []string{aws.ToString(vc.VpcId)})
				r.g.edgesTo(from, edgebatch.InSubnetLabel, "subnet", vc.SubnetIds)
				r.g.edgesTo(from, edgebatch.HasSecurityGroupLabel, "security-group", vc.SecurityGroupIds)
			}
		}
	}
	return nil
}

// eventSourceMappings lists the mappings that let a queue or stream invoke a
// function. Each mapping is a vertex of its own (CloudFormation manages it
// as a resource), and also gives the direct edge source triggers function,
// keyed by the mapping's UUID: one queue may feed one function through
// several mappings, each with its own settings.
func (r *region) eventSourceMappings(ctx context.Context) error {
	p := lambda.NewListEventSourceMappingsPaginator(r.lambda, &lambda.ListEventSourceMappingsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, m := range page.EventSourceMappings {
			uuid := aws.ToString(m.UUID)
			arn := aws.ToString(m.EventSourceMappingArn)
			if arn == "" {
				arn = r.acct.Regional("lambda", "event-source-mapping:"+uuid)
			}
			r.g.vertex("AWS::Lambda::EventSourceMapping", arn,
				props("uuid", uuid, "state", m.State, "batch_size", m.BatchSize))
			fn := arnRef(trimQualifier(aws.ToString(m.FunctionArn)))
			r.g.edge(arnRef(arn), invokesLabel, fn)
			// Self-managed Kafka has no source ARN: nothing to point at.
			if src := eventSource(aws.ToString(m.EventSourceArn)); src != "" {
				r.g.edge(arnRef(arn), readsFromLabel, arnRef(src))
				r.g.keyedEdge(arnRef(src), edgebatch.TriggersLabel, fn, uuid, nil)
			}
		}
	}
	return nil
}

// eventSource is the resource a mapping reads: a DynamoDB stream's table
// (arn:...:table/<name>/stream/<label> → arn:...:table/<name>), since the
// stream is part of the table; other sources as they are.
func eventSource(arn string) string {
	if table, _, ok := strings.Cut(arn, "/stream/"); ok && strings.Contains(arn, ":dynamodb:") {
		return table
	}
	return arn
}
