#!/usr/bin/env bash
# vegeta against the push API: generate targets, attack at a constant rate,
# report (text, latency histogram, JSON), plot, and apply thresholds.
#
#   loadtest/vegeta/attack.sh                     # 50/s for 20s against 127.0.0.1:8088
#   RATE=200 DURATION=60s BASE_URL=https://ingest.example.com INGEST_TOKEN=... loadtest/vegeta/attack.sh
#
# Thresholds (exit 1 when crossed): P95 (250ms), MAX_ERROR_RATE (0.01: not 202
# or 429), MAX_429_RATE (0.05). Outputs go to OUT (loadtest/results/vegeta).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
RATE="${RATE:-50}"
DURATION="${DURATION:-20s}"
BASE_URL="${BASE_URL:-http://127.0.0.1:8088}"
OUT="${OUT:-$root/loadtest/results/vegeta}"
TARGETS="${TARGETS:-500}"
EDGES_PER_BATCH="${EDGES_PER_BATCH:-100}"
HIST="${HIST:-hist[0,5ms,10ms,25ms,50ms,100ms,250ms,500ms,1s,5s]}"
mkdir -p "$OUT"

go run ./loadtest/vegeta/targets -n "$TARGETS" -edges-per-batch "$EDGES_PER_BATCH" -url "$BASE_URL" > "$OUT/targets.json"
vegeta() { (cd "$root/loadtest/tools" && go tool vegeta "$@"); }
vegeta attack -format=json -targets "$OUT/targets.json" -rate "$RATE" -duration "$DURATION" -timeout 15s -max-workers 200 > "$OUT/results.bin"
vegeta report < "$OUT/results.bin" | tee "$OUT/report.txt"
vegeta report -type="$HIST" < "$OUT/results.bin" | tee "$OUT/hist.txt"
vegeta report -type=json < "$OUT/results.bin" > "$OUT/report.json"
vegeta plot -title "push API, ${RATE}/s for ${DURATION}" < "$OUT/results.bin" > "$OUT/plot.html"
echo "plot: $OUT/plot.html"
go run ./loadtest/vegeta/check -p95 "${P95:-250ms}" -max-error-rate "${MAX_ERROR_RATE:-0.01}" -max-429-rate "${MAX_429_RATE:-0.05}" < "$OUT/report.json"
