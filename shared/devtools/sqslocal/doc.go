// Package sqslocal runs an Amazon SQS emulator for graphfleet's tests and
// local runs, and creates the project's queues on it (or on any SQS).
//
// The emulator is the npm package local-aws-sqs, pinned in the module root's
// package.json (install it with `npm ci` at the module root; node_modules is
// not committed). The package is a library with no executable, so Start runs
// shared/devtools/sqslocal/server.mjs with node: it binds 127.0.0.1 (port 0 picks a
// free port), prints one "sqslocal ready {json}" line, and exits on SIGTERM or
// when its stdin closes, so it never outlives the Go process. Start then polls
// ListQueues until the emulator answers. It speaks the JSON protocol that
// aws-sdk-go-v2 uses. Clients talk to a front in server.mjs that corrects
// items 2 to 5 of the list below.
//
//	srv := sqslocal.StartT(t)              // tests: fails the test on error, Close in t.Cleanup
//	client := srv.Client(ctx)              // static dummy credentials, us-east-1, BaseEndpoint
//	q, err := sqslocal.CreateQueues(ctx, client, "graphfleet")
//	// q.Ingest, q.DLQ, q.Replay are queue URLs; q.IngestARN etc. their ARNs
//
// From a shell: go run ./shared/devtools/sqslocal/cmd/sqslocal -listen 127.0.0.1:9324 -queues graphfleet
//
// CreateQueues makes <prefix>-ingest, <prefix>-dlq and <prefix>-replay:
// MaximumMessageSize 1,048,576, VisibilityTimeout 30 s, ingest and replay
// redriving to the DLQ after 5 receives, and the DLQ's RedriveAllowPolicy
// (byQueue) listing exactly those two, mirroring what deploy/ecs creates.
//
// # Where local-aws-sqs 2.0.2 differs from Amazon SQS
//
// Found by reading its source and pinned by the tests in deviations_test.go
// (items 1 to 9) or seen in its source only (10 onwards). Code that also runs
// on AWS must not depend on any of them; several hide bugs locally.
//
//  1. System attributes (SentTimestamp, ApproximateReceiveCount,
//     ApproximateFirstReceiveTimestamp, AWSTraceHeader,
//     DeadLetterQueueSourceArn, ...) come back only when asked through the
//     deprecated ReceiveMessageInput.AttributeNames;
//     MessageSystemAttributeNames is ignored. Ask through both: real SQS
//     honours either.
//  2. A long poll (WaitTimeSeconds > 0) ends early only once it holds
//     MaxNumberOfMessages messages; SQS returns as soon as any is available.
//     CORRECTED by server.mjs: clients talk to a proxy that turns a long poll
//     into short polls every 20 ms until a message arrives or the wait ends,
//     so local latency figures mean what they would on SQS
//     (TestLongPollReturnsOnceAMessageArrives).
//  3. ApproximateNumberOfMessages counts in-flight messages as well as
//     visible ones. CORRECTED by the same proxy, which subtracts
//     ApproximateNumberOfMessagesNotVisible, so depth-driven logic sees what
//     SQS would report (TestApproximateNumberOfMessagesCountsVisibleOnly).
//  4. ChangeMessageVisibility counts as a receive: every call, single or
//     batch, to any timeout including 0, increments ApproximateReceiveCount
//     (and sets ApproximateFirstReceiveTimestamp on a message never
//     received), so heartbeats use up maxReceiveCount and receive counts read
//     locally are inflated. CORRECTED by server.mjs, which adjusts the
//     emulator's queue objects in its own process (so for the query protocol
//     too): only a ReceiveMessage that returns the message counts, as on SQS,
//     and heartbeats never lead to the DLQ (TestChangeVisibilityIsNotAReceive,
//     TestHeartbeatsNeverRedrive, TestChangeVisibilityIsNotAReceiveQueryProtocol).
//     Not corrected: ChangeMessageVisibility on a message that is not in
//     flight succeeds and hides it; SQS answers MessageNotInflight
//     (TestDeviationChangeVisibilityNotInFlight).
//  5. Redrive happens when a visibility timeout expires with the receive
//     count at maxReceiveCount or more (that of the maxReceiveCount-th
//     receive, or of any visibility change after it: a release with timeout 0
//     moves the message at once), with no further ReceiveMessage, and the
//     moved message gets a new SentTimestamp. CORRECTED by server.mjs: the
//     emulator's own redrive is disabled, and a ReceiveMessage that would
//     return a message already received maxReceiveCount times moves it to the
//     DLQ instead, as SQS does. It is not returned, the receive looks again
//     for other messages, and in the DLQ it keeps its MessageId, body,
//     message attributes, AWSTraceHeader and (standard queues) SentTimestamp
//     and gains DeadLetterQueueSourceArn. So a message received
//     maxReceiveCount times and released stays visible in the source until
//     the next receive, and with no consumer it never moves
//     (TestRedriveOnTheReceiveAfterMaxReceiveCount,
//     TestRedriveLeavesOtherMessagesToTheReceive, TestRedriveToDLQ). The
//     RedrivePolicy reads back as set. Not corrected: in the DLQ the receive
//     count and ApproximateFirstReceiveTimestamp start again (SQS documents
//     ApproximateReceiveCount as counted across all queues), and the DLQ's
//     retention period counts from the move, whereas SQS expires a standard
//     queue's message by its original enqueue time
//     (TestDeviationRedriveRestartsReceiveCount).
//  6. StartMessageMoveTask re-sends each message: new MessageId, new
//     SentTimestamp, receive count from 0 (body, message attributes and
//     AWSTraceHeader are kept). Do not key replays on MessageId. The task
//     wakes once a second and moves up to MaxNumberOfMessagesPerSecond
//     (default 300) per wake-up; a task without DestinationArn fails with
//     CouldNotDetermineMessageSource on a message that was sent to the DLQ
//     directly rather than redriven, as on SQS, so such messages (the
//     worker's validation failures) can only be moved to a named
//     destination such as the replay queue.
//  7. The size limit counts JavaScript string length (UTF-16 code units), not
//     UTF-8 bytes: a 2,000-byte body of 1,000 "é" fits a 1,024-byte queue. SQS
//     counts bytes. The 1 MiB boundary for ASCII bodies is exact (1,048,576
//     accepted, 1,048,577 refused; attribute names, types and values count
//     too), so the producer's splitter must measure UTF-8 bytes itself.
//  8. A DLQ's RedriveAllowPolicy is validated but never enforced: any queue
//     can name the DLQ in its RedrivePolicy.
//  9. DeleteMessage with an outdated receipt handle (the message was received
//     again since) deletes the message. SQS answers success but keeps it, so
//     the message is processed again; locally such duplicates never appear.
//  10. ReceiveMessage returns messages in send order and a short poll
//     (WaitTimeSeconds 0) looks for about 40 ms and returns everything
//     visible up to MaxNumberOfMessages; SQS's short poll samples a subset of
//     servers and ordering is best effort. Do not depend on order or on a
//     short poll returning everything.
//  11. No authentication: any credentials and signature are accepted, and no
//     IAM policy, KMS or queue Policy is enforced.
//  12. PurgeQueue empties the queue 60 s after the call (SQS may take up to
//     60 s); within those 60 s the messages are still delivered. Do not use it
//     between test cases: create fresh queues instead.
//  13. There is no 12-hour cap on the total visibility time of one receive.
//
// Not deviations, but worth knowing: a deleted queue's name cannot be reused
// for 60 s, as on SQS (create fresh names in tests); the Go SDK omits a zero
// VisibilityTimeout or WaitTimeSeconds from ReceiveMessage (the queue's
// value applies; release with ChangeMessageVisibility 0 instead); a batch's
// total payload is limited to 1 MiB too (BatchRequestTooLong); AWSTraceHeader
// does not count toward the 10 message attributes.
package sqslocal
