// What every format shares: names, the registry-framed decoder and encoder,
// and JSON Schema files for JSON sinks with a registry.
#include "runner/format/codec.h"

#include <atomic>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <unordered_map>

#include "runner/format/framing.h"
#include "runner/format/registry_client.h"

namespace streamrun::format {

std::string_view FormatName(RecordFormat f) {
  switch (f) {
    case RecordFormat::kJson:
      return "json";
    case RecordFormat::kCsv:
      return "csv";
    case RecordFormat::kRaw:
      return "raw";
    case RecordFormat::kProtobuf:
      return "protobuf";
    case RecordFormat::kAvro:
      return "avro";
  }
  return "json";
}

namespace {

class JsonSchemaFile : public Schema, public std::enable_shared_from_this<JsonSchemaFile> {
 public:
  JsonSchemaFile(std::string path, std::string text) : path_(std::move(path)), text_(std::move(text)) {}
  RecordFormat format() const override { return RecordFormat::kJson; }
  std::unique_ptr<RecordDecoder> NewDecoder(const ProjectionNode&, const Schema*) const override {
    return nullptr;
  }
  std::unique_ptr<RecordEncoder> NewEncoder() const override {
    struct Copy : RecordEncoder {
      bool Encode(std::string_view json, std::string* out, std::string*) override {
        out->append(json);
        return true;
      }
    };
    return std::make_unique<Copy>();
  }
  std::string RegistryText() const override { return text_; }
  std::string_view RegistryType() const override { return "JSON"; }
  std::shared_ptr<const Schema> ForMessageIndex(const std::vector<int>&, std::string*) const override {
    return shared_from_this();
  }
  std::string Describe() const override { return "JSON Schema " + path_; }

 private:
  std::string path_, text_;
};

class RegistryDecoder : public RecordDecoder {
 public:
  RegistryDecoder(RecordFormat format, std::shared_ptr<const Schema> reader, const ProjectionNode& projection,
                  std::shared_ptr<RegistryClient> client)
      : format_(format), reader_(std::move(reader)), projection_(projection), client_(std::move(client)) {}

  bool Decode(std::string_view bytes, RecordBuilder& out, std::string* error) override {
    if (!Find(bytes, error)) return false;
    return last_->decoder->Decode(frame_.payload, out, error);
  }

  // Reads the framing and finds (or makes) the decoder for its writer schema.
  bool Find(std::string_view bytes, std::string* error) {
    const bool protobuf = format_ == RecordFormat::kProtobuf;
    if (!ReadFrame(bytes, protobuf, &frame_, error)) return false;
    if (!last_ || last_key_.id != frame_.schema_id || last_key_.index != frame_.message_index) {
      Key key{frame_.schema_id, frame_.message_index};
      auto it = by_writer_.find(key);
      if (it == by_writer_.end()) {
        Entry e;
        if (!Resolve(frame_, &e, error)) return false;
        it = by_writer_.emplace(key, std::move(e)).first;
      }
      last_ = &it->second;
      last_key_ = key;
    }
    return true;
  }

  bool DecodeSlots(std::string_view bytes, Value* row, Arena& arena, std::string* error) override {
    if (!Find(bytes, error)) return false;
    return last_->decoder->DecodeSlots(frame_.payload, row, arena, error);
  }

 private:
  struct Key {
    int32_t id;
    std::vector<int> index;
    bool operator<(const Key& o) const { return id != o.id ? id < o.id : index < o.index; }
    bool operator==(const Key& o) const { return id == o.id && index == o.index; }
  };
  struct Entry {
    std::shared_ptr<const Schema> writer;
    std::unique_ptr<RecordDecoder> decoder;
  };

  bool Resolve(const Frame& frame, Entry* e, std::string* error) {
    std::string type, text;
    if (!client_->SchemaById(frame.schema_id, &type, &text, error)) return false;
    const std::string want = format_ == RecordFormat::kProtobuf ? "PROTOBUF" : "AVRO";
    if (type != want) {
      *error = "schema " + std::to_string(frame.schema_id) + " in the registry is " + type +
               ", this source reads " + std::string(FormatName(format_));
      return false;
    }
    std::string why;
    if (format_ == RecordFormat::kProtobuf) {
      auto file = ParseProtobufSchema(text, "", &why);
      if (file) e->writer = file->ForMessageIndex(frame.message_index, &why);
    } else {
      e->writer = ParseAvroSchema(text, &why);
    }
    if (!e->writer) {
      *error = "schema " + std::to_string(frame.schema_id) + ": " + why;
      return false;
    }
    // Protobuf reads by field number, so the configured reader schema decodes
    // any compatible writer's bytes; Avro resolves the writer to the reader.
    e->decoder =
        reader_ ? reader_->NewDecoder(projection_, e->writer.get()) : e->writer->NewDecoder(projection_);
    return e->decoder != nullptr;
  }

  RecordFormat format_;
  std::shared_ptr<const Schema> reader_;
  ProjectionNode projection_;
  std::shared_ptr<RegistryClient> client_;
  std::map<Key, Entry> by_writer_;
  Entry* last_ = nullptr;
  Key last_key_{0, {}};
  Frame frame_;
};

class FramedEncoder : public RecordEncoder {
 public:
  FramedEncoder(std::shared_ptr<const Schema> schema, int32_t id)
      : schema_(std::move(schema)), inner_(schema_->NewEncoder()), index_(schema_->MessageIndex()), id_(id) {}

  bool Encode(std::string_view json, std::string* out, std::string* error) override {
    const size_t at = out->size();
    WriteFrameHeader(id_, schema_->format() == RecordFormat::kProtobuf, index_, out);
    if (inner_->Encode(json, out, error)) return true;
    out->resize(at);
    return false;
  }

 private:
  std::shared_ptr<const Schema> schema_;
  std::unique_ptr<RecordEncoder> inner_;
  std::vector<int> index_;
  int32_t id_;
};

}  // namespace

bool RecordDecoder::DecodeSlots(std::string_view bytes, Value* row, Arena& arena, std::string* error) {
  slots_.Reset();
  if (!Decode(bytes, slots_, error)) return false;
  slots_.Finish(row, arena);
  return true;
}

namespace {

class ThreadTranscoder : public RawTranscoder {
 public:
  explicit ThreadTranscoder(std::function<std::unique_ptr<RecordDecoder>()> make)
      : make_(std::move(make)), id_(next_id_.fetch_add(1)) {}

  bool ToJson(std::string_view bytes, std::string* out, std::string* error) const override {
    // Keyed by a number never reused, not by address: a later run's
    // transcoder may get this one's address.
    thread_local std::unordered_map<uint64_t, std::unique_ptr<RecordDecoder>> decoders;
    thread_local RecordBuilder builder;
    auto& decoder = decoders[id_];
    if (!decoder) decoder = make_();
    builder.Reset();
    if (!decoder->Decode(bytes, builder, error)) return false;
    out->append(builder.text());
    return true;
  }

 private:
  std::function<std::unique_ptr<RecordDecoder>()> make_;
  uint64_t id_;
  static inline std::atomic<uint64_t> next_id_{1};
};

}  // namespace

std::unique_ptr<RawTranscoder> NewTranscoder(std::function<std::unique_ptr<RecordDecoder>()> make) {
  return std::make_unique<ThreadTranscoder>(std::move(make));
}

std::shared_ptr<const Schema> LoadJsonSchema(const std::string& path, std::string* error) {
  std::ifstream in(path);
  if (!in) {
    *error = "cannot read schema " + path;
    return nullptr;
  }
  std::stringstream ss;
  ss << in.rdbuf();
  auto j = nlohmann::json::parse(ss.str(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    *error = path + " is not a JSON Schema (a JSON object)";
    return nullptr;
  }
  return std::make_shared<JsonSchemaFile>(path, j.dump());
}

std::unique_ptr<RecordDecoder> NewRegistryDecoder(RecordFormat format, std::shared_ptr<const Schema> reader,
                                                  const ProjectionNode& projection,
                                                  std::shared_ptr<RegistryClient> client) {
  return std::make_unique<RegistryDecoder>(format, std::move(reader), projection, std::move(client));
}

bool UnframeJson(std::string_view bytes, std::string_view* json, std::string* error) {
  Frame frame;
  if (!ReadFrame(bytes, false, &frame, error)) return false;
  *json = frame.payload;
  return true;
}

std::unique_ptr<RecordEncoder> NewFramedEncoder(std::shared_ptr<const Schema> schema, int32_t schema_id) {
  return std::make_unique<FramedEncoder>(std::move(schema), schema_id);
}

}  // namespace streamrun::format
