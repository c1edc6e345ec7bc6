// Soak: a steady rate for a long time (DURATION, 30m by default): latency,
// error rate and lag must not drift. The lag probe runs throughout.
//
//   cd loadtest/tools && go tool k6 run -e RATE=20 -e DURATION=30m ../k6/soak.js
import { cfg, env, pushRandom, probeLag } from './lib.js';

const duration = env('DURATION', '30m');
const scenarios = {
  push: {
    executor: 'constant-arrival-rate', rate: parseInt(env('RATE', '20'), 10), timeUnit: '1s', duration,
    preAllocatedVUs: 10, maxVUs: parseInt(env('MAX_VUS', '100'), 10), exec: 'load',
  },
};
if (cfg.probeURL) {
  scenarios.lag = { executor: 'constant-arrival-rate', rate: 1, timeUnit: '10s', duration, preAllocatedVUs: 2, maxVUs: 20, exec: 'lagProbe' };
}

export const options = {
  scenarios,
  thresholds: {
    push_failed: [`rate<${env('MAX_ERROR_RATE', '0.001')}`],
    push_throttled: [`rate<${env('MAX_429_RATE', '0.01')}`],
    'http_req_duration{name:POST /v1/batches}': [`p(95)<${env('P95_MS', '250')}`, `p(99)<${env('P99_MS', '1000')}`],
    dropped_iterations: [`count<${env('MAX_DROPPED', '1')}`],
    ...(cfg.probeURL ? { e2e_lag: [`p(95)<${env('LAG_P95_MS', '5000')}`], e2e_lag_lost: ['rate==0'] } : {}),
  },
};

export function load() {
  pushRandom();
}

export function lagProbe() {
  probeLag();
}
