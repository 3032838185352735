#!/usr/bin/env bash
# Exactly-once file sinks restored into a changed world (docs/guarantees.md): a
# restore continues correctly or stops with an error that says what it
# expected; an output file never holds a byte no record wrote.
# - a sink into a folder that does not exist yet (created; no stale _running)
# - the output file moved away, then put back
# - the sink's path changed between the checkpoint and the restore (and --from a savepoint)
# - a pending file cut short or changed
# - a directory sink whose pending part is gone
# And a Kafka sink whose key expression fails takes part in the error policy.
# Usage: sink_restore.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "sink_restore: $*"; exit 1; }

# SINK_RESTORE_RECORDS: enough for several checkpoints before the end at this build's speed
# (the sanitizer pass, several times slower, sets fewer).
"$bin" generate clicks --count "${SINK_RESTORE_RECORDS:-1000000}" --seed 3 -o clicks.jsonl
# pipeline NAME OUTPUT: per-page 1 s counts into OUTPUT, checkpoints every 50 ms
# (the input takes several; the crash points are at the fourth, once output exists).
pipeline() {
  cat >"$1.yaml" <<YAML
name: $1
runtime:
  parallelism: 2
  checkpoint: { interval: 50ms, storage: "file://ckpt" }
sources:
  clicks: { type: file, path: clicks.jsonl, event_time: { field: ts, watermark: { max_out_of_orderness: 1s } } }
transforms:
  counts:
    input: clicks
    steps:
      - key_by: page_url
      - window: { tumbling: 1s, aggregate: { n: count() } }
sinks:
  out: { type: file, path: "$2", input: counts }
YAML
}
no_nul() { if tr -d '\n' <"$1" | grep -qaP '\x00'; then fail "$1 holds NUL bytes"; fi; }

# The reference: an uninterrupted run.
pipeline ref ref/out.jsonl
sed -i '/checkpoint:/d' ref.yaml
"$bin" run -q ref.yaml
sort ref/out.jsonl >ref.sorted
[ "$(wc -l <ref.sorted)" -gt 1000 ] || fail "the reference wrote too little"

# 1. A folder that does not exist yet: the first run succeeds and leaves no _running.
pipeline fresh "new/deeper/out.jsonl"
"$bin" run -q fresh.yaml || fail "a sink into a new folder failed"
cmp -s <(sort new/deeper/out.jsonl) ref.sorted || fail "a sink into a new folder wrote other rows"
[ ! -e ckpt/fresh/_running ] || fail "a finished run left ckpt/fresh/_running"
# ... and `checkpoints inspect` of its final checkpoint holds nothing back.
"$bin" checkpoints inspect fresh.yaml >inspect.txt
grep -q "published" inspect.txt || fail "inspect after a complete run: $(cat inspect.txt)"
if grep -q "held back" inspect.txt; then fail "inspect after a complete run reports files held back"; fi

# 2. Crash after a checkpoint, move the output away: the restore refuses and says why.
pipeline moved moved/out.jsonl
STREAMRUN_CRASH_AT=after_commit:4 "$bin" run -q moved.yaml 2>/dev/null && fail "the crash point was not reached"
[ -s moved/out.jsonl ] || fail "nothing was published before the crash"
mv moved/out.jsonl away.jsonl
if "$bin" run -q moved.yaml 2>err.txt; then fail "a restore into a missing output succeeded"; fi
grep -q "should hold the .* bytes published before the checkpoint, but it is missing" err.txt ||
  fail "unclear error for a missing output: $(cat err.txt)"
[ ! -e moved/out.jsonl ] || no_nul moved/out.jsonl
# ... a shorter file is refused too, without padding it.
head -c 100 away.jsonl >moved/out.jsonl
if "$bin" run -q moved.yaml 2>err.txt; then fail "a restore into a cut output succeeded"; fi
grep -q "but has 100" err.txt || fail "unclear error for a cut output: $(cat err.txt)"
[ "$(stat -c %s moved/out.jsonl)" = 100 ] || fail "the restore changed a file it refused"
# ... a file of the same length with other bytes is refused.
tr 'a-z' 'b-za' <away.jsonl >moved/out.jsonl
if "$bin" run -q moved.yaml 2>err.txt; then fail "a restore into a changed output succeeded"; fi
grep -q "replaced or changed" err.txt || fail "unclear error for a changed output: $(cat err.txt)"
# ... put back, it continues to exactly the reference.
mv away.jsonl moved/out.jsonl
"$bin" run -q moved.yaml || fail "the restore after putting the file back failed"
cmp -s <(sort moved/out.jsonl) ref.sorted || fail "the restored output differs from the reference"
no_nul moved/out.jsonl

# 3. The sink's path changed between the checkpoint and the restore.
pipeline renamed renamed/a.jsonl
STREAMRUN_CRASH_AT=after_commit:4 "$bin" run -q renamed.yaml 2>/dev/null && fail "the crash point was not reached"
sed -i 's#renamed/a.jsonl#renamed/b.jsonl#' renamed.yaml
if "$bin" run -q renamed.yaml 2>err.txt; then fail "a restore with a changed path succeeded"; fi
grep -q "wrote to 'renamed/a.jsonl', this pipeline's writes to 'renamed/b.jsonl'" err.txt ||
  fail "unclear error for a changed path: $(cat err.txt)"
[ ! -e renamed/b.jsonl ] || [ ! -s renamed/b.jsonl ] || fail "a refused restore wrote renamed/b.jsonl"
# ... and from a savepoint folder the same.
chk=$(ls -d ckpt/renamed/chk-* | sort | tail -1)
if "$bin" run -q renamed.yaml --from "$chk" 2>err.txt; then fail "--from with a changed path succeeded"; fi
grep -q "this pipeline's writes to 'renamed/b.jsonl'" err.txt || fail "unclear --from error: $(cat err.txt)"
sed -i 's#renamed/b.jsonl#renamed/a.jsonl#' renamed.yaml
"$bin" run -q renamed.yaml || fail "the restore with the old path failed"
cmp -s <(sort renamed/a.jsonl) ref.sorted || fail "renamed: the restored output differs from the reference"

# 4. A pending file cut short (a crash after the manifest, before the publish).
pipeline cut cut/out.jsonl
STREAMRUN_CRASH_AT=after_manifest:5 "$bin" run -q cut.yaml 2>/dev/null && fail "the crash point was not reached"
pending=$(ls cut/out.jsonl.pending-* | head -1)
[ -n "$pending" ] || fail "no pending file after a crash after the manifest"
"$bin" checkpoints inspect cut.yaml >inspect.txt
grep -q "1 pending file held back" inspect.txt || fail "inspect after a crash before the publish: $(cat inspect.txt)"
size=$(stat -c %s "$pending")
truncate -s $((size / 2)) "$pending"
if "$bin" run -q cut.yaml 2>err.txt; then fail "a restore with a cut pending file succeeded"; fi
grep -q "is not the one checkpoint .* prepared" err.txt || fail "unclear error for a cut pending file: $(cat err.txt)"
[ ! -e cut/out.jsonl ] || no_nul cut/out.jsonl

# 5. A directory sink whose pending part is gone.
pipeline parts parts/
STREAMRUN_CRASH_AT=after_manifest:5 "$bin" run -q parts.yaml 2>/dev/null && fail "the crash point was not reached"
rm -f parts/*.pending-*
if "$bin" run -q parts.yaml 2>err.txt; then fail "a restore without its pending part succeeded"; fi
grep -q "nor the part it becomes" err.txt || fail "unclear error for a missing part: $(cat err.txt)"

# 6. A Kafka sink's key that fails goes to the dead letters, the rest is written.
cat >ksink.yaml <<'YAML'
name: ksink
runtime:
  errors: { policy: dead_letter, sink: bad }
sources:
  in: { type: file, path: k.jsonl }
sinks:
  out: { type: kafka, brokers: embedded, topic: results, key: "upper(k)", input: in }
  bad: { type: file, path: bad.jsonl }
YAML
printf '{"k":"a"}\n{"k":5}\n{"k":"b"}\n' >k.jsonl
"$bin" run ksink.yaml 2>summary.txt || fail "a failing Kafka key ended the run under dead_letter: $(cat summary.txt)"
grep -q '"raw":"{\\"k\\":5}"' bad.jsonl || fail "the record with the failing key is not a dead letter"
grep -q "1 dead-lettered" summary.txt || fail "the dead letter is not counted"
grep -Eq "out +in 3 +out 2 +errors 1" summary.txt || fail "the sink's counts are wrong: $(cat summary.txt)"
# ... and under policy fail the run stops with the record's position.
sed -i 's/policy: dead_letter, sink: bad/policy: fail/; /  bad:/d' ksink.yaml
if "$bin" run -q ksink.yaml 2>err.txt; then fail "a failing Kafka key passed under policy fail"; fi
grep -q "k.jsonl:2" err.txt || fail "the failure does not name the record: $(cat err.txt)"
echo "sink_restore: all cases passed"
