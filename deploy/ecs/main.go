// Command ecs is graphfleet's AWS CDK app: the whole deployment on ECS
// Fargate in one stack (stack.go). Run without arguments it writes the
// synthesised template to graphfleet.template.json; under the cdk CLI
// (CDK_OUTDIR set) it synthesises into the CLI's cloud assembly.
//
//	go run .                      # regenerate graphfleet.template.json
//	go run . -out /tmp/t.json     # somewhere else
package main

import (
	"flag"
	"fmt"
	"os"
)

// templateFile is the committed template, beside this file.
const templateFile = "graphfleet.template.json"

func main() {
	out := flag.String("out", templateFile, "where to write the synthesised template")
	flag.Parse()
	if os.Getenv("CDK_OUTDIR") != "" {
		// The cdk CLI (cdk synth, cdk deploy) reads the cloud assembly.
		app, _ := newApp("")
		app.Synth(nil)
		return
	}
	body, err := synthTemplate()
	if err != nil {
		fmt.Fprintln(os.Stderr, "ecs:", err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, body, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, "ecs:", err)
		os.Exit(1)
	}
	fmt.Printf("wrote %s (%d bytes)\n", *out, len(body))
}
