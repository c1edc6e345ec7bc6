package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
)

// productRoot is the product module's root, two levels up.
const productRoot = "../.."

var synthOnce struct {
	sync.Once
	g    *Graphfleet
	tmpl assertions.Template
	doc  map[string]any
	raw  []byte
	err  error
}

// synthesized builds the app once per test process (a synth starts the
// jsii runtime and takes seconds): the stack, its assertions.Template and
// the template as a document.
func synthesized(t *testing.T) (*Graphfleet, assertions.Template, map[string]any) {
	t.Helper()
	synthOnce.Do(func() {
		os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
		dir, err := os.MkdirTemp("", "graphfleet-cdk-test-")
		if err != nil {
			synthOnce.err = err
			return
		}
		app, g := newApp(dir)
		asm := app.Synth(nil)
		synthOnce.g = g
		synthOnce.tmpl = assertions.Template_FromStack(g.Stack, nil)
		doc := asm.GetStackByName(jsii.String(stackName)).Template()
		synthOnce.raw, synthOnce.err = encodeTemplate(doc)
		if synthOnce.err == nil {
			synthOnce.err = json.Unmarshal(synthOnce.raw, &synthOnce.doc)
		}
		os.RemoveAll(dir)
	})
	if synthOnce.err != nil {
		t.Fatal(synthOnce.err)
	}
	return synthOnce.g, synthOnce.tmpl, synthOnce.doc
}

// resources returns the template's resources of one type, by logical id.
func resources(doc map[string]any, typ string) map[string]map[string]any {
	out := map[string]map[string]any{}
	for id, r := range doc["Resources"].(map[string]any) {
		rm := r.(map[string]any)
		if rm["Type"] == typ {
			out[id] = rm
		}
	}
	return out
}

func props(r map[string]any) map[string]any { return r["Properties"].(map[string]any) }

// idOf resolves an L2 construct's default child to its logical id.
func idOf(g *Graphfleet, child any) string {
	return *g.Stack.GetLogicalId(child.(awscdk.CfnElement))
}

// resolved renders a token (an ARN, a Ref) as the template holds it, for
// comparisons.
func resolved(g *Graphfleet, v any) string {
	b, _ := json.Marshal(g.Stack.Resolve(v))
	return string(b)
}

func canon(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// goFiles lists the product's non-test Go files under dirs, without the
// local development tools (shared/devtools) and test data.
func goFiles(t *testing.T, dirs ...string) []string {
	t.Helper()
	var files []string
	for _, d := range dirs {
		err := filepath.WalkDir(filepath.Join(productRoot, d), func(path string, e os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() && (e.Name() == "testdata" || e.Name() == "devtools" || e.Name() == "node_modules") {
				return filepath.SkipDir
			}
			if !e.IsDir() && strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		t.Fatalf("no Go files under %v in %s: is this the product checkout?", dirs, productRoot)
	}
	return files
}
