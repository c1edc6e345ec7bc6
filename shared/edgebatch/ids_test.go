package edgebatch

import (
	"strings"
	"testing"
)

func TestIDs(t *testing.T) {
	t.Parallel()
	arn := func(name string, n int) string {
		return "arn:aws:states:eu-west-1:123456789012:stateMachine:" + name + strings.Repeat("x", n)
	}
	longA, longB := arn("a", 250), arn("b", 250)
	digest := edgeDigest(longA, longB)

	tests := []struct {
		name, got, want string
	}{
		{"a service in a namespace is svc:<ns>/<name>", ServiceID("petsite", "petsearch"), "svc:petsite/petsearch"},
		{"a service without a namespace is svc:<name>", ServiceID("", "petsearch"), "svc:petsearch"},
		{"an AWS type loses AWS:: and joins the rest with _", AWSLabel("AWS::Lambda::Function"), "Lambda_Function"},
		{"a stack's label is StackLabel", AWSLabel("AWS::CloudFormation::Stack"), StackLabel},
		{"a three-part AWS type keeps all its parts", AWSLabel("AWS::EC2::VPCGatewayAttachment"), "EC2_VPCGatewayAttachment"},
		{"a type of another provider keeps its prefix", AWSLabel("Custom::Thing"), "Custom_Thing"},
		{"an edge id is <label>:<from>><to>", EdgeID(CallsLabel, "svc:a/x", "svc:a/y"), "calls:svc:a/x>svc:a/y"},
		{"a keyed edge id appends #<key>", EdgeIDWithKey(ImportsLabel, "arn:s1", "arn:s2", "VpcId"), "imports:arn:s1>arn:s2#VpcId"},
		{"an empty key gives the plain edge id", EdgeIDWithKey(CallsLabel, "a", "b", ""), "calls:a>b"},
		{"an edge id over 512 bytes is hashed", EdgeID(DependsOnLabel, longA, longB), "depends_on:sha256:" + digest},
		{"a keyed edge id over 512 bytes is hashed and keeps its key", EdgeIDWithKey(DependsOnLabel, longA, longB, "k1"), "depends_on:sha256:" + digest + "#k1"},
		{"an edge id of exactly 512 bytes stays readable", EdgeID("l", strings.Repeat("a", 255), strings.Repeat("b", 254)), "l:" + strings.Repeat("a", 255) + ">" + strings.Repeat("b", 254)},
		{"the hash tells apart where from ends and to begins", edgeDigest("ab", "c") + edgeDigest("a", "bc"), edgeDigest("ab", "c") + edgeDigest("a", "bc")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if tt.got != tt.want {
				t.Errorf("got %q, want %q", tt.got, tt.want)
			}
			if len(tt.got) > MaxIDBytes {
				t.Errorf("id is %d bytes", len(tt.got))
			}
		})
	}

	t.Run("ids split differently between from and to hash differently", func(t *testing.T) {
		t.Parallel()
		if edgeDigest("ab", "c") == edgeDigest("a", "bc") {
			t.Error("digests collide")
		}
	})

	t.Run("a key that makes the readable id too long switches to the hashed form", func(t *testing.T) {
		t.Parallel()
		from, to := strings.Repeat("a", 250), strings.Repeat("b", 250)
		if id := EdgeID("l", from, to); strings.Contains(id, hashedMarker) {
			t.Fatalf("EdgeID hashed an id that fits: %q", id)
		}
		id := EdgeIDWithKey("l", from, to, strings.Repeat("k", 20))
		if !strings.HasPrefix(id, "l"+hashedMarker) {
			t.Errorf("id = %q, want the hashed form", id)
		}
		if msg := edgeIDProblem(id, "l", from, to); msg != "" {
			t.Errorf("Validate would refuse it: %s", msg)
		}
	})

	t.Run("every id these functions make passes the validator", func(t *testing.T) {
		t.Parallel()
		for _, ends := range [][2]string{{"a", "b"}, {longA, longB}, {"svc:x", "svc:x"}, {strings.Repeat("é", 200), strings.Repeat("ü", 200)}} {
			for _, key := range []string{"", "443", "export:Name"} {
				id := EdgeIDWithKey(TargetsLabel, ends[0], ends[1], key)
				if msg := idProblem(id) + edgeIDProblem(id, TargetsLabel, ends[0], ends[1]); msg != "" {
					t.Errorf("EdgeIDWithKey(%.20q..., %q): %s", ends[0], key, msg)
				}
			}
		}
	})
}
