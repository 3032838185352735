#!/usr/bin/env bash
# A 10 MB line passes through whole; a record over max_record_size is a counted
# dead letter, and reading goes on. Usage: big_record.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
python3 - "$dir/in.jsonl" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write('{"id":1}\n')
    f.write('{"id":2,"blob":"' + "x" * (10 * 1024 * 1024) + '"}\n')
    f.write('{"id":3}\n')
PY
cat >"$dir/p.yaml" <<YAML
name: big-record
runtime: { errors: { policy: dead_letter, sink: bad } }
sources:
  in:
    type: file
    path: $dir/in.jsonl
    max_record_size: \${MAX:-67108864}
transforms:
  t: { input: in, steps: [ { set: { size: "length(blob)" } } ] }
sinks:
  out: { type: file, input: t, path: $dir/out.jsonl }
  bad: { type: file, path: $dir/bad.jsonl }
YAML
"$bin" run -q "$dir/p.yaml"
[ "$(wc -l <"$dir/out.jsonl")" -eq 3 ] || { echo "expected 3 records out"; exit 1; }
grep -q '"size":10485760' "$dir/out.jsonl" || { echo "the 10 MB record did not pass whole"; exit 1; }
[ ! -s "$dir/bad.jsonl" ] || { echo "unexpected dead letters"; exit 1; }

MAX=1048576 "$bin" run -q "$dir/p.yaml"
[ "$(wc -l <"$dir/out.jsonl")" -eq 2 ] || { echo "expected 2 records out with a 1 MB limit"; exit 1; }
grep -q 'longer than max_record_size' "$dir/bad.jsonl" || { echo "no dead letter for the long record"; exit 1; }
[ "$(wc -c <"$dir/bad.jsonl")" -lt 4096 ] || { echo "the dead letter should keep only the first bytes"; exit 1; }
echo "big_record: ok"
