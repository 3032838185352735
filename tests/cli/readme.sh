#!/usr/bin/env bash
# Every command the README shows runs, in a short smoke mode (small inputs), and
# the docs point nowhere outside the repository:
# - each pipeline in a ```yaml block of README.md and docs/*.md (one with
#   `name:` and `sources:`) validates;
# - every relative Markdown link resolves to a file in the repository, and no
#   tracked file refers to the planning documents outside it;
# - the README's scripts: demo (live and file), the fraud demo (to a folder and
#   to S3), bench-stateless, bench-windows,
#   bench-kafka, bench/run.sh, bench/kafka.sh, bench/state_size.sh,
#   bench/checkpoint_keys.sh, the `streamrun kafka` + `generate --topic` pair,
#   and the build output path it names.
# scripts/test.sh itself is what CI runs; scripts/fuzz.sh and generate.sh run
# there too. Usage: readme.sh REPO_ROOT (with a release build in build/release)
set -euo pipefail
root="$1"
cd "$root"
bin=build/release/runner/streamrun
dir=$(mktemp -d)
broker=""
trap '[ -z "$broker" ] || kill "$broker" 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "readme: $*"; exit 1; }
step() { echo "readme: $*"; }
# The demos serve /metrics and the web view: on free ports, so a pipeline of
# the developer's (or another test) on the default ones is no obstacle.
export METRICS_LISTEN=127.0.0.1:0 UI_LISTEN=127.0.0.1:0

# The build output the README names is there.
grep -q "build/release/runner/streamrun" README.md || fail "README does not name build/release/runner/streamrun"
for named in $(grep -o 'build/release/[A-Za-z0-9_/.-]*' README.md | sort -u); do
  [ -e "$named" ] || fail "README names $named, which the build does not make"
done

# Pipelines shown in the docs validate.
python3 - "$dir" README.md docs/*.md pipelines/README.md <<'PY'
import os, re, sys
out = sys.argv[1]
n = 0
for path in sys.argv[2:]:
    text = open(path).read()
    for i, block in enumerate(re.findall(r"```yaml\n(.*?)```", text, re.S)):
        if re.search(r"^name:", block, re.M) and re.search(r"^sources:", block, re.M):
            n += 1
            with open(os.path.join(out, f"doc-{n}.yaml"), "w") as f:
                f.write(f"# {path} block {i + 1}\n" + block)
print(f"readme: {n} pipelines in the docs")
PY
for p in "$dir"/doc-*.yaml; do
  CLICKS_FILE=x KAFKA_BROKERS=embedded "$bin" validate "$p" >/dev/null 2>"$dir/err" ||
    fail "$(head -1 "$p" | cut -c3-) does not validate: $(cat "$dir/err")"
done

# Links stay inside the repository; nothing refers to the planning documents.
python3 - <<'PY'
import os, re, subprocess, sys
files = subprocess.run(["git", "ls-files", "*.md"], capture_output=True, text=True, check=True).stdout.split()
bad = []
for path in files:
    text = open(path).read()
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+://", target) or target.startswith("#") or target.startswith("mailto:"):
            continue
        target = target.split("#")[0]
        full = os.path.normpath(os.path.join(os.path.dirname(path), target))
        if full.startswith("..") or not os.path.exists(full):
            bad.append(f"{path}: link to {target}")
tracked = subprocess.run(["git", "grep", "-lE", r"\.\./shared/(SPEC|DESIGN|STYLE|NEXMARK)|SPEC\.md|DESIGN\.md|SPEC section",
                          "--", ".", ":!tests/cli/readme.sh"], capture_output=True, text=True).stdout.split()
bad += [f"{p}: refers to a planning document outside the repository" for p in tracked]
if bad:
    print("readme: " + "\nreadme: ".join(bad))
    sys.exit(1)
print(f"readme: links of {len(files)} Markdown files stay inside the repository")
PY

# The demos: a few seconds each, stopped with Ctrl-C (SIGINT), must show tables.
step "scripts/demo.sh"
status=0
timeout --preserve-status -s INT 12 scripts/demo.sh >"$dir/demo.out" 2>&1 || status=$?
[ $status -eq 0 ] || { tail -20 "$dir/demo.out"; fail "scripts/demo.sh exited $status on Ctrl-C"; }
grep -q "Top 10 pages" "$dir/demo.out" || { tail -20 "$dir/demo.out"; fail "scripts/demo.sh showed no table"; }
step "scripts/demo.sh file"
status=0
timeout --preserve-status -s INT 8 scripts/demo.sh file >"$dir/demo-file.out" 2>&1 || status=$?
[ $status -eq 0 ] || { tail -20 "$dir/demo-file.out"; fail "scripts/demo.sh file exited $status"; }
grep -q "\"page_url\"" "$dir/demo-file.out" || { tail -20 "$dir/demo-file.out"; fail "scripts/demo.sh file showed no clicks"; }

# The fraud demo: alerts on the terminal, checkpoints to a folder, then to an
# S3-compatible store (s3rver) when S3_ENDPOINT is set.
step "scripts/fraud-demo.sh"
status=0
# Ctrl-C once a model alert is on the terminal and a checkpoint is complete
# (about 10 s; up to 40 s when the machine is loaded and the consumer group
# takes long to settle), as a user would.
CHECKPOINT_STORAGE="file://$dir/fraud-ckpt" timeout --preserve-status -s INT 40 scripts/fraud-demo.sh \
  >"$dir/fraud.out" 2>&1 &
demo=$!
for _ in $(seq 400); do
  grep -q '"rule":"model"' "$dir/fraud.out" && grep -q "checkpoint [0-9]* complete" "$dir/fraud.out" && break
  sleep 0.1
done
kill -INT "$demo" 2>/dev/null || true
wait "$demo" || status=$?
[ $status -eq 0 ] || { tail -20 "$dir/fraud.out"; fail "scripts/fraud-demo.sh exited $status on Ctrl-C"; }
grep -q '"rule":"model"' "$dir/fraud.out" || { tail -20 "$dir/fraud.out"; fail "scripts/fraud-demo.sh showed no alert"; }
grep -Eq "checkpoints: [1-9][0-9]* complete, 0 failed" "$dir/fraud.out" ||
  { tail -20 "$dir/fraud.out"; fail "scripts/fraud-demo.sh completed no checkpoint"; }
if command -v s3rver >/dev/null; then
  step "S3_ENDPOINT=... scripts/fraud-demo.sh (s3rver)"
  s3port=$((20000 + RANDOM % 20000))
  mkdir -p "$dir/s3"
  s3rver --directory "$dir/s3" --port "$s3port" --address 127.0.0.1 --configure-bucket streamrun --silent \
    >"$dir/s3rver.log" 2>&1 &
  s3server=$!
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$s3port/" && break; sleep 0.1; done
  status=0
  S3_ENDPOINT="http://127.0.0.1:$s3port" AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER \
    timeout --preserve-status -s INT 10 scripts/fraud-demo.sh >"$dir/fraud-s3.out" 2>&1 || status=$?
  kill "$s3server" 2>/dev/null || true
  [ $status -eq 0 ] || { tail -20 "$dir/fraud-s3.out"; fail "scripts/fraud-demo.sh with S3 exited $status"; }
  grep -Eq "checkpoints: [1-9][0-9]* complete, 0 failed" "$dir/fraud-s3.out" ||
    { tail -20 "$dir/fraud-s3.out"; fail "scripts/fraud-demo.sh completed no checkpoint in S3"; }
  find "$dir/s3/streamrun" -path "*fraud/run-*" | grep -q . || fail "no checkpoint reached the S3 store"
fi

# `streamrun kafka` and `generate --topic` (the README's feed for a real cluster).
step "streamrun kafka + generate --topic"
"$bin" kafka --partitions 4 --topic clicks --bootstrap-file "$dir/bootstrap" >/dev/null 2>&1 &
broker=$!
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
[ -s "$dir/bootstrap" ] || fail "streamrun kafka printed no address"
"$bin" generate clicks --count 2000 --rate 4000/s --start-time now --topic clicks --brokers "$(cat "$dir/bootstrap")" ||
  fail "generate --topic failed"
n=$(kcat -C -b "$(cat "$dir/bootstrap")" -t clicks -e -q | wc -l)
[ "$n" -eq 2000 ] || fail "the topic holds $n clicks, expected 2000"
kill "$broker"
broker=""

# The benchmarks, tiny.
export BENCH_DIR="$dir/bench"
step "scripts/bench-stateless.sh 2"
scripts/bench-stateless.sh 2 >"$dir/out" 2>&1 || { cat "$dir/out"; fail "bench-stateless.sh failed"; }
[ "$(grep -c "records read" "$dir/out")" -eq 2 ] || { cat "$dir/out"; fail "bench-stateless.sh printed no figures"; }
step "scripts/bench-windows.sh 20000"
scripts/bench-windows.sh 20000 >"$dir/out" 2>&1 || { cat "$dir/out"; fail "bench-windows.sh failed"; }
[ "$(grep -c "records read" "$dir/out")" -eq 2 ] || { cat "$dir/out"; fail "bench-windows.sh printed no figures"; }
step "scripts/bench-kafka.sh 20000"
scripts/bench-kafka.sh 20000 >"$dir/out" 2>&1 || { cat "$dir/out"; fail "bench-kafka.sh failed"; }
grep -q "records/s" "$dir/out" || { cat "$dir/out"; fail "bench-kafka.sh printed no figures"; }
step "bench/run.sh q0 q5 clickstream (EVENTS=20000)"
EVENTS=20000 bench/run.sh q0 q5 clickstream >"$dir/out" 2>&1 || { cat "$dir/out"; fail "bench/run.sh failed"; }
grep -q "| q5 | 2 |" "$dir/out" || { cat "$dir/out"; fail "bench/run.sh printed no table"; }
step "bench/kafka.sh q0 (KAFKA_EVENTS=20000, LATENCY_SECONDS=3)"
KAFKA_EVENTS=20000 LATENCY_SECONDS=3 bench/kafka.sh q0 >"$dir/out" 2>&1 || { cat "$dir/out"; fail "bench/kafka.sh failed"; }
grep -q "| q0 | 2 |" "$dir/out" || { cat "$dir/out"; fail "bench/kafka.sh printed no table"; }
step "bench/state_size.sh (KEYS=5000)"
KEYS=5000 bench/state_size.sh >"$dir/out" 2>&1 || { cat "$dir/out"; fail "bench/state_size.sh failed"; }
grep -q "tumbling" "$dir/out" || { cat "$dir/out"; fail "bench/state_size.sh printed no table"; }
step "bench/checkpoint_keys.sh rocksdb (KEYS=20000, INTERVAL=1s)"
KEYS=20000 INTERVAL=1s bench/checkpoint_keys.sh rocksdb >"$dir/out" 2>&1 ||
  { cat "$dir/out"; fail "bench/checkpoint_keys.sh failed"; }
echo "readme: every README command ran"
