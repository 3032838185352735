#include "runner/record/batch.h"

#include "runner/record/json_decoder.h"

namespace streamrun {

void CopyRow(const Batch& src, uint32_t i, Batch& dst) {
  std::string_view raw = src.raw(i);
  std::string_view raw_copy = raw.empty() ? raw : dst.arena().Copy(raw, JsonPadding());
  uint32_t r = dst.AddRow(raw_copy, src.position(i), src.event_time(i));
  dst.set_key_hash(r, src.key_hash(i));
  dst.set_watermark(r, src.watermark(i));
  const Value* in = src.row(i);
  Value* out = dst.row(r);
  for (uint32_t s = 0; s < src.width(); ++s) {
    Value v = in[s];
    if (v.kind == Kind::kString || v.kind == Kind::kList || v.kind == Kind::kObject) {
      if (!raw.empty() && v.str >= raw.data() && v.str + v.len <= raw.data() + raw.size()) {
        v.str = raw_copy.data() + (v.str - raw.data());
      } else {
        v.str = dst.arena().Copy(v.text()).data();
      }
    }
    out[s] = v;
  }
}

}  // namespace streamrun
