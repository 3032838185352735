#!/usr/bin/env bash
# Checkpoint and restore of a large keyed state: KEYS distinct keys (default 10
# million), one event each within one second of event time, each opening a 1 h
# tumbling window (count()), so all are open when the input is read. The job
# reads them from stdin (kept open), checkpoints every INTERVAL (default 30s)
# to file storage with the given backend (default rocksdb), and is killed with
# SIGKILL after two checkpoints past the end of the input. A restart restores
# the newest checkpoint, reads nothing more, and at the end of input fires
# every window: it must write KEYS rows. Prints each checkpoint's log line
# (size, files, bytes uploaded, time), the job's peak RSS, and the restore
# time (start to "restored", and to the end with every window fired).
# Usage: bench/checkpoint_keys.sh [memory|rocksdb]   (KEYS=1000000 for a short run)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$PWD/build/release/runner/streamrun
[ -x "$bin" ] || scripts/build.sh release streamrun >/dev/null
backend="${1:-rocksdb}"
keys="${KEYS:-10000000}"
interval="${INTERVAL:-30s}"
dir=$(mktemp -d "${TMPDIR:-/tmp}/checkpoint-keys.XXXX")
pid=""
feeder=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$feeder" ] && kill "$feeder" 2>/dev/null; rm -rf "$dir"' EXIT
python3 - "$keys" "$dir/keys.jsonl" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
base = 1767225600000
with open(path, "w") as f:
    for i in range(n):
        f.write('{"k":%d,"ts":%d}\n' % (10**9 + i, base + i * 1000 // n))
PY
cat >"$dir/job.yaml" <<YAML
name: keys
runtime:
  parallelism: 2
  state: { backend: $backend, path: "$dir/state" }
  checkpoint: { interval: $interval, storage: "file://$dir/ckpt", retain: 2 }
sources:
  events:
    type: stdin
    event_time: { field: ts, watermark: { max_out_of_orderness: 0s } }
transforms:
  counts:
    input: events
    steps:
      - key_by: k
      - window: { tumbling: 1h, aggregate: { n: count() } }
sinks:
  out: { input: counts, type: file, path: "$dir/out.jsonl" }
YAML
echo "checkpoint_keys: $keys keys, backend $backend, checkpoints every $interval"
start=$(date +%s.%N)
mkfifo "$dir/input"
(cat "$dir/keys.jsonl"; touch "$dir/fed"; exec sleep 100000) >"$dir/input" &
feeder=$!
"$bin" run "$dir/job.yaml" <"$dir/input" 2>"$dir/run.err" &
pid=$!
while [ ! -e "$dir/fed" ]; do sleep 1; done
fed=$(date +%s.%N)
echo "checkpoint_keys: input read in $(echo "$fed - $start" | bc) s"
before=$(grep -c "complete" "$dir/run.err" || true)
while [ "$(grep -c "complete" "$dir/run.err" || true)" -lt $((before + 2)) ]; do
  kill -0 "$pid" 2>/dev/null || { cat "$dir/run.err"; exit 1; }
  sleep 1
done
grep "complete" "$dir/run.err" | sed 's/^/  /'
awk '/VmHWM/ { printf "checkpoint_keys: peak RSS before the kill %.0f MB\n", $2 / 1024 }' "/proc/$pid/status"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=""
kill "$feeder" 2>/dev/null || true
feeder=""
du -sh "$dir/ckpt" | awk '{ print "checkpoint_keys: checkpoint storage " $1 }'
start=$(date +%s.%N)
"$bin" run "$dir/job.yaml" </dev/null 2>"$dir/restore.err" &
pid=$!
until grep -q "restored checkpoint" "$dir/restore.err" 2>/dev/null; do
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.1
done
restored=$(date +%s.%N)
wait "$pid"
pid=""
end=$(date +%s.%N)
grep "restored" "$dir/restore.err" | sed 's/^/  /'
echo "checkpoint_keys: restored in $(echo "$restored - $start" | bc) s; every window fired and written by $(echo "$end - $start" | bc) s"
rows=$(wc -l <"$dir/out.jsonl")
echo "checkpoint_keys: $rows rows written (expected $keys)"
[ "$rows" -eq "$keys" ]
