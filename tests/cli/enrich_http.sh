#!/usr/bin/env bash
# enrich_http against a local HTTP server that answers slowly, fails, times
# out and drops connections (http_server.py): every record is enriched,
# retried or dead-lettered; with `ordered: true` records leave in the order
# they came; killed with SIGKILL and restored (at another parallelism), the
# enriched and the dead-lettered records equal an uninterrupted run's: none
# lost, none twice.
# With BUILD_DIR, also a plugin's HTTP requests run by the host
# (tests/plugins/abi/async_lookup.cc): retried by the plugin, in order.
# Usage: enrich_http.sh STREAMRUN [BUILD_DIR]
set -euo pipefail
bin="$1"
build="${2:+$(cd "$2" && pwd)}"
here=$(cd "$(dirname "$0")" && pwd)
kills="${KILLS:-3}"
dir=$(mktemp -d)
pid=""
server=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; [ -n "$server" ] && kill "$server" 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
# shellcheck source=kill_restart.sh
. "$here/kill_restart.sh"
fail() {
  echo "enrich_http: $*"
  exit 1
}

# A fresh server (its attempt counts start at zero: every run meets the same failures).
start_server() {
  [ -n "$server" ] && kill "$server" && wait "$server" 2>/dev/null || true
  rm -f "$dir/port"
  python3 "$here/http_server.py" --port-file "$dir/port" --latency-ms "$1" &
  server=$!
  for _ in $(seq 100); do [ -s "$dir/port" ] && break; sleep 0.05; done
  port=$(cat "$dir/port")
}
start_server 20

# 1. Every kind of misbehaviour, ordered, one worker: the rows in input order,
# each with the score the server computes, the permanent failures dead-lettered.
python3 - "$dir/in.jsonl" <<'PY'
import json, sys
modes = ["ok", "fail2", "drop2", "slow2", "ok", "notfound", "badjson", "array", "ok", "fail"]
with open(sys.argv[1], "w") as f:
    for i in range(200):
        f.write(json.dumps({"id": f"r{i}", "mode": modes[i % len(modes)], "ts": 1000 * i}) + "\n")
PY
cat >"$dir/ordered.yaml" <<YAML
name: enrich-ordered
runtime:
  errors: { policy: dead_letter, sink: dlq }
sources:
  in: { type: file, path: "$dir/in.jsonl", event_time: { field: ts } }
transforms:
  t:
    input: in
    steps:
      - enrich_http:
          url: "concat('http://127.0.0.1:$port/score?id=', id, '&mode=', mode)"
          fields: [score]
          timeout: 500ms
          backoff: 20ms
          retries: 2
          max_in_flight: 64
sinks:
  out: { type: file, path: "$dir/ordered.out", input: t }
  dlq: { type: file, path: "$dir/ordered.dlq" }
YAML
"$bin" run -q -p 1 "$dir/ordered.yaml" 2>"$dir/err" || fail "ordered run: $(cat "$dir/err")"
python3 - "$dir/in.jsonl" "$dir/ordered.out" "$dir/ordered.dlq" <<'PY' || exit 1
import json, sys
rows = [json.loads(l) for l in open(sys.argv[2])]
dlq = [json.loads(l) for l in open(sys.argv[3])]
inputs = [json.loads(l) for l in open(sys.argv[1])]
permanent = {"notfound", "badjson", "array", "fail"}
want = [r["id"] for r in inputs if r["mode"] not in permanent]
got = [r["id"] for r in rows]
assert got == want, f"enrich_http: ordered output: {got[:10]}... expected {want[:10]}..."
for r in rows:
    assert r["score"] == sum(r["id"].encode()) % 1000, f"enrich_http: wrong score in {r}"
failed = sorted(json.loads(d["raw"])["id"] for d in dlq)
assert failed == sorted(r["id"] for r in inputs if r["mode"] in permanent), f"enrich_http: dead letters {failed}"
reasons = " ".join(d["error"] for d in dlq)
for text in ["HTTP 404", "not a JSON object", "HTTP 500", "(after 3 attempts)"]:
    assert text in reasons, f"enrich_http: no dead letter says '{text}'"
print(f"enrich_http: ordered: {len(rows)} rows in input order (retried through 503s, drops and timeouts), "
      f"{len(dlq)} dead-lettered (404, not JSON, an array, 500 after 3 attempts)")
PY

# 2. Killed and restored: a paced generated stream, unordered, requests that
# fail, drop and time out at random; two workers then one.
pipeline() {
  cat >"$dir/$1.yaml" <<YAML
name: enrich-crash-$1
runtime:
  errors: { policy: dead_letter, sink: dlq }
  checkpoint: { interval: 300ms, storage: "file://$dir/ckpt-$1", retain: 2 }
sources:
  clicks: { type: generate, kind: clicks, count: 6000, rate: 2000/s, seed: 5, partitions: 2 }
transforms:
  t:
    input: clicks
    steps:
      - enrich_http:
          url: "concat('http://127.0.0.1:$port/score?id=', user_id, '-', ts, '&mode=', if(ts % 97 == 0, 'notfound', 'random'))"
          fields: [score]
          timeout: 300ms
          backoff: 20ms
          retries: 3
          max_in_flight: 200
          ordered: false
      - select: [user_id, ts, page_url, score]
sinks:
  out: { type: file, path: "$dir/$1.out", input: t }
  dlq: { type: file, path: "$dir/$1.dlq" }
YAML
}
pipeline reference
sed -i '/checkpoint:/d' "$dir/reference.yaml"
"$bin" run -q -p 2 "$dir/reference.yaml" 2>"$dir/err" || fail "reference run: $(cat "$dir/err")"
# The dead letters' URLs carry the server's port.
normalize() { sed -E 's/127.0.0.1:[0-9]+/SERVER/g' "$1" | sort; }
normalize "$dir/reference.out" >"$dir/reference.sorted"
normalize "$dir/reference.dlq" | sed -E 's/"error":"[^"]*",//' >"$dir/reference.dlq.sorted"
[ "$(wc -l <"$dir/reference.out")" -gt 5000 ] || fail "the reference run wrote $(wc -l <"$dir/reference.out") rows"
[ "$(wc -l <"$dir/reference.dlq")" -gt 20 ] || fail "the reference run dead-lettered $(wc -l <"$dir/reference.dlq")"

name=crash
start_server 20
pipeline "$name"
kill_restart "$bin" "$dir/$name.yaml" "$dir/$name.err" "$kills" 2 1 || fail "the killed job"
killed=$kill_restart_kills
normalize "$dir/$name.out" >"$dir/$name.sorted"
normalize "$dir/$name.dlq" | sed -E 's/"error":"[^"]*",//' >"$dir/$name.dlq.sorted"
cmp -s "$dir/$name.sorted" "$dir/reference.sorted" ||
  fail "after $killed kills the rows differ: missing $(comm -13 "$dir/$name.sorted" "$dir/reference.sorted" | wc -l)," \
    "extra $(comm -23 "$dir/$name.sorted" "$dir/reference.sorted" | wc -l)"
cmp -s "$dir/$name.dlq.sorted" "$dir/reference.dlq.sorted" ||
  fail "after $killed kills the dead letters differ: $(diff "$dir/$name.dlq.sorted" "$dir/reference.dlq.sorted" | head -5)"
restored=$(grep -c "restored checkpoint" "$dir/$name.err" || true)
[ "$restored" -ge 1 ] || fail "no run restored a checkpoint: $(tail -5 "$dir/$name.err")"
echo "enrich_http: $killed kills, $restored restores: $(wc -l <"$dir/$name.out") enriched and" \
  "$(wc -l <"$dir/$name.dlq") dead-lettered records, equal to the uninterrupted run (0 lost, 0 twice)"

# 3. A plugin operator's HTTP requests, run by the host (a plugin retries
# what failed from on_async_complete): every record answered, in order.
if [ -n "$build" ]; then
  start_server 10
  cat >"$dir/plugin.yaml" <<YAML
name: plugin-http
plugins: [ "$build/tests/plugins/abi/libasync_lookup.so" ]
sources:
  in: { type: file, path: "$dir/in.jsonl", event_time: { field: ts } }
transforms:
  t:
    input: in
    steps:
      - filter: "mode in ['ok', 'fail2', 'drop2', 'slow2']"
      - key_by: id
      - async_lookup: { url: "http://127.0.0.1:$port/score" }
sinks:
  out: { type: file, path: "$dir/plugin.out", input: t }
YAML
  "$bin" run -q -p 1 "$dir/plugin.yaml" 2>"$dir/err" || fail "plugin HTTP run: $(cat "$dir/err")"
  python3 - "$dir/in.jsonl" "$dir/plugin.out" <<'PY' || exit 1
import json, sys
inputs = [json.loads(l) for l in open(sys.argv[1])]
rows = [json.loads(l) for l in open(sys.argv[2])]
want = [r["id"] for r in inputs if r["mode"] in ("ok", "fail2", "drop2", "slow2")]
assert [r["id"] for r in rows] == want, "enrich_http: the plugin's rows are not all there in order"
for r in rows:
    assert r["answer"] == str(sum(r["id"].encode()) % 1000), f"enrich_http: wrong answer in {r}"
print(f"enrich_http: a plugin's host-run HTTP requests: {len(rows)} records answered in order (retried by the plugin)")
PY
fi
