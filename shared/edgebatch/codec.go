package edgebatch

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"sync"
	"unicode/utf8"
)

// Sizes and names of the SQS message.
const (
	// MaxMessageBytes is SQS's limit for one message: the body plus, for every
	// message attribute, its name, its data type ("String") and its value.
	// The AWSTraceHeader system attribute does not count.
	MaxMessageBytes = 1 << 20

	// AttributeReserve is the part of MaxMessageBytes that Encode leaves free
	// for attributes added after encoding: traceparent (11+6+55 bytes),
	// tracestate (10+6+up to 512), and DeadLetter's "error" (5+6+up to
	// MaxReasonBytes) and "original_message_id" (19+6+up to 100) sum to 992;
	// the rest is slack. It is what keeps a message that fits at send time
	// from failing to fit when it is moved to the DLQ with its reason.
	AttributeReserve = 1024

	// MaxEncodedBytes is the most an encoded message may count (body plus
	// attributes, as SQS counts them): MaxMessageBytes - AttributeReserve.
	MaxEncodedBytes = MaxMessageBytes - AttributeReserve

	// GzipThreshold is the JSON size above which Encode tries gzip. The
	// compressed body is base64 (4/3 larger), so Encode keeps it only when the
	// message gets smaller: random strings do not compress and stay plain.
	// Below it, compressing buys little (SQS bills by 64 KiB chunks) and costs
	// CPU on both sides. Compression is gzip.BestSpeed: on DeepFlow-like
	// batches it keeps 13% of the JSON against 10% at the default level, in
	// half the encoding time, and either way a full batch is one 64 KiB chunk.
	GzipThreshold = 64 << 10

	// MaxDecodedBytes bounds the JSON of one message after decompression, so
	// a gzip bomb costs a worker this much memory for the JSON (and a few
	// times more for the decoded maps) at most. Encode refuses a batch whose
	// JSON is larger, so everything it sends decodes; Split's batches stay
	// under MaxEncodedBytes of JSON anyway.
	MaxDecodedBytes = 16 << 20

	// MaxAttributes is SQS's limit on message attributes per message.
	MaxAttributes = 10

	// ReservedAttributes is how many of MaxAttributes Encode leaves free
	// (traceparent, tracestate, and DeadLetter's error and
	// original_message_id), so a dead-lettered copy keeps every attribute.
	// With schema, source and a possible content-encoding, that leaves
	// EncodeWith room for 3 extra attributes.
	ReservedAttributes = 4
)

// Message attribute names that this package sets or reads.
const (
	// AttrSchema carries Schema ("edgebatch.v1").
	AttrSchema = "schema"
	// AttrSource carries the batch's source, for routing and metrics without
	// decoding the body.
	AttrSource = "source"
	// AttrContentEncoding is "gzip" when the body is gzip then base64.
	AttrContentEncoding = "content-encoding"
	// AttrError is the DLQ message's reason: Reason(err), or whatever reason
	// DeadLetter was given, made safe.
	AttrError = "error"
	// AttrOriginalMessageID is the DLQ message's copy of the SQS message id of
	// the message it copies (see DeadLetter).
	AttrOriginalMessageID = "original_message_id"
	// AttrReplay is "true" on a message sent for reprocessing (a DLQ
	// message moved to the replay queue, a snapshot sent there by `producer
	// run --queue replay`). The replay queue's own messages are replayed
	// whether or not they carry it: SQS's message move task cannot add it.
	AttrReplay = "replay"
)

// attrType is the data type of every attribute this package writes; SQS
// counts it in the message size.
const attrType = "String"

// Message is one encoded batch, ready for SendMessage: the body and its
// String message attributes.
type Message struct {
	Body       string
	Attributes map[string]string
}

// Size is the message's size as SQS counts it against MaxMessageBytes: the
// body plus each attribute's name, data type ("String") and value.
func (m Message) Size() int {
	return len(m.Body) + attributesSize(m.Attributes)
}

func attributesSize(attrs map[string]string) int {
	n := 0
	for k, v := range attrs {
		n += attributeSize(k, v)
	}
	return n
}

func attributeSize(name, value string) int { return len(name) + len(attrType) + len(value) }

// Encode validates b and encodes it as one SQS message: its JSON, gzipped and
// base64-encoded (with content-encoding=gzip) when that JSON exceeds
// GzipThreshold and compression makes the message smaller. The attributes are
// schema and source. An invalid batch gives Validate's *ValidationError; a
// message that would count more than MaxEncodedBytes gives an error wrapping
// ErrTooLarge (Split makes batches that always fit).
//
// The cost is one JSON marshal of b, plus one gzip of it for large batches.
func Encode(b *Batch) (Message, error) {
	return EncodeWith(b, nil)
}

// EncodeWith is Encode with extra message attributes (String values), counted
// in the message size. Extra attributes may not replace schema, source or
// content-encoding, and names must be valid SQS attribute names. Attributes
// added to Message.Attributes after encoding are not checked: AttributeReserve
// and ReservedAttributes leave room for traceparent and tracestate, and for
// what DeadLetter adds, only.
func EncodeWith(b *Batch, extra map[string]string) (Message, error) {
	if err := Validate(b); err != nil {
		return Message{}, err
	}
	attrs := make(map[string]string, len(extra)+3+ReservedAttributes)
	for k, v := range extra {
		if k == AttrSchema || k == AttrSource || k == AttrContentEncoding {
			return Message{}, fmt.Errorf("edgebatch: extra attribute %q is set by Encode", k)
		}
		if msg := attributeProblem(k, v); msg != "" {
			return Message{}, fmt.Errorf("edgebatch: extra attribute %q: %s", k, msg)
		}
		attrs[k] = v
	}
	attrs[AttrSchema] = Schema
	attrs[AttrSource] = b.Source
	if n := len(attrs) + 1; n > MaxAttributes-ReservedAttributes {
		// +1: content-encoding may be added below.
		return Message{}, fmt.Errorf("edgebatch: %d extra attributes; at most %d leave room for content-encoding and the %d reserved ones", len(extra), MaxAttributes-ReservedAttributes-3, ReservedAttributes)
	}

	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	data, err := appendJSON(buf, b)
	if err != nil {
		return Message{}, fmt.Errorf("edgebatch: cannot marshal batch: %w", err)
	}
	if len(data) > MaxDecodedBytes {
		return Message{}, fmt.Errorf("%w: the batch's JSON is %d bytes; a reader takes at most %d (use Split)", ErrTooLarge, len(data), MaxDecodedBytes)
	}

	body := ""
	attrBytes := attributesSize(attrs)
	if len(data) > GzipThreshold {
		z, err := gzipBase64(data)
		if err != nil {
			return Message{}, fmt.Errorf("edgebatch: cannot compress batch: %w", err)
		}
		if len(z)+attributeSize(AttrContentEncoding, "gzip") < len(data) {
			body = z
			attrs[AttrContentEncoding] = "gzip"
			attrBytes += attributeSize(AttrContentEncoding, "gzip")
		}
	}
	if body == "" {
		body = string(data)
	}
	if n := len(body) + attrBytes; n > MaxEncodedBytes {
		return Message{}, fmt.Errorf("%w: the message counts %d bytes (body and attributes); at most %d (SQS's %d less AttributeReserve); use Split", ErrTooLarge, n, MaxEncodedBytes, MaxMessageBytes)
	}
	return Message{Body: body, Attributes: attrs}, nil
}

// Decode reads one message's body and attributes into a valid batch. Every
// error wraps ErrMalformed: the message never becomes valid, so it is not
// retried.
//
//   - schema: when present it must be "edgebatch.v1". Producers always set it;
//     a message without it (one sent by hand, or a push body) is accepted when
//     the JSON itself is valid v1, since "v" is authoritative.
//   - source: when present it must equal the batch's source.
//   - content-encoding: absent, "" or "identity" for plain JSON; "gzip" for
//     base64 of gzip, decompressed to at most MaxDecodedBytes; anything else
//     is refused.
//   - The JSON must be one object of valid UTF-8 with nothing after it. Field
//     names must match exactly (encoding/json alone would take "Source" for
//     "source"), unknown fields are refused at every level, and so is a key
//     repeated in one object (props included), which different readers would
//     resolve differently. v1 is closed: a field v1 does not define may carry
//     meaning a v1 worker would drop silently, so additions come as a new
//     schema version that workers learn before producers send it.
//   - Numbers in props decode as int64 when written as integers that fit,
//     as float64 otherwise (see Props).
//   - Finally the batch must pass Validate; the error then also unwraps to the
//     *ValidationError.
func Decode(body string, attrs map[string]string) (*Batch, error) {
	if s, ok := attrs[AttrSchema]; ok && s != Schema {
		return nil, malformed("schema attribute is %q; this reader takes %q", shorten(s, 64), Schema)
	}
	var data []byte
	switch ce := attrs[AttrContentEncoding]; ce {
	case "", "identity":
		if len(body) > MaxDecodedBytes {
			return nil, malformed("body is %d bytes; at most %d", len(body), MaxDecodedBytes)
		}
		data = []byte(body)
	case "gzip":
		var err error
		if data, err = gunzipBase64(body); err != nil {
			return nil, err
		}
	default:
		return nil, malformed("content-encoding %q is not supported (want gzip or none)", shorten(ce, 64))
	}
	if !utf8.Valid(data) {
		return nil, malformed("body is not valid UTF-8")
	}
	var b Batch
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, malformed("body is not an edge batch v1 JSON document: %v", err)
	}
	if err := checkKeys(data); err != nil {
		return nil, err
	}
	if err := Validate(&b); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if s, ok := attrs[AttrSource]; ok && s != b.Source {
		return nil, malformed("source attribute %q differs from the batch's source %q", shorten(s, 64), b.Source)
	}
	return &b, nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBuf(b *bytes.Buffer) {
	if b.Cap() > 4*MaxMessageBytes {
		return // let an unusually large buffer go
	}
	b.Reset()
	bufPool.Put(b)
}

// appendJSON writes v's JSON to buf (reset first) and returns it: compact,
// without HTML escaping ('>' is in every edge id; "\u003e" would cost five
// bytes each), and with U+FFFE and U+FFFF escaped, as SQS refuses those
// characters in a body. The result aliases buf.
func appendJSON(buf *bytes.Buffer, v any) ([]byte, error) {
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	data := bytes.TrimSuffix(buf.Bytes(), []byte{'\n'})
	if n := countNonchars(data); n > 0 {
		data = escapeNonchars(data, n)
	}
	return data, nil
}

// U+FFFE and U+FFFF in UTF-8. JSON's structure is ASCII, so these bytes only
// ever occur inside strings, where "\ufffe" means the same.
var (
	utf8FFFE = []byte("\uFFFE")
	utf8FFFF = []byte("\uFFFF")
)

// countNonchars counts the U+FFFE and U+FFFF in data.
func countNonchars(data []byte) int {
	if bytes.IndexByte(data, 0xEF) < 0 {
		return 0
	}
	return bytes.Count(data, utf8FFFE) + bytes.Count(data, utf8FFFF)
}

// escapeNonchars returns data with its n U+FFFE and U+FFFF escaped; each
// grows by 3 bytes.
func escapeNonchars(data []byte, n int) []byte {
	out := make([]byte, 0, len(data)+3*n)
	for {
		i := bytes.Index(data, []byte{0xEF, 0xBF})
		if i < 0 || i+2 >= len(data) {
			return append(out, data...)
		}
		switch data[i+2] {
		case 0xBE:
			out = append(append(out, data[:i]...), `\ufffe`...)
		case 0xBF:
			out = append(append(out, data[:i]...), `\uffff`...)
		default:
			out = append(out, data[:i+3]...)
		}
		data = data[i+3:]
	}
}

var gzipWriters = sync.Pool{New: func() any {
	w, _ := gzip.NewWriterLevel(nil, gzip.BestSpeed)
	return w
}}

var gzipReaders sync.Pool // *gzip.Reader

// gzipBase64 compresses data and returns it base64-encoded (standard
// alphabet, padded).
func gzipBase64(data []byte) (string, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	defer putBuf(buf)
	buf.Reset()
	zw := gzipWriters.Get().(*gzip.Writer)
	defer gzipWriters.Put(zw)
	zw.Reset(buf)
	if _, err := zw.Write(data); err != nil {
		return "", err
	}
	if err := zw.Close(); err != nil {
		return "", err
	}
	var sb strings.Builder
	sb.Grow(base64.StdEncoding.EncodedLen(buf.Len()))
	enc := base64.NewEncoder(base64.StdEncoding, &sb)
	enc.Write(buf.Bytes()) // a strings.Builder does not fail
	enc.Close()
	return sb.String(), nil
}

// gunzipBase64 undoes gzipBase64, reading at most MaxDecodedBytes.
func gunzipBase64(body string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, malformed("content-encoding is gzip but the body is not base64: %v", err)
	}
	zr, _ := gzipReaders.Get().(*gzip.Reader)
	if zr == nil {
		zr, err = gzip.NewReader(bytes.NewReader(raw))
	} else {
		err = zr.Reset(bytes.NewReader(raw))
	}
	if err != nil {
		return nil, malformed("content-encoding is gzip but the body is not gzip: %v", err)
	}
	defer gzipReaders.Put(zr)
	data, err := io.ReadAll(io.LimitReader(zr, MaxDecodedBytes+1))
	if err != nil {
		return nil, malformed("cannot decompress the body: %v", err)
	}
	if len(data) > MaxDecodedBytes {
		return nil, malformed("body decompresses to more than %d bytes", MaxDecodedBytes)
	}
	return data, nil
}

// attributeProblem checks an SQS message attribute name and String value.
func attributeProblem(name, value string) string {
	switch {
	case name == "" || len(name) > 256:
		return "name must be 1 to 256 characters"
	case name[0] == '.' || name[len(name)-1] == '.' || strings.Contains(name, ".."):
		return "name may not start or end with '.' nor hold \"..\""
	case hasPrefixFold(name, "AWS.") || hasPrefixFold(name, "Amazon."):
		return "name may not start with AWS. or Amazon."
	}
	for i := 0; i < len(name); i++ {
		if ch := name[i]; !isLetter(ch) && !isDigit(ch) && ch != '_' && ch != '-' && ch != '.' {
			return "name may hold only A-Z, a-z, 0-9, '_', '-' and '.'"
		}
	}
	if value == "" {
		return "value is empty"
	}
	if !utf8.ValidString(value) {
		return "value is not valid UTF-8"
	}
	for _, r := range value {
		if !sqsChar(r) {
			return fmt.Sprintf("value holds %U, which SQS refuses", r)
		}
	}
	return ""
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
