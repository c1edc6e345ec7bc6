// Launcher for the local-aws-sqs emulator (npm package, pinned in the module
// root's package.json). The package ships a library only (createSqsServer),
// no executable, so shared/sqslocal starts this file with node:
//
//   node shared/sqslocal/server.mjs --port 0 --host 127.0.0.1 \
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
import { readFileSync } from "node:fs";
import http from "node:http";
import { createRequire } from "node:module";
import { parseArgs } from "node:util";

const require = createRequire(import.meta.url);
// local-aws-sqs is CommonJS bundled by esbuild; require() gives its exports reliably.
const { createSqsServer } = require("local-aws-sqs");
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
// front of it that corrects two deviations from SQS that would mislead
// graphfleet's measurements (see doc.go, items 2 and 3):
//   - a long poll returns as soon as any message is available, not only once
//     it holds MaxNumberOfMessages: the proxy turns it into short polls every
//     pollEveryMs until a message arrives or the wait is over;
//   - ApproximateNumberOfMessages counts visible messages only, as on SQS,
//     not visible plus in flight.
// Everything else passes through untouched.
let emulator;
try {
  emulator = await createSqsServer({
    port: 0,
    hostname: "127.0.0.1",
    region: values.region,
    accountId: values["account-id"],
  });
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
