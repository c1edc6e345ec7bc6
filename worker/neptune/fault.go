package neptune

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
)

// Fault says whose fault a failed write is. It decides what becomes of the
// message: only FaultContent may spend the message's receives and reach the
// DLQ; FaultNeptune stops intake until Neptune answers a probe again, so an
// outage of any length sends nothing to the DLQ; FaultAccess stops intake and
// alarms, since no message can be written until someone fixes the access.
type Fault int

const (
	FaultNone    Fault = iota // no error
	FaultContent              // Neptune refused what the batch contains; the same content will be refused again (closed list of codes)
	FaultNeptune              // Neptune is unwell or unreachable: connection refused/lost, throttled, read-only after failover, timeouts, internal failure, any unknown error
	FaultAccess               // access denied / authentication failure (IAM): not the message's fault, stops intake and alarms
)

func (f Fault) String() string {
	switch f {
	case FaultNone:
		return "none"
	case FaultContent:
		return "content"
	case FaultNeptune:
		return "neptune"
	case FaultAccess:
		return "access"
	}
	return "unknown"
}

// Classify says whose fault err is. nil is FaultNone. Errors from Write and
// Probe carry their classification; for any other error (a raw gremlin-go
// error, say) Classify reads Neptune's error document out of its text the
// way the writer does. Cancelled or expired contexts, and anything it does not
// recognise, are Neptune's fault: only a closed list of codes blames the
// message, so an error nobody anticipated never sends messages to the DLQ.
func Classify(err error) Fault {
	if err == nil {
		return FaultNone
	}
	var re *RequestError
	if errors.As(err, &re) {
		return re.fault
	}
	var ce *ConnectError
	if errors.As(err, &ce) {
		return ce.fault()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return FaultNeptune
	}
	return classifyDriverError(err).fault
}

// codeClass is what the writer does with one Neptune error code.
type codeClass struct {
	// status and okToRetry are Neptune's: the HTTP status the code travels
	// with and its "Ok to Retry?" column.
	status    int
	okToRetry bool
	fault     Fault
	// retry: the writer itself tries the request again, within MaxAttempts
	// and with the one backoff.
	retry bool
	// rebuild: the connection pool is rebuilt before the next try, because
	// the error says the open connections reach the wrong instance.
	rebuild bool
}

// neptuneCodes classifies every code of Neptune's graph engine error table
// ("Graph Engine Error Messages and Codes", Neptune user guide,
// https://docs.aws.amazon.com/neptune/latest/userguide/errors-engine-codes.html),
// plus the data-plane exceptions of the neptunedata API model that a Gremlin
// query can meet (ClientTimeout, InvalidArgument, Parsing,
// PreconditionsFailed, ServerShutdown; statuses from that model).
//
// FaultContent is a closed list: codes that say the request itself is wrong,
// and that the table marks not retryable, so the same batch will be refused
// again. Every code the table marks retryable (ConstraintViolation,
// QueryLimitExceeded, CancelledByUser, FailureByQuery among them) is
// Neptune's fault, whatever its HTTP status. ReadOnlyViolation is marked not
// retryable because retrying on the same connection cannot help; after a
// failover a rebuilt connection reaches the new writer, so the writer
// rebuilds and retries. MethodNotAllowed and PreconditionsFailed are not
// retryable and not caused by the batch either (a client or cluster
// problem), so they stop intake rather than condemn messages.
var neptuneCodes = map[string]codeClass{
	"AccessDeniedException":           {403, false, FaultAccess, false, false},
	"BadRequestException":             {400, false, FaultContent, false, false},
	"CancelledByUserException":        {500, true, FaultNeptune, true, false},
	"ClientTimeoutException":          {408, true, FaultNeptune, true, false},
	"ConcurrentModificationException": {500, true, FaultNeptune, true, false},
	"ConstraintViolationException":    {400, true, FaultNeptune, true, false},
	"FailureByQueryException":         {500, true, FaultNeptune, true, false},
	"IllegalArgumentException":        {400, false, FaultContent, false, false},
	"InternalFailureException":        {500, true, FaultNeptune, true, false},
	"InvalidArgumentException":        {400, false, FaultContent, false, false},
	"InvalidNumericDataException":     {400, false, FaultContent, false, false},
	"InvalidParameterException":       {400, false, FaultContent, false, false},
	"MalformedQueryException":         {400, false, FaultContent, false, false},
	"MemoryLimitExceededException":    {500, true, FaultNeptune, true, false},
	"MethodNotAllowedException":       {405, false, FaultNeptune, false, false},
	"MissingParameterException":       {400, false, FaultContent, false, false},
	"ParsingException":                {400, false, FaultContent, false, false},
	"PreconditionsFailedException":    {400, false, FaultNeptune, false, false},
	"QueryLimitExceededException":     {500, true, FaultNeptune, true, false},
	"QueryLimitException":             {400, false, FaultContent, false, false},
	"QueryTooLargeException":          {400, false, FaultContent, false, false},
	"ReadOnlyViolationException":      {400, false, FaultNeptune, true, true},
	"ServerShutdownException":         {500, false, FaultNeptune, true, true},
	"ThrottlingException":             {500, true, FaultNeptune, true, false},
	"TimeLimitExceededException":      {500, true, FaultNeptune, true, false},
	"TooManyRequestsException":        {429, true, FaultNeptune, true, false},
	"UnsupportedOperationException":   {400, false, FaultContent, false, false},
}

// authCodes are AWS's generic authentication failures, should Neptune's front
// end answer with them rather than AccessDeniedException: never the
// message's fault, and not retried (the same credentials fail the same way).
var authCodes = map[string]bool{
	"IncompleteSignatureException":        true,
	"InvalidSignatureException":           true,
	"MissingAuthenticationTokenException": true,
	"UnrecognizedClientException":         true,
	"ExpiredTokenException":               true,
	"InvalidClientTokenId":                true,
	"SignatureDoesNotMatch":               true,
}

// classOf is the class of a Neptune error code. A code outside the table is
// Neptune's fault, retried: an error nobody anticipated is not the message's.
func classOf(code string) codeClass {
	if c, ok := neptuneCodes[code]; ok {
		return c
	}
	if authCodes[code] {
		return codeClass{status: 403, fault: FaultAccess}
	}
	return codeClass{fault: FaultNeptune, retry: true}
}

// neptuneDoc is Neptune's JSON error document:
// {"requestId":"...","code":"ConcurrentModificationException","detailedMessage":"..."}.
type neptuneDoc struct {
	RequestID       string `json:"requestId"`
	Code            any    `json:"code"`
	DetailedMessage string `json:"detailedMessage"`
}

// maxDocTries bounds the '{' positions parseNeptuneDoc tries, so a long error
// text costs little.
const maxDocTries = 16

// parseNeptuneDoc finds Neptune's error document in a gremlin-go error text
// and returns its code. gremlin-go flattens the server's answer into text
// ("E0502: error in read loop, error message '{code:244 message:{...}
// attributes:map[...]}'. statusCode: 244"), so the document is found as the
// first '{' at which a JSON object with a string "code" that looks like an
// exception name decodes. Being the first, it is the server's own document,
// not one quoted inside its detailedMessage.
func parseNeptuneDoc(s string) (code string, ok bool) {
	for tries, i := 0, 0; tries < maxDocTries && i < len(s); tries++ {
		j := strings.IndexByte(s[i:], '{')
		if j < 0 {
			return "", false
		}
		i += j
		var doc neptuneDoc
		if json.NewDecoder(strings.NewReader(s[i:])).Decode(&doc) == nil {
			if c, isString := doc.Code.(string); isString && isCodeName(c) {
				return c, true
			}
		}
		i++
	}
	return "", false
}

// isCodeName accepts what Neptune's codes look like (an exception name), so
// an HTTP status in a "code" field, or prose, is not taken for one.
func isCodeName(s string) bool {
	if s == "" || len(s) > 100 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// driverContentCodes are gremlin-go's own error codes for a request it could
// not send because of what it contains: a value it cannot serialise
// (E0401-E0403, E0407, E0704) or a request larger than its write buffer
// (E1201). They arise before anything reaches Neptune, only on the sending
// side, and the same batch fails the same way every time.
var driverContentCodes = map[string]bool{
	"E0401": true, "E0402": true, "E0403": true, "E0407": true, "E0704": true, "E1201": true,
}

// driverCode returns gremlin-go's error code ("E1201") when s is a
// gremlin-go error, which always begins with its code.
func driverCode(s string) string {
	if len(s) < 6 || s[0] != 'E' || s[5] != ':' {
		return ""
	}
	for _, c := range s[1:5] {
		if c < '0' || c > '9' {
			return ""
		}
	}
	return s[:5]
}

// classification of one failed request.
type classification struct {
	code       string // Neptune's error code, or gremlin-go's, or ""
	fault      Fault
	retry      bool
	rebuild    bool // the pool must be rebuilt before the next try
	connection bool // no answer from Neptune: counts towards a rebuild
}

// classifyDriverError classifies an error gremlin-go returned for a request,
// whether from sending it or from its answer. With Neptune's error document,
// its code decides; a gremlin-go code for an unsendable request is the
// content's fault; anything else (a dial error, a lost connection, an unknown
// error) means Neptune did not answer: its fault, retried, and counted
// towards a rebuild of the pool.
func classifyDriverError(err error) classification {
	s := err.Error()
	if code, ok := parseNeptuneDoc(s); ok {
		c := classOf(code)
		return classification{code: code, fault: c.fault, retry: c.retry, rebuild: c.rebuild}
	}
	if code := driverCode(s); driverContentCodes[code] {
		return classification{code: code, fault: FaultContent}
	}
	return classification{code: "connection", fault: FaultNeptune, retry: true, connection: true}
}
