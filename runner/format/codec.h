#pragma once
// Record formats at the edges of a pipeline (docs/formats.md): a decoder turns
// one message or file record into the engine's record (JSON text plus the
// projected slots, record_builder.h); an encoder turns a record's JSON text into
// the format's bytes. Schemas are loaded once, at plan time, into a compiled
// form that no record touches libprotobuf or libavro through.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "runner/format/record_builder.h"
#include "runner/record/batch.h"
#include "runner/record/projection.h"

namespace streamrun::format {

enum class RecordFormat { kJson, kCsv, kRaw, kProtobuf, kAvro };

std::string_view FormatName(RecordFormat f);
// True for formats whose records are bytes, not lines.
inline bool IsBinary(RecordFormat f) { return f == RecordFormat::kProtobuf || f == RecordFormat::kAvro; }

struct RegistryConfig {
  std::string url;       // http(s)://host:port, no trailing slash
  std::string subject;   // empty: <topic>-value
  std::string username;  // basic auth (with password)
  std::string password;
  std::string token;  // bearer auth
};

class RecordDecoder {
 public:
  virtual ~RecordDecoder() = default;
  // Decodes one record into `out` (the caller has Reset it): its whole JSON
  // text and the projected slots. False with a reason on malformed or
  // truncated bytes.
  virtual bool Decode(std::string_view bytes, RecordBuilder& out, std::string* error) = 0;
  // Decodes only the projected slots, as a source does: strings point into
  // `bytes` (which the caller keeps as long as the row: the batch's copy), a
  // slot holding a nested record or list gets its JSON text in `arena`. The
  // record's structure is checked as in Decode. The default makes the text.
  virtual bool DecodeSlots(std::string_view bytes, Value* row, Arena& arena, std::string* error);

 private:
  RecordBuilder slots_;
};

// The transcoder a binary source's rows carry (runner/record/batch.h): each
// thread makes its own decoder with `make` (a decoder with no projection) the
// first time it needs one.
std::unique_ptr<RawTranscoder> NewTranscoder(std::function<std::unique_ptr<RecordDecoder>()> make);

class RecordEncoder {
 public:
  virtual ~RecordEncoder() = default;
  // Appends the record given as one JSON object to `out`. `json` must be
  // followed by JsonPadding() readable bytes. Fields the schema lacks are left
  // out; a value of the wrong type is an error.
  virtual bool Encode(std::string_view json, std::string* out, std::string* error) = 0;
};

// A loaded schema: immutable, shared by every instance of a source or sink.
class Schema {
 public:
  virtual ~Schema() = default;
  virtual RecordFormat format() const = 0;
  // A decoder filling the slots of `projection`. `writer` is the schema the
  // bytes were written with when it differs from this one (Avro resolves it to
  // this reader schema; Protobuf reads by field number and ignores it).
  virtual std::unique_ptr<RecordDecoder> NewDecoder(const ProjectionNode& projection,
                                                    const Schema* writer = nullptr) const = 0;
  virtual std::unique_ptr<RecordEncoder> NewEncoder() const = 0;
  // What a schema registry stores: the schema text and its schemaType
  // (PROTOBUF, AVRO or JSON).
  virtual std::string RegistryText() const = 0;
  virtual std::string_view RegistryType() const = 0;
  // Protobuf: the message's index path in its file (the registry framing's
  // message indexes); empty for other formats.
  virtual std::vector<int> MessageIndex() const { return {}; }
  // Protobuf: the same file with the message at `index` as the record type
  // (registry framing names the writer's message so); null with an error if
  // there is none. Other formats return themselves.
  virtual std::shared_ptr<const Schema> ForMessageIndex(const std::vector<int>& index,
                                                        std::string* error) const = 0;
  // A line for `explain`: the file and message.
  virtual std::string Describe() const = 0;
};

// Loads a schema file: a .proto with `message` (a full name; empty: the file's
// first message), or an .avsc. Errors name the file and, where the parser
// gives one, the line and column.
std::shared_ptr<const Schema> LoadProtobufSchema(const std::string& path, const std::string& message,
                                                 std::string* error);
std::shared_ptr<const Schema> LoadAvroSchema(const std::string& path, std::string* error);
// Schemas as a registry returns them. Protobuf text may also be a base64
// FileDescriptorProto (as some clients register it).
std::shared_ptr<const Schema> ParseProtobufSchema(std::string_view text, const std::string& message,
                                                  std::string* error);
std::shared_ptr<const Schema> ParseAvroSchema(std::string_view text, std::string* error);

}  // namespace streamrun::format

namespace streamrun::format {

class RegistryClient;

// A JSON Schema file, for a JSON sink with a registry (it registers the schema
// as type JSON; records are written as they are).
std::shared_ptr<const Schema> LoadJsonSchema(const std::string& path, std::string* error);

// Decodes registry-framed messages of `format`: each writer schema is fetched
// by its id once, and resolved to `reader` when one is given (else read as
// written). For JSON the decoder only checks and strips the framing.
std::unique_ptr<RecordDecoder> NewRegistryDecoder(RecordFormat format, std::shared_ptr<const Schema> reader,
                                                  const ProjectionNode& projection,
                                                  std::shared_ptr<RegistryClient> client);
// Strips the framing of a JSON message: the JSON text, or false with a reason.
bool UnframeJson(std::string_view bytes, std::string_view* json, std::string* error);

// Encodes with `schema` and prefixes the framing for `schema_id` (the id the
// registry gave the sink's schema when it started).
std::unique_ptr<RecordEncoder> NewFramedEncoder(std::shared_ptr<const Schema> schema, int32_t schema_id);

}  // namespace streamrun::format
