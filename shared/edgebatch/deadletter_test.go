package edgebatch

import (
	"errors"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkDeadLetter checks what every DLQ copy must be: the body untouched, and
// a message SQS accepts.
func checkDeadLetter(t *testing.T, m Message, body string) {
	t.Helper()
	if m.Body != body {
		t.Errorf("the body changed")
	}
	if n := m.Size(); n > MaxMessageBytes {
		t.Errorf("Size() = %d; at most %d", n, MaxMessageBytes)
	}
	if len(m.Attributes) > MaxAttributes {
		t.Errorf("%d attributes; at most %d", len(m.Attributes), MaxAttributes)
	}
	for k, v := range m.Attributes {
		if msg := attributeProblem(k, v); msg != "" {
			t.Errorf("attribute %q = %q: %s", k, v, msg)
		}
	}
	r := m.Attributes[AttrError]
	if len(r) > MaxReasonBytes || strings.ContainsAny(r, "\n\r") {
		t.Errorf("reason is %d bytes or more than one line: %q", len(r), r)
	}
}

func TestDeadLetter(t *testing.T) {
	t.Parallel()
	const id = "5fea7756-0ea4-451a-a703-a558b933e274"
	const reason = "neptune: ConstraintViolationException"
	// base is what the reason and id count.
	base := attributeSize(AttrError, reason) + attributeSize(AttrOriginalMessageID, id)
	readers := map[string]string{AttrSchema: Schema, AttrContentEncoding: "gzip", AttrSource: "deepflow"}
	readersSize := attributesSize(readers)
	with := func(m map[string]string, more map[string]string) map[string]string {
		out := maps.Clone(m)
		maps.Copy(out, more)
		return out
	}
	body := func(n int) string { return strings.Repeat("b", n) }

	tests := []struct {
		name   string
		body   string
		attrs  map[string]string
		id     string
		reason string
		want   map[string]string // the attributes; nil when err is set
		err    error
	}{
		{"a small message keeps every attribute and gains the reason and its id",
			"{}", with(readers, map[string]string{"traceparent": "00-1-2-01"}), id, reason,
			with(readers, map[string]string{"traceparent": "00-1-2-01", AttrError: reason, AttrOriginalMessageID: id}), nil},
		{"a reason with NUL, control characters, invalid UTF-8 and line separators becomes one line SQS accepts, emoji kept",
			"{}", nil, id, "a\x00b\nc\r\td\x1be\xff\xfef\u2028g\uFFFEh\u0085i\x7f 😀",
			map[string]string{AttrError: "a?b c  d?e??f g?h i? 😀", AttrOriginalMessageID: id}, nil},
		{"an empty reason says there was none",
			"{}", nil, id, "",
			map[string]string{AttrError: noReason, AttrOriginalMessageID: id}, nil},
		{"a message without an id has no original_message_id",
			"{}", readers, "", reason,
			with(readers, map[string]string{AttrError: reason}), nil},
		{"12 attributes keep the reason, the id, the three that read the body and the first five others by name",
			"{}", with(readers, map[string]string{
				AttrError: "old reason", AttrOriginalMessageID: "old-id",
				"traceparent": "tp", "tracestate": "ts", "zeta": "z", "alpha": "a", "beta": "b", "gamma": "g", "omega": "o",
			}), id, reason,
			with(readers, map[string]string{
				AttrError: reason, AttrOriginalMessageID: id,
				"alpha": "a", "beta": "b", "gamma": "g", "omega": "o", "traceparent": "tp",
			}), nil},
		{"attributes SQS would refuse are not copied",
			"{}", map[string]string{"empty": "", "nul": "a\x00", "AWS.x": "1", "a..b": "1", "ok": "1"}, id, reason,
			map[string]string{AttrError: reason, AttrOriginalMessageID: id, "ok": "1"}, nil},
		{"a body of exactly MaxMessageBytes is too large",
			body(MaxMessageBytes), readers, id, reason, nil, ErrTooLarge},
		{"a body one byte too large for the reason and id is too large",
			body(MaxMessageBytes - base + 1), nil, id, reason, nil, ErrTooLarge},
		{"a body that leaves room for the reason and id only keeps no other attribute",
			body(MaxMessageBytes - base), readers, id, reason,
			map[string]string{AttrError: reason, AttrOriginalMessageID: id}, nil},
		{"a body near the limit drops the attribute that does not fit and keeps a later one that does",
			body(MaxMessageBytes - base - readersSize - attributeSize("small", "1") - 10),
			with(readers, map[string]string{"big": strings.Repeat("x", 100), "small": "1"}), id, reason,
			with(readers, map[string]string{AttrError: reason, AttrOriginalMessageID: id, "small": "1"}), nil},
		{"a body with room for schema only keeps schema, the first of those that read the body",
			body(MaxMessageBytes - base - attributeSize(AttrSchema, Schema)), readers, id, reason,
			map[string]string{AttrError: reason, AttrOriginalMessageID: id, AttrSchema: Schema}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, err := DeadLetter(tt.body, tt.attrs, tt.id, tt.reason)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err = %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkDeadLetter(t, m, tt.body)
			if !maps.Equal(m.Attributes, tt.want) {
				t.Errorf("attributes =\n%q\nwant\n%q", m.Attributes, tt.want)
			}
		})
	}

	t.Run("a huge reason is cut to MaxReasonBytes and says so", func(t *testing.T) {
		t.Parallel()
		m, err := DeadLetter("{}", nil, id, strings.Repeat("driver error: timeout\n", 100_000))
		if err != nil {
			t.Fatal(err)
		}
		checkDeadLetter(t, m, "{}")
		if r := m.Attributes[AttrError]; len(r) != MaxReasonBytes || !strings.HasPrefix(r, "driver error: timeout driver") || !strings.HasSuffix(r, "...") {
			t.Errorf("reason = %q (%d bytes)", r, len(r))
		}
	})

	t.Run("a long reason of emoji is cut between characters", func(t *testing.T) {
		t.Parallel()
		m, err := DeadLetter("{}", nil, id, strings.Repeat("😀", 100))
		if err != nil {
			t.Fatal(err)
		}
		checkDeadLetter(t, m, "{}")
		r := m.Attributes[AttrError]
		if !utf8.ValidString(r) || r != strings.Repeat("😀", (MaxReasonBytes-3)/4)+"..." {
			t.Errorf("reason = %q", r)
		}
	})

	t.Run("an id SQS would refuse is made safe, not dropped with the message", func(t *testing.T) {
		t.Parallel()
		m, err := DeadLetter("{}", nil, "id\x00\n"+strings.Repeat("x", 500), reason)
		if err != nil {
			t.Fatal(err)
		}
		checkDeadLetter(t, m, "{}")
		if got := m.Attributes[AttrOriginalMessageID]; len(got) > maxOriginalIDBytes || !strings.HasPrefix(got, "id? x") {
			t.Errorf("original_message_id = %q", got)
		}
	})

	t.Run("the too-large error says which message and by how much", func(t *testing.T) {
		t.Parallel()
		_, err := DeadLetter(body(MaxMessageBytes), nil, id, reason)
		if err == nil || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), "1048576 bytes") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestDeadLetterOfEncoded: a message Encode made at its size limit, with as
// many extra attributes as EncodeWith takes and the largest traceparent and
// tracestate added after, goes to the DLQ with every attribute.
func TestDeadLetterOfEncoded(t *testing.T) {
	t.Parallel()
	t.Run("AttributeReserve leaves room for what is added after encoding", func(t *testing.T) {
		t.Parallel()
		added := attributeSize("traceparent", strings.Repeat("x", 55)) + attributeSize("tracestate", strings.Repeat("x", 512)) +
			attributeSize(AttrError, strings.Repeat("x", MaxReasonBytes)) + attributeSize(AttrOriginalMessageID, strings.Repeat("x", maxOriginalIDBytes))
		if added > AttributeReserve {
			t.Errorf("attributes added after encoding count up to %d bytes; AttributeReserve is %d", added, AttributeReserve)
		}
	})

	rng := rand.New(rand.NewPCG(8, 9))
	extra := map[string]string{"tenant": "t-1", "region": "eu-west-1", "run": "r-42"}
	b := bigBatch(rng, 17, 60_000, true)
	last := b.Vertices[len(b.Vertices)-1].Props
	last["pad"] = ""
	m, err := EncodeWith(b, extra)
	if err != nil {
		t.Fatal(err)
	}
	last["pad"] = randomText(rng, MaxEncodedBytes-m.Size())
	if m, err = EncodeWith(b, extra); err != nil || m.Size() != MaxEncodedBytes {
		t.Fatalf("EncodeWith: size %d, %v; want %d", m.Size(), err, MaxEncodedBytes)
	}
	m.Attributes["traceparent"] = "00-" + strings.Repeat("a", 32) + "-" + strings.Repeat("b", 16) + "-01"
	m.Attributes["tracestate"] = strings.Repeat("s", 512)

	dl, err := DeadLetter(m.Body, m.Attributes, "5fea7756-0ea4-451a-a703-a558b933e274", strings.Repeat("r", 10_000))
	if err != nil {
		t.Fatal(err)
	}
	checkDeadLetter(t, dl, m.Body)
	for k, v := range m.Attributes {
		if dl.Attributes[k] != v {
			t.Errorf("attribute %q was not kept", k)
		}
	}
	if len(dl.Attributes) != len(m.Attributes)+2 {
		t.Errorf("%d attributes, want %d", len(dl.Attributes), len(m.Attributes)+2)
	}
}

// TestDeadLetterLimits builds DLQ copies of random messages near SQS's size
// limit: each is either refused as too large, exactly when the body with the
// reason and id does not fit, or fits with as many attributes as SQS allows,
// the same ones every time.
func TestDeadLetterLimits(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := strings.Repeat("b", MaxMessageBytes)
	for range 2000 {
		attrs := map[string]string{}
		for range rng.IntN(16) {
			attrs[randomText(rng, 1+rng.IntN(3))] = randomText(rng, rng.IntN(600))
		}
		if rng.IntN(2) == 0 {
			maps.Copy(attrs, map[string]string{AttrSchema: Schema, AttrSource: "x", AttrContentEncoding: "gzip"})
		}
		reason := randomText(rng, rng.IntN(400))
		id := randomText(rng, rng.IntN(40))
		body := bodies[:MaxMessageBytes-rng.IntN(4000)]

		m, err := DeadLetter(body, attrs, id, reason)
		r := shorten(reason, MaxReasonBytes)
		if r == "" {
			r = noReason
		}
		need := len(body) + attributeSize(AttrError, r)
		if id != "" {
			need += attributeSize(AttrOriginalMessageID, id)
		}
		if need > MaxMessageBytes {
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("body of %d bytes: err = %v, want ErrTooLarge", len(body), err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("body of %d bytes: %v", len(body), err)
		}
		checkDeadLetter(t, m, body)
		// Every attribute left out either would not fit or had no place left.
		for k, v := range attrs {
			if _, kept := m.Attributes[k]; kept || k == AttrError || k == AttrOriginalMessageID || attributeProblem(k, v) != "" {
				continue
			}
			if len(m.Attributes) < MaxAttributes && m.Size()+attributeSize(k, v) <= MaxMessageBytes {
				t.Fatalf("attribute %q (%d bytes) was left out though it fits", k, attributeSize(k, v))
			}
		}
		again, _ := DeadLetter(body, attrs, id, reason)
		if !maps.Equal(again.Attributes, m.Attributes) {
			t.Fatalf("the same message gave two copies")
		}
	}
}
