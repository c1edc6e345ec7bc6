// Package awsreplay answers AWS SDK requests with recorded HTTP responses, so
// that the discovery sources are tested against the APIs' real wire formats:
// the SDK's own serializers, deserializers, paginators, error decoding and
// retryer all run; only the network is replaced.
//
// A recording is a directory holding replay.json, a list of entries, and the
// response bodies the entries name:
//
//	[
//	  {"service": "ec2", "op": "DescribeVpcs", "body": "ec2/DescribeVpcs.xml"},
//	  {"service": "ec2", "op": "DescribeSubnets", "match": {"NextToken": ""}, "body": "ec2/DescribeSubnets-1.xml"},
//	  {"service": "ec2", "op": "DescribeSubnets", "match": {"NextToken": "p2"}, "body": "ec2/DescribeSubnets-2.xml"},
//	  {"service": "sqs", "op": "ListQueues", "times": 1, "status": 400, "body": "sqs/throttled.json"},
//	  {"service": "lambda", "op": "GET /2015-03-31/functions", "body": "lambda/ListFunctions.json"}
//	]
//
// A request is answered by the first entry that matches it and is not used
// up ("times" bounds how often an entry answers; 0 means always):
//   - service is the first label of the request's host (ec2, sqs, lambda,
//     rds, iam, ...; Neptune's API is served by rds), region the region in it
//     (empty matches any);
//   - op is the operation: the Action form field (query protocols: EC2, IAM,
//     RDS, Neptune, SNS, CloudFormation, ELBv2, STS), the part of X-Amz-Target
//     after the '.' (JSON protocols: ECS, DynamoDB, SQS, Step Functions,
//     EventBridge), or "METHOD /path" (REST protocols: Lambda, EKS, S3);
//   - every match key must have that value among the request's parameters:
//     form fields, top-level fields of a JSON body (strings, numbers and
//     booleans as JSON text), or URL query parameters. "" matches a parameter
//     that is absent or empty, so a first page is told from the next ones.
//
// An entry's response has status (200 by default), headers, and the body
// file. The Content-Type defaults from the body's extension: .xml is
// text/xml, .json is the request's own (application/x-amz-json-1.0 or 1.1)
// for JSON protocols and application/json for REST ones. A request no entry answers fails the call
// with an error naming it, and is listed by Unmatched.
package awsreplay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Entry is one recorded response and the requests it answers.
type Entry struct {
	Service string            `json:"service"`
	Region  string            `json:"region,omitempty"`
	Op      string            `json:"op"`
	Match   map[string]string `json:"match,omitempty"`
	Times   int               `json:"times,omitempty"`
	Status  int               `json:"status,omitempty"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`

	body []byte
	used int
}

// Replayer is an aws.HTTPClient that answers from a recording. It is safe
// for concurrent use.
type Replayer struct {
	mu        sync.Mutex
	entries   []*Entry
	calls     map[string]int
	unmatched []string
}

// Load reads the recording in dir (its replay.json and the bodies it names).
func Load(dir string) (*Replayer, error) {
	data, err := os.ReadFile(filepath.Join(dir, "replay.json"))
	if err != nil {
		return nil, err
	}
	var entries []*Entry
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&entries); err != nil {
		return nil, fmt.Errorf("%s/replay.json: %w", dir, err)
	}
	for i, e := range entries {
		if e.Service == "" || e.Op == "" {
			return nil, fmt.Errorf("%s/replay.json: entry %d needs service and op", dir, i)
		}
		if e.Body != "" {
			if e.body, err = os.ReadFile(filepath.Join(dir, e.Body)); err != nil {
				return nil, fmt.Errorf("%s/replay.json: entry %d: %w", dir, i, err)
			}
		}
	}
	return &Replayer{entries: entries, calls: map[string]int{}}, nil
}

// Config is an AWS configuration for region whose requests r answers, with
// static credentials (requests are still signed, as they would be).
func (r *Replayer) Config(region string) aws.Config {
	return aws.Config{
		Region:      region,
		HTTPClient:  r,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDREPLAY", "replay-secret", ""),
	}
}

// Calls is how many requests for service's op (as in an Entry) were
// answered, whatever the answer.
func (r *Replayer) Calls(service, op string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[service+" "+op]
}

// Unmatched lists the requests no entry answered, as "service op params".
func (r *Replayer) Unmatched() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.unmatched)
}

// Do answers req from the recording.
func (r *Replayer) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
	}
	service, region := hostParts(req.URL.Host)
	op, params, protocol := operation(req, body)

	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls[service+" "+op]++
	for _, e := range r.entries {
		if e.Service != service || e.Op != op || (e.Region != "" && e.Region != region) {
			continue
		}
		if e.Times > 0 && e.used >= e.Times {
			continue
		}
		if !matches(e.Match, params) {
			continue
		}
		e.used++
		return e.response(req, protocol, req.Header.Get("Content-Type")), nil
	}
	what := fmt.Sprintf("%s %s (region %q) %v", service, op, region, params)
	r.unmatched = append(r.unmatched, what)
	return nil, fmt.Errorf("awsreplay: no recording answers %s", what)
}

func (e *Entry) response(req *http.Request, protocol, requestType string) *http.Response {
	status := e.Status
	if status == 0 {
		status = http.StatusOK
	}
	h := http.Header{}
	switch {
	case strings.HasSuffix(e.Body, ".xml"):
		h.Set("Content-Type", "text/xml")
	case strings.HasSuffix(e.Body, ".json") && protocol == "json":
		h.Set("Content-Type", requestType)
	case strings.HasSuffix(e.Body, ".json"):
		h.Set("Content-Type", "application/json")
	}
	h.Set("X-Amzn-Requestid", "replay-"+strconv.Itoa(e.used))
	for k, v := range e.Headers {
		h.Set(k, v)
	}
	return &http.Response{
		Status:        strconv.Itoa(status) + " " + http.StatusText(status),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(e.body)),
		ContentLength: int64(len(e.body)),
		Request:       req,
	}
}

// hostParts splits "ec2.us-east-1.amazonaws.com" into ("ec2", "us-east-1").
// Virtual-hosted S3 ("bucket.s3.us-east-1.amazonaws.com") is service "s3".
func hostParts(host string) (service, region string) {
	host, _, _ = strings.Cut(host, ":")
	labels := strings.Split(host, ".")
	for i, l := range labels {
		if l == "s3" || strings.HasPrefix(l, "s3-") {
			labels = labels[i:]
			break
		}
	}
	service = labels[0]
	if len(labels) > 2 && labels[1] != "amazonaws" {
		region = labels[1]
	}
	return service, region
}

// operation names req's operation and collects its parameters, and says
// which protocol carried them ("query", "json" or "rest").
func operation(req *http.Request, body []byte) (op string, params map[string]string, protocol string) {
	params = map[string]string{}
	for k, v := range req.URL.Query() {
		if len(v) > 0 {
			params[k] = v[0]
		}
	}
	if target := req.Header.Get("X-Amz-Target"); target != "" {
		_, op, _ = strings.Cut(target, ".")
		var fields map[string]json.RawMessage
		if json.Unmarshal(body, &fields) == nil {
			for k, raw := range fields {
				var s string
				if json.Unmarshal(raw, &s) == nil {
					params[k] = s
				} else {
					params[k] = string(raw)
				}
			}
		}
		return op, params, "json"
	}
	if strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		form, err := url.ParseQuery(string(body))
		if err == nil && form.Get("Action") != "" {
			for k, v := range form {
				params[k] = v[0]
			}
			return form.Get("Action"), params, "query"
		}
	}
	return req.Method + " " + req.URL.Path, params, "rest"
}

func matches(want, got map[string]string) bool {
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}
