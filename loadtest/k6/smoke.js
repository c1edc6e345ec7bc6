// Smoke: a few pushes and one lag probe; every threshold strict. Run it
// first: it proves the token, the payloads and the path work.
//
//   cd loadtest/tools && go tool k6 run ../k6/smoke.js
import { cfg, env, pushRandom, probeLag } from './lib.js';

const scenarios = {
  // A gentle, paced load: RATE pushes a second.
  push: { executor: 'constant-arrival-rate', rate: parseInt(env('RATE', '5'), 10), timeUnit: '1s', duration: env('DURATION', '15s'), preAllocatedVUs: 2, maxVUs: 10, exec: 'load' },
};
if (cfg.probeURL) {
  scenarios.lag = { executor: 'per-vu-iterations', vus: 1, iterations: 3, exec: 'lagProbe', maxDuration: '3m' };
}

export const options = {
  scenarios,
  thresholds: {
    push_failed: [`rate<=${env('MAX_ERROR_RATE', '0')}`],
    push_throttled: [`rate<=${env('MAX_429_RATE', '0')}`],
    'http_req_duration{name:POST /v1/batches}': [`p(95)<${env('P95_MS', '250')}`],
    checks: ['rate==1'],
    ...(cfg.probeURL ? { e2e_lag: [`p(95)<${env('LAG_P95_MS', '5000')}`], e2e_lag_lost: ['rate==0'] } : {}),
  },
};

export function load() {
  pushRandom();
}

export function lagProbe() {
  probeLag();
}
