#!/usr/bin/env bash
# Exactly once into Kafka across crashes (docs/guarantees.md), read back with
# isolation.level=read_committed.
#
# A bounded job generates 160,000 clicks at 16,000/s in 2 partitions (the
# crash test's paced source: positions and output are the same in every run),
# counts them per user in 1 s windows and writes the counts and every click
# to two topics through transactional Kafka sinks (one transaction per worker
# and checkpoint), checkpointing every 500 ms. The first run ends at the named crash
# point after_manifest:3 (manifest written, transactions not committed); then
# runs at parallelism 2 and 1 in turn are killed with SIGKILL at random moments
# KILLS times (default 10) and the last one runs to the end. The two output
# topics, read with read_committed, must hold exactly the rows of an
# uninterrupted run (compared as multisets: no loss, no duplicate).
#
#   KAFKA_BROKERS=host:9092 tests/kafka_real/exactly_once.sh build/release/runner/streamrun
#
# Needs a real Kafka (>= 2.5, transactions enabled; a single broker needs
# transaction.state.log.replication.factor=1 and min.isr=1) and
# python3-confluent-kafka. Topics are created with a unique suffix and deleted
# at the end.
#
# MODE=mock runs the same against `streamrun kafka` (librdkafka's mock broker),
# which writes no transaction markers: aborted records stay visible and the
# commit marker cannot be read back, so there it checks the weaker property
# that every row is there (no loss) and that restores published the staged
# records of uncommitted transactions again. That is how CI runs it
# (tests/cli/kafka_transactions.sh).
set -euo pipefail
bin="$1"
mode="${MODE:-real}"
kills="${KILLS:-10}"
python=/usr/bin/python3
dir=$(mktemp -d)
pid=""
broker_pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  [ -n "$broker_pid" ] && kill "$broker_pid" 2>/dev/null
  [ "$mode" = real ] && [ -n "${topics:-}" ] && $python "$dir/admin.py" delete $topics 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
fail() {
  echo "exactly_once: $*"
  [ -s "$dir/runs.err" ] && tail -20 "$dir/runs.err"
  exit 1
}

if [ "$mode" = mock ]; then
  # The embedded broker keeps the newest 5 MB of a partition: 16 partitions
  # hold the clicks (13 MB) with all the aborted copies the mock keeps.
  "$bin" kafka --partitions 16 --bootstrap-file "$dir/bootstrap" >/dev/null 2>"$dir/broker.err" &
  broker_pid=$!
  for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
  [ -s "$dir/bootstrap" ] || fail "the embedded broker did not start"
  brokers=$(cat "$dir/bootstrap")
else
  if [ -z "${KAFKA_BROKERS:-}" ]; then
    echo "exactly_once: skipped: set KAFKA_BROKERS to a real Kafka cluster (or MODE=mock)"
    exit 0
  fi
  brokers="$KAFKA_BROKERS"
fi

cat >"$dir/admin.py" <<'PY'
import sys
from confluent_kafka.admin import AdminClient, NewTopic
import os
admin = AdminClient({"bootstrap.servers": os.environ["BROKERS"]})
action, names = sys.argv[1], sys.argv[2:]
if action == "create":
    futures = admin.create_topics([NewTopic(n, num_partitions=4, replication_factor=-1) for n in names])
else:
    futures = admin.delete_topics(names)
for f in futures.values():
    f.result(30)
PY
# Reads a topic to its end: one message value per line.
cat >"$dir/read.py" <<'PY'
import sys
from confluent_kafka import Consumer, TopicPartition
brokers, topic, isolation = sys.argv[1:4]
c = Consumer({"bootstrap.servers": brokers, "group.id": "exactly-once-check", "enable.auto.commit": False,
              "isolation.level": isolation, "enable.partition.eof": True})
meta = c.list_topics(topic, timeout=30).topics[topic]
parts = [TopicPartition(topic, p, 0) for p in meta.partitions]
c.assign(parts)
done = set()
out = sys.stdout
while len(done) < len(parts):
    m = c.poll(10)
    if m is None:
        sys.exit("timed out reading " + topic)
    if m.error():
        if m.error().code() == -191:  # _PARTITION_EOF
            done.add(m.partition())
            continue
        sys.exit(str(m.error()))
    out.write(m.value().decode() + "\n")
c.close()
PY
export BROKERS="$brokers"
suffix="$(date +%s)-$RANDOM"
topics="eo-counts-$suffix eo-clicks-$suffix"
if [ "$mode" = real ]; then $python "$dir/admin.py" create $topics; fi

pipeline() {  # NAME COUNTS-SINK-YAML CLICKS-SINK-YAML
  cat >"$dir/$1.yaml" <<YAML
name: eo-$1-$suffix
runtime:
  checkpoint: { interval: 500ms, storage: "file://$dir/ckpt", retain: 2 }
sources:
  clicks: { type: generate, kind: clicks, count: 160000, rate: 16000/s, seed: 7, partitions: 2, out_of_order: 0.1:2s }
transforms:
  counts:
    input: clicks
    steps:
      - key_by: user_id
      - window: { tumbling: 1s, aggregate: { clicks: count(), pages: count_distinct(page_url) } }
sinks:
  counts_out: $2
  clicks_out: $3
YAML
}
pipeline reference "{ input: counts, type: file, path: \"$dir/reference.counts\" }" \
  "{ input: clicks, type: file, path: \"$dir/reference.clicks\" }"
sed -i '/checkpoint:/d' "$dir/reference.yaml"
"$bin" run -q -p 2 "$dir/reference.yaml"
for out in counts clicks; do sort "$dir/reference.$out" >"$dir/reference.$out.sorted"; done
rows=$(cat "$dir/reference.counts" "$dir/reference.clicks" | wc -l)
[ "$(wc -l <"$dir/reference.counts")" -gt 10000 ] || fail "the reference run wrote too few counts"

pipeline job "{ input: counts, type: kafka, brokers: \"$brokers\", topic: eo-counts-$suffix, key: user_id }" \
  "{ input: clicks, type: kafka, brokers: \"$brokers\", topic: eo-clicks-$suffix, key: user_id }"
status=0
STREAMRUN_CRASH_AT=after_manifest:3 "$bin" run -q -p 2 "$dir/job.yaml" 2>>"$dir/runs.err" || status=$?
[ $status -eq 137 ] || fail "expected the crash point after_manifest:3 to end the first run, got exit $status"
killed=0
for run in $(seq 100); do
  "$bin" run -q -p $((run % 2 + 1)) "$dir/job.yaml" 2>>"$dir/runs.err" &
  pid=$!
  sleep "0.$((RANDOM % 7 + 2))"
  if [ $killed -lt "$kills" ] && kill -9 "$pid" 2>/dev/null; then
    wait "$pid" 2>/dev/null || true
    pid=""
    killed=$((killed + 1))
    continue
  fi
  wait "$pid" || fail "run $run failed"
  pid=""
  break
done
[ $killed -ge "$kills" ] || fail "the job finished after only $killed kills"
restores=$(grep -c "restored checkpoint" "$dir/runs.err" || true)
again=$(grep -c "was not committed: publishing" "$dir/runs.err" || true)
[ "$restores" -ge 1 ] || fail "no run restored a checkpoint"
[ "$again" -ge 1 ] || fail "no restore published a transaction's staged records again (after_manifest:3 should have)"

seen=0
uncommitted=0
differs=""
for out in counts clicks; do
  $python "$dir/read.py" "$brokers" "eo-$out-$suffix" read_committed | sort >"$dir/committed.$out"
  seen=$((seen + $(wc -l <"$dir/committed.$out")))
  uncommitted=$((uncommitted + $($python "$dir/read.py" "$brokers" "eo-$out-$suffix" read_uncommitted | wc -l)))
  if [ "$mode" = real ]; then
    cmp -s "$dir/committed.$out" "$dir/reference.$out.sorted" || differs="$differs $out"
  else
    sort -u "$dir/committed.$out" | cmp -s - <(sort -u "$dir/reference.$out.sorted") || differs="$differs $out"
  fi
done
summary="$killed kills, $restores restores, $again transactions published again; $rows reference rows; \
read_committed saw $seen, read_uncommitted $uncommitted"
if [ -n "$differs" ]; then
  echo "exactly_once ($mode): the output differs from the uninterrupted run in:$differs ($summary)"
  for out in $differs; do diff "$dir/committed.$out" "$dir/reference.$out.sorted" | head -5; done
  exit 1
fi
if [ "$mode" = real ]; then
  echo "exactly_once: exact: $summary"
else
  echo "exactly_once (mock broker: no row lost; the surplus is aborted records, which the mock shows): $summary"
fi
