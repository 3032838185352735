#!/usr/bin/env bash
# Pipelines from topic to topic on `streamrun kafka` (its own process, 4
# partitions), with kcat producing the input and reading the output:
# 1. windowed jobs (tumbling counts, per-user sessions) at parallelism 2 give
#    exactly the rows of the same jobs over a file;
# 2. two topics read as one stream give the same rows again;
# 3. a live (unbounded) job while a second process joins the consumer group
#    and leaves it, and a broker is down for 3 s: every input message is in the
#    output (identified by its partition and offset), never twice from one
#    process; a message that moved between processes may be read again by its
#    new owner (at least once: the mock broker refuses commits mid-rebalance);
# 4. messages that cannot be delivered (every broker down) fail the run;
# 5. partitions without records stop holding the watermark after idle_timeout.
# Usage: kafka_pipeline.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  exec 3>&- 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
fail() {
  echo "kafka_pipeline: $*"
  for f in "$dir"/*.err; do [ -s "$f" ] && { echo "--- $f"; tail -20 "$f"; }; done
  exit 1
}

mkfifo "$dir/control"
"$bin" kafka --brokers 3 --partitions 4 --topic clicks --topic clicks_a --topic clicks_b --topic live_in \
  --bootstrap-file "$dir/bootstrap" --control <"$dir/control" >"$dir/broker.out" 2>"$dir/broker.err" &
pids+=($!)
exec 3>"$dir/control"
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
[ -s "$dir/bootstrap" ] || fail "the broker did not start"
brokers=$(cat "$dir/bootstrap")

# ---- 1. windowed, topic to topic, equals the file run ----------------------
"$bin" generate clicks --count 30000 --seed 11 --out-of-order 0.05:1s >"$dir/clicks.jsonl"
# Keyed by user, as a producer of clicks would: the key picks the partition.
/usr/bin/python3 - "$dir/clicks.jsonl" "$dir/keyed.txt" <<'PY'
import json, sys
with open(sys.argv[2], "w") as out:
    for line in open(sys.argv[1]):
        out.write(f'{json.loads(line)["user_id"]}\t{line}')
PY
kcat -P -b "$brokers" -t clicks -K $'\t' -l "$dir/keyed.txt"

transforms='
transforms:
  pages:
    input: clicks
    steps:
      - key_by: page_url
      - window: { tumbling: 5s, aggregate: { clicks: count(), users: count_distinct(user_id) } }
  sessions:
    input: clicks
    steps:
      - key_by: user_id
      - window: { session: 20s, aggregate: { clicks: count(), first: min(ts), last: max(ts) } }
'
event_time='event_time: { field: ts, watermark: { max_out_of_orderness: 2s } }'
cat >"$dir/kafka.yaml" <<EOF
name: windows-from-kafka
runtime: { parallelism: 2 }
sources:
  clicks: { type: kafka, brokers: "$brokers", topic: clicks, bounded: true, start: earliest, $event_time }
$transforms
sinks:
  pages_out: { input: pages, type: kafka, brokers: "$brokers", topic: pages, key: page_url }
  sessions_out: { input: sessions, type: kafka, brokers: "$brokers", topic: sessions, key: user_id }
EOF
cat >"$dir/file.yaml" <<EOF
name: windows-from-file
runtime: { parallelism: 1 }
sources:
  clicks: { type: file, path: "$dir/clicks.jsonl", $event_time }
$transforms
sinks:
  pages_out: { input: pages, type: file, path: "$dir/pages.file.jsonl" }
  sessions_out: { input: sessions, type: file, path: "$dir/sessions.file.jsonl" }
EOF
"$bin" run "$dir/kafka.yaml" 2>"$dir/kafka_run.err" || fail "the Kafka run failed"
"$bin" run "$dir/file.yaml" 2>"$dir/file_run.err" || fail "the file run failed"
grep -q "0 late dropped" "$dir/file_run.err" || fail "the file run dropped late records; the comparison needs none"
for t in pages sessions; do
  kcat -C -b "$brokers" -t "$t" -e -q -f '%s\n' | sort >"$dir/$t.kafka.sorted"
  sort "$dir/$t.file.jsonl" >"$dir/$t.file.sorted"
  [ -s "$dir/$t.file.sorted" ] || fail "$t: the file run wrote nothing"
  cmp -s "$dir/$t.kafka.sorted" "$dir/$t.file.sorted" ||
    fail "$t: topic rows differ from the file run ($(wc -l <"$dir/$t.kafka.sorted") vs $(wc -l <"$dir/$t.file.sorted") rows): $(diff "$dir/$t.kafka.sorted" "$dir/$t.file.sorted" | head -5)"
done
# Keys were written: the pages topic is keyed by page_url.
kcat -C -b "$brokers" -t pages -e -q -f '%k\t%s\n' | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    key, value = line.rstrip("\n").split("\t", 1)
    assert key == json.loads(value)["page_url"], line
' || fail "pages: message keys are not the page_url"

# ---- 1b. the message's own fields ------------------------------------------
for i in 1 2 3; do echo "k$i|{\"n\":$i}"; done | kcat -P -b "$brokers" -t meta -K '|' -H trace=abc -H "app=t$RANDOM"
cat >"$dir/meta.yaml" <<EOF
name: message-fields
sources:
  m: { type: kafka, brokers: "$brokers", topic: meta, bounded: true, start: earliest }
transforms:
  f:
    input: m
    steps:
      - select: [n, { k: _key }, { t: _timestamp }, { topic: _topic }, { p: _partition }, { o: _offset }, { h: _headers }, { trace: _headers.trace }]
sinks:
  out: { input: f, type: file, path: "$dir/meta.jsonl" }
EOF
"$bin" run "$dir/meta.yaml" 2>"$dir/meta_run.err" || fail "the message-fields run failed"
/usr/bin/python3 - "$dir/meta.jsonl" <<'PY' || fail "message fields are wrong"
import json, sys, time
rows = sorted((json.loads(l) for l in open(sys.argv[1])), key=lambda r: r["n"])
assert [r["n"] for r in rows] == [1, 2, 3], rows
for r in rows:
    assert r["k"] == f'k{r["n"]}', r
    assert abs(r["t"] - time.time() * 1000) < 600_000, r
    assert r["topic"] == "meta" and 0 <= r["p"] < 4 and r["o"] >= 0, r
    assert r["trace"] == "abc" and r["h"]["trace"] == "abc" and r["h"]["app"].startswith("t"), r
PY

# ---- 2. two topics as one stream ----------------------------------------
awk 'NR % 2 == 1' "$dir/keyed.txt" | kcat -P -b "$brokers" -t clicks_a -K $'\t'
awk 'NR % 2 == 0' "$dir/keyed.txt" | kcat -P -b "$brokers" -t clicks_b -K $'\t'
sed -e 's/topic: clicks,/topics: [clicks_a, clicks_b],/' -e 's/topic: pages,/topic: pages2,/' \
  -e 's/topic: sessions,/topic: sessions2,/' -e 's/name: windows-from-kafka/name: two-topics/' "$dir/kafka.yaml" >"$dir/two.yaml"
"$bin" run "$dir/two.yaml" 2>"$dir/two_run.err" || fail "the two-topic run failed"
for t in pages sessions; do
  kcat -C -b "$brokers" -t "${t}2" -e -q -f '%s\n' | sort >"$dir/$t.two.sorted"
  cmp -s "$dir/$t.two.sorted" "$dir/$t.file.sorted" || fail "$t: two topics differ from the file run"
done

# ---- 3. live: a rebalance and a broker outage, nothing lost or doubled ----
cat >"$dir/live.yaml" <<EOF
name: live-copy
runtime: { parallelism: 2 }
sources:
  live:
    type: kafka
    brokers: "$brokers"
    topic: live_in
    lag_log_interval: \${LAG_LOG:-0s}
    properties: { session.timeout.ms: "6000", heartbeat.interval.ms: "500" }
transforms:
  tagged:
    input: live
    steps:
      - set: { p: _partition, o: _offset, proc: "'\${PROC}'" }
      - select: [p, o, proc]
sinks:
  out: { input: tagged, type: kafka, brokers: "$brokers", topic: live_out }
EOF
total=22500  # 15 s at 1500/s: room for a slow rebalance
"$bin" generate clicks --count $total --rate 1500/s --topic live_in --brokers "$brokers" 2>"$dir/producer.err" &
producer=$!
pids+=($producer)
PROC=a "$bin" run "$dir/live.yaml" 2>"$dir/live_a.err" &
a=$!
pids+=($a)
sleep 1.5
# A second process joins the group (a rebalance moves partitions to it) and leaves.
PROC=b LAG_LOG=500ms "$bin" run "$dir/live.yaml" 2>"$dir/live_b.err" &
b=$!
pids+=($b)
# Its lag lines show it has partitions; once it has written rows of its own
# (a slow build can take a while to rebalance), stop it.
for _ in $(seq 300); do grep -q "consumer lag" "$dir/live_b.err" && break; sleep 0.1; done
for _ in $(seq 100); do
  kcat -C -b "$brokers" -t live_out -e -q -f '%s\n' 2>/dev/null | grep -q '"proc":"b"' && break
  sleep 0.2
done
sleep 1
kill -TERM "$b"
wait "$b" || fail "the second process did not stop cleanly"
grep -q "stopped: [1-9]" "$dir/live_b.err" || fail "the second process was assigned nothing"
# A broker is unreachable for 3 s while records flow.
sleep 1
echo "down 2" >&3
sleep 3
echo "up 2" >&3
wait "$producer" || fail "the producer failed"
# Wait for the first process to catch up, then stop it.
for _ in $(seq 60); do
  n=$(kcat -C -b "$brokers" -t live_out -e -q -f 'x\n' 2>/dev/null | wc -l)
  [ "$n" -ge $total ] && break
  sleep 0.5
done
kill -TERM "$a"
wait "$a" || fail "the first process did not stop cleanly"
kcat -C -b "$brokers" -t live_out -e -q -f '%s\n' >"$dir/live_out.jsonl"
/usr/bin/python3 - "$dir/live_out.jsonl" $total <<'PY' || fail "live: messages lost or doubled"
import collections, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
seen = collections.Counter((r["p"], r["o"]) for r in rows)
# No process writes a message twice: inside a process a partition that moves
# between workers resumes exactly where it was. Between processes it is at
# least once: the broker refuses commits during a rebalance, so the new owner
# re-reads what the old one read since its last commit (at most about 1 s).
by_process = collections.Counter((r["p"], r["o"], r["proc"]) for r in rows)
twice = [k for k, c in by_process.items() if c > 1]
assert not twice, f"{len(twice)} messages written twice by one process, e.g. {twice[:3]}"
doubled = sum(1 for c in seen.values() if c > 1)
print(f"kafka_pipeline: live: {doubled} of {len(seen)} messages re-read after moving between processes (at least once)")
by_partition = collections.defaultdict(set)
for p, o in seen:
    by_partition[p].add(o)
count = 0
for p, offsets in by_partition.items():
    # Offsets are dense (one producer, no transactions): every one from 0 up.
    missing = set(range(max(offsets) + 1)) - offsets
    assert not missing, f"partition {p}: {len(missing)} offsets missing"
    count += len(offsets)
assert count == int(sys.argv[2]), f"{count} distinct messages in the output, expected {sys.argv[2]}"
PY
grep -q "broker 2 down" "$dir/broker.err" || fail "the broker outage did not happen"

# ---- 4. a delivery that fails is an error, never silent -------------------
echo '{"n":1}' >"$dir/one.jsonl"
cat >"$dir/undeliverable.yaml" <<EOF
name: undeliverable
sources:
  one: { type: file, path: "$dir/one.jsonl" }
sinks:
  out:
    input: one
    type: kafka
    brokers: "$brokers"
    topic: nowhere
    properties: { message.timeout.ms: "1500" }
EOF
for id in 1 2 3; do echo "down $id" >&3; done
sleep 0.5
status=0
"$bin" run "$dir/undeliverable.yaml" 2>"$dir/undeliverable.err" || status=$?
for id in 1 2 3; do echo "up $id" >&3; done
[ $status -eq 1 ] || fail "a run whose messages were not delivered exited $status, expected 1"
grep -q "not delivered to nowhere" "$dir/undeliverable.err" || fail "the failed delivery is not reported"
# ---- 5. an idle partition stops holding the watermark back ---------------
# All records go to one of 4 partitions (one key); the other three are
# assigned but empty. After idle_timeout they no longer count, so the window
# fires while the job runs, with no end of input.
for ts in 1000 2000 3000 4000 10000; do echo "same|{\"ts\":$ts}"; done | kcat -P -b "$brokers" -t idle_in -K '|'
cat >"$dir/idle.yaml" <<EOF
name: idle-partitions
runtime: { parallelism: 2 }
sources:
  in:
    type: kafka
    brokers: "$brokers"
    topic: idle_in
    start: earliest
    event_time: { field: ts, watermark: { max_out_of_orderness: 0s, idle_timeout: 1s } }
transforms:
  w: { input: in, steps: [ { window: { tumbling: 5s, aggregate: { n: count() } } } ] }
sinks:
  out: { input: w, type: file, path: "$dir/idle.jsonl" }
EOF
"$bin" run "$dir/idle.yaml" 2>"$dir/idle_run.err" &
idle_pid=$!
pids+=($idle_pid)
for _ in $(seq 100); do [ -s "$dir/idle.jsonl" ] && break; sleep 0.1; done
kill -TERM "$idle_pid"
wait "$idle_pid" || fail "the idle-partition run did not stop cleanly"
grep -q '"window_start":0,"window_end":5000,"n":4' "$dir/idle.jsonl" ||
  fail "the window did not fire while three partitions were idle: $(cat "$dir/idle.jsonl")"

echo "kafka_pipeline: ok"
