#!/usr/bin/env bash
# Memory per open key and window: KEYS distinct keys (default 1 million), one
# event each within one second of event time, so every key's window is open
# at once when the input ends. Run for a q11-style session (10 s gap; count, min
# and max), a 10 s tumbling count and a 10 s window sliding by 2 s (5 windows
# per key), each compared with the same job over 1,000 keys. Reports the
# peak RSS and the bytes per open (key, window): (RSS - RSS of 1,000 keys) /
# open windows. Prints a Markdown table.
# One worker (P=1) by default: with more, the measure also holds the rows the
# workers fire at the end of the input, waiting in the exchange for the one
# worker that writes the sink (output, not state).
# Usage: [KEYS=N] [P=N] [BACKEND=memory|rocksdb] [CACHE=64MB] [JOBS="session tumbling sliding"]
#        bench/state_size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/release/runner/streamrun
[ -x "$bin" ] || scripts/build.sh release streamrun >/dev/null
keys="${KEYS:-1000000}"
workers="${P:-1}"
backend="${BACKEND:-memory}"
cache="${CACHE:-256MB}"  # rocksdb: hot keys per worker and step
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
for n in 1000 "$keys"; do
  python3 - "$n" "$dir/keys-$n.jsonl" <<'PY'
import sys
n, path = int(sys.argv[1]), sys.argv[2]
base = 1767225600000
with open(path, "w") as f:
    for i in range(n):
        f.write('{"bidder":%d,"price":%d,"dateTime":%d,"ts":%d}\n' % (1000 + i, 100 + i % 997, base + i * 1000 // n, base + i * 1000 // n))
PY
done
table="| state | open (key, window) | peak RSS | RSS over 1,000 keys | bytes per open (key, window) |
|---|---|---|---|---|"
for job in ${JOBS:-session tumbling sliding}; do
  case $job in
    session) window='{ session: 10s, aggregate: { bids: count(), first: min(dateTime), last: max(dateTime) } }'; per_key=1 ;;
    tumbling) window='{ tumbling: 10s, aggregate: { bids: count() } }'; per_key=1 ;;
    sliding) window='{ sliding: 10s, slide: 2s, aggregate: { bids: count() } }'; per_key=5 ;;
  esac
  rss=()
  for n in 1000 "$keys"; do
    cat >"$dir/$job.yaml" <<YAML
name: state-size-$job
runtime:
  state: { backend: $backend, cache: $cache$([ "$backend" = rocksdb ] && echo ", path: $dir/state") }
sources:
  bids:
    type: file
    path: $dir/keys-$n.jsonl
    event_time: { field: ts, watermark: { max_out_of_orderness: 0s } }
transforms:
  q:
    input: bids
    steps:
      - key_by: bidder
      - window: $window
sinks:
  discard: { input: q, type: "null" }
YAML
    out=$(/usr/bin/time -f "RSS %M" "$bin" run -p "$workers" "$dir/$job.yaml" 2>&1 >/dev/null) || { echo "$out"; exit 1; }
    rss+=("$(echo "$out" | awk '/^RSS/ { print $2 }')")
  done
  row=$(awk -v job="$job" -v k="$keys" -v w="$per_key" -v small="${rss[0]}" -v big="${rss[1]}" 'BEGIN {
    open = k * w
    printf "| %s | %d | %.0f MB | %.0f MB | %.0f |", job, open, big / 1024, (big - small) / 1024, (big - small) * 1024 / open }')
  echo "$row" >&2
  table+=$'\n'"$row"
done
echo
echo "Machine: $(nproc) cores; $(date -u +%Y-%m-%d); \`KEYS=$keys P=$workers BACKEND=$backend bench/state_size.sh\`; $backend state backend$([ "$backend" = rocksdb ] && echo " with a $cache cache"), $workers worker(s)."
echo
echo "$table"
