package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/graphfleet/graphfleet/producer/awsapi"
	"github.com/graphfleet/graphfleet/producer/awsarn"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// SourceName is the batches' source.
const SourceName = "cloudformation"

// Source discovers the CloudFormation stacks of one account in a set of
// regions.
type Source struct {
	regions     []string
	clients     map[string]*clients
	log         *slog.Logger // nil means slog.Default()
	concurrency int
}

// clients are one region's API clients. They live as long as the Source so
// that each one's adaptive retryer remembers throttling from run to run.
type clients struct {
	region string
	sts    *sts.Client
	cfn    *cfn.Client
}

// New is a source that discovers regions with cfg (the SDK configuration
// from the default credential chain). Every client retries throttling with
// the SDK's adaptive mode, which after a throttle also slows the client's
// later calls down instead of only backing off the one that failed: a full
// scan makes many calls in a burst.
func New(cfg aws.Config, regions []string, opts ...awsapi.Option) *Source {
	o := awsapi.Resolve(opts)
	s := &Source{regions: regions, clients: map[string]*clients{}, log: o.Log, concurrency: o.Concurrency}
	for _, region := range regions {
		c := awsapi.RegionConfig(cfg, region, o)
		s.clients[region] = &clients{region: region, sts: sts.NewFromConfig(c), cfn: cfn.NewFromConfig(c)}
	}
	return s
}

func (s *Source) logger() *slog.Logger {
	if s.log != nil {
		return s.log
	}
	return slog.Default()
}

// Discover returns one complete snapshot per region (scope
// "cloudformation/<account>/<region>") and an error naming every region that
// failed. A failed region contributes no snapshot: a snapshot missing one
// stack would make the sweep retire everything that stack contains.
func (s *Source) Discover(ctx context.Context, observed time.Time) ([]*edgebatch.Batch, error) {
	var out []*edgebatch.Batch
	var errs []error
	// Regions run one after another; each already runs its per-stack calls
	// concurrently, and CloudFormation's rate limits are per region anyway.
	for _, region := range s.regions {
		b, st, err := s.discoverRegion(ctx, s.clients[region], observed)
		if err != nil {
			errs = append(errs, fmt.Errorf("region %s: %w", region, err))
			continue
		}
		st.log(s.logger(), region)
		out = append(out, b)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("cloudformation: %d of %d regions failed: %w", len(errs), len(s.regions), errors.Join(errs...))
	}
	return out, nil
}

// discoverRegion reads one region: the account, every live stack with its
// resources and template, and the exports with their importers; then builds
// the snapshot.
func (s *Source) discoverRegion(ctx context.Context, c *clients, observed time.Time) (*edgebatch.Batch, *stats, error) {
	id, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return nil, nil, apiFailure("sts:GetCallerIdentity", "", err)
	}
	acct := awsarn.NewAccount(aws.ToString(id.Account), c.region)
	r := &regionScan{cfn: c.cfn, acct: acct, concurrency: s.concurrency}
	if err := r.scan(ctx); err != nil {
		return nil, nil, err
	}
	g, st := r.build()
	scope := "cloudformation/" + acct.ID + "/" + c.region
	b := &edgebatch.Batch{
		V:          edgebatch.Version,
		Source:     SourceName,
		ObservedAt: observed,
		Snapshot:   &edgebatch.Snapshot{ID: scope + "/" + observed.UTC().Format(time.RFC3339), Scope: scope},
		Vertices:   g.sortedVertices(),
		Edges:      g.sortedEdges(),
	}
	// A batch the writer would refuse is better refused here, with the
	// region named, than sent to the DLQ message by message.
	if err := edgebatch.Validate(b); err != nil {
		return nil, nil, fmt.Errorf("the snapshot is not a valid edge batch: %w", err)
	}
	return b, st, nil
}

// APIError is a failed CloudFormation or STS call.
type APIError struct {
	// Op is the operation ("cloudformation:GetTemplate", ...).
	Op string
	// Stack names the stack the call was about ("name (ARN)"), if any.
	Stack string
	// Code is the API's error code (AccessDenied, Throttling, ...); empty
	// when the call failed before an answer (a cancelled context).
	Code string
	Err  error
}

func (e *APIError) Error() string {
	what := e.Op
	if e.Stack != "" {
		what += " of stack " + e.Stack
	}
	if e.Code != "" {
		return fmt.Sprintf("%s failed (%s): %v", what, e.Code, e.Err)
	}
	return fmt.Sprintf("%s failed: %v", what, e.Err)
}

func (e *APIError) Unwrap() error { return e.Err }

func apiFailure(op, stack string, err error) error {
	e := &APIError{Op: op, Stack: stack, Err: err}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		e.Code = ae.ErrorCode()
	}
	return e
}

// stats counts what a scan left out on purpose, for the log: none of it
// makes the snapshot incomplete.
type stats struct {
	stacks, resources int
	// pending are resources without a physical id yet (being created) or
	// already deleted.
	pending int
	// underivedIDs are resources whose type has no derivable ARN (they get
	// a "cfn:" id, see the package doc).
	underivedIDs int
	// rolePathUnknown are IAM roles whose template's Path is not a literal
	// (nor a parameter with a known value): their ARN assumes "/".
	rolePathUnknown int
	// strayImports are importers or exporters that ListImports/ListExports
	// named but DescribeStacks did not list (a stack created or deleted
	// during the scan).
	strayImports int
	// danglingEdges are references to a resource that has no vertex (it has
	// no physical id yet).
	danglingEdges int
}

func (st *stats) log(l *slog.Logger, region string) {
	l.Info("cloudformation: discovered", "region", region, "stacks", st.stacks, "resources", st.resources,
		"pending_resources", st.pending, "resources_without_arn", st.underivedIDs,
		"roles_with_unknown_path", st.rolePathUnknown, "stray_imports", st.strayImports,
		"dangling_references", st.danglingEdges)
}
