// Ramping arrival rate: pushes per second climb from START_RATE to
// PEAK_RATE, hold, and come down, whatever the API's latency (an open
// model: k6 adds VUs to keep the rate). The lag probe runs alongside.
//
//   cd loadtest/tools && go tool k6 run -e PEAK_RATE=100 ../k6/ramp.js
import { cfg, env, pushRandom, probeLag } from './lib.js';

const peak = parseInt(env('PEAK_RATE', '50'), 10);
const stage = env('STAGE', '20s');

const scenarios = {
  push: {
    executor: 'ramping-arrival-rate',
    startRate: parseInt(env('START_RATE', '5'), 10),
    timeUnit: '1s',
    preAllocatedVUs: 20,
    maxVUs: parseInt(env('MAX_VUS', '200'), 10),
    stages: [
      { target: peak, duration: stage },
      { target: peak, duration: stage },
      { target: 0, duration: '5s' },
    ],
    exec: 'load',
  },
};
if (cfg.probeURL) {
  scenarios.lag = { executor: 'constant-arrival-rate', rate: 1, timeUnit: '5s', duration: '45s', preAllocatedVUs: 2, maxVUs: 20, exec: 'lagProbe' };
}

export const options = {
  scenarios,
  thresholds: {
    push_failed: [`rate<${env('MAX_ERROR_RATE', '0.01')}`],
    push_throttled: [`rate<${env('MAX_429_RATE', '0.05')}`],
    'http_req_duration{name:POST /v1/batches}': [`p(95)<${env('P95_MS', '300')}`],
    dropped_iterations: [`count<${env('MAX_DROPPED', '10')}`],
    ...(cfg.probeURL ? { e2e_lag: [`p(95)<${env('LAG_P95_MS', '10000')}`], e2e_lag_lost: ['rate<0.05'] } : {}),
  },
};

export function load() {
  pushRandom();
}

export function lagProbe() {
  probeLag();
}
