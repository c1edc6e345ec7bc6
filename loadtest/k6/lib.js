// Shared by the k6 scenarios: configuration from the environment, a generated
// topology, edge batch v1 payloads drawn from it, the push request and its
// checks, and the end-to-end lag probe.
//
// The topology is TOPOLOGY_SERVICES services ("svc:ns<i%7>/svc-<i>"), each
// calling the next FANOUT services: SERVICES x FANOUT distinct `calls` edges.
// A payload is EDGES_PER_BATCH consecutive edges from a random place in it,
// with their endpoint vertices: self-contained, as edge batch v1 requires.
// Ids follow shared/edgebatch: vertex ids hold no '>' or '#' and the label no
// ':', so every edge id is the readable form "calls:<from>><to>", which the
// validator checks exactly.
import http from 'k6/http';
import { check, sleep } from 'k6';
import { Counter, Rate, Trend } from 'k6/metrics';
import exec from 'k6/execution';

export const cfg = {
  baseURL: __ENV.BASE_URL || 'http://127.0.0.1:8088',
  token: __ENV.INGEST_TOKEN || '',
  services: parseInt(__ENV.TOPOLOGY_SERVICES || '2000', 10),
  fanout: parseInt(__ENV.FANOUT || '5', 10),
  edgesPerBatch: parseInt(__ENV.EDGES_PER_BATCH || '100', 10),
  source: __ENV.SOURCE || 'k6',
  // The lag probe's read endpoint (go run ./loadtest/probe); empty: no probe.
  probeURL: __ENV.PROBE_URL || '',
  probeTimeoutS: parseFloat(__ENV.PROBE_TIMEOUT_S || '60'),
};

// Custom metrics: what became of the pushes, and the end-to-end lag.
export const accepted = new Rate('push_accepted');       // 202
export const throttled = new Rate('push_throttled');     // 429: the backlog is above the mark
export const failed = new Rate('push_failed');           // anything but 202 or 429 (400, 401, 413, 415, 5xx, timeouts)
export const pushed = new Counter('push_edges');         // edges accepted
export const acceptedLatency = new Trend('push_accepted_duration', true);
export const lag = new Trend('e2e_lag', true);           // push accepted -> sentinel edge in the graph
export const lagLost = new Rate('e2e_lag_lost');         // sentinel not seen within PROBE_TIMEOUT_S

function serviceID(i) {
  return `svc:ns${i % 7}/svc-${i}`;
}

// batch returns an edge batch v1 (as an object) of n edges of the topology,
// starting at edge number `start` (mod the topology's size).
export function batch(start, n) {
  const total = cfg.services * cfg.fanout;
  const vertices = new Map();
  const edges = [];
  for (let e = 0; e < n; e++) {
    const k = (start + e) % total;
    const i = Math.floor(k / cfg.fanout);
    const j = (k % cfg.fanout) + 1;
    const from = serviceID(i);
    const to = serviceID((i + j) % cfg.services);
    for (const [id, x] of [[from, i], [to, (i + j) % cfg.services]]) {
      if (!vertices.has(id)) {
        vertices.set(id, { id, label: 'Service', props: { name: `svc-${x}`, namespace: `ns${x % 7}`, tier: x % 3 } });
      }
    }
    edges.push({
      id: `calls:${from}>${to}`, label: 'calls', from, to,
      props: { requests: 1 + ((k * 7919) % 5000), server_errors: k % 3, rrt_avg_us: 1530.25 + (k % 100) },
    });
  }
  return { v: 1, source: cfg.source, observed_at: new Date().toISOString(), vertices: [...vertices.values()], edges };
}

export function headers() {
  const h = { 'Content-Type': 'application/json' };
  if (cfg.token) {
    h.Authorization = `Bearer ${cfg.token}`;
  }
  return h;
}

// push POSTs one batch and records what became of it. 429 is the API's
// backpressure, counted apart from failures.
export function push(body, edges, tags) {
  const res = http.post(`${cfg.baseURL}/v1/batches`, JSON.stringify(body), {
    headers: headers(),
    tags: Object.assign({ name: 'POST /v1/batches' }, tags || {}),
    // 202 and 429 are expected answers: not http_req_failed.
    responseCallback: http.expectedStatuses(202, 429),
    timeout: '15s',
  });
  const ok = res.status === 202;
  accepted.add(ok);
  throttled.add(res.status === 429);
  failed.add(res.status !== 202 && res.status !== 429);
  if (ok) {
    pushed.add(edges);
    acceptedLatency.add(res.timings.duration);
  }
  check(res, {
    'status is 202 or 429': (r) => r.status === 202 || r.status === 429,
    '202 carries a message id': (r) => r.status !== 202 || (r.json('message_id') || '') !== '',
    '429 carries Retry-After': (r) => r.status !== 429 || r.headers['Retry-After'] !== undefined,
  });
  return res;
}

// pushRandom pushes EDGES_PER_BATCH edges from a random place of the topology.
export function pushRandom() {
  const start = Math.floor(Math.random() * cfg.services * cfg.fanout);
  return push(batch(start, cfg.edgesPerBatch), cfg.edgesPerBatch);
}

// probeLag pushes one sentinel edge, unique to this iteration, and polls the
// read endpoint until the edge is in the graph: the whole path, push API ->
// SQS -> worker -> Neptune. Its own source and ids ("svc:k6-probe/...")
// keep it apart from the load.
export function probeLag() {
  if (!cfg.probeURL) {
    return;
  }
  const tag = `${exec.vu.idInTest}-${exec.vu.iterationInScenario}-${Date.now()}`;
  const from = `svc:k6-probe/sentinel-${tag}`;
  const to = 'svc:k6-probe/target';
  const id = `calls:${from}>${to}`;
  const body = {
    v: 1, source: 'k6-probe', observed_at: new Date().toISOString(),
    vertices: [{ id: from, label: 'Service', props: { name: `sentinel-${tag}` } }, { id: to, label: 'Service', props: { name: 'target' } }],
    edges: [{ id, label: 'calls', from, to, props: { requests: 1 } }],
  };
  const res = push(body, 1, { probe: 'yes' });
  if (res.status !== 202) {
    return; // counted by push; a throttled probe says nothing about lag
  }
  const t0 = Date.now();
  const url = `${cfg.probeURL}/v1/edges/${encodeURIComponent(id)}`;
  while ((Date.now() - t0) / 1000 < cfg.probeTimeoutS) {
    const r = http.get(url, { tags: { name: 'GET probe' }, responseCallback: http.expectedStatuses(200, 404) });
    if (r.status === 200) {
      lag.add(Date.now() - t0);
      lagLost.add(false);
      check(r, { 'sentinel read back': () => true });
      return;
    }
    sleep(0.05);
  }
  lagLost.add(true);
  check(null, { 'sentinel read back': () => false });
}

// thresholdsFrom lets a run tighten or loosen thresholds from the
// environment: P95_MS, MAX_ERROR_RATE, MAX_429_RATE, LAG_P95_MS.
export function env(name, def) {
  return __ENV[name] !== undefined ? __ENV[name] : def;
}
