package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"time"

	"github.com/graphfleet/graphfleet/shared/envflag"
)

// Defaults of the settings that have one.
const (
	DefaultSource           = "demo"
	DefaultDiscoveryTimeout = 2 * time.Minute
	DefaultDemoScale        = 1
	DefaultLogLevel         = "info"
	DefaultDeepFlowWindow   = 5 * time.Minute
	DefaultDeepFlowName     = "default"
	DefaultDeepFlowRowLimit = 10000
)

// deepflowName is what a DeepFlow deployment's name may be: it goes into the
// snapshot scope and id.
var deepflowName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Config is the producer's configuration. Each field has one name, used as
// the environment variable and (lower case, dashes) as the flag.
type Config struct {
	// QueueURL is the ingest queue (QUEUE_URL). Required.
	QueueURL string
	// Region is the AWS region (AWS_REGION); empty leaves it to the SDK's
	// usual chain.
	Region string
	// Source is the discovery source (SOURCE): "demo" (the default) or
	// "deepflow".
	Source string
	// Interval is the time from the end of one discovery run to the start of
	// the next (INTERVAL); 0 runs once and exits, with status 1 when a
	// snapshot was not sealed.
	Interval time.Duration
	// DiscoveryTimeout bounds one discovery run, discovery and sending
	// together (DISCOVERY_TIMEOUT); 2m by default. A run that exceeds it is
	// abandoned: the snapshot being sent is not sealed and the scopes not yet
	// reached are not sent, so the next run supersedes them. It keeps a hung
	// source or a throttled queue from stalling every later run.
	DiscoveryTimeout time.Duration
	// DemoScale is, for SOURCE=demo, how many copies of the PetSite topology
	// (40 services and 100 calls each) to describe (DEMO_SCALE); 1 by default.
	DemoScale int
	// DemoCalls is, for SOURCE=demo, whether the PetSite call relations are
	// sent too (DEMO_CALLS); true by default. `make up` turns it off, since
	// a DeepFlow source from a local querier sends them there.
	DemoCalls bool
	// DeepFlowQuerierURL is, for SOURCE=deepflow, the querier's base URL
	// (DEEPFLOW_QUERIER_URL), e.g. http://deepflow-server:20416.
	DeepFlowQuerierURL string
	// DeepFlowWindow is, for SOURCE=deepflow, how far back each run reads
	// call relations (DEEPFLOW_WINDOW); 5m by default.
	DeepFlowWindow time.Duration
	// DeepFlowName names the DeepFlow deployment in the snapshot scope
	// "deepflow/<name>" (DEEPFLOW_NAME); "default" by default. Two
	// deployments must not share a name.
	DeepFlowName string
	// DeepFlowRowLimit is the querier's own row limit, its "limit" setting
	// (DEEPFLOW_ROW_LIMIT); 10000 by default, as DeepFlow ships. Pages are
	// sized under it; set it if your querier's is lower, or a page the
	// querier cut would look like the last one.
	DeepFlowRowLimit int
	// LogLevel is debug, info, warn or error (LOG_LEVEL); info by default.
	LogLevel string
}

// parseConfig reads flags and the environment. Problems with the values are
// left to Config.Validate, so they are all reported at once.
func parseConfig(args []string) (Config, error) {
	fs := envflag.New("producer")
	queueURL := fs.String("QUEUE_URL", "", "URL of the ingest queue")
	region := fs.String("AWS_REGION", "", "AWS region (default: the SDK's chain)")
	source := fs.String("SOURCE", DefaultSource, "discovery source: demo or deepflow")
	interval := fs.Duration("INTERVAL", 0, "time between discovery runs; 0 runs once and exits")
	timeout := fs.Duration("DISCOVERY_TIMEOUT", DefaultDiscoveryTimeout, "longest a discovery run (discovery and sending) may take; a run that exceeds it is abandoned unsealed")
	scale := fs.Int("DEMO_SCALE", DefaultDemoScale, "demo: copies of the PetSite topology (40 services and 100 calls each)")
	demoCalls := fs.Bool("DEMO_CALLS", true, "demo: send the PetSite call relations too (off when a DeepFlow source sends them)")
	querier := fs.String("DEEPFLOW_QUERIER_URL", "", "deepflow: the querier's base URL, e.g. http://deepflow-server:20416")
	window := fs.Duration("DEEPFLOW_WINDOW", DefaultDeepFlowWindow, "deepflow: how far back each run reads call relations")
	name := fs.String("DEEPFLOW_NAME", DefaultDeepFlowName, "deepflow: the deployment's name in the snapshot scope deepflow/<name>")
	rowLimit := fs.Int("DEEPFLOW_ROW_LIMIT", DefaultDeepFlowRowLimit, "deepflow: the querier's own row limit (its limit setting); pages are sized under it")
	logLevel := fs.String("LOG_LEVEL", DefaultLogLevel, "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	return Config{
		QueueURL: *queueURL, Region: *region, Source: *source, Interval: *interval,
		DiscoveryTimeout: *timeout, DemoScale: *scale, DemoCalls: *demoCalls, LogLevel: *logLevel,
		DeepFlowQuerierURL: *querier, DeepFlowWindow: *window, DeepFlowName: *name, DeepFlowRowLimit: *rowLimit,
	}, nil
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.QueueURL == "" {
		errs = append(errs, errors.New("QUEUE_URL is required"))
	} else if u, err := url.Parse(c.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("QUEUE_URL %q is not a queue URL such as https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-ingest", c.QueueURL))
	}
	switch c.Source {
	case "demo":
		if c.DemoScale < 1 {
			errs = append(errs, fmt.Errorf("DEMO_SCALE is %d; want 1 or more", c.DemoScale))
		}
	case "deepflow":
		if u, err := url.Parse(c.DeepFlowQuerierURL); c.DeepFlowQuerierURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("SOURCE=deepflow needs DEEPFLOW_QUERIER_URL, a URL such as http://deepflow-server:20416 (got %q)", c.DeepFlowQuerierURL))
		}
		if c.DeepFlowWindow <= 0 {
			errs = append(errs, fmt.Errorf("DEEPFLOW_WINDOW is %v; want more than 0", c.DeepFlowWindow))
		}
		if c.DeepFlowRowLimit < 2 {
			errs = append(errs, fmt.Errorf("DEEPFLOW_ROW_LIMIT is %d; want the querier's limit setting (10000 by default)", c.DeepFlowRowLimit))
		}
		if !deepflowName.MatchString(c.DeepFlowName) {
			errs = append(errs, fmt.Errorf("DEEPFLOW_NAME %q: want lower-case letters, digits and dashes (at most 63)", c.DeepFlowName))
		}
	default:
		errs = append(errs, fmt.Errorf("SOURCE %q is not known; the sources are: demo, deepflow", c.Source))
	}
	if c.Interval < 0 {
		errs = append(errs, fmt.Errorf("INTERVAL is %v; want 0 (once) or more", c.Interval))
	}
	if c.DiscoveryTimeout <= 0 {
		errs = append(errs, fmt.Errorf("DISCOVERY_TIMEOUT is %v; want more than 0", c.DiscoveryTimeout))
	}
	if _, err := c.level(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *Config) level() (slog.Level, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("LOG_LEVEL: %w", err)
	}
	return level, nil
}
