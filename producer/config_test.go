package main

import (
	"strings"
	"testing"
	"time"
)

func TestConfig(t *testing.T) {
	t.Run("DISCOVERY_TIMEOUT defaults to 2m and is one setting in the environment and as a flag", func(t *testing.T) {
		t.Setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-ingest")
		cfg, err := parseConfig(nil)
		if err != nil || cfg.DiscoveryTimeout != 2*time.Minute {
			t.Fatalf("default: %v, %v; want 2m", cfg.DiscoveryTimeout, err)
		}
		t.Setenv("DISCOVERY_TIMEOUT", "45s")
		if cfg, err = parseConfig(nil); err != nil || cfg.DiscoveryTimeout != 45*time.Second {
			t.Fatalf("env: %v, %v; want 45s", cfg.DiscoveryTimeout, err)
		}
		if cfg, err = parseConfig([]string{"-discovery-timeout", "5m"}); err != nil || cfg.DiscoveryTimeout != 5*time.Minute {
			t.Fatalf("flag over env: %v, %v; want 5m", cfg.DiscoveryTimeout, err)
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("a valid configuration: %v", err)
		}
	})

	t.Run("Validate reports every problem at once", func(t *testing.T) {
		cfg := Config{QueueURL: "graphfleet-ingest", Source: "demo", Interval: -time.Second, DiscoveryTimeout: 0, DemoScale: 0, LogLevel: "loud"}
		err := cfg.Validate()
		if err == nil {
			t.Fatal("no error")
		}
		for _, want := range []string{"QUEUE_URL", "INTERVAL", "DISCOVERY_TIMEOUT", "DEMO_SCALE", "LOG_LEVEL"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not name %s:\n%v", want, err)
			}
		}
	})

	t.Run("an unknown source is named with the known ones", func(t *testing.T) {
		cfg := Config{QueueURL: "http://127.0.0.1:9324/123456789012/q", Source: "ldap", DiscoveryTimeout: time.Minute, LogLevel: "info"}
		err := cfg.Validate()
		for _, want := range []string{"SOURCE", "demo", "deepflow"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not name %s:\n%v", want, err)
			}
		}
	})
}
