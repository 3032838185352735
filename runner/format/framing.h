#pragma once
// Confluent's schema-registry framing of a Kafka message value: magic byte 0,
// the schema id as 4 bytes big-endian, for Protobuf the message's index path in
// its file (a zig-zag varint count, then each index; the common path [0] is the
// single byte 0), then the record's bytes.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace streamrun::format {

struct Frame {
  int32_t schema_id = 0;
  std::vector<int> message_index;  // Protobuf only
  std::string_view payload;
};

// False with a reason when `bytes` does not start with the framing.
bool ReadFrame(std::string_view bytes, bool protobuf, Frame* frame, std::string* error);
// Appends the framing for `schema_id` (and, for Protobuf, `message_index`).
void WriteFrameHeader(int32_t schema_id, bool protobuf, const std::vector<int>& message_index,
                      std::string* out);

}  // namespace streamrun::format
