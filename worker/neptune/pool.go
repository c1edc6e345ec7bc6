package neptune

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	gremlingo "github.com/apache/tinkerpop/gremlin-go/v3/driver"
	"github.com/gorilla/websocket"
)

// connectTimeout bounds one WebSocket handshake (gremlin-go has its own
// setting for it, and our diagnostic handshake uses the same).
const connectTimeout = 10 * time.Second

// generation is one gremlin-go connection pool (a DriverRemoteConnection) and
// the requests sent on it. The writer replaces its generation when the
// connections reach the wrong instance (ReadOnlyViolationException after a
// failover: Neptune's guidance is that an old client may stay pinned to the
// demoted writer) or keep failing. A retired generation takes no new request
// and is closed once the requests on it are answered, or after
// RequestTimeout: gremlin-go must not be closed under a request it is still
// sending.
type generation struct {
	conn *gremlingo.DriverRemoteConnection
	g    *gremlingo.GraphTraversalSource

	// unanswered counts its requests in a row that got no answer (refused
	// or lost connection, timeout); an answer resets it. Per pool, so that
	// late failures from a pool already replaced do not count against its
	// successor.
	unanswered atomic.Int64

	mu      sync.Mutex
	active  int  // requests sent on it and not yet answered
	retired bool // no new request may enter
	drained chan struct{}
	closed  chan struct{} // closed once the driver is closed

	drainOnce, closeOnce sync.Once
}

func newGeneration(conn *gremlingo.DriverRemoteConnection) *generation {
	return &generation{
		conn:    conn,
		g:       gremlingo.Traversal_().WithRemote(conn),
		drained: make(chan struct{}),
		closed:  make(chan struct{}),
	}
}

// enter admits one request, unless the generation is retired.
func (p *generation) enter() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.retired {
		return false
	}
	p.active++
	return true
}

// leave ends a request admitted by enter.
func (p *generation) leave() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.active--
	if p.retired && p.active == 0 {
		p.drainOnce.Do(func() { close(p.drained) })
	}
}

// retire admits no more requests; drained closes once none is left.
func (p *generation) retire() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.retired = true
	if p.active == 0 {
		p.drainOnce.Do(func() { close(p.drained) })
	}
}

// close closes the driver, once.
func (p *generation) close() {
	p.closeOnce.Do(func() {
		p.conn.Close()
		close(p.closed)
	})
}

// run sends one traversal and waits for its whole answer. ToList, not Next:
// gremlin-go's Next() drops the server's error message, and that message is
// Neptune's error document.
func (p *generation) run(build func(*gremlingo.GraphTraversalSource) *gremlingo.GraphTraversal, sink func([]*gremlingo.Result)) (err error) {
	// gremlin-go v3.7.4 can panic ("send on closed channel") when a request
	// is written to a connection that has just failed: the pool still sees
	// it as established while its transport is closed. That is a lost
	// connection like any other, so it becomes a retryable error here
	// instead of taking the worker down.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: gremlin-go panicked writing to a failed connection: %v", errConnectionLost, r)
		}
	}()
	results, err := build(p.g).ToList()
	if err == nil && sink != nil {
		sink(results)
	}
	return err
}

// errConnectionLost marks the error the writer raises itself for a lost
// connection (the recovered gremlin-go panic).
var errConnectionLost = errors.New("connection lost")

// refusedHold is how long a handshake refused as access denied answers for
// the requests that follow: the chunks of one batch, started together, each
// find the pool missing; the same credentials are refused the same way, so
// one refusal (two handshakes, see connect) answers them all instead of each
// dialing anew. Short, so that rotated credentials are tried soon.
const refusedHold = time.Second

// dialCall is one attempt to open a pool, shared by every request that needs
// one meanwhile: during an outage the writer dials once at a time, not once
// per waiting request.
type dialCall struct {
	done chan struct{}
	err  error
}

// pool returns the current generation with one request admitted to it
// (leave it when answered), opening one if there is none. It waits for the
// connection no longer than ctx allows.
func (w *Writer) pool(ctx context.Context) (*generation, error) {
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return nil, ErrClosed
		}
		if p := w.cur; p != nil && p.enter() {
			w.mu.Unlock()
			return p, nil
		}
		if w.refused != nil && time.Since(w.refusedAt) < refusedHold {
			err := w.refused
			w.mu.Unlock()
			return nil, err
		}
		d := w.dialing
		if d == nil {
			d = &dialCall{done: make(chan struct{})}
			w.dialing = d
			go w.dial(d)
		}
		w.mu.Unlock()
		select {
		case <-d.done:
			if d.err != nil {
				return nil, d.err
			}
			// Loop: enter the new generation (or dial again if it was
			// retired in the meantime).
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-w.closing:
			return nil, ErrClosed
		}
	}
}

func (w *Writer) dial(d *dialCall) {
	p, err := w.connect()
	w.mu.Lock()
	w.dialing = nil
	late := false
	if err == nil {
		if w.closed {
			late = true
		} else {
			w.cur = p
		}
	}
	d.err = err
	var ce *ConnectError
	if errors.As(err, &ce) && ce.fault() == FaultAccess {
		w.refused, w.refusedAt = err, time.Now()
	} else {
		w.refused = nil
	}
	w.mu.Unlock()
	if late {
		p.close()
	}
	close(d.done)
}

// connect opens a new pool: gremlin-go dials its first connection at once.
func (w *Writer) connect() (*generation, error) {
	start := time.Now()
	conn, err := gremlingo.NewDriverRemoteConnection(w.cfg.Endpoint, w.settings)
	if err != nil {
		ce := &ConnectError{Endpoint: redactURL(w.cfg.Endpoint), Err: err}
		// gremlin-go reports a refused handshake as "bad handshake" whatever
		// the status, but 403 (access denied) and 429 (too many connections)
		// call for opposite reactions. Ask once more with a handshake of our
		// own, which keeps the response. Not after a timeout: there is no
		// status to learn and it would only double the wait.
		if time.Since(start) < connectTimeout {
			ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
			ce.Status, ce.Code = w.handshakeStatus(ctx)
			cancel()
		}
		return nil, ce
	}
	w.pools.Add(1)
	return newGeneration(conn), nil
}

// handshakeStatus performs the WebSocket handshake gremlin-go performs, with
// the same headers (signed when IAM is on), and returns the HTTP status and
// Neptune error code of a refusal; 0 and "" when the handshake succeeds or
// gets no HTTP answer.
func (w *Writer) handshakeStatus(ctx context.Context) (status int, code string) {
	var header http.Header
	if w.signer != nil {
		header = w.signer.authInfo().GetHeader()
	}
	dialer := websocket.Dialer{Proxy: http.ProxyFromEnvironment, HandshakeTimeout: connectTimeout}
	conn, resp, err := dialer.DialContext(ctx, w.cfg.Endpoint, header)
	if err == nil {
		_ = conn.Close()
		return 0, ""
	}
	if resp == nil {
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	code, _ = parseNeptuneDoc(string(body))
	return resp.StatusCode, code
}

// retire replaces generation p, if it is still the current one: the next
// request opens a new pool, and p is closed once its requests are answered
// (or after RequestTimeout). Many requests failing on p at once retire it
// once.
func (w *Writer) retire(p *generation, reason string) {
	w.mu.Lock()
	if w.cur != p {
		w.mu.Unlock()
		return
	}
	w.cur = nil
	w.draining[p] = struct{}{}
	w.mu.Unlock()
	w.rebuilds.Add(1)
	w.cfg.Logger.Warn("rebuilding the Neptune connection pool", "reason", reason)
	p.retire()
	go func() {
		t := time.NewTimer(w.cfg.RequestTimeout)
		defer t.Stop()
		select {
		case <-p.drained:
		case <-t.C:
			w.cfg.Logger.Warn("closing a replaced Neptune connection pool with requests still unanswered")
		}
		p.close()
		w.mu.Lock()
		delete(w.draining, p)
		w.mu.Unlock()
	}()
}

// ConnectError is a failure to open a connection pool to Neptune.
type ConnectError struct {
	Endpoint string // scheme, host and path only
	// Status is the HTTP status of a refused WebSocket handshake (403:
	// access denied; 429: the instance is at its connection limit), 0 when
	// there was no HTTP answer (connection refused, timeout, DNS, TLS).
	Status int
	// Code is Neptune's error code from the refusal's body, when it had one.
	Code string
	Err  error
}

func (e *ConnectError) Error() string {
	s := "cannot connect to Neptune at " + e.Endpoint
	if e.Status != 0 {
		s += fmt.Sprintf(" (handshake refused with HTTP %d", e.Status)
		if e.Code != "" {
			s += " " + e.Code
		}
		s += ")"
	}
	return s + ": " + e.Err.Error()
}

func (e *ConnectError) Unwrap() error { return e.Err }

// fault: a handshake refused for authentication or authorisation is an access
// problem; anything else (refused, unreachable, too many connections) is
// Neptune's.
func (e *ConnectError) fault() Fault {
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden || (e.Code != "" && classOf(e.Code).fault == FaultAccess) {
		return FaultAccess
	}
	return FaultNeptune
}
