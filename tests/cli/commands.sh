#!/usr/bin/env bash
# The commands of docs/commands.md that exist so far, and their exit codes.
# Usage: commands.sh STREAMRUN REPO_ROOT
set -euo pipefail
bin="$1"
root="$2"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() { echo "commands: $*"; exit 1; }
expect_exit() {
  local want=$1; shift
  local got=0
  "$@" >"$dir/stdout" 2>"$dir/stderr" || got=$?
  [ "$got" -eq "$want" ] || { cat "$dir/stdout" "$dir/stderr"; fail "'$*' exited $got, expected $want"; }
}

cd "$root"
expect_exit 0 "$bin" --help
expect_exit 0 "$bin" run --help
expect_exit 0 "$bin" version
grep -q '^streamrun ' "$dir/stdout" || fail "version prints no version"
expect_exit 0 "$bin" validate pipelines/demo_clicks_file.yaml
grep -q "is valid" "$dir/stdout" || fail "validate says nothing on success"
for p in pipelines/*.yaml; do CLICKS_FILE=x expect_exit 0 "$bin" validate "$p"; done

# Three mistakes: all reported, with positions and a suggestion; exit 2.
expect_exit 2 "$bin" validate tests/pipelines/config_three_mistakes/pipeline.yaml
[ "$(grep -c ': error: ' "$dir/stderr")" -eq 3 ] || { cat "$dir/stderr"; fail "validate did not report 3 errors"; }
grep -q "pipeline.yaml:6:5: .*did you mean 'format'" "$dir/stderr" || fail "no suggestion for formt"
# Each mistake once: no error repeated by a later stage, none hidden by an earlier one.
expect_exit 2 "$bin" validate tests/pipelines/config_each_mistake_once/pipeline.yaml
[ "$(grep -c ': error: ' "$dir/stderr")" -eq 8 ] || { cat "$dir/stderr"; fail "validate did not report each of 8 mistakes once"; }
[ "$(grep ': error: ' "$dir/stderr" | sort | uniq -d | wc -l)" -eq 0 ] || fail "validate repeated an error"

expect_exit 2 "$bin" run tests/pipelines/config_cycle/pipeline.yaml
expect_exit 2 "$bin" validate "$dir/does-not-exist.yaml"
expect_exit 2 "$bin" no-such-file.yaml
expect_exit 2 "$bin" explain --format svg pipelines/demo_clicks_file.yaml

# `streamrun FILE` runs the pipeline; a run-time failure exits 1.
mkdir -p "$dir/out"
CLICKS_FILE=pipelines/data/clicks.jsonl expect_exit 0 "$bin" pipelines/demo_clicks_file.yaml
[ "$(wc -l <"$dir/stdout")" -gt 100 ] || fail "the demo printed too little"
printf '{"a":1}\nnot json\n' >"$dir/bad.jsonl"
cat >"$dir/fail.yaml" <<YAML
name: fails
sources: { in: { type: file, path: $dir/bad.jsonl } }
sinks: { out: { type: "null", input: in } }
YAML
expect_exit 1 "$bin" run "$dir/fail.yaml"
grep -q "bad.jsonl:2" "$dir/stderr" || fail "the failure does not name the record's position"
sed 's#path: .*bad.jsonl#path: '"$dir"'/nope-*.jsonl#' "$dir/fail.yaml" >"$dir/nofile.yaml"
expect_exit 1 "$bin" run "$dir/nofile.yaml"

# explain: text and dot.
expect_exit 0 "$bin" explain pipelines/demo_clicks_file.yaml
grep -q "filter page_url is not null" "$dir/stdout" || fail "explain text lacks the filter"
expect_exit 0 "$bin" explain --format dot pipelines/demo_clicks_file.yaml
grep -q "^digraph" "$dir/stdout" || fail "explain dot is not a digraph"
grep -q -- "->" "$dir/stdout" || fail "explain dot has no edges"
# ... a window's lateness and emit mode, where records cross workers, the `.late` edge.
cat >"$dir/late.yaml" <<'YAML'
name: late
sources: { in: { type: file, path: x.jsonl, event_time: { field: ts, watermark: { max_out_of_orderness: 2s } } } }
transforms:
  w: { input: in, steps: [ { key_by: k }, { window: { tumbling: 5s, allowed_lateness: 3s, aggregate: { n: count() } } } ] }
sinks: { out: { type: stdout, input: w }, late: { type: stdout, input: w.late } }
YAML
expect_exit 0 "$bin" explain "$dir/late.yaml"
grep -q "window tumbling 5s, allowed lateness 3s: n=count()" "$dir/stdout" || fail "explain lacks the lateness"
grep -q "key_by k  \[records move to their key's worker\]" "$dir/stdout" || fail "explain lacks the exchange"
grep -q "out of order up to 2s" "$dir/stdout" || fail "explain lacks the watermark delay"
grep -q "sink late <- w.late" "$dir/stdout" || fail "explain lacks the late input"
expect_exit 0 "$bin" explain --format dot "$dir/late.yaml"
grep -q 'n1 -> n3 \[label="late", style=dashed\]' "$dir/stdout" || fail "explain dot lacks the late edge label"

# stdin source with stdout sink.
printf 'name: pipe\nsources: { in: { type: stdin } }\ntransforms: { t: { input: in, steps: [ { set: { b: "a + 1" } } ] } }\nsinks: { out: { type: stdout, input: t } }\n' >"$dir/pipe.yaml"
out=$(printf '{"a":1}\n{"a":41}\n' | "$bin" run -q "$dir/pipe.yaml")
[ "$out" = $'{"a":1,"b":2}\n{"a":41,"b":42}' ] || fail "stdin -> stdout gave: $out"

# test: a failing case prints a diff and exits 1.
mkdir -p "$dir/cases/wrong"
printf 'name: wrong\nsources: { in: { type: stdin } }\nsinks: { out: { type: stdout, input: in } }\n' >"$dir/cases/wrong/pipeline.yaml"
printf '{"a":1}\n' >"$dir/cases/wrong/input.in.jsonl"
printf '{"a":2}\n' >"$dir/cases/wrong/expected.out.jsonl"
expect_exit 1 "$bin" test "$dir/cases"
grep -q -- '- {"a":2}' "$dir/stdout" || fail "test shows no missing row"
grep -q -- '+ {"a":1}' "$dir/stdout" || fail "test shows no unexpected row"
grep -q "0 passed, 1 failed" "$dir/stdout" || fail "test summary missing"
# console format: table, not a terminal: one complete table per window, as plain text.
expect_exit 0 "$bin" run -q pipelines/clicks_top10_file.yaml
[ "$(grep -c '^window 2026-01-01' "$dir/stdout")" -ge 2 ] || fail "the table shows no window headers"
grep -q '^page_url  *clicks  *rank$' "$dir/stdout" || fail "the table has no column header"
! grep -q $'\x1b' "$dir/stdout" || fail "escape codes written to a non-terminal"
# Live on a terminal (script gives it one): redrawn in place.
if command -v script >/dev/null; then
  script -qc "$bin run -q pipelines/clicks_top10_file.yaml" /dev/null >"$dir/tty" 2>&1 || true
  grep -q $'\x1b\[H' "$dir/tty" || fail "no redraw on a terminal"
fi
echo "commands: ok"
