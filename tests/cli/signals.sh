#!/usr/bin/env bash
# SIGTERM and SIGINT stop a running pipeline cleanly: exit 0, everything read so
# far written and flushed. Usage: signals.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"; kill %1 2>/dev/null || true' EXIT
cat >"$dir/p.yaml" <<YAML
name: signals
sources:
  in: { type: file, path: $dir/in.jsonl, bounded: false }
sinks:
  out: { type: file, input: in, path: $dir/out.jsonl }
YAML
for sig in TERM INT; do
  printf '{"n":1}\n{"n":2}\n' >"$dir/in.jsonl"
  rm -f "$dir/out.jsonl"
  "$bin" run -q "$dir/p.yaml" &
  pid=$!
  sleep 0.5
  printf '{"n":3}\n' >>"$dir/in.jsonl"
  sleep 0.5
  kill -$sig $pid
  status=0
  wait $pid || status=$?
  [ $status -eq 0 ] || { echo "SIG$sig: exit $status, expected 0"; exit 1; }
  [ "$(wc -l <"$dir/out.jsonl")" -eq 3 ] || { echo "SIG$sig: expected 3 records written"; cat "$dir/out.jsonl"; exit 1; }
done
echo "signals: ok"
