// Package compose checks docker-compose.yml and the configuration files it
// mounts against what the binaries read, offline: no Docker needed.
package compose

import (
	"bufio"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

const root = "../.."

type service struct {
	Image       string            `yaml:"image"`
	Build       any               `yaml:"build"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
	Volumes     []string          `yaml:"volumes"`
	Healthcheck struct {
		Test    []string `yaml:"test"`
		Disable bool     `yaml:"disable"`
	} `yaml:"healthcheck"`
	DependsOn       any    `yaml:"depends_on"`
	StopGracePeriod string `yaml:"stop_grace_period"`
}

func loadCompose(t *testing.T) map[string]service {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]service `yaml:"services"`
	}
	// yaml.v3 applies the << merge of the x-aws-local anchor.
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	return doc.Services
}

// settings scans Go sources for the settings they read: envflag
// registrations (fs.String("NAME", ...)), os.Getenv/LookupEnv and the
// telemetry setup's getenv("OTEL_...").
func settings(t *testing.T, dirs ...string) map[string]bool {
	t.Helper()
	re := regexp.MustCompile(`fs\.(?:String|Int|Bool|Duration|Float64)\("([A-Z][A-Z0-9_]*)"|os\.(?:Getenv|LookupEnv)\("([A-Z][A-Z0-9_]*)"|getenv\("([A-Z][A-Z0-9_]*)"`)
	out := map[string]bool{}
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(root, d), func(path string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && (e.Name() == "devtools" || e.Name() == "testdata") {
				return filepath.SkipDir
			}
			if e.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				out[m[1]+m[2]+m[3]] = true
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// sdkEnv are the AWS SDK's own variables (read by aws-sdk-go-v2's config
// loader, not by graphfleet's code) that a local setup uses.
var sdkEnv = []string{"AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_EC2_METADATA_DISABLED", "AWS_ENDPOINT_URL_SQS", "AWS_PROFILE"}

// otelEnv are variables the OTel SDK's exporters and resource read
// themselves (shared/telemetry hands them through).
var otelEnv = regexp.MustCompile(`^OTEL_(EXPORTER_OTLP_.*|SERVICE_NAME|RESOURCE_ATTRIBUTES|TRACES_SAMPLER(_ARG)?|BSP_.*|METRIC_EXPORT_.*|SDK_DISABLED)$`)

// binaries: what each compose service runs, which code reads its
// settings, and the settings it cannot start without.
var binaries = map[string]struct {
	bin      string
	dirs     []string
	required []string
}{
	"worker":   {"/usr/local/bin/worker", []string{"worker", "shared"}, []string{"QUEUE_URL", "NEPTUNE_ENDPOINT"}},
	"producer": {"/usr/local/bin/producer", []string{"producer", "shared"}, []string{"QUEUE_URL"}},
}

func TestComposeServicesAndEnvironment(t *testing.T) {
	svcs := loadCompose(t)
	for _, name := range []string{"sqs", "neptune", "otel-collector", "worker", "producer"} {
		if _, ok := svcs[name]; !ok {
			t.Errorf("docker-compose.yml has no %s service", name)
		}
	}
	dockerfile, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for name, b := range binaries {
		svc := svcs[name]
		if len(svc.Command) == 0 || svc.Command[0] != b.bin {
			t.Errorf("%s: command %v; want %s", name, svc.Command, b.bin)
		}
		if !strings.Contains(string(dockerfile), "/out/"+filepath.Base(b.bin)) || !strings.Contains(string(dockerfile), "/usr/local/bin/") {
			t.Errorf("the Dockerfile does not install %s", b.bin)
		}
		read := settings(t, b.dirs...)
		for env := range svc.Environment {
			if !read[env] && !slices.Contains(sdkEnv, env) && !otelEnv.MatchString(env) {
				t.Errorf("%s: environment %s is read by no part of the %s binary", name, env, name)
			}
		}
		for _, req := range b.required {
			if svc.Environment[req] == "" {
				t.Errorf("%s: required setting %s is missing", name, req)
			}
		}
	}
	// The image's HEALTHCHECK is the worker's (`worker -healthcheck` on
	// :8080); a service that runs another command from the image must
	// replace or disable it, or Docker marks it unhealthy.
	if strings.Contains(string(dockerfile), "HEALTHCHECK") {
		for name, svc := range svcs {
			if svc.Build != nil && len(svc.Command) > 0 && svc.Command[0] != "/usr/local/bin/worker" && !svc.Healthcheck.Disable && len(svc.Healthcheck.Test) == 0 {
				t.Errorf("%s runs %v from the image but inherits its worker health check; set healthcheck: {disable: true}", name, svc.Command)
			}
		}
	}
	// The producer's SOURCE names sources it knows, and needs nothing else
	// for them (deepflow would need DEEPFLOW_QUERIER_URL).
	for src := range strings.SplitSeq(svcs["producer"].Environment["SOURCE"], ",") {
		if !slices.Contains([]string{"demo", "deepflow", "aws", "cloudformation"}, src) {
			t.Errorf("producer: SOURCE %q is not a source", src)
		}
		if src == "deepflow" && svcs["producer"].Environment["DEEPFLOW_QUERIER_URL"] == "" {
			t.Error("producer: SOURCE=deepflow without DEEPFLOW_QUERIER_URL")
		}
	}
}

func hostPort(t *testing.T, raw string) (string, string) {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("%q: %v", raw, err)
	}
	return u.Hostname(), u.Port()
}

// published reports whether svc declares the container port.
func published(svc service, port string) bool {
	for _, p := range svc.Ports {
		if strings.HasSuffix(p, ":"+port) || p == port {
			return true
		}
	}
	return false
}

func TestComposeWiring(t *testing.T) {
	svcs := loadCompose(t)
	w := svcs["worker"]
	// Endpoints name services of the file, on the ports they listen on.
	for _, c := range []struct{ setting, service, port string }{
		{"QUEUE_URL", "sqs", "9324"}, {"AWS_ENDPOINT_URL_SQS", "sqs", "9324"},
		{"NEPTUNE_ENDPOINT", "neptune", "8182"}, {"OTEL_EXPORTER_OTLP_ENDPOINT", "otel-collector", "4318"},
	} {
		h, p := hostPort(t, w.Environment[c.setting])
		if h != c.service || p != c.port {
			t.Errorf("worker %s=%s: want %s:%s", c.setting, w.Environment[c.setting], c.service, c.port)
		}
		if _, ok := svcs[h]; !ok {
			t.Errorf("worker %s names %s, not a service", c.setting, h)
		}
	}
	// OTLP over HTTP (the binaries' default protocol) is the collector's 4318.
	if p := w.Environment["OTEL_EXPORTER_OTLP_PROTOCOL"]; p != "" && p != "http/protobuf" {
		t.Errorf("worker speaks OTLP %s to port 4318, the collector's HTTP receiver", p)
	}
	// HEALTH_ADDR is published and is what the health check asks.
	_, port, _ := strings.Cut(w.Environment["HEALTH_ADDR"], ":")
	if port == "" || !published(w, port) {
		t.Errorf("worker: HEALTH_ADDR %q is not among its ports %v", w.Environment["HEALTH_ADDR"], w.Ports)
	}
	if strings.Join(w.Healthcheck.Test, " ") != "CMD /usr/local/bin/worker -healthcheck" {
		t.Errorf("worker health check %v", w.Healthcheck.Test)
	}
	// The stop: STOP_TIMEOUT (25 s unless set) must fit the grace period.
	stop := 25 * time.Second
	if v := w.Environment["STOP_TIMEOUT"]; v != "" {
		stop, _ = time.ParseDuration(v)
	}
	grace, err := time.ParseDuration(w.StopGracePeriod)
	if err != nil || grace <= stop {
		t.Errorf("worker: stop_grace_period %q must exceed STOP_TIMEOUT %v (else SIGKILL cuts the drain)", w.StopGracePeriod, stop)
	}
	// The queue the URL names exists in the emulator's configuration.
	queues := elasticmqQueues(t)
	for name, svc := range svcs {
		if u := svc.Environment["QUEUE_URL"]; u != "" {
			if q := u[strings.LastIndex(u, "/")+1:]; !queues[q] {
				t.Errorf("%s: QUEUE_URL names %s, which elasticmq.conf does not create", name, q)
			}
		}
	}
	// Gremlin Server's version is the driver's: gremlin-go v3.7.4.
	gomod, _ := os.ReadFile(filepath.Join(root, "go.mod"))
	m := regexp.MustCompile(`github.com/apache/tinkerpop/gremlin-go/v3 v(\S+)`).FindSubmatch(gomod)
	if m == nil || svcs["neptune"].Image != "tinkerpop/gremlin-server:"+string(m[1]) {
		t.Errorf("neptune image %s; the driver is gremlin-go %s", svcs["neptune"].Image, m)
	}
}

// elasticmqQueues checks elasticmq.conf's structure (HOCON: balanced
// braces, the blocks ElasticMQ reads, dead-letter queues that exist) and
// returns the queues it creates.
func elasticmqQueues(t *testing.T) map[string]bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy/compose/elasticmq.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var stack []string
	queues := map[string]bool{}
	dlqRefs := map[string]string{}
	seenTop := map[string]bool{}
	assign := regexp.MustCompile(`^([A-Za-z0-9_.-]+)\s*(=|:)\s*(.+)$`)
	open := regexp.MustCompile(`^([A-Za-z0-9_.-]+)\s*\{$`)
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	line := 0
	for sc.Scan() {
		line++
		l := strings.TrimSpace(sc.Text())
		if i := strings.Index(l, "#"); i >= 0 && !strings.Contains(l[:i], `"`) {
			l = strings.TrimSpace(l[:i])
		}
		switch {
		case l == "" || strings.HasPrefix(l, "//"):
		case strings.HasPrefix(l, "include "):
			if !regexp.MustCompile(`^include (classpath|file|url)?\("?[^"]+"?\)$|^include "[^"]+"$`).MatchString(l) {
				t.Errorf("elasticmq.conf:%d: bad include %q", line, l)
			}
		case open.MatchString(l):
			name := open.FindStringSubmatch(l)[1]
			if len(stack) == 0 {
				seenTop[name] = true
			}
			if len(stack) == 1 && stack[0] == "queues" {
				queues[name] = true
			}
			stack = append(stack, name)
		case l == "}":
			if len(stack) == 0 {
				t.Fatalf("elasticmq.conf:%d: unbalanced }", line)
			}
			stack = stack[:len(stack)-1]
		case assign.MatchString(l):
			m := assign.FindStringSubmatch(l)
			if len(stack) == 3 && stack[0] == "queues" && stack[2] == "deadLettersQueue" && m[1] == "name" {
				dlqRefs[stack[1]] = strings.Trim(m[3], `"`)
			}
		default:
			t.Errorf("elasticmq.conf:%d: not HOCON as this file uses it: %q", line, l)
		}
	}
	if len(stack) != 0 {
		t.Fatalf("elasticmq.conf: unclosed blocks %v", stack)
	}
	for _, want := range []string{"node-address", "rest-sqs", "queues"} {
		if !seenTop[want] {
			t.Errorf("elasticmq.conf has no %s block", want)
		}
	}
	for q, dlq := range dlqRefs {
		if !queues[dlq] {
			t.Errorf("elasticmq.conf: %s's dead-letter queue %s is not defined", q, dlq)
		}
	}
	for _, q := range []string{"graphfleet-ingest", "graphfleet-dlq", "graphfleet-replay"} {
		if !queues[q] {
			t.Errorf("elasticmq.conf does not create %s", q)
		}
	}
	if dlqRefs["graphfleet-ingest"] != "graphfleet-dlq" {
		t.Errorf("elasticmq.conf: graphfleet-ingest redrives to %q", dlqRefs["graphfleet-ingest"])
	}
	return queues
}

// TestGremlinServerConfig: the TinkerGraph properties the compose file
// mounts over the 3.7.4 image's conf/tinkergraph-empty.properties (which
// its default gremlin-server.yaml loads as "graph") use only keys and values
// TinkerGraph 3.7.4 knows, and behave like Neptune where graphfleet relies
// on it (any id, set cardinality). Any Gremlin Server YAML placed beside it
// must parse and use serializers and settings 3.7.4 has.
func TestGremlinServerConfig(t *testing.T) {
	svcs := loadCompose(t)
	mounted := false
	for _, v := range svcs["neptune"].Volumes {
		if strings.HasPrefix(v, "./deploy/compose/tinkergraph.properties:/opt/gremlin-server/conf/tinkergraph-empty.properties") {
			mounted = true
		}
	}
	if !mounted {
		t.Errorf("neptune volumes %v: want tinkergraph.properties over conf/tinkergraph-empty.properties, the graph the image's default gremlin-server.yaml opens", svcs["neptune"].Volumes)
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy/compose/tinkergraph.properties"))
	if err != nil {
		t.Fatal(err)
	}
	idManagers := []string{"LONG", "INTEGER", "UUID", "ANY"}
	known := map[string][]string{
		"gremlin.graph":                                        {"org.apache.tinkerpop.gremlin.tinkergraph.structure.TinkerGraph", "org.apache.tinkerpop.gremlin.tinkergraph.structure.TinkerTransactionGraph"},
		"gremlin.tinkergraph.vertexIdManager":                  idManagers,
		"gremlin.tinkergraph.edgeIdManager":                    idManagers,
		"gremlin.tinkergraph.vertexPropertyIdManager":          idManagers,
		"gremlin.tinkergraph.defaultVertexPropertyCardinality": {"single", "list", "set"},
		"gremlin.tinkergraph.graphLocation":                    nil,
		"gremlin.tinkergraph.graphFormat":                      {"graphml", "graphson", "gryo"},
		"gremlin.tinkergraph.allowNullPropertyValues":          {"true", "false"},
	}
	got := map[string]string{}
	for i, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") || strings.HasPrefix(l, "!") {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if !ok {
			t.Errorf("tinkergraph.properties:%d: not key=value: %q", i+1, l)
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		allowed, isKnown := known[k]
		if !isKnown {
			t.Errorf("tinkergraph.properties:%d: TinkerGraph 3.7.4 has no setting %s", i+1, k)
		} else if allowed != nil && !slices.Contains(allowed, v) {
			t.Errorf("tinkergraph.properties:%d: %s=%s; want one of %v", i+1, k, v, allowed)
		}
		got[k] = v
	}
	for k, want := range map[string]string{"gremlin.tinkergraph.vertexIdManager": "ANY", "gremlin.tinkergraph.edgeIdManager": "ANY",
		"gremlin.tinkergraph.defaultVertexPropertyCardinality": "set"} {
		if got[k] != want {
			t.Errorf("tinkergraph.properties: %s=%q; want %s, as Neptune (string ids, set cardinality)", k, got[k], want)
		}
	}
	if got["gremlin.graph"] == "" {
		t.Error("tinkergraph.properties: gremlin.graph is not set")
	}
	// A server YAML, if one is added, must parse and name 3.7.4's pieces.
	yamls, _ := filepath.Glob(filepath.Join(root, "deploy/compose/gremlin-server*.yaml"))
	for _, y := range yamls {
		var cfg struct {
			Graphs      map[string]string `yaml:"graphs"`
			Serializers []struct {
				ClassName string `yaml:"className"`
			} `yaml:"serializers"`
		}
		yb, _ := os.ReadFile(y)
		if err := yaml.Unmarshal(yb, &cfg); err != nil {
			t.Errorf("%s: %v", y, err)
			continue
		}
		for _, s := range cfg.Serializers {
			if !regexp.MustCompile(`^org\.apache\.tinkerpop\.gremlin\.util\.ser\.(GraphBinaryMessageSerializerV1|GraphSONMessageSerializerV[1-3]|GraphSONUntypedMessageSerializerV[1-3])$`).MatchString(s.ClassName) {
				t.Errorf("%s: serializer %s is not one of TinkerPop 3.7.4's", y, s.ClassName)
			}
		}
	}
}

// TestCollectorConfig: otel-collector.yaml parses, every pipeline uses
// defined receivers, processors and exporters, and the ports it listens on
// are the compose file's.
func TestCollectorConfig(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root, "deploy/compose/otel-collector.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		Receivers  map[string]map[string]any `yaml:"receivers"`
		Processors map[string]any            `yaml:"processors"`
		Exporters  map[string]map[string]any `yaml:"exporters"`
		Extensions map[string]any            `yaml:"extensions"`
		Service    struct {
			Extensions []string                       `yaml:"extensions"`
			Pipelines  map[string]map[string][]string `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatalf("otel-collector.yaml: %v", err)
	}
	if len(cfg.Service.Pipelines) == 0 {
		t.Fatal("otel-collector.yaml: no pipelines")
	}
	defined := func(kind, name string) bool {
		switch kind {
		case "receivers":
			_, ok := cfg.Receivers[name]
			return ok
		case "processors":
			_, ok := cfg.Processors[name]
			return ok
		case "exporters":
			_, ok := cfg.Exporters[name]
			return ok
		}
		return false
	}
	for name, p := range cfg.Service.Pipelines {
		if len(p["receivers"]) == 0 || len(p["exporters"]) == 0 {
			t.Errorf("pipeline %s needs receivers and exporters", name)
		}
		for kind, names := range p {
			for _, c := range names {
				if !defined(kind, c) {
					t.Errorf("pipeline %s uses %s %s, which is not defined", name, kind, c)
				}
			}
		}
	}
	for _, e := range cfg.Service.Extensions {
		if _, ok := cfg.Extensions[e]; !ok {
			t.Errorf("service uses extension %s, which is not defined", e)
		}
	}
	svcs := loadCompose(t)
	col := svcs["otel-collector"]
	protos, _ := cfg.Receivers["otlp"]["protocols"].(map[string]any)
	for proto, port := range map[string]string{"grpc": "4317", "http": "4318"} {
		ep, _ := protos[proto].(map[string]any)["endpoint"].(string)
		if !strings.HasSuffix(ep, ":"+port) || !published(col, port) {
			t.Errorf("otlp %s receiver on %q; compose publishes %v", proto, ep, col.Ports)
		}
	}
	if ep, _ := cfg.Exporters["prometheus"]["endpoint"].(string); ep != "" {
		_, port, _ := strings.Cut(ep, ":")
		if !published(col, port) {
			t.Errorf("prometheus exporter on %s; compose publishes %v", ep, col.Ports)
		}
	}
	for name, e := range cfg.Exporters {
		if ep, _ := e["endpoint"].(string); strings.HasPrefix(name, "otlp") && ep != "" {
			host, _, _ := strings.Cut(ep, ":")
			if _, ok := svcs[host]; !ok {
				t.Errorf("exporter %s sends to %s, not a compose service", name, ep)
			}
		}
	}
}
