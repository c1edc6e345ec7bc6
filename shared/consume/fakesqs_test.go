package consume_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/graphfleet/graphfleet/shared/backoff"
	"github.com/graphfleet/graphfleet/shared/consume"
)

// fakeSQS is an in-memory SQS with one ingest queue and its dead-letter
// queue, for tests inside a synctest bubble: a long poll waits on channels and
// timers, so fake time advances through it, and nothing touches the network.
//
// It keeps the semantics the consumer relies on: a receive makes what it
// returns invisible for the visibility timeout and counts a receive (a
// visibility change never does); every receive gives a fresh receipt handle
// and the older ones stop working (ReceiptHandleIsInvalid, a sender fault); a
// receive that finds a message already received maxReceiveCount times moves it
// to the DLQ (the redrive, which records no reason) instead of returning it.
//
// Faults are injected through the fields under "faults"; every call is counted
// and logged with its fake start and end times.
type fakeSQS struct {
	mu         sync.Mutex
	maxReceive int           // the RedrivePolicy's maxReceiveCount
	defaultVis time.Duration // the queue's own visibility timeout
	msgs       []*fakeMsg    // the ingest queue, in send order; deleted ones stay for inspection
	byReceipt  map[string]*fakeMsg
	dlq        []DLQMsg
	changed    chan struct{} // closed and replaced when a message may have become visible
	seq        int
	calls      map[string]int
	log        []fakeCall
	inFlight   int // most ingest messages in flight at once, as seen after each receive

	// faults
	failDLQSends      int            // DLQ SendMessage calls left to fail (InternalError)
	failDeleteCalls   int            // DeleteMessageBatch calls left to fail as a whole
	failDeleteEntries map[string]int // by message id: delete entries left to fail (InternalError, not a sender fault)
	// slowResponse, when set, delays a call's answer after its effect has
	// taken place (a slow network on the way back).
	slowResponse func(api string, in any) time.Duration
}

type fakeMsg struct {
	id, body     string
	attrs        map[string]types.MessageAttributeValue
	traceHeader  string
	sentAt       time.Time
	receiveCount int
	receipt      string // the valid receipt handle, "" until received
	visibleAt    time.Time
	deleted      int // successful deletes with a valid handle
	gone         bool
	redriven     bool
}

// DLQMsg is a message in the dead-letter queue.
type DLQMsg struct {
	ID, Body    string
	Attributes  map[string]string
	TraceHeader string
	Redriven    bool // moved by the queue's redrive, not sent by the worker
	At          time.Time
}

// fakeCall is one API call as the fake saw it.
type fakeCall struct {
	API        string
	Start, End time.Time
	Returned   int     // messages returned by a receive
	Visibility []int32 // the entries' timeouts of a ChangeMessageVisibilityBatch
	Err        error
}

const (
	fakeAccount  = "123456789012"
	fakeIngest   = "ingest"
	fakeDLQ      = "ingest-dlq"
	fakeEndpoint = "https://sqs.us-east-1.amazonaws.com/" + fakeAccount + "/"
	ingestURL    = fakeEndpoint + fakeIngest
	dlqURL       = fakeEndpoint + fakeDLQ
)

var _ consume.SQS = (*fakeSQS)(nil)

func newFakeSQS(maxReceive int) *fakeSQS {
	return &fakeSQS{
		maxReceive:        maxReceive,
		defaultVis:        30 * time.Second,
		byReceipt:         map[string]*fakeMsg{},
		changed:           make(chan struct{}),
		calls:             map[string]int{},
		failDeleteEntries: map[string]int{},
	}
}

func apiError(code, msg string, fault smithy.ErrorFault) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: fault}
}

func (f *fakeSQS) wakeLocked() {
	close(f.changed)
	f.changed = make(chan struct{})
}

// begin counts a call; the returned function logs it when it ends.
func (f *fakeSQS) begin(api string) func(c fakeCall) {
	start := time.Now()
	f.mu.Lock()
	f.calls[api]++
	f.mu.Unlock()
	return func(c fakeCall) {
		c.API, c.Start, c.End = api, start, time.Now()
		f.mu.Lock()
		f.log = append(f.log, c)
		f.mu.Unlock()
	}
}

func (f *fakeSQS) respond(ctx context.Context, api string, in any) error {
	if f.slowResponse == nil {
		return nil
	}
	d := f.slowResponse(api, in)
	if d <= 0 {
		return nil
	}
	return backoff.Sleep(ctx, d)
}

// add puts a message in the ingest queue, as a producer would.
func (f *fakeSQS) add(body string, attrs map[string]string, traceHeader string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	mav := make(map[string]types.MessageAttributeValue, len(attrs))
	for k, v := range attrs {
		mav[k] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return f.addLocked(body, mav, traceHeader)
}

func (f *fakeSQS) addLocked(body string, attrs map[string]types.MessageAttributeValue, traceHeader string) string {
	f.seq++
	id := fmt.Sprintf("00000000-0000-4000-8000-%012d", f.seq)
	f.msgs = append(f.msgs, &fakeMsg{id: id, body: body, attrs: attrs, traceHeader: traceHeader, sentAt: time.Now(), visibleAt: time.Now()})
	f.wakeLocked()
	return id
}

// ReceiveMessage long-polls the ingest queue: it returns as soon as at least
// one message is visible, or empty once WaitTimeSeconds have passed.
func (f *fakeSQS) ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, _ ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	end := f.begin("ReceiveMessage")
	if aws.ToString(in.QueueUrl) != ingestURL {
		err := apiError("AWS.SimpleQueueService.NonExistentQueue", "the fake receives from the ingest queue only", smithy.FaultClient)
		end(fakeCall{Err: err})
		return nil, err
	}
	limit := in.MaxNumberOfMessages
	if limit == 0 {
		limit = 1
	}
	if limit < 1 || limit > 10 || in.WaitTimeSeconds < 0 || in.WaitTimeSeconds > 20 || in.VisibilityTimeout < 0 || in.VisibilityTimeout > 43200 {
		err := apiError("InvalidParameterValue", fmt.Sprintf("MaxNumberOfMessages %d, WaitTimeSeconds %d, VisibilityTimeout %d", limit, in.WaitTimeSeconds, in.VisibilityTimeout), smithy.FaultClient)
		end(fakeCall{Err: err})
		return nil, err
	}
	vis := f.defaultVis
	if in.VisibilityTimeout > 0 {
		vis = time.Duration(in.VisibilityTimeout) * time.Second
	}
	deadline := time.Now().Add(time.Duration(in.WaitTimeSeconds) * time.Second)
	for {
		now := time.Now()
		f.mu.Lock()
		got := f.takeLocked(now, int(limit), vis, in)
		if len(got) > 0 || !now.Before(deadline) {
			f.mu.Unlock()
			if err := f.respond(ctx, "ReceiveMessage", in); err != nil {
				// The messages were taken: lost on the way back, as a
				// receive cut off in flight loses them until their
				// visibility ends.
				end(fakeCall{Err: err})
				return nil, err
			}
			end(fakeCall{Returned: len(got)})
			return &sqs.ReceiveMessageOutput{Messages: got}, nil
		}
		changed := f.changed
		wake := deadline
		for _, m := range f.msgs {
			if !m.gone && m.visibleAt.After(now) && m.visibleAt.Before(wake) {
				wake = m.visibleAt
			}
		}
		f.mu.Unlock()
		t := time.NewTimer(wake.Sub(now))
		select {
		case <-changed:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			end(fakeCall{Err: ctx.Err()})
			return nil, fmt.Errorf("operation error SQS: ReceiveMessage, %w", ctx.Err())
		}
		t.Stop()
	}
}

func (f *fakeSQS) takeLocked(now time.Time, limit int, vis time.Duration, in *sqs.ReceiveMessageInput) []types.Message {
	var out []types.Message
	for _, m := range f.msgs {
		if len(out) == limit {
			break
		}
		if m.gone || m.visibleAt.After(now) {
			continue
		}
		if f.maxReceive > 0 && m.receiveCount >= f.maxReceive {
			// The redrive: moved as it is, without a reason.
			m.gone, m.redriven = true, true
			f.dlq = append(f.dlq, DLQMsg{ID: m.id, Body: m.body, Attributes: plain(m.attrs), TraceHeader: m.traceHeader, Redriven: true, At: now})
			continue
		}
		m.receiveCount++
		if m.receipt != "" {
			delete(f.byReceipt, m.receipt) // the old handle is no longer valid
		}
		m.receipt = fmt.Sprintf("rh-%s-%d", m.id, m.receiveCount)
		f.byReceipt[m.receipt] = m
		m.visibleAt = now.Add(vis)
		out = append(out, f.render(m, in))
	}
	n := 0
	for _, m := range f.msgs {
		if !m.gone && m.receiveCount > 0 && m.visibleAt.After(now) {
			n++
		}
	}
	f.inFlight = max(f.inFlight, n)
	return out
}

func (f *fakeSQS) render(m *fakeMsg, in *sqs.ReceiveMessageInput) types.Message {
	wantSys := func(name types.MessageSystemAttributeName) bool {
		for _, a := range in.MessageSystemAttributeNames {
			if a == types.MessageSystemAttributeNameAll || a == name {
				return true
			}
		}
		for _, a := range in.AttributeNames {
			if a == "All" || string(a) == string(name) {
				return true
			}
		}
		return false
	}
	sys := map[string]string{}
	if wantSys(types.MessageSystemAttributeNameSentTimestamp) {
		sys[string(types.MessageSystemAttributeNameSentTimestamp)] = strconv.FormatInt(m.sentAt.UnixMilli(), 10)
	}
	if wantSys(types.MessageSystemAttributeNameApproximateReceiveCount) {
		sys[string(types.MessageSystemAttributeNameApproximateReceiveCount)] = strconv.Itoa(m.receiveCount)
	}
	if m.traceHeader != "" && wantSys(types.MessageSystemAttributeNameAWSTraceHeader) {
		sys[string(types.MessageSystemAttributeNameAWSTraceHeader)] = m.traceHeader
	}
	attrs := map[string]types.MessageAttributeValue{}
	for name, v := range m.attrs {
		if slices.Contains(in.MessageAttributeNames, "All") || slices.Contains(in.MessageAttributeNames, ".*") || slices.Contains(in.MessageAttributeNames, name) {
			attrs[name] = v
		}
	}
	return types.Message{
		MessageId: aws.String(m.id), ReceiptHandle: aws.String(m.receipt), Body: aws.String(m.body),
		Attributes: sys, MessageAttributes: attrs,
	}
}

func plain(attrs map[string]types.MessageAttributeValue) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		out[k] = aws.ToString(v.StringValue)
	}
	return out
}

// lookupLocked finds the message a receipt handle names, or the batch error
// entry SQS gives for it.
func (f *fakeSQS) lookupLocked(id, receipt string) (*fakeMsg, *types.BatchResultErrorEntry) {
	m := f.byReceipt[receipt]
	if m == nil || m.receipt != receipt {
		return nil, &types.BatchResultErrorEntry{Id: aws.String(id), Code: aws.String("ReceiptHandleIsInvalid"), SenderFault: true,
			Message: aws.String("The input receipt handle " + receipt + " is not a valid receipt handle.")}
	}
	return m, nil
}

func checkBatch[E any](n int, id func(E) string, entries []E) error {
	if n == 0 {
		return apiError("AWS.SimpleQueueService.EmptyBatchRequest", "no entries", smithy.FaultClient)
	}
	if n > 10 {
		return apiError("AWS.SimpleQueueService.TooManyEntriesInBatchRequest", "more than 10 entries", smithy.FaultClient)
	}
	seen := map[string]bool{}
	for _, e := range entries {
		if seen[id(e)] {
			return apiError("AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "ids not distinct", smithy.FaultClient)
		}
		seen[id(e)] = true
	}
	return nil
}

func (f *fakeSQS) DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error) {
	end := f.begin("DeleteMessageBatch")
	if aws.ToString(in.QueueUrl) != ingestURL {
		err := apiError("AWS.SimpleQueueService.NonExistentQueue", "unknown queue", smithy.FaultClient)
		end(fakeCall{Err: err})
		return nil, err
	}
	if err := checkBatch(len(in.Entries), func(e types.DeleteMessageBatchRequestEntry) string { return aws.ToString(e.Id) }, in.Entries); err != nil {
		end(fakeCall{Err: err})
		return nil, err
	}
	f.mu.Lock()
	if f.failDeleteCalls > 0 {
		f.failDeleteCalls--
		f.mu.Unlock()
		err := apiError("InternalError", "injected: the whole DeleteMessageBatch call fails", smithy.FaultServer)
		end(fakeCall{Err: err})
		return nil, err
	}
	out := &sqs.DeleteMessageBatchOutput{}
	for _, e := range in.Entries {
		m, bad := f.lookupLocked(aws.ToString(e.Id), aws.ToString(e.ReceiptHandle))
		switch {
		case bad != nil:
			out.Failed = append(out.Failed, *bad)
		case f.failDeleteEntries[m.id] > 0:
			f.failDeleteEntries[m.id]--
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), SenderFault: false, Message: aws.String("injected")})
		default:
			// Deleting with the valid handle of a message deleted already
			// succeeds again, as in SQS.
			m.deleted++
			m.gone = true
			out.Successful = append(out.Successful, types.DeleteMessageBatchResultEntry{Id: e.Id})
		}
	}
	f.mu.Unlock()
	err := f.respond(ctx, "DeleteMessageBatch", in)
	end(fakeCall{Err: err})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (f *fakeSQS) ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, _ ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error) {
	end := f.begin("ChangeMessageVisibilityBatch")
	vis := make([]int32, len(in.Entries))
	for i, e := range in.Entries {
		vis[i] = e.VisibilityTimeout
	}
	if aws.ToString(in.QueueUrl) != ingestURL {
		err := apiError("AWS.SimpleQueueService.NonExistentQueue", "unknown queue", smithy.FaultClient)
		end(fakeCall{Visibility: vis, Err: err})
		return nil, err
	}
	if err := checkBatch(len(in.Entries), func(e types.ChangeMessageVisibilityBatchRequestEntry) string { return aws.ToString(e.Id) }, in.Entries); err != nil {
		end(fakeCall{Visibility: vis, Err: err})
		return nil, err
	}
	now := time.Now()
	out := &sqs.ChangeMessageVisibilityBatchOutput{}
	f.mu.Lock()
	for _, e := range in.Entries {
		m, bad := f.lookupLocked(aws.ToString(e.Id), aws.ToString(e.ReceiptHandle))
		switch {
		case bad != nil:
			out.Failed = append(out.Failed, *bad)
		case m.gone:
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("ReceiptHandleIsInvalid"), SenderFault: true, Message: aws.String("deleted")})
		case !m.visibleAt.After(now):
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("AWS.SimpleQueueService.MessageNotInflight"), SenderFault: true, Message: aws.String("not in flight")})
		case e.VisibilityTimeout < 0 || e.VisibilityTimeout > 43200:
			out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidParameterValue"), SenderFault: true})
		default:
			m.visibleAt = now.Add(time.Duration(e.VisibilityTimeout) * time.Second)
			out.Successful = append(out.Successful, types.ChangeMessageVisibilityBatchResultEntry{Id: e.Id})
		}
	}
	f.wakeLocked()
	f.mu.Unlock()
	err := f.respond(ctx, "ChangeMessageVisibilityBatch", in)
	end(fakeCall{Visibility: vis, Err: err})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (f *fakeSQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	end := f.begin("SendMessage")
	url := aws.ToString(in.QueueUrl)
	if url != ingestURL && url != dlqURL {
		err := apiError("AWS.SimpleQueueService.NonExistentQueue", "unknown queue", smithy.FaultClient)
		end(fakeCall{Err: err})
		return nil, err
	}
	if aws.ToString(in.MessageBody) == "" {
		err := apiError("MissingParameter", "empty body", smithy.FaultClient)
		end(fakeCall{Err: err})
		return nil, err
	}
	if len(in.MessageAttributes) > 10 {
		err := apiError("InvalidParameterValue", "more than 10 message attributes", smithy.FaultClient)
		end(fakeCall{Err: err})
		return nil, err
	}
	for name, v := range in.MessageAttributes {
		if name == "" || aws.ToString(v.DataType) == "" || (v.StringValue != nil && *v.StringValue == "") {
			err := apiError("InvalidParameterValue", "message attribute "+name+" is empty or has no type", smithy.FaultClient)
			end(fakeCall{Err: err})
			return nil, err
		}
	}
	trace := ""
	if v, ok := in.MessageSystemAttributes[string(types.MessageSystemAttributeNameAWSTraceHeader)]; ok {
		trace = aws.ToString(v.StringValue)
	}
	f.mu.Lock()
	var id string
	if url == dlqURL {
		if f.failDLQSends > 0 {
			f.failDLQSends--
			f.mu.Unlock()
			err := apiError("InternalError", "injected: the DLQ refuses the message", smithy.FaultServer)
			end(fakeCall{Err: err})
			return nil, err
		}
		f.seq++
		id = fmt.Sprintf("dlq-%d", f.seq)
		f.dlq = append(f.dlq, DLQMsg{ID: id, Body: aws.ToString(in.MessageBody), Attributes: plain(in.MessageAttributes), TraceHeader: trace, At: time.Now()})
	} else {
		id = f.addLocked(aws.ToString(in.MessageBody), in.MessageAttributes, trace)
	}
	f.mu.Unlock()
	end(fakeCall{})
	return &sqs.SendMessageOutput{MessageId: aws.String(id)}, nil
}

func (f *fakeSQS) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	end := f.begin("GetQueueAttributes")
	defer end(fakeCall{})
	switch aws.ToString(in.QueueUrl) {
	case ingestURL:
		attrs := map[string]string{}
		if f.maxReceive > 0 {
			attrs[string(types.QueueAttributeNameRedrivePolicy)] = fmt.Sprintf(`{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:%s:%s","maxReceiveCount":%d}`, fakeAccount, fakeDLQ, f.maxReceive)
		}
		return &sqs.GetQueueAttributesOutput{Attributes: attrs}, nil
	case dlqURL:
		return &sqs.GetQueueAttributesOutput{Attributes: map[string]string{}}, nil
	}
	return nil, apiError("AWS.SimpleQueueService.NonExistentQueue", "unknown queue", smithy.FaultClient)
}

func (f *fakeSQS) GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	end := f.begin("GetQueueUrl")
	defer end(fakeCall{})
	if owner := aws.ToString(in.QueueOwnerAWSAccountId); owner != "" && owner != fakeAccount {
		return nil, apiError("AWS.SimpleQueueService.NonExistentQueue", "no such queue in account "+owner, smithy.FaultClient)
	}
	switch aws.ToString(in.QueueName) {
	case fakeIngest:
		return &sqs.GetQueueUrlOutput{QueueUrl: aws.String(ingestURL)}, nil
	case fakeDLQ:
		return &sqs.GetQueueUrlOutput{QueueUrl: aws.String(dlqURL)}, nil
	}
	return nil, apiError("AWS.SimpleQueueService.NonExistentQueue", "no such queue", smithy.FaultClient)
}

// --- inspection ---

// MsgState is one ingest message as the fake sees it now.
type MsgState struct {
	ID, Body     string
	Attributes   map[string]string
	TraceHeader  string
	ReceiveCount int
	InFlight     bool // received and still invisible
	Visible      bool // in the queue and receivable now
	Deleted      int  // successful deletes
	Redriven     bool
	Gone         bool
}

func (f *fakeSQS) state(m *fakeMsg, now time.Time) MsgState {
	return MsgState{
		ID: m.id, Body: m.body, Attributes: plain(m.attrs), TraceHeader: m.traceHeader, ReceiveCount: m.receiveCount,
		InFlight: !m.gone && m.receiveCount > 0 && m.visibleAt.After(now),
		Visible:  !m.gone && !m.visibleAt.After(now),
		Deleted:  m.deleted, Redriven: m.redriven, Gone: m.gone,
	}
}

// Messages is every message ever sent to the ingest queue, deleted ones too.
func (f *fakeSQS) Messages() []MsgState {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	out := make([]MsgState, len(f.msgs))
	for i, m := range f.msgs {
		out[i] = f.state(m, now)
	}
	return out
}

// Msg is one ingest message by id.
func (f *fakeSQS) Msg(id string) MsgState {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.id == id {
			return f.state(m, time.Now())
		}
	}
	panic("no message " + id)
}

// Counts is how many ingest messages are visible, in flight, and gone.
func (f *fakeSQS) Counts() (visible, inFlight, gone int) {
	for _, m := range f.Messages() {
		switch {
		case m.Gone:
			gone++
		case m.InFlight:
			inFlight++
		case m.Visible:
			visible++
		}
	}
	return
}

func (f *fakeSQS) DLQ() []DLQMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.dlq)
}

func (f *fakeSQS) Calls(api string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[api]
}

func (f *fakeSQS) Log() []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.log)
}

func (f *fakeSQS) MaxInFlight() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.inFlight
}

// receivedBefore records that a message was received n times elsewhere (by
// workers whose visibility timeouts ran out): it is visible with that count.
func (f *fakeSQS) receivedBefore(id string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.msgs {
		if m.id == id {
			m.receiveCount = n
			if m.receipt != "" {
				delete(f.byReceipt, m.receipt)
			}
			m.receipt = fmt.Sprintf("rh-%s-%d-elsewhere", m.id, n)
			f.byReceipt[m.receipt] = m
			return
		}
	}
	panic("no message " + id)
}

func (f *fakeSQS) set(fn func(f *fakeSQS)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// The fake is only worth what its semantics are: these check the ones the
// consumer's tests rely on.
func TestFakeSQS(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		f := newFakeSQS(2)
		recv := func(wait int32) []types.Message {
			t.Helper()
			out, err := f.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(ingestURL), MaxNumberOfMessages: 10,
				WaitTimeSeconds: wait, VisibilityTimeout: 5, AttributeNames: []types.QueueAttributeName{"All"}, MessageAttributeNames: []string{"All"}})
			if err != nil {
				t.Fatal(err)
			}
			return out.Messages
		}

		start := time.Now()
		if got := recv(3); len(got) != 0 || time.Since(start) != 3*time.Second {
			t.Fatalf("an empty long poll returned %d messages after %s; want none after 3s", len(got), time.Since(start))
		}
		go func() { time.Sleep(time.Second); f.add("late", map[string]string{"a": "b"}, "Root=1") }()
		start = time.Now()
		got := recv(10)
		if len(got) != 1 || time.Since(start) != time.Second {
			t.Fatalf("a long poll returned %d messages after %s; want the one sent after 1s, at once", len(got), time.Since(start))
		}
		m := got[0]
		if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] == "" || m.Attributes["AWSTraceHeader"] != "Root=1" ||
			aws.ToString(m.MessageAttributes["a"].StringValue) != "b" {
			t.Fatalf("attributes %v, message attributes %v", m.Attributes, m.MessageAttributes)
		}
		if got := recv(1); len(got) != 0 {
			t.Fatal("a message in flight was received")
		}
		// A visibility change is not a receive.
		cv, err := f.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(ingestURL),
			Entries: []types.ChangeMessageVisibilityBatchRequestEntry{{Id: aws.String("0"), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0}}})
		if err != nil || len(cv.Failed) != 0 {
			t.Fatalf("release: %v %v", err, cv)
		}
		start = time.Now()
		again := recv(20)
		if len(again) != 1 || time.Since(start) != 0 || again[0].Attributes["ApproximateReceiveCount"] != "2" {
			t.Fatalf("after a release: %d messages after %s, %v", len(again), time.Since(start), again)
		}
		// The first receipt handle is stale now.
		del, err := f.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(ingestURL),
			Entries: []types.DeleteMessageBatchRequestEntry{{Id: aws.String("0"), ReceiptHandle: m.ReceiptHandle}}})
		if err != nil || len(del.Failed) != 1 || aws.ToString(del.Failed[0].Code) != "ReceiptHandleIsInvalid" || !del.Failed[0].SenderFault {
			t.Fatalf("delete with a stale handle: %v %+v", err, del)
		}
		// The visibility timeout runs out during the long poll, which finds
		// the message at its maxReceiveCount and moves it instead.
		third := recv(20)
		if len(third) != 0 {
			t.Fatalf("the redrive: %d messages returned; want none", len(third))
		}
		if dlq := f.DLQ(); len(dlq) != 1 || !dlq[0].Redriven || dlq[0].Body != "late" || dlq[0].Attributes["a"] != "b" {
			t.Fatalf("DLQ %+v; want the message moved by the redrive after two receives", dlq)
		}
		if st := f.Msg(aws.ToString(m.MessageId)); !st.Redriven || st.ReceiveCount != 2 {
			t.Fatalf("message %+v", st)
		}
		if f.Calls("ReceiveMessage") != 5 || f.Calls("DeleteMessageBatch") != 1 {
			t.Fatalf("calls %v", f.calls)
		}
	})
}
