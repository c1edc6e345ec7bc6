package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"go.yaml.in/yaml/v3"
)

func TestResourceCounts(t *testing.T) {
	_, tmpl, _ := synthesized(t)
	for typ, want := range map[string]float64{
		"AWS::SQS::Queue": 5, "AWS::ECS::Cluster": 1, "AWS::ECS::Service": 4, "AWS::ECS::TaskDefinition": 8,
		"AWS::Scheduler::Schedule": 3, "AWS::Events::Rule": 2, "AWS::Events::EventBus": 1,
		"AWS::ApplicationAutoScaling::ScalableTarget": 1, "AWS::ApplicationAutoScaling::ScalingPolicy": 1,
		"AWS::ElasticLoadBalancingV2::LoadBalancer": 1, "AWS::CloudWatch::Alarm": 6, "AWS::CloudWatch::Dashboard": 1,
		"AWS::Logs::LogGroup": 2, "AWS::SecretsManager::Secret": 1,
	} {
		tmpl.ResourceCountIs(jsii.String(typ), jsii.Number(want))
	}
}

func TestQueues(t *testing.T) {
	g, tmpl, doc := synthesized(t)
	queues := resources(doc, "AWS::SQS::Queue")
	for id, q := range queues {
		p := props(q)
		if p["MaximumMessageSize"] != float64(1048576) || p["SqsManagedSseEnabled"] != true {
			t.Errorf("%s: MaximumMessageSize %v, SqsManagedSseEnabled %v; want 1 MiB and SSE-SQS", id, p["MaximumMessageSize"], p["SqsManagedSseEnabled"])
		}
	}
	days := func(d float64) float64 { return d * 86400 }
	for _, c := range []struct {
		id        string
		retention float64
		dlq       string
	}{
		{idOf(g, g.Ingest.Node().DefaultChild()), days(4), idOf(g, g.DLQ.Node().DefaultChild())},
		{idOf(g, g.Replay.Node().DefaultChild()), days(14), idOf(g, g.DLQ.Node().DefaultChild())},
		{idOf(g, g.Trigger.Node().DefaultChild()), days(4), idOf(g, g.TriggerDLQ.Node().DefaultChild())},
		{idOf(g, g.DLQ.Node().DefaultChild()), days(14), ""},
		{idOf(g, g.TriggerDLQ.Node().DefaultChild()), days(14), ""},
	} {
		p := props(queues[c.id])
		if p["MessageRetentionPeriod"] != c.retention {
			t.Errorf("%s: retention %v, want %v", c.id, p["MessageRetentionPeriod"], c.retention)
		}
		rp, _ := p["RedrivePolicy"].(map[string]any)
		if c.dlq == "" {
			if rp != nil {
				t.Errorf("%s: a DLQ with a redrive policy", c.id)
			}
			continue
		}
		if rp == nil || canon(rp["deadLetterTargetArn"]) != `{"Fn::GetAtt":["`+c.dlq+`","Arn"]}` || rp["maxReceiveCount"] != float64(5) {
			t.Errorf("%s: redrive %s; want to %s after 5 receives", c.id, canon(rp), c.dlq)
		}
	}
	// EventBridge may send to the trigger queue, only from the two rules.
	var rules []any
	for _, id := range []string{"StackStatusChangeRule", "ConfigItemChangeRule"} {
		rules = append(rules, map[string]any{"Fn::GetAtt": []any{id, "Arn"}})
	}
	tmpl.HasResourceProperties(jsii.String("AWS::SQS::QueuePolicy"), map[string]any{
		"Queues": []any{map[string]any{"Ref": idOf(g, g.Trigger.Node().DefaultChild())}},
		"PolicyDocument": map[string]any{"Statement": assertions.Match_ArrayWith(&[]any{map[string]any{
			"Sid": "EventBridgeRules", "Effect": "Allow", "Action": "sqs:SendMessage",
			"Principal": map[string]any{"Service": "events.amazonaws.com"},
			"Resource":  map[string]any{"Fn::GetAtt": []any{idOf(g, g.Trigger.Node().DefaultChild()), "Arn"}},
			"Condition": map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": rules}},
		}})},
	})
}

// TestRulesMatchTrigger: the rules send what producer/trigger accepts.
func TestRulesMatchTrigger(t *testing.T) {
	g, _, doc := synthesized(t)
	src, err := os.ReadFile(filepath.Join(productRoot, "producer/trigger/trigger.go"))
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range resources(doc, "AWS::Events::Rule") {
		p := props(r)
		pat := p["EventPattern"].(map[string]any)
		source := pat["source"].([]any)[0].(string)
		detail := pat["detail-type"].([]any)[0].(string)
		accepted := `ev.Source == "` + source + `" && ev.DetailType == "` + detail + `"`
		if !strings.Contains(string(src), accepted) {
			t.Errorf("rule %s sends %s / %s, which producer/trigger does not accept (%s)", id, source, detail, accepted)
		}
		targets := p["Targets"].([]any)
		if len(targets) != 1 || canon(targets[0].(map[string]any)["Arn"]) != resolved(g, g.Trigger.QueueArn()) {
			t.Errorf("rule %s: targets %s; want the trigger queue", id, canon(targets))
		}
		if p["EventBusName"] != nil {
			t.Errorf("rule %s is on bus %v; AWS service events arrive on the default bus", id, p["EventBusName"])
		}
	}
	// listen acts on *_COMPLETE statuses only; the rule filters the rest.
	cfn := props(resources(doc, "AWS::Events::Rule")["StackStatusChangeRule"])["EventPattern"]
	if !strings.Contains(canon(cfn), `{"status":[{"suffix":"_COMPLETE"}]}`) {
		t.Errorf("stack status rule: %s", canon(cfn))
	}
}

// TestScalingPolicyBacklogPerTask: target tracking on visible ingest
// messages divided by the worker service's running tasks.
func TestScalingPolicyBacklogPerTask(t *testing.T) {
	g, tmpl, _ := synthesized(t)
	worker := idOf(g, g.Services["WorkerService"])
	cluster := idOf(g, g.Cluster)
	tmpl.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalableTarget"), map[string]any{
		"ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount",
		"MinCapacity": map[string]any{"Ref": "WorkerMinTasks"}, "MaxCapacity": map[string]any{"Ref": "WorkerMaxTasks"},
		"ResourceId": map[string]any{"Fn::Join": []any{"/", []any{"service", map[string]any{"Ref": cluster}, map[string]any{"Fn::GetAtt": []any{worker, "Name"}}}}},
	})
	tmpl.HasResourceProperties(jsii.String("AWS::ApplicationAutoScaling::ScalingPolicy"), map[string]any{
		"PolicyType": "TargetTrackingScaling",
		"TargetTrackingScalingPolicyConfiguration": map[string]any{
			"TargetValue": map[string]any{"Ref": "WorkerBacklogPerTask"},
			"CustomizedMetricSpecification": map[string]any{"Metrics": []any{
				map[string]any{"Id": "visible", "ReturnData": false, "MetricStat": map[string]any{"Stat": "Average", "Metric": map[string]any{
					"Namespace": "AWS/SQS", "MetricName": "ApproximateNumberOfMessagesVisible",
					"Dimensions": []any{map[string]any{"Name": "QueueName", "Value": map[string]any{"Fn::GetAtt": []any{idOf(g, g.Ingest.Node().DefaultChild()), "QueueName"}}}}}}},
				map[string]any{"Id": "tasks", "ReturnData": false, "MetricStat": map[string]any{"Stat": "Average", "Metric": map[string]any{
					"Namespace": "ECS/ContainerInsights", "MetricName": "RunningTaskCount",
					"Dimensions": []any{map[string]any{"Name": "ClusterName", "Value": map[string]any{"Ref": cluster}},
						map[string]any{"Name": "ServiceName", "Value": map[string]any{"Fn::GetAtt": []any{worker, "Name"}}}}}}},
				map[string]any{"Id": "backlog_per_task", "ReturnData": true, "Expression": "visible / IF(tasks > 0, tasks, 1)"},
			}},
		},
	})
	// RunningTaskCount exists only with Container Insights on.
	tmpl.HasResourceProperties(jsii.String("AWS::ECS::Cluster"), map[string]any{
		"ClusterSettings": []any{map[string]any{"Name": "containerInsights", "Value": "enabled"}},
	})
	// The worker's count belongs to the scaling target.
	if _, ok := props(resources(synthOnce.doc, "AWS::ECS::Service")[worker])["DesiredCount"]; ok {
		t.Error("the worker service sets DesiredCount: a stack update would reset what autoscaling chose")
	}
}

func TestServices(t *testing.T) {
	g, _, doc := synthesized(t)
	svcs := resources(doc, "AWS::ECS::Service")
	changes := props(svcs[idOf(g, g.Services["ChangesService"])])
	dc := changes["DeploymentConfiguration"].(map[string]any)
	if changes["DesiredCount"] != float64(1) || dc["MaximumPercent"] != float64(100) || dc["MinimumHealthyPercent"] != float64(0) {
		t.Errorf("changes service: desired %v, deployment %s; want 1 task, 100%%/0%% (never two at once)", changes["DesiredCount"], canon(dc))
	}
	serve := props(svcs[idOf(g, g.Services["ServeService"])])
	if lbs := serve["LoadBalancers"].([]any); len(lbs) != 1 || lbs[0].(map[string]any)["ContainerPort"] != float64(servePort) {
		t.Errorf("serve service load balancers: %s", canon(serve["LoadBalancers"]))
	}
	for _, lb := range resources(doc, "AWS::ElasticLoadBalancingV2::LoadBalancer") {
		if props(lb)["Scheme"] != "internal" {
			t.Errorf("push API load balancer scheme %v; want internal", props(lb)["Scheme"])
		}
	}
	for _, tg := range resources(doc, "AWS::ElasticLoadBalancingV2::TargetGroup") {
		p := props(tg)
		if p["HealthCheckPath"] != "/healthz" || p["Port"] != float64(servePort) || p["TargetType"] != "ip" {
			t.Errorf("target group: %s", canon(p))
		}
	}
	// serve's /healthz path is the one the push API serves.
	src, _ := os.ReadFile(filepath.Join(productRoot, "producer/serve.go"))
	if !strings.Contains(string(src), `"/healthz"`) {
		t.Error("producer/serve.go no longer serves /healthz")
	}
}

// containers returns each task definition's containers by name.
func containers(doc map[string]any) map[string]map[string]map[string]any {
	out := map[string]map[string]map[string]any{}
	for id, td := range resources(doc, "AWS::ECS::TaskDefinition") {
		out[id] = map[string]map[string]any{}
		for _, c := range props(td)["ContainerDefinitions"].([]any) {
			cm := c.(map[string]any)
			out[id][cm["Name"].(string)] = cm
		}
	}
	return out
}

func envOf(c map[string]any) map[string]string {
	env := map[string]string{}
	for _, e := range c["Environment"].([]any) {
		em := e.(map[string]any)
		v, ok := em["Value"].(string)
		if !ok {
			v = canon(em["Value"])
		}
		env[em["Name"].(string)] = v
	}
	for _, e := range listOrNil(c["Secrets"]) {
		env[e.(map[string]any)["Name"].(string)] = "(secret)"
	}
	return env
}

func listOrNil(v any) []any {
	l, _ := v.([]any)
	return l
}

// settingsRead scans the binaries for the settings they read: envflag
// registrations (fs.String("NAME", ...)), os.Getenv/LookupEnv, and the OTel
// and AWS SDK variables the telemetry setup and the SDK read.
func settingsRead(t *testing.T, dirs ...string) map[string]bool {
	re := regexp.MustCompile(`fs\.(?:String|Int|Bool|Duration|Float64)\("([A-Z][A-Z0-9_]*)"|os\.(?:Getenv|LookupEnv)\("([A-Z][A-Z0-9_]*)"|getenv\("([A-Z][A-Z0-9_]*)"`)
	out := map[string]bool{}
	for _, f := range goFiles(t, dirs...) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			out[m[1]+m[2]+m[3]] = true
		}
	}
	return out
}

// TestTaskDefinitions: commands, the drain (STOP_TIMEOUT under ECS's
// stopTimeout), the health check, the collector sidecar, and only settings
// the binaries read.
func TestTaskDefinitions(t *testing.T) {
	_, _, doc := synthesized(t)
	read := settingsRead(t, "worker", "producer", "shared")
	// The SDK's own variables and the OTel variables telemetry hands to the
	// exporters (OTEL_EXPORTER_OTLP_*, read inside the OTel SDK).
	for _, v := range []string{"AWS_REGION", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_METRIC_EXPORT_INTERVAL", "OTEL_SERVICE_NAME"} {
		read[v] = true
	}
	dockerfile, err := os.ReadFile(filepath.Join(productRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	for td, cs := range containers(doc) {
		app := cs["app"]
		if app == nil {
			t.Errorf("%s: no app container", td)
			continue
		}
		cmd := app["Command"].([]any)
		if bin := cmd[0].(string); !strings.Contains(string(dockerfile), bin) && !strings.Contains(string(dockerfile), filepath.Base(bin)+" ") {
			t.Errorf("%s: command %v: %s is not in the image", td, cmd, bin)
		}
		if !strings.Contains(string(dockerfile), "COPY --from=build /out/worker /out/producer /usr/local/bin/") {
			t.Error("the Dockerfile no longer puts the binaries in /usr/local/bin: update workerBin and producerBin")
		}
		env := envOf(app)
		for name := range env {
			if !read[name] {
				t.Errorf("%s sets %s, which no binary reads", td, name)
			}
		}
		if app["StopTimeout"] != float64(ecsStopTimeout) {
			t.Errorf("%s: stopTimeout %v, want %d", td, app["StopTimeout"], ecsStopTimeout)
		}
		if st, ok := env["STOP_TIMEOUT"]; ok {
			d, err := time.ParseDuration(st)
			if err != nil || d >= ecsStopTimeout*time.Second-3*time.Second {
				t.Errorf("%s: STOP_TIMEOUT %s must leave a few seconds of ECS's stopTimeout (%ds) for the last flush", td, st, ecsStopTimeout)
			}
		}
		long := strings.HasPrefix(td, "WorkerTask") || strings.HasPrefix(td, "ChangesTask") || strings.HasPrefix(td, "ServeTask")
		if long && env["STOP_TIMEOUT"] != appStopTimeout {
			t.Errorf("%s: STOP_TIMEOUT %q; set it explicitly to %s", td, env["STOP_TIMEOUT"], appStopTimeout)
		}
		if strings.HasPrefix(td, "WorkerTask") || strings.HasPrefix(td, "ChangesTask") {
			want := []string{"CMD", workerBin, "-healthcheck"}
			if strings.HasPrefix(td, "ChangesTask") {
				want = []string{"CMD", workerBin, "changes", "-healthcheck"}
			}
			if canon(app["HealthCheck"].(map[string]any)["Command"]) != canon(want) {
				t.Errorf("%s: health check %s", td, canon(app["HealthCheck"]))
			}
			if env["HEALTH_ADDR"] != ":8080" {
				t.Errorf("%s: HEALTH_ADDR %q", td, env["HEALTH_ADDR"])
			}
		}
		if strings.HasPrefix(td, "ReplayDlqTask") {
			continue // no telemetry setup in worker replay dlq
		}
		col := cs["collector"]
		if col == nil {
			t.Errorf("%s: no collector sidecar", td)
			continue
		}
		if canon(col["Image"]) != `{"Ref":"CollectorImage"}` || col["Essential"] != false {
			t.Errorf("%s: collector %s", td, canon(col))
		}
		if env["OTEL_EXPORTER_OTLP_ENDPOINT"] != "http://localhost:4317" || env["OTEL_EXPORTER_OTLP_PROTOCOL"] != "grpc" || env["OTEL_SERVICE_NAME"] == "" {
			t.Errorf("%s: OTLP settings %v", td, env)
		}
		if canon(app["DependsOn"]) != `[{"Condition":"START","ContainerName":"collector"}]` {
			t.Errorf("%s: the app should start after (and stop before) the collector: %s", td, canon(app["DependsOn"]))
		}
	}
}

func TestSchedules(t *testing.T) {
	g, _, doc := synthesized(t)
	cs := containers(doc)
	for _, src := range scheduledSources {
		s := props(resources(doc, "AWS::Scheduler::Schedule")[idOf(g, g.Schedules[src])])
		ecs := s["Target"].(map[string]any)["EcsParameters"].(map[string]any)
		td := ecs["TaskDefinitionArn"].(map[string]any)["Ref"].(string)
		app := cs[td]["app"]
		if canon(app["Command"]) != canon([]string{producerBin, "run", "--once"}) || envOf(app)["SOURCE"] != src {
			t.Errorf("schedule %s runs %s with SOURCE=%s", src, canon(app["Command"]), envOf(app)["SOURCE"])
		}
		if ecs["LaunchType"] != "FARGATE" || s["FlexibleTimeWindow"].(map[string]any)["Mode"] != "OFF" {
			t.Errorf("schedule %s: %s", src, canon(s))
		}
	}
}

// TestCollectorConfig: the sidecar's configuration parses, its pipelines
// use defined components, and every graphfleet metric the alarms and
// dashboard read is declared (with those dimensions) and published by the
// code.
func TestCollectorConfig(t *testing.T) {
	_, _, doc := synthesized(t)
	var cfg struct {
		Receivers  map[string]any `yaml:"receivers"`
		Processors map[string]any `yaml:"processors"`
		Exporters  map[string]any `yaml:"exporters"`
		Extensions map[string]any `yaml:"extensions"`
		Service    struct {
			Extensions []string                       `yaml:"extensions"`
			Pipelines  map[string]map[string][]string `yaml:"pipelines"`
		} `yaml:"service"`
	}
	if err := yaml.Unmarshal([]byte(collectorConfig()), &cfg); err != nil {
		t.Fatal(err)
	}
	for name, p := range cfg.Service.Pipelines {
		for kind, defined := range map[string]map[string]any{"receivers": cfg.Receivers, "processors": cfg.Processors, "exporters": cfg.Exporters} {
			for _, c := range p[kind] {
				if _, ok := defined[c]; !ok {
					t.Errorf("pipeline %s uses %s %s, which is not defined", name, kind, c)
				}
			}
		}
	}
	if canon(cfg.Service.Pipelines["traces"]["exporters"]) != `["awsxray"]` || canon(cfg.Service.Pipelines["metrics"]["exporters"]) != `["awsemf"]` {
		t.Errorf("pipelines: %v", cfg.Service.Pipelines)
	}
	emf := cfg.Exporters["awsemf"].(map[string]any)
	var decl []struct {
		Dimensions [][]string `yaml:"dimensions"`
		Selectors  []string   `yaml:"metric_name_selectors"`
	}
	b, _ := yaml.Marshal(emf["metric_declarations"])
	if err := yaml.Unmarshal(b, &decl); err != nil {
		t.Fatal(err)
	}
	declared := func(metric string, dims []string) bool {
		for _, d := range decl {
			for _, sel := range d.Selectors {
				if regexp.MustCompile(sel).MatchString(metric) {
					for _, set := range d.Dimensions {
						if canon(sortedCopy(set)) == canon(sortedCopy(dims)) {
							return true
						}
					}
				}
			}
		}
		return false
	}
	// Every metric of the stack's namespace in the alarms and dashboard.
	var code strings.Builder
	for _, f := range goFiles(t, "worker", "producer", "shared") {
		b, _ := os.ReadFile(f)
		code.Write(b)
	}
	seen := 0
	visit := func(where string, namespace any, name string, dims []string) {
		if canon(namespace) != `{"Fn::Sub":"Graphfleet/${AWS::StackName}"}` {
			return
		}
		seen++
		if !declared(name, dims) {
			t.Errorf("%s reads %s by %v, which the collector does not declare", where, name, dims)
		}
		if !strings.Contains(code.String(), `"`+name+`"`) {
			t.Errorf("%s reads %s, which no binary publishes", where, name)
		}
	}
	for id, a := range resources(doc, "AWS::CloudWatch::Alarm") {
		p := props(a)
		metrics := []any{p}
		if m, ok := p["Metrics"].([]any); ok {
			metrics = m
		}
		for _, m := range metrics {
			mm := m.(map[string]any)
			if stat, ok := mm["MetricStat"].(map[string]any); ok {
				mm = stat["Metric"].(map[string]any)
			}
			if mm["MetricName"] == nil {
				continue
			}
			var dims []string
			for _, d := range listOrNil(mm["Dimensions"]) {
				dims = append(dims, d.(map[string]any)["Name"].(string))
			}
			visit(id, mm["Namespace"], mm["MetricName"].(string), dims)
		}
	}
	if seen < 5 {
		t.Errorf("found %d alarm metrics in the stack's namespace", seen)
	}
	// The dashboard body is a Fn::Join; its metric arrays are
	// [namespace, name, dim, value, ...]: check the names appear declared.
	body := canon(props(firstOf(resources(doc, "AWS::CloudWatch::Dashboard")))["DashboardBody"])
	for _, m := range []string{mElements, mWriterLimit, mWriterFlight, mLagObserved, mChangesLag, mQueueDepth} {
		if !strings.Contains(body, m) {
			t.Errorf("dashboard lacks %s", m)
		}
	}
}

func sortedCopy(s []string) []string {
	c := append([]string{}, s...)
	slices.Sort(c)
	return c
}

func firstOf(m map[string]map[string]any) map[string]any {
	for _, k := range sortedKeys(m) {
		return m[k]
	}
	return nil
}

func TestAlarms(t *testing.T) {
	g, _, doc := synthesized(t)
	alarms := resources(doc, "AWS::CloudWatch::Alarm")
	get := func(name string) map[string]any { return props(alarms[idOf(g, g.Alarms[name].Node().DefaultChild())]) }
	for _, name := range []string{"DeadLetterQueueNotEmpty", "TriggerDeadLetterQueueNotEmpty"} {
		a := get(name)
		if a["MetricName"] != "ApproximateNumberOfMessagesVisible" || a["Threshold"] != float64(0) || a["ComparisonOperator"] != "GreaterThanThreshold" {
			t.Errorf("%s: %s", name, canon(a))
		}
	}
	if a := get("IngestOldestMessageAge"); a["MetricName"] != "ApproximateAgeOfOldestMessage" || canon(a["Threshold"]) != `{"Ref":"OldestMessageAlarmSeconds"}` {
		t.Errorf("oldest message alarm: %s", canon(a))
	}
	errRate := get("WorkerErrorRate")
	found := false
	for _, m := range errRate["Metrics"].([]any) {
		if m.(map[string]any)["Expression"] == errorRateExpr {
			found = true
		}
	}
	if !found {
		t.Errorf("worker error rate alarm: %s", canon(errRate))
	}
	if a := get("StreamLag"); a["MetricName"] != mChangesLag || a["TreatMissingData"] != "breaching" || canon(a["Threshold"]) != `{"Ref":"StreamLagAlarmSeconds"}` {
		t.Errorf("stream lag alarm: %s", canon(a))
	}
	for id, a := range alarms {
		if len(listOrNil(props(a)["AlarmActions"])) != 1 {
			t.Errorf("%s: no alarm action", id)
		}
	}
}
