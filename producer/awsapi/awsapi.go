// Package awsapi is what the AWS discovery sources (producer/awsresources and
// producer/cloudformation) share about calling AWS: their options and each
// region's SDK configuration, with the one retry policy they both use.
package awsapi

import (
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// DefaultConcurrency is how many calls of one region a source runs at once:
// enough to overlap latency, few enough to stay far below the APIs' rate
// limits, which are per account and region and shared with everything else
// in the account.
const DefaultConcurrency = 4

// Options configure a source.
type Options struct {
	Log         *slog.Logger  // slog.Default() when nil
	MaxBackoff  time.Duration // the retryer's longest wait between attempts; the SDK's (20s) when 0
	Concurrency int           // calls of one region at once; DefaultConcurrency when < 1
}

// Option sets one of the Options.
type Option func(*Options)

// WithLogger logs to l instead of slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *Options) { o.Log = l } }

// WithMaxBackoff bounds the retryer's wait between attempts (20s by
// default); tests shorten it.
func WithMaxBackoff(d time.Duration) Option { return func(o *Options) { o.MaxBackoff = d } }

// WithConcurrency sets how many calls of one region run at once
// (DefaultConcurrency when n < 1).
func WithConcurrency(n int) Option { return func(o *Options) { o.Concurrency = n } }

// Resolve applies opts to the defaults.
func Resolve(opts []Option) Options {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	if o.Concurrency < 1 {
		o.Concurrency = DefaultConcurrency
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// RegionConfig is cfg (the SDK configuration from the default credential
// chain) for region, retrying throttling with the SDK's adaptive mode: after
// a throttle it also slows the client's later calls instead of only backing
// off the one that failed, which matters to a scan that calls in bursts.
// Build each region's clients once and keep them, so that the retryer
// remembers throttling from one run to the next.
func RegionConfig(cfg aws.Config, region string, o Options) aws.Config {
	c := cfg.Copy()
	c.Region = region
	c.Retryer = func() aws.Retryer {
		return retry.NewAdaptiveMode(func(ao *retry.AdaptiveModeOptions) {
			if o.MaxBackoff > 0 {
				ao.StandardOptions = append(ao.StandardOptions, func(so *retry.StandardOptions) { so.MaxBackoff = o.MaxBackoff })
			}
		})
	}
	return c
}
