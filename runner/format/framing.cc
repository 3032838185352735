#include "runner/format/framing.h"

#include "runner/format/varint.h"

namespace streamrun::format {

bool ReadFrame(std::string_view bytes, bool protobuf, Frame* frame, std::string* error) {
  if (bytes.size() < 5 || bytes[0] != 0) {
    *error = bytes.empty() ? "empty message"
                           : "no schema-registry framing (expected magic byte 0 and a schema id)";
    return false;
  }
  const auto* u = reinterpret_cast<const uint8_t*>(bytes.data());
  frame->schema_id =
      static_cast<int32_t>((uint32_t{u[1]} << 24) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 8) | u[4]);
  const uint8_t* p = u + 5;
  const uint8_t* end = u + bytes.size();
  frame->message_index.clear();
  if (protobuf) {
    uint64_t count;
    if (!GetVarint(&p, end, &count)) {
      *error = "truncated message index";
      return false;
    }
    const int64_t n = UnZigZag(count);
    if (n < 0 || n > 100) {
      *error = "bad message index count " + std::to_string(n);
      return false;
    }
    if (n == 0) frame->message_index.push_back(0);
    for (int64_t k = 0; k < n; ++k) {
      uint64_t v;
      if (!GetVarint(&p, end, &v)) {
        *error = "truncated message index";
        return false;
      }
      frame->message_index.push_back(static_cast<int>(UnZigZag(v)));
    }
  }
  frame->payload = std::string_view(reinterpret_cast<const char*>(p), static_cast<size_t>(end - p));
  return true;
}

void WriteFrameHeader(int32_t schema_id, bool protobuf, const std::vector<int>& message_index,
                      std::string* out) {
  out->push_back(0);
  const auto id = static_cast<uint32_t>(schema_id);
  out->push_back(static_cast<char>(id >> 24));
  out->push_back(static_cast<char>((id >> 16) & 0xff));
  out->push_back(static_cast<char>((id >> 8) & 0xff));
  out->push_back(static_cast<char>(id & 0xff));
  if (!protobuf) return;
  if (message_index.empty() || (message_index.size() == 1 && message_index[0] == 0)) {
    out->push_back(0);
    return;
  }
  PutVarint(ZigZag(static_cast<int64_t>(message_index.size())), out);
  for (int i : message_index) PutVarint(ZigZag(i), out);
}

}  // namespace streamrun::format
