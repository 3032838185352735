#!/usr/bin/env bash
# Checkpoints written by an earlier streamrun restore (docs/guarantees.md
# "Upgrades"): every folder tests/compat/<format>-<backend> holds the store of
# a run stopped halfway through tests/compat/input.jsonl, with its published
# output. Restored by this streamrun (at parallelism 1 and 2, both backends),
# the finished output must be the output of one uninterrupted run.
# Usage: compat.sh STREAMRUN
set -euo pipefail
bin="$(realpath "$1")"
here="$(cd "$(dirname "$0")/../compat" && pwd)"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "compat: $*"; exit 1; }

# The reference: one uninterrupted run over the whole input.
mkdir "$dir/reference"
cd "$dir/reference"
cp "$here/pipeline.yaml" "$here/input.jsonl" .
STORE="$dir/reference/store" "$bin" run pipeline.yaml >/dev/null 2>run.log || { cat run.log; fail "reference run failed"; }

found=0
for fixture in "$here"/*-memory "$here"/*-rocksdb; do
  [ -d "$fixture" ] || continue
  found=$((found + 1))
  name=$(basename "$fixture")
  backend=${name##*-}
  for p in 1 2; do
    work="$dir/$name-p$p"
    cp -r "$fixture" "$work"
    cd "$work"
    cp "$here/pipeline.yaml" "$here/input.jsonl" .
    STORE="$work/store" BACKEND=$backend "$bin" run -p $p pipeline.yaml >/dev/null 2>run.log ||
      { cat run.log; fail "$name: the restore at -p $p failed"; }
    grep -q "restored checkpoint" run.log || { cat run.log; fail "$name: nothing was restored at -p $p"; }
    for out in windows sessions top; do
      if ! cmp -s <(sort "out/$out.jsonl") <(sort "$dir/reference/out/$out.jsonl"); then
        diff <(sort "out/$out.jsonl") <(sort "$dir/reference/out/$out.jsonl") | head -20
        fail "$name at -p $p: out/$out.jsonl differs from an uninterrupted run"
      fi
    done
    echo "compat: $name restored at -p $p: $(cat out/*.jsonl | wc -l) rows as one uninterrupted run"
  done
done
[ "$found" -ge 2 ] || fail "no checkpoint fixtures in $here"
