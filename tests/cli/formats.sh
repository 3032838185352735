#!/usr/bin/env bash
# Record formats end to end (docs/formats.md):
# 1. files: the clickstream top 10 over the same clicks written as JSON, CSV,
#    Protobuf and Avro gives the same rows; each sink format read back by the
#    matching source gives the records it was given;
# 2. Kafka with registry framing on `streamrun kafka` and a Confluent-compatible
#    registry (tests/formats/registry_server.py): the shipped clickstream and
#    fraud pipelines, their I/O switched to Protobuf (input written by
#    Confluent's own ProtobufSerializer, output read by its
#    ProtobufDeserializer), give exactly the rows of the same pipelines on JSON;
# 3. bad messages (truncated, an unknown schema id, no framing) go through the
#    error policy: dead-lettered with their exact bytes (raw_base64).
# Usage: formats.sh STREAMRUN SOURCE_DIR BUILD_DIR
set -euo pipefail
bin=$(realpath "$1")
src=$(realpath "$2")
build=$(realpath "$3")
dir=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$dir"
}
trap cleanup EXIT
[ -n "${KEEP:-}" ] && trap - EXIT
fail() {
  echo "formats: $*"
  for f in "$dir"/*.err; do [ -s "$f" ] && { echo "--- $f"; tail -15 "$f"; }; done
  exit 1
}
py=/usr/bin/python3
events=${FORMATS_EVENTS:-40000}  # clicks; transactions are 3/4 of it
cd "$src"

# ---- 1. files in every format ---------------------------------------------
"$bin" generate clicks --count "$events" --seed 5 --out-of-order 0.05:1s -o "$dir/clicks.jsonl"
for f in csv protobuf avro; do
  "$bin" generate clicks --count "$events" --seed 5 --out-of-order 0.05:1s --format $f -o "$dir/clicks.$f"
done
top10() { # FORMAT INPUT OUTPUT [SCHEMA]
  cat >"$dir/top_$1.yaml" <<YAML
name: top-$1
runtime: { parallelism: 2 }
sources:
  clicks:
    type: file
    path: $2
    format: $1
    schema: "${4:-}"
    event_time: { field: ts, watermark: { max_out_of_orderness: 2s } }
transforms:
  top:
    input: clicks
    steps:
      - filter: "page_url is not null"
      - key_by: page_url
      - window: { tumbling: 5s, aggregate: { clicks: count(), users: count_distinct(user_id), referred: count(referrer) } }
      - top_n: { n: 10, by: clicks, order: desc }
sinks:
  out: { input: top, type: file, path: $3 }
YAML
  "$bin" run "$dir/top_$1.yaml" 2>"$dir/top_$1.err" || fail "top 10 over $1 failed"
  sort "$3" >"$3.sorted"
}
top10 json "$dir/clicks.jsonl" "$dir/top.json"
top10 csv "$dir/clicks.csv" "$dir/top.csv"
top10 protobuf "$dir/clicks.protobuf" "$dir/top.protobuf" schemas/clicks.proto
top10 avro "$dir/clicks.avro" "$dir/top.avro" schemas/clicks.avsc
[ "$(wc -l <"$dir/top.json.sorted")" -gt $((events / 1000)) ] || fail "the JSON top 10 is too short"
for f in csv protobuf avro; do
  cmp -s "$dir/top.json.sorted" "$dir/top.$f.sorted" ||
    fail "top 10 over $f differs from JSON: $(diff "$dir/top.json.sorted" "$dir/top.$f.sorted" | head -4)"
done

# Sinks: JSON records written in each format and read back are the same records.
for f in csv protobuf avro; do
  schema=""
  [ $f = protobuf ] && schema=schemas/clicks.proto
  [ $f = avro ] && schema=schemas/clicks.avsc
  cat >"$dir/write_$f.yaml" <<YAML
name: write-$f
sources: { clicks: { type: file, path: "$dir/clicks.jsonl" } }
sinks: { out: { input: clicks, type: file, path: "$dir/back.$f", format: $f, schema: "$schema" } }
YAML
  cat >"$dir/read_$f.yaml" <<YAML
name: read-$f
sources: { clicks: { type: file, path: "$dir/back.$f", format: $f, schema: "$schema" } }
sinks: { out: { input: clicks, type: file, path: "$dir/back.$f.jsonl" } }
YAML
  "$bin" run "$dir/write_$f.yaml" 2>"$dir/write_$f.err" || fail "writing $f failed"
  "$bin" run "$dir/read_$f.yaml" 2>"$dir/read_$f.err" || fail "reading $f back failed"
  $py - "$dir/clicks.jsonl" "$dir/back.$f.jsonl" <<'PY' || fail "$f: records read back differ"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) > 0, (len(a), len(b))
assert a == b, next((x, y) for x, y in zip(a, b) if x != y)
PY
done
# The streamrun-written Protobuf file is protobuf's delimited stream: Python's
# protobuf library reads it record by record.
protoc -Ischemas --python_out="$dir" schemas/clicks.proto schemas/transactions.proto schemas/page_count.proto \
  schemas/fraud_alert.proto
$py - "$dir" "$events" <<'PY' || fail "python's protobuf cannot read the delimited file"
import sys
sys.path.insert(0, sys.argv[1])
import clicks_pb2
from google.protobuf.internal.decoder import _DecodeVarint32
data = open(sys.argv[1] + "/back.protobuf", "rb").read()
pos, n = 0, 0
while pos < len(data):
    size, pos = _DecodeVarint32(data, pos)
    m = clicks_pb2.Click()
    m.ParseFromString(data[pos:pos + size])
    pos += size
    n += 1
assert n == int(sys.argv[2]) and m.ts > 0, n
PY

# ---- 2. Kafka with registry framing ---------------------------------------
$py "$src/tests/formats/registry_server.py" --port-file "$dir/registry_port" --log "$dir/registry.log" &
pids+=($!)
"$bin" kafka --partitions 4 --topic clicks_json --topic clicks_pb --topic tx_json --topic tx_pb \
  --bootstrap-file "$dir/bootstrap" >"$dir/broker.out" 2>"$dir/broker.err" &
pids+=($!)
for _ in $(seq 100); do [ -s "$dir/bootstrap" ] && [ -s "$dir/registry_port" ] && break; sleep 0.1; done
[ -s "$dir/bootstrap" ] || fail "the broker did not start"
[ -s "$dir/registry_port" ] || fail "the registry did not start"
brokers=$(cat "$dir/bootstrap")
registry="http://127.0.0.1:$(cat "$dir/registry_port")"
interop="$src/tests/formats/confluent_protobuf.py"

keyed() { # JSONL KEY_FIELD -> key<TAB>line
  $py -c 'import json,sys
for l in open(sys.argv[1]): sys.stdout.write(json.loads(l)[sys.argv[2]] + "\t" + l)' "$1" "$2"
}
keyed "$dir/clicks.jsonl" user_id | kcat -P -b "$brokers" -t clicks_json -K $'\t'
$py "$interop" produce "$brokers" clicks_pb "$registry" "$dir" clicks_pb2 Click "$dir/clicks.jsonl" user_id ||
  fail "Confluent's serializer could not produce"
"$bin" generate transactions --count $((events * 3 / 4)) --seed 9 --out-of-order 0.02:2s -o "$dir/tx.jsonl"
keyed "$dir/tx.jsonl" card_id | kcat -P -b "$brokers" -t tx_json -K $'\t'
$py "$interop" produce "$brokers" tx_pb "$registry" "$dir" transactions_pb2 Transaction "$dir/tx.jsonl" card_id ||
  fail "Confluent's serializer could not produce transactions"

# The shipped pipelines with only their inputs and outputs changed.
variant() { # PIPELINE OUT.yaml FORMAT INPUT_TOPIC OUTPUT_TOPIC
  $py - "$@" "$brokers" "$registry" "$dir" <<'PY'
import sys, yaml
src, out, fmt, topic_in, topic_out, brokers, registry, d = sys.argv[1:9]
p = yaml.safe_load(open(src))
p["name"] = p["name"] + "-" + fmt
p["runtime"].pop("metrics", None)
p["runtime"].pop("ui", None)
(name, source), = p["sources"].items()
source.pop("simulate", None)
source.update(brokers=brokers, topic=topic_in, bounded=True, start="earliest", format=fmt)
sink = {"type": "kafka", "brokers": brokers, "topic": topic_out, "format": fmt}
if fmt == "protobuf":
    source["registry"] = {"url": registry}
    sink["registry"] = {"url": registry}
if "page_counts" in p["transforms"]:  # the clickstream job
    source["schema"] = "schemas/clicks.proto" if fmt == "protobuf" else ""
    p["sinks"] = {"top": dict(sink, input="page_counts")}
    if fmt == "protobuf":
        p["sinks"]["top"]["schema"] = "schemas/page_count.proto"
else:  # the fraud job: alerts in the format, dead letters as JSON
    source["schema"] = "schemas/transactions.proto" if fmt == "protobuf" else ""
    p["runtime"]["checkpoint"]["storage"] = "file://" + d + "/ckpt-" + fmt
    p["sinks"] = {
        "alerts_topic": dict(sink, input="alerts", key="card_id"),
        "dead_letters": {"type": "file", "path": d + "/dlq-" + fmt + ".jsonl"},
    }
    if fmt == "protobuf":
        p["sinks"]["alerts_topic"]["schema"] = "schemas/fraud_alert.proto"
yaml.safe_dump(p, open(out, "w"), sort_keys=False)
PY
}
# Runs a pipeline's JSON and Protobuf variants and compares their outputs:
# the JSON topic read by kcat, the Protobuf one by Confluent's deserializer,
# both made canonical through the same message.
same_results() { # JOB PIPELINE INPUT_PREFIX OUTPUT_PREFIX PB_MODULE MESSAGE MIN_ROWS
  local job=$1 out_json=$4_json out_pb=$4_pb
  variant "$2" "$dir/${job}_json.yaml" json "$3_json" "$out_json"
  variant "$2" "$dir/${job}_pb.yaml" protobuf "$3_pb" "$out_pb"
  "$bin" run "$dir/${job}_json.yaml" >/dev/null 2>"$dir/${job}_json.err" || fail "$job on JSON failed"
  "$bin" run "$dir/${job}_pb.yaml" >/dev/null 2>"$dir/${job}_pb.err" || fail "$job on Protobuf failed"
  kcat -C -b "$brokers" -t "$out_json" -e -q -f '%s\n' >"$dir/$out_json.jsonl"
  local rows
  rows=$(wc -l <"$dir/$out_json.jsonl")
  [ "$rows" -gt "$7" ] || fail "$job on JSON wrote $rows rows"
  $py "$interop" canon "$dir" "$5" "$6" "$dir/$out_json.jsonl" "$dir/$out_json.canon"
  $py "$interop" consume "$brokers" "$out_pb" "$registry" "$dir" "$5" "$6" "$rows" "$dir/$out_pb.canon" ||
    fail "$job: Confluent's deserializer could not read streamrun's output"
  sort -o "$dir/$out_json.canon" "$dir/$out_json.canon"
  sort -o "$dir/$out_pb.canon" "$dir/$out_pb.canon"
  cmp -s "$dir/$out_json.canon" "$dir/$out_pb.canon" ||
    fail "$job: Protobuf rows differ from JSON: $(diff "$dir/$out_json.canon" "$dir/$out_pb.canon" | head -4)"
}
same_results clickstream pipelines/clickstream_top10.yaml clicks top page_count_pb2 PageCount $((events / 1000))
STREAMRUN_PLUGIN_DIR="$build/plugins"
export STREAMRUN_PLUGIN_DIR
same_results fraud pipelines/fraud.yaml tx alerts fraud_alert_pb2 FraudAlert $((events / 2000))
# The registry saw the clients' and streamrun's registrations, and streamrun
# fetched the clients' schemas by id.
grep -q "POST /subjects/clicks_pb-value/versions" "$dir/registry.log" || fail "no client registration"
grep -q "POST /subjects/top_pb-value/versions" "$dir/registry.log" || fail "streamrun did not register its sink schema"
grep -q "GET /schemas/ids/" "$dir/registry.log" || fail "streamrun did not fetch a writer schema by id"

# A registry that wants credentials: the sink's basic auth is sent, a wrong
# password stops the run with the registry's own answer, and the log never
# shows the password.
$py "$src/tests/formats/registry_server.py" --port-file "$dir/auth_port" --user "svc:s3cret-pw" &
pids+=($!)
for _ in $(seq 50); do [ -s "$dir/auth_port" ] && break; sleep 0.1; done
auth_registry="http://127.0.0.1:$(cat "$dir/auth_port")"
auth_run() { # PASSWORD
  cat >"$dir/auth.yaml" <<YAML
name: registry-auth
sources: { clicks: { type: file, path: "$dir/clicks.jsonl" } }
sinks:
  out: { input: clicks, type: kafka, brokers: "$brokers", topic: auth_out, format: protobuf,
         schema: schemas/clicks.proto, registry: { url: "$auth_registry", auth: { username: svc, password: "$1" } } }
YAML
  "$bin" run "$dir/auth.yaml" --log-level debug >"$dir/auth.out" 2>"$dir/auth.err"
}
auth_run s3cret-pw || fail "the sink could not register with basic auth"
set +e
auth_run wrong-pw
rc=$?
set -e
[ "$rc" = 1 ] || fail "a refused registration exited $rc, not 1"
grep -q "HTTP 401: Unauthorized" "$dir/auth.err" || fail "the registry's refusal is not in the error: $(tail -2 "$dir/auth.err")"
! grep -q "s3cret-pw\|wrong-pw" "$dir/auth.err" "$dir/auth.out" || fail "a registry password is in the output"

# ---- 3. bad messages through the error policy ------------------------------
$py - "$brokers" <<'PY'
import sys
from confluent_kafka import Producer
p = Producer({"bootstrap.servers": sys.argv[1]})
p.produce("bad_pb", value=b"\x00\x00\x00\x00\x01\x00\x0a\x05ab")   # truncated string
p.produce("bad_pb", value=b"\x00\x00\x00\x03\xe7\x00\x0a\x01a")    # schema id 999
p.produce("bad_pb", value=b"{\"user_id\":\"u\"}")                  # no framing
p.produce("bad_pb", value=b"\x00\x00\x00\x00\x01\x00\x0a\x01a\x20\x07")  # a good one
p.produce("bad_pb", value=b"\x00\x00\x00\x00\x01\x00\x0a\x01a\x10\x07")  # page_url as a number
p.flush(10)
PY
cat >"$dir/bad.yaml" <<YAML
name: bad-messages
runtime: { errors: { policy: dead_letter, sink: dlq } }
sources:
  clicks: { type: kafka, brokers: "$brokers", topic: bad_pb, bounded: true, start: earliest, format: protobuf,
            schema: schemas/clicks.proto, registry: { url: "$registry" } }
sinks:
  out: { input: clicks, type: file, path: "$dir/good.jsonl" }
  dlq: { type: file, path: "$dir/bad.jsonl" }
YAML
"$bin" run "$dir/bad.yaml" 2>"$dir/bad.err" || fail "the bad-message run failed"
$py - "$dir/good.jsonl" "$dir/bad.jsonl" <<'PY' || fail "bad messages were not dead-lettered exactly"
import base64, json, sys
good = [json.loads(l) for l in open(sys.argv[1])]
assert good == [{"user_id": "a", "page_url": "", "referrer": None, "ts": 7}], good
bad = sorted((json.loads(l) for l in open(sys.argv[2])), key=lambda r: r["error"])
assert len(bad) == 4, bad
raws = {base64.b64decode(r["raw_base64"]) if "raw_base64" in r else r["raw"].encode() for r in bad}
assert raws == {b"\x00\x00\x00\x00\x01\x00\x0a\x05ab", b"\x00\x00\x00\x03\xe7\x00\x0a\x01a", b"{\"user_id\":\"u\"}",
                b"\x00\x00\x00\x00\x01\x00\x0a\x01a\x10\x07"}, raws
text = " ".join(r["error"] for r in bad)
assert "truncated" in text and "999" in text and "framing" in text and "wire type" in text, text
PY
echo "formats: ok"
