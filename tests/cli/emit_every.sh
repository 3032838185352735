#!/usr/bin/env bash
# `emit: {every: D}` emits the rows of open windows every D of processing time,
# before they close. Usage: emit_every.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
pid=""
trap 'rm -rf "$dir"; [ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT
cat >"$dir/p.yaml" <<YAML
name: emit-every
sources:
  in: { type: file, path: $dir/in.jsonl, bounded: false, event_time: { field: ts } }
transforms:
  counts:
    input: in
    steps:
      - key_by: k
      - window:
          tumbling: 1h
          emit: { every: 200ms }
          aggregate: { n: count() }
sinks:
  out: { type: file, input: counts, path: $dir/out.jsonl }
YAML
wait_for() {
  for _ in $(seq 200); do
    grep -q "$1" "$dir/out.jsonl" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "timed out waiting for $1"; cat "$dir/out.jsonl" 2>/dev/null; return 1
}
printf '{"k":"a","ts":1000}\n' >"$dir/in.jsonl"
"$bin" run -q "$dir/p.yaml" &
pid=$!
wait_for '"n":1'
printf '{"k":"a","ts":2000}\n' >>"$dir/in.jsonl"
wait_for '"n":2'
kill -TERM $pid
wait $pid
pid=""
echo "emit_every: ok"
