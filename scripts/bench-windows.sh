#!/usr/bin/env bash
# Windowed throughput and memory: key_by -> 5 s tumbling count -> top_n 10 over
# COUNT events (default 10 million) at parallelism 1 and 2, to the null sink.
# Usage: scripts/bench-windows.sh [COUNT]
set -euo pipefail
cd "$(dirname "$0")/.."
count="${1:-10000000}"
bin=build/release/runner/streamrun
dir="${BENCH_DIR:-/tmp/streamrun-bench}"
mkdir -p "$dir"
data="$dir/clicks-${count}.jsonl"
if [ ! -f "$data" ]; then
  # make-clicks.py writes by size; ~135 bytes a record.
  scripts/make-clicks.py "$data.tmp" $(( count * 136 / 1048576 + 1 ))
  head -n "$count" "$data.tmp" >"$data"
  rm -f "$data.tmp"
fi
echo "input: $data ($(du -h "$data" | cut -f1), $(wc -l <"$data") events)"
# The demo pipeline with its console sink swapped for the null sink.
python3 - pipelines/clicks_top10_file.yaml "$dir/windows-null.yaml" <<'PY'
import sys
text = open(sys.argv[1]).read()
text = text[: text.index("sinks:")] + "sinks:\n  screen: { input: top_pages, type: \"null\" }\n"
open(sys.argv[2], "w").write(text)
PY
for p in 1 2; do
  out=$(CLICKS_FILE="$data" PARALLELISM=$p /usr/bin/time -f "peak RSS %M KB, %e s wall, %U s user, %S s sys" \
    "$bin" run "$dir/windows-null.yaml" 2>&1) || { echo "$out"; exit 1; }
  echo "$out" | grep -E "records read|peak RSS" | sed "s/^/[parallelism $p] /"
done
