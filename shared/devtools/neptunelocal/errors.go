package neptunelocal

import (
	"encoding/json"
	"sort"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graph"
)

// neptuneError is one row of Neptune's graph engine error table: the HTTP
// status the code travels with over HTTP and a detailed message for it.
type neptuneError struct {
	status  int
	message string
}

// neptuneErrors are the codes a Neptune Gremlin endpoint answers with: the
// table "Graph Engine Error Messages and Codes" of the Neptune user guide,
// plus the data-plane exceptions of the neptunedata API model that a query
// can meet (ClientTimeout, InvalidArgument, Parsing, PreconditionsFailed,
// ServerShutdown). Statuses are Neptune's; the messages are the stand-in's
// short paraphrases, except where a constant says it is Neptune's own text.
// Faults.FailWith accepts exactly these codes, so a client's classification
// can be tested for every code Neptune documents.
var neptuneErrors = map[string]neptuneError{
	"AccessDeniedException":           {403, "Authentication or authorization failed."},
	"BadRequestException":             {400, "The request could not be completed."},
	"CancelledByUserException":        {500, "The request was cancelled by an authorised client."},
	"ClientTimeoutException":          {408, "The request timed out in the client."},
	"ConcurrentModificationException": {500, msgConcurrentModification},
	"ConstraintViolationException":    {400, "Completing the request would violate a data integrity constraint; retry it."},
	"FailureByQueryException":         {500, "The query failed while it ran."},
	"IllegalArgumentException":        {400, "An argument of the request is not supported."},
	"InternalFailureException":        {500, "The request processing failed."},
	"InvalidArgumentException":        {400, "An argument of the request has an invalid value."},
	"InvalidNumericDataException":     {400, "The request carries invalid numeric data."},
	"InvalidParameterException":       {400, "A parameter has an invalid or out-of-range value."},
	"MalformedQueryException":         {400, "The query is malformed."},
	"MemoryLimitExceededException":    {500, "The request ran out of memory; retry when the server is less busy."},
	"MethodNotAllowedException":       {405, "The HTTP method is not allowed."},
	"MissingParameterException":       {400, "A required parameter is missing."},
	"ParsingException":                {400, "The request could not be parsed."},
	"PreconditionsFailedException":    {400, "A precondition of the request is not met."},
	"QueryLimitExceededException":     {500, "A limited resource ran out; retry when the server is less busy."},
	"QueryLimitException":             {400, "The query exceeds a system limit."},
	"QueryTooLargeException":          {400, "The request is too large."},
	"ReadOnlyViolationException":      {400, graph.MsgReadOnlyViolation},
	"ServerShutdownException":         {500, "The server is shutting down."},
	"ThrottlingException":             {500, "Rate exceeded."},
	"TimeLimitExceededException":      {500, "The request did not finish in time."},
	"TooManyRequestsException":        {429, "Too many requests."},
	"UnsupportedOperationException":   {400, "The request uses an unsupported feature or construct."},
}

// ErrorCodes lists every Neptune error code the stand-in can answer with
// (Faults.FailWith), sorted.
func ErrorCodes() []string {
	out := make([]string, 0, len(neptuneErrors))
	for c := range neptuneErrors {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// ErrorStatus is the HTTP status Neptune's table gives for code, 0 when the
// code is not in it.
func ErrorStatus(code string) int { return neptuneErrors[code].status }

// Gremlin Server status codes the stand-in answers with. gremlin-go turns
// every code but 200, 204 and 206 into an error carrying the status message
// (and reads only the status's low byte: 500 reaches a client as 244).
const (
	statusSuccess        = 200
	statusNoContent      = 204
	statusPartialContent = 206
	// statusUnauthorized is Gremlin's UNAUTHORIZED, what Gremlin Server's
	// authorizer answers a request the user may not make: where an
	// AccessDeniedException (HTTP 403) for a query travels. Not 407 or 151,
	// which gremlin-go takes for a SASL challenge.
	statusUnauthorized = 401
	// statusInvalidRequest is Gremlin's REQUEST_ERROR_INVALID_REQUEST_ARGUMENTS:
	// where Neptune's other 4xx errors (malformed, invalid, constraint,
	// read-only, too many requests) travel.
	statusInvalidRequest = 499
	// statusServerError carries Neptune's 5xx errors (concurrent
	// modification, throttling, internal failure, ...).
	statusServerError = 500
)

// statusForCode maps a Neptune error code to the Gremlin status it travels
// with over WebSocket. Neptune does not publish a WebSocket status per code
// (its table gives HTTP statuses); what a client must act on is the code in
// the error document, which is the same either way.
func statusForCode(code string) int32 {
	switch st := neptuneErrors[code].status; {
	case st == 403:
		return statusUnauthorized
	case st >= 400 && st < 500:
		return statusInvalidRequest
	}
	return statusServerError // 5xx and codes outside the table
}

// errorDocument is Neptune's JSON error document, as it travels in a Gremlin
// response's status message and in the body of a refused HTTP request.
func errorDocument(requestID, code, detail string) []byte {
	b, _ := json.Marshal(struct {
		RequestID       string `json:"requestId"`
		Code            string `json:"code"`
		DetailedMessage string `json:"detailedMessage"`
	}{requestID, code, detail})
	return b
}
