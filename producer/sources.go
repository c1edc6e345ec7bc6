package main

import (
	"context"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/graphfleet/graphfleet/producer/awsresources"
	"github.com/graphfleet/graphfleet/producer/cloudformation"
	"github.com/graphfleet/graphfleet/producer/deepflow"
	"github.com/graphfleet/graphfleet/producer/demo"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
)

// newSource is the discovery source name, as one function from a run's time
// to that run's snapshots. Each source lives in its own package:
//
//	deepflow        producer/deepflow        call relations from a DeepFlow querier
//	aws             producer/awsresources    resources and relationships from the AWS APIs
//	cloudformation  producer/cloudformation  stacks, their resources, template references, imports
//	demo            producer/demo            the PetSite demo, no account needed
//
// awsCfg is the SDK configuration (the default credential chain) the aws and
// cloudformation sources use.
func newSource(cfg Config, name string, awsCfg aws.Config) discoverFunc {
	switch name {
	case "deepflow":
		src := &deepflow.Source{
			Client: &deepflow.Client{URL: cfg.DeepFlowQuerierURL, HTTP: &http.Client{Timeout: cfg.DiscoveryTimeout}, OrgID: cfg.DeepFlowOrgID},
			Name:   cfg.DeepFlowName,
			Window: cfg.DeepFlowWindow,
			// A page of PageSize+1 rows must fit under the querier's
			// limit, so that a cut page is told from the last one.
			ServerRowLimit: cfg.DeepFlowRowLimit,
			PageSize:       min(deepflow.DefaultPageSize, cfg.DeepFlowRowLimit-1),
		}
		return func(ctx context.Context, observed time.Time) ([]*edgebatch.Batch, error) {
			// The window ends at the run's time, in whole seconds (the
			// querier's time column).
			end := observed.UTC().Truncate(time.Second)
			b, err := src.Discover(ctx, end.Add(-cfg.DeepFlowWindow), end)
			if err != nil {
				return nil, err
			}
			return []*edgebatch.Batch{b}, nil
		}
	case "aws":
		return awsresources.New(awsCfg, regions(cfg, awsCfg)).Discover
	case "cloudformation":
		return cloudformation.New(awsCfg, regions(cfg, awsCfg)).Discover
	default:
		src := demo.New(cfg.DemoScale, 1)
		return func(_ context.Context, observed time.Time) ([]*edgebatch.Batch, error) {
			snaps := src.Snapshots(observed)
			if cfg.DemoCalls {
				return snaps, nil
			}
			var out []*edgebatch.Batch
			for _, b := range snaps {
				if b.Source != "deepflow" {
					out = append(out, b)
				}
			}
			return out, nil
		}
	}
}

// regions are the regions the AWS sources discover: AWS_REGIONS, or the
// SDK's own region.
func regions(cfg Config, awsCfg aws.Config) []string {
	if len(cfg.AWSRegions) > 0 {
		return cfg.AWSRegions
	}
	return []string{awsCfg.Region}
}
