package cloudformation

import (
	"slices"
	"strconv"
	"strings"
)

// The intrinsic prop of a depends_on edge: how the template names the
// resource the edge points to.
const (
	intrinsicRef       = "Ref"
	intrinsicGetAtt    = "Fn::GetAtt"
	intrinsicSub       = "Fn::Sub"
	intrinsicDependsOn = "DependsOn"
)

// reference is one place where a resource's template names another resource
// of the same stack.
type reference struct {
	from, to  string // logical ids
	property  string // where in from's Properties: "Role", "VpcConfig.SubnetIds[0]", or "DependsOn"
	intrinsic string // intrinsicRef, intrinsicGetAtt, intrinsicSub or intrinsicDependsOn
}

// importUse is a literal Fn::ImportValue in a resource's properties.
type importUse struct {
	from     string // logical id
	export   string
	property string
}

// references lists, resource by resource in logical-id order, every
// reference from one resource to another of the same template and every
// literal Fn::ImportValue. A reference to a parameter or a pseudo parameter
// (AWS::Region, ...) is not a dependency and is left out, and so is one to
// a name the template does not define.
func (t *template) references() ([]reference, []importUse) {
	w := &refWalker{t: t}
	for _, logical := range sortedKeys(t.resources) {
		r := t.resources[logical]
		w.from = logical
		w.walk(r.properties, "", false)
		for _, dep := range r.dependsOn {
			w.ref(dep, intrinsicDependsOn, intrinsicDependsOn)
		}
	}
	return w.refs, w.imports
}

type refWalker struct {
	t       *template
	from    string
	refs    []reference
	imports []importUse
}

// walk visits v, found at path in the current resource's properties. Inside
// an intrinsic's arguments (inArgs) the path no longer grows: a Ref inside
// a Join inside SubnetIds is evidence about SubnetIds, not about the Join's
// second argument.
func (w *refWalker) walk(v any, path string, inArgs bool) {
	switch x := v.(type) {
	case map[string]any:
		if len(x) == 1 {
			for k, arg := range x {
				if k == "Ref" || strings.HasPrefix(k, "Fn::") {
					w.intrinsic(k, arg, path, inArgs)
					return
				}
			}
		}
		for _, k := range sortedKeys(x) {
			p := path
			if !inArgs {
				p = joinPath(path, k)
			}
			w.walk(x[k], p, inArgs)
		}
	case []any:
		for i, e := range x {
			p := path
			if !inArgs {
				p = path + "[" + strconv.Itoa(i) + "]"
			}
			w.walk(e, p, inArgs)
		}
	}
}

func (w *refWalker) intrinsic(fn string, arg any, path string, inArgs bool) {
	switch fn {
	case "Ref":
		if name, ok := arg.(string); ok {
			w.ref(name, path, intrinsicRef)
			return
		}
	case "Fn::GetAtt":
		// Long form ["Res", "Attr"] (the short form converts to it), or
		// the string "Res.Attr" that CloudFormation also accepts.
		switch a := arg.(type) {
		case string:
			res, _, _ := strings.Cut(a, ".")
			w.ref(res, path, intrinsicGetAtt)
			return
		case []any:
			if len(a) > 0 {
				if res, ok := a[0].(string); ok {
					w.ref(res, path, intrinsicGetAtt)
					// The attribute name may itself be a Ref to a parameter.
					w.walk(a[1:], path, true)
					return
				}
			}
		}
	case "Fn::Sub":
		switch a := arg.(type) {
		case string:
			w.sub(a, nil, path)
			return
		case []any:
			if len(a) == 2 {
				if s, ok := a[0].(string); ok {
					vars, _ := a[1].(map[string]any)
					w.sub(s, vars, path)
					// The variables' values are expressions of their own.
					for _, k := range sortedKeys(vars) {
						w.walk(vars[k], path, true)
					}
					return
				}
			}
		}
	case "Fn::ImportValue":
		if name, ok := arg.(string); ok {
			w.imports = append(w.imports, importUse{from: w.from, export: name, property: path})
			return
		}
		// A computed name (!Sub "${Env}-Subnets") cannot be resolved here;
		// ListImports still reports the import.
	case "Fn::If":
		// [condition, then, else]: both branches are values of the
		// property itself, so the path keeps growing as it would without
		// the If. The condition names a condition, not a resource.
		if a, ok := arg.([]any); ok && len(a) == 3 {
			w.walk(a[1], path, inArgs)
			w.walk(a[2], path, inArgs)
			return
		}
	}
	// Every other function (Join, Split, Select, FindInMap, Base64, Cidr,
	// GetAZs, ...) and a malformed known one: look inside its arguments.
	w.walk(arg, path, true)
}

// sub records the resources that a Fn::Sub string names: ${Name} and
// ${Name.Attr}. ${!Literal} is text, ${AWS::Region} a pseudo parameter,
// and a name among the Sub's own variables is that variable.
func (w *refWalker) sub(s string, vars map[string]any, path string) {
	for _, name := range subVariables(s) {
		if _, ok := vars[name]; ok {
			continue
		}
		res, _, _ := strings.Cut(name, ".")
		if _, ok := vars[res]; ok {
			continue
		}
		w.ref(res, path, intrinsicSub)
	}
}

// subVariables lists the variable names in a Fn::Sub string in order, each
// as written between "${" and "}" (spaces trimmed), leaving out literals
// "${!...}".
func subVariables(s string) []string {
	var names []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return names
		}
		s = s[i+2:]
		if strings.HasPrefix(s, "!") {
			// "${!Literal}" stands for the text "${Literal}".
			s = s[1:]
			continue
		}
		j := strings.IndexByte(s, '}')
		if j < 0 {
			return names
		}
		if name := strings.TrimSpace(s[:j]); name != "" {
			names = append(names, name)
		}
		s = s[j+1:]
	}
}

// ref records a reference from the current resource to name, when name is
// another resource of the template.
func (w *refWalker) ref(name, path, intrinsic string) {
	if name == w.from || strings.HasPrefix(name, "AWS::") || w.t.parameters[name] {
		return
	}
	if _, ok := w.t.resources[name]; !ok {
		return
	}
	if path == "" {
		path = "Properties" // the whole Properties is one intrinsic (rare)
	}
	w.refs = append(w.refs, reference{from: w.from, to: name, property: path, intrinsic: intrinsic})
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
