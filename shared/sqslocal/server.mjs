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

let server;
try {
  server = await createSqsServer({
    port,
    hostname: values.host,
    region: values.region,
    accountId: values["account-id"],
  });
} catch (err) {
  console.error(`sqslocal: cannot start local-aws-sqs: ${err?.stack ?? err}`);
  process.exit(1);
}
server.on("error", (err) => {
  console.error(`sqslocal: server error: ${err?.stack ?? err}`);
  process.exit(1);
});

const address = server.address();
const actualPort = typeof address === "object" && address ? address.port : port;
const endpoint = `http://${values.host}:${actualPort}`;
process.stdout.write(`sqslocal ready ${JSON.stringify({ endpoint, port: actualPort, pid: process.pid, version })}\n`);

let stopping = false;
const stop = (why) => {
  if (stopping) return;
  stopping = true;
  console.error(`sqslocal: stopping (${why})`);
  // Pending long polls hold connections open; do not wait for them.
  server.closeAllConnections?.();
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
