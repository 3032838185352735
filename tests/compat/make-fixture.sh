#!/usr/bin/env bash
# Writes the checkpoints this folder keeps, with the streamrun given, for the
# state format it writes (see README.md). Run it only when that format
# changes, into a new folder, and keep the old ones: they are the point.
#   tests/compat/make-fixture.sh build/release/runner/streamrun v2
set -euo pipefail
bin="$(realpath "$1")"
tag="$2"
here="$(cd "$(dirname "$0")" && pwd)"
for backend in memory rocksdb; do
  dir="$here/$tag-$backend"
  rm -rf "$dir"
  mkdir -p "$dir"
  cd "$dir"
  cp "$here/pipeline.yaml" .
  # The first half of the input, followed like `tail -f`; a stop request then
  # takes the final checkpoint with windows, sessions and dedupe state open.
  head -n 1000 "$here/input.jsonl" >input.jsonl
  BOUNDED=false STORE="$dir/store" BACKEND=$backend "$bin" run pipeline.yaml >/dev/null 2>run.log &
  pid=$!
  sleep 3
  kill -TERM $pid
  wait $pid
  grep -q "checkpoint" run.log || { cat run.log; exit 1; }
  rm -rf input.jsonl pipeline.yaml state run.log
  echo "$dir: $(find store -type f | wc -l) files, $(du -sk . | cut -f1) KB"
done
