package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
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

	// DefaultBacklogHighWater is the ingest backlog (visible and delayed
	// messages) above which a scheduled discovery run defers and the push API
	// answers 429: about a few minutes of a small fleet's work, far below
	// what SQS holds, so a stalled fleet is noticed before the queue ages.
	DefaultBacklogHighWater = 10000
	DefaultServeAddr        = ":8081"
	DefaultServeBodyTimeout = 10 * time.Second
	// DefaultStopTimeout keeps the stop under ECS's default stopTimeout
	// (30s), after which the task is killed.
	DefaultStopTimeout = 25 * time.Second
)

// Queues a run can send to (QUEUE).
const (
	QueueIngest = "ingest"
	QueueReplay = "replay"
)

// Commands.
const (
	CommandRun    = "run"
	CommandListen = "listen"
	CommandServe  = "serve"
)

// sourceNames are the discovery sources, in the order a summary lists them.
var sourceNames = []string{"deepflow", "aws", "cloudformation", "demo"}

// orgID is a DeepFlow organisation number, 1 to 1024.
var orgID = regexp.MustCompile(`^([1-9][0-9]{0,2}|10[01][0-9]|102[0-4])$`)

// regionName is what an AWS region looks like (us-east-1, cn-north-1,
// us-gov-west-1, eu-isoe-west-1).
var regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)

// bearerToken is RFC 6750's b64token: what an Authorization: Bearer header
// can carry as it is. A token outside it could never be presented.
var bearerToken = regexp.MustCompile(`^[A-Za-z0-9._~+/-]+=*$`)

// minTokenLen is the shortest INGEST_TOKEN accepted outside
// SERVE_INSECURE_LOCAL: 16 characters of b64token, about 96 bits at best.
const minTokenLen = 16

// secret is a setting that must never reach a log or an error message: it
// prints as [redacted] through fmt (%v, %s, %q, %#v) and slog.
type secret string

func (secret) String() string                 { return "[redacted]" }
func (secret) GoString() string               { return "[redacted]" }
func (secret) LogValue() slog.Value           { return slog.StringValue("[redacted]") }
func (s secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// deepflowName is what a DeepFlow deployment's name may be: it goes into the
// snapshot scope and id.
var deepflowName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// Config is the producer's configuration. Each field has one name, used as
// the environment variable and (lower case, dashes) as the flag.
type Config struct {
	// metrics serves /metrics beside the push API; set by run from the
	// telemetry setup, not from the environment.
	metrics http.Handler

	// Command is "run" (discover on intervals, or once), "listen"
	// (rediscover what change events on the trigger queue name) or "serve"
	// (the push API, serve.go).
	Command string
	// QueueURL is the ingest queue (QUEUE_URL). Required, except by a run
	// with QUEUE=replay, which does not use it.
	QueueURL string
	// Queue is, for run, where snapshots go (QUEUE): "ingest" (QUEUE_URL;
	// the default, also when empty) or "replay" (REPLAY_QUEUE_URL, every
	// message with the attribute replay=true). A replay re-sends full
	// snapshots by hand, so it needs ONCE and never defers.
	Queue string
	// ReplayQueueURL is the replay queue (REPLAY_QUEUE_URL), for QUEUE=replay.
	ReplayQueueURL string
	// BacklogHighWater is the ingest backlog (ApproximateNumberOfMessages
	// plus ...Delayed) above which a scheduled discovery run defers (run)
	// and pushes are refused with 429 (serve) (BACKLOG_HIGH_WATER); 10000 by
	// default, 0 turns both off.
	BacklogHighWater int
	// Force makes a run send even when the backlog is above the mark
	// (FORCE, or --force): for a person re-running a discovery by hand.
	Force bool
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
	// ServeAddr is, for serve, the push API's listen address (SERVE_ADDR);
	// :8081 by default.
	ServeAddr string
	// IngestToken is, for serve, the bearer token clients must present
	// (INGEST_TOKEN, from the environment only: a flag would show it in
	// process listings and in -help's defaults). Required unless
	// ServeInsecureLocal.
	IngestToken secret
	// ServeInsecureLocal lets serve run without INGEST_TOKEN, accepting every
	// push unauthenticated (SERVE_INSECURE_LOCAL): for a development machine
	// only. With a token set, the token is still required.
	ServeInsecureLocal bool
	// ServeBodyTimeout is, for serve, how long a client may take to send a
	// request's body once its headers are in (SERVE_BODY_TIMEOUT); 10s by
	// default. A slower body is cut off with 408.
	ServeBodyTimeout time.Duration
	// StopTimeout is, for serve, how long requests in flight at SIGTERM get
	// to finish, and for listen the whole stop (STOP_TIMEOUT); 25s by
	// default, under ECS's 30s stopTimeout.
	StopTimeout time.Duration
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
	queue := fs.String("QUEUE", QueueIngest, "run: where snapshots go: ingest (QUEUE_URL) or replay (REPLAY_QUEUE_URL, each message marked replay=true; with ONCE)")
	replayQueue := fs.String("REPLAY_QUEUE_URL", "", "run: URL of the replay queue, for QUEUE=replay")
	highWater := fs.Int("BACKLOG_HIGH_WATER", DefaultBacklogHighWater, "ingest backlog (visible and delayed messages) above which a scheduled run defers and serve answers 429; 0: never")
	force := fs.Bool("FORCE", false, "run: send even when the ingest backlog is above BACKLOG_HIGH_WATER")
	serveAddr := fs.String("SERVE_ADDR", DefaultServeAddr, "serve: listen address of the push API")
	insecure := fs.Bool("SERVE_INSECURE_LOCAL", false, "serve: allow serving without INGEST_TOKEN, unauthenticated (development machines only)")
	bodyTimeout := fs.Duration("SERVE_BODY_TIMEOUT", DefaultServeBodyTimeout, "serve: longest a client may take to send a request body; slower ones get 408")
	stopTimeout := fs.Duration("STOP_TIMEOUT", DefaultStopTimeout, "serve: how long requests in flight at SIGTERM get to finish; listen: the whole stop (keep under ECS's stopTimeout)")
	logLevel := fs.String("LOG_LEVEL", DefaultLogLevel, "debug, info, warn or error")
	// INGEST_TOKEN is read from the environment only: as a flag it would show
	// in process listings, and envflag would print it as the flag's default
	// in -help.
	token := os.Getenv("INGEST_TOKEN")
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
		Queue: *queue, ReplayQueueURL: *replayQueue, BacklogHighWater: *highWater, Force: *force,
		ServeAddr: *serveAddr, IngestToken: secret(token), ServeInsecureLocal: *insecure,
		ServeBodyTimeout: *bodyTimeout, StopTimeout: *stopTimeout,
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
	replay := c.Command == CommandRun && c.Queue == QueueReplay
	if c.QueueURL == "" {
		if !replay { // a replay sends to REPLAY_QUEUE_URL only
			errs = append(errs, errors.New("QUEUE_URL is required"))
		}
	} else if !isQueueURL(c.QueueURL) {
		errs = append(errs, fmt.Errorf("QUEUE_URL %q is not a queue URL such as https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-ingest", c.QueueURL))
	}
	if c.BacklogHighWater < 0 {
		errs = append(errs, fmt.Errorf("BACKLOG_HIGH_WATER is %d; want a number of messages, or 0 to never defer or refuse", c.BacklogHighWater))
	}
	if c.Command != CommandRun && c.Queue != "" && c.Queue != QueueIngest {
		errs = append(errs, fmt.Errorf("QUEUE=%s is for run; %s sends to QUEUE_URL", c.Queue, c.Command))
	}
	if c.Command == CommandServe {
		return c.validateServe(errs)
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
	switch c.Queue {
	case "", QueueIngest:
	case QueueReplay:
		if !isQueueURL(c.ReplayQueueURL) {
			errs = append(errs, fmt.Errorf("QUEUE=replay needs REPLAY_QUEUE_URL, a queue URL such as https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-replay (got %q)", c.ReplayQueueURL))
		}
		if !c.Once {
			// A replay is a one-off re-send by hand; on intervals it would
			// feed the low-priority queue forever, bypassing the deferral.
			errs = append(errs, errors.New("QUEUE=replay re-sends the snapshots once: add ONCE (--once)"))
		}
	default:
		errs = append(errs, fmt.Errorf("QUEUE %q is not known; want %s or %s", c.Queue, QueueIngest, QueueReplay))
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

// validateServe checks serve's settings, adding to errs. Discovery settings
// (SOURCE, the intervals, AWS_REGIONS) are run's and listen's, not serve's.
func (c *Config) validateServe(errs []error) error {
	if _, _, err := net.SplitHostPort(c.ServeAddr); err != nil {
		errs = append(errs, fmt.Errorf("SERVE_ADDR %q is not a listen address such as :8081 or 127.0.0.1:8081", c.ServeAddr))
	}
	// The token itself is never put in an error: it would reach the logs.
	switch tok := string(c.IngestToken); {
	case tok == "" && !c.ServeInsecureLocal:
		errs = append(errs, errors.New("serve needs INGEST_TOKEN, the bearer token clients send (environment only; e.g. INGEST_TOKEN=$(openssl rand -hex 32)), "+
			"or SERVE_INSECURE_LOCAL=true to accept unauthenticated pushes on a development machine"))
	case tok == "":
	case !bearerToken.MatchString(tok):
		errs = append(errs, errors.New("INGEST_TOKEN cannot be sent as a bearer token: use letters, digits and - . _ ~ + / (with = only at the end), no spaces or quotes (its value is not shown)"))
	case len(tok) < minTokenLen && !c.ServeInsecureLocal:
		errs = append(errs, fmt.Errorf("INGEST_TOKEN has %d characters; want at least %d (e.g. openssl rand -hex 32)", len(tok), minTokenLen))
	}
	if c.ServeBodyTimeout <= 0 || c.ServeBodyTimeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("SERVE_BODY_TIMEOUT is %v; want more than 0 and at most 5m", c.ServeBodyTimeout))
	}
	if need := c.ServeBodyTimeout + pushSendTimeout; c.StopTimeout < need {
		// A request that began just before SIGTERM may read its body and then
		// send to SQS; a shorter stop would cut accepted work off.
		errs = append(errs, fmt.Errorf("STOP_TIMEOUT %v must cover SERVE_BODY_TIMEOUT (%v) plus the %v a send to SQS may take: at least %v", c.StopTimeout, c.ServeBodyTimeout, pushSendTimeout, need))
	}
	if c.Once {
		errs = append(errs, errors.New("ONCE is for run; serve runs until stopped"))
	}
	if c.Force {
		errs = append(errs, errors.New("FORCE is for run; serve refuses pushes above BACKLOG_HIGH_WATER (0 turns that off)"))
	}
	if _, err := c.level(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// isQueueURL reports whether u looks like a queue URL: http(s) with a host.
func isQueueURL(u string) bool {
	p, err := url.Parse(u)
	return u != "" && err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != ""
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
