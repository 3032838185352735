#!/usr/bin/env bash
# The Nexmark benchmark through the embedded broker, JSON on both ends: the
# queries of bench/nexmark/*.yaml with their generate source swapped for a Kafka
# source and their discard sink for a Kafka sink. `streamrun kafka` runs as its
# own process (on the same cores, as a broker on the same host would).
# 1. Throughput: KAFKA_EVENTS events (default 2 million) are produced to a topic
#    first; each query then reads it bounded (to the end offsets) at parallelism 1
#    and 2. The ceiling is a bare consumer, `kcat -C`, draining the same topic.
# 2. Latency: a paced producer (`streamrun generate --rate R --start-time now`,
#    so event time is wall-clock time) writes for LATENCY_SECONDS (default 6; at
#    least 18 s for q7's 10 s windows and q11's 10 s gaps, 10 s for
#    clickstream's 5 s windows) at LATENCY_PERCENTS (default "50 80") percent
#    of the query's rate at parallelism 2 while the job runs unbounded. Latency is
#    the output message's timestamp (the sink's produce time) minus the event time
#    it stands for: the record's own time for q0 and q1, the window's end for the
#    windowed queries. The first 2 s are warm-up. q2's output carries no time.
# Prints Markdown tables; with --write puts them in docs/benchmarks.md between
# its bench-kafka markers.
# bench/run.sh calls it with fewer events, a query subset and 50% only.
# Usage: bench/kafka.sh [--write] [QUERY ...]
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
events="${KAFKA_EVENTS:-2000000}"
seconds="${LATENCY_SECONDS:-6}"
event_rate="${EVENT_RATE:-100000/s}"
read -r -a percents <<<"${LATENCY_PERCENTS:-50 80}"
# The command line as given, for the header of the tables.
command="KAFKA_EVENTS=$events LATENCY_SECONDS=$seconds LATENCY_PERCENTS=\"${percents[*]}\" bench/kafka.sh ${queries[*]}"
# The embedded broker keeps the newest 5 MB of a partition: 160 partitions hold
# 800 MB, more than 2 million Nexmark events (about 300 bytes each).
partitions=160
dir=$(mktemp -d)
broker=""
cleanup() {
  [ -z "$broker" ] || kill "$broker" 2>/dev/null || true
  jobs -p | xargs -r kill 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

topics=(--topic nexmark --topic clicks)
for q in "${queries[@]}"; do
  topics+=(--topic "out-$q-1" --topic "out-$q-2")
  for pct in "${percents[@]}"; do topics+=(--topic "lat-in-$q-$pct" --topic "lat-out-$q-$pct"); done
done
"$bin" kafka --partitions "$partitions" "${topics[@]}" --bootstrap-file "$dir/bootstrap" >/dev/null 2>"$dir/broker.err" &
broker=$!
for _ in $(seq 300); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
[ -s "$dir/bootstrap" ] || { echo "streamrun kafka did not start (alive: $(kill -0 "$broker" 2>&1 && echo yes)):"; ls -la "$dir"; cat "$dir/broker.err"; exit 1; }
brokers=$(cat "$dir/bootstrap")

kind_of() { [ "$1" = clickstream ] && echo clicks || echo nexmark; }
seconds_of() {  # wall seconds of "$@"
  local start
  start=$(date +%s.%N)
  "$@" || exit 1
  awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.3f", b - a }'
}

# The query's pipeline with a Kafka source (topic $3, bounded $4) and sink (topic
# $5), named after the sink topic (a consumer group of its own).
kafka_pipeline() {
  python3 - "bench/nexmark/$1.yaml" "$2" "$3" "$4" "$5" "$brokers" <<'PY'
import sys
path, out, topic, bounded, sink_topic, brokers = sys.argv[1:]
text = open(path).read()
source = f"""sources:
  events:
    type: kafka
    brokers: "{brokers}"
    topic: {topic}
    bounded: {bounded}
    start: earliest
    event_time:
      field: ts
      watermark:
        max_out_of_orderness: 0s
"""
sink = f"""sinks:
  out:
    input: q
    type: kafka
    brokers: "{brokers}"
    topic: {sink_topic}
"""
import re
text = re.sub(r"^name: .*$", "name: bench-" + sink_topic, text, count=1, flags=re.M)
text = text[: text.index("sources:")] + source + text[text.index("transforms:") : text.index("sinks:")] + sink
open(out, "w").write(text)
PY
}

for kind in nexmark clicks; do
  need=0
  for q in "${queries[@]}"; do [ "$(kind_of "$q")" = "$kind" ] && need=1; done
  [ $need -eq 1 ] || continue
  s=$(seconds_of "$bin" generate "$kind" --count "$events" --event-time-rate "$event_rate" --topic "$kind" --brokers "$brokers")
  echo "produced $events $kind events in $s s" >&2
done

# The bare consumer's drain rate: the median of three runs.
drain=()
for kind in nexmark clicks; do
  [ "$kind" = nexmark ] || [[ " ${queries[*]} " == *" clickstream "* ]] || continue
  runs=()
  for _ in 1 2 3; do
    s=$(seconds_of sh -c "kcat -C -b '$brokers' -t $kind -e -q -f '%s\n' >/dev/null")
    runs+=("$(awk -v n="$events" -v s="$s" 'BEGIN { printf "%.0f", n / s }')")
  done
  rate=$(printf '%s\n' "${runs[@]}" | sort -n | sed -n 2p)
  drain+=("$kind=$rate")
  echo "kcat -C drains $kind at $rate events/s (${runs[*]})" >&2
done
drain_of() {
  local k
  k=$(kind_of "$1")
  for d in "${drain[@]}"; do [ "${d%%=*}" = "$k" ] && echo "${d#*=}"; done
}

table="| query | workers | events/s | CPU s | events/s per core | peak RSS | of kcat -C |
|---|---|---|---|---|---|---|"
declare -A max_rate
for q in "${queries[@]}"; do
  for p in 1 2; do
    kafka_pipeline "$q" "$dir/$q-$p.yaml" "$(kind_of "$q")" true "out-$q-$p"
    out=$(PARALLELISM=$p /usr/bin/time -f "TIME %e %U %S %M" "$bin" run "$dir/$q-$p.yaml" 2>&1 >/dev/null) ||
      { echo "$out"; exit 1; }
    read_n=$(echo "$out" | grep -o "done: [0-9]* records read" | awk '{print $2}')
    [ "$read_n" = "$events" ] || { echo "$q read ${read_n:-no} records of $events" >&2; echo "$out" >&2; exit 1; }
    row=$(echo "$out" | awk -v q="$q" -v p="$p" -v n="$events" -v d="$(drain_of "$q")" '
      /^TIME/ { wall = $2; cpu = $3 + $4; rss = $5 }
      END { printf "| %s | %d | %.0f | %.2f | %.0f | %.0f MB | %.2f |", q, p, n / wall, cpu, n / cpu, rss / 1024, n / wall / d }')
    echo "$row" >&2
    table+=$'\n'"$row"
    max_rate[$q]=$(echo "$row" | awk -F'|' '{gsub(/ /, "", $4); print $4}')
  done
done

# Latency at LATENCY_PERCENTS of the rate at parallelism 2.
latency="| query | input rate | events | results | p50 latency | p99 latency |
|---|---|---|---|---|---|"
for q in "${queries[@]}"; do
  case "$q" in
    q0) field=ts ;;
    q1) field=dateTime ;;
    q2) continue ;;
    *) field=window_end ;;
  esac
  # A window query needs a few of its windows to close within the run.
  run_seconds=$seconds
  [ "$q" != q7 ] && [ "$q" != q11 ] || run_seconds=$((seconds > 18 ? seconds : 18))
  [ "$q" != clickstream ] || run_seconds=$((seconds > 10 ? seconds : 10))
  for pct in "${percents[@]}"; do
    rate=$((max_rate[$q] * pct / 100))
    count=$((rate * run_seconds))
    kafka_pipeline "$q" "$dir/lat-$q-$pct.yaml" "lat-in-$q-$pct" false "lat-out-$q-$pct"
    PARALLELISM=2 "$bin" run "$dir/lat-$q-$pct.yaml" >/dev/null 2>"$dir/lat-$q-$pct.err" &
    job=$!
    sleep 2  # joins the group; it reads from the earliest offset anyway
    start_ms=$(($(date +%s%N) / 1000000))
    # A producer that cannot keep the rate is stopped after the run's time (plus 5 s):
    # its events then carry the times they were due, and the lag shows as latency.
    timeout $((run_seconds + 5)) "$bin" generate "$(kind_of "$q")" --rate "$rate/s" --start-time now \
      --count "$count" --topic "lat-in-$q-$pct" --brokers "$brokers" || [ $? -eq 124 ]
    sleep 2
    kill -INT $job
    wait $job || { cat "$dir/lat-$q-$pct.err" >&2; exit 1; }
    [ -z "${BENCH_DEBUG:-}" ] || tail -5 "$dir/lat-$q-$pct.err" >&2
    row=$(kcat -C -b "$brokers" -t "lat-out-$q-$pct" -e -q -f '%T %s\n' |
      awk -v f="\"$field\":" -v from=$((start_ms + 2000)) '{
          i = index($0, f); if (i == 0) next
          v = substr($0, i + length(f)) + 0
          if (v >= from) print $1 - v }' | sort -n |
      awk -v q="$q" -v r="$rate" -v pct="$pct" -v c="$count" '
        { l[NR] = $1 }
        END {
          if (NR == 0) { printf "| %s | %d/s (%d%%) | %d | 0 | - | - |", q, r, pct, c; exit }
          p50 = int((NR + 1) * 0.5); p99 = int(NR * 0.99); if (p99 < 1) p99 = 1
          printf "| %s | %d/s (%d%%) | %d | %d | %d ms | %d ms |", q, r, pct, c, NR, l[p50], l[p99] }')
    echo "$row" >&2
    latency+=$'\n'"$row"
  done
done

header="Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p'); $(date -u +%Y-%m-%d); \`$command\`; \`streamrun kafka\` (its own process, $partitions partitions per topic) on the same cores; JSON in, JSON out. Bare consumer \`kcat -C\` drain: ${drain[*]} events/s."
echo
echo "$header"
echo
echo "$table"
echo
echo "$latency"
if [ $write -eq 1 ]; then
  python3 - "$header" "$table" "$latency" <<'PY'
import sys
path = "docs/benchmarks.md"
text = open(path).read()
begin, end = "<!-- bench-kafka:begin -->", "<!-- bench-kafka:end -->"
a, b = text.index(begin) + len(begin), text.index(end)
open(path, "w").write(text[:a] + "\n" + sys.argv[1] + "\n\n" + sys.argv[2] + "\n\n" + sys.argv[3] + "\n" + text[b:])
PY
fi
