package awsresources

import (
	"context"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/graphfleet/graphfleet/producer/awsarn"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// queues lists SQS queues. ListQueues gives URLs; the ARN follows from the
// URL, so no GetQueueAttributes call per queue is needed.
func (r *region) queues(ctx context.Context) error {
	p := sqs.NewListQueuesPaginator(r.sqs, &sqs.ListQueuesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, u := range page.QueueUrls {
			arn, err := awsarn.QueueARN(r.acct.Partition, u)
			if err != nil {
				return err
			}
			r.g.vertex("AWS::SQS::Queue", arn, props("name", lastSegment(arn, ':')))
		}
	}
	return nil
}

func (r *region) topics(ctx context.Context) error {
	p := sns.NewListTopicsPaginator(r.sns, &sns.ListTopicsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, t := range page.Topics {
			arn := aws.ToString(t.TopicArn)
			r.g.vertex("AWS::SNS::Topic", arn, props("name", lastSegment(arn, ':')))
		}
	}
	return nil
}

// subscriptions lists SNS subscriptions: subscription subscribes topic,
// subscription targets endpoint, and the direct topic triggers endpoint,
// keyed by the subscription's id (the ARN's last part), since one endpoint
// may subscribe to one topic twice (with different filters). Endpoints that
// are not ARNs (email, https) add the subscription only.
func (r *region) subscriptions(ctx context.Context) error {
	p := sns.NewListSubscriptionsPaginator(r.sns, &sns.ListSubscriptionsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, s := range page.Subscriptions {
			arn := aws.ToString(s.SubscriptionArn)
			if !awsarn.IsARN(arn) {
				continue // "PendingConfirmation": not a subscription yet
			}
			topic := aws.ToString(s.TopicArn)
			r.g.vertex("AWS::SNS::Subscription", arn, props("protocol", s.Protocol))
			r.g.edge(arnRef(arn), subscribesLabel, arnRef(topic))
			if ep := aws.ToString(s.Endpoint); awsarn.IsARN(ep) {
				if aws.ToString(s.Protocol) == "lambda" {
					ep = trimQualifier(ep)
				}
				r.g.edge(arnRef(arn), edgebatch.TargetsLabel, arnRef(ep))
				r.g.keyedEdge(arnRef(topic), edgebatch.TriggersLabel, arnRef(ep), lastSegment(arn, ':'), nil)
			}
		}
	}
	return nil
}

// lastSegment is what follows s's last sep.
func lastSegment(s string, sep byte) string {
	return s[strings.LastIndexByte(s, sep)+1:]
}
