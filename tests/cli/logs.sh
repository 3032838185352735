#!/usr/bin/env bash
# The log (docs/metrics.md "Logs"): --log-level and --log-format on a run
# whose pipeline file holds credentials (a Kafka sink's sasl.password, another
# from the environment) and with AWS_SECRET_ACCESS_KEY set. Text lines carry
# their time, level and pipeline; JSON lines parse, one object each, with the
# pipeline, level, message, and the worker and operator where known;
# --log-level error writes no info line; a wrong level or format exits 2; and
# no secret appears anywhere in what the commands print.
# Usage: logs.sh STREAMRUN
set -euo pipefail
bin="$1"
here=$(cd "$(dirname "$0")" && pwd)
data="$here/../../pipelines/data/clicks.jsonl"
dir=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$dir"' EXIT
fail() {
  echo "logs: $*"
  exit 1
}

secret="hunter2-secret-value"
export LOG_TEST_KEY_PASSWORD="k3y-pass-from-env"
export AWS_SECRET_ACCESS_KEY="aws-secret-access-key-0123"
cat >"$dir/p.yaml" <<YAML
name: logs-test
runtime:
  parallelism: 2
  checkpoint: { interval: 1h, storage: "file://$dir/ckpt" }
sources:
  clicks: { type: file, path: "$data", event_time: { field: ts } }
sinks:
  out: { input: clicks, type: file, path: "$dir/out.jsonl" }
  k:
    input: clicks
    type: kafka
    brokers: embedded
    topic: logs
    properties:
      sasl.password: "$secret"
      ssl.key.password: "\${LOG_TEST_KEY_PASSWORD}"
YAML

# 1. Text at trace: a first run with its final checkpoint, a second that restores it.
"$bin" run "$dir/p.yaml" -q --log-level trace >"$dir/text.out" 2>"$dir/text.err" || {
  cat "$dir/text.err"
  fail "the text run failed"
}
[ "$(wc -l <"$dir/out.jsonl")" -eq 500 ] || fail "the run did not write the 500 records of $data"
"$bin" run "$dir/p.yaml" -q --log-level trace --log-format text >>"$dir/text.out" 2>>"$dir/text.err" ||
  fail "the restoring text run failed"
time_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
bad=$(grep -cvE "$time_re (trace|debug|info|warn|error) logs-test( w[0-9]+)?( [^ :]+)?: " "$dir/text.err" || true)
[ "$bad" -eq 0 ] || { cat "$dir/text.err"; fail "$bad text lines are not TIME LEVEL PIPELINE[ wN][ OPERATOR]: MESSAGE"; }
grep -qE "$time_re info logs-test: checkpoint 1 complete: [0-9]+ bytes .* written in [0-9.]+ ms" "$dir/text.err" ||
  fail "no info line for the completed checkpoint"
grep -qE "$time_re info logs-test: restored checkpoint 1 from " "$dir/text.err" || fail "no info line for the restore"
grep -qE "$time_re debug logs-test w1: worker started" "$dir/text.err" || fail "no line of worker 1"
grep -qE "$time_re debug logs-test k: transaction .* committed for checkpoint 1: 500 records" "$dir/text.err" ||
  fail "no debug line of sink k's transaction"
# The run read the file that holds the secrets, and would have shown them.
grep -q "sinks.k.properties.sasl.password=\*\*\*, sinks.k.properties.ssl.key.password=\*\*\*" "$dir/text.err" ||
  { cat "$dir/text.err"; fail "the debug line of the pipeline file does not show the masked credentials"; }
echo "logs: text lines at trace: time, level, pipeline, worker, operator"

# 2. JSON at trace.
rm -rf "$dir/ckpt"
"$bin" run "$dir/p.yaml" -q --log-level trace --log-format json >"$dir/json.out" 2>"$dir/json.err" ||
  fail "the json run failed"
python3 - "$dir/json.err" <<'PY' || fail "json lines"
import json, sys
lines = open(sys.argv[1], encoding="utf-8").read().splitlines()
if not lines:
    sys.exit("no json line")
objs = []
for n, line in enumerate(lines, 1):
    try:
        o = json.loads(line)
    except ValueError as e:
        sys.exit(f"line {n} is not JSON ({e}): {line}")
    for key in ("time", "level", "pipeline", "message"):
        if key not in o:
            sys.exit(f"line {n} has no {key}: {line}")
    if o["pipeline"] != "logs-test" or o["level"] not in ("trace", "debug", "info", "warn", "error"):
        sys.exit(f"line {n}: {line}")
    objs.append(o)
workers = {o["worker"] for o in objs if o["message"] == "worker started"}
if workers != {0, 1}:
    sys.exit(f"'worker started' lines name workers {workers}, not 0 and 1")
if not any(o["level"] == "info" and o["message"].startswith("checkpoint 1 complete:") for o in objs):
    sys.exit("no info line for the checkpoint")
if not any(o.get("operator") == "k" and "committed for checkpoint 1" in o["message"] for o in objs):
    sys.exit("no line of operator k")
if not any("sasl.password=***" in o["message"] for o in objs):
    sys.exit("no line shows the masked sasl.password")
PY
echo "logs: json lines parse, with pipeline, level, message, worker and operator"

# 3. --log-level error: not one info line (nothing goes wrong: nothing at all).
rm -rf "$dir/ckpt"
"$bin" run "$dir/p.yaml" -q --log-level error >"$dir/error.out" 2>"$dir/error.err" || fail "the error-level run failed"
[ ! -s "$dir/error.err" ] || { cat "$dir/error.err"; fail "--log-level error printed lines"; }
"$bin" run "$dir/p.yaml" -q --log-level error --log-format json >>"$dir/error.out" 2>>"$dir/error.err" ||
  fail "the error-level json run failed"
grep -q '"level":"info"\| info ' "$dir/error.err" && fail "--log-level error printed an info line"
# Without -q the summary is still printed: it is the command's output, not a log line.
"$bin" run "$dir/p.yaml" --log-level off >"$dir/summary.out" 2>"$dir/summary.err" || fail "the off-level run failed"
grep -q "^streamrun: pipeline 'logs-test' done" "$dir/summary.err" || fail "--log-level off hid the summary"
echo "logs: --log-level error and off print no info line; the summary stays"

# 4. Wrong values exit 2 with a message naming the flag.
for args in "run $dir/p.yaml --log-level verbose" "$dir/p.yaml --log-format xml" "test $dir --log-level loud" \
  "savepoint $dir/p.yaml $dir/sp --log-format yaml"; do
  status=0
  # shellcheck disable=SC2086
  "$bin" $args >"$dir/bad.out" 2>"$dir/bad.err" || status=$?
  [ $status -eq 2 ] || fail "'$args': expected exit 2, got $status"
  grep -q -- "--log-\(level\|format\)" "$dir/bad.err" || { cat "$dir/bad.err"; fail "'$args': no message naming the flag"; }
done
echo "logs: a wrong --log-level or --log-format exits 2"

# 5. No secret anywhere in what the commands printed.
for value in "$secret" "$LOG_TEST_KEY_PASSWORD" "$AWS_SECRET_ACCESS_KEY"; do
  if grep -rlF -- "$value" "$dir"/*.out "$dir"/*.err; then
    fail "a secret was printed"
  fi
done
echo "logs: no credential in any output"
