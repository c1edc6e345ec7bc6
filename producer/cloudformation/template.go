package cloudformation

import (
	"errors"
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// MaxTemplateBytes is the largest template body this source parses.
// CloudFormation's own limit is 1 MB for a template stored in S3 (51,200
// bytes when passed inline); a body larger than 1 MiB is not a template
// CloudFormation accepted, so it fails the snapshot rather than costing an
// unbounded parse.
const MaxTemplateBytes = 1 << 20

// maxTemplateNodes bounds the nodes a template may expand to. YAML aliases
// let a small body name an exponential number of nodes (a "billion laughs"),
// and the conversion below expands them.
const maxTemplateNodes = 4 << 20

// maxTemplateDepth bounds nesting; it also stops an alias that names one of
// its own ancestors.
const maxTemplateDepth = 512

// template is what the source reads from a stack's template: which names
// are parameters (a Ref to one is not a dependency) and each resource's
// type, properties and DependsOn.
type template struct {
	parameters map[string]bool
	resources  map[string]*templateResource // by logical id
}

type templateResource struct {
	typ        string
	properties any // long-form intrinsics; nil when the resource has none
	dependsOn  []string
}

// parseTemplate reads a template body, JSON or YAML. Both go through the
// YAML decoder (JSON is YAML) into a yaml.Node, because decoding YAML
// straight into Go values silently drops the short-form tags: "!Ref Queue"
// would come out as the plain string "Queue" and every reference written in
// short form would be lost. toLongForm turns each tag into the long form
// CloudFormation's JSON uses, so the reference walker sees one syntax.
func parseTemplate(body []byte) (*template, error) {
	if len(body) > MaxTemplateBytes {
		return nil, fmt.Errorf("template is %d bytes, more than the %d this source reads", len(body), MaxTemplateBytes)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if doc.Kind == 0 {
		return nil, errors.New("template is empty")
	}
	c := converter{budget: maxTemplateNodes}
	v, err := c.toLongForm(&doc, 0)
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("template is a %s, not a mapping", kindOf(v))
	}
	t := &template{parameters: map[string]bool{}, resources: map[string]*templateResource{}}
	if params, ok := root["Parameters"].(map[string]any); ok {
		for name := range params {
			t.parameters[name] = true
		}
	}
	resources, ok := root["Resources"].(map[string]any)
	if !ok && root["Resources"] != nil {
		return nil, fmt.Errorf("template: Resources is a %s, not a mapping", kindOf(root["Resources"]))
	}
	for logical, v := range resources {
		r, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("template: resource %s is a %s, not a mapping", logical, kindOf(v))
		}
		tr := &templateResource{properties: r["Properties"]}
		tr.typ, _ = r["Type"].(string)
		switch d := r["DependsOn"].(type) {
		case nil:
		case string:
			tr.dependsOn = []string{d}
		case []any:
			for _, e := range d {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("template: resource %s: DependsOn holds a %s, not a logical id", logical, kindOf(e))
				}
				tr.dependsOn = append(tr.dependsOn, s)
			}
		default:
			return nil, fmt.Errorf("template: resource %s: DependsOn is a %s, not a logical id or a list of them", logical, kindOf(d))
		}
		t.resources[logical] = tr
	}
	return t, nil
}

// converter turns yaml.Nodes into plain Go values (map[string]any, []any,
// string, int, float64, bool, nil) with every short-form tag in long form.
type converter struct {
	budget int // nodes left to convert
}

// toLongForm converts n. Scalars keep their YAML type where it is a number,
// a boolean or null; everything else (timestamps such as an unquoted
// AWSTemplateFormatVersion included) stays the text it was written as, which
// is how CloudFormation reads it.
func (c *converter) toLongForm(n *yaml.Node, depth int) (any, error) {
	if depth > maxTemplateDepth {
		return nil, fmt.Errorf("line %d: nested more than %d levels deep (or an alias names its own ancestor)", n.Line, maxTemplateDepth)
	}
	if c.budget--; c.budget < 0 {
		return nil, fmt.Errorf("expands to more than %d nodes (YAML aliases?)", maxTemplateNodes)
	}
	var v any
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.toLongForm(n.Content[0], depth+1)
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, fmt.Errorf("line %d: alias without an anchor", n.Line)
		}
		return c.toLongForm(n.Alias, depth+1)
	case yaml.ScalarNode:
		v = scalar(n)
	case yaml.SequenceNode:
		list := make([]any, 0, len(n.Content))
		for _, e := range n.Content {
			ev, err := c.toLongForm(e, depth+1)
			if err != nil {
				return nil, err
			}
			list = append(list, ev)
		}
		v = list
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, vn := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a mapping key must be a scalar", k.Line)
			}
			ev, err := c.toLongForm(vn, depth+1)
			if err != nil {
				return nil, err
			}
			m[k.Value] = ev
		}
		v = m
	default:
		return nil, fmt.Errorf("line %d: unexpected YAML node kind %d", n.Line, n.Kind)
	}
	if fn, ok := intrinsicTag(n.Tag); ok {
		return longForm(fn, n, v)
	}
	return v, nil
}

// scalar is a scalar node's value: typed for the YAML core types that
// CloudFormation also reads as such, its text otherwise.
func scalar(n *yaml.Node) any {
	switch n.Tag {
	case "!!int", "!!float", "!!bool", "!!null":
		var v any
		if n.Decode(&v) == nil {
			return v
		}
	}
	return n.Value
}

// intrinsicTag is the long-form key of a short-form tag: "!Ref" is "Ref",
// "!Condition" is "Condition", and every other "!Name" is "Fn::Name"
// ("!GetAtt" is "Fn::GetAtt"). Standard tags ("!!str", ...) and verbatim
// ones are not intrinsics. A tag CloudFormation does not define maps the
// same way: a template CloudFormation accepted has none, and keeping its
// arguments lets the walker still find references inside.
func intrinsicTag(tag string) (string, bool) {
	if !strings.HasPrefix(tag, "!") || strings.HasPrefix(tag, "!!") || len(tag) < 2 {
		return "", false
	}
	name := tag[1:]
	switch name {
	case "Ref", "Condition":
		return name, true
	}
	return "Fn::" + name, true
}

// longForm wraps v, the converted value of n, in the intrinsic fn.
func longForm(fn string, n *yaml.Node, v any) (any, error) {
	if fn == "Fn::GetAtt" && n.Kind == yaml.ScalarNode {
		// "!GetAtt Res.Attr" is ["Res", "Attr"]; the attribute may hold
		// dots of its own ("!GetAtt Nested.Outputs.Name"), the logical id
		// cannot.
		s, _ := v.(string)
		res, attr, ok := strings.Cut(s, ".")
		if !ok || res == "" || attr == "" {
			return nil, fmt.Errorf("line %d: !GetAtt %q is not Resource.Attribute", n.Line, s)
		}
		return map[string]any{fn: []any{res, attr}}, nil
	}
	return map[string]any{fn: v}, nil
}

// kindOf names the shape of a converted value for an error message.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "mapping"
	case []any:
		return "list"
	case string:
		return "string"
	}
	return fmt.Sprintf("%T", v)
}
