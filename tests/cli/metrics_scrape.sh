#!/usr/bin/env bash
# /metrics and the web view's endpoints read over and over while a run's
# workers count into the cells they read: for the ThreadSanitizer pass (the
# Kafka-based metrics.sh cannot run there: librdkafka's threads are not
# ThreadSanitizer's). Ports 0: the addresses chosen are read from the log.
# Usage: metrics_scrape.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() {
  echo "metrics_scrape: $*"
  tail -20 "$dir/err"
  exit 1
}

cat >"$dir/p.yaml" <<YAML
name: metrics-scrape
runtime:
  parallelism: 2
  checkpoint: { storage: "file://$dir/ckpt", interval: 300ms }
  metrics: { listen: "127.0.0.1:0" }
  ui: { listen: "127.0.0.1:0" }
sources:
  clicks: { type: generate, kind: clicks, rate: 5000/s, partitions: 2, event_time: { field: ts } }
transforms:
  top:
    input: clicks
    steps:
      - key_by: page_url
      - window: { tumbling: 1s, aggregate: { clicks: count() } }
      - top_n: { n: 5, by: clicks, order: desc }
sinks:
  out: { type: file, path: "$dir/out.jsonl", input: top, preview: true }
YAML
"$bin" run "$dir/p.yaml" >"$dir/out" 2>"$dir/err" &
pid=$!
metrics="" ui=""
for _ in $(seq 300); do
  metrics=$(grep -o 'metrics at http://[0-9.:]*/metrics' "$dir/err" | head -1 | cut -d' ' -f3 || true)
  ui=$(grep -o 'web view at http://[0-9.:]*/' "$dir/err" | head -1 | cut -d' ' -f4 || true)
  [ -n "$metrics" ] && [ -n "$ui" ] && break
  sleep 0.1
done
[ -n "$metrics" ] && [ -n "$ui" ] || fail "the run logged no addresses"
end=$((SECONDS + 6))
scrapes=0
while [ $SECONDS -lt $end ]; do
  curl -sf "$metrics" >"$dir/metrics.txt" || fail "scrape $scrapes of $metrics failed"
  for api in status preview graph; do
    curl -sf "${ui}api/$api" | python3 -c 'import json,sys; json.load(sys.stdin)' || fail "${ui}api/$api"
  done
  scrapes=$((scrapes + 1))
done
grep -q '^streamrun_checkpoints_completed_total{pipeline="metrics-scrape"} [1-9]' "$dir/metrics.txt" ||
  fail "no checkpoint counted: $(grep checkpoints_completed "$dir/metrics.txt")"
grep -q '^streamrun_operator_records_out_total{pipeline="metrics-scrape",operator="clicks",worker="1"} [1-9]' \
  "$dir/metrics.txt" || fail "worker 1 read nothing"
kill -TERM "$pid"
wait "$pid" || fail "the run did not stop cleanly"
pid=""
! grep -q "ThreadSanitizer\|AddressSanitizer\|runtime error" "$dir/err" || fail "a sanitizer report"
echo "metrics_scrape: ok ($scrapes rounds of /metrics and the three endpoints)"
