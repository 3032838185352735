#!/usr/bin/env bash
# /metrics scraped by a real Prometheus (Debian's package), started here:
#   live:   the clickstream job on the embedded broker (Kafka source, key_by,
#           window, top_n), checkpoints every second, a raw sink straight
#           from the source;
#   flood:  a generator as fast as it can go into a window without a key,
#           which gathers every record on worker 0: worker 1's queue to it
#           fills, so backpressure shows.
# Checks (metrics_check.py): every metric of docs/metrics.md is there,
# `promtool check metrics` is clean, consumer lag, watermark lag,
# backpressure, checkpoint and latency metrics move, and every query of the
# shipped dashboard and alert rules returns data. Also the plugin metrics of a
# plugin operator and a bad listen address.
# Usage: metrics.sh STREAMRUN [BUILD_DIR]
set -euo pipefail
bin="$1"
build="${2:+$(cd "$2" && pwd)}"
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [ -n "${KEEP:-}" ] || rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "metrics: $*"
  for f in "$dir"/*.err; do [ -f "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() {
  for _ in $(seq 300); do curl -sf "$1" >/dev/null 2>&1 && return 0; sleep 0.1; done
  fail "nothing answers at $1"
}

live_port=$(free_port)
flood_port=$(free_port)
prom_port=$(free_port)

cat >"$dir/live.yaml" <<YAML
name: metrics-live
runtime:
  parallelism: 2
  checkpoint: { storage: "file://$dir/ckpt", interval: 1s }
  metrics: { listen: "127.0.0.1:$live_port" }
sources:
  clicks:
    type: kafka
    brokers: embedded
    topic: clicks
    simulate: { kind: clicks, rate: 2000/s, out_of_order: "0.05:1s" }
    event_time: { field: ts, watermark: { max_out_of_orderness: 2s } }
transforms:
  page_counts:
    input: clicks
    steps:
      - filter: "page_url is not null"
      - key_by: page_url
      - window: { tumbling: 2s, aggregate: { clicks: count() } }
      - top_n: { n: 10, by: clicks, order: desc }
sinks:
  top: { type: file, path: "$dir/top.jsonl", input: page_counts, preview: true }
  raw: { type: "null", input: clicks }
YAML
cat >"$dir/flood.yaml" <<YAML
name: metrics-flood
runtime:
  parallelism: 2
  metrics: { listen: "127.0.0.1:$flood_port" }
sources:
  clicks: { type: generate, kind: clicks, partitions: 2 }
transforms:
  per_second:
    input: clicks
    steps:
      - window: { tumbling: 1s, aggregate: { n: count() } }
sinks:
  out: { type: "null", input: per_second }
YAML

# A listen address that cannot be bound is a clear error before the run.
cat >"$dir/taken.yaml" <<YAML
name: metrics-taken
runtime:
  metrics: { listen: "192.0.2.1:9249" }
sources:
  in: { type: generate, kind: clicks, count: 10 }
sinks:
  out: { type: "null", input: in }
YAML
set +e
"$bin" run -q "$dir/taken.yaml" >"$dir/taken.out" 2>"$dir/taken.err"
rc=$?
set -e
[ "$rc" -eq 1 ] || fail "an address not of this machine: exit $rc, want 1"
grep -q "runtime.metrics.listen: cannot listen on 192.0.2.1:9249" "$dir/taken.err" || fail "no clear error: $(cat "$dir/taken.err")"

"$bin" run "$dir/live.yaml" >"$dir/live.out" 2>"$dir/live.err" &
pids+=($!)
"$bin" run "$dir/flood.yaml" >"$dir/flood.out" 2>"$dir/flood.err" &
pids+=($!)
wait_http "http://127.0.0.1:$live_port/metrics"
wait_http "http://127.0.0.1:$flood_port/metrics"

cat >"$dir/prometheus.yml" <<YAML
global: { scrape_interval: 1s, evaluation_interval: 1s }
rule_files: ["$root/deploy/prometheus/alerts.yml"]
scrape_configs:
  - job_name: streamrun
    static_configs:
      - targets: ["127.0.0.1:$live_port", "127.0.0.1:$flood_port"]
YAML
promtool check config "$dir/prometheus.yml" >/dev/null || fail "promtool check config"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" >"$dir/prometheus.err" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$prom_port/-/ready"

# promtool's lint of a live scrape (and of one a few seconds on).
curl -sf "http://127.0.0.1:$live_port/metrics" >"$dir/scrape1.txt"
promtool check metrics <"$dir/scrape1.txt" || fail "promtool check metrics (live): $(promtool check metrics <"$dir/scrape1.txt" 2>&1 | head)"
curl -sf "http://127.0.0.1:$flood_port/metrics" | promtool check metrics || fail "promtool check metrics (flood)"

python3 "$here/metrics_check.py" "http://127.0.0.1:$prom_port" "$root" "$dir" || fail "see above"
curl -sf "http://127.0.0.1:$live_port/metrics" | promtool check metrics || fail "promtool check metrics (later)"

# Plugin operators' own counters and gauges go to /metrics too.
if [ -n "$build" ] && [ -f "$build/plugins/libfraud.so" ]; then
  plugin_port=$(free_port)
  cat >"$dir/plugin.yaml" <<YAML
name: metrics-plugin
plugins: ["$build/plugins/libfraud.so"]
runtime:
  metrics: { listen: "127.0.0.1:$plugin_port" }
sources:
  transactions: { type: generate, kind: transactions, rate: 500/s }
transforms:
  scored:
    input: transactions
    steps:
      - key_by: card_id
      - fraud_score: { model: "$root/pipelines/data/fraud_model.json", threshold: 0.5, spike_ratio: 10 }
sinks:
  out: { type: "null", input: scored }
YAML
  "$bin" run "$dir/plugin.yaml" >"$dir/plugin.out" 2>"$dir/plugin.err" &
  pids+=($!)
  wait_http "http://127.0.0.1:$plugin_port/metrics"
  ok=""
  for _ in $(seq 50); do
    if curl -sf "http://127.0.0.1:$plugin_port/metrics" | grep '^streamrun_plugin_events_total{' |
      grep 'operator="scored"' | grep -q 'name="transactions_scored"'; then
      ok=1
      break
    fi
    sleep 0.2
  done
  [ -n "$ok" ] || fail "no streamrun_plugin_events_total of the plugin: $(curl -s "http://127.0.0.1:$plugin_port/metrics" | grep plugin)"
fi

# SIGTERM: the runs stop cleanly (a final checkpoint), and the servers with them.
kill -TERM "${pids[0]}" "${pids[1]}"
wait "${pids[0]}" || fail "the live run did not stop cleanly"
wait "${pids[1]}" || fail "the flood run did not stop cleanly"
echo "metrics: ok"
