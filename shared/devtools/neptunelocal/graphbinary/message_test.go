package graphbinary

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/google/uuid"
)

// frame builds a request frame by hand: mime header, then body (hex).
func frame(t testing.TB, mime string, body string) []byte {
	t.Helper()
	return append(append([]byte{byte(len(mime))}, mime...), unhex(t, body)...)
}

func TestRequestsSurviveARoundTrip(t *testing.T) {
	req := &Request{
		ID:        someUUID,
		Op:        "bytecode",
		Processor: "traversal",
		Args: map[string]any{
			"gremlin":   &Bytecode{Steps: []Instruction{{Operator: "V", Args: []any{"a"}}, {Operator: "count"}}},
			"aliases":   map[any]any{"g": "g"},
			"batchSize": int32(64),
		},
	}
	b, err := WriteRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, append([]byte{32}, MimeType...)) {
		t.Fatalf("frame does not start with the mime header: % x", b[:40])
	}
	got, err := ReadRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, req) {
		t.Fatalf("got %#v\nwant %#v", got, req)
	}
}

func TestReadRequestDecodesAHandWrittenFrame(t *testing.T) {
	// {0x81}{uuid}{op "bytecode"}{processor ""}{args {"k": null}}
	b := frame(t, MimeType, "81 00112233445566778899aabbccddeeff"+
		" 00000008 6279746563 6f6465"+ // "bytecode"
		" 00000000"+ // ""
		" 00000001 03 00 00000001 6b fe 01") // {"k": null}
	got, err := ReadRequest(b)
	if err != nil {
		t.Fatal(err)
	}
	want := &Request{ID: someUUID, Op: "bytecode", Processor: "", Args: map[string]any{"k": nil}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %#v, want %#v", got, want)
	}
}

func TestReadRequestRefusesOtherSerialisations(t *testing.T) {
	for _, mime := range []string{
		"application/json",
		"application/vnd.gremlin-v3.0+json",
		"application/vnd.graphbinary-v1.0-stringd",
		"application/vnd.graphbinary-v4.0",
	} {
		t.Run(mime+" is refused as unsupported", func(t *testing.T) {
			req, err := ReadRequest(frame(t, mime, "81"))
			if !errors.Is(err, ErrMimeType) || !strings.Contains(err.Error(), mime) {
				t.Fatalf("got %v, want ErrMimeType naming %q", err, mime)
			}
			if req != nil {
				t.Fatalf("got a request %#v from a refused frame", req)
			}
		})
	}
}

func TestBrokenRequestsAreErrors(t *testing.T) {
	const id = "00112233445566778899aabbccddeeff"
	cases := []struct {
		name     string
		frame    []byte
		want     string
		keepsID  bool
		wantNone bool
	}{
		{name: "an empty frame", frame: nil, want: "empty frame"},
		{name: "a mime length longer than the frame", frame: []byte{40, 'a'}, want: "mime"},
		{name: "a version other than 0x81", frame: frame(t, MimeType, "82 "+id), want: "version 0x82"},
		{name: "a frame that ends inside the request id", frame: frame(t, MimeType, "81 0011"), want: "too early"},
		{name: "a frame that ends after the request id keeps the id", frame: frame(t, MimeType, "81 "+id),
			want: "too early", keepsID: true},
		{name: "an argument keyed by an Int keeps the id", keepsID: true, want: "not a String",
			frame: frame(t, MimeType, "81 "+id+" 00000000 00000000 00000001 01 00 00000001 fe 01")},
		{name: "an unknown type in the arguments keeps the id", keepsID: true, want: "0x99",
			frame: frame(t, MimeType, "81 "+id+" 00000000 00000000 00000001 03 00 00000001 6b 99 00")},
		{name: "bytes after the arguments keep the id", keepsID: true, want: "trailing",
			frame: frame(t, MimeType, "81 "+id+" 00000000 00000000 00000000 00")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := ReadRequest(tc.frame)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got error %v, want one containing %q", err, tc.want)
			}
			switch {
			case tc.keepsID && (req == nil || req.ID != someUUID):
				t.Fatalf("got request %#v, want one carrying the id so the server can answer it", req)
			case !tc.keepsID && req != nil:
				t.Fatalf("got request %#v, want nil before the id is read", req)
			}
		})
	}
}

func TestResponsesSurviveARoundTrip(t *testing.T) {
	id := uuid.MustParse("6f1e0d3c-0000-4000-8000-000000000001")
	cases := []struct {
		name string
		resp *Response
		want *Response // nil: same as resp
	}{
		{name: "a traversal result with a message, attributes and meta", resp: &Response{
			RequestID: &id, StatusCode: StatusSuccess, StatusMessage: "ok",
			StatusAttributes: map[string]any{"host": "local"},
			ResultMeta:       map[string]any{"k": int64(1)},
			Data:             []any{Traverser{Bulk: 1, Value: Vertex{ID: "v1", Label: "Service"}}},
		}},
		{name: "nil maps come back empty and a null id stays nil",
			resp: &Response{StatusCode: StatusServerError, StatusMessage: "boom"},
			want: &Response{StatusCode: StatusServerError, StatusMessage: "boom",
				StatusAttributes: map[string]any{}, ResultMeta: map[string]any{}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, err := WriteResponse(tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ReadResponse(b)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == nil {
				want = tc.resp
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("got %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestAResponseHasTheBytesTheIOReferenceGives(t *testing.T) {
	resp := &Response{RequestID: &someUUID, StatusCode: 204, Data: nil}
	want := unhex(t, "81 00 00112233445566778899aabbccddeeff 000000cc 01 00000000 00000000 fe 01")
	got, err := WriteResponse(resp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got  % x\nwant % x", got, want)
	}
}

func TestWriteResponseNamesTheFieldItCannotEncode(t *testing.T) {
	_, err := WriteResponse(&Response{RequestID: &someUUID, StatusCode: 200, Data: []any{struct{}{}}})
	if err == nil || !strings.Contains(err.Error(), "result data") {
		t.Fatalf("got %v, want an error about the result data", err)
	}
}
