package edgebatch

import (
	"math/rand/v2"
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
		{"ARNs keep the readable form: ':' and '/' are harmless in endpoints", EdgeID(UsesRoleLabel, "arn:aws:lambda:eu-west-1:1:function:f", "arn:aws:iam::1:role/r"), "uses_role:arn:aws:lambda:eu-west-1:1:function:f>arn:aws:iam::1:role/r"},
		{"an endpoint holding '>' is hashed", EdgeID(CallsLabel, "svc:a>b", "svc:c"), "calls:sha256:" + edgeDigest("svc:a>b", "svc:c")},
		{"an endpoint holding '#' is hashed and keeps its key", EdgeIDWithKey(TriggersLabel, "arn:aws:logs:eu-west-1:1:log-group:/app#blue", "arn:f", "k"), "triggers:sha256:" + edgeDigest("arn:aws:logs:eu-west-1:1:log-group:/app#blue", "arn:f") + "#k"},
		{"a label holding ':' is hashed", EdgeID("calls:svc", "a", "b"), "calls:svc:sha256:" + edgeDigest("a", "b")},
		{"a key may hold '#' and '>' and stays readable", EdgeIDWithKey(ImportsLabel, "arn:s1", "arn:s2", "a#b>c"), "imports:arn:s1>arn:s2#a#b>c"},
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
		for _, ends := range [][2]string{{"a", "b"}, {longA, longB}, {"svc:x", "svc:x"}, {strings.Repeat("é", 200), strings.Repeat("ü", 200)}, {"a>b", "c#d"}} {
			for _, key := range []string{"", "443", "export:Name", "#", "a>b#c"} {
				id := EdgeIDWithKey(TargetsLabel, ends[0], ends[1], key)
				if msg := idProblem(id) + edgeIDProblem(id, TargetsLabel, ends[0], ends[1]); msg != "" {
					t.Errorf("EdgeIDWithKey(%.20q..., %q): %s", ends[0], key, msg)
				}
			}
		}
	})
}

// edgeTuple is what an edge id must name: two edges that differ in any of
// these are different edges.
type edgeTuple struct{ label, from, to, key string }

func (e edgeTuple) id() string { return EdgeIDWithKey(e.label, e.from, e.to, e.key) }

// accepted reports whether Validate takes id for an edge of e's label, from
// and to.
func (e edgeTuple) accepted(id string) bool {
	return idProblem(id) == "" && edgeIDProblem(id, e.label, e.from, e.to) == ""
}

// TestEdgeIDCollisions: pairs of edges that shared an id before ids were made
// injective now get different ids, and the id they shared is taken for one of
// them at most.
func TestEdgeIDCollisions(t *testing.T) {
	t.Parallel()
	longA, longB := "arn:aws:states:eu-west-1:1:stateMachine:a"+strings.Repeat("x", 250), "arn:aws:states:eu-west-1:1:stateMachine:b"+strings.Repeat("x", 250)
	spelled := "sha256:" + edgeDigest(longA, longB) + "#k"
	logGroup := "arn:aws:logs:eu-west-1:123456789012:log-group:/app"

	tests := []struct {
		name   string
		a, b   edgeTuple
		before string // the id both had
	}{
		{"'>' in from and '>' in to no longer meet",
			edgeTuple{CallsLabel, "svc:a>b", "svc:c", ""}, edgeTuple{CallsLabel, "svc:a", "b>svc:c", ""},
			"calls:svc:a>b>svc:c"},
		{"a label holding ':' and a from holding ':' no longer meet",
			edgeTuple{"calls:svc", "a", "b", ""}, edgeTuple{CallsLabel, "svc:a", "b", ""},
			"calls:svc:a>b"},
		{"a to holding '#' and a key no longer meet",
			edgeTuple{TriggersLabel, "arn:q", logGroup + "#blue", ""}, edgeTuple{TriggersLabel, "arn:q", logGroup, "blue"},
			"triggers:arn:q>" + logGroup + "#blue"},
		{"a to holding '#' and a key holding '#' no longer meet",
			edgeTuple{"l", "a", "b#c", "d"}, edgeTuple{"l", "a", "b", "c#d"},
			"l:a>b#c#d"},
		{"a to holding '#' and '>' and a key holding '>' no longer meet",
			edgeTuple{"l", "a", "b#x>c", ""}, edgeTuple{"l", "a", "b", "x>c"},
			"l:a>b#x>c"},
		{"a from that spells a hashed id no longer meets that hashed id with a key holding '>'",
			edgeTuple{"l", spelled, "b", ""}, edgeTuple{"l", longA, longB, "k>b"},
			"l:" + spelled + ">b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			idA, idB := tt.a.id(), tt.b.id()
			if idA == idB {
				t.Fatalf("both edges get %q", idA)
			}
			if !tt.a.accepted(idA) || !tt.b.accepted(idB) {
				t.Errorf("Validate refuses an id EdgeIDWithKey made: %q, %q", idA, idB)
			}
			if tt.a.accepted(idB) || tt.b.accepted(idA) {
				t.Errorf("Validate takes one edge's id for the other's")
			}
			if tt.a.accepted(tt.before) && tt.b.accepted(tt.before) {
				t.Errorf("Validate still takes %q for both edges", tt.before)
			}
		})
	}
}

// TestEdgeIDInjective makes the id of every edge over a small alphabet holding
// ':', '>' and '#' (labels of up to 3 characters, endpoints and keys of up to
// 2), then of random edges with longer parts, and checks that no two share an
// id and that Validate takes each id for its own edge.
func TestEdgeIDInjective(t *testing.T) {
	t.Parallel()
	words := func(alphabet string, maxLen int) []string {
		out := []string{""}
		for prev := out; maxLen > 0; maxLen-- {
			var next []string
			for _, w := range prev {
				for _, c := range alphabet {
					next = append(next, w+string(c))
				}
			}
			out, prev = append(out, next...), next
		}
		return out
	}
	var labels []string
	for _, w := range words("a:", 2) {
		labels = append(labels, "a"+w)
	}
	ends := words("a:>#", 2)[1:]
	keys := words("a:>#", 2)

	seen := make(map[string]edgeTuple)
	check := func(e edgeTuple) {
		id := e.id()
		if other, dup := seen[id]; dup && other != e {
			t.Fatalf("%+v and %+v share the id %q", other, e, id)
		}
		seen[id] = e
		if !e.accepted(id) {
			t.Fatalf("Validate refuses %q for %+v: %s", id, e, edgeIDProblem(id, e.label, e.from, e.to))
		}
	}
	for _, l := range labels {
		for _, f := range ends {
			for _, to := range ends {
				for _, k := range keys {
					check(edgeTuple{l, f, to, k})
				}
			}
		}
	}

	rng := rand.New(rand.NewPCG(7, 11))
	word := func(alphabet string, minLen, maxLen int) string {
		b := make([]byte, minLen+rng.IntN(maxLen-minLen+1))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 100_000 {
		check(edgeTuple{"a" + word("a:", 0, 4), word("a:>#", 1, 5), word("a:>#", 1, 5), word("a:>#", 0, 4)})
	}
}

// FuzzEdgeIDInjective: two different edges never get the same id, an id
// EdgeIDWithKey makes is one Validate takes (when it fits), and Validate never
// takes one edge's id for another's.
func FuzzEdgeIDInjective(f *testing.F) {
	long := strings.Repeat("x", 300)
	f.Add(CallsLabel, "svc:a>b", "svc:c", "", CallsLabel, "svc:a", "b>svc:c", "")
	f.Add("calls:svc", "a", "b", "", CallsLabel, "svc:a", "b", "")
	f.Add("l", "a", "b#c", "d", "l", "a", "b", "c#d")
	f.Add("l", "sha256:"+edgeDigest(long, long)+"#k", "b", "", "l", long, long, "k>b")
	f.Add("l", long, long, "", "l:sha256:"+edgeDigest(long, long), "a", "b", "")
	f.Fuzz(func(t *testing.T, l1, f1, t1, k1, l2, f2, t2, k2 string) {
		a, b := edgeTuple{l1, f1, t1, k1}, edgeTuple{l2, f2, t2, k2}
		for _, e := range [...]edgeTuple{a, b} {
			if labelProblem(e.label) != "" || idProblem(e.from) != "" || idProblem(e.to) != "" {
				t.Skip("not an edge Validate takes")
			}
		}
		idA, idB := a.id(), b.id()
		if a != b && idA == idB {
			t.Fatalf("%+v and %+v share the id %q", a, b, idA)
		}
		for _, e := range [...]edgeTuple{a, b} {
			if id := e.id(); idProblem(id) == "" && !e.accepted(id) {
				t.Fatalf("Validate refuses %q for %+v: %s", id, e, edgeIDProblem(id, e.label, e.from, e.to))
			}
		}
		ea, eb := edgeTuple{l1, f1, t1, ""}, edgeTuple{l2, f2, t2, ""}
		if ea != eb && b.accepted(idA) {
			t.Fatalf("Validate takes %q, the id of %+v, for %+v", idA, a, b)
		}
	})
}

// FuzzEdgeIDProblem: an id Validate takes for an edge is exactly the one
// EdgeIDWithKey gives it with the key after the id's first '#', so the
// validator's ids are as injective as EdgeIDWithKey's.
func FuzzEdgeIDProblem(f *testing.F) {
	f.Add("calls:svc:a>b>svc:c", CallsLabel, "svc:a>b", "svc:c")
	f.Add("calls:svc:a>b>svc:c", CallsLabel, "svc:a", "b>svc:c")
	f.Add("calls:sha256:"+edgeDigest("svc:a", "svc:b")+"#k", CallsLabel, "svc:a", "svc:b")
	f.Add("calls:svc:a>b", "calls:svc", "a", "b")
	f.Add("l:a>b#c#d", "l", "a", "b#c")
	f.Add("l:a>b#", "l", "a", "b")
	f.Fuzz(func(t *testing.T, id, label, from, to string) {
		if idProblem(id) != "" || labelProblem(label) != "" || idProblem(from) != "" || idProblem(to) != "" {
			t.Skip("not an edge Validate takes")
		}
		if edgeIDProblem(id, label, from, to) != "" {
			return
		}
		_, key, _ := strings.Cut(id, "#")
		if want := EdgeIDWithKey(label, from, to, key); id != want {
			t.Fatalf("Validate takes %q for a %q edge from %q to %q; EdgeIDWithKey gives %q", id, label, from, to, want)
		}
	})
}
