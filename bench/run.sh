#!/usr/bin/env bash
# The Nexmark benchmark, in-process mode (as Flink's Nexmark setup: the
# generator is the source, a discard sink): q0, q1, q2, q5, q7, q11 and the
# seed's clickstream top 10, each over EVENTS events (default 5 million) with
# event time at EVENT_RATE (default 100000/s), at parallelism 1 and 2.
# Prints a Markdown table (events/s, CPU seconds, events/s per core, peak RSS)
# and, with --write, puts it in docs/benchmarks.md between its markers.
# Usage: bench/run.sh [--write] [QUERY ...]
set -euo pipefail
cd "$(dirname "$0")/.."
write=0
if [ "${1:-}" = "--write" ]; then
  write=1
  shift
fi
queries=("$@")
[ ${#queries[@]} -gt 0 ] || queries=(q0 q1 q2 q5 q7 q11 clickstream)
bin=build/release/runner/streamrun
[ -x "$bin" ] || scripts/build.sh release streamrun >/dev/null
cmake --build build/release --target clickstream_baseline >/dev/null
export EVENTS="${EVENTS:-5000000}" EVENT_RATE="${EVENT_RATE:-100000/s}"
table="| query | workers | events/s | CPU s | events/s per core | peak RSS |
|---|---|---|---|---|---|"
for q in "${queries[@]}"; do
  for p in 1 2; do
    out=$(PARALLELISM=$p /usr/bin/time -f "TIME %e %U %S %M" "$bin" run "bench/nexmark/$q.yaml" 2>&1 >/dev/null) ||
      { echo "$out"; exit 1; }
    row=$(echo "$out" | awk -v q="$q" -v p="$p" -v n="$EVENTS" '
      /^TIME/ { wall = $2; cpu = $3 + $4; rss = $5 }
      END { printf "| %s | %d | %.0f | %.2f | %.0f | %.0f MB |", q, p, n / wall, cpu, n / cpu, rss / 1024 }')
    echo "$row" >&2
    table+=$'\n'"$row"
  done
done
# The hand-written clickstream job on the same generated input, for the ratio.
baseline=""
for q in "${queries[@]}"; do
  [ "$q" = clickstream ] || continue
  rate=${EVENT_RATE%/s}
  b=$(build/release/bench/clickstream_baseline "$EVENTS" "$rate" | sed -n 's/.*(\([0-9]*\) events\/s).*/\1/p')
  s=$(echo "$table" | awk -F'|' '$2 ~ /clickstream/ && $3 ~ /1/ {gsub(/ /, "", $4); print $4}')
  baseline="Hand-written clickstream baseline (bench/baseline/clickstream_baseline.cc, plain C++ and simdjson, one thread): $b events/s; streamrun at 1 worker: $s events/s, $(awk -v s="$s" -v b="$b" 'BEGIN { printf "%.2f", s / b }') of it."
done
header="Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $(date -u +%Y-%m-%d); \`EVENTS=$EVENTS EVENT_RATE=$EVENT_RATE bench/run.sh\`; in-process Nexmark generator (JSON text, decoded by the source), discard sink."
echo
echo "$header"
echo
echo "$table"
[ -z "$baseline" ] || printf '\n%s\n' "$baseline"
if [ $write -eq 1 ]; then
  python3 - "$header" "$table" "$baseline" <<'PY'
import sys
path = "docs/benchmarks.md"
text = open(path).read()
begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
a, b = text.index(begin) + len(begin), text.index(end)
extra = ("\n" + sys.argv[3] + "\n") if sys.argv[3] else ""
open(path, "w").write(text[:a] + "\n" + sys.argv[1] + "\n\n" + sys.argv[2] + "\n" + extra + text[b:])
PY
fi
