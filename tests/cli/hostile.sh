#!/usr/bin/env bash
# Hostile records and configurations (docs/trust-and-limits.md): nothing
# crashes the process or passes through unchecked.
# 1. A corpus of bad records mixed with good ones, under each error policy:
#    regexes that overflow std::regex's stack or backtrack for seconds, JSON
#    malformed in a field no step reads, a byte order mark, event times that
#    overflow, an integer sum that overflows, deep nesting. fail: exit 1 naming
#    the first bad record; skip: every bad record counted; dead_letter: every
#    bad record in the dead-letter file with its raw bytes; good records out.
# 2. Configurations that would crash or exhaust the machine are refused (exit 2)
#    with the limit in the message.
# 3. Stopping: SIGTERM is honoured within a second while stdin is idle; a stop
#    that waits on an unreachable broker gives up after --stop-timeout.
# Usage: hostile.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
pid=""
trap '[ -z "$pid" ] || kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "hostile: $*"; exit 1; }

python3 - <<'PY'
import json
rows = []   # good records (each its own key k, so each is one window row)
def g(**r): rows.append(json.dumps(r))
for i in range(20):
    g(k=f"g{i}", ts=1000 + i, word="ab" * 3, n=i)
# Hostile but valid: std::regex overflowed its stack on the first (20 KB for
# ^([a-z]|-)+$) and backtracked for seconds on the second (^(a+)+$); RE2 takes
# both in linear time.
g(k="regex-stack", ts=1030, word="a-" * 10000, n=1)
g(k="regex-backtrack", ts=1031, word="a" * 27 + "!", n=1)
# The first of two records of one key: its sum is the largest int...
g(k="ov", ts=1040, word="x", n=9223372036854775807)
bad = [
    '{"k":"bad-comma","ts":1050,"word":"x","n":1,"b":[1,2,3,]}',      # malformed, in a field no step reads
    '{"k":"bad-tru","ts":1051,"word":"x","n":1,"b":tru}',
    '{"k":"bad-secs","ts":9223372036854775,"word":"x","n":1}',       # seconds * 1000 overflows
    '{"k":"bad-min","ts":-9223372036854775808,"word":"x","n":1}',
    '{"k":"bad-deep","ts":1052,"word":"x","n":1,"d":' + "[" * 2000 + "]" * 2000 + "}",
    '{"k":"ov","ts":1041,"word":"x","n":1}',                          # ...the second overflows it
]
# A byte order mark before the first record is skipped, not an error.
lines = ["\ufeff" + rows[0]] + rows[1:12] + bad[:3] + rows[12:] + bad[3:]
open("in.jsonl", "w", encoding="utf-8").write("\n".join(lines) + "\n")
open("expect.txt", "w").write(f"{len(rows)} {len(bad)}\n")
PY
read -r good_n bad_n <expect.txt

# Regexes that std::regex could not run, an int sum whose overflow is a record
# error, epoch seconds whose * 1000 overflows.
pipeline() {  # POLICY EXTRA
  cat >"p-$1.yaml" <<YAML
name: hostile
runtime:
  parallelism: 2
  errors: { policy: $1 $2 }
sources:
  in: { type: file, path: in.jsonl, event_time: { field: ts, format: epoch_seconds } }
transforms:
  checked:
    input: in
    steps:
      - set: { stack: "regex_match(word, '^([a-z]|-)+\$')", backtrack: "regex_match(word, '^(a+)+\$')" }
      - key_by: k
      - window: { tumbling: 1h, aggregate: { rows: count(), total: sum(n), stack: first(stack) } }
sinks:
  out: { type: file, path: out-$1.jsonl, input: checked }
YAML
  [ "$1" != dead_letter ] || printf '  bad: { type: file, path: bad.jsonl }\n' >>"p-$1.yaml"
}
pipeline fail ""
pipeline skip ""
pipeline dead_letter ", sink: bad"

start=$(date +%s.%N)
status=0
"$bin" run -q p-fail.yaml 2>fail.txt || status=$?
[ $status -eq 1 ] || fail "policy fail: exit $status, expected 1: $(cat fail.txt)"
grep -q "record error" fail.txt || fail "policy fail: no record error reported: $(cat fail.txt)"
"$bin" run p-skip.yaml 2>skip.txt || fail "policy skip: $(cat skip.txt)"
grep -q " $bad_n skipped" skip.txt || fail "policy skip: expected $bad_n skipped: $(cat skip.txt)"
"$bin" run p-dead_letter.yaml 2>dl.txt || fail "policy dead_letter: $(cat dl.txt)"
grep -q " $bad_n dead-lettered" dl.txt || fail "policy dead_letter: expected $bad_n dead-lettered: $(cat dl.txt)"
[ "$(wc -l <bad.jsonl)" -eq "$bad_n" ] || fail "dead letters: $(wc -l <bad.jsonl) lines, expected $bad_n"
for k in bad-comma bad-tru bad-secs bad-min bad-deep '\\"ov\\"'; do
  grep -q "$k" bad.jsonl || fail "dead letters: $k is missing"
done
grep -q "overflows a 64-bit integer" bad.jsonl || fail "dead letters: the sum overflow is not the reason given"
# Every good record is a window row of its own key; the overflowing record left
# its key's sum as it was.
[ "$(wc -l <out-skip.jsonl)" -eq "$good_n" ] || fail "skip: $(wc -l <out-skip.jsonl) rows, expected $good_n"
grep -q '"k":"ov".*"total":9223372036854775807' out-skip.jsonl || fail "the overflow changed the sum: $(grep '"ov"' out-skip.jsonl)"
grep -q '"k":"regex-stack".*"stack":true' out-skip.jsonl || fail "the long regex subject did not match"
if grep -q "bad-" out-skip.jsonl out-dead_letter.jsonl; then fail "a bad record reached the output"; fi
elapsed=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "hostile: $bad_n bad records among $good_n good: fail stops, skip counts, dead_letter keeps each ($elapsed s for all three)"

# Malformed JSON in an unread field, no steps at all: still caught.
printf '{"a":1,"b":[1,2,3,]}\n{"a":2,"b":tru}\n{"a":3}\n' >malformed.jsonl
printf 'name: m\nruntime: { errors: { policy: skip } }\nsources: { in: { type: file, path: malformed.jsonl } }\nsinks: { out: { type: file, path: m.jsonl, input: in } }\n' >m.yaml
"$bin" run m.yaml 2>m.txt || fail "malformed: $(cat m.txt)"
[ "$(cat m.jsonl)" = '{"a":3}' ] || fail "malformed records passed through: $(cat m.jsonl)"

# 2. Configurations.
expect_config_error() {  # FILE TEXT
  local status=0
  "$bin" validate "$1" >cfg.txt 2>&1 || status=$?
  [ $status -eq 2 ] || fail "$1: validate exit $status, expected 2: $(head -c 300 cfg.txt)"
  grep -q -- "$2" cfg.txt || fail "$1: no '$2' in: $(head -c 300 cfg.txt)"
  [ "$(wc -c <cfg.txt)" -lt 2000 ] || fail "$1: the message is $(wc -c <cfg.txt) bytes (it echoes the input?)"
}
python3 - <<'PY'
terms = " or ".join(["a == 1"] * 100000)
open("or.yaml", "w").write(f'name: o\nsources: {{ in: {{ type: stdin }} }}\ntransforms: {{ t: {{ input: in, steps: [ {{ filter: "{terms}" }} ] }} }}\nsinks: {{ out: {{ type: stdout, input: t }} }}\n')
plus = " + ".join(["a"] * 600000)
open("plus.yaml", "w").write(f'name: p\nsources: {{ in: {{ type: stdin }} }}\ntransforms: {{ t: {{ input: in, steps: [ {{ set: {{ x: "{plus}" }} }} ] }} }}\nsinks: {{ out: {{ type: stdout, input: t }} }}\n')
parens = "(" * 10000 + "a" + ")" * 10000
open("parens.yaml", "w").write(f'name: p\nsources: {{ in: {{ type: stdin }} }}\ntransforms: {{ t: {{ input: in, steps: [ {{ filter: "{parens}" }} ] }} }}\nsinks: {{ out: {{ type: stdout, input: t }} }}\n')
PY
expect_config_error or.yaml "expression too long: more than 1000 operators"
expect_config_error plus.yaml "expression too long: more than 1000 operators"
expect_config_error parens.yaml "nested too deeply"
printf 'name: w\nruntime: { parallelism: 10000 }\nsources: { in: { type: stdin } }\nsinks: { out: { type: stdout, input: in } }\n' >workers.yaml
expect_config_error workers.yaml "runtime.parallelism: 10000 workers; at most"
printf 'name: s\nsources: { in: { type: stdin, event_time: { field: ts } } }\ntransforms: { t: { input: in, steps: [ { key_by: k }, { window: { sliding: 1d, slide: 1ms, aggregate: { n: count() } } } ] } }\nsinks: { out: { type: stdout, input: t } }\n' >sliding.yaml
expect_config_error sliding.yaml "each record would be in 86400000 sliding windows; at most 10000"
echo "hostile: configurations that would crash or exhaust the machine are refused with their limit"

# 3. Stopping.
# Sends SIG to $pid and waits for it: sets status and ms (how long it took).
stop_and_time() {
  local t0
  t0=$(date +%s%N)
  kill -"$1" "$pid"
  status=0
  wait "$pid" || status=$?
  pid=""
  ms=$(( ($(date +%s%N) - t0) / 1000000 ))
}
printf 'name: idle\nsources: { in: { type: stdin } }\nsinks: { out: { type: stdout, input: in } }\n' >idle.yaml
mkfifo pipe
sleep 30 >pipe &
holder=$!
"$bin" run -q idle.yaml <pipe >/dev/null &
pid=$!
sleep 1
stop_and_time TERM
kill $holder 2>/dev/null || true
[ $status -eq 0 ] || fail "stdin idle: exit $status after SIGTERM"
[ $ms -lt 1500 ] || fail "stdin idle: SIGTERM took $ms ms"
echo "hostile: SIGTERM with stdin idle stopped in $ms ms"

cat >unreachable.yaml <<'YAML'
name: unreachable
runtime: { checkpoint: { interval: 1s, storage: "file://ckpt-u" } }
sources: { in: { type: generate, kind: clicks, rate: 100/s } }
sinks:
  out: { type: kafka, brokers: "127.0.0.1:1", topic: t, input: in, properties: { socket.timeout.ms: "1000" } }
YAML
"$bin" run -q --stop-timeout 3 unreachable.yaml 2>unreachable.txt &
pid=$!
sleep 2
stop_and_time INT
[ $ms -lt 8000 ] || fail "unreachable broker: the stop took $ms ms, more than --stop-timeout 3 allows"
if [ $status -ne 0 ]; then
  grep -q "did not stop within 3.0 s" unreachable.txt || [ $status -eq 1 ] ||
    fail "unreachable broker: exit $status without saying why: $(cat unreachable.txt)"
fi
echo "hostile: a stop waiting on an unreachable broker ended in $ms ms (exit $status)"
echo "hostile: ok"
