package main

import (
	"bytes"
	"os"
	"testing"
)

// TestTemplateUpToDate fails when graphfleet.template.json is not what the
// app synthesises now: regenerate it with `go run .` in deploy/ecs.
func TestTemplateUpToDate(t *testing.T) {
	synthesized(t)
	committed, err := os.ReadFile(templateFile)
	if err != nil {
		t.Fatalf("%v: generate it with `cd deploy/ecs && go run .`", err)
	}
	if !bytes.Equal(committed, synthOnce.raw) {
		a, b := string(committed), string(synthOnce.raw)
		line, i := 1, 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			if a[i] == '\n' {
				line++
			}
			i++
		}
		t.Fatalf("%s is out of date (first difference at line %d); regenerate it: cd deploy/ecs && go run .", templateFile, line)
	}
}
