#!/usr/bin/env bash
# `streamrun generate`: same seed, byte-identical output; count and options respected.
# Usage: generate.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "generate: $*"; exit 1; }
for kind in clicks cart transactions nexmark; do
  "$bin" generate "$kind" --count 2000 --seed 42 >"$dir/a"
  "$bin" generate "$kind" --count 2000 --seed 42 --out "$dir/b"
  cmp -s "$dir/a" "$dir/b" || fail "$kind: the same seed gave different output"
  [ "$(wc -l <"$dir/a")" -eq 2000 ] || fail "$kind: --count 2000 gave $(wc -l <"$dir/a") lines"
  "$bin" generate "$kind" --count 2000 --seed 43 >"$dir/c"
  ! cmp -s "$dir/a" "$dir/c" || fail "$kind: different seeds gave the same output"
done
"$bin" generate nexmark --count 2000 --seed 42 >"$dir/nexmark"
/usr/bin/python3 - "$dir/nexmark" <<'PY'
import json, sys
types = [0, 0, 0]
for line in open(sys.argv[1]):
    e = json.loads(line)
    types[e["event_type"]] += 1
    entity = e[["person", "auction", "bid"][e["event_type"]]]
    assert entity["dateTime"] == e["ts"], line
assert types == [40, 120, 1840], f"persons, auctions, bids: {types}"
PY
"$bin" generate clicks --count 1000 --seed 1 --out-of-order 0.3:5s >"$dir/ooo"
/usr/bin/python3 - "$dir/ooo" <<'PY'
import json, sys
ts = [json.loads(l)["ts"] for l in open(sys.argv[1])]
high, back = ts[0], 0
for t in ts:
    if t < high:
        back += 1
        assert high - t <= 5000, f"moved back {high - t} ms, more than 5 s"
    high = max(high, t)
assert 150 <= back <= 450, f"{back} of 1000 out of order, expected about 300"
PY
start=$(date +%s%N)
"$bin" generate clicks --count 20 --rate 100/s >/dev/null
elapsed_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed_ms" -ge 150 ] || fail "--rate 100/s produced 20 events in ${elapsed_ms} ms"
status=0
"$bin" generate nonsense --count 1 >/dev/null 2>"$dir/err" || status=$?
[ $status -eq 2 ] || fail "an unknown kind exited $status, expected 2"
grep -q "clicks" "$dir/err" || fail "the error does not list the kinds"
echo "generate: ok"
