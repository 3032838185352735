#!/usr/bin/env bash
# Kafka throughput on the embedded broker (`streamrun kafka`, its own process):
# COUNT generated clicks (default 2 million) in topic `in` with 64 partitions
# (the embedded broker keeps only the newest 5 MB of each partition, so the
# input is spread wide enough to stay whole), then
# - plain `kcat -C` draining the topic (the client-side ceiling), and
#   `kcat -C | kcat -P` copying it to another topic,
# - Kafka -> filter/set -> Kafka, and
# - Kafka -> key_by -> 5 s tumbling count -> Kafka,
# each bounded (read to the end offsets, then exit) at parallelism 1 and 2.
# Usage: scripts/bench-kafka.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-2000000}"
bin=build/release/runner/streamrun
dir=$(mktemp -d)
trap 'kill $broker 2>/dev/null || true; rm -rf "$dir"' EXIT
"$bin" kafka --partitions 64 --topic in --bootstrap-file "$dir/bootstrap" >/dev/null 2>&1 &
broker=$!
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
brokers=$(cat "$dir/bootstrap")
rate() { awk -v n="$count" -v s="$1" 'BEGIN { printf "%.0f records/s", n / s }'; }
timed() {  # seconds of wall time of "$@"
  local start end
  start=$(date +%s.%N)
  "$@"
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", b - a }'
}
s=$(timed "$bin" generate clicks --count "$count" --topic in --brokers "$brokers")
echo "produce ($count clicks, streamrun generate --topic): ${s} s, $(rate "$s")"
s=$(timed sh -c "kcat -C -b '$brokers' -t in -e -q -f '%s\n' >/dev/null")
echo "kcat -C drain: ${s} s, $(rate "$s")"
s=$(timed sh -c "kcat -C -b '$brokers' -t in -e -q -f '%s\n' | kcat -P -b '$brokers' -t copy")
echo "kcat -C | kcat -P (topic to topic copy): ${s} s, $(rate "$s")"
run=0
for p in 1 2; do
  for job in filter window; do
    run=$((run + 1))
    if [ "$job" = filter ]; then
      steps='[{ filter: "page_url is not null and referrer != '"'"'spam'"'"'" }, { set: { seen: "now()" } }]'
    else
      steps='[{ key_by: page_url }, { window: { tumbling: 5s, aggregate: { clicks: count() } } }]'
    fi
    cat >"$dir/$job-$p.yaml" <<YAML
name: bench-$job-$p-$run
runtime: { parallelism: $p }
sources:
  clicks: { type: kafka, brokers: "$brokers", topic: in, bounded: true, start: earliest,
            event_time: { field: ts, watermark: { max_out_of_orderness: 2s } } }
transforms:
  out: { input: clicks, steps: $steps }
sinks:
  to_kafka: { input: out, type: kafka, brokers: "$brokers", topic: out-$job-$p-$run }
YAML
    s=$(timed "$bin" run "$dir/$job-$p.yaml" 2>"$dir/err" || { cat "$dir/err"; exit 1; })
read_n=$(grep -o "done: [0-9]* records read" "$dir/err" | awk '{print $2}')
    out_n=$(awk '$1 == "to_kafka" {print $5}' "$dir/err")
    echo "Kafka -> $job -> Kafka, parallelism $p: ${s} s, $(rate "$s") ($read_n read, $out_n written)"
    [ "$read_n" = "$count" ] || { echo "read $read_n of $count records"; exit 1; }
  done
done
