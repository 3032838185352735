#!/usr/bin/env bash
# SIGTERM and SIGINT stop a running pipeline cleanly: exit 0, everything read so
# far written and flushed. A followed file's output appears while it runs.
# Usage: signals.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
pid=""
trap 'rm -rf "$dir"; [ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT
cat >"$dir/p.yaml" <<YAML
name: signals
sources:
  in: { type: file, path: $dir/in.jsonl, bounded: false }
sinks:
  out: { type: file, input: in, path: $dir/out.jsonl }
YAML
# Waits up to 20 s for the output to have $1 lines.
wait_lines() {
  for _ in $(seq 200); do
    [ -f "$dir/out.jsonl" ] && [ "$(wc -l <"$dir/out.jsonl")" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "timed out waiting for $1 lines"; cat "$dir/out.jsonl" 2>/dev/null; return 1
}
for sig in TERM INT; do
  printf '{"n":1}\n{"n":2}\n' >"$dir/in.jsonl"
  rm -f "$dir/out.jsonl"
  "$bin" run -q "$dir/p.yaml" &
  pid=$!
  wait_lines 2
  printf '{"n":3}\n' >>"$dir/in.jsonl"
  wait_lines 3
  kill -$sig $pid
  status=0
  wait $pid || status=$?
  pid=""
  [ $status -eq 0 ] || { echo "SIG$sig: exit $status, expected 0"; exit 1; }
  [ "$(wc -l <"$dir/out.jsonl")" -eq 3 ] || { echo "SIG$sig: expected 3 records written"; cat "$dir/out.jsonl"; exit 1; }
done
# Two deliveries at once (the process and its group, as `timeout -s INT` and a
# terminal's Ctrl-C do) are one stop request: a clean stop with its final
# checkpoint, never the immediate exit.
sed -i 's#^name: signals#name: signals\nruntime: { checkpoint: { interval: 1h, mode: at_least_once, storage: "file://'"$dir"'/ckpt" } }#' "$dir/p.yaml"
for i in $(seq 8); do
  printf '{"n":1}\n{"n":2}\n' >"$dir/in.jsonl"
  rm -rf "$dir/out.jsonl" "$dir/ckpt"
  "$bin" run -q "$dir/p.yaml" &
  pid=$!
  wait_lines 2
  kill -INT $pid; kill -INT $pid
  status=0
  wait $pid || status=$?
  pid=""
  [ $status -eq 0 ] || { echo "two SIGINTs at once (try $i): exit $status, expected a clean stop (0)"; exit 1; }
  ls "$dir/ckpt/signals" | grep -q '^chk-' || { echo "two SIGINTs at once: no final checkpoint"; exit 1; }
done
echo "signals: ok"
