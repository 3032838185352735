#!/usr/bin/env bash
# A job of several processes (docs/scaling.md) on `streamrun kafka` (its own
# process, an 8-partition input topic of clicks keyed by page):
# 1. the reference: the same pipeline as one ordinary process over the topic
#    (bounded, 2 workers), its windows up to the last input;
# 2. one member, then three members, give exactly those rows: windows per
#    user (the input is partitioned by page, so the job re-keys through a
#    repartition topic) to a Kafka topic and to a file, and a global top 10
#    per window (a gather) to a file;
# 3. three members while input flows, one killed with SIGKILL mid-run and a
#    fourth added later: the file outputs are exactly the reference (no row
#    lost, none twice), the Kafka output has every row (the embedded broker
#    shows aborted transactions, so rows written again after the kill may
#    appear twice there; against a real broker it is read with read_committed
#    and must be exact too);
# 4. a job whose input has a partition without records still closes its
#    windows once that partition is idle (its task tells the tasks after the
#    repartition topic to leave it out), with the rows of one process;
# 5. while they ran, no task ran in two members at once (sampled from
#    `streamrun status`), and a second plain process on one pipeline's
#    checkpoints is refused.
# Usage: scale_out.sh STREAMRUN
# With KAFKA_BROKERS set it runs against that cluster instead (topics and
# jobs get a unique suffix; the members create the repartition topics):
# tests/kafka_real/scale_out.sh.
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
pids=()
real="${KAFKA_BROKERS:-}"
sfx=""
[ -n "$real" ] && sfx="-$RANDOM$RANDOM"
cleanup() {
  for p in "${pids[@]}"; do { kill -9 "$p" && wait "$p"; } 2>/dev/null || true; done
  if [ -n "$real" ] && [ -s "$dir/topics" ]; then
    /usr/bin/python3 - "$real" $(cat "$dir/topics") <<'PY' || true
import sys
from confluent_kafka.admin import AdminClient
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for f in admin.delete_topics(sys.argv[2:]).values():
    try: f.result()
    except Exception: pass
PY
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
fail() {
  echo "scale_out: $*"
  for f in "$dir"/*.err; do [ -s "$f" ] && { echo "--- $f"; grep -v " info " "$f" | tail -15; }; done
  exit 1
}

one="one$sfx" three="three$sfx" killed="kill$sfx" idle="idle$sfx"
clicks="clicks$sfx" clicks_kill="clicks_kill$sfx" clicks_idle="clicks_idle$sfx"
if [ -z "$real" ]; then
  # The embedded broker in its own process cannot create topics on request:
  # every topic, the jobs' repartition topics too (`explain --member` lists
  # them), is made up front.
  topics=(--topic "$clicks" --topic "$clicks_kill" --topic "$clicks_idle")
  for j in "$one" "$three" "$killed" "$idle"; do
    for t in per_user-1-window-repartition top_pages-1-window-repartition top_pages-2-top_n-gather; do
      topics+=(--topic "$j-$t")
    done
    topics+=(--topic "users_$j")
  done
  "$bin" kafka --partitions 8 "${topics[@]}" --bootstrap-file "$dir/bootstrap" >"$dir/broker.out" 2>"$dir/broker.err" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
  [ -s "$dir/bootstrap" ] || fail "the broker did not start"
  brokers=$(cat "$dir/bootstrap")
else
  brokers="$real"
  echo "$clicks $clicks_kill $clicks_idle users_$one users_$three users_$killed users_$idle" >"$dir/topics"
  /usr/bin/python3 - "$brokers" $(cat "$dir/topics") <<'PY' || fail "cannot create the topics"
import sys
from confluent_kafka.admin import AdminClient, NewTopic
admin = AdminClient({"bootstrap.servers": sys.argv[1]})
for f in admin.create_topics([NewTopic(n, num_partitions=8, replication_factor=-1) for n in sys.argv[2:]]).values():
    f.result()
PY
fi

# 60 s of event time, 1 ms apart, 5% up to 1 s out of order; keyed by page.
"$bin" generate clicks --count 60000 --seed 20 --out-of-order 0.05:1s >"$dir/clicks.jsonl"
last_ts=$(python3 -c "import json,sys; print(max(json.loads(l)['ts'] for l in open(sys.argv[1])))" "$dir/clicks.jsonl")
python3 - "$dir/clicks.jsonl" "$dir" "$last_ts" <<'PY'
import json, sys
lines = open(sys.argv[1]).read().splitlines()
d, last = sys.argv[2], int(sys.argv[3])
cut = len(lines) * 6 // 10
for name, part in (("first", lines[:cut]), ("rest", lines[cut:])):
    with open(f"{d}/{name}.txt", "w") as out:
        for line in part:
            out.write(f'{json.loads(line)["page_url"]}\t{line}\n')
# One late-arriving click per partition an hour later: every real window closes.
with open(f"{d}/flush.jsonl", "w") as out:
    out.write(json.dumps({"user_id": "flush", "page_url": "/flush", "referrer": None, "ts": last + 3600000}) + "\n")
PY
produce() { kcat -P -b "$brokers" -t "$1" -K $'\t' -l "$2"; }
flush() { for p in 0 1 2 3 4 5 6 7; do kcat -P -b "$brokers" -t "$1" -p $p -l "$dir/flush.jsonl"; done; }

# pipeline JOB TOPIC: the job as members run it (checkpoints, unbounded
# input, windows per user to the Kafka topic users_JOB). `pipeline ref`:
# the reference, one ordinary process over the whole topic (bounded, both
# outputs to files).
pipeline() {
  local ckpt="  checkpoint: { storage: \"file://$dir/ckpt\", interval: 500ms }" bounded=false
  local users="    type: kafka
    brokers: $brokers
    topic: users_$1"
  if [ "$1" = ref ]; then
    ckpt="" bounded=true
    users="    type: file
    path: $dir/ref-users.jsonl"
  fi
  cat <<EOF
name: $1
runtime:
  parallelism: 2
$ckpt
sources:
  clicks:
    type: kafka
    brokers: $brokers
    topic: $2
    bounded: $bounded
    properties: { session.timeout.ms: "6000", heartbeat.interval.ms: "500" }
    event_time: { field: ts, format: epoch_millis, watermark: { max_out_of_orderness: 2s, idle_timeout: ${3:-60s} } }
transforms:
  per_user:
    input: clicks
    steps:
      - key_by: user_id
      - window: { tumbling: 10s, aggregate: { clicks: count() } }
  top_pages:
    input: clicks
    steps:
      - key_by: page_url
      - window: { tumbling: 10s, aggregate: { clicks: count() } }
      - top_n: { n: 10, by: clicks, order: desc }
sinks:
  users:
    input: per_user
$users
  top_out:
    input: top_pages
    type: file
    path: $dir/$1-top.jsonl
EOF
}
# Rows of windows that closed before the flush (the flush's own stay open).
closed() { python3 -c "
import json, sys
for line in open(sys.argv[1]):
    if line.strip() and json.loads(line)['window_end'] <= int(sys.argv[2]) + 10000: print(line.strip())
" "$1" "$last_ts" | sort; }
read_users() {  # every row of topic users_JOB (committed ones only)
  kcat -C -b "$brokers" -t "users_$1" -X isolation.level=read_committed -e -q -f '%s\n' 2>/dev/null | grep . | sort || true
}

produce "$clicks" "$dir/first.txt"
produce "$clicks" "$dir/rest.txt"
flush "$clicks"
produce "$clicks_kill" "$dir/first.txt"
# The same clicks in partitions 0 to 6 only, and the flush there.
/usr/bin/python3 - "$brokers" "$clicks_idle" "$dir/first.txt" "$dir/rest.txt" "$dir/flush.jsonl" <<'PY'
import sys, zlib
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1], "linger.ms": 20})
for name in sys.argv[3:5]:
    for line in open(name):
        key, value = line.rstrip("\n").split("\t", 1)
        p.produce(sys.argv[2], value.encode(), key.encode(), partition=zlib.crc32(key.encode()) % 7)
        p.poll(0)
flush = open(sys.argv[5]).read().strip()
for part in range(7):
    p.produce(sys.argv[2], flush.encode(), partition=part)
p.flush(30)
PY

# ---- 1. the reference: one ordinary process -----------------------------------
pipeline ref "$clicks" >"$dir/ref.yaml"
"$bin" run -q "$dir/ref.yaml" 2>"$dir/ref.err" || fail "the reference run failed"
closed "$dir/ref-users.jsonl" >"$dir/expected-users"
closed "$dir/ref-top.jsonl" >"$dir/expected-top"
n_users=$(wc -l <"$dir/expected-users")
n_top=$(wc -l <"$dir/expected-top")
[ "$n_users" -gt 10000 ] && [ "$n_top" -eq 60 ] || fail "reference: $n_users user rows, $n_top top rows"

# Waits until job $1's outputs hold every expected row (up to $2 s).
wait_complete() {
  for _ in $(seq $(($2 * 2))); do
    local top users
    top=$(closed "$dir/$1-top.jsonl" 2>/dev/null | wc -l)
    users=$(read_users "$1" | sort -u | wc -l)
    [ "$top" -ge "$n_top" ] && [ "$users" -ge "$n_users" ] && return 0
    sleep 0.5
  done
  return 1
}
# Checks job $1's outputs against the reference; $2 = exact: Kafka rows once each.
check() {
  closed "$dir/$1-top.jsonl" >"$dir/$1-top.sorted"
  diff -q "$dir/expected-top" "$dir/$1-top.sorted" >/dev/null ||
    fail "$1: the top 10 differ from one process: $(diff "$dir/expected-top" "$dir/$1-top.sorted" | head -5)"
  read_users "$1" >"$dir/$1-users.sorted"
  if [ "$2" = exact ]; then
    diff -q "$dir/expected-users" "$dir/$1-users.sorted" >/dev/null ||
      fail "$1: the windows per user differ from one process: $(diff "$dir/expected-users" "$dir/$1-users.sorted" | head -5)"
  else
    sort -u "$dir/$1-users.sorted" | diff -q "$dir/expected-users" - >/dev/null ||
      fail "$1: rows per user are missing: $(sort -u "$dir/$1-users.sorted" | comm -23 "$dir/expected-users" - | head -3)"
  fi
}
# No task runs in two members at once: one sample of `streamrun status`.
# The running tasks each sample saw go to $1.seen, so a status that shows
# nothing cannot pass for one without overlaps.
sample_owners() {
  "$bin" status "$dir/$1.yaml" 2>/dev/null |
    awk '/^  [^ ]/ { gone = /\(gone/ } /^    tasks:/ && !gone { for (i = 2; i <= NF; i++) if ($i != "none" && $i !~ /^\(/ && $(i+1) !~ /^\((waiting|ended)\)/) print $i }' \
      >"$dir/$1.sample" || true
  cat "$dir/$1.sample" >>"$dir/$1.seen"
  sort "$dir/$1.sample" | uniq -d >>"$dir/$1.overlaps"
}
# The samples saw running tasks, and none in two members at once.
check_owners() {
  [ -s "$dir/$1.seen" ] || fail "$1: streamrun status never showed a running task"
  [ ! -s "$dir/$1.overlaps" ] || fail "$1: a task ran in two members at once: $(head -3 "$dir/$1.overlaps")"
}

# ---- 2. one member, then three ---------------------------------------------------
pipeline "$one" "$clicks" >"$dir/one.yaml"
"$bin" run "$dir/one.yaml" --member a 2>"$dir/one-a.err" &
pids+=($!)
wait_complete "$one" 120 || fail "one member: incomplete after 120 s"
kill -INT "${pids[-1]}"
wait "${pids[-1]}" || fail "one member did not stop cleanly"
check "$one" exact
# Started over (its checkpoints deleted) on the same repartition topics, the
# job meets its earlier run's records there and refuses them.
rm -rf "$dir/ckpt/$one@"*
status=0
timeout 60 "$bin" run "$dir/one.yaml" --member a 2>"$dir/one-again.err" || status=$?
[ $status -eq 1 ] && grep -q "from another run of the job" "$dir/one-again.err" ||
  fail "a job started over on its old repartition topics: exit $status, $(grep -v " info \| warn " "$dir/one-again.err" | tail -2)"

pipeline "$three" "$clicks" >"$dir/three.yaml"
for m in a b c; do
  "$bin" run "$dir/three.yaml" --member $m 2>"$dir/three-$m.err" &
  pids+=($!)
done
members=("${pids[@]: -3}")
for _ in $(seq 20); do sample_owners three; sleep 0.3; done
wait_complete "$three" 120 || fail "three members: incomplete after 120 s"
for p in "${members[@]}"; do kill -INT "$p"; done
for p in "${members[@]}"; do wait "$p" || fail "a member did not stop cleanly"; done
for m in a b c; do
  grep -q "tasks started" "$dir/three-$m.err" || fail "member $m did not run"
  n=$(grep -o "[0-9]* tasks started" "$dir/three-$m.err" | cut -d' ' -f1)
  [ "$n" -gt 0 ] || fail "member $m ran no task: the group gave it nothing"
done
check "$three" exact
check_owners three

# ---- 3. an input partition without records ------------------------------------
pipeline ref "$clicks_idle" >"$dir/ref-idle.yaml"
sed -i "s#$dir/ref-#$dir/refidle-#" "$dir/ref-idle.yaml"
"$bin" run -q "$dir/ref-idle.yaml" 2>"$dir/refidle.err" || fail "the reference run over the idle topic failed"
closed "$dir/refidle-users.jsonl" | diff -q "$dir/expected-users" - >/dev/null ||
  fail "the clicks in 7 partitions gave other windows than in 8"
pipeline "$idle" "$clicks_idle" 3s >"$dir/idle.yaml"
"$bin" run "$dir/idle.yaml" --member a 2>"$dir/idle-a.err" &
pids+=($!)
wait_complete "$idle" 120 || fail "a partition without records: windows did not close after 120 s"
kill -INT "${pids[-1]}"
wait "${pids[-1]}" || fail "the member did not stop cleanly"
check "$idle" exact

# ---- 4. a member killed, another added ---------------------------------------------
# The job starts on the first 60% of its input; one member is killed once
# checkpoints are being taken, then the rest of the input comes, and a
# fourth member joins.
pipeline "$killed" "$clicks_kill" >"$dir/kill.yaml"
for m in a b c; do
  "$bin" run "$dir/kill.yaml" --member $m 2>"$dir/kill-$m.err" &
  pids+=($!)
done
a=${pids[-3]} b=${pids[-2]} c=${pids[-1]}
for _ in $(seq 100); do
  [ "$(grep -c "complete" "$dir/kill-b.err" 2>/dev/null || true)" -gt 20 ] && break
  sleep 0.1
done
kill -9 "$b"
wait "$b" 2>/dev/null || true
produce "$clicks_kill" "$dir/rest.txt"
flush "$clicks_kill"
for _ in $(seq 10); do sample_owners kill; sleep 0.5; done
"$bin" run "$dir/kill.yaml" --member d 2>"$dir/kill-d.err" &
pids+=($!)
d=${pids[-1]}
for _ in $(seq 20); do sample_owners kill; sleep 0.5; done
wait_complete "$killed" 150 || fail "after a kill and a join: incomplete after 150 s"
for p in "$a" "$c" "$d"; do kill -INT "$p"; done
for p in "$a" "$c" "$d"; do wait "$p" || fail "a member did not stop cleanly after the kill"; done
n=$(grep -o "[0-9]* tasks started" "$dir/kill-d.err" | cut -d' ' -f1)
[ "$n" -gt 0 ] || fail "the member added mid-run took no task"
check "$killed" "$([ -n "$real" ] && echo exact || echo at-least-once)"
dups=$(($(wc -l <"$dir/$killed-users.sorted") - n_users))
check_owners kill

# ---- 5. one pipeline's checkpoints, two plain processes ---------------------------------
pipeline "plain$sfx" "$clicks" >"$dir/plain.yaml"
"$bin" run -q "$dir/plain.yaml" 2>"$dir/plain1.err" &
pids+=($!)
for _ in $(seq 100); do [ -e "$dir/ckpt/plain$sfx/_running" ] && break; sleep 0.1; done
status=0
"$bin" run -q "$dir/plain.yaml" 2>"$dir/plain2.err" || status=$?
[ $status -eq 2 ] && grep -q "already writes the checkpoints" "$dir/plain2.err" ||
  fail "a second process on one pipeline's checkpoints: exit $status, $(cat "$dir/plain2.err")"
kill -INT "${pids[-1]}"
wait "${pids[-1]}" || true

echo "scale_out: ok (reference $n_users user rows and $n_top top rows; 1 and 3 members equal it; after a kill and a join the file output is exact, the Kafka output complete with $dups rows again from aborted transactions)"
