package main

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	t.Run("DISCOVERY_TIMEOUT defaults to 2m and is one setting in the environment and as a flag", func(t *testing.T) {
		t.Setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-ingest")
		cfg, err := parseConfig(CommandRun, nil)
		if err != nil || cfg.DiscoveryTimeout != 2*time.Minute {
			t.Fatalf("default: %v, %v; want 2m", cfg.DiscoveryTimeout, err)
		}
		t.Setenv("DISCOVERY_TIMEOUT", "45s")
		if cfg, err = parseConfig(CommandRun, nil); err != nil || cfg.DiscoveryTimeout != 45*time.Second {
			t.Fatalf("env: %v, %v; want 45s", cfg.DiscoveryTimeout, err)
		}
		if cfg, err = parseConfig(CommandRun, []string{"-discovery-timeout", "5m"}); err != nil || cfg.DiscoveryTimeout != 5*time.Minute {
			t.Fatalf("flag over env: %v, %v; want 5m", cfg.DiscoveryTimeout, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("a valid configuration: %v", err)
		}
	})

	t.Run("SOURCE and AWS_REGIONS are lists; each source has its own interval", func(t *testing.T) {
		t.Setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-ingest")
		t.Setenv("SOURCE", "aws, cloudformation")
		t.Setenv("AWS_REGIONS", "us-east-1,eu-west-1")
		t.Setenv("AWS_INTERVAL", "10m")
		cfg, err := parseConfig(CommandRun, []string{"--once"})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cfg.Sources, []string{"aws", "cloudformation"}) || !slices.Equal(cfg.AWSRegions, []string{"us-east-1", "eu-west-1"}) || !cfg.Once {
			t.Fatalf("sources %q, regions %q, once %v", cfg.Sources, cfg.AWSRegions, cfg.Once)
		}
		if cfg.interval("aws") != 10*time.Minute || cfg.interval("cloudformation") != DefaultCloudFormationInterval || cfg.interval("deepflow") != DefaultDeepFlowInterval {
			t.Fatalf("intervals aws %v, cloudformation %v, deepflow %v", cfg.interval("aws"), cfg.interval("cloudformation"), cfg.interval("deepflow"))
		}
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("Validate reports every problem at once", func(t *testing.T) {
		cfg := Config{QueueURL: "graphfleet-ingest", Sources: []string{"demo", "deepflow", "demo"}, DemoInterval: -time.Second, DiscoveryTimeout: 0, DemoScale: 0, LogLevel: "loud",
			DeepFlowQuerierURL: "http://q:20416", DeepFlowWindow: time.Minute, DeepFlowInterval: 5 * time.Minute, DeepFlowName: "x", DeepFlowRowLimit: 100,
			AWSRegions: []string{"us-east-1", "Frankfurt"}}
		err := cfg.Validate()
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"QUEUE_URL", "DEMO_INTERVAL", "DISCOVERY_TIMEOUT", "DEMO_SCALE", "LOG_LEVEL", `SOURCE names "demo" twice`,
			"DEEPFLOW_INTERVAL 5m0s is longer than DEEPFLOW_WINDOW", `AWS_REGIONS: "Frankfurt"`} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not name %s:\n%v", want, err)
			}
		}
	})

	t.Run("an unknown source is named with the known ones", func(t *testing.T) {
		cfg := Config{QueueURL: "http://127.0.0.1:9324/123456789012/q", Sources: []string{"ldap"}, Once: true, DiscoveryTimeout: time.Minute, LogLevel: "info"}
		err := cfg.Validate()
		for _, want := range []string{"SOURCE", "demo", "deepflow", "aws", "cloudformation"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not name %s:\n%v", want, err)
			}
		}
	})

	t.Run("listen needs the trigger queue, reads its own settings and not run's", func(t *testing.T) {
		t.Setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-ingest")
		t.Setenv("SOURCE", "ldap") // run's setting: not listen's concern
		cfg, err := parseConfig(CommandListen, nil)
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), "TRIGGER_QUEUE_URL") || strings.Contains(err.Error(), "SOURCE") {
			t.Fatalf("err = %v; want TRIGGER_QUEUE_URL named, SOURCE not", err)
		}
		t.Setenv("TRIGGER_QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-trigger")
		if cfg, err = parseConfig(CommandListen, []string{"-trigger-coalesce", "5s"}); err != nil || cfg.TriggerCoalesce != 5*time.Second {
			t.Fatalf("coalesce %v, %v", cfg.TriggerCoalesce, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("a valid listen configuration: %v", err)
		}
		cfg.Once, cfg.TriggerCoalesce, cfg.TriggerDLQURL = true, time.Hour, "graphfleet-trigger-dlq"
		err = cfg.Validate()
		for _, want := range []string{"ONCE", "TRIGGER_COALESCE", "TRIGGER_DLQ_URL"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not name %s:\n%v", want, err)
			}
		}
	})
}
