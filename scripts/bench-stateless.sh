#!/usr/bin/env bash
# Throughput and memory of a stateless pipeline (filter/set/drop/select) over a
# JSON-lines file of SIZE_MB (default 1024), to the null sink and to a file.
# Prints records/s and peak RSS. Usage: scripts/bench-stateless.sh [SIZE_MB]
set -euo pipefail
cd "$(dirname "$0")/.."
size="${1:-1024}"
bin=build/release/runner/streamrun
dir="${BENCH_DIR:-/tmp/streamrun-bench}"
data="$dir/clicks-${size}mb.jsonl"
mkdir -p "$(dirname "$data")"
[ -f "$data" ] || scripts/make-clicks.py "$data" "$size"
echo "input: $data ($(du -h "$data" | cut -f1), $(wc -l <"$data") records)"
out=$dir/out.jsonl
# The same pipeline writing to a file instead of discarding.
sed 's#type: "null"#type: file\n    path: '"$out"'#' pipelines/passthrough_bench.yaml >"$dir/to_file.yaml"
for p in pipelines/passthrough_bench.yaml "$dir/to_file.yaml"; do
  CLICKS_FILE="$data" /usr/bin/time -f "peak RSS %M KB, %e s wall, %U s user" \
    "$bin" run "$p" 2>&1 | grep -E "records read|peak RSS" | sed "s#^#[$(basename "$p")] #"
done
rm -f "$out"
