#!/usr/bin/env bash
# The transactional Kafka sink (docs/guarantees.md) against `streamrun kafka`:
# 1. tests/kafka_real/exactly_once.sh in its mock mode: a crash between a
#    manifest and the commits, then random kills; no row lost, and the restore
#    published the uncommitted transactions' staged records again;
# 2. dead letters and results of a worker commit in one transaction, which
#    `checkpoints inspect` shows;
# 3. two Kafka sinks under one transactional id with different producer
#    settings are refused with the reason;
# 4. a commit answered PRODUCER_FENCED (injected into the broker) hands over to
#    a new producer that commits the staged records, and the run goes on;
# 5. at_least_once keeps the idempotent producer (no transaction);
# 6. a checkpoint taken exactly once and restored at_least_once still publishes
#    its uncommitted transactions' staged records.
# The mock keeps aborted records visible and no transactional offsets: what
# only a real broker proves is in tests/kafka_real/exactly_once.sh.
# Usage: kafka_transactions.sh STREAMRUN
set -euo pipefail
bin="$1"
here="$(cd "$(dirname "$0")" && pwd)"
dir=$(mktemp -d)
broker=""
cleanup() {
  [ -n "$broker" ] && kill "$broker" 2>/dev/null
  exec 3>&- 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "kafka_transactions: $*"
  for f in "$dir"/*.err; do [ -s "$f" ] && { echo "--- $f"; tail -10 "$f"; }; done
  exit 1
}

# ---- 1. crashes --------------------------------------------------------------
MODE=mock KILLS="${KILLS:-4}" "$here/../kafka_real/exactly_once.sh" "$bin"

mkfifo "$dir/control"
"$bin" kafka --partitions 2 --bootstrap-file "$dir/bootstrap" --control <"$dir/control" \
  >/dev/null 2>"$dir/broker.err" &
broker=$!
exec 3>"$dir/control"
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
[ -s "$dir/bootstrap" ] || fail "the broker did not start"
brokers=$(cat "$dir/bootstrap")
read_topic() { kcat -C -b "$brokers" -t "$1" -e -q; }
# The uninterrupted run of NAME.yaml, whose Kafka sink writes TOPIC: the same
# pipeline without checkpoints into the file NAME.ref.
reference_run() {  # NAME TOPIC
  sed -e 's/type: kafka, brokers: "[^"]*", topic: '"$2"', key: user_id/type: file, path: "'"${dir//\//\\/}"'\/'"$1"'.ref"/' \
    -e '/checkpoint:/d' "$dir/$1.yaml" >"$dir/$1-ref.yaml"
  "$bin" run -q -p 1 "$dir/$1-ref.yaml"
}

# ---- 2. dead letters in the results' transaction ------------------------------
"$bin" generate clicks --count 3000 --seed 2 >"$dir/mixed.jsonl"
for i in $(seq 25); do echo "not json $i" >>"$dir/mixed.jsonl"; done
"$bin" generate clicks --count 3000 --seed 4 >>"$dir/mixed.jsonl"
cat >"$dir/dlq.yaml" <<EOF
name: txn-dlq
runtime:
  checkpoint: { interval: 1h, storage: "file://$dir/ckpt-dlq" }
  errors: { policy: dead_letter, sink: bad }
sources:
  clicks: { type: file, path: "$dir/mixed.jsonl" }
sinks:
  out: { input: clicks, type: kafka, brokers: "$brokers", topic: dlq_out, key: user_id }
  bad: { type: kafka, brokers: "$brokers", topic: dlq_bad }
EOF
"$bin" run -q -p 1 --log-level debug "$dir/dlq.yaml" 2>"$dir/dlq.err" || fail "the dead-letter run failed"
grep -q "transaction streamrun-txn-dlq-0 committed for checkpoint 1: 6025 records" "$dir/dlq.err" ||
  fail "results and dead letters were not one transaction of 6025 records"
[ "$(grep -c 'committed for checkpoint' "$dir/dlq.err")" -eq 1 ] || fail "more than one transaction committed"
[ "$(read_topic dlq_out | wc -l)" -eq 6000 ] || fail "dlq_out does not hold the 6000 results"
[ "$(read_topic dlq_bad | grep -c '"raw":"not json')" -eq 25 ] || fail "dlq_bad does not hold the 25 dead letters"
"$bin" checkpoints inspect "$dir/dlq.yaml" 1 >"$dir/inspect.out"
grep -q "worker 0 .*transaction streamrun-txn-dlq-0 for checkpoint 1: 6025 records .* to dlq_out, dlq_bad" \
  "$dir/inspect.out" || { cat "$dir/inspect.out"; fail "inspect does not show the staged transaction"; }
echo "kafka_transactions: 6000 results and 25 dead letters committed in one transaction (inspect shows it)"

# ---- 3. one transactional id, different settings -------------------------------
sed -e 's/topic: dlq_bad }/topic: dlq_bad, compression: gzip }/' -e 's/txn-dlq/txn-conflict/' \
  "$dir/dlq.yaml" >"$dir/conflict.yaml"
status=0
"$bin" run -q "$dir/conflict.yaml" 2>"$dir/conflict.err" || status=$?
[ $status -eq 1 ] || fail "conflicting sinks: expected exit 1, got $status"
grep -q "share transactional id streamrun-txn-conflict-0 .* give one of them its own transactional_id" \
  "$dir/conflict.err" || fail "conflicting sinks: no clear message"
sed -i 's/topic: dlq_bad, compression: gzip }/topic: dlq_bad, compression: gzip, transactional_id: conflict-bad }/' \
  "$dir/conflict.yaml"
rm -rf "$dir/ckpt-dlq"
"$bin" run -q "$dir/conflict.yaml" 2>"$dir/conflict.err" || fail "a transactional_id of its own did not help"
echo "kafka_transactions: sinks sharing a transaction with different settings are refused"

# ---- 4. a fenced commit --------------------------------------------------------
cat >"$dir/fenced.yaml" <<EOF
name: txn-fenced
runtime:
  checkpoint: { interval: 300ms, storage: "file://$dir/ckpt-fenced" }
sources:
  clicks: { type: generate, kind: clicks, count: 24000, rate: 12000/s, seed: 7, partitions: 2 }
transforms:
  counts:
    input: clicks
    steps:
      - key_by: user_id
      - window: { tumbling: 500ms, aggregate: { clicks: count() } }
sinks:
  out: { input: counts, type: kafka, brokers: "$brokers", topic: fenced, key: user_id }
EOF
reference_run fenced fenced
echo "fail 26 90" >&3  # the next EndTxn: PRODUCER_FENCED
for _ in $(seq 50); do grep -q "requests of API 26 fail" "$dir/broker.err" && break; sleep 0.1; done
"$bin" run -q -p 1 --log-level debug "$dir/fenced.yaml" 2>"$dir/fenced.err" || fail "the fenced run failed"
grep -q "a new producer takes over" "$dir/fenced.err" || fail "the fenced commit did not get a new producer"
[ "$(grep -c 'committed for checkpoint' "$dir/fenced.err")" -ge 2 ] || fail "no commits after the new producer"
read_topic fenced | sort -u | cmp -s - <(sort -u "$dir/fenced.ref") || fail "rows are missing after the fenced commit"
echo "kafka_transactions: a fenced commit was redone by a new producer; no row missing"

# ---- 5. at least once ----------------------------------------------------------
sed -e 's/storage:/mode: at_least_once, storage:/' -e 's/txn-fenced/txn-alo/' -e 's/topic: fenced/topic: alo/' \
  "$dir/fenced.yaml" >"$dir/alo.yaml"
"$bin" run -q -p 1 --log-level debug "$dir/alo.yaml" 2>"$dir/alo.err" || fail "the at_least_once run failed"
grep -q "transaction" "$dir/alo.err" && fail "at_least_once used transactions"
read_topic alo | sort | cmp -s - <(sort "$dir/fenced.ref") || fail "at_least_once output differs"
echo "kafka_transactions: at_least_once writes without transactions"

# ---- 6. exactly once, then at least once ---------------------------------------
cat >"$dir/switch.yaml" <<EOF
name: txn-switch
runtime:
  checkpoint: { interval: 300ms, storage: "file://$dir/ckpt-switch" }
sources:
  clicks: { type: generate, kind: clicks, count: 24000, rate: 12000/s, seed: 7, partitions: 2 }
sinks:
  out: { input: clicks, type: kafka, brokers: "$brokers", topic: switch, key: user_id }
EOF
reference_run switch switch
status=0
STREAMRUN_CRASH_AT=after_manifest:3 "$bin" run -q -p 2 "$dir/switch.yaml" 2>"$dir/switch.err" || status=$?
[ $status -eq 137 ] || fail "switch: expected the crash point to end the run, got $status"
sed -i 's/storage:/mode: at_least_once, storage:/' "$dir/switch.yaml"
"$bin" run -q -p 2 "$dir/switch.yaml" 2>>"$dir/switch.err" || fail "the at_least_once restore failed"
grep -q "checkpoint 3's transaction was not committed: publishing its" "$dir/switch.err" ||
  fail "switch: the at_least_once restore did not publish the staged records"
read_topic switch | sort -u | cmp -s - <(sort -u "$dir/switch.ref") || fail "switch: rows are missing"
echo "kafka_transactions: an exactly-once checkpoint restored at_least_once publishes its staged records"
