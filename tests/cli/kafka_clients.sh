#!/usr/bin/env bash
# Real Kafka clients against `streamrun kafka`: kcat and python3-confluent-kafka
# produce to and consume from it (a consumer group included). Usage: kafka_clients.sh STREAMRUN
set -euo pipefail
bin="$1"
dir=$(mktemp -d)
pid=""
trap 'rm -rf "$dir"; [ -n "$pid" ] && kill "$pid" 2>/dev/null || true' EXIT
"$bin" kafka --brokers 3 --partitions 4 --topic events --bootstrap-file "$dir/bootstrap" >"$dir/stdout" 2>"$dir/stderr" &
pid=$!
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && break; sleep 0.1; done
bootstrap=$(cat "$dir/bootstrap")
[ "$(head -1 "$dir/stdout")" = "$bootstrap" ] || { echo "stdout does not start with the bootstrap address"; exit 1; }

# kcat produces 100 keyed records, python consumes them in a group.
seq 1 100 | awk '{printf "user%d|{\"n\":%d}\n", $1 % 7, $1}' | kcat -P -b "$bootstrap" -t events -K '|'
# Debian's python3 (python3-confluent-kafka), whatever python3 is first on PATH.
/usr/bin/python3 - "$bootstrap" <<'PY'
import json, sys
from confluent_kafka import Consumer, Producer
bootstrap = sys.argv[1]
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "test-group", "auto.offset.reset": "earliest"})
c.subscribe(["events"])
seen, partitions = [], set()
for _ in range(200):
    m = c.poll(0.5)
    if m is None or m.error():
        if len(seen) >= 100:
            break
        continue
    seen.append(json.loads(m.value())["n"])
    partitions.add(m.partition())
c.close()
assert sorted(seen) == list(range(1, 101)), f"python consumed {len(seen)} records"
assert len(partitions) > 1, "records should spread over the 4 partitions"
# python produces, kcat consumes below.
p = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True})
for i in range(50):
    p.produce("from_python", key=f"k{i}", value=json.dumps({"i": i}))
assert p.flush(10) == 0, "python producer could not deliver"
print("python: consumed 100, produced 50")
PY
count=$(kcat -C -b "$bootstrap" -t from_python -e -q | wc -l)
[ "$count" -eq 50 ] || { echo "kcat consumed $count records from python, expected 50"; exit 1; }
echo "kafka_clients: ok"
