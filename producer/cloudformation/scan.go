package cloudformation

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	cfn "github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"
	"github.com/sourcegraph/conc/pool"

	"github.com/graphfleet/graphfleet/producer/awsarn"
)

// regionScan is what one region's API calls return, before it becomes a
// graph.
type regionScan struct {
	cfn         *cfn.Client
	acct        awsarn.Account
	concurrency int

	stacks  []*stack
	exports []*export
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

// scan makes every call of the region. Any failure fails the scan: a partial
// one would look like a complete snapshot with stacks or edges missing.
func (r *regionScan) scan(ctx context.Context) error {
	if err := r.describeStacks(ctx); err != nil {
		return err
	}
	p := r.pool(ctx)
	for _, st := range r.stacks {
		p.Go(func(ctx context.Context) error { return r.readStack(ctx, st) })
	}
	if err := p.Wait(); err != nil {
		return err
	}
	if err := r.listExports(ctx); err != nil {
		return err
	}
	p = r.pool(ctx)
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
			st := &stack{
				arn: aws.ToString(s.StackId), name: aws.ToString(s.StackName), status: string(s.StackStatus),
				parent: aws.ToString(s.ParentId), root: aws.ToString(s.RootId),
				params: map[string]string{},
			}
			if st.arn == "" {
				return fmt.Errorf("cloudformation:DescribeStacks listed stack %q without a StackId", st.name)
			}
			for _, p := range s.Parameters {
				v := aws.ToString(p.ResolvedValue)
				if v == "" {
					v = aws.ToString(p.ParameterValue)
				}
				st.params[aws.ToString(p.ParameterKey)] = v
			}
			r.stacks = append(r.stacks, st)
		}
	}
	return nil
}

// readStack lists a stack's resources and, when it has any, reads its
// template for the references between them.
func (r *regionScan) readStack(ctx context.Context, st *stack) error {
	pages := cfn.NewListStackResourcesPaginator(r.cfn, &cfn.ListStackResourcesInput{StackName: aws.String(st.arn)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return apiFailure("cloudformation:ListStackResources", st.label(), err)
		}
		st.resources = append(st.resources, page.StackResourceSummaries...)
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
