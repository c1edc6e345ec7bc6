package neptunelocal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/websocket"

	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graph"
	"github.com/graphfleet/graphfleet/shared/devtools/neptunelocal/graphbinary"
)

// Neptune's own wording, so a client's retry classification is exercised
// against the text it will see in production.
const (
	msgConcurrentModification = "Failed to complete operation due to conflicting concurrent operations. Please retry. 0 transactions are currently rolling back."
	msgThrottled              = "Max number of request have breached, ConfiguredQueueCapacity=%d for connId = %s"
)

// conn is one WebSocket connection. Requests on it run concurrently, as
// gremlin-go multiplexes many requests over one connection; responses are
// written one message at a time.
type conn struct {
	srv *Server
	ws  *websocket.Conn
	id  string

	// demoted is set by Server.Demote: the connection is pinned to a writer
	// that a failover demoted, and refuses writes until it is closed.
	demoted atomic.Bool

	wmu      sync.Mutex
	dropOnce sync.Once
	// ending holds, by request id, what ends the request's in-flight count:
	// it ends as its last response frame is written, before the client can
	// see it, so a client's limit is measured without the stand-in's own
	// lag.
	ending   sync.Map
	ctx      context.Context
	cancel   context.CancelFunc
	inflight sync.WaitGroup
}

// drop closes the TCP connection without a close frame, as a network fault
// or an instance failure would.
func (c *conn) drop() {
	c.dropOnce.Do(func() {
		c.cancel()
		_ = c.ws.NetConn().Close()
	})
}

func newConn(srv *Server, ws *websocket.Conn) *conn {
	c := &conn{srv: srv, ws: ws, id: uuid.NewString()}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c
}

func (c *conn) readLoop() {
	defer c.inflight.Wait()
	for {
		kind, msg, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if kind != websocket.BinaryMessage {
			// Only GraphBinary is spoken here; a text frame means a client
			// configured for GraphSON, which we cannot answer in kind.
			c.closeWith(websocket.CloseUnsupportedData, "neptunelocal speaks GraphBinary v1 only")
			return
		}
		c.srv.stats.requests.Add(1)
		req, err := graphbinary.ReadRequest(msg)
		if err != nil {
			c.srv.stats.malformed.Add(1)
			if req != nil && req.ID != uuid.Nil {
				// The id was read: answer that request alone, so the
				// client's other requests on this connection go on.
				c.fail(req.ID, statusInvalidRequest, "MalformedQueryException", "cannot read request: "+err.Error())
				continue
			}
			// Without a request id the client cannot match an answer to a
			// request; tell it why and close, as Gremlin Server does.
			c.closeWith(websocket.CloseInvalidFramePayloadData, truncate("cannot read request: "+err.Error(), 120))
			return
		}
		c.inflight.Add(1)
		go func() {
			defer c.inflight.Done()
			c.handle(req)
		}()
	}
}

func (c *conn) closeWith(code int, reason string) {
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
	c.wmu.Unlock()
	c.drop()
}

// handle executes one request and writes its response(s).
func (c *conn) handle(req *graphbinary.Request) {
	bc, err := c.check(req)
	if err != nil {
		c.fail(req.ID, statusInvalidRequest, "MalformedQueryException", err.Error())
		return
	}
	s := c.srv
	end := sync.OnceFunc(s.stats.enter())
	c.ending.Store(req.ID, end)
	defer func() {
		c.ending.Delete(req.ID)
		end()
	}()
	s.stats.steps.Add(int64(graph.CountSteps(bc)))
	s.stats.records.Add(int64(countRecords(bc)))

	if !s.acquire(c.ctx) {
		if c.ctx.Err() != nil {
			return
		}
		s.stats.throttled.Add(1)
		c.fail(req.ID, statusServerError, "ThrottlingException", fmt.Sprintf(msgThrottled, s.opts.QueueCapacity, c.id))
		return
	}
	defer s.release()

	f := s.Faults()
	if d := f.delay(); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-t.C:
		case <-c.ctx.Done():
			t.Stop()
			return
		}
	}
	switch {
	case roll(f.ConcurrentModificationRate):
		s.stats.injectedCME.Add(1)
		c.fail(req.ID, statusServerError, "ConcurrentModificationException", msgConcurrentModification)
		return
	case roll(f.ThrottleRate):
		s.stats.throttled.Add(1)
		c.fail(req.ID, statusServerError, "ThrottlingException", fmt.Sprintf(msgThrottled, s.opts.QueueCapacity, c.id))
		return
	}

	opts := graph.ExecOptions{ReadOnly: c.demoted.Load()}
	if f.FailRate > 0 {
		opts.RefuseWrite = func() *graph.Error {
			if !roll(f.FailRate) {
				return nil
			}
			s.stats.injectedFailures.Add(1)
			return &graph.Error{Code: f.FailWith, Message: neptuneErrors[f.FailWith].message}
		}
	}
	results, err := s.graph.ExecuteWith(c.ctx, bc, opts)
	if err != nil {
		if c.ctx.Err() != nil {
			return // the connection went away; nothing to answer
		}
		var ge *graph.Error
		if errors.As(err, &ge) {
			s.stats.countError(ge.Code)
			c.fail(req.ID, statusForCode(ge.Code), ge.Code, ge.Message)
			return
		}
		s.stats.countError("InternalFailureException")
		c.fail(req.ID, statusServerError, "InternalFailureException", err.Error())
		return
	}
	s.stats.committed.Add(1)
	if roll(f.DropRate) {
		s.stats.injectedDrops.Add(1)
		c.drop()
		return
	}
	c.respond(req.ID, results)
}

// check refuses what the stand-in does not serve: sessions, scripts, other
// traversal sources. These are client mistakes, so 499.
func (c *conn) check(req *graphbinary.Request) (*graphbinary.Bytecode, error) {
	switch {
	case req.Op == "eval":
		return nil, errors.New("scripts are not served by neptunelocal (and Neptune cannot bind their parameters); send bytecode")
	case req.Op != "bytecode":
		return nil, fmt.Errorf("op %q is not supported; only bytecode", req.Op)
	case req.Processor != "" && req.Processor != "traversal":
		return nil, fmt.Errorf("processor %q is not supported (sessions are out of scope); only the sessionless traversal processor", req.Processor)
	}
	if aliases, ok := req.Args["aliases"].(map[any]any); ok {
		for k, v := range aliases {
			if k != "g" || v != "g" {
				return nil, fmt.Errorf("alias %v -> %v: the only traversal source is g", k, v)
			}
		}
	}
	bc, ok := req.Args["gremlin"].(*graphbinary.Bytecode)
	if !ok || bc == nil {
		return nil, errors.New("the request has no bytecode in args.gremlin")
	}
	return bc, nil
}

// respond sends results as Traversers, ResultBatchSize per message: 206 for
// every part but the last, 200 for the last, 204 when there is nothing.
func (c *conn) respond(id uuid.UUID, results []any) {
	if len(results) == 0 {
		c.write(&graphbinary.Response{RequestID: &id, StatusCode: statusNoContent})
		return
	}
	n := c.srv.opts.ResultBatchSize
	for start := 0; start < len(results); start += n {
		end := min(start+n, len(results))
		part := make([]any, 0, end-start)
		for _, r := range results[start:end] {
			part = append(part, graphbinary.Traverser{Bulk: 1, Value: r})
		}
		code := int32(statusPartialContent)
		if end == len(results) {
			code = statusSuccess
		}
		if !c.write(&graphbinary.Response{RequestID: &id, StatusCode: code, Data: part}) {
			return
		}
	}
}

// fail answers with Neptune's error document as the status message, which is
// what clients match on ("code": "ConcurrentModificationException", ...).
func (c *conn) fail(id uuid.UUID, status int32, code, detail string) {
	c.srv.stats.errors.Add(1)
	c.write(&graphbinary.Response{
		RequestID:        &id,
		StatusCode:       status,
		StatusMessage:    string(errorDocument(id.String(), code, detail)),
		StatusAttributes: map[string]any{"exceptions": []any{code}},
	})
}

func (c *conn) write(r *graphbinary.Response) bool {
	b, err := graphbinary.WriteResponse(r)
	if err != nil {
		// A result the codec cannot write is a stand-in bug; say so to the
		// client rather than leaving it waiting.
		id := uuid.Nil
		if r.RequestID != nil {
			id = *r.RequestID
		}
		c.srv.log.Error("neptunelocal: cannot encode response", "err", err)
		msg, _ := json.Marshal(map[string]string{"code": "InternalFailureException", "detailedMessage": "cannot encode response: " + err.Error()})
		b, err = graphbinary.WriteResponse(&graphbinary.Response{RequestID: &id, StatusCode: statusServerError, StatusMessage: string(msg)})
		if err != nil {
			c.drop()
			return false
		}
	}
	if r.RequestID != nil && r.StatusCode != statusPartialContent {
		if end, ok := c.ending.Load(*r.RequestID); ok {
			end.(func())()
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.drop()
		return false
	}
	c.srv.stats.responses.Add(1)
	return true
}

func roll(rate float64) bool { return rate > 0 && rand.Float64() < rate }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
