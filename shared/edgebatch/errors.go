package edgebatch

import (
	"errors"
	"fmt"
)

// ErrMalformed is wrapped by every error Decode returns: the message is not a
// valid edge batch v1 and never will be, so it must not be retried. The worker
// sends it to the DLQ at once (DeadLetter with Reason(err) as the reason); a
// newer worker can still take it back through the replay queue.
var ErrMalformed = errors.New("edgebatch: malformed message")

// ErrTooLarge is wrapped by the errors of Encode, EncodeWith and Split when a
// batch, or one element of it, does not fit in one SQS message, and by
// DeadLetter's when a body with its reason does not.
var ErrTooLarge = errors.New("edgebatch: too large for one message")

// malformed is an ErrMalformed with what was wrong.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// Reason is err in one line of at most MaxReasonBytes bytes that is a valid
// SQS attribute value, for the DLQ's "error" attribute. For a validation
// failure it is (*ValidationError).Reason. It is "" for a nil err.
func Reason(err error) string {
	if err == nil {
		return ""
	}
	if ve, ok := errors.AsType[*ValidationError](err); ok {
		return ve.Reason()
	}
	return shorten(err.Error(), MaxReasonBytes)
}
