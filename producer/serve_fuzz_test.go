package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/queuedepth"
)

// memSQS is an in-memory queue behind sqssend.SQS and queuedepth.API, for
// fuzzing only: thousands of requests a second, which the emulator cannot
// take. The other serve tests use the emulator.
type memSQS struct {
	mu   sync.Mutex
	msgs map[string]edgebatch.Message // by message id
	n    int
}

func (m *memSQS) GetQueueAttributes(_ context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := map[string]string{}
	for _, a := range in.AttributeNames {
		switch a {
		case types.QueueAttributeNameMaximumMessageSize:
			out[string(a)] = strconv.Itoa(edgebatch.MaxMessageBytes)
		case types.QueueAttributeNameApproximateNumberOfMessages:
			out[string(a)] = strconv.Itoa(len(m.msgs))
		default:
			out[string(a)] = "0"
		}
	}
	return &sqs.GetQueueAttributesOutput{Attributes: out}, nil
}

func (m *memSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		attrs := map[string]string{}
		for k, v := range e.MessageAttributes {
			attrs[k] = aws.ToString(v.StringValue)
		}
		m.n++
		id := "mem-" + strconv.Itoa(m.n)
		m.msgs[id] = edgebatch.Message{Body: aws.ToString(e.MessageBody), Attributes: attrs}
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String(id)})
	}
	return out, nil
}

func (m *memSQS) take(id string) (edgebatch.Message, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	msg, ok := m.msgs[id]
	delete(m.msgs, id)
	return msg, ok
}

// FuzzServeBatches sends random requests (body, gzip or not, headers,
// method) to the push handler. Whatever comes in: no panic; a JSON answer
// with a status the API documents; 202 only with the right token and for a
// body the one validator accepts, whose message on the queue decodes to the
// same batch; every refusal says what and where.
func FuzzServeBatches(f *testing.F) {
	valid := func() []byte {
		data, err := json.Marshal(pushBatch())
		if err != nil {
			f.Fatal(err)
		}
		return data
	}()
	bearer := "Bearer " + testToken
	// method, authorization, content type, content encoding, gzip the body,
	// body, and a power of two to repeat the body by: large bodies (1 MiB
	// limits, gzip bombs) from small inputs, which the fuzzer mutates and
	// minimizes quickly.
	f.Add(uint8(0), bearer, "application/json", "", false, valid, uint8(0))
	f.Add(uint8(0), bearer, "application/json; charset=utf-8", "gzip", true, valid, uint8(0))
	f.Add(uint8(0), bearer, "application/json", "gzip", false, valid, uint8(0))
	f.Add(uint8(0), bearer, "application/json", "identity", true, valid, uint8(0))
	f.Add(uint8(0), bearer, "application/json", "", false, []byte(`{"v":1,"source":"demo","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"","label":"9"}]}`), uint8(0))
	f.Add(uint8(0), bearer, "application/json", "", false, []byte(`{"v":1,"source":"demo","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"a","label":"A","props":{"x":1e400}}]}`), uint8(0))
	f.Add(uint8(0), bearer, "application/json", "", false, []byte(`{"v":1,"source":"demo","observed_at":"2026-11-21T10:05:00Z","snapshot":{"id":"s","scope":"s","seq":1},"seal":{"batches":1}}`), uint8(0))
	f.Add(uint8(0), bearer, "application/json", "", false, []byte("{\"v\":1,\"source\":\"d\xffmo\"}"), uint8(0))
	f.Add(uint8(0), bearer, "text/plain", "", false, valid, uint8(0))
	f.Add(uint8(0), bearer, "application/json", "br", false, valid, uint8(0))
	f.Add(uint8(0), "", "application/json", "", false, valid, uint8(0))
	f.Add(uint8(0), "Bearer ", "application/json", "", false, valid, uint8(0))
	f.Add(uint8(0), "bearer  "+testToken, "application/json", "", false, valid, uint8(0))
	f.Add(uint8(1), bearer, "application/json", "", false, valid, uint8(0))
	f.Add(uint8(2), bearer, "application/json", "", false, []byte{}, uint8(0))
	f.Add(uint8(0), bearer, "application/json", "gzip", true, []byte("    "), uint8(19))  // a 2 MiB gzip bomb
	f.Add(uint8(0), bearer, "application/json", "", false, []byte("    "), uint8(18))     // 1 MiB of spaces: the limit exactly
	f.Add(uint8(0), bearer, "application/json", "", false, append(valid, ' '), uint8(12)) // valid JSON, then too much

	mem := &memSQS{msgs: map[string]edgebatch.Message{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := Config{Command: CommandServe, QueueURL: "https://sqs.test/123456789012/ingest", IngestToken: testToken,
		BacklogHighWater: 1 << 30, ServeBodyTimeout: DefaultServeBodyTimeout}
	depth := queuedepth.New(mem, 0, log)
	depth.Watch(ingestQueue, cfg.QueueURL)
	depth.SampleOnce(context.Background())
	api, err := newPushAPI(context.Background(), cfg, mem, depth, log)
	if err != nil {
		f.Fatal(err)
	}
	h := api.handler()
	methods := []string{http.MethodPost, http.MethodGet, http.MethodPut, http.MethodDelete}
	documented := map[int]bool{202: true, 400: true, 401: true, 405: true, 408: true, 413: true, 415: true, 429: true, 503: true}

	f.Fuzz(func(t *testing.T, method uint8, auth, contentType, contentEncoding string, gz bool, body []byte, pow uint8) {
		if n := 1 << (pow % 24); n > 1 && len(body)*n <= 3<<20 {
			body = bytes.Repeat(body, n)
		}
		sent := body
		if gz {
			sent = gzipped(t, body)
		}
		req := httptest.NewRequest(methods[int(method)%len(methods)], pushPath, bytes.NewReader(sent))
		for k, v := range map[string]string{"Authorization": auth, "Content-Type": contentType, "Content-Encoding": contentEncoding} {
			if v != "" {
				req.Header.Set(k, v)
			}
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if !documented[rec.Code] {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
			t.Fatalf("status %d with Content-Type %q", rec.Code, ct)
		}
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil {
			t.Fatalf("status %d with a body that is not a JSON object: %v: %s", rec.Code, err, rec.Body)
		}
		if rec.Code != http.StatusAccepted {
			if msg, _ := answer["error"].(string); msg == "" || answer["where"] == "" || answer["where"] == nil {
				t.Fatalf("status %d without error and where: %v", rec.Code, answer)
			}
			return
		}

		scheme, token, _ := strings.Cut(auth, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimLeft(token, " ") != testToken {
			t.Fatalf("202 for Authorization %q", auth)
		}
		want, err := edgebatch.Decode(string(body), nil)
		if err != nil {
			t.Fatalf("202 for a body the validator refuses: %v", err)
		}
		id, _ := answer["message_id"].(string)
		msg, ok := mem.take(id)
		if !ok {
			t.Fatalf("202 with message id %q, not on the queue", id)
		}
		got, err := edgebatch.Decode(msg.Body, msg.Attributes)
		if err != nil {
			t.Fatalf("the enqueued message does not decode: %v", err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("enqueued %+v; sent %+v", got, want)
		}
	})
}
