#!/usr/bin/env bash
# Operator plugins (docs/plugins.md), through the binary:
# - every refusal of a library, with its message, exit 2 (streamrun plugins,
#   --plugin, and `plugins:` at its line);
# - sessionize, the session window as a plugin, against the built-in window's
#   expected rows on every golden session case: parallelism 1 and 3, restored
#   midway, memory with no hot keys, rocksdb;
# - pipelines/fraud.yaml (the fraud plugin) on its golden case;
# - an asynchronous operator whose calls complete on a thread of its own;
# - a plugin in plain C and an SDK plugin: a record it fails or throws on goes
#   through the error policy (dead letter, skip, fail), a fatal status ends the
#   run, a configuration it refuses is an error at the step's line:col, one its
#   schema rules out is reported like a built-in step's.
# Usage: plugins.sh STREAMRUN BUILD_DIR SOURCE_DIR
set -euo pipefail
bin="$1"
build=$(cd "$2" && pwd)
src=$(cd "$3" && pwd)
abi="$build/tests/plugins/abi"
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
  echo "plugins: $*"
  exit 1
}

# expect_refusal VARIANT TEXT...: every TEXT is in the message, exit 2.
expect_refusal() {
  local lib="$abi/librefused_$1.so" out status
  shift
  status=0
  out=$("$bin" plugins "$lib" 2>&1) || status=$?
  [ $status -eq 2 ] || fail "$lib: exit $status, expected 2: $out"
  for text in "$lib" "$@"; do
    [[ "$out" == *"$text"* ]] || fail "refusal of $lib lacks '$text': $out"
  done
}
supported="this streamrun supports ABI 1.0, 64-bit little-endian"
expect_refusal no_symbol "has no streamrun_plugin_v1 symbol: it is not a streamrun plugin" "loads ABI 1.0"
expect_refusal other_major "is built for another ABI: it exports streamrun_plugin_v2 (ABI 2)" "loads ABI 1.0"
expect_refusal small "its descriptor is 8 bytes where ABI 1.0 has 48" "$supported"
expect_refusal major_in_descriptor "its descriptor says ABI 2.0" "$supported"
expect_refusal build_tag "it is built for 32-bit big-endian" "$supported"
expect_refusal newer_host "it needs a host of ABI 1.99 or newer" "$supported"
expect_refusal null "its entry returned no descriptor" "$supported"
expect_refusal operator_size "its operator 1 is 16 bytes where ABI 1.0 has" "$supported"
expect_refusal builtin_name "operator 'filter' is already a built-in step"
expect_refusal bad_schema "operator 'refused_op': 'x' has type \"date\""
status=0
"$bin" plugins "$dir/none.so" >"$dir/out" 2>&1 || status=$?
[ $status -eq 2 ] && grep -q "plugin $dir/none.so: no such file" "$dir/out" || fail "a missing library: $(cat "$dir/out")"
echo "plugins: 11 refusals, each with its message"

# The same refusal through --plugin and `plugins:`.
cat >"$dir/refused.yaml" <<YAML
name: refused
plugins:
  - $abi/librefused_other_major.so
sources:
  in: { type: file, path: "$dir/in.jsonl" }
sinks:
  out: { type: stdout, input: in }
YAML
: >"$dir/in.jsonl"
status=0
"$bin" validate "$dir/refused.yaml" >"$dir/out" 2>&1 || status=$?
[ $status -eq 2 ] && grep -q "refused.yaml:3:5: error: plugins: plugin .*librefused_other_major.so: is built for another ABI" "$dir/out" ||
  fail "plugins: refusal: $(cat "$dir/out")"
sed -i '/plugins:/,+1d' "$dir/refused.yaml"
status=0
"$bin" run --plugin "$abi/librefused_null.so" "$dir/refused.yaml" >"$dir/out" 2>&1 || status=$?
[ $status -eq 2 ] && grep -q "streamrun: --plugin: plugin .*librefused_null.so: its entry returned no descriptor" "$dir/out" ||
  fail "--plugin refusal: $(cat "$dir/out")"

# sessionize against the built-in session window: each case's pipeline with
# the plugin in place of the window, and the built-in case's input and
# expected rows.
for case in "$src"/tests/plugins/sessionize/*/; do
  name=$(basename "$case")
  mkdir -p "$dir/sessionize/$name"
  cp "$src/tests/pipelines/$name"/* "$dir/sessionize/$name/"
  cp "$case/pipeline.yaml" "$dir/sessionize/$name/"
done
sessionize="$build/plugins/libsessionize.so"
for mode in "-p 1" "-p 3" "-p 1 --restore-midway" "-p 3 --restore-midway" "-p 3 --state memory --restore-midway" \
  "-p 3 --state rocksdb --restore-midway" "-p 1 --state rocksdb"; do
  # shellcheck disable=SC2086
  "$bin" test "$dir/sessionize" --plugin "$sessionize" $mode >"$dir/out" 2>&1 || fail "sessionize $mode: $(cat "$dir/out")"
  grep -q "^4 passed, 0 failed" "$dir/out" || fail "sessionize $mode: $(tail -3 "$dir/out")"
done
echo "plugins: sessionize equals the built-in session window on 4 golden cases at -p 1 and 3, restored midway, memory and rocksdb"

# The fraud pipeline as shipped (pipelines/fraud.yaml and its model), on a
# golden case of generated transactions: parallelism 1 and 3, restored midway,
# rocksdb.
mkdir -p "$dir/fraud/fraud"
cp "$src"/tests/plugins/fraud/* "$dir/fraud/fraud/"
cp "$src/pipelines/fraud.yaml" "$dir/fraud/fraud/pipeline.yaml"
cp "$src/pipelines/data/fraud_model.json" "$dir/fraud/fraud/"
for mode in "-p 1" "-p 3" "-p 3 --restore-midway" "-p 2 --state rocksdb --restore-midway"; do
  # shellcheck disable=SC2086
  STREAMRUN_PLUGIN_DIR="$build/plugins" "$bin" test "$dir/fraud" $mode >"$dir/out" 2>&1 ||
    fail "fraud $mode: $(grep -v '^streamrun: transform' "$dir/out" | head -20)"
  grep -q "^1 passed, 0 failed" "$dir/out" || fail "fraud $mode: $(tail -3 "$dir/out")"
done
echo "plugins: pipelines/fraud.yaml gives its golden alerts and dead letters at -p 1 and 3, restored midway, rocksdb"

# An asynchronous operator (tests/plugins/abi/async_lookup.cc, completed from
# a thread of its own): every record once, a window after it sees none late
# (the watermark waits for held records), held records across a restore.
for mode in "-p 1" "-p 3" "-p 3 --restore-midway" "-p 2 --state rocksdb --restore-midway"; do
  # shellcheck disable=SC2086
  STREAMRUN_TEST_PLUGINS="$abi" "$bin" test "$src/tests/plugins/async" $mode >"$dir/out" 2>&1 ||
    fail "async $mode: $(head -20 "$dir/out")"
  grep -q "^1 passed, 0 failed" "$dir/out" || fail "async $mode: $(tail -3 "$dir/out")"
done
echo "plugins: an asynchronous operator at -p 1 and 3, restored midway with records held, rocksdb"

# Record errors through the error policy.
cat >"$dir/in.jsonl" <<'JSON'
{"id":1,"action":"ok","amount":5}
{"id":2,"action":"fail","amount":6}
{"id":3,"action":"throw","amount":7}
{"id":4,"action":"ok","amount":8.5}
JSON
# errors_pipeline POLICY STEPS
errors_pipeline() {
  local errors="{ policy: $1 }" dlq=""
  if [ "$1" = dead_letter ]; then
    errors="{ policy: dead_letter, sink: dlq }"
    dlq="  dlq: { type: file, path: \"$dir/dlq.jsonl\" }"
  fi
  cat >"$dir/errors.yaml" <<YAML
name: plugin-errors
plugins: [ "$abi/libc_tagger.so", "$abi/libthrower.so" ]
runtime:
  errors: $errors
sources:
  in: { type: file, path: "$dir/in.jsonl" }
transforms:
  t:
    input: in
    steps:
$2
sinks:
  out: { type: file, path: "$dir/out.jsonl", input: t }
$dlq
YAML
  rm -f "$dir/out.jsonl" "$dir/dlq.jsonl"
}
errors_pipeline dead_letter "      - c_tagger: { factor: 3 }
      - thrower: {}"
"$bin" run -q "$dir/errors.yaml" 2>"$dir/err" || fail "dead letter run: $(cat "$dir/err")"
[ "$(cat "$dir/out.jsonl")" = '{"id":1,"action":"ok","amount":15,"tagged":true,"checked":true}
{"id":4,"action":"ok","amount":25.5,"tagged":true,"checked":true}' ] || fail "dead letter output: $(cat "$dir/out.jsonl")"
grep -q '"error":"c_tagger: asked to fail"' "$dir/dlq.jsonl" || fail "no dead letter for the failed record: $(cat "$dir/dlq.jsonl")"
grep -q '"error":"thrower: thrown while processing"' "$dir/dlq.jsonl" ||
  fail "no dead letter for the record thrown on: $(cat "$dir/dlq.jsonl")"
grep -q '"raw":"{\\"id\\":2' "$dir/dlq.jsonl" || fail "the dead letter lacks the raw record: $(cat "$dir/dlq.jsonl")"
[ "$(wc -l <"$dir/dlq.jsonl")" -eq 2 ] || fail "dead letters: $(cat "$dir/dlq.jsonl")"
errors_pipeline skip "      - c_tagger: { factor: 3 }
      - thrower: {}"
"$bin" run -q "$dir/errors.yaml" 2>"$dir/err" || fail "skip run: $(cat "$dir/err")"
[ "$(wc -l <"$dir/out.jsonl")" -eq 2 ] || fail "skip output: $(cat "$dir/out.jsonl")"
errors_pipeline fail "      - c_tagger: { factor: 3 }
      - thrower: {}"
status=0
"$bin" run -q "$dir/errors.yaml" 2>"$dir/err" || status=$?
[ $status -eq 1 ] && grep -Eq "in.jsonl:[0-9]+ .*: (c_tagger: asked to fail|thrower: thrown while processing)" "$dir/err" ||
  fail "fail policy: exit $status: $(cat "$dir/err")"
# A fatal status from process ends the run with the plugin's message.
echo '{"id":5,"action":"fatal","amount":1}' >>"$dir/in.jsonl"
errors_pipeline skip "      - c_tagger: {}"
status=0
"$bin" run -q "$dir/errors.yaml" 2>"$dir/err" || status=$?
[ $status -eq 1 ] && grep -q "the plugin operator 'c_tagger' failed in process: a fatal record" "$dir/err" ||
  fail "fatal status: exit $status: $(cat "$dir/err")"
echo "plugins: failed and thrown-on records go through the error policy (dead letter, skip, fail); a fatal status ends the run"

# Configurations: refused by the plugin (at the step's line:col), and ruled out by its schema.
errors_pipeline skip "      - thrower: { limit: 0 }
      - c_tagger: { factr: 2 }
      - c_tagger: { factor: 0 }"
status=0
"$bin" validate "$dir/errors.yaml" >"$dir/err" 2>&1 || status=$?
[ $status -eq 2 ] || fail "bad configurations: exit $status"
grep -q "errors.yaml:11:18: error: transform 't' step 1 (thrower): the plugin operator 'thrower' refused its configuration: limit must be more than 0, got 0" "$dir/err" ||
  fail "a configuration the plugin refuses: $(cat "$dir/err")"
grep -q "errors.yaml:12:21: error: unknown key 'factr'" "$dir/err" && grep -q "did you mean 'factor'" "$dir/err" ||
  fail "a key the schema does not have: $(cat "$dir/err")"
grep -q "errors.yaml:13:19: error: .*refused its configuration: factor must not be 0" "$dir/err" ||
  fail "a configuration the C plugin refuses: $(cat "$dir/err")"
echo "plugins: configurations refused at their line:col, by the schema (with a suggestion) and by the plugin"
"$bin" explain --plugin "$sessionize" "$src/tests/plugins/sessionize/pipeline_sessions/pipeline.yaml" >"$dir/out"
grep -q "sessionize .*(plugin sessionize 1.0.0" "$dir/out" || fail "explain does not show the plugin step: $(cat "$dir/out")"
"$bin" schema reference --plugin "$sessionize" >"$dir/out"
grep -q '^### `sessionize`' "$dir/out" || fail "the reference lacks the plugin's step"
"$bin" schema json-schema --plugin "$sessionize" >"$dir/out"
grep -q '"sessionize"' "$dir/out" || fail "the JSON schema lacks the plugin's step"
echo "plugins: ok"
