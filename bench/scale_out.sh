#!/usr/bin/env bash
# A job of several processes (docs/scaling.md) on one machine: the time a job
# of 1, 2 and 3 members takes over the same input, next to one ordinary
# process (the in-process exchange, no repartition topic).
#
# `streamrun kafka` (its own process) holds SCALE_EVENTS clicks (default
# 200,000: the embedded broker keeps only the newest 5 MB of a partition, and
# the repartition topic's records are larger) in 8 partitions, keyed by page.
# The job re-keys them by user (a repartition topic), counts clicks per user
# in 10 s windows and writes the counts to a Kafka topic; checkpoints every
# second. A member job is done when its output topic holds as many rows as
# the ordinary run's (every window closed by one late click per partition an
# hour later). Each figure is the wall time from starting the members to the
# last row, so it includes the group's join (about 3 s) and one checkpoint
# interval per repartition topic crossed (a record crosses when the
# checkpoint after it completes).
# Prints a Markdown table; with --write puts it in docs/benchmarks.md between
# its bench-scale-out markers.
# Usage: bench/scale_out.sh [--write]
set -euo pipefail
cd "$(dirname "$0")/.."
write=0
[ "${1:-}" = "--write" ] && write=1
bin=build/release/runner/streamrun
events=${SCALE_EVENTS:-200000}
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT

topics=(--topic clicks --topic users_plain)
for k in 1 2 3; do topics+=(--topic "scale$k-per_user-1-window-repartition" --topic "users_scale$k"); done
"$bin" kafka --partitions 8 "${topics[@]}" --bootstrap-file "$dir/bootstrap" >/dev/null 2>"$dir/broker.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
brokers=$(cat "$dir/bootstrap")

"$bin" generate clicks --count "$events" --seed 3 --out-of-order 0.05:1s >"$dir/clicks.jsonl"
python3 - "$dir/clicks.jsonl" "$dir/keyed.txt" "$dir/flush.jsonl" <<'PY'
import json, sys
last = 0
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        c = json.loads(line)
        last = max(last, c["ts"])
        out.write(f'{c["page_url"]}\t{line}')
with open(sys.argv[3], "w") as out:
    out.write(json.dumps({"user_id": "flush", "page_url": "/flush", "referrer": None, "ts": last + 3600000}) + "\n")
PY
kcat -P -b "$brokers" -t clicks -K $'\t' -l "$dir/keyed.txt"
for p in 0 1 2 3 4 5 6 7; do kcat -P -b "$brokers" -t clicks -p $p -l "$dir/flush.jsonl"; done

pipeline() {  # pipeline NAME BOUNDED
  cat <<EOF
name: $1
runtime:
  parallelism: 2
  checkpoint: { storage: "file://$dir/ckpt", interval: 1s }
sources:
  clicks:
    type: kafka
    brokers: $brokers
    topic: clicks
    bounded: $2
    properties: { session.timeout.ms: "6000", heartbeat.interval.ms: "500" }
    event_time: { field: ts, format: epoch_millis, watermark: { max_out_of_orderness: 2s, idle_timeout: 60s } }
transforms:
  per_user:
    input: clicks
    steps:
      - key_by: user_id
      - window: { tumbling: 10s, aggregate: { clicks: count() } }
sinks:
  users:
    input: per_user
    type: kafka
    brokers: $brokers
    topic: users_$1
EOF
}
rows() {  # messages in topic $1 (the embedded broker writes no markers)
  /usr/bin/python3 - "$brokers" "$1" <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "bench-count"})
print(sum(c.get_watermark_offsets(TopicPartition(sys.argv[2], p), timeout=5)[1] for p in range(8)))
c.close()
PY
}

# One ordinary process, bounded: every window closes at the end of the
# input, so its row count includes the flush's windows (one per user
# "flush"... one row): the member jobs, unbounded, leave that one open.
pipeline plain true >"$dir/plain.yaml"
start=$(date +%s.%N)
plain_cpu=$(/usr/bin/python3 -c '
import resource, subprocess, sys
subprocess.run(sys.argv[1:], stderr=subprocess.DEVNULL, check=True)
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(r.ru_utime + r.ru_stime)' "$bin" run -q "$dir/plain.yaml")
plain_s=$(echo "$(date +%s.%N) - $start" | bc)
expected=$(($(rows users_plain) - 1))

cpu_of() {  # CPU seconds process $1 has used so far
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}
declare -A took cpu
for k in 1 2 3; do
  pipeline "scale$k" false >"$dir/scale$k.yaml"
  start=$(date +%s.%N)
  members=()
  for m in $(seq "$k"); do
    "$bin" run "$dir/scale$k.yaml" --member "m$m" 2>"$dir/scale$k-$m.err" &
    members+=($!)
    pids+=($!)
  done
  done_s=""
  for _ in $(seq 600); do
    if [ "$(rows "users_scale$k")" -ge "$expected" ]; then
      done_s=$(echo "$(date +%s.%N) - $start" | bc)
      break
    fi
    sleep 0.25
  done
  used=0
  for p in "${members[@]}"; do used=$(echo "$used + $(cpu_of "$p")" | bc); done
  for p in "${members[@]}"; do kill -INT "$p"; done
  for p in "${members[@]}"; do wait "$p" || true; done
  [ -n "$done_s" ] || { echo "scale_out bench: $k members did not finish"; exit 1; }
  took[$k]=$done_s
  cpu[$k]=$used
done

rate() { printf "%.0f" "$(echo "$events / $1" | bc -l)"; }
table="Measured $(date -u +%Y-%m-%d) on $(nproc) cores ($(lscpu | sed -n 's/^Model name: *//p' | head -1)), \`bench/scale_out.sh\`:
$events clicks in 8 partitions of \`streamrun kafka\` (its own process), re-keyed by user through a
repartition topic, 10 s windows per user to a Kafka topic, checkpoints every second. Wall time from
the start to the last output row, and the CPU time the processes used (the members' own, while
they ran).

| run | processes | tasks | wall time | CPU time | clicks per CPU second |
|---|---|---|---|---|---|
| one ordinary process (2 workers, bounded, in-process exchange) | 1 | - | $(printf "%.1f" "$plain_s") s | $(printf "%.2f" "$plain_cpu") s | $(rate "$plain_cpu") |
| job, 1 member | 1 | 16 | $(printf "%.1f" "${took[1]}") s | $(printf "%.2f" "${cpu[1]}") s | $(rate "${cpu[1]}") |
| job, 2 members | 2 | 16 | $(printf "%.1f" "${took[2]}") s | $(printf "%.2f" "${cpu[2]}") s | $(rate "${cpu[2]}") |
| job, 3 members | 3 | 16 | $(printf "%.1f" "${took[3]}") s | $(printf "%.2f" "${cpu[3]}") s | $(rate "${cpu[3]}") |"
echo "$table"
if [ $write -eq 1 ]; then
  python3 - docs/benchmarks.md "$table" <<'PY'
import sys
path, table = sys.argv[1], sys.argv[2]
s = open(path).read()
begin, end = "<!-- bench-scale-out:begin -->", "<!-- bench-scale-out:end -->"
if begin not in s:
    s += f"\n## Several processes\n\n{begin}\n{end}\n"
a, b = s.index(begin) + len(begin), s.index(end)
open(path, "w").write(s[:a] + "\n" + table + "\n" + s[b:])
PY
fi
