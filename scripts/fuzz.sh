#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for N seconds (default 60).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
targets=(fuzz_yaml_loader fuzz_json_decoder fuzz_expression)
scripts/build.sh fuzz "${targets[@]}"
for t in "${targets[@]}"; do
  corpus="tests/fuzz/corpus/${t#fuzz_}"
  work=$(mktemp -d)
  cp -r "$corpus"/. "$work"/ 2>/dev/null || true
  echo "fuzz: $t for ${seconds}s"
  # A crash fails the script and leaves the input in build/fuzz/crash-*.
  "build/fuzz/tests/fuzz/$t" -max_total_time="$seconds" -max_len=65536 -artifact_prefix=build/fuzz/ \
    "$work" >"$work.log" 2>&1 || { tail -60 "$work.log"; exit 1; }
  tail -1 "$work.log"
  rm -f "$work.log"
  rm -rf "$work"
done
