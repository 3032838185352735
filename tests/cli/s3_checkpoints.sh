#!/usr/bin/env bash
# Checkpoints in S3 (docs/guarantees.md) against s3rver, an S3-compatible server
# (npm; it does not check signatures, so signing is proven by the unit tests
# against AWS's published examples). Multipart uploads are forced with 64 KB
# parts. (1) A job killed three times with SIGKILL and restored from S3 gives
# the uninterrupted output. (2) The store goes away mid-run for longer than a
# request's retries: its checkpoints fail, the job goes on, later ones succeed
# once it is back, and the output is still exact. (3) `streamrun checkpoints list` reads them back.
# Usage: s3_checkpoints.sh STREAMRUN
set -euo pipefail
bin="$1"
if ! command -v s3rver >/dev/null; then
  echo "s3: s3rver is not installed (npm install -g s3rver; scripts/install-deps.sh does it)"
  exit 1
fi
dir=$(mktemp -d)
pid=""
server=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$dir"' EXIT
port=$((20000 + RANDOM % 20000))
start_server() {
  s3rver --directory "$dir/s3" --port "$port" --address 127.0.0.1 --configure-bucket ckpt --silent >"$dir/s3rver.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/" && return 0
    sleep 0.1
  done
  echo "s3: s3rver did not start"; cat "$dir/s3rver.log"; exit 1
}
stop_server() {
  kill "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
  server=""
}
mkdir -p "$dir/s3"
start_server
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER STREAMRUN_S3_PART_SIZE=65536

pipeline() {  # NAME [no-checkpoints]
  cat >"$dir/$1.yaml" <<YAML
name: s3-$1
runtime:
  parallelism: 2
  checkpoint:
    interval: 400ms
    storage: s3://ckpt/jobs
    endpoint: http://127.0.0.1:$port
    region: us-east-1
sources:
  clicks: { type: generate, kind: clicks, count: 56000, rate: 8000/s, seed: 5, partitions: 2 }
transforms:
  counts:
    input: clicks
    steps:
      - key_by: user_id
      - window: { tumbling: 1s, aggregate: { clicks: count(), pages: count_distinct(page_url) } }
sinks:
  out: { input: counts, type: file, path: "$dir/$1.jsonl" }
YAML
  if [ "${2:-}" = no-checkpoints ]; then
    python3 - "$dir/$1.yaml" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
s = re.sub(r"  checkpoint:\n(    .*\n)+", "", s)
open(p, "w").write(s)
PY
  fi
}

pipeline reference no-checkpoints
"$bin" run -q "$dir/reference.yaml"
sort "$dir/reference.jsonl" >"$dir/reference.sorted"

# (1) Killed three times, restored from S3 each time.
pipeline killed
for delay in 1.2 0.9 1.1; do
  "$bin" run -q "$dir/killed.yaml" 2>>"$dir/killed.err" &
  pid=$!
  sleep "$delay"
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=""
done
"$bin" run -q "$dir/killed.yaml" 2>>"$dir/killed.err"
restores=$(grep -c "restored checkpoint .* from s3://ckpt/jobs" "$dir/killed.err" || true)
[ "$restores" -ge 1 ] || { echo "s3: no restore from S3"; cat "$dir/killed.err"; exit 1; }
sort "$dir/killed.jsonl" | cmp -s - "$dir/reference.sorted" ||
  { echo "s3: output after kills differs from the uninterrupted run"; exit 1; }
echo "s3: killed 3 times, $restores restores from S3 (64 KB multipart parts): output equal to the uninterrupted run"

# (3) The checkpoints are listed from S3.
"$bin" checkpoints list "$dir/killed.yaml" >"$dir/list.txt"
grep -q "s3://ckpt/jobs/s3-killed/chk-" "$dir/list.txt" || { echo "s3: checkpoints list shows none"; cat "$dir/list.txt"; exit 1; }

# (2) The store fails mid-run and comes back.
pipeline outage
"$bin" run -q "$dir/outage.yaml" 2>"$dir/outage.err" &
pid=$!
sleep 1.2
stop_server
# Longer than a request's retries with backoff (0.1 + 0.2 + 0.4 + 0.8 s and
# jitter): a checkpoint during the outage fails rather than outlast it.
sleep 3
start_server
status=0
wait "$pid" || status=$?
pid=""
[ $status -eq 0 ] || { echo "s3: the job failed when the store went away"; cat "$dir/outage.err"; exit 1; }
grep -q "checkpoint .* failed" "$dir/outage.err" || { echo "s3: no checkpoint failed while the store was down"; cat "$dir/outage.err"; exit 1; }
grep -q "complete" "$dir/outage.err" || { echo "s3: no checkpoint completed"; exit 1; }
sort "$dir/outage.jsonl" | cmp -s - "$dir/reference.sorted" ||
  { echo "s3: output with a store outage differs from the uninterrupted run"; exit 1; }
echo "s3: store down for 3 s mid-run: $(grep -c 'failed' "$dir/outage.err") checkpoints failed, the job went on," \
  "$(grep -c 'complete:' "$dir/outage.err") completed, output exact"
