package graphbinary

import (
	"errors"
	"fmt"
)

// MimeType is the only serialisation the stand-in speaks. gremlin-go puts it,
// length-prefixed by one byte, before every request; responses carry no mime
// header.
const MimeType = "application/vnd.graphbinary-v1.0"

// version is the first byte of a request and of a response message: GraphBinary
// 1 with the high bit set.
const version = 0x81

// ErrMimeType is wrapped by ReadRequest's error when a frame announces another
// serialisation (GraphSON, or GraphBinary's "-stringd" variant).
var ErrMimeType = errors.New("graphbinary: unsupported mime type")

// Status codes of TinkerPop's server protocol that the stand-in uses.
//
// What gremlin-go v3.7.4 does with a response is what the server must respect.
// Points marked (tested) are shown by compat_test.go against the real driver;
// the rest are read from its source (driver/protocol.go, serializer.go,
// gorillaTransporter.go):
//
//   - It keeps only the low byte of the code (code & 0xFF): 500 arrives as
//     244, 597 as 85 (tested). So a code whose low byte is 200, 204, 206 or 151
//     (407 is one) is taken for that code. Use only the codes below.
//   - 206: the data is added to the result and more responses follow; 200:
//     the data is added and the request is finished; 204: finished, the data
//     ignored (tested). A List in Data is unrolled and each Traverser in it is
//     repeated Bulk times; any other Data is one result (tested). A traversal
//     result is therefore a List of Traverser, split over 206s as the batch
//     size requires, the last part sent with 200.
//   - After the final 200/204 or an error, gremlin-go forgets the request id.
//     A later response with that id, or any id it never sent, fails every
//     request on the connection and closes it. Send exactly one final
//     response per request.
//   - Any code other than 200, 204, 206 and 407/151 fails only that request;
//     the connection stays usable (tested). ToList and Iterate return the
//     error "E0502: error in read loop, error message '{code:244
//     message:<StatusMessage> attributes:map[...]}'. statusCode: 244", so the
//     StatusMessage reaches the caller verbatim (tested); Next() does not: it
//     says "E0903: there are no results left" instead (tested). gremlin-go
//     never retries; graphfleet's writer retries on the message text, as it
//     must for Neptune.
//   - 407 (and 151) is an authentication challenge: without basic-auth
//     credentials gremlin-go fails the request and closes the connection.
//     Neptune authenticates with SigV4 on the handshake; do not send it.
//   - It never reads a null request id: it skips the flag byte and reads 16
//     bytes of id, so a response with RequestID nil is misread and kills the
//     connection. Answer even a malformed request with its id (ReadRequest
//     returns it when it got that far); close the connection when it did not.
//   - Status attributes and result meta must have String keys, or the
//     connection fails; a meta "aggregateTo" that is not a String panics the
//     client's read goroutine, crashing the client process.
//   - Of the enums it reads back only T, Direction and DT, as plain strings
//     (T.id arrives as "id", tested); another enum, or a Bytecode, P, TextP,
//     Lambda or Strategy, in a result fails the connection (tested for
//     Merge). Sets arrive as *SimpleSet, vertices and edges as *Vertex and
//     *Edge with empty Properties (tested).
//   - It pings every KeepAliveInterval (5 s) and fails the connection after
//     twice that without a frame or a pong (tested): the server must keep
//     reading the connection, which is where gorilla answers pings, while a
//     request executes, e.g. execute off the read goroutine.
//   - Its requests are at most 1 MiB (its write buffer); a server read limit
//     below that refuses requests gremlin-go considers valid.
const (
	StatusSuccess          int32 = 200
	StatusNoContent        int32 = 204
	StatusPartialContent   int32 = 206
	StatusUnauthorized     int32 = 401
	StatusForbidden        int32 = 403
	StatusMalformedRequest int32 = 499 // the request could not be decoded
	StatusInvalidArguments int32 = 498
	StatusServerError      int32 = 500
	StatusEvaluationError  int32 = 597 // the traversal failed (Neptune's usual)
	StatusServerTimeout    int32 = 598
	StatusSerializeError   int32 = 599 // a result could not be encoded
)

// ReadRequest decodes one WebSocket binary frame as gremlin-go sends it:
// {mime length byte}{mime type}{0x81}{request id: 16 bytes}{op: String}
// {processor: String}{args: Map with String keys}.
//
// On error the Request is nil, unless the request id had been read: then it
// comes back with the ID (and whatever else was read) so the server can answer
// that request with StatusMalformedRequest instead of leaving the client
// waiting forever (gremlin-go has no request timeout of its own).
func ReadRequest(msg []byte) (*Request, error) {
	r := &reader{buf: msg}
	n, err := r.byte()
	if err != nil {
		return nil, fmt.Errorf("graphbinary: empty frame: %w", err)
	}
	mime, err := r.take(int(n))
	if err != nil {
		return nil, fmt.Errorf("graphbinary: reading the mime type: %w", err)
	}
	if string(mime) != MimeType {
		return nil, fmt.Errorf("%w %q: only %q is served", ErrMimeType, mime, MimeType)
	}
	if err := r.version(); err != nil {
		return nil, err
	}
	id, err := r.uuid()
	if err != nil {
		return nil, err
	}
	req := &Request{ID: id}
	if req.Op, err = r.string(); err != nil {
		return req, err
	}
	if req.Processor, err = r.string(); err != nil {
		return req, err
	}
	if req.Args, err = r.stringMap("request argument"); err != nil {
		return req, err
	}
	return req, r.end()
}

func (r *reader) version() error {
	v, err := r.byte()
	if err != nil {
		return err
	}
	if v != version {
		return r.errorf("message version 0x%02x: only 0x81 (GraphBinary 1) is understood", v)
	}
	return nil
}

// WriteRequest encodes req as ReadRequest reads it, mime header included.
func WriteRequest(req *Request) ([]byte, error) {
	var w writer
	w.buf.WriteByte(byte(len(MimeType)))
	w.buf.WriteString(MimeType)
	w.buf.WriteByte(version)
	w.buf.Write(req.ID[:])
	if err := w.string(req.Op); err != nil {
		return nil, err
	}
	if err := w.string(req.Processor); err != nil {
		return nil, err
	}
	if err := w.stringMap(req.Args); err != nil {
		return nil, err
	}
	return w.buf.Bytes(), nil
}

// WriteResponse encodes one response message: {0x81}{request id: nullable
// UUID}{status code: Int}{status message: nullable String}{status attributes:
// Map}{result meta: Map}{result data: fully-qualified value}. An empty
// StatusMessage is written as null. See the Status constants for what
// gremlin-go makes of it.
func WriteResponse(resp *Response) ([]byte, error) {
	var w writer
	w.buf.WriteByte(version)
	if resp.RequestID == nil {
		w.buf.WriteByte(flagNull)
	} else {
		w.buf.WriteByte(flagNone)
		w.buf.Write(resp.RequestID[:])
	}
	w.int32(resp.StatusCode)
	if resp.StatusMessage == "" {
		w.buf.WriteByte(flagNull)
	} else {
		w.buf.WriteByte(flagNone)
		if err := w.string(resp.StatusMessage); err != nil {
			return nil, err
		}
	}
	if err := w.stringMap(resp.StatusAttributes); err != nil {
		return nil, fmt.Errorf("status attributes: %w", err)
	}
	if err := w.stringMap(resp.ResultMeta); err != nil {
		return nil, fmt.Errorf("result meta: %w", err)
	}
	if err := w.value(resp.Data); err != nil {
		return nil, fmt.Errorf("result data: %w", err)
	}
	return w.buf.Bytes(), nil
}

// ReadResponse decodes what WriteResponse writes. Empty attribute and meta
// maps decode as empty (not nil) maps.
func ReadResponse(msg []byte) (*Response, error) {
	r := &reader{buf: msg}
	if err := r.version(); err != nil {
		return nil, err
	}
	resp := &Response{}
	flag, err := r.byte()
	if err != nil {
		return nil, err
	}
	switch flag {
	case flagNull:
	case flagNone:
		id, err := r.uuid()
		if err != nil {
			return nil, err
		}
		resp.RequestID = &id
	default:
		return nil, r.errorf("request id flag 0x%02x: only 0x00 and 0x01 (null) exist", flag)
	}
	if resp.StatusCode, err = r.int32(); err != nil {
		return nil, err
	}
	if flag, err = r.byte(); err != nil {
		return nil, err
	}
	switch flag {
	case flagNull:
	case flagNone:
		if resp.StatusMessage, err = r.string(); err != nil {
			return nil, err
		}
	default:
		return nil, r.errorf("status message flag 0x%02x: only 0x00 and 0x01 (null) exist", flag)
	}
	if resp.StatusAttributes, err = r.stringMap("status attribute"); err != nil {
		return nil, err
	}
	if resp.ResultMeta, err = r.stringMap("result meta"); err != nil {
		return nil, err
	}
	if resp.Data, err = r.value(); err != nil {
		return nil, err
	}
	return resp, r.end()
}
