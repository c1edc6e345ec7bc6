package awsresources

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/neptune"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sfn"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/sourcegraph/conc/pool"

	"github.com/graphfleet/graphfleet/producer/awsapi"
	"github.com/graphfleet/graphfleet/producer/awsarn"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// SourceName is the batches' source.
const SourceName = "aws"

// Source discovers the resources of one account in a set of regions.
type Source struct {
	regions     []string
	clients     map[string]*clients
	log         *slog.Logger // nil means slog.Default()
	concurrency int
}

// clients are one region's API clients. They live as long as the Source so
// that each one's adaptive retryer remembers throttling from run to run.
type clients struct {
	region      string
	sts         *sts.Client
	ec2         *ec2.Client
	iam         *iam.Client
	elb         *elb.Client
	ecs         *ecs.Client
	eks         *eks.Client
	lambda      *lambda.Client
	sqs         *sqs.Client
	sns         *sns.Client
	dynamodb    *dynamodb.Client
	rds         *rds.Client
	neptune     *neptune.Client
	s3          *s3.Client
	sfn         *sfn.Client
	eventbridge *eventbridge.Client
}

// New is a source that discovers regions with cfg (the SDK configuration
// from the default credential chain). Every client retries throttling with
// the SDK's adaptive mode, which also slows this client's own calls down
// after a throttle instead of only backing off the failed one.
func New(cfg aws.Config, regions []string, opts ...awsapi.Option) *Source {
	o := awsapi.Resolve(opts)
	s := &Source{regions: regions, clients: map[string]*clients{}, log: o.Log, concurrency: o.Concurrency}
	for _, region := range regions {
		c := awsapi.RegionConfig(cfg, region, o)
		s.clients[region] = &clients{
			region:      region,
			sts:         sts.NewFromConfig(c),
			ec2:         ec2.NewFromConfig(c),
			iam:         iam.NewFromConfig(c),
			elb:         elb.NewFromConfig(c),
			ecs:         ecs.NewFromConfig(c),
			eks:         eks.NewFromConfig(c),
			lambda:      lambda.NewFromConfig(c),
			sqs:         sqs.NewFromConfig(c),
			sns:         sns.NewFromConfig(c),
			dynamodb:    dynamodb.NewFromConfig(c),
			rds:         rds.NewFromConfig(c),
			neptune:     neptune.NewFromConfig(c),
			s3:          s3.NewFromConfig(c),
			sfn:         sfn.NewFromConfig(c),
			eventbridge: eventbridge.NewFromConfig(c),
		}
	}
	return s
}

func (s *Source) logger() *slog.Logger {
	if s.log != nil {
		return s.log
	}
	return slog.Default()
}

// Discover returns one complete snapshot per region, scope
// "aws/<account>/<region>", and an error naming every region that failed. A
// failed region contributes no snapshot: a snapshot missing one resource
// type would make the sweep retire every resource of that type.
func (s *Source) Discover(ctx context.Context, observed time.Time) ([]*edgebatch.Batch, error) {
	var out []*edgebatch.Batch
	var errs []error
	// Regions run one after another; each already runs its calls
	// concurrently, and the account's rate limits are per region anyway.
	for _, region := range s.regions {
		b, err := s.discoverRegion(ctx, s.clients[region], observed)
		if err != nil {
			errs = append(errs, fmt.Errorf("region %s: %w", region, err))
			continue
		}
		out = append(out, b)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("aws: %d of %d regions failed: %w", len(errs), len(s.regions), errors.Join(errs...))
	}
	return out, nil
}

// region is one region's discovery in progress.
type region struct {
	*clients
	acct awsarn.Account
	g    *graph
}

// collector lists the resources of one type (or a type and the parts only
// its own API shows, like a load balancer's listeners).
type collector struct {
	cfnType string
	run     func(r *region, ctx context.Context) error
}

// collectors are every resource type a snapshot holds. Each fails the
// whole snapshot: the sweep cannot tell "none" from "not listed".
var collectors = []collector{
	{"AWS::EC2::VPC", (*region).vpcs},
	{"AWS::EC2::Subnet", (*region).subnets},
	{"AWS::EC2::SecurityGroup", (*region).securityGroups},
	{"AWS::EC2::Instance", (*region).instances},
	{"AWS::ElasticLoadBalancingV2::LoadBalancer", (*region).loadBalancers},
	{"AWS::ElasticLoadBalancingV2::TargetGroup", (*region).targetGroups},
	{"AWS::ECS::Cluster", (*region).ecsClusters},
	{"AWS::EKS::Cluster", (*region).eksClusters},
	{"AWS::Lambda::Function", (*region).functions},
	{"AWS::Lambda::EventSourceMapping", (*region).eventSourceMappings},
	{"AWS::SQS::Queue", (*region).queues},
	{"AWS::SNS::Topic", (*region).topics},
	{"AWS::SNS::Subscription", (*region).subscriptions},
	{"AWS::DynamoDB::Table", (*region).tables},
	{"AWS::RDS::DBCluster", (*region).dbClusters},
	{"AWS::RDS::DBInstance", (*region).dbInstances},
	{"AWS::Neptune::DBCluster", (*region).neptuneClusters},
	{"AWS::S3::Bucket", (*region).buckets},
	{"AWS::StepFunctions::StateMachine", (*region).stateMachines},
	{"AWS::Events::Rule", (*region).rules},
}

func (s *Source) discoverRegion(ctx context.Context, c *clients, observed time.Time) (*edgebatch.Batch, error) {
	id, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, apiFailure("account id (sts:GetCallerIdentity)", err)
	}
	r := &region{clients: c, acct: awsarn.NewAccount(aws.ToString(id.Account), c.region)}
	r.g = newGraph(r.acct)

	// Every collector runs even after one fails, so that the error lists
	// every missing permission at once rather than one per run.
	p := pool.New().WithContext(ctx).WithMaxGoroutines(s.concurrency)
	for _, col := range collectors {
		p.Go(func(ctx context.Context) error {
			if err := col.run(r, ctx); err != nil {
				var te *TypeError
				if errors.As(err, &te) {
					return err // a nested type (listeners, task definitions) already named itself
				}
				return apiFailure(col.cfnType, err)
			}
			return nil
		})
	}
	if err := p.Wait(); err != nil {
		return nil, err
	}

	vs, es, skip, err := r.g.build()
	if err != nil {
		return nil, err
	}
	if n := skip.total(); n > 0 {
		// Not an error: an event target or a subscription endpoint may be
		// a kind of resource this source does not model.
		s.logger().Info("aws: skipped references to resources of unknown type",
			"region", c.region, "account", r.acct.ID, "skipped", n, "by_service", skip.String())
	}
	scope := "aws/" + r.acct.ID + "/" + c.region
	return &edgebatch.Batch{
		V:          edgebatch.Version,
		Source:     SourceName,
		ObservedAt: observed,
		Snapshot:   &edgebatch.Snapshot{ID: scope + "/" + observed.UTC().Format(time.RFC3339), Scope: scope},
		Vertices:   vs,
		Edges:      es,
	}, nil
}

// TypeError is the failure to list one resource type.
type TypeError struct {
	// Type is the CloudFormation type (or what else was being read).
	Type string
	// Code is the API's error code (AccessDenied, ThrottlingException, ...);
	// empty when the call failed before an answer (a cancelled context).
	Code string
	Err  error
}

func (e *TypeError) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("cannot list %s (%s): %v", e.Type, e.Code, e.Err)
	}
	return fmt.Sprintf("cannot list %s: %v", e.Type, e.Err)
}

func (e *TypeError) Unwrap() error { return e.Err }

func apiFailure(what string, err error) error {
	te := &TypeError{Type: what, Err: err}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		te.Code = ae.ErrorCode()
	}
	return te
}
