#pragma once
// A Protobuf message type compiled from its descriptor into what the decoder
// and encoder walk per record: fields by number and by name, their wire types,
// nested messages, enums, and the well-known types read as plain values
// (Timestamp as epoch milliseconds, wrappers as nullable scalars).
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace streamrun::format::pb {

enum class Type : uint8_t {
  kDouble,
  kFloat,
  kInt64,
  kUint64,
  kInt32,
  kUint32,
  kSint32,
  kSint64,
  kFixed32,
  kFixed64,
  kSfixed32,
  kSfixed64,
  kBool,
  kEnum,
  kString,
  kBytes,
  kMessage,
  kTimestamp,  // google.protobuf.Timestamp: epoch milliseconds in the record
  kDuration,   // google.protobuf.Duration: milliseconds in the record
  kWrapper,    // google.protobuf.*Value: the wrapped scalar, null when absent
};

struct Message;

struct Field {
  std::string name;
  std::string json_name;  // protobuf's camelCase JSON name (often `name` itself)
  std::string key;        // `"name":`, written before the value
  uint32_t number = 0;
  Type type = Type::kInt32;
  Type wrapped = Type::kInt32;  // kWrapper: the scalar inside
  bool repeated = false;
  bool map = false;       // repeated entries of `message` (key = 1, value = 2), a JSON object
  bool presence = false;  // absent reads as null (optional, oneof, message, wrapper)
  const Message* message = nullptr;
  std::vector<std::pair<int32_t, std::string>> enum_values;  // number, name
  int32_t enum_default = 0;
};

struct Message {
  std::string full_name;
  std::vector<Field> fields;             // declaration order: the JSON text's order
  std::vector<int16_t> by_small_number;  // field number < 128 -> index, -1 if none
  std::unordered_map<uint32_t, int> by_number;
  std::unordered_map<std::string, int> by_name;  // names and JSON (camelCase) names

  int IndexOfNumber(uint32_t n) const {
    if (n < by_small_number.size()) return by_small_number[n];
    auto it = by_number.find(n);
    return it == by_number.end() ? -1 : it->second;
  }
};

// Every message type reachable from one root, owned together.
struct CompiledMessages {
  std::vector<std::unique_ptr<Message>> all;
  const Message* root = nullptr;
};

// The wire type a field's values use when not packed.
int WireTypeOf(Type t);
bool IsPackable(Type t);

}  // namespace streamrun::format::pb
