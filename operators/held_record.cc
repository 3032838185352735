#include "operators/held_record.h"

#include "operators/steps/aggregates.h"
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
  for (uint32_t s = 0; s < b.width(); ++s) SaveValue(b.row(row)[s], w);
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
  StoredValue stored;
  for (uint32_t s = 0; s < b.width(); ++s) {
    stored.Load(r);
    Value v = stored.Get();
    if (v.kind == Kind::kString || v.kind == Kind::kList || v.kind == Kind::kObject)
      v.str = b.arena().Copy(v.text()).data();
    b.row(row)[s] = v;
  }
}

}  // namespace streamrun
