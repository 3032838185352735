#!/usr/bin/env bash
# Avro with Confluent schema-registry framing against Confluent's own npm client
# (@confluentinc/schemaregistry, tests/formats/confluent_avro.cjs), both ways, on
# `streamrun kafka` and the test registry (tests/formats/registry_server.py):
# (a) clicks serialized by the client's AvroSerializer (writer schema
#     schemas/clicks.avsc) are read by streamrun with reader schema
#     schemas/clicks_v2.avsc: each record is the input plus the two new fields'
#     defaults (session_id null, device "web");
# (b) streamrun writes those records as Avro (clicks_v2.avsc, registered by
#     streamrun) and the client's AvroDeserializer reads back the same records;
#     the Avro bodies are byte for byte the client's encoding of them.
# Python (confluent-kafka) moves the bytes to and from Kafka.
# Usage: formats_avro_interop.sh STREAMRUN SOURCE_DIR
set -euo pipefail
bin=$(realpath "$1")
src=$(realpath "$2")
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
fail() {
  echo "formats_avro_interop: $*"
  for f in "$dir"/*.err; do [ -s "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  exit 1
}
py=/usr/bin/python3
node=$(command -v node) || fail "node is not installed"
NODE_PATH="$(npm root -g)${NODE_PATH:+:$NODE_PATH}"
export NODE_PATH
client="$src/tests/formats/confluent_avro.cjs"
count=20000
cd "$src"

$py "$src/tests/formats/registry_server.py" --port-file "$dir/registry_port" --log "$dir/registry.log" \
  2>"$dir/registry.err" &
pids+=($!)
"$bin" kafka --partitions 4 --topic clicks_avro --topic clicks_back \
  --bootstrap-file "$dir/bootstrap" >"$dir/broker.out" 2>"$dir/broker.err" &
pids+=($!)
"$bin" generate clicks --count $count --seed 11 -o "$dir/clicks.jsonl"
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && [ -s "$dir/registry_port" ] && break; sleep 0.1; done
[ -s "$dir/bootstrap" ] || fail "the broker did not start"
[ -s "$dir/registry_port" ] || fail "the registry did not start"
brokers=$(cat "$dir/bootstrap")
registry="http://127.0.0.1:$(cat "$dir/registry_port")"

# ---- (a) the client writes, streamrun reads --------------------------------
"$node" "$client" serialize "$registry" clicks_avro schemas/clicks.avsc "$dir/clicks.jsonl" "$dir/in.b64" \
  2>"$dir/serialize.err" || fail "Confluent's AvroSerializer could not serialize the clicks"
$py - "$brokers" clicks_avro "$dir/clicks.jsonl" "$dir/in.b64" 2>"$dir/produce.err" <<'PY' ||
import base64, json, sys
from confluent_kafka import Producer
brokers, topic, rows, values = sys.argv[1:5]
p = Producer({"bootstrap.servers": brokers, "linger.ms": 5})
n = 0
for row, value in zip(open(rows), open(values)):
    p.produce(topic, key=json.loads(row)["user_id"].encode(), value=base64.b64decode(value))
    n += 1
    if n % 5000 == 0:
        p.poll(0)
if p.flush(30) != 0:
    sys.exit("produce: messages not delivered")
PY
  fail "could not produce the client's values"

cat >"$dir/interop.yaml" <<YAML
name: avro-interop
sources:
  clicks:
    type: kafka
    brokers: "$brokers"
    topic: clicks_avro
    bounded: true
    start: earliest
    format: avro
    schema: schemas/clicks_v2.avsc
    registry: { url: "$registry" }
sinks:
  rows: { input: clicks, type: file, path: "$dir/rows.jsonl" }
  back:
    input: clicks
    type: kafka
    brokers: "$brokers"
    topic: clicks_back
    key: user_id
    format: avro
    schema: schemas/clicks_v2.avsc
    registry: { url: "$registry" }
YAML
"$bin" run "$dir/interop.yaml" >"$dir/run.out" 2>"$dir/run.err" || fail "the streamrun pipeline failed"
$py - "$dir/clicks.jsonl" "$dir/rows.jsonl" <<'PY' || fail "(a) streamrun's records are not the client's plus the defaults"
import json, sys
want = [dict(json.loads(l), session_id=None, device="web") for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
assert len(got) == len(want), ("records", len(got), len(want))
key = lambda r: json.dumps(r, sort_keys=True)
want.sort(key=key)
got.sort(key=key)
for w, g in zip(want, got):
    assert w == g, ("first difference", "want", w, "got", g)
PY

# ---- (b) streamrun writes, the client reads -------------------------------
$py - "$brokers" clicks_back $count "$dir/back.b64" 2>"$dir/consume.err" <<'PY' || fail "could not consume streamrun's values"
import base64, sys
from confluent_kafka import Consumer
brokers, topic, want, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
c = Consumer({"bootstrap.servers": brokers, "group.id": "interop-" + topic, "auto.offset.reset": "earliest",
              "enable.auto.commit": False})
c.subscribe([topic])
values, idle = [], 0
while len(values) < want and idle < 20:
    m = c.poll(0.5)
    if m is None:
        idle += 1
        continue
    if m.error():
        continue
    idle = 0
    values.append(base64.b64encode(m.value()).decode())
c.close()
open(out, "w").writelines(v + "\n" for v in values)
if len(values) != want:
    sys.exit("consume: %d messages of %d" % (len(values), want))
PY
"$node" "$client" deserialize "$registry" clicks_back "$dir/back.b64" "$dir/back.jsonl" 2>"$dir/deserialize.err" ||
  fail "Confluent's AvroDeserializer could not read streamrun's values"
# The client's own encoding of the same records with the same schema (its
# registration of clicks_v2.avsc under another subject), to compare bytes.
"$node" "$client" serialize "$registry" clicks_ref schemas/clicks_v2.avsc "$dir/rows.jsonl" "$dir/ref.b64" \
  2>"$dir/serialize_ref.err" || fail "Confluent's AvroSerializer could not serialize streamrun's records"
$py - "$dir/rows.jsonl" "$dir/back.jsonl" "$dir/back.b64" "$dir/ref.b64" "$registry" <<'PY' ||
import base64, json, sys, urllib.request
rows, back, back_b64, ref_b64, registry = sys.argv[1:6]
key = lambda r: json.dumps(r, sort_keys=True)
want = sorted((json.loads(l) for l in open(rows)), key=key)
got = sorted((json.loads(l) for l in open(back)), key=key)
assert len(got) == len(want), ("records", len(got), len(want))
for w, g in zip(want, got):
    assert w == g, ("first difference", "streamrun's", w, "client read", g)
# Framing: magic byte 0 and the id streamrun registered under clicks_back-value.
latest = json.load(urllib.request.urlopen(registry + "/subjects/clicks_back-value/versions/latest"))
assert json.loads(latest["schema"])["fields"][-1]["name"] == "device", latest
values = [base64.b64decode(l) for l in open(back_b64)]
for v in values:
    assert v[0] == 0 and int.from_bytes(v[1:5], "big") == latest["id"], ("framing", v[:8].hex(), latest["id"])
# The Avro bodies are the client's bytes for the same records.
ref = sorted(base64.b64decode(l)[5:] for l in open(ref_b64))
bodies = sorted(v[5:] for v in values)
assert bodies == ref, ("bodies differ", next((a.hex(), b.hex()) for a, b in zip(bodies, ref) if a != b))
PY
  fail "(b) the client did not read back streamrun's records exactly"

grep -q "POST /subjects/clicks_avro-value/versions" "$dir/registry.log" || fail "no client registration"
grep -q "POST /subjects/clicks_back-value/versions" "$dir/registry.log" || fail "streamrun did not register its sink schema"
grep -q "GET /schemas/ids/" "$dir/registry.log" || fail "no writer schema was fetched by id"
echo "formats_avro_interop: ok"
