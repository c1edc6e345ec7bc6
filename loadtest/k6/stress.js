// Stress to the 429 point: the arrival rate keeps climbing (STEP_RATE more
// pushes per second every STEP) until the ingest backlog passes
// BACKLOG_HIGH_WATER and the API sheds load with 429 + Retry-After. The run
// passes when it sheds load cleanly: 429s, not errors or timeouts, and fast
// answers, and most pushes are still taken. In the summary,
// stress_first_429_at_s (min) is when the first 429 came and
// stress_first_429_target_rate (min) the arrival rate k6 was asked for then;
// no such lines means no 429 at these rates.
//
//   cd loadtest/tools && go tool k6 run ../k6/stress.js
import { Counter, Gauge } from 'k6/metrics';
import exec from 'k6/execution';
import { env, pushRandom } from './lib.js';

const steps = parseInt(env('STEPS', '5'), 10);
const stepRate = parseInt(env('STEP_RATE', '20'), 10);
const step = env('STEP', '15s');
const stepSeconds = parseFloat(step);
const stages = [];
for (let s = 1; s <= steps; s++) {
  stages.push({ target: s * stepRate, duration: '3s' }, { target: s * stepRate, duration: step });
}

const first429 = new Gauge('stress_first_429_at_s');
const first429Rate = new Gauge('stress_first_429_target_rate');
const throttledCount = new Counter('stress_429');
let seen = false;

export const options = {
  scenarios: {
    push: { executor: 'ramping-arrival-rate', startRate: stepRate, timeUnit: '1s', preAllocatedVUs: 50, maxVUs: parseInt(env('MAX_VUS', '400'), 10), stages, exec: 'load' },
  },
  thresholds: {
    // Shedding load is 429, never failures.
    push_failed: [`rate<${env('MAX_ERROR_RATE', '0.01')}`],
    // The share of 429 stays below the mark: a run that mostly bounces off
    // the backlog means the fleet cannot keep up with this rate at all.
    push_throttled: [`rate<${env('MAX_429_RATE', '0.75')}`],
    // A 429 is answered before the body is read: it must stay fast.
    'http_req_duration{name:POST /v1/batches}': [`p(95)<${env('P95_MS', '500')}`],
  },
};

export function load() {
  const res = pushRandom();
  if (res.status === 429) {
    throttledCount.add(1);
    if (!seen) {
      seen = true; // per VU; the summary's min is the first
      const t = (Date.now() - exec.scenario.startTime) / 1000;
      first429.add(t);
      // The target rate at t: each step is 3 s of ramp and STEP of hold.
      const k = Math.min(steps, Math.floor(t / (3 + stepSeconds)) + 1);
      first429Rate.add(k * stepRate);
    }
  }
}
