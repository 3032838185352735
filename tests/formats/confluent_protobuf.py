#!/usr/bin/env python3
"""Confluent's own Protobuf serializers (python3-confluent-kafka) on both
sides of a streamrun pipeline, for the interop test (tests/cli/formats.sh).

  produce BROKERS TOPIC REGISTRY PB_DIR MODULE MESSAGE JSONL KEY_FIELD
      each JSON line -> MESSAGE, serialized by ProtobufSerializer (registry
      framing, the schema registered by the client), keyed by KEY_FIELD
  consume BROKERS TOPIC REGISTRY PB_DIR MODULE MESSAGE COUNT OUT
      COUNT messages (read_committed) deserialized by ProtobufDeserializer,
      written as canonical JSON lines
  canon PB_DIR MODULE MESSAGE IN OUT
      streamrun's JSON rows made canonical the same way (via MESSAGE)
"""
import importlib
import json
import sys

from google.protobuf import json_format


def load(pb_dir, module, message):
    sys.path.insert(0, pb_dir)
    return getattr(importlib.import_module(module), message)


def canonical(msg):
    d = json_format.MessageToDict(msg, preserving_proto_field_name=True, including_default_value_fields=True)
    for f in msg.DESCRIPTOR.fields:  # int64 comes out as text in protobuf's JSON mapping
        if f.name in d and f.type in (f.TYPE_INT64, f.TYPE_UINT64, f.TYPE_SINT64) and isinstance(d[f.name], str):
            d[f.name] = int(d[f.name])
    return json.dumps(d, sort_keys=True)


def main():
    cmd = sys.argv[1]
    if cmd == "canon":
        cls = load(*sys.argv[2:5])
        with open(sys.argv[6], "w") as out:
            for line in open(sys.argv[5]):
                if line.strip():
                    out.write(canonical(json_format.ParseDict(json.loads(line), cls(), ignore_unknown_fields=False)) + "\n")
        return
    from confluent_kafka import Consumer, Producer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    brokers, topic, registry = sys.argv[2:5]
    cls = load(*sys.argv[5:8])
    client = SchemaRegistryClient({"url": registry})
    ctx = SerializationContext(topic, MessageField.VALUE)
    if cmd == "produce":
        serializer = ProtobufSerializer(cls, client, {"auto.register.schemas": True})
        producer = Producer({"bootstrap.servers": brokers, "linger.ms": 5})
        key_field = sys.argv[9]
        n = 0
        for line in open(sys.argv[8]):
            row = json.loads(line)
            msg = json_format.ParseDict(row, cls(), ignore_unknown_fields=True)
            producer.produce(topic, key=str(row[key_field]).encode(), value=serializer(msg, ctx))
            n += 1
            if n % 10000 == 0:
                producer.poll(0)
        if producer.flush(60) != 0:
            sys.exit("produce: messages not delivered")
        return
    if cmd == "consume":
        want = int(sys.argv[8])
        deserializer = ProtobufDeserializer(cls)
        consumer = Consumer({"bootstrap.servers": brokers, "group.id": "interop-" + topic,
                             "auto.offset.reset": "earliest", "isolation.level": "read_committed",
                             "enable.auto.commit": False})
        consumer.subscribe([topic])
        rows, idle = [], 0
        while len(rows) < want and idle < 60:
            m = consumer.poll(0.5)
            if m is None:
                idle += 1
                continue
            if m.error():
                continue
            idle = 0
            rows.append(canonical(deserializer(m.value(), ctx)))
        consumer.close()
        with open(sys.argv[9], "w") as out:
            out.writelines(r + "\n" for r in rows)
        if len(rows) != want:
            sys.exit("consume: %d messages of %d" % (len(rows), want))
        return
    sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main()
