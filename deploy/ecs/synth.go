package main

import (
	"bytes"
	"encoding/json"
	"os"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

// stackName is the stack's name under the cdk CLI; with the committed
// template, aws cloudformation deploy --stack-name chooses it.
const stackName = "graphfleet"

// newApp builds the app and its one stack. outdir "" lets CDK choose (the
// CLI's CDK_OUTDIR, or a temporary directory).
func newApp(outdir string) (awscdk.App, *Graphfleet) {
	props := &awscdk.AppProps{
		AnalyticsReporting: jsii.Bool(false),
		Context: &map[string]any{
			// Deterministic output: no construct paths in the template.
			"aws:cdk:disable-metadata-paths": true,
			"aws:cdk:enable-path-metadata":   false,
		},
	}
	if outdir != "" {
		props.Outdir = jsii.String(outdir)
	}
	app := awscdk.NewApp(props)
	g := NewGraphfleet(app, stackName, &awscdk.StackProps{
		Description: jsii.String("graphfleet: keeps a dependency graph in Amazon Neptune fresh (SQS, ECS Fargate workers and producers, EventBridge)"),
		// No bootstrap version rule: the committed template deploys with
		// plain CloudFormation, without cdk bootstrap.
		Synthesizer: awscdk.NewDefaultStackSynthesizer(&awscdk.DefaultStackSynthesizerProps{GenerateBootstrapVersionRule: jsii.Bool(false)}),
	})
	return app, g
}

// synthTemplate synthesises the stack and returns its template as the
// committed file holds it: indented JSON with a final newline.
func synthTemplate() ([]byte, error) {
	dir, err := os.MkdirTemp("", "graphfleet-cdk-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	app, _ := newApp(dir)
	asm := app.Synth(nil)
	tmpl := asm.GetStackByName(jsii.String(stackName)).Template()
	return encodeTemplate(tmpl)
}

func encodeTemplate(tmpl any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", " ")
	if err := enc.Encode(tmpl); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
