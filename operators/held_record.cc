#include "operators/held_record.h"

#include "runner/record/json_decoder.h"

namespace streamrun {

void SaveHeldRecord(const Batch& b, uint32_t row, SnapshotWriter& w) {
  w.Str(b.raw(row));
  w.I64(b.event_time(row));
  w.I64(b.watermark(row));
  const RecordPosition& p = b.position(row);
  w.I64(p.source);
  w.I64(p.partition);
  w.I64(p.offset);
  w.I64(p.line);
  w.I64(p.topic);
  w.U64(b.key_hash(row));
  w.U64(b.width());
  for (uint32_t s = 0; s < b.width(); ++s) {
    const Value& v = b.row(row)[s];
    w.U64(static_cast<uint64_t>(v.kind));
    switch (v.kind) {
      case Kind::kNull:
        break;
      case Kind::kBool:
        w.Bool(v.b);
        break;
      case Kind::kInt:
        w.I64(v.i);
        break;
      case Kind::kFloat:
        w.F64(v.f);
        break;
      default:
        w.Str(v.text());
    }
  }
}

void LoadHeldRecord(SnapshotReader& r, Batch& b) {
  const std::string_view raw = b.arena().Copy(r.Str(), JsonPadding());
  const int64_t time = r.I64();
  const int64_t watermark = r.I64();
  RecordPosition p;
  p.source = static_cast<int32_t>(r.I64());
  p.partition = static_cast<int32_t>(r.I64());
  p.offset = r.I64();
  p.line = r.I64();
  p.topic = static_cast<int32_t>(r.I64());
  const uint64_t key_hash = r.U64();
  const uint32_t row = b.AddRow(raw, p, time);
  b.set_watermark(row, watermark);
  b.set_key_hash(row, key_hash);
  if (r.U64() != b.width()) throw SnapshotError("a held record of another width");
  for (uint32_t s = 0; s < b.width(); ++s) {
    const uint64_t kind = r.U64();
    Value& v = b.row(row)[s];
    switch (static_cast<Kind>(kind)) {
      case Kind::kNull:
        v = Value::Null();
        break;
      case Kind::kBool:
        v = Value::Bool(r.Bool());
        break;
      case Kind::kInt:
        v = Value::Int(r.I64());
        break;
      case Kind::kFloat:
        v = Value::Float(r.F64());
        break;
      case Kind::kString:
        v = Value::String(b.arena().Copy(r.Str()));
        break;
      case Kind::kList:
        v = Value::List(b.arena().Copy(r.Str()));
        break;
      case Kind::kObject:
        v = Value::Object(b.arena().Copy(r.Str()));
        break;
      default:
        throw SnapshotError("a held record with a value of unknown kind");
    }
  }
}

}  // namespace streamrun
