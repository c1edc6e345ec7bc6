package edgebatch

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"strings"
)

// Vertex labels that are not derived from a CloudFormation type.
const (
	// ServiceLabel labels a service seen by DeepFlow; its id is ServiceID.
	ServiceLabel = "Service"
	// StackLabel labels a CloudFormation stack (AWSLabel("AWS::CloudFormation::Stack"));
	// its id is the stack ARN.
	StackLabel = "CloudFormation_Stack"
)

// Edge labels. AWS relationships not listed here are spelled the same way:
// lower case, words joined by '_'.
const (
	// CallsLabel: service to service, with traffic metrics.
	CallsLabel = "calls"
	// ContainsLabel: stack to the resource it manages.
	ContainsLabel = "contains"
	// ImportsLabel: stack to stack through an export; the "export" prop names
	// it, and the export name is the key when one pair shares several exports
	// (see EdgeIDWithKey).
	ImportsLabel = "imports"
	// DependsOnLabel: resource to resource from a template's Ref, GetAtt or DependsOn.
	DependsOnLabel = "depends_on"
	// InVPCLabel: resource to the VPC it is in.
	InVPCLabel = "in_vpc"
	// InSubnetLabel: resource to a subnet it is in.
	InSubnetLabel = "in_subnet"
	// HasSecurityGroupLabel: resource to a security group attached to it.
	HasSecurityGroupLabel = "has_security_group"
	// UsesRoleLabel: resource to the IAM role it assumes.
	UsesRoleLabel = "uses_role"
	// TriggersLabel: event source to what it invokes (a queue to a function, ...).
	TriggersLabel = "triggers"
	// TargetsLabel: rule or load balancer to its target.
	TargetsLabel = "targets"
)

// ReservedIDPrefix starts the ids of the writer's own vertices (snapshot
// progress, the probe); no batch may use it, so bookkeeping never meets data.
const ReservedIDPrefix = "graphfleet:"

// hashedMarker separates an edge label from the digest in a hashed edge id.
const hashedMarker = ":sha256:"

// ServiceID is the id of a service seen by DeepFlow: "svc:<namespace>/<name>",
// or "svc:<name>" when namespace is empty.
func ServiceID(namespace, name string) string {
	if namespace == "" {
		return "svc:" + name
	}
	return "svc:" + namespace + "/" + name
}

// AWSLabel is the vertex label of a CloudFormation resource type: the type
// without its "AWS::" prefix and with each "::" as "_"
// ("AWS::Lambda::Function" is "Lambda_Function"). Types of other providers keep
// their prefix ("Custom::Thing" is "Custom_Thing"). The result is not checked:
// Validate refuses a label that is not [A-Za-z][A-Za-z0-9_:]{0,127}.
func AWSLabel(cfnType string) string {
	return strings.ReplaceAll(strings.TrimPrefix(cfnType, "AWS::"), "::", "_")
}

// EdgeID is the id of the edge of label from the vertex with id from to the
// vertex with id to: "<label>:<from>><to>", the readable form, or
// "<label>:sha256:<digest>", the hashed form, where digest is the lower-case
// hex SHA-256 of the 8-byte big-endian length of from, then from, then to.
//
// The readable form is used when it fits in MaxIDBytes (512 bytes, the most a
// Neptune-bound id may be) and can be read only one way: the label holds no
// ':' and neither endpoint holds '>' or '#'. Otherwise (two long ARNs, a
// CloudWatch log group named with '#', a label with ':') the id is hashed. Two
// different edges never share an id; if they did, the second would silently
// rewrite the first one's properties in Neptune. See EdgeIDWithKey for why.
//
// Both forms are deterministic, so every producer that sees the edge names it
// the same way, and Validate checks that an edge's id is exactly the one these
// rules give for its label, from and to: an id that disagrees with its
// endpoints would otherwise leave the first writer's endpoints in place forever
// (mergeE sets from and to on create only). Ordinary ids (svc:<ns>/<name>,
// ARNs, whose ':' and '/' are harmless in endpoints) keep the readable form,
// so ids stay greppable.
func EdgeID(label, from, to string) string {
	return EdgeIDWithKey(label, from, to, "")
}

// EdgeIDWithKey is the id of one of several edges of one label between the same
// pair, told apart by key (a port, an export name, ...): EdgeID's id followed by
// "#<key>", so "<label>:<from>><to>#<key>" or "<label>:sha256:<digest>#<key>";
// the readable form also needs the whole id, key included, to fit in
// MaxIDBytes. The digest does not cover the key, so the key stays readable. An
// empty key gives EdgeID. A key may hold any character, '#' and '>' included,
// but keep it short: a key long enough to push even the hashed form past
// MaxIDBytes (about 300 bytes with a long label) gives an id Validate refuses.
//
// The id names one (label, from, to, key) only, with ids of either form (for
// the hashed form, as far as SHA-256 has no collisions):
//
//  1. Labels ([A-Za-z][A-Za-z0-9_:]*), the endpoints of a readable id,
//     ":sha256:" and hex digests hold no '#', so an id's first '#' is the one
//     that starts the key: the key is everything after it (which is why a key
//     may hold anything), and no '#' means no key. Equal ids have equal keys
//     and equal heads, the part before that '#'.
//  2. A readable head holds '>' between from and to; a hashed head holds none.
//     The two forms never give the same id.
//  3. A readable head reads one way: its label has no ':', so the label ends
//     at the first ':'; from has no '>', so it ends at the next '>'; to is the
//     rest. (to could hold '>' harmlessly; one rule for both endpoints is
//     simpler to state, and it is DESIGN.md's.)
//  4. A hashed head ends with the 64-character digest, and the label is what
//     comes before ":sha256:" and the digest. Equal digests mean equal
//     (from, to): the length prefix makes the hashed bytes name one split
//     between from and to.
//
// The argument needs only that the readable form is never used for a label
// holding ':' or an endpoint holding '>' or '#'; length decides nothing about
// it, so a key that pushes an id past MaxIDBytes and into the hashed form is
// as safe as any.
func EdgeIDWithKey(label, from, to, key string) string {
	var sb strings.Builder
	if n := readableLen(label, from, to, key); n <= MaxIDBytes && ambiguity(label, from, to) == "" {
		sb.Grow(n)
		sb.WriteString(label)
		sb.WriteByte(':')
		sb.WriteString(from)
		sb.WriteByte('>')
		sb.WriteString(to)
	} else {
		sb.WriteString(label)
		sb.WriteString(hashedMarker)
		sb.WriteString(edgeDigest(from, to))
	}
	if key != "" {
		sb.WriteByte('#')
		sb.WriteString(key)
	}
	return sb.String()
}

// readableLen is the length of the readable form of an edge id.
func readableLen(label, from, to, key string) int {
	n := len(label) + 1 + len(from) + 1 + len(to)
	if key != "" {
		n += 1 + len(key)
	}
	return n
}

// ambiguity says what would let the readable id of an edge be read as another
// edge's, or returns "" when nothing would.
func ambiguity(label, from, to string) string {
	if strings.IndexByte(label, ':') >= 0 {
		return "the label " + quote(label) + " holds ':'"
	}
	for _, end := range [...]struct{ name, id string }{{"from", from}, {"to", to}} {
		if i := strings.IndexAny(end.id, ">#"); i >= 0 {
			return end.name + " " + quote(truncateID(end.id)) + " holds '" + end.id[i:i+1] + "'"
		}
	}
	return ""
}

// edgeDigest is the hex SHA-256 that names a (from, to) pair in a hashed edge id.
func edgeDigest(from, to string) string {
	h := sha256.New()
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(from)))
	h.Write(n[:])
	h.Write([]byte(from))
	h.Write([]byte(to))
	return hex.EncodeToString(h.Sum(nil))
}

// edgeIDProblem says why id is not the id EdgeIDWithKey gives for label, from,
// to and some key, or returns "" when it is. It does not check the length
// limit, which Validate checks for every id. The key is what follows the id's
// first '#' (see EdgeIDWithKey), so there is one candidate per form to check,
// and the form it must have is the one EdgeIDWithKey would choose.
func edgeIDProblem(id, label, from, to string) string {
	if rest, ok := cutReadableEdgeID(id, label, from, to); ok {
		if key, ok := cutKey(rest); ok {
			switch why := ambiguity(label, from, to); {
			case key == "" && rest != "":
				return emptyKeyProblem
			case why != "":
				return "is the readable form, but " + why + ", so another edge could have this id: want " + quote(truncateID(EdgeIDWithKey(label, from, to, key))) + " (see EdgeID)"
			}
			return "" // too long is reported by the length rule
		}
	}
	if rest, ok := cutHashedEdgeID(id, label, from, to); ok {
		if key, ok := cutKey(rest); ok {
			switch {
			case key == "" && rest != "":
				return emptyKeyProblem
			case readableLen(label, from, to, key) <= MaxIDBytes && ambiguity(label, from, to) == "":
				return "uses the hashed form, but the readable one " + quote(truncateID(EdgeIDWithKey(label, from, to, key))) + " fits in " + itoa(MaxIDBytes) + " bytes and is unambiguous"
			}
			return ""
		}
	}
	return "is not the id of a " + quote(label) + " edge from " + quote(truncateID(from)) + " to " + quote(truncateID(to)) + ": want " + quote(truncateID(EdgeID(label, from, to))) + `, optionally followed by "#<key>" (see EdgeID)`
}

const emptyKeyProblem = `has an empty key after "#"`

// cutKey returns the key that rest, what follows an edge id's head, holds:
// "" for none. ok is false when rest is not "" or "#<key>".
func cutKey(rest string) (key string, ok bool) {
	if rest == "" {
		return "", true
	}
	return strings.CutPrefix(rest, "#")
}

// cutHashedEdgeID reports whether id starts with "<label>:sha256:<digest>"
// for from and to, and returns what follows.
func cutHashedEdgeID(id, label, from, to string) (rest string, ok bool) {
	if id, ok = strings.CutPrefix(id, label); !ok {
		return "", false
	}
	if id, ok = strings.CutPrefix(id, hashedMarker); !ok {
		return "", false
	}
	const digestLen = 2 * sha256.Size
	if len(id) < digestLen || id[:digestLen] != edgeDigest(from, to) {
		return "", false
	}
	return id[digestLen:], true
}

// cutReadableEdgeID reports whether id starts with "<label>:<from>><to>" and
// returns what follows.
func cutReadableEdgeID(id, label, from, to string) (rest string, ok bool) {
	for _, part := range [...]string{label, ":", from, ">", to} {
		if id, ok = strings.CutPrefix(id, part); !ok {
			return "", false
		}
	}
	return id, true
}

// truncateID shortens an id for an error message; paths and the DLQ reason
// have little room.
func truncateID(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return truncateUTF8(s, max-3) + "..."
}
