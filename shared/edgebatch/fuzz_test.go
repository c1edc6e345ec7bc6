package edgebatch

import (
	"errors"
	"testing"
)

// FuzzDecode feeds Decode arbitrary bodies and attributes: it must never
// panic, every error must say the message is malformed with a reason fit for
// the DLQ, and whatever it accepts must be valid and encode back to a message
// that decodes to the same batch.
func FuzzDecode(f *testing.F) {
	valid := mustEncode(f, testBatch())
	big := mustEncode(f, bigBatch(nil, 30, 4000, false))
	seal := mustEncode(f, &Batch{V: 1, Source: "aws", ObservedAt: testTime, Snapshot: &Snapshot{ID: "a", Scope: "b", Seq: 2}, Seal: &Seal{Batches: 2}})
	f.Add(valid.Body, "", Schema, "deepflow", false)
	f.Add(valid.Body, "", "", "", true)
	f.Add(big.Body, "gzip", Schema, "aws", false)
	f.Add(seal.Body, "", Schema, "aws", false)
	f.Add(`{"v":1,"source":"x","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"a","label":"L","props":{"k":1,"k":2}}]}`, "", "", "", false)
	f.Add(`{"v":1,"Source":"x","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"a","label":"L"}]}`, "", "", "", true)
	f.Add(`{"v":1,"source":"x","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"a\ufffe","label":"L","props":{"n":1e308,"s":"\u0000"}}]} `, "identity", "", "x", false)
	f.Add(`[{"v":1}]`, "", "", "", false)
	f.Add(`{"v":1,"snapshot":null,"vertices":null,"edges":[],"seal":null}`, "", "", "", false)
	f.Add("H4sIAAAAAAAA/w==", "gzip", Schema, "", false)
	f.Fuzz(func(t *testing.T, body, ce, schema, source string, gz bool) {
		attrs := map[string]string{}
		for k, v := range map[string]string{AttrContentEncoding: ce, AttrSchema: schema, AttrSource: source} {
			if v != "" {
				attrs[k] = v
			}
		}
		if gz {
			body = gzipped(t, []byte(body))
			attrs[AttrContentEncoding] = "gzip"
		}
		b, err := Decode(body, attrs)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error does not wrap ErrMalformed: %v", err)
			}
			if r := Reason(err); r == "" || len(r) > MaxReasonBytes || attributeProblem(AttrError, r) != "" {
				t.Fatalf("Reason() = %q is not a valid DLQ attribute", r)
			}
			return
		}
		if err := Validate(b); err != nil {
			t.Fatalf("Decode accepted an invalid batch: %v", err)
		}
		m, err := Encode(b)
		if errors.Is(err, ErrTooLarge) {
			return // Decode takes plain bodies up to MaxDecodedBytes
		}
		if err != nil {
			t.Fatalf("Encode of a decoded batch: %v", err)
		}
		b2, err := Decode(m.Body, m.Attributes)
		if err != nil {
			t.Fatalf("Decode of a re-encoded batch: %v\n%s", err, m.Body)
		}
		if m2 := mustEncode(t, b2); m2.Body != m.Body {
			t.Fatalf("encoding is not stable:\n%s\n%s", m.Body, m2.Body)
		}
	})
}
