package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
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

// ErrRegionNotConfigured is DiscoverStack's answer for a stack in a region
// the Source was not made for: it has no client there, and discovering it
// would also make a snapshot no full scan ever renews.
var ErrRegionNotConfigured = errors.New("cloudformation: the stack's region is not one this source discovers")

// ErrOtherAccount is DiscoverStack's answer for a stack of another account
// than the credentials': the calls would fail or, worse, describe a stack
// of the same name in our own account.
var ErrOtherAccount = errors.New("cloudformation: the stack is in another account than the one this source discovers")

// deletedMargin is how far before the previous successful scan of a region
// Discover still looks for deleted stacks (see the package doc, "Deleted
// stacks"): a scan whose snapshots the caller failed to send is made up for
// by the scans of the next hour, and clocks may differ a little.
const deletedMargin = time.Hour

// Source discovers the CloudFormation stacks of one account in a set of
// regions.
type Source struct {
	regions     []string
	clients     map[string]*clients
	log         *slog.Logger // nil means slog.Default()
	concurrency int

	mu sync.Mutex
	// scanned is, by region, the observed time of the latest Discover that
	// returned the region's snapshots; a region without one has not been
	// scanned by this process yet. It bounds which deleted stacks get an
	// empty snapshot.
	scanned map[string]time.Time
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
	s := &Source{regions: regions, clients: map[string]*clients{}, log: o.Log, concurrency: o.Concurrency,
		scanned: map[string]time.Time{}}
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

// StackScope is the snapshot scope of one stack,
// "cloudformation/<account>/<region>/<stack name>/<stack uuid>", from its
// ARN (arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>).
// The uuid makes a stack deleted and created again under the same name a new
// scope, so the sweep of one never touches the other.
func StackScope(stackARN string) (string, error) {
	a, err := parseStackARN(stackARN)
	if err != nil {
		return "", err
	}
	return "cloudformation/" + a.account + "/" + a.region + "/" + a.name + "/" + a.uuid, nil
}

// stackARN is a stack ARN's parts.
type stackARN struct {
	partition, region, account, name, uuid string
}

func parseStackARN(arn string) (stackARN, error) {
	bad := func(why string) (stackARN, error) {
		return stackARN{}, fmt.Errorf("cloudformation: %q is not a stack ARN: %s", arn, why)
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[1] == "" {
		return bad("want arn:<partition>:cloudformation:<region>:<account>:stack/<name>/<uuid>")
	}
	if parts[2] != "cloudformation" {
		return bad("the service is not cloudformation")
	}
	if parts[3] == "" || parts[4] == "" {
		return bad("no region or account")
	}
	res := strings.Split(parts[5], "/")
	if len(res) != 3 || res[0] != "stack" || res[1] == "" || res[2] == "" {
		return bad("the resource is not stack/<name>/<uuid>")
	}
	return stackARN{partition: parts[1], region: parts[3], account: parts[4], name: res[1], uuid: res[2]}, nil
}

// Discover returns, for each region, one complete snapshot per live stack
// (scope StackScope) and one empty snapshot per recently deleted stack (see
// the package doc), and an error naming every region that failed. A failed
// region contributes no snapshot: a stack's snapshot missing what a failed
// call would have shown would make the sweep retire it.
func (s *Source) Discover(ctx context.Context, observed time.Time) ([]*edgebatch.Batch, error) {
	var out []*edgebatch.Batch
	var errs []error
	// Regions run one after another; each already runs its per-stack calls
	// concurrently, and CloudFormation's rate limits are per region anyway.
	for _, region := range s.regions {
		bs, st, err := s.discoverRegion(ctx, s.clients[region], observed)
		if err != nil {
			errs = append(errs, fmt.Errorf("region %s: %w", region, err))
			continue
		}
		st.log(s.logger(), slog.LevelInfo, "region", region)
		out = append(out, bs...)
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("cloudformation: %d of %d regions failed: %w", len(errs), len(s.regions), errors.Join(errs...))
	}
	return out, nil
}

// discoverRegion reads one region: the account, every live stack with its
// resources and template, the deleted stacks, and the exports with their
// importers; then builds one snapshot per stack.
func (s *Source) discoverRegion(ctx context.Context, c *clients, observed time.Time) ([]*edgebatch.Batch, *stats, error) {
	acct, err := c.account(ctx)
	if err != nil {
		return nil, nil, err
	}
	r := s.newScan(c, acct)
	if err := r.scan(ctx); err != nil {
		return nil, nil, err
	}
	st := &stats{stacks: len(r.stacks)}
	var out []*edgebatch.Batch
	live := map[string]bool{}
	names := map[string]bool{}
	for _, stk := range r.stacks {
		live[stk.arn] = true
		names[stk.name] = true
		b, err := stackSnapshot(stk.arn, observed, r.build(stk, st))
		if err != nil {
			return nil, nil, err
		}
		out = append(out, b)
	}
	for _, e := range r.exports {
		for _, name := range e.importers {
			if !names[name] {
				// An importer DescribeStacks did not list (created
				// during the scan): its own snapshot will have the edge.
				st.strayImports++
			}
		}
	}
	since, first := s.deletedSince(c.region)
	for _, d := range r.deleted {
		switch {
		case live[d.arn]:
			// Deleted between DescribeStacks and ListStacks: this run
			// has its live snapshot (one scope, one snapshot id); the next
			// run sends the empty one, its deletion being recent.
			continue
		case !first && !d.at.IsZero() && !d.at.After(since):
			st.deletedBefore++
			continue
		}
		b, err := stackSnapshot(d.arn, observed, newGraph())
		if err != nil {
			return nil, nil, err
		}
		st.deleted++
		out = append(out, b)
	}
	s.markScanned(c.region, observed)
	return out, st, nil
}

// deletedSince is the deletion time after which a deleted stack gets an
// empty snapshot in a region's scan; first is true when this process has
// not scanned the region yet, and then every deleted stack ListStacks shows
// gets one.
func (s *Source) deletedSince(region string) (since time.Time, first bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last, ok := s.scanned[region]
	if !ok {
		return time.Time{}, true
	}
	return last.Add(-deletedMargin), false
}

// markScanned records a region's successful scan. The latest observed time
// wins: a run for an earlier time (a caller's retry) does not move it back.
func (s *Source) markScanned(region string, observed time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if observed.After(s.scanned[region]) {
		s.scanned[region] = observed
	}
}

// DiscoverStack returns the snapshot of one stack (scope StackScope), for a
// rediscovery triggered by a change of that stack: the same content as the
// stack's snapshot in a full scan. A deleted stack, or one CloudFormation
// does not know, gives the empty snapshot of its scope, whose sweep removes
// what the graph still holds of it.
//
// The stack's region must be one of the Source's (else ErrRegionNotConfigured)
// and its account the credentials' (else ErrOtherAccount).
func (s *Source) DiscoverStack(ctx context.Context, stackARN string, observed time.Time) (*edgebatch.Batch, error) {
	a, err := parseStackARN(stackARN)
	if err != nil {
		return nil, err
	}
	c := s.clients[a.region]
	if c == nil {
		return nil, fmt.Errorf("stack %s: region %s: %w", stackARN, a.region, ErrRegionNotConfigured)
	}
	acct, err := c.account(ctx)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", a.region, err)
	}
	if acct.ID != a.account {
		return nil, fmt.Errorf("stack %s: account %s, the credentials are of account %s: %w", stackARN, a.account, acct.ID, ErrOtherAccount)
	}
	r := s.newScan(c, acct)
	found, err := r.scanStack(ctx, stackARN)
	if err != nil {
		return nil, fmt.Errorf("region %s: %w", a.region, err)
	}
	st := &stats{}
	g := newGraph()
	if found {
		st.stacks = 1
		g = r.build(r.stacks[0], st)
	}
	b, err := stackSnapshot(stackARN, observed, g)
	if err != nil {
		return nil, err
	}
	st.log(s.logger(), slog.LevelDebug, "region", a.region, "stack", stackARN, "found", found)
	return b, nil
}

func (s *Source) newScan(c *clients, acct awsarn.Account) *regionScan {
	return &regionScan{cfn: c.cfn, acct: acct, concurrency: s.concurrency, known: map[string]*stack{}}
}

// account is the account id of the region's credentials.
func (c *clients) account(ctx context.Context) (awsarn.Account, error) {
	id, err := c.sts.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return awsarn.Account{}, apiFailure("sts:GetCallerIdentity", "", err)
	}
	return awsarn.NewAccount(aws.ToString(id.Account), c.region), nil
}

// stackSnapshot is the one-batch snapshot of a stack's scope holding g (an
// empty graph for a deleted stack).
func stackSnapshot(arn string, observed time.Time, g *graph) (*edgebatch.Batch, error) {
	scope, err := StackScope(arn)
	if err != nil {
		return nil, err
	}
	b := &edgebatch.Batch{
		V:          edgebatch.Version,
		Source:     SourceName,
		ObservedAt: observed,
		Snapshot:   &edgebatch.Snapshot{ID: scope + "/" + observed.UTC().Format(time.RFC3339), Scope: scope},
		Vertices:   g.sortedVertices(),
		Edges:      g.sortedEdges(),
	}
	// A batch the writer would refuse is better refused here, with the
	// stack named, than sent to the DLQ message by message.
	if err := edgebatch.Validate(b); err != nil {
		return nil, fmt.Errorf("the snapshot of stack %s is not a valid edge batch: %w", arn, err)
	}
	return b, nil
}

// APIError is a failed CloudFormation or STS call.
type APIError struct {
	// Op is the operation ("cloudformation:GetTemplate", ...).
	Op string
	// Stack names the stack the call was about ("name (ARN)", or the ARN),
	// if any.
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
// makes a snapshot incomplete.
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
	// strayImports are importers that ListImports named but DescribeStacks
	// did not list (a stack created during the scan), and literal imports
	// of an export ListExports did not list.
	strayImports int
	// danglingEdges are references to a resource that has no vertex (it has
	// no physical id yet).
	danglingEdges int
	// deleted are the empty snapshots of deleted stacks; deletedBefore the
	// deleted stacks left out because an earlier scan already returned
	// theirs.
	deleted, deletedBefore int
}

func (st *stats) log(l *slog.Logger, level slog.Level, attrs ...any) {
	l.Log(context.Background(), level, "cloudformation: discovered", append(attrs,
		"stacks", st.stacks, "resources", st.resources,
		"pending_resources", st.pending, "resources_without_arn", st.underivedIDs,
		"roles_with_unknown_path", st.rolePathUnknown, "stray_imports", st.strayImports,
		"dangling_references", st.danglingEdges,
		"deleted_stacks", st.deleted, "deleted_stacks_returned_before", st.deletedBefore)...)
}
