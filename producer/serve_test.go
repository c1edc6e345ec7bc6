package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/graphfleet/graphfleet/shared/devtools/sqslocal"
	"github.com/graphfleet/graphfleet/shared/devtools/syncbuf"
	"github.com/graphfleet/graphfleet/shared/edgebatch"
	"github.com/graphfleet/graphfleet/shared/queuedepth"
	"github.com/graphfleet/graphfleet/shared/sqssend"
)

// testToken is the INGEST_TOKEN of the tests' push APIs.
const testToken = "test-token-5f0c2b9e8d7a6b1c"

// pushBatch is a small valid batch: two services and a call between them.
func pushBatch() *edgebatch.Batch {
	a, b := edgebatch.ServiceID("petsite", "payforadoption"), edgebatch.ServiceID("petsite", "petsearch")
	return &edgebatch.Batch{V: edgebatch.Version, Source: "push-test", ObservedAt: observed,
		Vertices: []edgebatch.Vertex{
			{ID: a, Label: "Service", Props: edgebatch.Props{"name": "payforadoption", "namespace": "petsite"}},
			{ID: b, Label: "Service", Props: edgebatch.Props{"name": "petsearch", "namespace": "petsite"}},
		},
		Edges: []edgebatch.Edge{{ID: edgebatch.EdgeID(edgebatch.CallsLabel, a, b), Label: edgebatch.CallsLabel, From: a, To: b,
			Props: edgebatch.Props{"requests": int64(1200), "rrt_avg_us": 1530.2, "tls": true}}},
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// pushHarness is a push API served by serveOn on a real listener, with its
// own queues on the shared emulator.
type pushHarness struct {
	url, addr string
	queues    sqslocal.Queues
	client    *sqs.Client
	depth     *queuedepth.Sampler
	logs      *syncbuf.Buffer
}

var pushPrefixes atomic.Int64

// startPush serves the push API for one test. depthAPI, when not nil, is
// what the depth sampler reads instead of the emulator.
func startPush(t *testing.T, client *sqs.Client, qopts sqslocal.QueueOptions, set func(*Config), depthAPI queuedepth.API) *pushHarness {
	t.Helper()
	q, err := sqslocal.CreateQueuesWithOptions(context.Background(), client, "push"+strconv.FormatInt(pushPrefixes.Add(1), 10), qopts)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Command: CommandServe, QueueURL: q.Ingest, ServeAddr: "127.0.0.1:0", IngestToken: testToken,
		BacklogHighWater: DefaultBacklogHighWater, ServeBodyTimeout: DefaultServeBodyTimeout, StopTimeout: DefaultStopTimeout, LogLevel: "debug"}
	if set != nil {
		set(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.ServeAddr)
	if err != nil {
		t.Fatal(err)
	}
	log, logs := testLog()
	if depthAPI == nil {
		depthAPI = client
	}
	depth := queuedepth.New(depthAPI, 0, log)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveOn(ctx, ln, cfg, client, depth, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveOn: %v", err)
		}
	})
	return &pushHarness{url: "http://" + ln.Addr().String(), addr: ln.Addr().String(), queues: q, client: client, depth: depth, logs: logs}
}

// answer is a response of the push API, its JSON body decoded.
type answer struct {
	status int
	header http.Header
	body   map[string]any
}

// httpClient's timeout only keeps a broken server from hanging the test; no
// verdict depends on it.
var httpClient = &http.Client{Timeout: time.Minute}

// post sends body to POST /v1/batches with the test token and
// application/json; header entries add to or (with "") remove those.
func (h *pushHarness) post(t *testing.T, body io.Reader, header map[string]string) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, h.url+pushPath, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	return h.do(t, req)
}

func (h *pushHarness) do(t *testing.T, req *http.Request) answer {
	t.Helper()
	resp, err := httpClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	return readAnswer(t, resp)
}

func readAnswer(t *testing.T, resp *http.Response) answer {
	t.Helper()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Fatalf("status %d with Content-Type %q: %s", resp.StatusCode, ct, raw)
	}
	a := answer{status: resp.StatusCode, header: resp.Header}
	if err := json.Unmarshal(raw, &a.body); err != nil {
		t.Fatalf("status %d with a body that is not a JSON object: %v\n%s", resp.StatusCode, err, raw)
	}
	return a
}

// wantError checks a refusal: its status, where, and that its error says want.
func (a answer) wantError(t *testing.T, status int, where, want string) {
	t.Helper()
	if a.status != status || a.body["where"] != where || !strings.Contains(fmt.Sprint(a.body["error"]), want) {
		t.Fatalf("answer %d %v; want %d where %q with an error saying %q", a.status, a.body, status, where, want)
	}
}

// sqsMessage is a message received from a queue, with its String attributes.
type sqsMessage struct {
	id, body string
	attrs    map[string]string
}

// receiveN receives n messages from url, failing the test when there are
// fewer; the sends have been answered, so they are in the queue.
func receiveN(t *testing.T, client *sqs.Client, url string, n int) []sqsMessage {
	t.Helper()
	var got []sqsMessage
	for tries := 0; len(got) < n; tries++ {
		if tries == 50 {
			t.Fatalf("received %d of %d messages", len(got), n)
		}
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, VisibilityTimeout: 600, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			attrs := map[string]string{}
			for k, v := range m.MessageAttributes {
				attrs[k] = aws.ToString(v.StringValue)
			}
			got = append(got, sqsMessage{id: aws.ToString(m.MessageId), body: aws.ToString(m.Body), attrs: attrs})
		}
	}
	return got
}

// backlog is the queue's visible plus delayed messages, read now.
func backlog(t *testing.T, client *sqs.Client, url string) int64 {
	t.Helper()
	d, err := queuedepth.Read(context.Background(), client, url)
	if err != nil {
		t.Fatal(err)
	}
	return d.Backlog()
}

// fill sends n messages straight to the queue (not batches: nothing
// consumes them, they only make a backlog).
func fill(t *testing.T, client *sqs.Client, url string, n int) {
	t.Helper()
	for i := range n {
		if _, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("backlog " + strconv.Itoa(i))}); err != nil {
			t.Fatal(err)
		}
	}
}

func TestServe(t *testing.T) {
	t.Parallel()
	srv := sqslocal.StartT(t)
	client := srv.Client(context.Background())

	t.Run("202: the batch arrives in the ingest queue as it was sent, under the message id answered, in the client's trace", func(t *testing.T) {
		t.Parallel()
		h := startPush(t, client, sqslocal.QueueOptions{}, nil, nil)
		body := mustJSON(t, pushBatch())
		want, err := edgebatch.Decode(string(body), nil)
		if err != nil {
			t.Fatal(err)
		}
		const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
		plain := h.post(t, bytes.NewReader(body), map[string]string{"Content-Type": "application/json; charset=UTF-8", "traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"})
		// An X-Ray-instrumented client sends X-Amzn-Trace-Id instead.
		zipped := h.post(t, bytes.NewReader(gzipped(t, body)), map[string]string{"Content-Encoding": "gzip",
			"X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"})
		var ids []string
		for _, a := range []answer{plain, zipped} {
			id, _ := a.body["message_id"].(string)
			if a.status != http.StatusAccepted || id == "" {
				t.Fatalf("answer %d %v; want 202 with a message_id", a.status, a.body)
			}
			ids = append(ids, id)
		}
		msgs := receiveN(t, client, h.queues.Ingest, 2)
		for _, m := range msgs {
			got, err := edgebatch.Decode(m.body, m.attrs)
			if err != nil {
				t.Fatalf("message %s does not decode: %v", m.id, err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("message %s holds %+v; want the batch sent, %+v", m.id, got, want)
			}
			if !slices.Contains(ids, m.id) {
				t.Errorf("message id %s is not among those answered, %v", m.id, ids)
			}
			if m.attrs[edgebatch.AttrSchema] != edgebatch.Schema || m.attrs[edgebatch.AttrSource] != "push-test" {
				t.Errorf("message %s attributes %v; want schema and source", m.id, m.attrs)
			}
			// The message carries the client's trace, whichever header
			// the client used.
			if m.id == ids[0] && !strings.Contains(m.attrs["traceparent"], traceID) {
				t.Errorf("traceparent %q is not in the client's trace %s", m.attrs["traceparent"], traceID)
			}
			if m.id == ids[1] && !strings.Contains(m.attrs["traceparent"], "5759e988bd862e3fe1be46a994272793") {
				t.Errorf("traceparent %q is not in the X-Ray client's trace", m.attrs["traceparent"])
			}
		}
		if strings.Contains(h.logs.String(), testToken) {
			t.Error("the token is in the logs")
		}
	})

	t.Run("400 names every validation problem and where it is; nothing is enqueued", func(t *testing.T) {
		t.Parallel()
		h := startPush(t, client, sqslocal.QueueOptions{}, nil, nil)
		const head = `{"v":1,"source":"demo","observed_at":"2026-11-21T10:05:00Z",`
		for _, c := range []struct {
			name, body, where, want string
			gzip                    bool
			problems                []string
		}{
			{name: "not JSON", body: `{"v":1,`, where: "body", want: "unexpected end of JSON input"},
			{name: "empty", body: ``, where: "body", want: "unexpected end of JSON input"},
			{name: "not an object", body: `[]`, where: "body", want: "cannot unmarshal array"},
			{name: "unknown field", body: head + `"vertices":[{"id":"a","label":"A"}],"extra":1}`, where: "body", want: `unknown field "extra"`},
			{name: "repeated key", body: head + `"vertices":[{"id":"a","label":"A","props":{"x":1,"x":2}}]}`, where: "body", want: `key "x" appears twice`},
			{name: "observed_at not RFC 3339", body: `{"v":1,"source":"demo","observed_at":"yesterday","vertices":[{"id":"a","label":"A"}]}`, where: "body", want: `"yesterday"`},
			{name: "version", body: `{"v":2,"source":"demo","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"a","label":"A"}]}`, where: "v", want: "is 2; want 1"},
			{name: "source", body: `{"v":1,"source":"Deep Flow","observed_at":"2026-11-21T10:05:00Z","vertices":[{"id":"a","label":"A"}]}`, where: "source", want: "does not match"},
			{name: "edge endpoint not in the batch", body: head + `"vertices":[{"id":"a","label":"A"}],"edges":[{"id":"calls:a>b","label":"calls","from":"a","to":"b"}]}`,
				where: "edges[0].to", want: `"b" is not among the batch's vertices`},
			{name: "writer-owned property", body: head + `"vertices":[{"id":"a","label":"A","props":{"last_seen":1}}]}`, where: `vertices[0].props["last_seen"]`, want: "owned by the writer"},
			{name: "null property", body: head + `"vertices":[{"id":"a","label":"A","props":{"x":null}}]}`, where: `vertices[0].props["x"]`, want: "is null"},
			{name: "several problems", body: head + `"vertices":[{"id":"","label":"9"}]}`, where: "vertices[0].id", want: "2 problem(s)",
				problems: []string{"vertices[0].id", "vertices[0].label"}},
			{name: "gzip announced, not sent", body: string(mustJSON(t, pushBatch())), gzip: true, where: "body", want: "not valid gzip"},
		} {
			t.Run(c.name, func(t *testing.T) {
				var hdr map[string]string
				if c.gzip {
					hdr = map[string]string{"Content-Encoding": "gzip"}
				}
				a := h.post(t, strings.NewReader(c.body), hdr)
				a.wantError(t, http.StatusBadRequest, c.where, c.want)
				var where []string
				problems, _ := a.body["problems"].([]any)
				for _, p := range problems {
					where = append(where, fmt.Sprint(p.(map[string]any)["where"]))
				}
				if c.problems != nil && !slices.Equal(where, c.problems) {
					t.Errorf("problems at %v; want %v", where, c.problems)
				}
			})
		}
		if n := backlog(t, client, h.queues.Ingest); n != 0 {
			t.Errorf("%d messages enqueued from invalid batches", n)
		}
	})

	t.Run("401 without the token or with another one, with WWW-Authenticate; the scheme is case-insensitive", func(t *testing.T) {
		t.Parallel()
		h := startPush(t, client, sqslocal.QueueOptions{}, nil, nil)
		body := mustJSON(t, pushBatch())
		for _, c := range []struct{ auth, challenge string }{
			{"", `Bearer realm="graphfleet"`},
			{"Bearer " + testToken + "x", `Bearer realm="graphfleet", error="invalid_token"`},
			{"Bearer " + testToken[:len(testToken)-1], `Bearer realm="graphfleet", error="invalid_token"`},
			{"Basic dXNlcjpwYXNz", `Bearer realm="graphfleet", error="invalid_request"`},
			{testToken, `Bearer realm="graphfleet", error="invalid_request"`},
		} {
			a := h.post(t, bytes.NewReader(body), map[string]string{"Authorization": c.auth})
			a.wantError(t, http.StatusUnauthorized, "header Authorization", "")
			if got := a.header.Get("WWW-Authenticate"); got != c.challenge {
				t.Errorf("Authorization %q: WWW-Authenticate %q; want %q", c.auth, got, c.challenge)
			}
		}
		if n := backlog(t, client, h.queues.Ingest); n != 0 {
			t.Fatalf("%d messages enqueued without the token", n)
		}
		if a := h.post(t, bytes.NewReader(body), map[string]string{"Authorization": "bearer " + testToken}); a.status != http.StatusAccepted {
			t.Fatalf("lower-case scheme: %d %v; want 202", a.status, a.body)
		}
		if strings.Contains(h.logs.String(), testToken[:12]) {
			t.Error("the token is in the logs")
		}
	})

	t.Run("413 past 1 MiB as sent, declared or not, or once inflated, and past the queue's own limit", func(t *testing.T) {
		t.Parallel()
		h := startPush(t, client, sqslocal.QueueOptions{MaximumMessageSize: 64 << 10}, nil, nil)

		// Declared too large: refused on the headers, no body sent. Raw, so
		// that no client is left writing a megabyte into a closed connection.
		conn := dialRaw(t, h.addr)
		fmt.Fprintf(conn, "POST /v1/batches HTTP/1.1\r\nHost: push\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", testToken, pushBodyBytes+1)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		a := readAnswer(t, resp)
		a.wantError(t, http.StatusRequestEntityTooLarge, "body", "at most 1048576 bytes")
		if a.body["limit_bytes"] != float64(pushBodyBytes) {
			t.Errorf("limit_bytes %v; want %d", a.body["limit_bytes"], pushBodyBytes)
		}

		// Not declared (chunked): cut off by MaxBytesReader at 1 MiB + 1.
		over := bytes.Repeat([]byte(" "), pushBodyBytes+1)
		a = h.post(t, io.MultiReader(bytes.NewReader(over)), nil)
		a.wantError(t, http.StatusRequestEntityTooLarge, "body", "larger than 1048576 bytes")

		// A gzip bomb: 2 KiB that inflate to 8 MiB.
		bomb := gzipped(t, bytes.Repeat([]byte(" "), 8<<20))
		a = h.post(t, bytes.NewReader(bomb), map[string]string{"Content-Encoding": "gzip"})
		a.wantError(t, http.StatusRequestEntityTooLarge, "body", "inflates past 1048576 bytes")

		// Valid, under 1 MiB, but larger than this 64 KiB queue takes.
		big := mustJSON(t, blobSnapshot("push/big", 3, 30000))
		a = h.post(t, bytes.NewReader(big), nil)
		limit, _ := sqssend.MessageLimit(64 << 10)
		a.wantError(t, http.StatusRequestEntityTooLarge, "body", fmt.Sprintf("takes at most %d (its MaximumMessageSize 65536", limit))
		if a.body["limit_bytes"] != float64(limit) {
			t.Errorf("limit_bytes %v; want %d", a.body["limit_bytes"], limit)
		}
		if n := backlog(t, client, h.queues.Ingest); n != 0 {
			t.Fatalf("%d messages enqueued", n)
		}
	})

	t.Run("415 for a Content-Type or Content-Encoding other than JSON, plain or gzip; 405 and 404", func(t *testing.T) {
		t.Parallel()
		h := startPush(t, client, sqslocal.QueueOptions{}, nil, nil)
		body := mustJSON(t, pushBatch())
		for _, c := range []struct{ header, value, where string }{
			{"Content-Type", "", "header Content-Type"},
			{"Content-Type", "text/plain", "header Content-Type"},
			{"Content-Type", "application/json; charset=latin1", "header Content-Type"},
			{"Content-Type", "application/json; version=2", "header Content-Type"},
			{"Content-Type", "application/json;;", "header Content-Type"},
			{"Content-Encoding", "br", "header Content-Encoding"},
			{"Content-Encoding", "gzip, gzip", "header Content-Encoding"},
		} {
			a := h.post(t, bytes.NewReader(body), map[string]string{c.header: c.value})
			a.wantError(t, http.StatusUnsupportedMediaType, c.where, "")
		}
		req, _ := http.NewRequest(http.MethodGet, h.url+pushPath, nil)
		a := h.do(t, req)
		a.wantError(t, http.StatusMethodNotAllowed, "method", "POST")
		if a.header.Get("Allow") != http.MethodPost {
			t.Errorf("Allow %q", a.header.Get("Allow"))
		}
		req, _ = http.NewRequest(http.MethodPost, h.url+"/v2/batches", bytes.NewReader(body))
		h.do(t, req).wantError(t, http.StatusNotFound, "path", pushPath)
		if n := backlog(t, client, h.queues.Ingest); n != 0 {
			t.Fatalf("%d messages enqueued", n)
		}
	})

	t.Run("429 with Retry-After once the sampler sees the backlog above the mark", func(t *testing.T) {
		t.Parallel()
		h := startPush(t, client, sqslocal.QueueOptions{}, func(c *Config) { c.BacklogHighWater = 2 }, nil)
		body := mustJSON(t, pushBatch())
		// serveOn read the depth before serving: an empty queue.
		if a := h.post(t, bytes.NewReader(body), nil); a.status != http.StatusAccepted {
			t.Fatalf("below the mark: %d %v", a.status, a.body)
		}
		fill(t, h.client, h.queues.Ingest, 2) // 3 in all: above 2
		h.depth.SampleOnce(context.Background())
		a := h.post(t, bytes.NewReader(body), nil)
		a.wantError(t, http.StatusTooManyRequests, "queue", "above the mark (2)")
		if a.header.Get("Retry-After") != "5" || a.body["backlog"] != float64(3) || a.body["backlog_high_water"] != float64(2) {
			t.Fatalf("Retry-After %q, body %v; want 5 (one sampler interval), backlog 3, mark 2", a.header.Get("Retry-After"), a.body)
		}
		if n := backlog(t, client, h.queues.Ingest); n != 3 {
			t.Fatalf("backlog %d; the refused push was enqueued", n)
		}

		req, _ := http.NewRequest(http.MethodGet, h.url+healthPath, nil)
		hz := h.do(t, req)
		ingest, _ := hz.body["ingest"].(map[string]any)
		if hz.status != http.StatusOK || hz.body["status"] != "serving" || ingest["backlog"] != float64(3) || ingest["known"] != true {
			t.Fatalf("/healthz %d %v", hz.status, hz.body)
		}
	})

	t.Run("with the depth unknown, pushes are accepted and that is logged once", func(t *testing.T) {
		t.Parallel()
		deny := &faulty{real: client, attrsErr: errors.New("AccessDenied: not authorized to perform sqs:GetQueueAttributes")}
		h := startPush(t, client, sqslocal.QueueOptions{}, func(c *Config) { c.BacklogHighWater = 1 }, deny)
		fill(t, h.client, h.queues.Ingest, 5)
		body := mustJSON(t, pushBatch())
		for range 2 {
			if a := h.post(t, bytes.NewReader(body), nil); a.status != http.StatusAccepted {
				t.Fatalf("%d %v; want 202 while the depth is unknown", a.status, a.body)
			}
		}
		if n := strings.Count(h.logs.String(), "the ingest backlog is unknown"); n != 1 {
			t.Fatalf("logged %d times; want once:\n%s", n, h.logs)
		}
	})

	t.Run("a body that stalls is cut off with 408", func(t *testing.T) {
		t.Parallel()
		h := startPush(t, client, sqslocal.QueueOptions{}, func(c *Config) { c.ServeBodyTimeout = 300 * time.Millisecond; c.StopTimeout = 11 * time.Second }, nil)
		body := mustJSON(t, pushBatch())
		conn := dialRaw(t, h.addr)
		fmt.Fprintf(conn, "POST /v1/batches HTTP/1.1\r\nHost: push\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", testToken, len(body))
		if _, err := conn.Write(body[:len(body)/2]); err != nil {
			t.Fatal(err)
		}
		// The client sends nothing more and waits: only the server's body
		// deadline can produce an answer.
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		readAnswer(t, resp).wantError(t, http.StatusRequestTimeout, "body", "did not arrive within 300ms")
		if _, err := br.ReadByte(); err != io.EOF {
			t.Fatalf("after the 408 the connection gave %v; want it closed (EOF)", err)
		}
		if n := backlog(t, client, h.queues.Ingest); n != 0 {
			t.Fatalf("%d messages enqueued", n)
		}
	})

	t.Run("the command refuses to start without a usable token and never prints it", func(t *testing.T) {
		t.Parallel()
		for _, c := range []struct{ token, want string }{
			{"", "serve needs INGEST_TOKEN"},
			{"short-secret", "INGEST_TOKEN has 12 characters"},
			{"a token with spaces in it", "INGEST_TOKEN cannot be sent as a bearer token"},
		} {
			env := []string{"QUEUE_URL=http://127.0.0.1:1/123456789012/q", "SERVE_ADDR=127.0.0.1:0"}
			if c.token != "" {
				env = append(env, "INGEST_TOKEN="+c.token)
			}
			code, _, stderr := runServeCommand(t, env)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("token %q: exit %d, stderr %s; want 1 saying %q", c.token, code, stderr, c.want)
			}
			if c.token == "" && !strings.Contains(stderr, "SERVE_INSECURE_LOCAL") {
				t.Errorf("the refusal does not name the local escape hatch: %s", stderr)
			}
			if c.token != "" && strings.Contains(stderr, c.token) {
				t.Errorf("the token is in the output: %s", stderr)
			}
		}
	})

	t.Run("SIGTERM: new connections refused, the request in flight finishes with 202, exit 0", func(t *testing.T) {
		t.Parallel()
		q, err := sqslocal.CreateQueues(context.Background(), client, "push"+strconv.FormatInt(pushPrefixes.Add(1), 10))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(producerBin, "serve")
		cmd.Env = append(cleanEnv(), "AWS_ENDPOINT_URL_SQS="+srv.Endpoint, "AWS_REGION="+srv.Region, "AWS_ACCESS_KEY_ID=local", "AWS_SECRET_ACCESS_KEY=local",
			"AWS_EC2_METADATA_DISABLED=true", "QUEUE_URL="+q.Ingest, "INGEST_TOKEN="+testToken, "SERVE_ADDR=127.0.0.1:0")
		stderr, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill() }) // only if the test failed before Wait
		lines := logLines(stderr)
		serving := waitLog(t, lines, "push API serving")
		addr, _ := serving["addr"].(string)

		// Expect: 100-continue makes the server say when the handler starts
		// reading the body, so the request is known to be in flight before
		// the signal.
		body := mustJSON(t, pushBatch())
		conn := dialRaw(t, addr)
		fmt.Fprintf(conn, "POST /v1/batches HTTP/1.1\r\nHost: push\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", testToken, len(body))
		br := bufio.NewReader(conn)
		cont, err := http.ReadResponse(br, nil)
		if err != nil || cont.StatusCode != http.StatusContinue {
			t.Fatalf("want 100 Continue: %v %v", cont, err)
		}
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		waitLog(t, lines, "shutting down")
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			t.Error("a new connection was accepted after shutdown began")
		}
		if _, err := conn.Write(body); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if a := readAnswer(t, resp); a.status != http.StatusAccepted {
			t.Fatalf("the request in flight got %d %v; want 202", a.status, a.body)
		}
		waitLog(t, lines, "stopped")
		for range lines { // drain, so the process can exit
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("exit: %v; want 0", err)
		}
		if msgs := receiveN(t, client, q.Ingest, 1); len(msgs) != 1 {
			t.Fatalf("%d messages", len(msgs))
		}
	})
}

// dialRaw opens a TCP connection for a test that writes HTTP by hand. Its
// deadline only keeps a broken server from hanging the test.
func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	return conn
}

// cleanEnv is the test's environment without the settings a serve test
// sets itself.
func cleanEnv() []string {
	return slices.DeleteFunc(os.Environ(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "INGEST_TOKEN" || name == "SERVE_INSECURE_LOCAL" || name == "QUEUE_URL" || strings.HasPrefix(name, "AWS_")
	})
}

// runServeCommand runs `producer serve` with env added to cleanEnv, for a
// start that is expected to fail.
func runServeCommand(t *testing.T, env []string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, producerBin, "serve")
	cmd.Env = append(cleanEnv(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		return ee.ExitCode(), out.String(), errOut.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String(), errOut.String()
}

// logLines delivers the JSON log lines of r, closing the channel at EOF.
func logLines(r io.Reader) <-chan map[string]any {
	ch := make(chan map[string]any, 100)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			var line map[string]any
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				ch <- line
			}
		}
	}()
	return ch
}

// waitLog waits for the log line whose msg starts with msg.
func waitLog(t *testing.T, lines <-chan map[string]any, msg string) map[string]any {
	t.Helper()
	for line := range lines {
		if m, _ := line["msg"].(string); strings.HasPrefix(m, msg) {
			return line
		}
	}
	t.Fatalf("the process ended without logging %q", msg)
	return nil
}

// A gzip bomb is not inflated whole: the server stops reading the
// compressed stream once it has inflated past 1 MiB, so a bomb costs what a
// 1 MiB plain body does, whatever it would inflate to.
func TestServeStopsInflatingPastTheLimit(t *testing.T) {
	t.Parallel()
	// 256 gzip members of 1 MiB of spaces each: 256 MiB from about 256 KiB,
	// without compressing 256 MiB here (gzip readers inflate members one
	// after the other).
	bomb := bytes.Repeat(gzipped(t, bytes.Repeat([]byte(" "), 1<<20)), 256)
	p := &pushAPI{bodyTimeout: time.Second}
	body := &countingReader{r: bytes.NewReader(bomb)}
	req, _ := http.NewRequest(http.MethodPost, pushPath, body)
	req.Header.Set("Content-Encoding", "gzip")
	_, e := p.readBody(httptest.NewRecorder(), req)
	if e == nil || e.Status != http.StatusRequestEntityTooLarge || !strings.Contains(e.Msg, "inflates past") {
		t.Fatalf("refusal %+v; want 413 inflates past", e)
	}
	if body.n > len(bomb)/10 {
		t.Fatalf("the server read %d of the bomb's %d compressed bytes; it should stop after about 1 MiB inflated", body.n, len(bomb))
	}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// Retry-After grows with how many marks deep the backlog is, from one
// sampler interval to maxRetryAfterFactor of them.
func TestRetryAfterScalesWithTheBacklog(t *testing.T) {
	t.Parallel()
	p := &pushAPI{mark: 100, depth: queuedepth.New(nil, 5*time.Second, nil)}
	for backlog, want := range map[int64]int{101: 5, 199: 5, 200: 10, 350: 15, 1200: 60, 1_000_000: 60} {
		if got := p.retryAfter(backlog); got != want {
			t.Errorf("backlog %d over mark 100: Retry-After %d; want %d", backlog, got, want)
		}
	}
}

// serve's settings: the token comes from the environment only, never
// prints, and every problem is reported at once.
func TestServeConfig(t *testing.T) {
	t.Setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/graphfleet-ingest")
	t.Setenv("INGEST_TOKEN", testToken)
	cfg, err := parseConfig(CommandServe, []string{"-serve-addr", "127.0.0.1:9000"})
	if err != nil {
		t.Fatal(err)
	}
	if string(cfg.IngestToken) != testToken || cfg.ServeAddr != "127.0.0.1:9000" || cfg.BacklogHighWater != DefaultBacklogHighWater || cfg.StopTimeout != DefaultStopTimeout {
		t.Fatalf("config %+v", cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("a valid serve configuration: %v", err)
	}
	for _, s := range []string{fmt.Sprint(cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%q", cfg.IngestToken)} {
		if strings.Contains(s, testToken) {
			t.Fatalf("the token prints: %s", s)
		}
	}
	if _, err := parseConfig(CommandServe, []string{"-ingest-token", "x"}); err == nil {
		t.Fatal("-ingest-token accepted; the token must not be a flag (process listings, -help)")
	}

	bad := Config{Command: CommandServe, QueueURL: "q", ServeAddr: "8081", BacklogHighWater: -1, ServeBodyTimeout: 0, StopTimeout: time.Second, Once: true, LogLevel: "loud"}
	err = bad.Validate()
	for _, want := range []string{"QUEUE_URL", "SERVE_ADDR", "INGEST_TOKEN", "SERVE_INSECURE_LOCAL", "BACKLOG_HIGH_WATER", "SERVE_BODY_TIMEOUT", "STOP_TIMEOUT", "ONCE", "LOG_LEVEL"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not name %s:\n%v", want, err)
		}
	}
	local := Config{Command: CommandServe, QueueURL: "http://127.0.0.1:9324/123456789012/q", ServeAddr: ":8081", ServeInsecureLocal: true,
		ServeBodyTimeout: DefaultServeBodyTimeout, StopTimeout: DefaultStopTimeout, LogLevel: "info"}
	if err := local.Validate(); err != nil {
		t.Fatalf("SERVE_INSECURE_LOCAL without a token: %v", err)
	}
}

// run's deferral and replay, against the emulator.
func TestRunDefersAndReplays(t *testing.T) {
	t.Parallel()
	srv := sqslocal.StartT(t)
	client := srv.Client(context.Background())
	newQueues := func(t *testing.T, opts sqslocal.QueueOptions) sqslocal.Queues {
		q, err := sqslocal.CreateQueuesWithOptions(context.Background(), client, "run"+strconv.FormatInt(pushPrefixes.Add(1), 10), opts)
		if err != nil {
			t.Fatal(err)
		}
		return q
	}
	demo := func(q sqslocal.Queues) Config {
		return Config{Command: CommandRun, QueueURL: q.Ingest, Sources: []string{"demo"}, Once: true, DiscoveryTimeout: time.Minute,
			DemoScale: 1, DemoCalls: true, DemoInterval: DefaultDemoInterval, BacklogHighWater: 2, LogLevel: "info"}
	}
	runOnce := func(t *testing.T, cfg Config) (summary, logs string) {
		t.Helper()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		log, buf := testLog()
		var out bytes.Buffer
		if err := runWith(context.Background(), cfg, aws.Config{}, client, &out, log); err != nil {
			t.Fatalf("runWith: %v\n%s", err, out.String())
		}
		return out.String(), buf.String()
	}

	t.Run("--once above the mark defers: nothing sent, the summary and log say so, no error", func(t *testing.T) {
		t.Parallel()
		q := newQueues(t, sqslocal.QueueOptions{})
		fill(t, client, q.Ingest, 3)
		summary, logs := runOnce(t, demo(q))
		if !strings.Contains(summary, "deferred: ingest backlog 3 above the mark 2; the next snapshot supersedes this one") ||
			!strings.Contains(summary, "total: 0 of 0 snapshot(s) sealed") || !strings.Contains(summary, "; 1 source(s) deferred") {
			t.Fatalf("summary:\n%s", summary)
		}
		if !strings.Contains(logs, `"msg":"discovery run deferred","source":"demo","backlog":3,"mark":2`) {
			t.Fatalf("no deferral logged:\n%s", logs)
		}
		if n := backlog(t, client, q.Ingest); n != 3 {
			t.Fatalf("backlog %d; a deferred run sent %d messages", n, n-3)
		}
	})

	t.Run("at the mark, or with --force above it, the run sends and seals", func(t *testing.T) {
		t.Parallel()
		q := newQueues(t, sqslocal.QueueOptions{})
		fill(t, client, q.Ingest, 2)
		summary, _ := runOnce(t, demo(q))
		if !strings.Contains(summary, "total: 3 of 3 snapshot(s) sealed") || strings.Contains(summary, "deferred") {
			t.Fatalf("at the mark:\n%s", summary)
		}
		cfg := demo(q)
		cfg.Force = true
		summary, _ = runOnce(t, cfg) // the backlog is now far above 2
		if !strings.Contains(summary, "total: 3 of 3 snapshot(s) sealed") || strings.Contains(summary, "deferred") {
			t.Fatalf("with --force:\n%s", summary)
		}
	})

	t.Run("with the depth unreadable the run goes ahead and says why", func(t *testing.T) {
		t.Parallel()
		q := newQueues(t, sqslocal.QueueOptions{})
		fill(t, client, q.Ingest, 3)
		log, logs := testLog()
		ss, err := newSnapshotSender(context.Background(), client, q.Ingest, log)
		if err != nil {
			t.Fatal(err)
		}
		deny := &faulty{real: client, attrsErr: errors.New("AccessDenied")}
		src := source{name: "test", discover: threeScopes, gate: newBacklogGate(demo(q), deny, log)}
		rep := discoverAndSend(context.Background(), src, ss, time.Minute, log)
		if rep.Err != nil || rep.Deferred != nil || len(rep.Snapshots) != 3 {
			t.Fatalf("report %+v; want three sealed snapshots", rep)
		}
		if !strings.Contains(logs.String(), "cannot read the ingest backlog; running without the deferral check") {
			t.Fatalf("not logged:\n%s", logs)
		}
	})

	t.Run("--queue replay sends to the replay queue, every message marked replay=true, and never defers", func(t *testing.T) {
		t.Parallel()
		q := newQueues(t, sqslocal.QueueOptions{})
		fill(t, client, q.Ingest, 3) // above the mark: a replay goes anyway
		cfg := demo(q)
		cfg.Queue, cfg.ReplayQueueURL, cfg.QueueURL = QueueReplay, q.Replay, ""
		summary, _ := runOnce(t, cfg)
		if !strings.Contains(summary, "total: 3 of 3 snapshot(s) sealed") {
			t.Fatalf("summary:\n%s", summary)
		}
		n := backlog(t, client, q.Replay)
		if n < 6 {
			t.Fatalf("%d messages on the replay queue; want the 3 snapshots' data batches and seals", n)
		}
		sealsSeen := 0
		for _, m := range receiveN(t, client, q.Replay, int(n)) {
			if m.attrs[edgebatch.AttrReplay] != "true" {
				t.Errorf("message %s attributes %v; want replay=true", m.id, m.attrs)
			}
			b, err := edgebatch.Decode(m.body, m.attrs)
			if err != nil {
				t.Fatalf("message %s: %v", m.id, err)
			}
			if b.Seal != nil {
				sealsSeen++
			}
		}
		if sealsSeen != 3 {
			t.Fatalf("%d seals; want 3", sealsSeen)
		}
		if got := backlog(t, client, q.Ingest); got != 3 {
			t.Fatalf("ingest backlog %d; the replay sent there", got)
		}
	})

	t.Run("the replay marker splits a call its bytes would push past SQS's 1 MiB per call", func(t *testing.T) {
		t.Parallel()
		q := newQueues(t, sqslocal.QueueOptions{})
		// Ten entries that fill a call to the byte, as sqssend may pack them.
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.Replay)}
		for i := range sqssend.MaxEntries {
			in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)),
				MessageBody: aws.String(strings.Repeat(strconv.Itoa(i), sqssend.MaxCallBytes/sqssend.MaxEntries))})
		}
		if _, err := client.SendMessageBatch(context.Background(), markedCopy(in)); err == nil {
			t.Fatal("the emulator took a call past 1 MiB; this test would prove nothing")
		}
		out, err := replayMarker{client}.SendMessageBatch(context.Background(), in)
		if err != nil || len(out.Successful) != sqssend.MaxEntries || len(out.Failed) != 0 {
			t.Fatalf("%v, %+v", err, out)
		}
		for _, m := range receiveN(t, client, q.Replay, sqssend.MaxEntries) {
			if m.attrs[edgebatch.AttrReplay] != "true" {
				t.Fatalf("message %s attributes %v", m.id, m.attrs)
			}
		}
	})
}

// markedCopy is in with replay=true on every entry, in one call.
func markedCopy(in *sqs.SendMessageBatchInput) *sqs.SendMessageBatchInput {
	out := *in
	out.Entries = slices.Clone(in.Entries)
	for i := range out.Entries {
		out.Entries[i].MessageAttributes = map[string]types.MessageAttributeValue{edgebatch.AttrReplay: {DataType: aws.String("String"), StringValue: aws.String("true")}}
	}
	return &out
}
