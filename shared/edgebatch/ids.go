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
// vertex with id to: "<label>:<from>><to>".
//
// Two ARNs can be long enough to make that id longer than MaxIDBytes (512
// bytes), which Neptune-bound ids may not be. Then, and only then, the id is
// "<label>:sha256:<digest>", where digest is the lower-case hex SHA-256 of the
// 8-byte big-endian length of from, then from, then to (the length makes the
// split between from and to unambiguous). The fallback is deterministic, so
// every producer that sees the edge still names it the same way, and Validate
// checks that an edge's id is exactly the one these rules give for its label,
// from and to: an id that disagrees with its endpoints would otherwise leave
// the first writer's endpoints in place forever (mergeE sets from and to on
// create only). The readable form is kept whenever it fits, so ids stay
// greppable.
//
// A vertex id that itself contains '>' (or '#', with keys) could make two
// different edges share an id; DeepFlow service ids and the ARNs graphfleet
// discovers do not contain them, so the readable form is kept rather than
// escaped.
func EdgeID(label, from, to string) string {
	return EdgeIDWithKey(label, from, to, "")
}

// EdgeIDWithKey is the id of one of several edges of one label between the same
// pair, told apart by key (a port, an export name, ...): EdgeID's id followed by
// "#<key>", so "<label>:<from>><to>#<key>", or "<label>:sha256:<digest>#<key>"
// when the readable form would exceed MaxIDBytes (the digest does not cover the
// key, so the key stays readable). An empty key gives EdgeID. Keep keys short:
// a key long enough to push even the hashed form past MaxIDBytes (about 300
// bytes with a long label) gives an id Validate refuses.
func EdgeIDWithKey(label, from, to, key string) string {
	n := len(label) + 1 + len(from) + 1 + len(to)
	if key != "" {
		n += 1 + len(key)
	}
	var sb strings.Builder
	if n <= MaxIDBytes {
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

// edgeIDProblem says why id is not the id EdgeID or EdgeIDWithKey gives for
// label, from and to, or returns "" when it is. It does not check the length
// limit, which Validate checks for every id.
func edgeIDProblem(id, label, from, to string) string {
	plainLen := len(label) + 1 + len(from) + 1 + len(to)
	if rest, ok := cutReadableEdgeID(id, label, from, to); ok {
		switch {
		case rest == "":
			return "" // too long is reported by the length rule
		case rest == "#":
			return `has an empty key after "#"`
		case rest[0] == '#':
			return ""
		}
	}
	if rest, ok := strings.CutPrefix(id, label+hashedMarker); ok {
		digest, key, keyed := strings.Cut(rest, "#")
		if digest == edgeDigest(from, to) {
			n := plainLen
			if keyed {
				if key == "" {
					return `has an empty key after "#"`
				}
				n += 1 + len(key)
			}
			if n <= MaxIDBytes {
				return "uses the hashed form, but the readable one " + quote(truncateID(EdgeIDWithKey(label, from, to, key))) + " fits in " + itoa(MaxIDBytes) + " bytes"
			}
			return ""
		}
	}
	return "is not the id of a " + quote(label) + " edge from " + quote(truncateID(from)) + " to " + quote(truncateID(to)) + ": want " + quote(truncateID(EdgeID(label, from, to))) + `, optionally followed by "#<key>" (see EdgeID)`
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
