package edgebatch

import (
	"fmt"
	"slices"
)

// maxOriginalIDBytes bounds the original_message_id attribute. SQS message ids
// are UUIDs (36 bytes), so a real id is never cut; the bound is what lets
// AttributeReserve promise room for the attribute.
const maxOriginalIDBytes = 100

// noReason stands in for an empty reason: SQS refuses an empty attribute value,
// and a DLQ message must say something.
const noReason = "no reason given"

// DeadLetter builds the copy of a received message that a worker sends to the
// dead-letter queue when it gives the message up (a batch that never becomes
// valid, or a write refused for good). It is the one place that decides what
// that copy holds, so the copy is always one SQS accepts: a copy SendMessage
// refuses would leave the message to come back and fail again, forever.
//
//   - The body is body, untouched, so the message can be replayed as it was.
//   - AttrError is reason as one line of at most MaxReasonBytes bytes holding
//     only characters SQS accepts in an attribute value (Reason(err) already
//     is; a driver's error need not be), cut on a character boundary and
//     marked "..." when cut. An empty reason becomes "no reason given".
//   - AttrOriginalMessageID is originalID, the id SQS gave the message, so an
//     operator can find the worker's logs about it; omitted when empty.
//   - Then as many of attrs (the message's String attributes) as SQS's limits
//     leave room for: MaxAttributes attributes in all, and MaxMessageBytes for
//     the body plus every attribute's name, type ("String") and value. Schema,
//     content-encoding and source come first, since they say how to read the
//     body; then the rest by name. One that does not fit is left out and the
//     next is tried. An existing "error" or "original_message_id" attribute
//     (a message dead-lettered before and replayed) is never copied, and
//     neither is one SQS would refuse.
//
// A message Encode or EncodeWith made, with traceparent and tracestate added
// after, always fits with every attribute: AttributeReserve and
// ReservedAttributes leave room for those two and for the reason and the id. The only error wraps ErrTooLarge: even the body with the reason
// and the id does not fit, and the caller has to leave the message to the
// queue's redrive policy, which moves it without a reason.
//
// The cost is a copy of the attribute map; the body is not copied.
func DeadLetter(body string, attrs map[string]string, originalID, reason string) (Message, error) {
	out := make(map[string]string, min(len(attrs)+2, MaxAttributes))
	out[AttrError] = shorten(reason, MaxReasonBytes)
	if out[AttrError] == "" {
		out[AttrError] = noReason
	}
	if originalID != "" {
		out[AttrOriginalMessageID] = shorten(originalID, maxOriginalIDBytes)
	}
	size := len(body) + attributesSize(out)
	if size > MaxMessageBytes {
		return Message{}, fmt.Errorf("cannot dead-letter message %q: %w: its body (%d bytes) with the reason and id counts %d bytes; at most %d", out[AttrOriginalMessageID], ErrTooLarge, len(body), size, MaxMessageBytes)
	}
	for _, name := range deadLetterOrder(attrs) {
		if len(out) == MaxAttributes {
			break
		}
		value := attrs[name]
		if n := attributeSize(name, value); size+n <= MaxMessageBytes {
			out[name] = value
			size += n
		}
	}
	return Message{Body: body, Attributes: out}, nil
}

// deadLetterOrder is the names of attrs that DeadLetter may copy, in the order
// it tries them: those that say how to read the body, then the rest by name,
// so the same message always gives the same copy.
func deadLetterOrder(attrs map[string]string) []string {
	names := make([]string, 0, len(attrs))
	for _, name := range [...]string{AttrSchema, AttrContentEncoding, AttrSource} {
		if v, ok := attrs[name]; ok && attributeProblem(name, v) == "" {
			names = append(names, name)
		}
	}
	first := len(names)
	for name, v := range attrs {
		switch name {
		case AttrSchema, AttrContentEncoding, AttrSource, AttrError, AttrOriginalMessageID:
			continue
		}
		if attributeProblem(name, v) == "" {
			names = append(names, name)
		}
	}
	slices.Sort(names[first:])
	return names
}
