#!/usr/bin/env node
// Confluent's own Avro serializers (the npm client @confluentinc/schemaregistry)
// on both sides of a streamrun pipeline, for the interop test
// (tests/cli/formats_avro_interop.sh). Only bytes are made and read here; Python
// moves them to and from Kafka. Values are files of one base64 value a line.
//
//   serialize REGISTRY TOPIC SCHEMA.avsc IN.jsonl OUT
//       the schema is registered under TOPIC-value by the client, then each JSON
//       line is serialized by AvroSerializer (registry framing, the schema id
//       the client got for it)
//   deserialize REGISTRY TOPIC IN OUT.jsonl
//       each value deserialized by AvroDeserializer (the writer schema fetched
//       by the id in its framing), written as a plain JSON line (unions as their
//       value, longs as numbers) in the field order of the writer schema
'use strict';

const fs = require('fs');
const path = require('path');

function loadClient() {
  try {
    return require('@confluentinc/schemaregistry');
  } catch (e) {
    const { execFileSync } = require('child_process');
    const root = execFileSync('npm', ['root', '-g'], { encoding: 'utf8' }).trim();
    return require(path.join(root, '@confluentinc', 'schemaregistry'));
  }
}

const sr = loadClient();

function client(url) {
  return new sr.SchemaRegistryClient({ baseURLs: [url], maxRetries: 0 });
}

// avsc's names of Avro types: a one-key object keyed by one of these (or by a
// full record name, with a dot) is a wrapped union branch.
const AVRO_TYPE_NAMES = new Set(['null', 'boolean', 'int', 'long', 'float', 'double', 'bytes', 'string',
  'record', 'enum', 'array', 'map', 'fixed']);

// Plain JSON values from what avsc decodes: BigInt and Long-like longs become
// numbers, Dates (logical timestamps) epoch milliseconds, Buffers base64,
// wrapped union branches ({"string": "x"}) their value; records (instances of
// avsc's generated classes) plain objects.
function plain(v) {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'object') return v;
  if (v instanceof Date) return v.getTime();
  if (Buffer.isBuffer(v)) return v.toString('base64');
  if (Array.isArray(v)) return v.map(plain);
  if (typeof v.toNumber === 'function') return v.toNumber();
  const keys = Object.keys(v);
  if (keys.length === 1 && (AVRO_TYPE_NAMES.has(keys[0]) || keys[0].includes('.')) &&
      v.constructor === Object) {
    return plain(v[keys[0]]);
  }
  const out = {};
  for (const k of keys) out[k] = plain(v[k]);
  return out;
}

function lines(file) {
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
}

async function serialize(registry, topic, schemaFile, inFile, outFile) {
  const c = client(registry);
  const subject = topic + '-value';
  const schema = fs.readFileSync(schemaFile, 'utf8');
  // This client's auto-registration registers a schema it derives from each
  // message (records named Record1...); with a schema of our own the client's
  // way is to register it and serialize with the subject's latest version.
  const id = await c.register(subject, { schemaType: 'AVRO', schema });
  const ser = new sr.AvroSerializer(c, sr.SerdeType.VALUE, {
    autoRegisterSchemas: false,
    useLatestVersion: true,
    subjectNameStrategyType: sr.SubjectNameStrategyType.TOPIC,
  });
  const out = [];
  for (const line of lines(inFile)) {
    const bytes = await ser.serialize(topic, JSON.parse(line));
    if (bytes.readUInt8(0) !== 0 || bytes.readUInt32BE(1) !== id) {
      throw new Error(`unexpected framing ${bytes.subarray(0, 5).toString('hex')} (schema id ${id})`);
    }
    out.push(bytes.toString('base64'));
  }
  fs.writeFileSync(outFile, out.map((l) => l + '\n').join(''));
  process.stderr.write(`serialize: ${out.length} values with schema id ${id} under ${subject}\n`);
}

async function deserialize(registry, topic, inFile, outFile) {
  const c = client(registry);
  const de = new sr.AvroDeserializer(c, sr.SerdeType.VALUE, {
    subjectNameStrategyType: sr.SubjectNameStrategyType.TOPIC,
  });
  const out = [];
  const ids = new Set();
  for (const line of lines(inFile)) {
    const bytes = Buffer.from(line, 'base64');
    if (bytes.length < 5 || bytes.readUInt8(0) !== 0) {
      throw new Error(`value ${out.length} has no registry framing: ${bytes.subarray(0, 8).toString('hex')}`);
    }
    ids.add(bytes.readUInt32BE(1));
    out.push(JSON.stringify(plain(await de.deserialize(topic, bytes))));
  }
  fs.writeFileSync(outFile, out.map((l) => l + '\n').join(''));
  process.stderr.write(`deserialize: ${out.length} values, schema ids ${[...ids].join(',')}\n`);
}

async function main() {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'serialize' && args.length === 5) return serialize(...args);
  if (cmd === 'deserialize' && args.length === 4) return deserialize(...args);
  throw new Error('usage: confluent_avro.cjs serialize REGISTRY TOPIC SCHEMA.avsc IN.jsonl OUT | ' +
    'deserialize REGISTRY TOPIC IN OUT.jsonl');
}

main().catch((e) => {
  process.stderr.write(`confluent_avro: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
