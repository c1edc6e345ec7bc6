package edgebatch

import (
	"fmt"
	"maps"
)

// ReplayCopy builds the message that `worker replay dlq` sends to the replay
// queue for a dead-lettered one, when it copies messages itself (where SQS's
// message move task is unavailable): the body untouched, every String
// attribute kept (the trace context with them, and the DLQ's error and
// original_message_id, which tell an operator why it had failed), and
// AttrReplay set. Should the added attribute not fit SQS's limits (ten
// attributes, MaxMessageBytes in all), the error reason goes first, then the
// original id; the batch's own attributes always stay. The only error wraps
// ErrTooLarge.
func ReplayCopy(body string, attrs map[string]string) (Message, error) {
	out := maps.Clone(attrs)
	if out == nil {
		out = map[string]string{}
	}
	out[AttrReplay] = "true"
	fits := func() bool { return len(out) <= MaxAttributes && len(body)+attributesSize(out) <= MaxMessageBytes }
	for _, drop := range []string{AttrError, AttrOriginalMessageID} {
		if fits() {
			break
		}
		delete(out, drop)
	}
	if !fits() {
		return Message{}, fmt.Errorf("cannot replay message %q: %w: %d attributes, %d bytes with the replay mark", attrs[AttrOriginalMessageID], ErrTooLarge, len(out), len(body)+attributesSize(out))
	}
	return Message{Body: body, Attributes: out}, nil
}
