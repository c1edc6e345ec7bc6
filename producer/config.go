package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"regexp"
	"slices"
	"strings"
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

	DefaultDemoInterval           = 30 * time.Second
	DefaultDeepFlowInterval       = time.Minute
	DefaultAWSInterval            = 15 * time.Minute
	DefaultCloudFormationInterval = 15 * time.Minute
	DefaultTriggerCoalesce        = 2 * time.Second
)

// Commands.
const (
	CommandRun    = "run"
	CommandListen = "listen"
)

// sourceNames are the discovery sources, in the order a summary lists them.
var sourceNames = []string{"deepflow", "aws", "cloudformation", "demo"}

// orgID is a DeepFlow organisation number, 1 to 1024.
var orgID = regexp.MustCompile(`^([1-9][0-9]{0,2}|10[01][0-9]|102[0-4])$`)

// regionName is what an AWS region looks like (us-east-1, cn-north-1,
// us-gov-west-1, eu-isoe-west-1).
var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// deepflowName is what a DeepFlow deployment's name may be: it goes into the
// snapshot scope and id.
var deepflowName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Config is the producer's configuration. Each field has one name, used as
// the environment variable and (lower case, dashes) as the flag.
type Config struct {
	// Command is "run" (discover on intervals, or once) or "listen"
	// (rediscover what change events on the trigger queue name).
	Command string
	// QueueURL is the ingest queue (QUEUE_URL). Required.
	QueueURL string
	// Region is the AWS region (AWS_REGION); empty leaves it to the SDK's
	// usual chain.
	Region string
	// Sources are the discovery sources to run (SOURCE, comma-separated):
	// deepflow, aws, cloudformation, demo; "demo" by default.
	Sources []string
	// Once runs each source once, prints a summary and exits, non-zero when
	// a discovery failed or a snapshot was not sealed (ONCE, or --once): the
	// shape of a scheduled ECS task. Without it, each source repeats on its
	// own interval until the process is stopped.
	Once bool
	// The time from the end of one run of a source to the start of its next
	// (DEEPFLOW_INTERVAL 1m, AWS_INTERVAL 15m, CLOUDFORMATION_INTERVAL 15m,
	// DEMO_INTERVAL 30s).
	DeepFlowInterval, AWSInterval, CloudFormationInterval, DemoInterval time.Duration
	// AWSRegions are the regions the aws and cloudformation sources discover
	// (AWS_REGIONS, comma-separated); empty means the SDK's region
	// (AWS_REGION). One snapshot per account and region.
	AWSRegions []string
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
	// DeepFlowOrgID is the DeepFlow organisation to read (DEEPFLOW_ORG_ID),
	// sent as X-Org-Id; empty means the querier's default, organisation 1.
	DeepFlowOrgID string
	// TriggerQueueURL is, for listen, the queue EventBridge delivers change
	// events to (TRIGGER_QUEUE_URL). Required for listen.
	TriggerQueueURL string
	// TriggerDLQURL is, for listen, where events that cannot be acted on go
	// with their reason (TRIGGER_DLQ_URL); empty means the trigger queue's
	// RedrivePolicy target.
	TriggerDLQURL string
	// TriggerCoalesce is, for listen, how long the first event for a stack
	// or region waits for others before its rediscovery starts
	// (TRIGGER_COALESCE); 2s by default. A stack update sends one event per
	// nested stack and Config one per resource, within a second or two.
	TriggerCoalesce time.Duration
	// LogLevel is debug, info, warn or error (LOG_LEVEL); info by default.
	LogLevel string
}

// parseConfig reads flags and the environment. Problems with the values are
// left to Config.Validate, so they are all reported at once.
func parseConfig(command string, args []string) (Config, error) {
	fs := envflag.New("producer " + command)
	queueURL := fs.String("QUEUE_URL", "", "URL of the ingest queue")
	region := fs.String("AWS_REGION", "", "AWS region of the queue (default: the SDK's chain)")
	source := fs.String("SOURCE", DefaultSource, "discovery sources, comma-separated: "+strings.Join(sourceNames, ", "))
	once := fs.Bool("ONCE", false, "run each source once, print a summary and exit (non-zero on failure)")
	dfInterval := fs.Duration("DEEPFLOW_INTERVAL", DefaultDeepFlowInterval, "deepflow: time between runs")
	awsInterval := fs.Duration("AWS_INTERVAL", DefaultAWSInterval, "aws: time between runs")
	cfnInterval := fs.Duration("CLOUDFORMATION_INTERVAL", DefaultCloudFormationInterval, "cloudformation: time between runs")
	demoInterval := fs.Duration("DEMO_INTERVAL", DefaultDemoInterval, "demo: time between runs")
	regions := fs.String("AWS_REGIONS", "", "aws, cloudformation: regions to discover, comma-separated (default: AWS_REGION)")
	timeout := fs.Duration("DISCOVERY_TIMEOUT", DefaultDiscoveryTimeout, "longest a discovery run (discovery and sending) may take; a run that exceeds it is abandoned unsealed")
	scale := fs.Int("DEMO_SCALE", DefaultDemoScale, "demo: copies of the PetSite topology (40 services and 100 calls each)")
	demoCalls := fs.Bool("DEMO_CALLS", true, "demo: send the PetSite call relations too (off when a DeepFlow source sends them)")
	querier := fs.String("DEEPFLOW_QUERIER_URL", "", "deepflow: the querier's base URL, e.g. http://deepflow-server:20416")
	window := fs.Duration("DEEPFLOW_WINDOW", DefaultDeepFlowWindow, "deepflow: how far back each run reads call relations")
	name := fs.String("DEEPFLOW_NAME", DefaultDeepFlowName, "deepflow: the deployment's name in the snapshot scope deepflow/<name>")
	rowLimit := fs.Int("DEEPFLOW_ROW_LIMIT", DefaultDeepFlowRowLimit, "deepflow: the querier's own row limit (its limit setting); pages are sized under it")
	orgID := fs.String("DEEPFLOW_ORG_ID", "", "deepflow: the organisation to read (X-Org-Id); empty means the querier's default (1)")
	triggerQueue := fs.String("TRIGGER_QUEUE_URL", "", "listen: the queue EventBridge delivers change events to")
	triggerDLQ := fs.String("TRIGGER_DLQ_URL", "", "listen: where events that cannot be acted on go (default: the trigger queue's redrive target)")
	coalesce := fs.Duration("TRIGGER_COALESCE", DefaultTriggerCoalesce, "listen: how long the first event for a stack or region waits for others")
	logLevel := fs.String("LOG_LEVEL", DefaultLogLevel, "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments %q; settings are flags (-source deepflow) or environment variables (SOURCE=deepflow)", fs.Args())
	}
	return Config{
		Command:  command,
		QueueURL: *queueURL, Region: *region, Sources: splitList(*source), Once: *once,
		DeepFlowInterval: *dfInterval, AWSInterval: *awsInterval, CloudFormationInterval: *cfnInterval, DemoInterval: *demoInterval,
		AWSRegions:       splitList(*regions),
		DiscoveryTimeout: *timeout, DemoScale: *scale, DemoCalls: *demoCalls, LogLevel: *logLevel,
		DeepFlowQuerierURL: *querier, DeepFlowWindow: *window, DeepFlowName: *name, DeepFlowRowLimit: *rowLimit,
		DeepFlowOrgID:   *orgID,
		TriggerQueueURL: *triggerQueue, TriggerDLQURL: *triggerDLQ, TriggerCoalesce: *coalesce,
	}, nil
}

// splitList splits a comma-separated setting, dropping blanks.
func splitList(s string) []string {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// has reports whether source is among the configured sources.
func (c *Config) has(source string) bool { return slices.Contains(c.Sources, source) }

// interval is how long source waits between runs.
func (c *Config) interval(source string) time.Duration {
	switch source {
	case "deepflow":
		return c.DeepFlowInterval
	case "aws":
		return c.AWSInterval
	case "cloudformation":
		return c.CloudFormationInterval
	}
	return c.DemoInterval
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if c.QueueURL == "" {
		errs = append(errs, errors.New("QUEUE_URL is required"))
	} else if u, err := url.Parse(c.QueueURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		errs = append(errs, fmt.Errorf("QUEUE_URL %q is not a queue URL such as https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-ingest", c.QueueURL))
	}
	if c.Command == CommandListen {
		// listen rediscovers with the aws and cloudformation sources; SOURCE
		// and the intervals are run's.
		for name, u := range map[string]string{"TRIGGER_QUEUE_URL": c.TriggerQueueURL, "TRIGGER_DLQ_URL": c.TriggerDLQURL} {
			if u == "" && name == "TRIGGER_DLQ_URL" {
				continue
			}
			if p, err := url.Parse(u); u == "" || err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" {
				errs = append(errs, fmt.Errorf("listen needs %s, a queue URL such as https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-trigger (got %q)", name, u))
			}
		}
		if c.TriggerCoalesce < 0 || c.TriggerCoalesce > time.Minute {
			errs = append(errs, fmt.Errorf("TRIGGER_COALESCE is %v; want 0 to 1m", c.TriggerCoalesce))
		}
		if c.Once {
			errs = append(errs, errors.New("ONCE is for run; listen runs until stopped"))
		}
		return c.validateCommon(errs)
	}
	if len(c.Sources) == 0 {
		errs = append(errs, fmt.Errorf("SOURCE is empty; the sources are: %s", strings.Join(sourceNames, ", ")))
	}
	seen := map[string]bool{}
	for _, src := range c.Sources {
		if !slices.Contains(sourceNames, src) {
			errs = append(errs, fmt.Errorf("SOURCE %q is not known; the sources are: %s", src, strings.Join(sourceNames, ", ")))
		} else if seen[src] {
			errs = append(errs, fmt.Errorf("SOURCE names %q twice", src))
		}
		seen[src] = true
		if !c.Once && c.interval(src) <= 0 {
			errs = append(errs, fmt.Errorf("%s_INTERVAL is %v; want more than 0 (or ONCE to run once)", strings.ToUpper(src), c.interval(src)))
		}
	}
	if c.has("demo") && c.DemoScale < 1 {
		errs = append(errs, fmt.Errorf("DEMO_SCALE is %d; want 1 or more", c.DemoScale))
	}
	if c.has("deepflow") {
		if u, err := url.Parse(c.DeepFlowQuerierURL); c.DeepFlowQuerierURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("SOURCE=deepflow needs DEEPFLOW_QUERIER_URL, a URL such as http://deepflow-server:20416 (got %q)", c.DeepFlowQuerierURL))
		}
		if c.DeepFlowWindow <= 0 {
			errs = append(errs, fmt.Errorf("DEEPFLOW_WINDOW is %v; want more than 0", c.DeepFlowWindow))
		} else if !c.Once && c.DeepFlowInterval > c.DeepFlowWindow {
			// Calls seen only between two windows would never be read.
			errs = append(errs, fmt.Errorf("DEEPFLOW_INTERVAL %v is longer than DEEPFLOW_WINDOW %v: calls between windows would be missed", c.DeepFlowInterval, c.DeepFlowWindow))
		}
		if c.DeepFlowRowLimit < 2 {
			errs = append(errs, fmt.Errorf("DEEPFLOW_ROW_LIMIT is %d; want the querier's limit setting (10000 by default)", c.DeepFlowRowLimit))
		}
		if c.DeepFlowOrgID != "" && !orgID.MatchString(c.DeepFlowOrgID) {
			errs = append(errs, fmt.Errorf("DEEPFLOW_ORG_ID %q: want the organisation's number (1 to 1024)", c.DeepFlowOrgID))
		}
		if !deepflowName.MatchString(c.DeepFlowName) {
			errs = append(errs, fmt.Errorf("DEEPFLOW_NAME %q: want lower-case letters, digits and dashes (at most 63)", c.DeepFlowName))
		}
	}
	return c.validateCommon(errs)
}

// validateCommon checks the settings run and listen share, adding to errs.
func (c *Config) validateCommon(errs []error) error {
	for _, r := range c.AWSRegions {
		if !regionName.MatchString(r) {
			errs = append(errs, fmt.Errorf("AWS_REGIONS: %q is not a region name such as us-east-1", r))
		}
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
