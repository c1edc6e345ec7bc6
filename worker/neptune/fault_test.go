package neptune

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"testing"
	"time"
)

// neptuneTable is Neptune's graph engine error table as published ("Graph
// Engine Error Messages and Codes", Neptune user guide) plus the neptunedata
// exceptions a query can meet, written out independently of neptuneCodes:
// code, HTTP status, Neptune's "Ok to Retry?", and the fault the writer must
// give it. The test fails if the implementation leaves a code out or
// disagrees.
var neptuneTable = []struct {
	code      string
	status    int
	okToRetry bool
	fault     Fault
}{
	{"AccessDeniedException", 403, false, FaultAccess},
	{"BadRequestException", 400, false, FaultContent},
	{"CancelledByUserException", 500, true, FaultNeptune},
	{"ClientTimeoutException", 408, true, FaultNeptune},
	{"ConcurrentModificationException", 500, true, FaultNeptune},
	{"ConstraintViolationException", 400, true, FaultNeptune},
	{"FailureByQueryException", 500, true, FaultNeptune},
	{"IllegalArgumentException", 400, false, FaultContent},
	{"InternalFailureException", 500, true, FaultNeptune},
	{"InvalidArgumentException", 400, false, FaultContent},
	{"InvalidNumericDataException", 400, false, FaultContent},
	{"InvalidParameterException", 400, false, FaultContent},
	{"MalformedQueryException", 400, false, FaultContent},
	{"MemoryLimitExceededException", 500, true, FaultNeptune},
	{"MethodNotAllowedException", 405, false, FaultNeptune},
	{"MissingParameterException", 400, false, FaultContent},
	{"ParsingException", 400, false, FaultContent},
	{"PreconditionsFailedException", 400, false, FaultNeptune},
	{"QueryLimitExceededException", 500, true, FaultNeptune},
	{"QueryLimitException", 400, false, FaultContent},
	{"QueryTooLargeException", 400, false, FaultContent},
	{"ReadOnlyViolationException", 400, false, FaultNeptune},
	{"ServerShutdownException", 500, false, FaultNeptune},
	{"ThrottlingException", 500, true, FaultNeptune},
	{"TimeLimitExceededException", 500, true, FaultNeptune},
	{"TooManyRequestsException", 429, true, FaultNeptune},
	{"UnsupportedOperationException", 400, false, FaultContent},
}

// driverResponse is gremlin-go v3.7.4's error for a refused request, as it
// really reads (captured through the stand-in): the status's low byte, and
// Neptune's document inside the driver's flattened status struct.
func driverResponse(code string, status int) string {
	return fmt.Sprintf(`E0502: error in read loop, error message '{code:%d message:{"requestId":"68e62733-78a7-46c0-b115-40c23e72847f","code":%q,"detailedMessage":"Neptune says why."} attributes:map[exceptions:[%s]]}'. statusCode: %d`,
		status&0xFF, code, code, status&0xFF)
}

func TestClassifyEveryPublishedCode(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for _, row := range neptuneTable {
		seen[row.code] = true
		t.Run(row.code, func(t *testing.T) {
			c, ok := neptuneCodes[row.code]
			if !ok {
				t.Fatal("the writer does not know this code")
			}
			if c.status != row.status || c.okToRetry != row.okToRetry {
				t.Fatalf("table says HTTP %d, retry %v; the writer has %d, %v", row.status, row.okToRetry, c.status, c.okToRetry)
			}
			if row.okToRetry && c.fault == FaultContent {
				t.Fatal("Neptune marks it retryable, so it cannot be the content's fault")
			}
			gremlin := map[bool]int{true: 499, false: 500}[row.status < 500]
			err := errors.New(driverResponse(row.code, gremlin))
			if got := Classify(err); got != row.fault {
				t.Fatalf("Classify = %v, want %v", got, row.fault)
			}
			cl := classifyDriverError(err)
			if cl.code != row.code || cl.connection {
				t.Fatalf("classified as %+v", cl)
			}
			// What the writer does itself: retry what Neptune says may
			// succeed again, and a failover after rebuilding its pool.
			if wantRetry := row.okToRetry || cl.rebuild; cl.retry != wantRetry {
				t.Fatalf("retry = %v, want %v", cl.retry, wantRetry)
			}
			if cl.retry && row.fault != FaultNeptune {
				t.Fatalf("retrying a %v error", row.fault)
			}
		})
	}
	var extra []string
	for code := range neptuneCodes {
		if !seen[code] {
			extra = append(extra, code)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Fatalf("codes classified but not in the test's table: %v", extra)
	}
	if !neptuneCodes["ReadOnlyViolationException"].rebuild {
		t.Fatal("a read-only violation must rebuild the pool: the connections are pinned to a demoted writer")
	}
}

func TestClassifyErrorShapes(t *testing.T) {
	t.Parallel()
	deadline, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	cases := []struct {
		name  string
		err   error
		fault Fault
		retry bool // classifyDriverError's verdict, for driver errors
	}{
		{"no error", nil, FaultNone, false},

		// Dial errors, as gremlin-go v3.7.4 reports them (captured).
		{"connection refused while opening the pool",
			errors.New("E0104: no successful connections could be made: dial tcp 127.0.0.1:38913: connect: connection refused"), FaultNeptune, true},
		{"a refused handshake, status unknown to the driver",
			errors.New("E0104: no successful connections could be made: websocket: bad handshake"), FaultNeptune, true},
		{"a refused handshake on a pool's new connection",
			errors.New("websocket: bad handshake"), FaultNeptune, true},
		{"dial timeout", errors.New("E0104: no successful connections could be made: dial tcp 10.0.0.1:8182: i/o timeout"), FaultNeptune, true},
		{"a connection dropped under the request (captured)",
			errors.New("websocket: close 1006 (abnormal closure): unexpected EOF"), FaultNeptune, true},
		{"read on a closed connection", errors.New("read tcp 127.0.0.1:51234->127.0.0.1:8182: use of closed network connection"), FaultNeptune, true},
		{"a pool with no valid connection", errors.New("E0105: no valid connections found and maximum concurrent connection count reached"), FaultNeptune, true},
		{"the writer's own lost connection (a recovered gremlin-go panic)",
			fmt.Errorf("%w: gremlin-go panicked writing to a failed connection: %v", errConnectionLost, "send on closed channel"), FaultNeptune, true},

		// Requests gremlin-go cannot send because of what they carry.
		{"request larger than the driver's write buffer",
			errors.New("E1201: Request size cannot exceed the configured WriteBufferSize. Consider increasing WriteBufferSize or splitting into smaller requests"), FaultContent, false},
		{"a value the driver cannot serialise", errors.New("E0407: unknown data type to serialize complex128"), FaultContent, false},

		// Code matching, never fragment matching.
		{"an exception name in prose is not a code",
			errors.New("websocket: close 1011 (internal server error): MalformedQueryException while closing"), FaultNeptune, true},
		{"a numeric code is an HTTP status, not Neptune's code",
			errors.New(`E0502: error in read loop, error message '{code:244 message:{"code":500,"detailedMessage":"MalformedQueryException"} attributes:map[]}'. statusCode: 244`), FaultNeptune, true},
		{"the server's document wins over one quoted in its message",
			errors.New(`E0502: error in read loop, error message '{code:244 message:{"code":"ThrottlingException","detailedMessage":"queue full; last refused {\"code\":\"MalformedQueryException\"}"} attributes:map[]}'. statusCode: 244`), FaultNeptune, true},
		{"a document with spaces and another key order (Neptune's HTTP form)",
			errors.New(`E0502: error in read loop, error message '{code:243 message:{ "detailedMessage": "bad", "code": "MalformedQueryException", "requestId": "x" } attributes:map[]}'. statusCode: 243`), FaultContent, false},
		{"an unknown Neptune code is Neptune's fault, retried",
			errors.New(driverResponse("BrandNewException", 500)), FaultNeptune, true},
		{"AWS's generic authentication codes are access failures",
			errors.New(driverResponse("InvalidSignatureException", 403)), FaultAccess, false},
		{"an unknown error", errors.New("something nobody anticipated"), FaultNeptune, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.fault {
				t.Fatalf("Classify(%v) = %v, want %v", tc.err, got, tc.fault)
			}
			if tc.err == nil {
				return
			}
			if cl := classifyDriverError(tc.err); cl.retry != tc.retry {
				t.Fatalf("retry = %v, want %v (%+v)", cl.retry, tc.retry, cl)
			}
		})
	}

	wrapped := []struct {
		name  string
		err   error
		fault Fault
	}{
		{"context cancelled", context.Canceled, FaultNeptune},
		{"context deadline", deadline.Err(), FaultNeptune},
		{"a wrapped cancellation", fmt.Errorf("waiting for a writer slot: %w", context.Canceled), FaultNeptune},
		{"the writer's request timeout", &RequestError{err: fmt.Errorf("no answer within 30s: %w", context.DeadlineExceeded), code: "timeout", fault: FaultNeptune, retry: true}, FaultNeptune},
		{"a content refusal after retries were given up on another chunk",
			fmt.Errorf("gave up after 6 attempts: %w", &RequestError{err: errors.New(driverResponse("MalformedQueryException", 499)), code: "MalformedQueryException", fault: FaultContent}), FaultContent},
		{"handshake refused with 403", &ConnectError{Endpoint: "wss://x:8182/gremlin", Status: http.StatusForbidden, Err: errors.New("E0104: no successful connections could be made: websocket: bad handshake")}, FaultAccess},
		{"handshake refused with 401", &ConnectError{Status: http.StatusUnauthorized, Err: errors.New("websocket: bad handshake")}, FaultAccess},
		{"handshake refused with AccessDeniedException in the body", &ConnectError{Status: http.StatusBadRequest, Code: "AccessDeniedException", Err: errors.New("websocket: bad handshake")}, FaultAccess},
		{"handshake refused with 429: the instance is at its connection limit", &ConnectError{Status: http.StatusTooManyRequests, Code: "TooManyRequestsException", Err: errors.New("websocket: bad handshake")}, FaultNeptune},
		{"handshake answered 503", &ConnectError{Status: http.StatusServiceUnavailable, Err: errors.New("websocket: bad handshake")}, FaultNeptune},
		{"connection refused", &ConnectError{Err: errors.New("E0104: no successful connections could be made: dial tcp 127.0.0.1:1: connect: connection refused")}, FaultNeptune},
		{"a closed writer", ErrClosed, FaultNeptune},
	}
	for _, tc := range wrapped {
		t.Run(tc.name, func(t *testing.T) {
			if got := Classify(tc.err); got != tc.fault {
				t.Fatalf("Classify(%v) = %v, want %v", tc.err, got, tc.fault)
			}
		})
	}
}

func TestFaultString(t *testing.T) {
	t.Parallel()
	for f, want := range map[Fault]string{FaultNone: "none", FaultContent: "content", FaultNeptune: "neptune", FaultAccess: "access"} {
		if f.String() != want {
			t.Fatalf("%d.String() = %q, want %q", f, f.String(), want)
		}
	}
}
