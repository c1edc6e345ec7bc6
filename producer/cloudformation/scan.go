package cloudformation

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
	"github.com/sourcegraph/conc/pool"

	"github.com/graphfleet/graphfleet/producer/awsarn"
)

// regionScan is what one discovery's API calls return, before it becomes
// graphs: the stacks to build a snapshot of (every live stack of the region
// in a full scan, the one stack in DiscoverStack) and the region's exports
// with their importers, which both need to find a stack's imports exactly.
type regionScan struct {
	cfn         *cfn.Client
	acct        awsarn.Account
	concurrency int

	stacks []*stack // sorted by ARN
	// known are the stacks whose resource lists this discovery read, by
	// ARN: the stacks above and, in DiscoverStack, a nested stack's parent.
	// They tell whether a parent's resources show its nested stack.
	known   map[string]*stack
	exports []*export
	// deleted are the stacks ListStacks shows in DELETE_COMPLETE (full
	// scans only), sorted by ARN.
	deleted []deletedStack
}

// stack is one live stack (DescribeStacks) with its resources
// (ListStackResources) and its processed template (GetTemplate).
type stack struct {
	arn, name, status string
	parent, root      string // stack ARNs; empty for a top-level stack
	// params are the parameter values DescribeStacks shows (the resolved
	// value for SSM parameter types). NoEcho values show as "****".
	params map[string]string

	resources []types.StackResourceSummary
	tmpl      *template // nil when the stack has no resource to read it for
	refs      []reference
	imports   []importUse
}

// label names the stack in an error: "name (ARN)".
func (s *stack) label() string { return s.name + " (" + s.arn + ")" }

// export is one export (ListExports) and the names of the stacks that
// import it (ListImports).
type export struct {
	name, value string
	exporter    string // stack ARN
	importers   []string
}

// deletedStack is a stack ListStacks shows as DELETE_COMPLETE.
type deletedStack struct {
	arn string
	at  time.Time // DeletionTime; zero if ListStacks did not say
}

// scan makes every call of a region's full scan. Any failure fails the
// scan: a partial one would look like complete snapshots with stacks or
// edges missing.
func (r *regionScan) scan(ctx context.Context) error {
	if err := r.describeStacks(ctx); err != nil {
		return err
	}
	if err := r.listDeleted(ctx); err != nil {
		return err
	}
	p := r.pool(ctx)
	for _, st := range r.stacks {
		r.known[st.arn] = st
		p.Go(func(ctx context.Context) error { return r.readStack(ctx, st) })
	}
	if err := p.Wait(); err != nil {
		return err
	}
	return r.readExports(ctx)
}

// scanStack makes the calls for one stack's snapshot (DiscoverStack). found
// is false when the stack is deleted or CloudFormation does not know it.
func (r *regionScan) scanStack(ctx context.Context, arn string) (found bool, err error) {
	st, err := r.describeStack(ctx, arn)
	if err != nil || st == nil {
		return false, err
	}
	r.stacks = []*stack{st}
	r.known[st.arn] = st
	if err := r.readStack(ctx, st); err != nil {
		return false, err
	}
	if st.parent != "" {
		// Which snapshot holds the parent's contains edge to this stack
		// depends on the parent's resource list (see build): read it as
		// a full scan would have, and only for a live parent, as there.
		parent, err := r.describeStack(ctx, st.parent)
		if err != nil {
			return false, err
		}
		if parent != nil {
			if err := r.listResources(ctx, parent); err != nil {
				return false, err
			}
			r.known[parent.arn] = parent
		}
	}
	// Every export and its importers, as in a full scan: ListImports is
	// the only exact account of which stack imports what.
	return true, r.readExports(ctx)
}

// readExports lists the exports and, for each, the stacks that import it.
func (r *regionScan) readExports(ctx context.Context) error {
	if err := r.listExports(ctx); err != nil {
		return err
	}
	p := r.pool(ctx)
	for _, e := range r.exports {
		p.Go(func(ctx context.Context) error { return r.listImports(ctx, e) })
	}
	return p.Wait()
}

// pool runs per-stack or per-export calls, at most r.concurrency at once.
// The first failure cancels the rest: the snapshot is lost anyway, and the
// calls left would only spend the account's shared rate limit.
func (r *regionScan) pool(ctx context.Context) *pool.ContextPool {
	return pool.New().WithMaxGoroutines(r.concurrency).WithContext(ctx).WithCancelOnError().WithFirstError()
}

func (r *regionScan) describeStacks(ctx context.Context) error {
	pages := cfn.NewDescribeStacksPaginator(r.cfn, &cfn.DescribeStacksInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return apiFailure("cloudformation:DescribeStacks", "", err)
		}
		for _, s := range page.Stacks {
			// DescribeStacks without a name lists live stacks; a deleted
			// one is not there to discover even if an answer shows it.
			if s.StackStatus == types.StackStatusDeleteComplete {
				continue
			}
			st, err := newStack(s)
			if err != nil {
				return err
			}
			r.stacks = append(r.stacks, st)
		}
	}
	slices.SortFunc(r.stacks, func(a, b *stack) int { return cmp.Compare(a.arn, b.arn) })
	return nil
}

// describeStack describes one stack by ARN; nil when it is deleted
// (DescribeStacks by ARN still answers for a deleted stack, in
// DELETE_COMPLETE) or CloudFormation does not know it.
func (r *regionScan) describeStack(ctx context.Context, arn string) (*stack, error) {
	out, err := r.cfn.DescribeStacks(ctx, &cfn.DescribeStacksInput{StackName: aws.String(arn)})
	if notExists(err) {
		return nil, nil
	}
	if err != nil {
		return nil, apiFailure("cloudformation:DescribeStacks", arn, err)
	}
	for _, s := range out.Stacks {
		if aws.ToString(s.StackId) != arn {
			continue
		}
		if s.StackStatus == types.StackStatusDeleteComplete {
			return nil, nil
		}
		return newStack(s)
	}
	// An answer without the stack asked for is not "deleted": only an
	// answer that says so may empty the stack's snapshot.
	return nil, fmt.Errorf("cloudformation:DescribeStacks of stack %s answered without that stack", arn)
}

// notExists reports whether err is CloudFormation's way of saying that it
// does not know a stack: a ValidationError "Stack with id <id> does not
// exist".
func notExists(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" &&
		strings.HasPrefix(ae.ErrorMessage(), "Stack with id ") && strings.Contains(ae.ErrorMessage(), "does not exist")
}

func newStack(s types.Stack) (*stack, error) {
	st := &stack{
		arn: aws.ToString(s.StackId), name: aws.ToString(s.StackName), status: string(s.StackStatus),
		parent: aws.ToString(s.ParentId), root: aws.ToString(s.RootId),
		params: map[string]string{},
	}
	if st.arn == "" {
		return nil, fmt.Errorf("cloudformation:DescribeStacks listed stack %q without a StackId", st.name)
	}
	for _, p := range s.Parameters {
		v := aws.ToString(p.ResolvedValue)
		if v == "" {
			v = aws.ToString(p.ParameterValue)
		}
		st.params[aws.ToString(p.ParameterKey)] = v
	}
	return st, nil
}

// listDeleted lists the stacks in DELETE_COMPLETE (CloudFormation shows them
// for 90 days), for the empty snapshots that sweep what the graph still
// holds of a stack deleted while no trigger event reached the producer.
func (r *regionScan) listDeleted(ctx context.Context) error {
	pages := cfn.NewListStacksPaginator(r.cfn, &cfn.ListStacksInput{
		StackStatusFilter: []types.StackStatus{types.StackStatusDeleteComplete},
	})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return apiFailure("cloudformation:ListStacks", "", err)
		}
		for _, s := range page.StackSummaries {
			if s.StackStatus != types.StackStatusDeleteComplete {
				continue
			}
			d := deletedStack{arn: aws.ToString(s.StackId), at: aws.ToTime(s.DeletionTime)}
			if d.arn == "" {
				return fmt.Errorf("cloudformation:ListStacks listed stack %q without a StackId", aws.ToString(s.StackName))
			}
			r.deleted = append(r.deleted, d)
		}
	}
	slices.SortFunc(r.deleted, func(a, b deletedStack) int { return cmp.Compare(a.arn, b.arn) })
	return nil
}

// readStack lists a stack's resources and, when it has any, reads its
// template for the references between them.
func (r *regionScan) readStack(ctx context.Context, st *stack) error {
	if err := r.listResources(ctx, st); err != nil {
		return err
	}
	if !slices.ContainsFunc(st.resources, hasPhysicalID) {
		// Nothing to connect (a stack in REVIEW_IN_PROGRESS has not even
		// a template to read yet).
		return nil
	}
	out, err := r.cfn.GetTemplate(ctx, &cfn.GetTemplateInput{
		StackName: aws.String(st.arn),
		// Processed: after transforms (SAM, macros), so the resources
		// and references are the ones the stack really has.
		TemplateStage: types.TemplateStageProcessed,
	})
	if err != nil {
		return apiFailure("cloudformation:GetTemplate", st.label(), err)
	}
	if st.tmpl, err = parseTemplate([]byte(aws.ToString(out.TemplateBody))); err != nil {
		return fmt.Errorf("stack %s: %w", st.label(), err)
	}
	st.refs, st.imports = st.tmpl.references()
	return nil
}

// listResources lists a stack's resources, every page.
func (r *regionScan) listResources(ctx context.Context, st *stack) error {
	pages := cfn.NewListStackResourcesPaginator(r.cfn, &cfn.ListStackResourcesInput{StackName: aws.String(st.arn)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return apiFailure("cloudformation:ListStackResources", st.label(), err)
		}
		st.resources = append(st.resources, page.StackResourceSummaries...)
	}
	return nil
}

// hasPhysicalID reports whether a resource exists as far as this source is
// concerned: it has a physical id and is not deleted. A resource being
// created has none yet; a deleted one (ListStackResources shows them for a
// while) is gone.
func hasPhysicalID(s types.StackResourceSummary) bool {
	return aws.ToString(s.PhysicalResourceId) != "" && s.ResourceStatus != types.ResourceStatusDeleteComplete
}

func (r *regionScan) listExports(ctx context.Context) error {
	pages := cfn.NewListExportsPaginator(r.cfn, &cfn.ListExportsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return apiFailure("cloudformation:ListExports", "", err)
		}
		for _, e := range page.Exports {
			r.exports = append(r.exports, &export{
				name: aws.ToString(e.Name), value: aws.ToString(e.Value), exporter: aws.ToString(e.ExportingStackId),
			})
		}
	}
	return nil
}

func (r *regionScan) listImports(ctx context.Context, e *export) error {
	pages := cfn.NewListImportsPaginator(r.cfn, &cfn.ListImportsInput{ExportName: aws.String(e.name)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if notImported(err) {
			return nil
		}
		if err != nil {
			return apiFailure("cloudformation:ListImports", "", fmt.Errorf("export %s: %w", e.name, err))
		}
		e.importers = append(e.importers, page.Imports...)
	}
	return nil
}

// notImported reports whether err is ListImports' way of saying that no
// stack imports the export: a ValidationError, "Export '<name>' is not
// imported by any stack.". Every other error, throttling that outlasted the
// retries included, is a failure.
func notImported(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "ValidationError" &&
		strings.Contains(ae.ErrorMessage(), "is not imported by any stack")
}
