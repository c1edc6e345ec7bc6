package graph

import "fmt"

// Error is a refusal of a traversal, named the way Neptune names it. Code is
// the Neptune exception name (what Neptune puts in the "code" field of its
// error JSON); Message is the detailed message.
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Neptune exception names used by the engine.
const (
	// CodeMalformedQuery: the bytecode is not a well-formed traversal (a
	// modulator without its step, wrong argument types or counts, ...).
	CodeMalformedQuery = "MalformedQueryException"
	// CodeUnsupportedOperation: a step, predicate, strategy, argument or value
	// type the stand-in (or Neptune) does not support; also non-string ids,
	// which Neptune refuses with this code.
	CodeUnsupportedOperation = "UnsupportedOperationException"
	// CodeConstraintViolation: an element with the given id already exists.
	CodeConstraintViolation = "ConstraintViolationException"
	// CodeInvalidParameter: a well-formed traversal whose arguments Gremlin
	// rejects while running (TinkerPop's IllegalArgumentException family:
	// merge map validation, missing mergeE vertices, hidden keys, ...).
	CodeInvalidParameter = "InvalidParameterException"
	// CodeQueryTooLarge: more than MaxSteps steps in one request.
	CodeQueryTooLarge = "QueryTooLargeException"
	// CodeCancelledByUser: the caller's context was cancelled.
	CodeCancelledByUser = "CancelledByUserException"
	// CodeTimeLimitExceeded: the caller's context deadline passed.
	CodeTimeLimitExceeded = "TimeLimitExceededException"
	// CodeReadOnlyViolation: a write reached an instance that is not (or no
	// longer) the writer: a read replica, or a writer demoted by a failover
	// to which an old connection is still pinned.
	CodeReadOnlyViolation = "ReadOnlyViolationException"
)

// MsgReadOnlyViolation is Neptune's detailed message for
// ReadOnlyViolationException, as its error documentation shows it, so that
// clients meet the text they will meet in production.
const MsgReadOnlyViolation = "The request is rejected because it violates some read-only restriction, such as a designation of a replica as read-only."

func errf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

func malformed(format string, args ...any) *Error {
	return errf(CodeMalformedQuery, format, args...)
}

func unsupported(format string, args ...any) *Error {
	return errf(CodeUnsupportedOperation, format, args...)
}

func invalid(format string, args ...any) *Error {
	return errf(CodeInvalidParameter, format, args...)
}
