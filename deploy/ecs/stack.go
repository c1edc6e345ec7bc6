package main

import (
	"sort"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsapplicationautoscaling"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatch"
	"github.com/aws/aws-cdk-go/awscdk/v2/awscloudwatchactions"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsec2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecr"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsecs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awselasticloadbalancingv2"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsevents"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsiam"
	"github.com/aws/aws-cdk-go/awscdk/v2/awslogs"
	"github.com/aws/aws-cdk-go/awscdk/v2/awsscheduler"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssecretsmanager"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssns"
	"github.com/aws/aws-cdk-go/awscdk/v2/awssqs"
	"github.com/aws/constructs-go/constructs/v10"
	"github.com/aws/jsii-runtime-go"
)

// Paths of the binaries in the image (Dockerfile: /usr/local/bin/worker and
// /usr/local/bin/producer; ENTRYPOINT is empty, so the command names one).
const (
	workerBin   = "/usr/local/bin/worker"
	producerBin = "/usr/local/bin/producer"
)

// Timings that must agree with the binaries' drain: the worker's and the
// push API's STOP_TIMEOUT (25 s by default, set explicitly below) fits
// inside ECS's stopTimeout with room for the telemetry flush.
const (
	appStopTimeout = "25s"
	ecsStopTimeout = 30 // seconds
	workerHealth   = ":8080"
	servePort      = 8081
)

// Graphfleet is the stack and the constructs the tests look at.
type Graphfleet struct {
	awscdk.Stack

	Ingest, DLQ, Replay, Trigger, TriggerDLQ awssqs.Queue
	Bus                                      awsevents.CfnEventBus
	Cluster                                  awsecs.CfnCluster

	// Task roles, one per kind of task, and the execution roles.
	WorkerRole, ChangesRole, ListenRole, ServeRole, ReplayDLQRole awsiam.Role
	SourceRoles                                                   map[string]awsiam.Role // deepflow, aws, cloudformation
	ExecutionRole, ServeExecutionRole, SchedulerRole              awsiam.Role

	TaskDefs map[string]awsecs.FargateTaskDefinition
	Services map[string]awsecs.CfnService

	ScalingPolicy awsapplicationautoscaling.CfnScalingPolicy
	Alarms        map[string]awscloudwatch.Alarm
	Schedules     map[string]awsscheduler.CfnSchedule
	Rules         map[string]awsevents.CfnRule
}

// Sources run as scheduled tasks, each with its own role.
var scheduledSources = []string{"deepflow", "aws", "cloudformation"}

type params struct {
	vpcID, subnets, assignPublicIP                                awscdk.CfnParameter
	neptuneEndpoint, neptunePort, neptuneResourceID, neptuneSG    awscdk.CfnParameter
	neptuneIAM                                                    awscdk.CfnParameter
	imageRepo, imageTag, collectorImage                           awscdk.CfnParameter
	workerCPU, workerMemory, workerMin, workerMax, backlogPerTask awscdk.CfnParameter
	neptuneWriters, processors                                    awscdk.CfnParameter
	taskCPU, taskMemory, serveTasks                               awscdk.CfnParameter
	deepflowURL, deepflowName, regions                            awscdk.CfnParameter
	deepflowRate, awsRate, cfnRate                                awscdk.CfnParameter
	backlogHighWater, pushCIDR, certificateARN                    awscdk.CfnParameter
	logRetention, logLevel, alarmEmail, oldestAgeAlarm, lagAlarm  awscdk.CfnParameter
}

func s(v string) *string        { return jsii.String(v) }
func n(v float64) *float64      { return jsii.Number(v) }
func ss(v ...string) *[]*string { return jsii.Strings(v...) }

// NewGraphfleet builds the whole deployment in one stack.
func NewGraphfleet(scope constructs.Construct, id string, props *awscdk.StackProps) *Graphfleet {
	stack := awscdk.NewStack(scope, s(id), props)
	g := &Graphfleet{Stack: stack, SourceRoles: map[string]awsiam.Role{}, TaskDefs: map[string]awsecs.FargateTaskDefinition{},
		Services: map[string]awsecs.CfnService{}, Alarms: map[string]awscloudwatch.Alarm{}, Schedules: map[string]awsscheduler.CfnSchedule{},
		Rules: map[string]awsevents.CfnRule{}}
	p := newParams(stack)

	hasDeepFlow := awscdk.NewCfnCondition(stack, s("HasDeepFlowQuerier"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.deepflowURL.ValueAsString(), s(""))),
	})
	hasCert := awscdk.NewCfnCondition(stack, s("HasCertificate"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.certificateARN.ValueAsString(), s(""))),
	})
	hasEmail := awscdk.NewCfnCondition(stack, s("HasAlarmEmail"), &awscdk.CfnConditionProps{
		Expression: awscdk.Fn_ConditionNot(awscdk.Fn_ConditionEquals(p.alarmEmail.ValueAsString(), s(""))),
	})

	// ---- Queues ----------------------------------------------------------
	queue := func(id string, retention awscdk.Duration, dlq awssqs.IQueue) awssqs.Queue {
		qp := &awssqs.QueueProps{
			RetentionPeriod:     retention,
			MaxMessageSizeBytes: n(1048576),
			Encryption:          awssqs.QueueEncryption_SQS_MANAGED,
			EnforceSSL:          jsii.Bool(true),
			VisibilityTimeout:   awscdk.Duration_Seconds(n(30)),
			RemovalPolicy:       awscdk.RemovalPolicy_DESTROY,
		}
		if dlq != nil {
			// 5 receives, as deploy/compose/elasticmq.conf and sqslocal.
			qp.DeadLetterQueue = &awssqs.DeadLetterQueue{Queue: dlq, MaxReceiveCount: n(5)}
		}
		return awssqs.NewQueue(stack, s(id), qp)
	}
	g.DLQ = queue("DeadLetterQueue", awscdk.Duration_Days(n(14)), nil)
	g.Ingest = queue("IngestQueue", awscdk.Duration_Days(n(4)), g.DLQ)
	g.Replay = queue("ReplayQueue", awscdk.Duration_Days(n(14)), g.DLQ)
	g.TriggerDLQ = queue("TriggerDeadLetterQueue", awscdk.Duration_Days(n(14)), nil)
	g.Trigger = queue("TriggerQueue", awscdk.Duration_Days(n(4)), g.TriggerDLQ)

	// ---- Graph-change event bus and the rules feeding the trigger queue --
	g.Bus = awsevents.NewCfnEventBus(stack, s("GraphChangeBus"), &awsevents.CfnEventBusProps{
		Name:        awscdk.Fn_Sub(s("${AWS::StackName}-graph-changes"), nil),
		Description: s("graphfleet: dependency.added/removed/deactivated, resource.added/removed from worker changes"),
	})
	rule := func(id, desc string, pattern map[string]any) awsevents.CfnRule {
		r := awsevents.NewCfnRule(stack, s(id), &awsevents.CfnRuleProps{
			Description:  s(desc),
			EventPattern: pattern,
			State:        s("ENABLED"),
			Targets: &[]any{&awsevents.CfnRule_TargetProperty{
				Arn: g.Trigger.QueueArn(), Id: s("trigger-queue"),
				RetryPolicy: &awsevents.CfnRule_RetryPolicyProperty{MaximumEventAgeInSeconds: n(86400), MaximumRetryAttempts: n(185)},
			}},
		})
		g.Rules[id] = r
		return r
	}
	// The patterns producer/trigger acts on (README, "producer listen").
	cfnRule := rule("StackStatusChangeRule", "CloudFormation stack status *_COMPLETE to graphfleet's trigger queue", map[string]any{
		"source":      []string{"aws.cloudformation"},
		"detail-type": []string{"CloudFormation Stack Status Change"},
		"detail":      map[string]any{"status-details": map[string]any{"status": []any{map[string]string{"suffix": "_COMPLETE"}}}},
	})
	configRule := rule("ConfigItemChangeRule", "AWS Config configuration item changes to graphfleet's trigger queue", map[string]any{
		"source":      []string{"aws.config"},
		"detail-type": []string{"Config Configuration Item Change"},
	})
	g.Trigger.AddToResourcePolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid:        s("EventBridgeRules"),
		Effect:     awsiam.Effect_ALLOW,
		Principals: &[]awsiam.IPrincipal{awsiam.NewServicePrincipal(s("events.amazonaws.com"), nil)},
		Actions:    ss("sqs:SendMessage"),
		Resources:  &[]*string{g.Trigger.QueueArn()},
		Conditions: &map[string]any{"ArnEquals": map[string]any{"aws:SourceArn": []*string{cfnRule.AttrArn(), configRule.AttrArn()}}},
	}))

	// ---- Network ---------------------------------------------------------
	tasksSG := awsec2.NewCfnSecurityGroup(stack, s("TasksSecurityGroup"), &awsec2.CfnSecurityGroupProps{
		GroupDescription: s("graphfleet tasks: outbound to AWS APIs, Neptune, DeepFlow"),
		VpcId:            p.vpcID.ValueAsString(),
		SecurityGroupEgress: &[]any{&awsec2.CfnSecurityGroup_EgressProperty{
			IpProtocol: s("-1"), CidrIp: s("0.0.0.0/0"), Description: s("AWS APIs, ECR, Neptune, DeepFlow querier"),
		}},
	})
	awsec2.NewCfnSecurityGroupIngress(stack, s("NeptuneFromTasks"), &awsec2.CfnSecurityGroupIngressProps{
		GroupId: p.neptuneSG.ValueAsString(), IpProtocol: s("tcp"),
		FromPort: p.neptunePort.ValueAsNumber(), ToPort: p.neptunePort.ValueAsNumber(),
		SourceSecurityGroupId: tasksSG.AttrGroupId(),
		Description:           awscdk.Fn_Sub(s("graphfleet tasks of ${AWS::StackName}"), nil),
	})
	networkConfig := func() *awsecs.CfnService_NetworkConfigurationProperty {
		return &awsecs.CfnService_NetworkConfigurationProperty{AwsvpcConfiguration: &awsecs.CfnService_AwsVpcConfigurationProperty{
			Subnets: p.subnets.ValueAsList(), SecurityGroups: &[]*string{tasksSG.AttrGroupId()}, AssignPublicIp: p.assignPublicIP.ValueAsString(),
		}}
	}

	// ---- Cluster, logs, image ----------------------------------------------
	g.Cluster = awsecs.NewCfnCluster(stack, s("Cluster"), &awsecs.CfnClusterProps{
		// Container Insights publishes ECS/ContainerInsights RunningTaskCount,
		// the denominator of backlog per task.
		ClusterSettings: &[]any{&awsecs.CfnCluster_ClusterSettingsProperty{Name: s("containerInsights"), Value: s("enabled")}},
	})
	clusterArn := awscdk.Fn_GetAtt(g.Cluster.LogicalId(), s("Arn")).ToString()
	logGroup := func(id string, retention awscdk.CfnParameter) awslogs.LogGroup {
		lg := awslogs.NewLogGroup(stack, s(id), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_ONE_MONTH, RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
		if retention != nil {
			lg.Node().DefaultChild().(awslogs.CfnLogGroup).AddPropertyOverride(s("RetentionInDays"), retention.ValueAsNumber())
		}
		return lg
	}
	appLogs := logGroup("AppLogs", p.logRetention)
	metricsLogs := awslogs.NewLogGroup(stack, s("MetricsLogs"), &awslogs.LogGroupProps{Retention: awslogs.RetentionDays_ONE_WEEK, RemovalPolicy: awscdk.RemovalPolicy_DESTROY})
	namespace := awscdk.Fn_Sub(s("Graphfleet/${AWS::StackName}"), nil)
	collectorCfg := awscdk.Fn_Sub(s(collectorConfig()), &map[string]*string{"MetricsNamespace": namespace, "MetricsLogGroup": metricsLogs.LogGroupName()})
	repo := awsecr.Repository_FromRepositoryName(stack, s("ImageRepo"), p.imageRepo.ValueAsString())
	image := awsecs.ContainerImage_FromEcrRepository(repo, p.imageTag.ValueAsString())

	// ---- Roles -------------------------------------------------------------
	ecsTasks := awsiam.NewServicePrincipal(s("ecs-tasks.amazonaws.com"), nil)
	role := func(id, desc string) awsiam.Role {
		return awsiam.NewRole(stack, s(id), &awsiam.RoleProps{AssumedBy: ecsTasks, Description: s(desc)})
	}
	g.ExecutionRole = role("ExecutionRole", "graphfleet task execution: pull the image, write logs")
	g.ServeExecutionRole = role("ServeExecutionRole", "graphfleet push API task execution: also reads INGEST_TOKEN")
	g.WorkerRole = role("WorkerTaskRole", "graphfleet worker: ingest and replay queues, Neptune")
	g.ChangesRole = role("ChangesTaskRole", "graphfleet worker changes: Neptune Streams, the graph-change bus")
	g.ListenRole = role("ListenTaskRole", "graphfleet producer listen: trigger queue, discovery, ingest queue")
	g.ServeRole = role("ServeTaskRole", "graphfleet producer serve: ingest queue")
	g.ReplayDLQRole = role("ReplayDlqTaskRole", "graphfleet worker replay dlq: DLQ to replay queue")
	for _, src := range scheduledSources {
		g.SourceRoles[src] = role("Source"+title(src)+"TaskRole", "graphfleet producer run --once, SOURCE="+src)
	}
	allow := func(r awsiam.Role, sid string, actions []string, resources ...*string) {
		sort.Strings(actions)
		r.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
			Sid: s(sid), Effect: awsiam.Effect_ALLOW, Actions: ss(actions...), Resources: &resources,
		}))
	}
	neptuneArn := awscdk.Fn_Sub(s("arn:${AWS::Partition}:neptune-db:${AWS::Region}:${AWS::AccountId}:${NeptuneClusterResourceId}/*"), nil)
	for _, grant := range iamGrants {
		r := map[string]awsiam.Role{"worker": g.WorkerRole, "changes": g.ChangesRole, "listen": g.ListenRole, "serve": g.ServeRole,
			"replay-dlq": g.ReplayDLQRole, "source-deepflow": g.SourceRoles["deepflow"], "source-aws": g.SourceRoles["aws"],
			"source-cloudformation": g.SourceRoles["cloudformation"]}[grant.Role]
		var res *string
		switch grant.Resource {
		case resIngest:
			res = g.Ingest.QueueArn()
		case resDLQ:
			res = g.DLQ.QueueArn()
		case resReplay:
			res = g.Replay.QueueArn()
		case resTrigger:
			res = g.Trigger.QueueArn()
		case resTriggerDLQ:
			res = g.TriggerDLQ.QueueArn()
		case resNeptune:
			res = neptuneArn
		case resBus:
			res = g.Bus.AttrArn()
		case resAll:
			res = s("*")
		}
		allow(r, grant.Sid, grant.Actions, res)
	}
	// Every task runs the collector: traces to X-Ray, EMF to its log group.
	for _, r := range []awsiam.Role{g.WorkerRole, g.ChangesRole, g.ListenRole, g.ServeRole, g.SourceRoles["deepflow"], g.SourceRoles["aws"], g.SourceRoles["cloudformation"]} {
		allow(r, "CollectorTraces", collectorTraceActions, s("*"))
		allow(r, "CollectorMetrics", collectorLogActions, metricsLogs.LogGroupArn())
	}

	// ---- Task definitions --------------------------------------------------
	common := func() map[string]*string {
		env := map[string]*string{"AWS_REGION": awscdk.Aws_REGION(), "LOG_LEVEL": p.logLevel.ValueAsString()}
		for k, v := range otlpEnv {
			env[k] = s(v)
		}
		return env
	}
	taskDef := func(id, family string, taskRole, execRole awsiam.Role, cpu, mem awscdk.CfnParameter) awsecs.FargateTaskDefinition {
		td := awsecs.NewFargateTaskDefinition(stack, s(id), &awsecs.FargateTaskDefinitionProps{
			Family: awscdk.Fn_Sub(s("${AWS::StackName}-"+family), nil),
			Cpu:    cpu.ValueAsNumber(), MemoryLimitMiB: mem.ValueAsNumber(), TaskRole: taskRole, ExecutionRole: execRole,
			RuntimePlatform: &awsecs.RuntimePlatform{CpuArchitecture: awsecs.CpuArchitecture_X86_64(), OperatingSystemFamily: awsecs.OperatingSystemFamily_LINUX()},
		})
		g.TaskDefs[id] = td
		return td
	}
	withCollector := func(td awsecs.FargateTaskDefinition, app awsecs.ContainerDefinition, prefix string) {
		col := td.AddContainer(s("collector"), &awsecs.ContainerDefinitionOptions{
			ContainerName:        s("collector"),
			Image:                awsecs.ContainerImage_FromRegistry(p.collectorImage.ValueAsString(), nil),
			Essential:            jsii.Bool(false),
			MemoryReservationMiB: n(64),
			Environment:          &map[string]*string{"AOT_CONFIG_CONTENT": collectorCfg, "AWS_REGION": awscdk.Aws_REGION()},
			Logging:              awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{LogGroup: appLogs, StreamPrefix: s(prefix + "-collector")}),
			HealthCheck: &awsecs.HealthCheck{Command: ss("CMD", "/healthcheck"), Interval: awscdk.Duration_Seconds(n(15)),
				Timeout: awscdk.Duration_Seconds(n(5)), Retries: n(3), StartPeriod: awscdk.Duration_Seconds(n(10))},
		})
		// Started before the app and, as ECS reverses dependencies on the
		// way down, stopped after it: the app's last flush reaches it.
		app.AddContainerDependencies(&awsecs.ContainerDependency{Container: col, Condition: awsecs.ContainerDependencyCondition_START})
	}
	app := func(td awsecs.FargateTaskDefinition, prefix string, command []string, env map[string]*string, opts *awsecs.ContainerDefinitionOptions) awsecs.ContainerDefinition {
		if opts == nil {
			opts = &awsecs.ContainerDefinitionOptions{}
		}
		opts.ContainerName = s("app")
		opts.Image = image
		opts.Command = ss(command...)
		opts.Environment = &env
		opts.Essential = jsii.Bool(true)
		opts.StopTimeout = awscdk.Duration_Seconds(n(ecsStopTimeout))
		opts.Logging = awsecs.LogDriver_AwsLogs(&awsecs.AwsLogDriverProps{LogGroup: appLogs, StreamPrefix: s(prefix)})
		c := td.AddContainer(s("app"), opts)
		return c
	}
	healthCheck := &awsecs.HealthCheck{Command: ss("CMD", workerBin, "-healthcheck"), Interval: awscdk.Duration_Seconds(n(15)),
		Timeout: awscdk.Duration_Seconds(n(5)), Retries: n(3), StartPeriod: awscdk.Duration_Seconds(n(10))}
	neptuneEndpoint := awscdk.Fn_Sub(s("wss://${NeptuneEndpoint}:${NeptunePort}/gremlin"), nil)

	// worker
	workerTD := taskDef("WorkerTask", "worker", g.WorkerRole, g.ExecutionRole, p.workerCPU, p.workerMemory)
	env := common()
	env["OTEL_SERVICE_NAME"] = s(svcWorker)
	env["QUEUE_URL"] = g.Ingest.QueueUrl()
	env["DLQ_URL"] = g.DLQ.QueueUrl()
	env["REPLAY_QUEUE_URL"] = g.Replay.QueueUrl()
	env["NEPTUNE_ENDPOINT"] = neptuneEndpoint
	env["NEPTUNE_IAM_AUTH"] = p.neptuneIAM.ValueAsString()
	env["NEPTUNE_WRITERS"] = p.neptuneWriters.ValueAsString()
	env["PROCESSORS"] = p.processors.ValueAsString()
	env["STOP_TIMEOUT"] = s(appStopTimeout)
	env["HEALTH_ADDR"] = s(workerHealth)
	withCollector(workerTD, app(workerTD, "worker", []string{workerBin}, env, &awsecs.ContainerDefinitionOptions{
		HealthCheck: healthCheck, PortMappings: &[]*awsecs.PortMapping{{ContainerPort: n(8080)}},
	}), "worker")

	// worker changes: one task per cluster
	changesTD := taskDef("ChangesTask", "changes", g.ChangesRole, g.ExecutionRole, p.taskCPU, p.taskMemory)
	env = common()
	env["OTEL_SERVICE_NAME"] = s(svcChanges)
	env["NEPTUNE_ENDPOINT"] = neptuneEndpoint
	env["NEPTUNE_IAM_AUTH"] = p.neptuneIAM.ValueAsString()
	env["EVENT_BUS_NAME"] = g.Bus.Ref()
	env["CHANGES_POLL_INTERVAL"] = s("1s")
	env["HEALTH_ADDR"] = s(workerHealth)
	env["STOP_TIMEOUT"] = s(appStopTimeout)
	changesHealth := &awsecs.HealthCheck{Command: ss("CMD", workerBin, "changes", "-healthcheck"), Interval: awscdk.Duration_Seconds(n(15)),
		Timeout: awscdk.Duration_Seconds(n(5)), Retries: n(3), StartPeriod: awscdk.Duration_Seconds(n(10))}
	withCollector(changesTD, app(changesTD, "changes", []string{workerBin, "changes"}, env, &awsecs.ContainerDefinitionOptions{
		HealthCheck: changesHealth, PortMappings: &[]*awsecs.PortMapping{{ContainerPort: n(8080)}},
	}), "changes")

	// producer listen
	listenTD := taskDef("ListenTask", "listen", g.ListenRole, g.ExecutionRole, p.taskCPU, p.taskMemory)
	env = common()
	env["OTEL_SERVICE_NAME"] = s(svcListen)
	env["QUEUE_URL"] = g.Ingest.QueueUrl()
	env["TRIGGER_QUEUE_URL"] = g.Trigger.QueueUrl()
	env["TRIGGER_DLQ_URL"] = g.TriggerDLQ.QueueUrl()
	env["AWS_REGIONS"] = p.regions.ValueAsString()
	withCollector(listenTD, app(listenTD, "listen", []string{producerBin, "listen"}, env, nil), "listen")

	// producer serve, behind an internal ALB
	token := awssecretsmanager.NewSecret(stack, s("IngestToken"), &awssecretsmanager.SecretProps{
		Description: s("graphfleet push API bearer token (INGEST_TOKEN)"),
		GenerateSecretString: &awssecretsmanager.SecretStringGenerator{
			PasswordLength: n(64), ExcludePunctuation: jsii.Bool(true), IncludeSpace: jsii.Bool(false),
		},
		RemovalPolicy: awscdk.RemovalPolicy_DESTROY,
	})
	serveTD := taskDef("ServeTask", "serve", g.ServeRole, g.ServeExecutionRole, p.taskCPU, p.taskMemory)
	env = common()
	env["OTEL_SERVICE_NAME"] = s(svcServe)
	env["QUEUE_URL"] = g.Ingest.QueueUrl()
	env["SERVE_ADDR"] = s(":8081")
	env["STOP_TIMEOUT"] = s(appStopTimeout)
	env["BACKLOG_HIGH_WATER"] = p.backlogHighWater.ValueAsString()
	withCollector(serveTD, app(serveTD, "serve", []string{producerBin, "serve"}, env, &awsecs.ContainerDefinitionOptions{
		Secrets:      &map[string]awsecs.Secret{"INGEST_TOKEN": awsecs.Secret_FromSecretsManager(token, nil)},
		PortMappings: &[]*awsecs.PortMapping{{ContainerPort: n(servePort)}},
	}), "serve")

	// scheduled discovery runs, one task definition (and role) per source
	for _, src := range scheduledSources {
		td := taskDef("Source"+title(src)+"Task", "run-"+src, g.SourceRoles[src], g.ExecutionRole, p.taskCPU, p.taskMemory)
		env = common()
		env["OTEL_SERVICE_NAME"] = s(svcProducer + "-" + src)
		env["QUEUE_URL"] = g.Ingest.QueueUrl()
		env["SOURCE"] = s(src)
		env["BACKLOG_HIGH_WATER"] = p.backlogHighWater.ValueAsString()
		switch src {
		case "deepflow":
			env["DEEPFLOW_QUERIER_URL"] = p.deepflowURL.ValueAsString()
			env["DEEPFLOW_NAME"] = p.deepflowName.ValueAsString()
			// Each run reads a window a little longer than the schedule's
			// rate, so calls between two runs are not missed.
			env["DEEPFLOW_WINDOW"] = s("6m")
		default:
			env["AWS_REGIONS"] = p.regions.ValueAsString()
		}
		withCollector(td, app(td, "run-"+src, []string{producerBin, "run", "--once"}, env, nil), "run-"+src)
	}

	// worker replay dlq, run by hand (aws ecs run-task); no telemetry setup.
	replayTD := taskDef("ReplayDlqTask", "replay-dlq", g.ReplayDLQRole, g.ExecutionRole, p.taskCPU, p.taskMemory)
	app(replayTD, "replay-dlq", []string{workerBin, "replay", "dlq"}, map[string]*string{
		"AWS_REGION": awscdk.Aws_REGION(), "DLQ_URL": g.DLQ.QueueUrl(), "REPLAY_QUEUE_URL": g.Replay.QueueUrl(), "REPLAY_RATE": s("50"),
	}, nil)

	// ---- Services ------------------------------------------------------------
	service := func(id string, td awsecs.FargateTaskDefinition, desired *float64, maxPct, minPct float64) awsecs.CfnService {
		svc := awsecs.NewCfnService(stack, s(id), &awsecs.CfnServiceProps{
			Cluster:        g.Cluster.Ref(),
			TaskDefinition: td.TaskDefinitionArn(),
			LaunchType:     s("FARGATE"),
			DesiredCount:   desired,
			DeploymentConfiguration: &awsecs.CfnService_DeploymentConfigurationProperty{
				MaximumPercent: n(maxPct), MinimumHealthyPercent: n(minPct),
				DeploymentCircuitBreaker: &awsecs.CfnService_DeploymentCircuitBreakerProperty{Enable: jsii.Bool(true), Rollback: jsii.Bool(true)},
			},
			NetworkConfiguration: networkConfig(),
			PropagateTags:        s("SERVICE"),
			EnableEcsManagedTags: jsii.Bool(true),
		})
		g.Services[id] = svc
		return svc
	}
	// The worker's count belongs to the scaling target: no DesiredCount, so
	// a stack update does not reset it.
	worker := service("WorkerService", workerTD, nil, 200, 100)
	// One changes task at a time, never two: stop the old before starting
	// the new.
	service("ChangesService", changesTD, n(1), 100, 0)
	service("ListenService", listenTD, n(1), 200, 100)

	albSG := awsec2.NewCfnSecurityGroup(stack, s("PushApiLoadBalancerSecurityGroup"), &awsec2.CfnSecurityGroupProps{
		GroupDescription: s("graphfleet push API load balancer"),
		VpcId:            p.vpcID.ValueAsString(),
		SecurityGroupIngress: &[]any{&awsec2.CfnSecurityGroup_IngressProperty{
			IpProtocol: s("tcp"), CidrIp: p.pushCIDR.ValueAsString(),
			FromPort: ifNum(hasCert, 443, 80), ToPort: ifNum(hasCert, 443, 80),
			Description: s("push API clients"),
		}},
	})
	awsec2.NewCfnSecurityGroupIngress(stack, s("TasksFromPushApiLoadBalancer"), &awsec2.CfnSecurityGroupIngressProps{
		GroupId: tasksSG.AttrGroupId(), IpProtocol: s("tcp"), FromPort: n(servePort), ToPort: n(servePort),
		SourceSecurityGroupId: albSG.AttrGroupId(), Description: s("push API load balancer to producer serve"),
	})
	alb := awselasticloadbalancingv2.NewCfnLoadBalancer(stack, s("PushApiLoadBalancer"), &awselasticloadbalancingv2.CfnLoadBalancerProps{
		Scheme: s("internal"), Type: s("application"), Subnets: p.subnets.ValueAsList(), SecurityGroups: &[]*string{albSG.AttrGroupId()},
		LoadBalancerAttributes: &[]any{&awselasticloadbalancingv2.CfnLoadBalancer_LoadBalancerAttributeProperty{Key: s("routing.http.drop_invalid_header_fields.enabled"), Value: s("true")}},
	})
	tg := awselasticloadbalancingv2.NewCfnTargetGroup(stack, s("PushApiTargetGroup"), &awselasticloadbalancingv2.CfnTargetGroupProps{
		TargetType: s("ip"), Protocol: s("HTTP"), Port: n(servePort), VpcId: p.vpcID.ValueAsString(),
		HealthCheckPath: s("/healthz"), HealthCheckProtocol: s("HTTP"), HealthCheckIntervalSeconds: n(15), HealthCheckTimeoutSeconds: n(5),
		HealthyThresholdCount: n(2), UnhealthyThresholdCount: n(3), Matcher: &awselasticloadbalancingv2.CfnTargetGroup_MatcherProperty{HttpCode: s("200")},
		// Under the push API's STOP_TIMEOUT: requests drain before SIGTERM.
		TargetGroupAttributes: &[]any{&awselasticloadbalancingv2.CfnTargetGroup_TargetGroupAttributeProperty{Key: s("deregistration_delay.timeout_seconds"), Value: s("20")}},
	})
	listener := awselasticloadbalancingv2.NewCfnListener(stack, s("PushApiListener"), &awselasticloadbalancingv2.CfnListenerProps{
		LoadBalancerArn: alb.Ref(),
		Port:            ifNum(hasCert, 443, 80),
		Protocol:        awscdk.Fn_ConditionIf(hasCert.LogicalId(), s("HTTPS"), s("HTTP")).ToString(),
		Certificates: awscdk.Fn_ConditionIf(hasCert.LogicalId(),
			[]any{map[string]any{"CertificateArn": p.certificateARN.ValueAsString()}}, awscdk.Aws_NO_VALUE()),
		SslPolicy:      awscdk.Fn_ConditionIf(hasCert.LogicalId(), s("ELBSecurityPolicy-TLS13-1-2-2021-06"), awscdk.Aws_NO_VALUE()).ToString(),
		DefaultActions: &[]any{&awselasticloadbalancingv2.CfnListener_ActionProperty{Type: s("forward"), TargetGroupArn: tg.Ref()}},
	})
	serve := service("ServeService", serveTD, p.serveTasks.ValueAsNumber(), 200, 100)
	serve.SetLoadBalancers(&[]any{&awsecs.CfnService_LoadBalancerProperty{ContainerName: s("app"), ContainerPort: n(servePort), TargetGroupArn: tg.Ref()}})
	serve.SetHealthCheckGracePeriodSeconds(n(30))
	serve.AddDependency(listener)

	// ---- Backlog-per-task scaling of the worker ------------------------------
	target := awsapplicationautoscaling.NewCfnScalableTarget(stack, s("WorkerScalableTarget"), &awsapplicationautoscaling.CfnScalableTargetProps{
		ServiceNamespace: s("ecs"), ScalableDimension: s("ecs:service:DesiredCount"),
		ResourceId:  awscdk.Fn_Join(s("/"), ss("service", *g.Cluster.Ref(), *worker.AttrName())),
		MinCapacity: p.workerMin.ValueAsNumber(), MaxCapacity: p.workerMax.ValueAsNumber(),
	})
	g.ScalingPolicy = awsapplicationautoscaling.NewCfnScalingPolicy(stack, s("WorkerBacklogPerTaskPolicy"), &awsapplicationautoscaling.CfnScalingPolicyProps{
		PolicyName:      awscdk.Fn_Sub(s("${AWS::StackName}-worker-backlog-per-task"), nil),
		PolicyType:      s("TargetTrackingScaling"),
		ScalingTargetId: target.Ref(),
		TargetTrackingScalingPolicyConfiguration: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingScalingPolicyConfigurationProperty{
			TargetValue:      p.backlogPerTask.ValueAsNumber(),
			ScaleOutCooldown: n(60),
			ScaleInCooldown:  n(300),
			CustomizedMetricSpecification: &awsapplicationautoscaling.CfnScalingPolicy_CustomizedMetricSpecificationProperty{
				Metrics: &[]any{
					&awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
						Id: s("visible"), ReturnData: jsii.Bool(false), Label: s("ingest messages visible"),
						MetricStat: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricStatProperty{
							Stat: s("Average"),
							Metric: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricProperty{
								Namespace: s("AWS/SQS"), MetricName: s("ApproximateNumberOfMessagesVisible"),
								Dimensions: &[]any{&awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDimensionProperty{Name: s("QueueName"), Value: g.Ingest.QueueName()}},
							},
						},
					},
					&awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
						Id: s("tasks"), ReturnData: jsii.Bool(false), Label: s("worker tasks running"),
						MetricStat: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricStatProperty{
							Stat: s("Average"),
							Metric: &awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricProperty{
								Namespace: s("ECS/ContainerInsights"), MetricName: s("RunningTaskCount"),
								Dimensions: &[]any{
									&awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDimensionProperty{Name: s("ClusterName"), Value: g.Cluster.Ref()},
									&awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDimensionProperty{Name: s("ServiceName"), Value: worker.AttrName()},
								},
							},
						},
					},
					&awsapplicationautoscaling.CfnScalingPolicy_TargetTrackingMetricDataQueryProperty{
						Id: s("backlog_per_task"), ReturnData: jsii.Bool(true), Label: s("ingest backlog per worker task"),
						Expression: s(backlogPerTaskExpr),
					},
				},
			},
		},
	})

	// ---- Schedules -------------------------------------------------------------
	g.SchedulerRole = awsiam.NewRole(stack, s("SchedulerRole"), &awsiam.RoleProps{
		Description: s("EventBridge Scheduler: run graphfleet's discovery tasks"),
		AssumedBy: awsiam.NewServicePrincipal(s("scheduler.amazonaws.com"), &awsiam.ServicePrincipalOpts{
			Conditions: &map[string]any{"StringEquals": map[string]any{"aws:SourceAccount": awscdk.Aws_ACCOUNT_ID()}},
		}),
	})
	var tdArns, passRoles []*string
	for _, src := range scheduledSources {
		tdArns = append(tdArns, g.TaskDefs["Source"+title(src)+"Task"].TaskDefinitionArn())
		passRoles = append(passRoles, g.SourceRoles[src].RoleArn())
	}
	passRoles = append(passRoles, g.ExecutionRole.RoleArn())
	g.SchedulerRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: s("RunDiscoveryTasks"), Actions: ss("ecs:RunTask"), Resources: &tdArns,
		Conditions: &map[string]any{"ArnEquals": map[string]any{"ecs:cluster": clusterArn}},
	}))
	g.SchedulerRole.AddToPrincipalPolicy(awsiam.NewPolicyStatement(&awsiam.PolicyStatementProps{
		Sid: s("PassDiscoveryTaskRoles"), Actions: ss("iam:PassRole"), Resources: &passRoles,
		Conditions: &map[string]any{"StringEquals": map[string]any{"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
	}))
	rates := map[string]awscdk.CfnParameter{"deepflow": p.deepflowRate, "aws": p.awsRate, "cloudformation": p.cfnRate}
	for _, src := range scheduledSources {
		state := s("ENABLED")
		if src == "deepflow" {
			state = awscdk.Fn_ConditionIf(hasDeepFlow.LogicalId(), s("ENABLED"), s("DISABLED")).ToString()
		}
		g.Schedules[src] = awsscheduler.NewCfnSchedule(stack, s("Schedule"+title(src)), &awsscheduler.CfnScheduleProps{
			Description:        s("graphfleet producer run --once, SOURCE=" + src),
			ScheduleExpression: rates[src].ValueAsString(),
			FlexibleTimeWindow: &awsscheduler.CfnSchedule_FlexibleTimeWindowProperty{Mode: s("OFF")},
			State:              state,
			Target: &awsscheduler.CfnSchedule_TargetProperty{
				Arn: clusterArn, RoleArn: g.SchedulerRole.RoleArn(),
				// A missed run is superseded by the next: retry briefly only.
				RetryPolicy: &awsscheduler.CfnSchedule_RetryPolicyProperty{MaximumEventAgeInSeconds: n(300), MaximumRetryAttempts: n(2)},
				EcsParameters: &awsscheduler.CfnSchedule_EcsParametersProperty{
					TaskDefinitionArn: g.TaskDefs["Source"+title(src)+"Task"].TaskDefinitionArn(),
					LaunchType:        s("FARGATE"), TaskCount: n(1),
					NetworkConfiguration: &awsscheduler.CfnSchedule_NetworkConfigurationProperty{AwsvpcConfiguration: &awsscheduler.CfnSchedule_AwsVpcConfigurationProperty{
						Subnets: p.subnets.ValueAsList(), SecurityGroups: &[]*string{tasksSG.AttrGroupId()}, AssignPublicIp: p.assignPublicIP.ValueAsString(),
					}},
				},
			},
		})
	}

	// ---- Alarms and dashboard -----------------------------------------------------
	topic := awssns.NewTopic(stack, s("AlarmTopic"), &awssns.TopicProps{DisplayName: s("graphfleet alarms")})
	sub := awssns.NewCfnSubscription(stack, s("AlarmEmailSubscription"), &awssns.CfnSubscriptionProps{
		TopicArn: topic.TopicArn(), Protocol: s("email"), Endpoint: p.alarmEmail.ValueAsString(),
	})
	sub.CfnOptions().SetCondition(hasEmail)
	g.alarmsAndDashboard(p, namespace, topic, worker)
	awscdk.NewCfnOutput(stack, s("PushApiUrl"), &awscdk.CfnOutputProps{
		Description: s("producer serve behind the internal load balancer"),
		Value:       awscdk.Fn_Join(s(""), ss(*awscdk.Fn_ConditionIf(hasCert.LogicalId(), s("https://"), s("http://")).ToString(), *alb.AttrDnsName(), "/v1/batches")),
	})
	for id, v := range map[string]*string{
		"ClusterName": g.Cluster.Ref(), "IngestQueueUrl": g.Ingest.QueueUrl(), "DeadLetterQueueUrl": g.DLQ.QueueUrl(),
		"ReplayQueueUrl": g.Replay.QueueUrl(), "TriggerQueueUrl": g.Trigger.QueueUrl(), "GraphChangeBusName": g.Bus.Ref(),
		"IngestTokenSecretArn": token.SecretArn(), "WorkerServiceName": worker.AttrName(),
		"ReplayDlqTaskDefinition": replayTD.TaskDefinitionArn(), "TasksSecurityGroupId": tasksSG.AttrGroupId(),
	} {
		awscdk.NewCfnOutput(stack, s(id), &awscdk.CfnOutputProps{Value: v})
	}
	return g
}

// backlogPerTaskExpr is the scaling metric: visible ingest messages per
// running worker task (one task's worth when none runs, so the policy can
// still scale out from a stopped service once the minimum brings one up).
const backlogPerTaskExpr = "visible / IF(tasks > 0, tasks, 1)"

func ifNum(c awscdk.CfnCondition, a, b float64) *float64 {
	return awscdk.Token_AsNumber(awscdk.Fn_ConditionIf(c.LogicalId(), a, b))
}

func title(v string) string {
	switch v {
	case "deepflow":
		return "DeepFlow"
	case "aws":
		return "Aws"
	case "cloudformation":
		return "CloudFormation"
	}
	return v
}

func (g *Graphfleet) alarmsAndDashboard(p params, namespace *string, topic awssns.Topic, worker awsecs.CfnService) {
	stack := g.Stack
	five := awscdk.Duration_Minutes(n(5))
	action := awscloudwatchactions.NewSnsAction(topic)
	alarm := func(id, desc string, m awscloudwatch.IMetric, threshold float64, periods, toAlarm float64, op awscloudwatch.ComparisonOperator, missing awscloudwatch.TreatMissingData) {
		a := awscloudwatch.NewAlarm(stack, s(id), &awscloudwatch.AlarmProps{
			AlarmDescription: s(desc), Metric: m, Threshold: n(threshold), EvaluationPeriods: n(periods), DatapointsToAlarm: n(toAlarm),
			ComparisonOperator: op, TreatMissingData: missing,
		})
		a.AddAlarmAction(action)
		a.AddOkAction(action)
		g.Alarms[id] = a
	}
	gfMetric := func(name, stat string, dims map[string]*string) awscloudwatch.Metric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: namespace, MetricName: s(name), Statistic: s(stat), Period: five, DimensionsMap: &dims})
	}
	alarm("DeadLetterQueueNotEmpty", "graphfleet: messages in the DLQ (see worker replay dlq)",
		g.DLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: s("Maximum"), Period: five}),
		0, 1, 1, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_NOT_BREACHING)
	alarm("TriggerDeadLetterQueueNotEmpty", "graphfleet: change events producer listen could not act on",
		g.TriggerDLQ.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: s("Maximum"), Period: five}),
		0, 1, 1, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_NOT_BREACHING)
	alarm("IngestOldestMessageAge", "graphfleet: the ingest queue's oldest message is older than the threshold (workers stalled or too few)",
		g.Ingest.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Statistic: s("Maximum"), Period: five}),
		0, 3, 2, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_NOT_BREACHING)
	// The threshold is a parameter: override the literal with a Ref.
	g.Alarms["IngestOldestMessageAge"].Node().DefaultChild().(awscloudwatch.CfnAlarm).SetThreshold(p.oldestAgeAlarm.ValueAsNumber())

	// Worker error rate: messages the worker settled as its failures (sent
	// back to spend a receive, or dead-lettered) out of all it settled, on
	// the ingest queue (graphfleet.consumer.messages, shared/consume).
	outcome := func(o string) awscloudwatch.Metric {
		return gfMetric(mConsumerMsgs, "Sum", map[string]*string{dDest: g.Ingest.QueueName(), dOutcome: s(o)})
	}
	errRate := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression: s(errorRateExpr),
		UsingMetrics: &map[string]awscloudwatch.IMetric{
			"retried": outcome("retried"), "dead": outcome("dead_lettered"), "deleted": outcome("deleted"),
		},
		Label: s("worker error rate (%)"), Period: five,
	})
	alarm("WorkerErrorRate", "graphfleet: over 5% of ingest messages retried or dead-lettered by the worker (content refused by Neptune)",
		errRate, 5, 3, 3, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_NOT_BREACHING)
	alarm("WorkerBreakerOpen", "graphfleet: worker intake stopped: Neptune unreachable, throttling or access denied",
		gfMetric(mBreakerOpen, "Maximum", map[string]*string{dDest: g.Ingest.QueueName()}),
		0, 2, 2, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_NOT_BREACHING)
	// Missing data is breaching: a changes task that publishes nothing is
	// not following the stream.
	alarm("StreamLag", "graphfleet: worker changes is behind the Neptune stream (or not running)",
		gfMetric(mChangesLag, "Maximum", map[string]*string{dService: s(svcChanges)}),
		0, 3, 3, awscloudwatch.ComparisonOperator_GREATER_THAN_THRESHOLD, awscloudwatch.TreatMissingData_BREACHING)
	g.Alarms["StreamLag"].Node().DefaultChild().(awscloudwatch.CfnAlarm).SetThreshold(p.lagAlarm.ValueAsNumber())

	minute := awscdk.Duration_Minutes(n(1))
	sqsMetric := func(q awssqs.Queue, label string) awscloudwatch.IMetric {
		return q.MetricApproximateNumberOfMessagesVisible(&awscloudwatch.MetricOptions{Statistic: s("Maximum"), Period: minute, Label: s(label)})
	}
	gf := func(name, stat, label string, dims map[string]*string) awscloudwatch.IMetric {
		return awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: namespace, MetricName: s(name), Statistic: s(stat), Period: minute, DimensionsMap: &dims, Label: s(label)})
	}
	edges := awscloudwatch.NewMathExpression(&awscloudwatch.MathExpressionProps{
		Expression:   s("edges / PERIOD(edges)"),
		UsingMetrics: &map[string]awscloudwatch.IMetric{"edges": gf(mElements, "Sum", "edges", map[string]*string{dService: s(svcWorker), dKind: s("edge")})},
		Label:        s("edges written per second"), Period: minute,
	})
	tasks := awscloudwatch.NewMetric(&awscloudwatch.MetricProps{Namespace: s("ECS/ContainerInsights"), MetricName: s("RunningTaskCount"), Statistic: s("Average"), Period: minute,
		DimensionsMap: &map[string]*string{"ClusterName": g.Cluster.Ref(), "ServiceName": worker.AttrName()}, Label: s("worker tasks")})
	widget := func(title string, left []awscloudwatch.IMetric, right []awscloudwatch.IMetric) awscloudwatch.IWidget {
		gp := &awscloudwatch.GraphWidgetProps{Title: s(title), Left: &left, Width: n(12), Height: n(6)}
		if right != nil {
			gp.Right = &right
		}
		return awscloudwatch.NewGraphWidget(gp)
	}
	awscloudwatch.NewDashboard(stack, s("Dashboard"), &awscloudwatch.DashboardProps{
		DashboardName: awscdk.Fn_Sub(s("${AWS::StackName}"), nil),
		Widgets: &[]*[]awscloudwatch.IWidget{
			{widget("Queue depth (visible)", []awscloudwatch.IMetric{sqsMetric(g.Ingest, "ingest"), sqsMetric(g.Replay, "replay"), sqsMetric(g.DLQ, "dlq"), sqsMetric(g.Trigger, "trigger")},
				[]awscloudwatch.IMetric{g.Ingest.MetricApproximateAgeOfOldestMessage(&awscloudwatch.MetricOptions{Statistic: s("Maximum"), Period: minute, Label: s("ingest oldest (s)")})}),
				widget("Lag (s)", []awscloudwatch.IMetric{gf(mLagObserved, "Average", "observed to written (avg)", map[string]*string{dService: s(svcWorker)}),
					gf(mLagObserved, "Maximum", "observed to written (max)", map[string]*string{dService: s(svcWorker)})},
					[]awscloudwatch.IMetric{gf(mChangesLag, "Maximum", "changes behind stream", map[string]*string{dService: s(svcChanges)})})},
			{widget("Edges written per second", []awscloudwatch.IMetric{edges}, []awscloudwatch.IMetric{tasks}),
				widget("Neptune writer limit (per task)", []awscloudwatch.IMetric{gf(mWriterLimit, "Average", "limit (avg)", map[string]*string{dService: s(svcWorker)}),
					gf(mWriterFlight, "Average", "in flight (avg)", map[string]*string{dService: s(svcWorker)})},
					[]awscloudwatch.IMetric{gf(mQueueDepth, "Maximum", "ingest visible (worker's sample)", map[string]*string{dService: s(svcWorker), dQueue: s("ingest"), dState: s("visible")})})},
		},
	})
}

// errorRateExpr is the worker error rate alarm's metric math.
const errorRateExpr = "100 * (FILL(retried, 0) + FILL(dead, 0)) / MAX([FILL(retried, 0) + FILL(dead, 0) + FILL(deleted, 0), 1])"

func newParams(stack awscdk.Stack) params {
	str := func(id, def, desc string, allowed ...string) awscdk.CfnParameter {
		pp := &awscdk.CfnParameterProps{Type: s("String"), Default: s(def), Description: s(desc)}
		if len(allowed) > 0 {
			pp.AllowedValues = ss(allowed...)
		}
		return awscdk.NewCfnParameter(stack, s(id), pp)
	}
	req := func(id, typ, desc string) awscdk.CfnParameter {
		return awscdk.NewCfnParameter(stack, s(id), &awscdk.CfnParameterProps{Type: s(typ), Description: s(desc)})
	}
	num := func(id string, def, min, max float64, desc string) awscdk.CfnParameter {
		return awscdk.NewCfnParameter(stack, s(id), &awscdk.CfnParameterProps{Type: s("Number"), Default: def, MinValue: n(min), MaxValue: n(max), Description: s(desc)})
	}
	numIn := func(id, def, desc string, allowed ...string) awscdk.CfnParameter {
		return awscdk.NewCfnParameter(stack, s(id), &awscdk.CfnParameterProps{Type: s("Number"), Default: def, AllowedValues: ss(allowed...), Description: s(desc)})
	}
	return params{
		vpcID:             req("VpcId", "AWS::EC2::VPC::Id", "VPC of the Neptune cluster"),
		subnets:           req("SubnetIds", "List<AWS::EC2::Subnet::Id>", "Subnets (two AZs or more) for the tasks and the internal load balancer; they need a route to AWS APIs and ECR (NAT gateway or VPC endpoints) unless AssignPublicIp=ENABLED"),
		assignPublicIP:    str("AssignPublicIp", "DISABLED", "ENABLED only for public subnets without NAT (e.g. a default VPC)", "DISABLED", "ENABLED"),
		neptuneEndpoint:   req("NeptuneEndpoint", "String", "Neptune cluster (writer) endpoint host name, e.g. my-graph.cluster-abc.us-east-1.neptune.amazonaws.com"),
		neptunePort:       num("NeptunePort", 8182, 1, 65535, "Neptune port"),
		neptuneResourceID: req("NeptuneClusterResourceId", "String", "Neptune cluster resource id (cluster-ABCD...), for neptune-db IAM actions"),
		neptuneSG:         req("NeptuneSecurityGroupId", "AWS::EC2::SecurityGroup::Id", "Security group of the Neptune cluster; the stack adds ingress from the tasks"),
		neptuneIAM:        str("NeptuneIamAuth", "true", "Whether the cluster has IAM database authentication on", "true", "false"),
		imageRepo:         req("ImageRepository", "String", "ECR repository name holding the graphfleet image (both binaries)"),
		imageTag:          str("ImageTag", "latest", "Image tag to run (prefer an immutable tag such as the git commit)"),
		collectorImage:    str("CollectorImage", collectorImageDefault, "ADOT collector image (sidecar)"),
		workerCPU:         numIn("WorkerCpu", "512", "Worker task CPU units", "256", "512", "1024", "2048", "4096"),
		workerMemory:      num("WorkerMemory", 1024, 512, 30720, "Worker task memory (MiB), valid for WorkerCpu on Fargate"),
		workerMin:         num("WorkerMinTasks", 1, 1, 1000, "Fewest worker tasks"),
		workerMax:         num("WorkerMaxTasks", 10, 1, 1000, "Most worker tasks (Neptune's write capacity is the real limit)"),
		backlogPerTask:    num("WorkerBacklogPerTask", 100, 1, 100000, "Target visible ingest messages per worker task"),
		neptuneWriters:    str("NeptuneWriters", "8", "NEPTUNE_WRITERS per worker task (about 2 x writer vCPUs / tasks)"),
		processors:        str("WorkerProcessors", "8", "PROCESSORS per worker task (messages processed at once)"),
		taskCPU:           numIn("TaskCpu", "256", "CPU units of the other tasks (changes, listen, serve, discovery runs)", "256", "512", "1024", "2048", "4096"),
		taskMemory:        num("TaskMemory", 512, 512, 30720, "Memory (MiB) of the other tasks, valid for TaskCpu on Fargate"),
		serveTasks:        num("ServeTasks", 1, 0, 100, "producer serve (push API) tasks; 0 turns the push API off"),
		deepflowURL:       str("DeepFlowQuerierUrl", "", "DeepFlow querier URL, e.g. http://deepflow-server:20416; empty disables the deepflow schedule"),
		deepflowName:      str("DeepFlowName", "default", "DEEPFLOW_NAME: the deployment's name in the snapshot scope"),
		regions:           str("DiscoveryRegions", "", "AWS_REGIONS for the aws and cloudformation sources, comma-separated; empty: the stack's region"),
		deepflowRate:      str("DeepFlowSchedule", "rate(5 minutes)", "Schedule of the deepflow discovery run (runs read a 6-minute window)"),
		awsRate:           str("AwsSchedule", "rate(15 minutes)", "Schedule of the aws discovery run"),
		cfnRate:           str("CloudFormationSchedule", "rate(15 minutes)", "Schedule of the cloudformation discovery run"),
		backlogHighWater:  str("BacklogHighWater", "10000", "BACKLOG_HIGH_WATER: backlog above which runs defer and the push API answers 429"),
		pushCIDR:          str("PushApiAllowedCidr", "10.0.0.0/8", "Client network allowed to reach the internal push API load balancer"),
		certificateARN:    str("CertificateArn", "", "ACM certificate for HTTPS on the push API (recommended: the bearer token crosses the network); empty: HTTP on port 80"),
		logRetention:      numIn("LogRetentionDays", "30", "Retention of the tasks' logs", "1", "3", "5", "7", "14", "30", "60", "90", "180", "365"),
		logLevel:          str("LogLevel", "info", "LOG_LEVEL of every task", "debug", "info", "warn", "error"),
		alarmEmail:        str("AlarmEmail", "", "E-mail address for alarm notifications (confirm the subscription); empty: none"),
		oldestAgeAlarm:    num("OldestMessageAlarmSeconds", 900, 60, 1209600, "Alarm when the ingest queue's oldest message is older than this"),
		lagAlarm:          num("StreamLagAlarmSeconds", 300, 10, 86400, "Alarm when worker changes is this far behind the Neptune stream"),
	}
}
