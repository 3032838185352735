#!/usr/bin/env bash
# count_by_key (tests/operators/count_by_key.cc), a test operator written only
# against the operator interfaces and the runtime's keyed-state service: the
# exact counts at parallelism 1 and 3, in memory and on rocksdb with a cache
# of a few keys (keys evicted and read back), and restored from a checkpoint
# halfway through the input (`test --restore-midway`, as pipelines_restore_p1
# runs the golden cases). The input has idle gaps, so keys are erased by their
# timers and count from 1 again: timers fire, are checkpointed and restored.
# Usage: count_by_key.sh STREAMRUN-TESTOPS
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "count_by_key: $*"; exit 1; }

# idle: 10s; a record carries the watermark before it (max event time - 1s).
# Records 18 and 26 come after idle gaps (with watermarks 29s and 49s): every
# key whose newest record is 10s behind by then was erased, and counts from 1.
# Record 17 (e at 30s) carries the watermark of before the gap: e counts on.
# Record 25 (a at 50s) comes 15s after a's newest, but the watermark it
# carries (35s) has not reached a's timer (45s): a counts on, and that timer,
# stale by then, does not erase it. Record 23 (d at 33.5s) is out of order.
cat >"$dir/input.jsonl" <<'EOF'
{"id":1,"user":"a","ts":1000}
{"id":2,"user":"b","ts":2000}
{"id":3,"user":"a","ts":3000}
{"id":4,"user":"c","ts":4000}
{"id":5,"user":"b","ts":5000}
{"id":6,"user":"a","ts":6000}
{"id":7,"user":"d","ts":7000}
{"id":8,"user":"c","ts":7500}
{"id":9,"user":"a","ts":9000}
{"id":10,"user":"b","ts":9500}
{"id":11,"user":"e","ts":9600}
{"id":12,"user":"c","ts":9700}
{"id":13,"user":"d","ts":9800}
{"id":14,"user":"b","ts":9850}
{"id":15,"user":"e","ts":9900}
{"id":16,"user":"a","ts":9950}
{"id":17,"user":"e","ts":30000}
{"id":18,"user":"a","ts":31000}
{"id":19,"user":"b","ts":32000}
{"id":20,"user":"a","ts":33000}
{"id":21,"user":"c","ts":34000}
{"id":22,"user":"a","ts":35000}
{"id":23,"user":"d","ts":33500}
{"id":24,"user":"e","ts":36000}
{"id":25,"user":"a","ts":50000}
{"id":26,"user":"b","ts":51000}
{"id":27,"user":"c","ts":52000}
{"id":28,"user":"a","ts":53000}
{"id":29,"user":"e","ts":54000}
EOF
cat >"$dir/expected.jsonl" <<'EOF'
{"id":1,"user":"a","ts":1000,"n":1}
{"id":2,"user":"b","ts":2000,"n":1}
{"id":3,"user":"a","ts":3000,"n":2}
{"id":4,"user":"c","ts":4000,"n":1}
{"id":5,"user":"b","ts":5000,"n":2}
{"id":6,"user":"a","ts":6000,"n":3}
{"id":7,"user":"d","ts":7000,"n":1}
{"id":8,"user":"c","ts":7500,"n":2}
{"id":9,"user":"a","ts":9000,"n":4}
{"id":10,"user":"b","ts":9500,"n":3}
{"id":11,"user":"e","ts":9600,"n":1}
{"id":12,"user":"c","ts":9700,"n":3}
{"id":13,"user":"d","ts":9800,"n":2}
{"id":14,"user":"b","ts":9850,"n":4}
{"id":15,"user":"e","ts":9900,"n":2}
{"id":16,"user":"a","ts":9950,"n":5}
{"id":17,"user":"e","ts":30000,"n":3}
{"id":18,"user":"a","ts":31000,"n":1}
{"id":19,"user":"b","ts":32000,"n":1}
{"id":20,"user":"a","ts":33000,"n":2}
{"id":21,"user":"c","ts":34000,"n":1}
{"id":22,"user":"a","ts":35000,"n":3}
{"id":23,"user":"d","ts":33500,"n":1}
{"id":24,"user":"e","ts":36000,"n":4}
{"id":25,"user":"a","ts":50000,"n":4}
{"id":26,"user":"b","ts":51000,"n":1}
{"id":27,"user":"c","ts":52000,"n":1}
{"id":28,"user":"a","ts":53000,"n":5}
{"id":29,"user":"e","ts":54000,"n":1}
EOF
sort "$dir/expected.jsonl" >"$dir/expected.sorted"

# pipeline FILE STATE OUT: the pipeline with runtime.state STATE, writing OUT.
pipeline() {
  cat >"$1" <<YAML
name: count-by-key
runtime:
  state: $2
sources:
  events:
    type: file
    path: "$dir/input.jsonl"
    event_time: { field: ts, watermark: { max_out_of_orderness: 1s } }
transforms:
  counted:
    input: events
    steps:
      - key_by: user
      - count_by_key: { field: n, idle: 10s }
sinks:
  out: { type: file, path: "$3", input: counted }
YAML
}

# The spec checks the options (`streamrun validate`).
pipeline "$dir/bad.yaml" "{ backend: memory }" "$dir/bad.out"
sed -i 's/idle: 10s/idle: soon, colour: red/' "$dir/bad.yaml"
status=0
"$bin" validate "$dir/bad.yaml" >"$dir/bad.err" 2>&1 || status=$?
[ $status -eq 2 ] || { cat "$dir/bad.err"; fail "validate accepted bad count_by_key options (exit $status)"; }
grep -q "idle" "$dir/bad.err" && grep -q "colour" "$dir/bad.err" ||
  { cat "$dir/bad.err"; fail "validate did not name both bad options"; }
pipeline "$dir/bad.yaml" "{ backend: memory }" "$dir/bad.out"
sed -i '/key_by/d' "$dir/bad.yaml"
status=0
"$bin" validate "$dir/bad.yaml" >"$dir/bad.err" 2>&1 || status=$?
[ $status -eq 2 ] && grep -q "put a key_by before it" "$dir/bad.err" ||
  { cat "$dir/bad.err"; fail "count_by_key without a key_by was not refused (exit $status)"; }

# Uninterrupted runs: the exact counts (rows of different keys may interleave
# differently at -p 3; each row's id fixes where it is in its key's order).
# On rocksdb a cache of 100 bytes keeps at most two of the five keys decoded (a
# hot key costs about 48, keyed_store.h): the others are written back, evicted
# and read from the database again.
for state in "{ backend: memory }" "{ backend: rocksdb, path: \"$dir/state\", cache: 100B }"; do
  for p in 1 3; do
    rm -f "$dir/out.jsonl"
    pipeline "$dir/run.yaml" "$state" "$dir/out.jsonl"
    "$bin" run -q -p $p "$dir/run.yaml" 2>"$dir/run.err" || { cat "$dir/run.err"; fail "run -p $p, state $state failed"; }
    sort "$dir/out.jsonl" | diff "$dir/expected.sorted" - >"$dir/diff" ||
      { cat "$dir/diff"; fail "run -p $p, state $state: counts differ (< expected, > produced)"; }
  done
done
echo "count_by_key: exact counts at -p 1 and 3, memory and rocksdb (cache 100B)"

# Restored midway: `test --restore-midway` checkpoints after half the records
# (14, before the gap: the timers that erase a, b, c and d are pending), ends the
# run as a crash would, restores and finishes; its sink's committed rows must
# be the uninterrupted run's. In memory, on rocksdb with no cache (--state
# rocksdb: every key through the database) and on rocksdb with a 100-byte cache.
mkdir "$dir/case"
cp "$dir/input.jsonl" "$dir/case/input.events.jsonl"
cp "$dir/expected.jsonl" "$dir/case/expected.out.jsonl"
for variant in "{ backend: memory }|" "{ backend: memory }|--state rocksdb" \
  "{ backend: rocksdb, path: \"$dir/state\", cache: 100B }|"; do
  state="${variant%|*}" extra="${variant#*|}"
  pipeline "$dir/case/pipeline.yaml" "$state" "$dir/unused.jsonl"
  for p in 1 3; do
    # shellcheck disable=SC2086
    "$bin" test -p $p --restore-midway $extra "$dir/case" >"$dir/test.out" 2>&1 ||
      { cat "$dir/test.out"; fail "restored midway at -p $p, state $state $extra: counts differ"; }
    grep -q "1 passed, 0 failed (1 of them ended at a checkpoint halfway and restored)" "$dir/test.out" ||
      { cat "$dir/test.out"; fail "-p $p, state $state $extra: the run was not restored midway"; }
  done
done
echo "count_by_key: restored from a checkpoint halfway at -p 1 and 3, memory and rocksdb: the same counts"
