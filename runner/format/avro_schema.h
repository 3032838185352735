#pragma once
// An Avro schema (.avsc) compiled into the tree the decoder and encoder walk
// per record: records with their fields (defaults already in Avro binary),
// enums, arrays, maps, unions, fixed, primitives and the logical types the
// engine reads as plain values (timestamps as epoch milliseconds, dates as
// days, decimals as numbers). Named types may refer to themselves, so the tree
// is a graph: every node is owned by the CompiledSchema, never by its parent.
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runner/format/codec.h"

namespace streamrun::format::avro {

enum class Type : uint8_t {
  kNull,
  kBoolean,
  kInt,
  kLong,
  kFloat,
  kDouble,
  kBytes,
  kString,
  kRecord,
  kEnum,
  kArray,
  kMap,
  kUnion,
  kFixed,
};

enum class Logical : uint8_t {
  kNone,
  kTimestampMillis,  // long: epoch milliseconds in the record
  kTimestampMicros,  // long: epoch milliseconds in the record (floored), micros on the wire
  kDate,             // int: days since the epoch
  kDecimal,          // bytes or fixed: a number in the record, `scale` digits after the point
};

struct Node;

struct Field {
  std::string name;
  std::string key;  // `"name":`, written before the value
  std::vector<std::string> aliases;
  const Node* type = nullptr;
  bool has_default = false;
  std::string default_json;   // as the schema writes it, for messages
  std::string default_bytes;  // the default in Avro binary, per `type`
};

struct Node {
  Type type = Type::kNull;
  Logical logical = Logical::kNone;
  int precision = 0;                  // kDecimal
  int scale = 0;                      // kDecimal
  std::string name;                   // full name of a record, enum or fixed
  std::vector<std::string> aliases;   // full names
  std::vector<Field> fields;          // kRecord, declaration order
  std::vector<std::string> symbols;   // kEnum
  int enum_default = -1;              // kEnum: index of the reader's fallback symbol
  const Node* items = nullptr;        // kArray items, kMap values
  std::vector<const Node*> branches;  // kUnion
  int null_branch = -1;               // kUnion: index of "null", -1 if none
  size_t size = 0;                    // kFixed
};

// "string", "record acme.Click", "union [null, string]": for messages.
std::string TypeName(const Node& n);
// The name after the last dot.
std::string_view ShortName(std::string_view full_name);

// Encodes a field default given as JSON text into `out`, per the Avro spec's
// JSON encoding of defaults: bytes and fixed as strings of code points 0-255,
// logical types as their underlying type. Implemented with the encoder.
bool EncodeDefault(const Node& type, std::string_view json, std::string* out, std::string* error);

class AvroSchema : public Schema, public std::enable_shared_from_this<AvroSchema> {
 public:
  // `source` names the schema in messages: its file, or empty for registry text.
  AvroSchema(std::string source, std::string canonical, std::vector<std::unique_ptr<Node>> nodes,
             const Node* root)
      : source_(std::move(source)), canonical_(std::move(canonical)), nodes_(std::move(nodes)), root_(root) {}

  RecordFormat format() const override { return RecordFormat::kAvro; }
  std::unique_ptr<RecordDecoder> NewDecoder(const ProjectionNode& projection,
                                            const Schema* writer = nullptr) const override;
  std::unique_ptr<RecordEncoder> NewEncoder() const override;
  std::string RegistryText() const override { return canonical_; }
  std::string_view RegistryType() const override { return "AVRO"; }
  std::shared_ptr<const Schema> ForMessageIndex(const std::vector<int>& index,
                                                std::string* error) const override {
    return shared_from_this();
  }
  std::string Describe() const override;

  const Node& root() const { return *root_; }
  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::string canonical_;
  std::vector<std::unique_ptr<Node>> nodes_;
  const Node* root_;
};

}  // namespace streamrun::format::avro
