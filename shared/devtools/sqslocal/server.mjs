// Launcher for the local-aws-sqs emulator (npm package, pinned in the module
// root's package.json). The package ships a library only (createSqsServer,
// createRequestHandler), no executable, so shared/devtools/sqslocal starts this
// file with node:
//
//   node shared/devtools/sqslocal/server.mjs --port 0 --host 127.0.0.1 \
//     [--region us-east-1] [--account-id 123456789012] [--watch-stdin]
//
// --port 0 picks a free port. Once listening, it prints exactly one line to
// stdout, starting with "sqslocal ready " and followed by a JSON object:
//
//   sqslocal ready {"endpoint":"http://127.0.0.1:41234","port":41234,"pid":123,"version":"2.0.2"}
//
// It exits on SIGINT or SIGTERM and, with --watch-stdin, when its stdin reaches
// end of file: the Go parent keeps a pipe open, so the emulator never outlives
// its parent even when the parent is killed without a chance to clean up.
import { AsyncLocalStorage } from "node:async_hooks";
import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

const require = createRequire(import.meta.url);
// local-aws-sqs is CommonJS bundled by esbuild; require() gives its exports reliably.
const { createRequestHandler } = require("local-aws-sqs");
const { version } = JSON.parse(readFileSync(require.resolve("local-aws-sqs/package.json"), "utf8"));

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "0" },
    host: { type: "string", default: "127.0.0.1" },
    region: { type: "string", default: "us-east-1" },
    "account-id": { type: "string", default: "123456789012" },
    "watch-stdin": { type: "boolean", default: false },
  },
  strict: true,
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`sqslocal: invalid --port ${values.port}`);
  process.exit(2);
}

// The emulator listens on a private port; clients talk to a thin proxy in
// front of it that corrects deviations from SQS that would mislead graphfleet's
// measurements and tests (see doc.go):
//   - a long poll returns as soon as any message is available, not only once
//     it holds MaxNumberOfMessages: the proxy turns it into short polls every
//     pollEveryMs until a message arrives or the wait is over (item 2);
//   - ApproximateNumberOfMessages counts visible messages only, as on SQS,
//     not visible plus in flight (item 3);
//   - receives are counted, and messages redriven, as on SQS (items 4 and 5):
//     see correctReceiveCounting below. This one is made on the emulator's
//     Queue objects rather than on the wire, so it holds for both protocols.
// Everything else passes through untouched.

// ---- Receive counting and redrive, as on SQS ----
//
// local-aws-sqs 2.0.2 counts every ChangeMessageVisibility as a receive (it
// bumps ApproximateReceiveCount, and sets ApproximateFirstReceiveTimestamp on a
// message never received), and redrives a message when a visibility timeout
// expires with the count at maxReceiveCount or more, without any receive. SQS
// counts only the ReceiveMessage calls that return the message and moves it to
// the dead-letter queue on the receive after its maxReceiveCount-th, keeping
// its MessageId, body, attributes and (standard queues) enqueue time.
//
// A proxy on the wire cannot fix this honestly: it cannot stop the emulator's
// own redrive without hiding the RedrivePolicy from it (which breaks
// ListDeadLetterSourceQueues and StartMessageMoveTask), and it cannot move a
// message keeping its MessageId or DeadLetterQueueSourceArn. So the emulator is
// built with createRequestHandler, which hands out its SqsService, and each
// Queue is adjusted as the service adds it (adoptQueue), through members its
// type declarations expose (and, read in the 2.0.2 source: a message record's
// attributes hold ApproximateReceiveCount, changeVisibility is synchronous,
// and the expiry-time redrive compares with RedrivePolicy.maxReceiveCount):
//   - newRecord: every message's ApproximateReceiveCount and
//     ApproximateFirstReceiveTimestamp ignore the writes made while
//     changeVisibility runs, so only receives count;
//   - RedrivePolicy: the emulator's expiry-time redrive reads maxReceiveCount
//     as Infinity, so it never fires; JSON.stringify (GetQueueAttributes,
//     CreateQueue's comparison) still sees the policy exactly as set, and
//     deadLetterTargetArn is unchanged for ListDeadLetterSourceQueues and
//     StartMessageMoveTask;
//   - receive: a message it returns with a count above maxReceiveCount is moved
//     to the dead-letter queue instead, the way the emulator itself moves one
//     (setRecord on the DLQ with the same MessageId, DeadLetterQueueSourceArn
//     and AWSTraceHeader), keeping SentTimestamp on standard queues; the
//     receive then looks again for the slots such messages took;
//   - startMessageMoveTask: a move task's own receives are not redriven.
// adoptQueue checks the members it relies on and refuses the queue (the
// CreateQueue call fails with the reason) if an emulator upgrade changed them.

// changingVisibility is true while the emulator's changeVisibility runs: it is
// synchronous, and the only caller that is not a receive.
let changingVisibility = false;
// movingMessages holds true inside a message move task (its timers inherit it).
const movingMessages = new AsyncLocalStorage();
const arnOf = (service, queueName) => `arn:aws:sqs:${service.REGION}:${service.ACCOUNT_ID}:${queueName}`;

function correctReceiveCounting(service) {
  if (!Array.isArray(service?.Queues) || !(service.deletingQueues instanceof Set)) {
    throw new Error("local-aws-sqs: unexpected SqsService shape; the receive-count correction in server.mjs needs updating");
  }
  const queues = service.Queues;
  const push = queues.push;
  queues.push = function (...added) {
    for (const q of added) adoptQueue(service, q);
    return push.apply(this, added);
  };
  for (const q of queues) adoptQueue(service, q);
}

function adoptQueue(service, queue) {
  const unexpected = (what) =>
    new Error(`sqslocal: local-aws-sqs ${what}; the receive-count correction in server.mjs needs updating, so queue ${queue?.QueueName} is refused`);
  for (const m of ["newRecord", "setRecord", "receive", "changeVisibility", "delete", "startMessageMoveTask"]) {
    if (typeof queue?.[m] !== "function") throw unexpected(`Queue has no ${m}()`);
  }
  const own = Object.getOwnPropertyDescriptor(queue, "RedrivePolicy");
  if (!own || !("value" in own) || !own.configurable) throw unexpected("Queue.RedrivePolicy is not a plain property");

  // Only receives count.
  const newRecord = queue.newRecord;
  queue.newRecord = (record, delay) => {
    const entry = newRecord(record, delay);
    countReceivesOnly(entry?.record?.attributes, unexpected);
    return entry;
  };
  const changeVisibility = queue.changeVisibility;
  queue.changeVisibility = function (...args) {
    changingVisibility = true;
    try {
      return changeVisibility.apply(this, args);
    } finally {
      changingVisibility = false;
    }
  };

  // The emulator never redrives on its own; the front does, on the receive.
  let policy = own.value, shielded;
  const shield = (p) => ({ deadLetterTargetArn: p.deadLetterTargetArn, maxReceiveCount: Infinity, toJSON: () => p });
  Object.defineProperty(queue, "RedrivePolicy", {
    enumerable: own.enumerable,
    configurable: true,
    get: () => (policy ? (shielded ??= shield(policy)) : policy),
    set: (v) => {
      policy = v;
      shielded = undefined;
    },
  });

  const receive = queue.receive;
  queue.receive = async function (params = {}) {
    let got = await receive.call(this, params);
    if (!policy || movingMessages.getStore()) return got;
    const max = Number(policy.maxReceiveCount);
    const wanted = Math.max(1, Number(params.MaxNumberOfMessages ?? 1) || 1);
    const kept = [];
    for (;;) {
      let moved = 0;
      for (const m of got) {
        if (Number(m.attributes?.ApproximateReceiveCount) > max && deadLetter(service, queue, policy, m)) moved++;
        else kept.push(m);
      }
      if (moved === 0 || kept.length >= wanted) return kept;
      // SQS does not spend a slot of the response on a message it moves:
      // look once more, without waiting, for what those slots would hold.
      got = await receive.call(this, { ...params, MaxNumberOfMessages: wanted - kept.length, WaitTimeSeconds: 0 });
    }
  };

  const startMessageMoveTask = queue.startMessageMoveTask;
  queue.startMessageMoveTask = function (...args) {
    return movingMessages.run(true, () => startMessageMoveTask.apply(this, args));
  };
}

// countReceivesOnly makes a message's receive count and first receive time
// ignore what changeVisibility writes.
function countReceivesOnly(attributes, unexpected) {
  if (!attributes || typeof attributes.ApproximateReceiveCount !== "string") {
    throw unexpected("message records have no ApproximateReceiveCount");
  }
  for (const name of ["ApproximateReceiveCount", "ApproximateFirstReceiveTimestamp"]) {
    let value = attributes[name];
    Object.defineProperty(attributes, name, {
      enumerable: true,
      configurable: true,
      get: () => value,
      set: (v) => {
        if (!changingVisibility) value = v;
      },
    });
  }
}

// deadLetter moves message m, just returned by a receive on queue, to the
// queue's dead-letter queue and reports whether it did. A DLQ that no longer
// exists leaves the message where it is (the emulator would drop it).
function deadLetter(service, queue, policy, m) {
  const name = String(policy.deadLetterTargetArn).split(":").pop();
  const dlq = service.Queues.find((q) => q.QueueName === name);
  if (!dlq || service.deletingQueues.has(name)) {
    console.error(`sqslocal: ${queue.QueueName}: dead-letter queue ${name} does not exist; message ${m.MessageId} stays`);
    return false;
  }
  const a = m.attributes;
  const system = { DeadLetterQueueSourceArn: { DataType: "String", StringValue: arnOf(service, queue.QueueName) } };
  if (a.AWSTraceHeader) system.AWSTraceHeader = { DataType: "String", StringValue: a.AWSTraceHeader };
  const entry = dlq.setRecord(
    {
      MessageBody: m.MessageBody,
      MessageAttributes: m.MessageAttributes,
      MessageSystemAttributes: system,
      MessageGroupId: a.MessageGroupId,
      MessageDeduplicationId: a.MessageDeduplicationId,
    },
    m.MessageId,
  );
  // Standard queues keep the enqueue time in the DLQ; FIFO queues reset it.
  if (!queue.FifoQueue && entry?.record?.attributes && a.SentTimestamp) entry.record.attributes.SentTimestamp = a.SentTimestamp;
  queue.delete(m.ReceiptHandle);
  return true;
}

let service, emulator;
try {
  let requestHandler;
  ({ service, requestHandler } = createRequestHandler({
    port: 0,
    hostname: "127.0.0.1",
    region: values.region,
    accountId: values["account-id"],
  }));
  correctReceiveCounting(service);
  // What createSqsServer does, keeping the service.
  emulator = http.createServer(requestHandler);
  await new Promise((resolve, reject) => {
    emulator.once("error", reject);
    emulator.listen(0, "127.0.0.1", resolve);
  });
  service.PORT = emulator.address().port;
} catch (err) {
  console.error(`sqslocal: cannot start local-aws-sqs: ${err?.stack ?? err}`);
  process.exit(1);
}
const emulatorPort = emulator.address().port;
const pollEveryMs = 20;

// forward sends one request to the emulator and buffers its answer.
function forward(req, body) {
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, "content-length": String(body.length) };
    const out = http.request(
      { host: "127.0.0.1", port: emulatorPort, method: req.method, path: req.url, headers },
      (res) => {
        const chunks = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
        res.on("error", reject);
      },
    );
    out.on("error", reject);
    out.end(body);
  });
}

// The emulator writes queue URLs with its own private port; clients must see
// the proxy's.
let emulatorPrefix, publicPrefix;

function reply(res, r, body = r.body) {
  if (publicPrefix && body.includes(emulatorPrefix)) {
    body = Buffer.from(body.toString("utf8").replaceAll(emulatorPrefix, publicPrefix));
  }
  const headers = { ...r.headers, "content-length": String(body.length) };
  delete headers["transfer-encoding"];
  res.writeHead(r.status, headers);
  res.end(body);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function receive(req, res, body) {
  let input;
  try {
    input = JSON.parse(body.toString("utf8"));
  } catch {
    return reply(res, await forward(req, body));
  }
  const wait = Number(input.WaitTimeSeconds ?? 0);
  if (!(wait > 0)) return reply(res, await forward(req, body));
  const short = Buffer.from(JSON.stringify({ ...input, WaitTimeSeconds: 0 }));
  const deadline = Date.now() + wait * 1000;
  let gone = false;
  res.on("close", () => { gone = true; });
  for (;;) {
    const r = await forward(req, short);
    let n = 0;
    if (r.status === 200) {
      try { n = JSON.parse(r.body.toString("utf8")).Messages?.length ?? 0; } catch { n = 0; }
    }
    if (r.status !== 200 || n > 0 || gone || Date.now() + pollEveryMs >= deadline) return reply(res, r);
    await sleep(pollEveryMs);
  }
}

async function attributes(req, res, body) {
  let input;
  try {
    input = JSON.parse(body.toString("utf8"));
  } catch {
    return reply(res, await forward(req, body));
  }
  const names = input.AttributeNames ?? [];
  const all = names.includes("All");
  const visible = "ApproximateNumberOfMessages", inFlight = "ApproximateNumberOfMessagesNotVisible";
  if (!all && !names.includes(visible)) return reply(res, await forward(req, body));
  const asked = all ? names : [...new Set([...names, inFlight])];
  const r = await forward(req, Buffer.from(JSON.stringify({ ...input, AttributeNames: asked })));
  if (r.status !== 200) return reply(res, r);
  let out;
  try { out = JSON.parse(r.body.toString("utf8")); } catch { return reply(res, r); }
  const a = out.Attributes ?? {};
  if (a[visible] !== undefined && a[inFlight] !== undefined) {
    a[visible] = String(Math.max(0, Number(a[visible]) - Number(a[inFlight])));
    if (!all && !names.includes(inFlight)) delete a[inFlight];
  }
  return reply(res, r, Buffer.from(JSON.stringify(out)));
}

const server = http.createServer(async (req, res) => {
  try {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    switch (req.headers["x-amz-target"]) {
      case "AmazonSQS.ReceiveMessage":
        return await receive(req, res, body);
      case "AmazonSQS.GetQueueAttributes":
        return await attributes(req, res, body);
      default:
        return reply(res, await forward(req, body));
    }
  } catch (err) {
    if (!res.headersSent) {
      res.writeHead(502, { "content-type": "text/plain" });
    }
    res.end(`sqslocal proxy: ${err?.message ?? err}`);
  }
});
server.keepAliveTimeout = 65_000;
await new Promise((resolve, reject) => {
  server.once("error", reject);
  server.listen(port, values.host, resolve);
});
server.on("error", (err) => {
  console.error(`sqslocal: server error: ${err?.stack ?? err}`);
  process.exit(1);
});
emulator.on("error", (err) => {
  console.error(`sqslocal: emulator error: ${err?.stack ?? err}`);
  process.exit(1);
});

const address = server.address();
const actualPort = typeof address === "object" && address ? address.port : port;
const endpoint = `http://${values.host}:${actualPort}`;
emulatorPrefix = `http://127.0.0.1:${emulatorPort}/`;
publicPrefix = `${endpoint}/`;
process.stdout.write(`sqslocal ready ${JSON.stringify({ endpoint, port: actualPort, pid: process.pid, version })}\n`);

let stopping = false;
const stop = (why) => {
  if (stopping) return;
  stopping = true;
  console.error(`sqslocal: stopping (${why})`);
  // Pending long polls hold connections open; do not wait for them.
  server.closeAllConnections?.();
  emulator.closeAllConnections?.();
  emulator.close();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
if (values["watch-stdin"]) {
  process.stdin.on("end", () => stop("stdin closed"));
  process.stdin.on("error", () => stop("stdin error"));
  process.stdin.resume();
}
