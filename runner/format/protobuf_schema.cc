// Loading .proto files (from disk or from a schema registry) and compiling a
// message type into pb::Message (protobuf_schema.h). libprotobuf is used here,
// at plan time, and nowhere on the record path.
#include "runner/format/protobuf_schema.h"

#include <google/protobuf/compiler/importer.h>
#include <google/protobuf/compiler/parser.h>
#include <google/protobuf/descriptor.h>
#include <google/protobuf/descriptor.pb.h>
#include <google/protobuf/descriptor_database.h>
#include <google/protobuf/duration.pb.h>
#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/timestamp.pb.h>
#include <google/protobuf/wrappers.pb.h>

#include <filesystem>
#include <map>

#include "runner/format/codec.h"
#include "runner/format/compatibility.h"
#include "runner/format/protobuf_codec.h"
#include "runner/record/json_writer.h"

namespace streamrun::format {

namespace gp = google::protobuf;

namespace pb {

int WireTypeOf(Type t) {
  switch (t) {
    case Type::kDouble:
    case Type::kFixed64:
    case Type::kSfixed64:
      return 1;
    case Type::kFloat:
    case Type::kFixed32:
    case Type::kSfixed32:
      return 5;
    case Type::kString:
    case Type::kBytes:
    case Type::kMessage:
    case Type::kTimestamp:
    case Type::kDuration:
    case Type::kWrapper:
      return 2;
    default:
      return 0;
  }
}

bool IsPackable(Type t) { return WireTypeOf(t) != 2; }

}  // namespace pb

namespace {

pb::Type ScalarType(const gp::FieldDescriptor* f) {
  using T = gp::FieldDescriptor;
  switch (f->type()) {
    case T::TYPE_DOUBLE:
      return pb::Type::kDouble;
    case T::TYPE_FLOAT:
      return pb::Type::kFloat;
    case T::TYPE_INT64:
      return pb::Type::kInt64;
    case T::TYPE_UINT64:
      return pb::Type::kUint64;
    case T::TYPE_INT32:
      return pb::Type::kInt32;
    case T::TYPE_FIXED64:
      return pb::Type::kFixed64;
    case T::TYPE_FIXED32:
      return pb::Type::kFixed32;
    case T::TYPE_BOOL:
      return pb::Type::kBool;
    case T::TYPE_STRING:
      return pb::Type::kString;
    case T::TYPE_BYTES:
      return pb::Type::kBytes;
    case T::TYPE_UINT32:
      return pb::Type::kUint32;
    case T::TYPE_ENUM:
      return pb::Type::kEnum;
    case T::TYPE_SFIXED32:
      return pb::Type::kSfixed32;
    case T::TYPE_SFIXED64:
      return pb::Type::kSfixed64;
    case T::TYPE_SINT32:
      return pb::Type::kSint32;
    case T::TYPE_SINT64:
      return pb::Type::kSint64;
    default:
      return pb::Type::kMessage;  // message and group
  }
}

// The scalar a google.protobuf wrapper holds, or false if `m` is not one.
bool WrapperOf(const gp::Descriptor* m, pb::Type* out) {
  static const std::map<std::string, pb::Type> kWrappers = {
      {"google.protobuf.DoubleValue", pb::Type::kDouble}, {"google.protobuf.FloatValue", pb::Type::kFloat},
      {"google.protobuf.Int64Value", pb::Type::kInt64},   {"google.protobuf.UInt64Value", pb::Type::kUint64},
      {"google.protobuf.Int32Value", pb::Type::kInt32},   {"google.protobuf.UInt32Value", pb::Type::kUint32},
      {"google.protobuf.BoolValue", pb::Type::kBool},     {"google.protobuf.StringValue", pb::Type::kString},
      {"google.protobuf.BytesValue", pb::Type::kBytes}};
  auto it = kWrappers.find(m->full_name());
  if (it == kWrappers.end()) return false;
  *out = it->second;
  return true;
}

class Compiler {
 public:
  explicit Compiler(pb::CompiledMessages* out) : out_(out) {}

  const pb::Message* Compile(const gp::Descriptor* d) {
    auto it = done_.find(d);
    if (it != done_.end()) return it->second;
    out_->all.push_back(std::make_unique<pb::Message>());
    pb::Message* m = out_->all.back().get();
    done_[d] = m;  // before the fields: a message may contain itself
    m->full_name = d->full_name();
    m->by_small_number.assign(128, -1);
    for (int i = 0; i < d->field_count(); ++i) {
      const gp::FieldDescriptor* fd = d->field(i);
      pb::Field f;
      f.name = fd->name();
      f.json_name = fd->json_name();
      f.key = "\"" + f.name + "\":";
      f.number = static_cast<uint32_t>(fd->number());
      f.type = ScalarType(fd);
      f.repeated = fd->is_repeated();
      f.map = fd->is_map();
      f.presence = !f.repeated && fd->has_presence();
      if (f.type == pb::Type::kEnum) {
        const gp::EnumDescriptor* e = fd->enum_type();
        for (int k = 0; k < e->value_count(); ++k)
          f.enum_values.emplace_back(e->value(k)->number(), e->value(k)->name());
        f.enum_default = e->value(0)->number();
      }
      if (f.type == pb::Type::kMessage) {
        const gp::Descriptor* md = fd->message_type();
        if (md->full_name() == "google.protobuf.Timestamp") {
          f.type = pb::Type::kTimestamp;
        } else if (md->full_name() == "google.protobuf.Duration") {
          f.type = pb::Type::kDuration;
        } else if (WrapperOf(md, &f.wrapped)) {
          f.type = pb::Type::kWrapper;
        } else {
          f.message = Compile(md);
        }
      }
      const int index = static_cast<int>(m->fields.size());
      if (f.number < m->by_small_number.size()) {
        m->by_small_number[f.number] = static_cast<int16_t>(index);
      } else {
        m->by_number[f.number] = index;
      }
      m->by_name[f.name] = index;
      if (fd->json_name() != f.name) m->by_name[fd->json_name()] = index;
      m->fields.push_back(std::move(f));
    }
    return m;
  }

 private:
  pb::CompiledMessages* out_;
  std::map<const gp::Descriptor*, const pb::Message*> done_;
};

// Collects the parser's and the pool's errors as "file:line:col: message".
class Errors : public gp::compiler::MultiFileErrorCollector, public gp::io::ErrorCollector {
 public:
  void AddError(const std::string& file, int line, int column, const std::string& message) override {
    if (!text.empty()) text += "; ";
    text += file + ":" + std::to_string(line + 1) + ":" + std::to_string(column + 1) + ": " + message;
  }
  void AddError(int line, int column, const std::string& message) override {
    AddError("schema", line, column, message);
  }
  std::string text;
};

class PoolErrors : public gp::DescriptorPool::ErrorCollector {
 public:
  void AddError(const std::string& file, const std::string& element, const gp::Message*, ErrorLocation,
                const std::string& message) override {
    if (!text.empty()) text += "; ";
    text += file + ": " + element + ": " + message;
  }
  std::string text;
};

// The pool a schema's descriptors live in, with the databases it reads from.
// The well-known types come from libprotobuf's own compiled-in pool, so a
// schema can import google/protobuf/timestamp.proto with no include path.
struct Pool {
  gp::compiler::DiskSourceTree tree;
  std::unique_ptr<gp::compiler::SourceTreeDescriptorDatabase> source_db;
  std::unique_ptr<gp::DescriptorPoolDatabase> builtin_db;
  std::unique_ptr<gp::MergedDescriptorDatabase> merged;
  std::unique_ptr<gp::DescriptorPool> pool;
  Errors errors;
};

const gp::DescriptorPool& BuiltinPool() {
  // Make sure the well-known types are in the generated pool.
  (void)gp::Timestamp::descriptor();
  (void)gp::Duration::descriptor();
  (void)gp::Int64Value::descriptor();
  return *gp::DescriptorPool::generated_pool();
}

class ProtobufSchema : public Schema, public std::enable_shared_from_this<ProtobufSchema> {
 public:
  ProtobufSchema(std::shared_ptr<Pool> pool, const gp::Descriptor* message, std::string origin)
      : pool_(std::move(pool)), descriptor_(message), origin_(std::move(origin)) {
    Compiler(&compiled_).Compile(message);
    compiled_.root = compiled_.all.front().get();
  }

  RecordFormat format() const override { return RecordFormat::kProtobuf; }
  const pb::Message& root() const { return *compiled_.root; }

  std::unique_ptr<RecordDecoder> NewDecoder(const ProjectionNode& projection, const Schema*) const override {
    return NewProtobufDecoder(*compiled_.root, projection);
  }
  std::unique_ptr<RecordEncoder> NewEncoder() const override { return NewProtobufEncoder(*compiled_.root); }

  std::string RegistryText() const override { return descriptor_->file()->DebugString(); }
  std::string_view RegistryType() const override { return "PROTOBUF"; }

  std::vector<int> MessageIndex() const override {
    std::vector<int> path;
    const gp::Descriptor* d = descriptor_;
    while (d->containing_type()) {
      path.insert(path.begin(), d->index());
      d = d->containing_type();
    }
    path.insert(path.begin(), d->index());
    return path;
  }

  std::shared_ptr<const Schema> ForMessageIndex(const std::vector<int>& index,
                                                std::string* error) const override {
    const gp::FileDescriptor* file = descriptor_->file();
    const gp::Descriptor* d = nullptr;
    for (size_t k = 0; k < index.size(); ++k) {
      const int count = k == 0 ? file->message_type_count() : d->nested_type_count();
      if (index[k] < 0 || index[k] >= count) {
        *error = "message index " + std::to_string(index[k]) + " is not in " + file->name();
        return nullptr;
      }
      d = k == 0 ? file->message_type(index[k]) : d->nested_type(index[k]);
    }
    if (!d) d = file->message_type_count() > 0 ? file->message_type(0) : nullptr;
    if (!d) {
      *error = file->name() + " has no message";
      return nullptr;
    }
    if (d == descriptor_) return shared_from_this();
    return std::make_shared<ProtobufSchema>(pool_, d, origin_);
  }

  std::string Describe() const override {
    return "protobuf " + descriptor_->full_name() + " from " + origin_;
  }

 private:
  std::shared_ptr<Pool> pool_;
  const gp::Descriptor* descriptor_;
  std::string origin_;
  pb::CompiledMessages compiled_;
};

const gp::Descriptor* PickMessage(const gp::FileDescriptor* file, const gp::DescriptorPool& pool,
                                  const std::string& message, std::string* error) {
  if (message.empty()) {
    if (file->message_type_count() == 0) {
      *error = file->name() + " declares no message";
      return nullptr;
    }
    return file->message_type(0);
  }
  const gp::Descriptor* d = pool.FindMessageTypeByName(message);
  if (!d && !file->package().empty()) d = pool.FindMessageTypeByName(file->package() + "." + message);
  if (!d) {
    std::string names;
    for (int i = 0; i < file->message_type_count(); ++i)
      names += (names.empty() ? "" : ", ") + file->message_type(i)->full_name();
    *error = "message '" + message + "' is not in " + file->name() + " (it declares " +
             (names.empty() ? std::string("none") : names) + ")";
  }
  return d;
}

bool LooksLikeBase64(std::string_view s) {
  if (s.empty() || s.size() % 4 != 0) return false;
  for (char c : s)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return false;
  return true;
}

}  // namespace

std::shared_ptr<const Schema> LoadProtobufSchema(const std::string& path, const std::string& message,
                                                 std::string* error) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    *error = "cannot read schema " + path + ": no such file";
    return nullptr;
  }
  auto pool = std::make_shared<Pool>();
  const fs::path p(path);
  const std::string dir = p.has_parent_path() ? p.parent_path().string() : ".";
  pool->tree.MapPath("", dir);
  pool->source_db = std::make_unique<gp::compiler::SourceTreeDescriptorDatabase>(&pool->tree);
  pool->source_db->RecordErrorsTo(&pool->errors);
  pool->builtin_db = std::make_unique<gp::DescriptorPoolDatabase>(BuiltinPool());
  pool->merged =
      std::make_unique<gp::MergedDescriptorDatabase>(pool->builtin_db.get(), pool->source_db.get());
  PoolErrors pool_errors;
  pool->pool = std::make_unique<gp::DescriptorPool>(pool->merged.get(), &pool_errors);
  const gp::FileDescriptor* file = pool->pool->FindFileByName(p.filename().string());
  if (!file) {
    std::string why = pool->errors.text.empty() ? pool_errors.text : pool->errors.text;
    *error = "cannot load schema " + path + ": " + (why.empty() ? "not a valid .proto file" : why);
    return nullptr;
  }
  const gp::Descriptor* d = PickMessage(file, *pool->pool, message, error);
  if (!d) {
    *error = path + ": " + *error;
    return nullptr;
  }
  return std::make_shared<ProtobufSchema>(pool, d, path);
}

std::shared_ptr<const Schema> ParseProtobufSchema(std::string_view text, const std::string& message,
                                                  std::string* error) {
  gp::FileDescriptorProto proto;
  Errors errors;
  bool parsed = false;
  if (LooksLikeBase64(text)) {
    std::string bytes;
    parsed = DecodeBase64(text, &bytes) && proto.ParseFromString(bytes) && proto.message_type_size() > 0;
  }
  if (!parsed) {
    gp::io::ArrayInputStream input(text.data(), static_cast<int>(text.size()));
    gp::io::Tokenizer tokenizer(&input, &errors);
    gp::compiler::Parser parser;
    parser.RecordErrorsTo(&errors);
    if (!parser.Parse(&tokenizer, &proto)) {
      *error = "the registry's Protobuf schema does not parse: " + errors.text;
      return nullptr;
    }
  }
  if (!proto.has_name() || proto.name().empty()) proto.set_name("registry.proto");
  auto pool = std::make_shared<Pool>();
  PoolErrors pool_errors;
  pool->pool = std::make_unique<gp::DescriptorPool>(&BuiltinPool());
  // Registry references other than the well-known types are not fetched: such
  // a schema fails here with the import it lacks.
  const gp::FileDescriptor* file = pool->pool->BuildFileCollectingErrors(proto, &pool_errors);
  if (!file) {
    *error = "the registry's Protobuf schema does not build: " + pool_errors.text;
    return nullptr;
  }
  const gp::Descriptor* d = PickMessage(file, *pool->pool, message, error);
  if (!d) return nullptr;
  return std::make_shared<ProtobufSchema>(pool, d, "the registry");
}

const pb::Message* ProtobufRoot(const Schema& s) {
  const auto* p = dynamic_cast<const ProtobufSchema*>(&s);
  return p ? &p->root() : nullptr;
}

}  // namespace streamrun::format
