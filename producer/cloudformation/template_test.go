package cloudformation

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func mustParse(t *testing.T, body string) *template {
	t.Helper()
	tmpl, err := parseTemplate([]byte(body))
	if err != nil {
		t.Fatalf("parseTemplate: %v\n%s", err, body)
	}
	return tmpl
}

func props(t *testing.T, tmpl *template, logical string) map[string]any {
	t.Helper()
	r := tmpl.resources[logical]
	if r == nil {
		t.Fatalf("no resource %s", logical)
	}
	p, _ := r.properties.(map[string]any)
	return p
}

const shortForm = `
Parameters:
  Stage: {Type: String}
Resources:
  Fn:
    Type: AWS::Lambda::Function
    Properties:
      Role: !GetAtt Role.Arn
      RoleList: !GetAtt [Role, Arn]
      Nested: !GetAtt Db.Outputs.Endpoint
      Subnets: !Split [",", !ImportValue petsite-PrivateSubnets]
      Name: !Join ["-", [!Ref Stage, !Sub "${AWS::Region}-fn", !Select [0, !GetAZs ""]]]
      Size: !If [IsProd, !FindInMap [Sizes, !Ref Stage, Memory], 128]
      Code: !Base64 "hello"
      Cidrs: !Cidr [!GetAtt Vpc.CidrBlock, 4, 8]
      Cond: !Equals [!Ref Stage, prod]
      Use: !Condition IsProd
      Plain: 512
  Role: {Type: AWS::IAM::Role}
  Db: {Type: AWS::CloudFormation::Stack}
  Vpc: {Type: AWS::EC2::VPC}
`

func TestShortFormTagsBecomeLongForm(t *testing.T) {
	t.Parallel()
	got := props(t, mustParse(t, shortForm), "Fn")
	ref := func(n string) any { return map[string]any{"Ref": n} }
	want := map[string]any{
		"Role":     map[string]any{"Fn::GetAtt": []any{"Role", "Arn"}},
		"RoleList": map[string]any{"Fn::GetAtt": []any{"Role", "Arn"}},
		"Nested":   map[string]any{"Fn::GetAtt": []any{"Db", "Outputs.Endpoint"}},
		"Subnets":  map[string]any{"Fn::Split": []any{",", map[string]any{"Fn::ImportValue": "petsite-PrivateSubnets"}}},
		"Name": map[string]any{"Fn::Join": []any{"-", []any{
			ref("Stage"),
			map[string]any{"Fn::Sub": "${AWS::Region}-fn"},
			map[string]any{"Fn::Select": []any{0, map[string]any{"Fn::GetAZs": ""}}},
		}}},
		"Size":  map[string]any{"Fn::If": []any{"IsProd", map[string]any{"Fn::FindInMap": []any{"Sizes", ref("Stage"), "Memory"}}, 128}},
		"Code":  map[string]any{"Fn::Base64": "hello"},
		"Cidrs": map[string]any{"Fn::Cidr": []any{map[string]any{"Fn::GetAtt": []any{"Vpc", "CidrBlock"}}, 4, 8}},
		"Cond":  map[string]any{"Fn::Equals": []any{ref("Stage"), "prod"}},
		"Use":   map[string]any{"Condition": "IsProd"},
		"Plain": 512,
	}
	for k, w := range want {
		if !reflect.DeepEqual(got[k], w) {
			t.Errorf("%s = %#v; want %#v", k, got[k], w)
		}
	}
}

// The reason for the yaml.Node path: a plain decode keeps the tag's
// argument and drops the tag.
func TestAPlainDecodeLosesTheTags(t *testing.T) {
	t.Parallel()
	const body = "Resources:\n  Fn:\n    Type: AWS::Lambda::Function\n    Properties:\n      Queue: !Ref Queue\n      Role: !GetAtt Role.Arn\n"
	var plain map[string]any
	if err := yaml.Unmarshal([]byte(body), &plain); err != nil {
		t.Fatal(err)
	}
	pp := plain["Resources"].(map[string]any)["Fn"].(map[string]any)["Properties"].(map[string]any)
	if pp["Queue"] != "Queue" || pp["Role"] != "Role.Arn" {
		t.Fatalf("a plain decode gave %#v: the premise of template.go no longer holds", pp)
	}
	got := props(t, mustParse(t, body), "Fn")
	if !reflect.DeepEqual(got["Queue"], map[string]any{"Ref": "Queue"}) ||
		!reflect.DeepEqual(got["Role"], map[string]any{"Fn::GetAtt": []any{"Role", "Arn"}}) {
		t.Fatalf("parseTemplate gave %#v", got)
	}
}

// JSON goes through the same decoder: the same template in JSON (indented
// with tabs, as some generators write it) and in YAML short form reads the
// same.
func TestJSONAndYAMLShortFormReadTheSame(t *testing.T) {
	t.Parallel()
	yamlBody := "Resources:\n  A:\n    Type: AWS::SQS::Queue\n    DependsOn: [B]\n    Properties:\n      X: !Sub [\"${Q}-x\", {Q: !GetAtt B.Arn}]\n      Y: [!Ref B, \"a\\u00e9\"]\n  B: {Type: AWS::SNS::Topic}\n"
	jsonBody := "{\n\t\"Resources\": {\n\t\t\"A\": {\n\t\t\t\"Type\": \"AWS::SQS::Queue\",\n\t\t\t\"DependsOn\": [\"B\"],\n\t\t\t\"Properties\": {\n\t\t\t\t\"X\": {\"Fn::Sub\": [\"${Q}-x\", {\"Q\": {\"Fn::GetAtt\": [\"B\", \"Arn\"]}}]},\n\t\t\t\t\"Y\": [{\"Ref\": \"B\"}, \"a\\u00e9\"]\n\t\t\t}\n\t\t},\n\t\t\"B\": {\"Type\": \"AWS::SNS::Topic\"}\n\t}\n}\n"
	y, j := mustParse(t, yamlBody), mustParse(t, jsonBody)
	if !reflect.DeepEqual(y.resources["A"], j.resources["A"]) {
		t.Fatalf("YAML %#v\nJSON %#v", y.resources["A"], j.resources["A"])
	}
}

func TestSubVariables(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"plain", nil},
		{"${A}", []string{"A"}},
		{"arn:${AWS::Partition}:s3:::${Bucket}/*", []string{"AWS::Partition", "Bucket"}},
		{"${Fn.Arn} and ${ Spaced }", []string{"Fn.Arn", "Spaced"}},
		{"${!Literal} ${!Also.Literal} ${Real}", []string{"Real"}},
		{"$A ${} {B} ${Unclosed", nil},
		{`{"Resource": "${StatusUpdater.Arn}"}`, []string{"StatusUpdater.Arn"}},
	} {
		if got := subVariables(c.in); !slices.Equal(got, c.want) {
			t.Errorf("subVariables(%q) = %q; want %q", c.in, got, c.want)
		}
	}
}

func TestReferences(t *testing.T) {
	t.Parallel()
	type ref struct{ from, to, property, intrinsic string }
	for _, c := range []struct {
		name    string
		body    string
		want    []ref
		imports []importUse
	}{
		{
			name: "pseudo parameters, parameters, unknown names and self-references are not dependencies",
			body: `
Parameters: {Stage: {Type: String}}
Resources:
  A:
    Type: T
    Properties:
      R: !Ref AWS::Region
      S: !Ref Stage
      U: !Ref NoSuchThing
      Me: !GetAtt A.Arn
      Sub: !Sub "${AWS::AccountId}-${Stage}-${A}"
      B: !Ref B
  B: {Type: T}
`,
			want: []ref{{"A", "B", "B", "Ref"}},
		},
		{
			name: "DependsOn as a string and as a list",
			body: `
Resources:
  A: {Type: T, DependsOn: B}
  B: {Type: T, DependsOn: [A, C]}
  C: {Type: T}
`,
			want: []ref{{"A", "B", "DependsOn", "DependsOn"}, {"B", "A", "DependsOn", "DependsOn"}, {"B", "C", "DependsOn", "DependsOn"}},
		},
		{
			name: "GetAtt in every form, and paths through lists and maps",
			body: `{"Resources": {
  "A": {"Type": "T", "Properties": {
    "L": {"Fn::GetAtt": ["B", "Arn"]},
    "S": {"Fn::GetAtt": "C.Arn"},
    "VpcConfig": {"SubnetIds": [{"Ref": "D"}, "subnet-x"]},
    "Tags": [{"Key": "k", "Value": {"Fn::GetAtt": ["B", {"Ref": "AttrParam"}]}}]
  }},
  "B": {"Type": "T"}, "C": {"Type": "T"}, "D": {"Type": "T"}
}, "Parameters": {"AttrParam": {"Type": "String"}}}`,
			want: []ref{
				{"A", "B", "L", "Fn::GetAtt"}, {"A", "C", "S", "Fn::GetAtt"},
				{"A", "B", "Tags[0].Value", "Fn::GetAtt"}, {"A", "D", "VpcConfig.SubnetIds[0]", "Ref"},
			},
		},
		{
			name: "a Sub's own variables are not resources, but their values are looked into",
			body: `
Resources:
  A:
    Type: T
    Properties:
      Def: !Sub
        - "${Q} ${B.Arn} ${!C} ${Fn.Name}"
        - Q: !GetAtt C.Url
          Fn: !Ref D
  B: {Type: T}
  C: {Type: T}
  D: {Type: T}
`,
			want: []ref{{"A", "B", "Def", "Fn::Sub"}, {"A", "C", "Def", "Fn::GetAtt"}, {"A", "D", "Def", "Ref"}},
		},
		{
			name: "intrinsics nest: the path is the property's, through Join, Select and If",
			body: `
Resources:
  A:
    Type: T
    Properties:
      Name: !Join ["-", [!Sub "${B}", !Select [0, [!Ref C]]]]
      Opt: !If [IsProd, {Inner: [!Ref D]}, !Ref AWS::NoValue]
  B: {Type: T}
  C: {Type: T}
  D: {Type: T}
`,
			want: []ref{{"A", "B", "Name", "Fn::Sub"}, {"A", "C", "Name", "Ref"}, {"A", "D", "Opt.Inner[0]", "Ref"}},
		},
		{
			name: "literal imports are recorded; a computed one is looked into",
			body: `
Parameters: {Env: {Type: String}}
Resources:
  A:
    Type: T
    Properties:
      Subnets: !Split [",", !ImportValue petsite-PrivateSubnets]
      Groups: [!ImportValue petsite-ServicesSG]
      Computed: !ImportValue {"Fn::Sub": "${Env}-${B}"}
  B: {Type: T}
`,
			want: []ref{{"A", "B", "Computed", "Fn::Sub"}},
			imports: []importUse{
				{"A", "petsite-ServicesSG", "Groups[0]"},
				{"A", "petsite-PrivateSubnets", "Subnets"},
			},
		},
	} {
		t.Run(c.name, func(t *testing.T) {
			refs, imports := mustParse(t, c.body).references()
			var got []ref
			for _, r := range refs {
				got = append(got, ref{r.from, r.to, r.property, r.intrinsic})
			}
			key := func(r ref) string { return r.from + " " + r.to + " " + r.property + " " + r.intrinsic }
			slices.SortFunc(got, func(a, b ref) int { return strings.Compare(key(a), key(b)) })
			slices.SortFunc(c.want, func(a, b ref) int { return strings.Compare(key(a), key(b)) })
			if !slices.Equal(got, c.want) {
				t.Errorf("references\n got %v\nwant %v", got, c.want)
			}
			if !slices.Equal(imports, c.imports) {
				t.Errorf("imports\n got %v\nwant %v", imports, c.imports)
			}
		})
	}
}

func TestParseTemplateRefusesWhatIsNotATemplate(t *testing.T) {
	t.Parallel()
	bomb := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g", "h"} {
		bomb += n + ": &" + n + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = n
	}
	for _, c := range []struct{ name, body, want string }{
		{"too large", "Resources: {}\n" + strings.Repeat("#", MaxTemplateBytes), "more than"},
		{"empty", "", "empty"},
		{"not a mapping", "[1, 2]", "not a mapping"},
		{"not YAML", "Resources: {A: [}", "template:"},
		{"GetAtt without attribute", "Resources:\n  A:\n    Type: T\n    Properties: {X: !GetAtt B}\n", "Resource.Attribute"},
		{"resource not a mapping", "Resources:\n  A: 3\n", "resource A"},
		{"DependsOn not names", "Resources:\n  A: {Type: T, DependsOn: {B: 1}}\n", "DependsOn"},
		{"aliases that expand without bound", bomb, "expands to more than"},
	} {
		if _, err := parseTemplate([]byte(c.body)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want one saying %q", c.name, err, c.want)
		}
	}
}

func TestRolePath(t *testing.T) {
	t.Parallel()
	tmpl := mustParse(t, `
Parameters: {P: {Type: String}, Secret: {Type: String, NoEcho: true}}
Resources:
  None: {Type: AWS::IAM::Role}
  Literal: {Type: AWS::IAM::Role, Properties: {Path: /service-role/}}
  FromParam: {Type: AWS::IAM::Role, Properties: {Path: !Ref P}}
  Hidden: {Type: AWS::IAM::Role, Properties: {Path: !Ref Secret}}
  Computed: {Type: AWS::IAM::Role, Properties: {Path: !Sub "/${P}/"}}
`)
	s := &stack{tmpl: tmpl, params: map[string]string{"P": "/team/a/", "Secret": "****"}}
	for _, c := range []struct {
		logical, path string
		known         bool
	}{
		{"None", "/", true},
		{"Literal", "/service-role/", true},
		{"FromParam", "/team/a/", true},
		{"Hidden", "/", false},
		{"Computed", "/", false},
	} {
		if path, known := s.rolePath(c.logical); path != c.path || known != c.known {
			t.Errorf("%s: %q, %v; want %q, %v", c.logical, path, known, c.path, c.known)
		}
	}
}

func TestDependsOnKeysStayShortAndDistinct(t *testing.T) {
	t.Parallel()
	long1 := strings.Repeat("Nested.", 40) + "A"
	long2 := strings.Repeat("Nested.", 40) + "B"
	k1, k2 := dependsOnKey("Ref", long1), dependsOnKey("Ref", long2)
	if k1 == k2 || len(k1) > 200 || len(k2) > 200 {
		t.Errorf("keys %q and %q", k1, k2)
	}
	if got := dependsOnKey("Fn::GetAtt", "Role"); got != "Fn::GetAtt@Role" {
		t.Errorf("short key %q", got)
	}
}
