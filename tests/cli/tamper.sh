#!/usr/bin/env bash
# Tampered and damaged checkpoint stores (docs/trust-and-limits.md). A job with
# an exactly-once file sink is stopped by a crash after its 6th checkpoint's
# manifest; then, for each kind of checkpoint file, a copy of the store is
# damaged (bits flipped, truncated, deleted, a symbolic link, a manifest that
# disagrees with its files, references that point outside the store, with
# their checksums forged to match) and the job restarted. Every case must
# either restore exactly (from an older checkpoint, with a warning that names
# what was wrong: the output then equals an uninterrupted run) or stop with a
# clear error; and no file outside the store and the sink's own paths is read,
# written or deleted (a canary file holding TOP-SECRET stays as it was and
# never reaches the output). Memory and rocksdb state.
# Usage: tamper.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
fail() { echo "tamper: $*"; exit 1; }

"$bin" generate clicks --count 300000 --seed 5 -o clicks.jsonl
printf 'TOP-SECRET\n' >secret.txt
secret_sum=$(md5sum <secret.txt)

# pipeline NAME BACKEND: per-page 1 s counts, exactly-once file sink out-NAME/.
pipeline() {
  cat >"$1.yaml" <<YAML
name: tamper
runtime:
  parallelism: 2
  state: { backend: $2, path: "$dir/state-$1", cache: 64KB }
  checkpoint: { interval: 40ms, storage: "file://ckpt", retain: 5 }
sources:
  clicks: { type: file, path: "$dir/clicks.jsonl", event_time: { field: ts, watermark: { max_out_of_orderness: 1s } } }
transforms:
  counts:
    input: clicks
    steps:
      - key_by: page_url
      - window: { tumbling: 1s, aggregate: { n: count(), users: count_distinct(user_id) } }
sinks:
  out: { type: file, path: "out/counts.jsonl", input: counts }
YAML
}

# The reference: an uninterrupted run.
pipeline ref memory
sed -i '/checkpoint:/d' ref.yaml
mkdir ref && (cd ref && "$bin" run -q ../ref.yaml)
sort ref/out/counts.jsonl >ref.sorted
[ "$(wc -l <ref.sorted)" -gt 500 ] || fail "the reference wrote too little"

# A pristine store for each backend: crashed after a checkpoint's manifest,
# before its commit, halfway through the job (how many checkpoints a run takes
# depends on the machine and the build: count them in a full run first), so the
# sink holds a pending file.
for backend in memory rocksdb; do
  pipeline "$backend" "$backend"
  mkdir "count-$backend"
  (cd "count-$backend" && "$bin" run "../$backend.yaml" 2>summary.txt)
  total=$(grep -o "checkpoints: [0-9]* complete" "count-$backend/summary.txt" | grep -o "[0-9]*")
  crash_at=$(( total / 2 > 3 ? total / 2 : 3 ))
  rm -rf "count-$backend" "$dir/state-$backend"
  for attempt in 0 1 2; do  # a checkpoint with no output has no pending file: take the next
    rm -rf "pristine-$backend" && mkdir "pristine-$backend"
    (cd "pristine-$backend" && STREAMRUN_CRASH_AT=after_manifest:$((crash_at + attempt)) "$bin" run -q "../$backend.yaml" 2>/dev/null) &&
      fail "$backend: the crash point was not reached"
    ls "pristine-$backend"/out/counts.jsonl.pending-* >/dev/null 2>&1 && break
  done
  ls "pristine-$backend"/out/counts.jsonl.pending-* >/dev/null 2>&1 || fail "$backend: no pending file at the crash"
  [ "$(ls -d "pristine-$backend"/ckpt/tamper/chk-* | wc -l)" -ge 3 ] || fail "$backend: too few checkpoints"
done

newest() { ls -d ckpt/tamper/chk-* | sort | tail -1; }
n=0
# case NAME BACKEND EXPECT SCRIPT: copies the pristine store, runs SCRIPT in it
# (bash), restarts the job. EXPECT is "exact" (a restore, maybe from an older
# checkpoint, giving the reference output) or an error text the run must print.
case_() {
  local name=$1 backend=$2 expect=$3 script=$4
  n=$((n + 1))
  rm -rf "case" && cp -a "pristine-$backend" case
  (cd case && bash -c "$script") || fail "$name: could not apply the damage"
  local status=0
  (cd case && "$bin" run -q "../$backend.yaml" >out.txt 2>err.txt) || status=$?
  [ "$status" -le 2 ] || fail "$name ($backend): exit $status (a crash?): $(cat case/err.txt)"
  [ "$(md5sum <secret.txt)" = "$secret_sum" ] || fail "$name ($backend): the canary file changed"
  if grep -rqa "TOP-SECRET" case/out case/ckpt "$dir/state-$backend" 2>/dev/null; then
    fail "$name ($backend): the canary's content reached the output or the state"
  fi
  if [ "${expect%%:*}" = exact ]; then
    [ "$status" -eq 0 ] || fail "$name ($backend): exit $status, expected a restore: $(cat case/err.txt)"
    [ "$expect" = exact ] || grep -q -- "${expect#exact:}" case/err.txt ||
      fail "$name ($backend): the warning does not say '${expect#exact:}': $(cat case/err.txt)"
    cmp -s <(sort case/out/counts.jsonl) ref.sorted || fail "$name ($backend): the output differs from the reference"
  else
    [ "$status" -eq 1 ] || fail "$name ($backend): exit $status, expected an error: $(cat case/err.txt)"
    grep -q -- "$expect" case/err.txt || fail "$name ($backend): the error does not say '$expect': $(cat case/err.txt)"
    if [ -f case/out/counts.jsonl ] && tr -d '\n' <case/out/counts.jsonl | grep -qaP '\x00'; then
      fail "$name ($backend): NUL bytes in the output"
    fi
  fi
  echo "tamper: $name ($backend): $( [ "${expect%%:*}" = exact ] && echo "restored exactly$(grep -o 'restoring checkpoint [0-9]*, older' case/err.txt | head -1 | sed 's/^/, /')" || echo "refused: $(grep -o -- "$expect" case/err.txt | head -1)")"
}

# Forges a worker state: replaces the bytes FROM by TO (same length) in worker
# W's state of the newest checkpoint and writes the checksum the manifest must
# then have, as someone who knows the format would.
forge='
import json, sys, zlib, glob
chk = sorted(glob.glob("ckpt/tamper/chk-*"))[-1]
w, old, new = int(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
path = f"{chk}/worker-{w}.state"
data = open(path, "rb").read()
if old not in data: sys.exit(f"{old!r} not in {path}")
assert len(old) == len(new)
data = data.replace(old, new)
open(path, "wb").write(data)
m = json.load(open(f"{chk}/_manifest.json"))
m["files"][w]["crc32"] = zlib.crc32(data)
json.dump(m, open(f"{chk}/_manifest.json", "w"))
'
echo "$forge" >forge.py
# Sets KEY of the newest manifest to the JSON value VALUE.
cat >edit.py <<'PY'
import glob, json, sys
chk = sorted(glob.glob("ckpt/tamper/chk-*"))[-1]
m = json.load(open(f"{chk}/_manifest.json"))
m[sys.argv[1]] = json.loads(sys.argv[2])
json.dump(m, open(f"{chk}/_manifest.json", "w"))
PY

# Under the sanitizers (TAMPER_BACKENDS=memory) the cases every backend shares
# run once; the rocksdb-only cases below run either way.
for backend in ${TAMPER_BACKENDS:-memory rocksdb}; do
  case_ "bit flipped in a worker state" $backend exact \
    'c=$(ls -d ckpt/tamper/chk-* | sort | tail -1); printf "\x5a" | dd of=$c/worker-0.state bs=1 seek=40 conv=notrunc 2>/dev/null'
  case_ "worker state cut short" $backend exact \
    'c=$(ls -d ckpt/tamper/chk-* | sort | tail -1); truncate -s 30 $c/worker-1.state'
  case_ "worker state deleted" $backend exact \
    'c=$(ls -d ckpt/tamper/chk-* | sort | tail -1); rm $c/worker-0.state'
  case_ "worker state a link to a host file" $backend exact \
    'c=$(ls -d ckpt/tamper/chk-* | sort | tail -1); rm $c/worker-0.state; ln -s '"$dir"'/secret.txt $c/worker-0.state'
  case_ "manifest: -5 workers" $backend exact 'python3 ../edit.py workers -5'
  case_ "manifest: 1 worker for 2" $backend exact 'python3 ../edit.py workers 1'
  case_ "manifest: another checkpoint id" $backend exact 'python3 ../edit.py id 1'
  case_ "manifest: not JSON" $backend exact \
    'c=$(ls -d ckpt/tamper/chk-* | sort | tail -1); printf "{\"workers\": 2, " >$c/_manifest.json'
  case_ "every checkpoint damaged" $backend "no complete checkpoint of 'tamper' can be restored" \
    'for c in ckpt/tamper/chk-*; do [ -f $c/worker-0.state ] && printf "\x00\x01" | dd of=$c/worker-0.state bs=1 seek=20 conv=notrunc 2>/dev/null; done; true'
  case_ "pending file cut short" $backend "is not the one checkpoint" \
    'p=$(ls out/counts.jsonl.pending-* 2>/dev/null | head -1); if [ -z "$p" ]; then c=$(ls -d ckpt/tamper/chk-* | sort | tail -1); echo "no pending file" >&2; exit 1; fi; truncate -s 10 $p'
  case_ "published output replaced by a host file" $backend "replaced or changed" \
    'size=$(stat -c %s out/counts.jsonl); head -c $size /dev/zero | tr "\0" "x" >out/counts.jsonl'
done
# References outside the store, checksums forged to match: refused by name.
case_ "rocksdb: a shared file reference up and out" rocksdb "exact:refused the file reference" \
  'ref=$(grep -ao "[.][.]/shared/[0-9a-f]*-w0-[0-9]*[.]sst" $(ls -d ckpt/tamper/chk-* | sort | tail -1)/worker-0.state | head -1);
   [ -n "$ref" ] || { echo "no shared ref" >&2; exit 1; }
   evil=$(python3 -c "import os, sys; r=sys.argv[1]; e=os.path.dirname(r)+\"/../../../../../../../etc/hostname\"; e=(e+\"/\"*len(r))[:len(r)] if len(e)<len(r) else e[:len(r)]; print(e)" "$ref");
   python3 ../forge.py 0 "$ref" "$evil"'
case_ "rocksdb: an own file reference to an absolute path" rocksdb "exact:refused the file reference" \
  'ref=$(grep -ao "db-w0/CURRENT" $(ls -d ckpt/tamper/chk-* | sort | tail -1)/worker-0.state | head -1);
   [ -n "$ref" ] || { echo "no own ref" >&2; exit 1; }
   python3 ../forge.py 0 "db-w0/CURRENT" "/etc/hostname"'
case_ "rocksdb: a bit flipped in an SST file" rocksdb "is damaged (its checksum is not the one recorded)" \
  'f=$(ls ckpt/tamper/shared/*.sst | tail -1); printf "\x5a" | dd of=$f bs=1 seek=100 conv=notrunc 2>/dev/null'
[ -z "$(ls -A "$dir/state-rocksdb/tamper" 2>/dev/null)" ] || fail "a failed rocksdb restore left files behind"
case_ "a worker state of another pipeline shape, checksum forged" memory "is of another pipeline" \
  'python3 ../forge.py 0 "counts" "countz"'
echo "tamper: $n cases: each restored exactly or refused with a clear error; no host file touched"
