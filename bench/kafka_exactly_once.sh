#!/usr/bin/env bash
# What exactly-once costs a Kafka sink: the same job writing every generated
# click (JSON in, JSON out) to a topic on `streamrun kafka` (its own process on
# the same cores), without checkpoints, with at_least_once checkpoints and with
# exactly_once checkpoints (a transaction per worker and checkpoint, records
# staged into the checkpoint). Each variant runs RUNS times (default 3); the
# table gives the median wall time, throughput, CPU and peak RSS of streamrun
# (/usr/bin/time), and the checkpoints' sizes. JOB=counts writes per-user
# counts of 1 s windows instead of every click (about a third as many records).
# Usage: bench/kafka_exactly_once.sh   (EVENTS=2000000 INTERVAL=1s WORKERS=2 RUNS=3 JOB=clicks)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/runner/streamrun
[ -x "$bin" ] || scripts/build.sh release streamrun >/dev/null
events="${EVENTS:-2000000}"
interval="${INTERVAL:-1s}"
workers="${WORKERS:-2}"
runs="${RUNS:-3}"
job="${JOB:-clicks}"
dir=$(mktemp -d)
broker=""
cleanup() {
  [ -z "$broker" ] || kill "$broker" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
# 5 MB kept per partition: 64 partitions hold 320 MB, a run's 2M clicks (~170 MB).
"$bin" kafka --partitions 64 --bootstrap-file "$dir/bootstrap" >/dev/null 2>"$dir/broker.err" &
broker=$!
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
brokers=$(cat "$dir/bootstrap")

job() {  # NAME CHECKPOINT-YAML
  cat >"$dir/$1.yaml" <<YAML
name: eo-bench-$1
runtime:
  parallelism: $workers
  $2
sources:
  clicks: { type: generate, kind: clicks, count: $events, seed: 1, partitions: $workers }
transforms:
  counts:
    input: clicks
    steps:
      - key_by: user_id
      - window: { tumbling: 1s, aggregate: { clicks: count() } }
sinks:
  out: { input: $job, type: kafka, brokers: "$brokers", topic: out-$1, key: user_id }
YAML
}
job none ""
job at_least_once "checkpoint: { interval: $interval, storage: \"file://$dir/ckpt\", mode: at_least_once, retain: 1 }"
job exactly_once "checkpoint: { interval: $interval, storage: \"file://$dir/ckpt\", mode: exactly_once, retain: 1 }"

echo "| job | sink delivery | workers | median wall s | events/s | CPU s | peak RSS MB | checkpoints | largest checkpoint MB |"
echo "|---|---|---|---|---|---|---|---|---|"
for variant in none at_least_once exactly_once; do
  : >"$dir/times"
  for run in $(seq "$runs"); do
    rm -rf "$dir/ckpt"
    /usr/bin/time -f "%e %U %S %M" -o "$dir/time" \
      "$bin" run -q "$dir/$variant.yaml" 2>"$dir/run.err"
    read -r wall user sys rss <"$dir/time"
    largest=$( (grep -o 'complete: [0-9]* bytes' "$dir/run.err" || true) | awk '{print $2}' | sort -n | tail -1)
    count=$(grep -c 'complete: ' "$dir/run.err" || true)
    echo "$wall $(echo "$user + $sys" | bc) $((rss / 1024)) $count ${largest:-0}" >>"$dir/times"
  done
  sort -n "$dir/times" | awk -v n="$runs" -v events="$events" -v variant="$variant" -v workers="$workers" -v job="$job" '
    NR == int((n + 1) / 2) {
      printf "| %s | %s | %d | %.2f | %d | %.2f | %d | %d | %.1f |\n", job, variant, workers, $1, events / $1, $2, $3, $4, $5 / 1048576
    }'
done
