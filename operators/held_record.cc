#include "operators/held_record.h"

#include <string>

#include "operators/steps/aggregates.h"
#include "runner/record/json_decoder.h"

namespace streamrun {

namespace {
constexpr uint64_t kMaxWidth = 65536;  // more slots than any pipeline has: a damaged record
}  // namespace

void SaveHeldPosition(const Batch& b, uint32_t row, SnapshotWriter& w) {
  const RecordPosition& p = b.position(row);
  w.I64(b.event_time(row));
  w.I64(p.source);
  w.I64(p.topic);
  w.I64(p.partition);
  w.I64(p.offset);
  w.I64(p.line);
}

void SaveHeldBody(const Batch& b, uint32_t row, SnapshotWriter& w) {
  w.U64(b.key_hash(row));
  w.I64(b.watermark(row));
  w.Str(b.raw(row));
  w.U64(b.width());
  for (uint32_t s = 0; s < b.width(); ++s) SaveValue(b.row(row)[s], w);
}

HeldPosition LoadHeldPosition(SnapshotReader& r) {
  HeldPosition at;
  at.time = r.I64();
  at.position.source = static_cast<int32_t>(r.I64());
  at.position.topic = static_cast<int32_t>(r.I64());
  at.position.partition = static_cast<int32_t>(r.I64());
  at.position.offset = r.I64();
  at.position.line = r.I64();
  return at;
}

uint32_t LoadHeldBody(SnapshotReader& r, const HeldPosition& at, Batch& b) {
  const uint64_t key_hash = r.U64();
  const int64_t watermark = r.I64();
  const std::string_view raw = r.Str();
  const uint64_t width = r.U64();
  if (b.width() == 0 && b.empty() && width > 0 && width <= kMaxWidth) b = Batch(static_cast<uint32_t>(width));
  if (width != b.width())
    throw SnapshotError("state snapshot: a held record has " + std::to_string(width) +
                        " fields, this step's " + std::to_string(b.width()));
  const std::string_view raw_copy = raw.empty() ? raw : b.arena().Copy(raw, JsonPadding());
  const uint32_t row = b.AddRow(raw_copy, at.position, at.time);
  b.set_key_hash(row, key_hash);
  b.set_watermark(row, watermark);
  StoredValue stored;
  for (uint32_t s = 0; s < b.width(); ++s) {
    stored.Load(r);
    Value v = stored.Get();
    if (v.kind == Kind::kString || v.kind == Kind::kList || v.kind == Kind::kObject)
      v.str = b.arena().Copy(v.text()).data();
    b.row(row)[s] = v;
  }
  return row;
}

}  // namespace streamrun
