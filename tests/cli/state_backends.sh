#!/usr/bin/env bash
# The rocksdb state backend in checkpoints (docs/guarantees.md, docs/architecture.md
# "State backends"): checkpoints upload only SST files the store lacks and
# share them; files no kept checkpoint names are removed; a savepoint is
# self-contained (restored with --from after the checkpoint store is gone);
# `checkpoints inspect` shows state per operator and key group; a memory
# checkpoint restores into rocksdb; a rocksdb checkpoint into memory is refused
# with a message that says what to do.
# Usage: state_backends.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
pid=""
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "state_backends: $*"; exit 1; }

# job NAME BACKEND COUNT RATE
job() {
  cat >"$dir/$1.yaml" <<YAML
name: backends
runtime:
  parallelism: 2
  state: { backend: $2, path: "$dir/state", cache: 1MB }
  checkpoint: { interval: 300ms, storage: "file://$dir/ckpt", retain: 2 }
sources:
  clicks: { type: generate, kind: clicks, count: $3, rate: $4, seed: 11, partitions: 2, out_of_order: "0.1:2s" }
transforms:
  counts:
    input: clicks
    steps:
      - key_by: user_id
      - window: { tumbling: 2s, aggregate: { clicks: count(), pages: count_distinct(page_url) } }
sinks:
  out: { input: counts, type: file, path: "$dir/$1.out" }
YAML
}

job reference memory 40000 20000/s
sed -i '/checkpoint:/d' "$dir/reference.yaml"
"$bin" run -q "$dir/reference.yaml"
sort "$dir/reference.out" >"$dir/reference.sorted"

# 1. Incremental checkpoints and shared files.
job incremental rocksdb 40000 20000/s
"$bin" run -q "$dir/incremental.yaml" 2>"$dir/incremental.err"
sort "$dir/incremental.out" | cmp -s - "$dir/reference.sorted" || fail "rocksdb output differs from memory's"
# "complete: N bytes (F state files, U bytes uploaded)": some checkpoint uploads less than it holds.
awk '/complete:/ { for (i = 1; i <= NF; i++) if ($i == "complete:") break; if ($(i + 6) + 0 < $(i + 1) + 0) n++ }
  END { exit n > 0 ? 0 : 1 }' \
  "$dir/incremental.err" || { cat "$dir/incremental.err"; fail "no checkpoint reused files already in the store"; }
ls "$dir/ckpt/backends/shared" | grep -q '\.sst$' || fail "no shared SST files in the store"
# Every shared file is named by a kept checkpoint, and every named one exists.
python3 - "$dir/ckpt/backends" <<'PY' || fail "shared files and manifests disagree"
import json, os, sys
root = sys.argv[1]
named = set()
for d in os.listdir(root):
    m = os.path.join(root, d, "_manifest.json")
    if os.path.exists(m):
        named |= {os.path.basename(r) for r in json.load(open(m)).get("shared", [])}  # refs into the store's shared folder
present = set(os.listdir(os.path.join(root, "shared")))
if named != present:
    print("named only:", sorted(named - present)[:5], "present only:", sorted(present - named)[:5])
    sys.exit(1)
PY
# Inspect a checkpoint taken mid-run (the final one holds no open window).
rm -rf "$dir/ckpt" "$dir/incremental.out"*
STREAMRUN_CRASH_AT=after_commit:3 "$bin" run -q "$dir/incremental.yaml" 2>/dev/null && fail "the crash point did not end the run"
"$bin" checkpoints inspect "$dir/incremental.yaml" 3 >"$dir/inspect.out"
grep -q '^rocksdb state: .* files' "$dir/inspect.out" || { cat "$dir/inspect.out"; fail "inspect shows no state files"; }
grep -q '^  key group ' "$dir/inspect.out" || { cat "$dir/inspect.out"; fail "inspect shows no key groups"; }
echo "state_backends: incremental checkpoints share SST files; the store holds exactly the ones named"

# 2. A savepoint is self-contained.
rm -rf "$dir/ckpt"
job savepoint rocksdb 40000 8000/s
"$bin" run -q "$dir/savepoint.yaml" 2>"$dir/savepoint.err" &
pid=$!
sleep 2
"$bin" savepoint "$dir/savepoint.yaml" "$dir/sp" >/dev/null || fail "streamrun savepoint failed"
kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=""
ls "$dir/sp" | grep -q '^db-w0$' || fail "the savepoint has no database files of its own"
rm -rf "$dir/ckpt" "$dir/savepoint.out"*
# Output before the savepoint was published by then; what came after it is redone.
"$bin" run -q "$dir/savepoint.yaml" --from "$dir/sp" 2>>"$dir/savepoint.err" || { tail -3 "$dir/savepoint.err"; fail "restore from the savepoint failed"; }
grep -q "restored checkpoint" "$dir/savepoint.err" || fail "the run did not restore the savepoint"
echo "state_backends: a savepoint restores with the checkpoint store gone"

# 3. Across backends: memory -> rocksdb restores; rocksdb -> memory is refused.
rm -rf "$dir/ckpt"
job switch memory 40000 20000/s
STREAMRUN_CRASH_AT=after_commit:3 "$bin" run -q "$dir/switch.yaml" 2>/dev/null && fail "the crash point did not end the run"
sed -i 's/backend: memory/backend: rocksdb/' "$dir/switch.yaml"
"$bin" run -q "$dir/switch.yaml" 2>"$dir/switch.err" || { cat "$dir/switch.err"; fail "memory checkpoint into rocksdb"; }
sort "$dir/switch.out" | cmp -s - "$dir/reference.sorted" || fail "memory -> rocksdb output differs"
rm -rf "$dir/ckpt" "$dir/switch.out"*
sed -i 's/backend: memory/backend: rocksdb/' "$dir/switch.yaml"
STREAMRUN_CRASH_AT=after_commit:3 "$bin" run -q "$dir/switch.yaml" 2>/dev/null && fail "the crash point did not end the run"
sed -i 's/backend: rocksdb/backend: memory/' "$dir/switch.yaml"
status=0
"$bin" run -q "$dir/switch.yaml" 2>"$dir/switch.err" || status=$?
[ $status -ne 0 ] || fail "a rocksdb checkpoint restored into memory"
grep -q "restore it with runtime.state.backend: rocksdb" "$dir/switch.err" || { cat "$dir/switch.err"; fail "unclear refusal"; }
echo "state_backends: memory -> rocksdb restores; rocksdb -> memory is refused: $(head -1 "$dir/switch.err")"

# 4. dedupe on rocksdb (kept times and their expiry timers in the database, a
# 64 KB cache so keys leave memory), killed at a checkpoint and restored at
# another parallelism: the same records kept as in memory without a crash (one
# partition: which of two duplicates comes first must not depend on threads).
dedupe() {  # NAME BACKEND
  cat >"$dir/$1.yaml" <<YAML
name: dedupe-$1
runtime:
  parallelism: 2
  state: { backend: $2, path: "$dir/state", cache: 64KB }
  checkpoint: { interval: 300ms, storage: "file://$dir/ckpt" }
sources:
  clicks: { type: generate, kind: clicks, count: 40000, rate: 20000/s, seed: 5, partitions: 1, out_of_order: "0.1:2s" }
transforms:
  firsts:
    input: clicks
    steps:
      - dedupe: { key: "concat(user_id, ':', page_url)", within: 3s }
sinks:
  out: { input: firsts, type: file, path: "$dir/$1.out" }
YAML
}
rm -rf "$dir/ckpt"
dedupe dedupe-reference memory
sed -i '/checkpoint:/d' "$dir/dedupe-reference.yaml"
"$bin" run -q "$dir/dedupe-reference.yaml"
dedupe dedupe-rocksdb rocksdb
STREAMRUN_CRASH_AT=after_commit:3 "$bin" run -q "$dir/dedupe-rocksdb.yaml" 2>/dev/null && fail "the crash point did not end the run"
"$bin" run -q -p 1 "$dir/dedupe-rocksdb.yaml" 2>"$dir/dedupe.err" || { cat "$dir/dedupe.err"; fail "dedupe restore failed"; }
grep -q "restored checkpoint" "$dir/dedupe.err" || fail "dedupe: nothing restored"
cmp -s <(sort "$dir/dedupe-rocksdb.out") <(sort "$dir/dedupe-reference.out") ||
  fail "dedupe on rocksdb kept other records than in memory"
echo "state_backends: dedupe on rocksdb, killed and restored at another parallelism, keeps" \
  "$(wc -l <"$dir/dedupe-rocksdb.out") of 40000 records, as in memory"
