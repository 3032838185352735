#include "runner/format/compatibility.h"

#include <set>
#include <utility>

#include "runner/format/avro_schema.h"

namespace streamrun::format {

namespace {

// ---- Avro: the spec's "Schema Resolution", checked for every path up front
// (the decoder only fails when a record takes a path that does not resolve).

bool IsNamed(avro::Type t) {
  return t == avro::Type::kRecord || t == avro::Type::kEnum || t == avro::Type::kFixed;
}

// Named types match by unqualified name, or by a reader alias naming the
// writer's type, as the registry's (Java) compatibility check does.
bool NamesMatch(const avro::Node& w, const avro::Node& r) {
  if (avro::ShortName(w.name) == avro::ShortName(r.name)) return true;
  for (const auto& alias : r.aliases)
    if (avro::ShortName(alias) == avro::ShortName(w.name)) return true;
  return false;
}

bool Promotes(avro::Type w, avro::Type r) {
  using avro::Type;
  return (w == Type::kInt && (r == Type::kLong || r == Type::kFloat || r == Type::kDouble)) ||
         (w == Type::kLong && (r == Type::kFloat || r == Type::kDouble)) ||
         (w == Type::kFloat && r == Type::kDouble) || (w == Type::kString && r == Type::kBytes) ||
         (w == Type::kBytes && r == Type::kString);
}

// The reader union's branch a writer type resolves to, as avro_decoder.cc
// picks it: an exact match first, then the same type, then a promotion.
const avro::Node* PickBranch(const avro::Node& w, const avro::Node& r) {
  for (const avro::Node* b : r.branches)
    if (b->type == w.type && (!IsNamed(w.type) || NamesMatch(w, *b))) return b;
  for (const avro::Node* b : r.branches)
    if (b->type == w.type && (w.type != avro::Type::kFixed || w.size == b->size)) return b;
  for (const avro::Node* b : r.branches)
    if (Promotes(w.type, b->type)) return b;
  return nullptr;
}

class AvroCheck {
 public:
  // `writer_is_old`: the direction, for messages that speak of OLD and NEW.
  AvroCheck(bool writer_is_old, std::vector<std::string>* problems)
      : writer_is_old_(writer_is_old), problems_(problems) {}

  // `w_union`: the writer's union `w` is a branch of, for messages.
  void Check(const avro::Node& w, const avro::Node& r, const std::string& path,
             const avro::Node* w_union = nullptr) {
    // A recursive type comes back to a pair already being checked.
    if (!seen_.insert({&w, &r}).second) return;
    if (w.type == avro::Type::kUnion) {
      for (const avro::Node* b : w.branches) Check(*b, r, path, &w);
      return;
    }
    if (r.type == avro::Type::kUnion) {
      if (const avro::Node* b = PickBranch(w, r))
        Check(w, *b, path, w_union);
      else
        Changed(w, r, path, w_union);
      return;
    }
    if (w.type != r.type) {
      if (!Promotes(w.type, r.type)) Changed(w, r, path, w_union);
      return;
    }
    if (IsNamed(w.type) && !NamesMatch(w, r)) {
      Changed(w, r, path, w_union);
      return;
    }
    switch (w.type) {
      case avro::Type::kRecord:
        return CheckRecord(w, r, path);
      case avro::Type::kEnum:
        for (const auto& symbol : w.symbols) {
          bool found = false;
          for (const auto& s : r.symbols) found = found || s == symbol;
          if (found || r.enum_default >= 0) continue;
          problems_->push_back(Where(path) + ": symbol '" + symbol + "' of enum " + r.name +
                               (writer_is_old_ ? " was removed and NEW" : " was added and OLD") +
                               " has no default symbol");
        }
        return;
      case avro::Type::kFixed:
        if (w.size != r.size)
          problems_->push_back(Where(path) + ": fixed " + r.name + " changed size from " +
                               std::to_string(writer_is_old_ ? w.size : r.size) + " to " +
                               std::to_string(writer_is_old_ ? r.size : w.size));
        return;
      case avro::Type::kArray:
        return Check(*w.items, *r.items, path + "[]");
      case avro::Type::kMap:
        return Check(*w.items, *r.items, path + "{}");
      default:
        return;
    }
  }

 private:
  bool writer_is_old_;
  std::vector<std::string>* problems_;
  std::set<std::pair<const avro::Node*, const avro::Node*>> seen_;

  static std::string Where(const std::string& path) {
    return path.empty() ? "the root type" : "field '" + path + "'";
  }

  void Changed(const avro::Node& w, const avro::Node& r, const std::string& path, const avro::Node* w_union) {
    const avro::Node& whole = w_union ? *w_union : w;
    const avro::Node& old_n = writer_is_old_ ? whole : r;
    const avro::Node& new_n = writer_is_old_ ? r : whole;
    std::string problem =
        Where(path) + " changed type from " + avro::TypeName(old_n) + " to " + avro::TypeName(new_n);
    if (w_union)
      problem += std::string(" (") + (writer_is_old_ ? "OLD" : "NEW") + "'s " + avro::TypeName(w) +
                 " branch cannot be read)";
    problems_->push_back(problem);
  }

  void CheckRecord(const avro::Node& w, const avro::Node& r, const std::string& path) {
    const std::string prefix = path.empty() ? "" : path + ".";
    for (const avro::Field& rf : r.fields) {
      const avro::Field* found = nullptr;
      for (const avro::Field& wf : w.fields) {
        if (found) break;
        if (wf.name == rf.name) found = &wf;
        for (const auto& alias : rf.aliases)
          if (alias == wf.name) found = &wf;
      }
      if (found) {
        Check(*found->type, *rf.type, prefix + rf.name);
      } else if (!rf.has_default) {
        problems_->push_back(Where(prefix + rf.name) + (writer_is_old_
                                                            ? " was added without a default"
                                                            : " was removed and OLD has no default for it"));
      }
    }
  }
};

// ---- Protobuf: fields matched by number; the wire encodings must agree.

enum class Wire { kVarint, kZigzag, kFixed32, kFixed64, kBytes, kMessage, kTimestamp, kDuration, kWrapper };

Wire WireOf(pb::Type t) {
  using pb::Type;
  switch (t) {
    case Type::kInt32:
    case Type::kUint32:
    case Type::kInt64:
    case Type::kUint64:
    case Type::kBool:
    case Type::kEnum:
      return Wire::kVarint;
    case Type::kSint32:
    case Type::kSint64:
      return Wire::kZigzag;
    case Type::kFixed32:
    case Type::kSfixed32:
    case Type::kFloat:
      return Wire::kFixed32;
    case Type::kFixed64:
    case Type::kSfixed64:
    case Type::kDouble:
      return Wire::kFixed64;
    case Type::kString:
    case Type::kBytes:
      return Wire::kBytes;
    case Type::kMessage:
      return Wire::kMessage;
    case Type::kTimestamp:
      return Wire::kTimestamp;
    case Type::kDuration:
      return Wire::kDuration;
    case Type::kWrapper:
      return Wire::kWrapper;
  }
  return Wire::kMessage;
}

std::string ScalarName(pb::Type t) {
  static constexpr const char* kNames[] = {"double",
                                           "float",
                                           "int64",
                                           "uint64",
                                           "int32",
                                           "uint32",
                                           "sint32",
                                           "sint64",
                                           "fixed32",
                                           "fixed64",
                                           "sfixed32",
                                           "sfixed64",
                                           "bool",
                                           "enum",
                                           "string",
                                           "bytes",
                                           "message",
                                           "google.protobuf.Timestamp",
                                           "google.protobuf.Duration",
                                           "wrapper"};
  return kNames[static_cast<size_t>(t)];
}

std::string TypeName(const pb::Field& f) {
  std::string name;
  if (f.type == pb::Type::kMessage && f.message)
    name = f.map ? "map" : f.message->full_name;
  else if (f.type == pb::Type::kWrapper)
    name = "wrapper of " + ScalarName(f.wrapped);
  else
    name = ScalarName(f.type);
  return f.repeated && !f.map ? "repeated " + name : name;
}

class ProtobufCheck {
 public:
  explicit ProtobufCheck(std::vector<std::string>* problems) : problems_(problems) {}

  void Check(const pb::Message& old_m, const pb::Message& new_m, const std::string& path,
             const std::string& numbers) {
    if (!seen_.insert({&old_m, &new_m}).second) return;
    for (const pb::Field& of : old_m.fields) {
      const int i = new_m.IndexOfNumber(of.number);
      if (i < 0) continue;  // removed: the reader skips it, or reads it as absent
      const pb::Field& nf = new_m.fields[static_cast<size_t>(i)];
      const std::string name = path + of.name;
      const std::string number = numbers + std::to_string(of.number);
      const std::string where = "field '" + name + "' (" + number + ")";
      const Wire ow = WireOf(of.type), nw = WireOf(nf.type);
      const bool same_wire = ow == nw && (ow != Wire::kWrapper || WireOf(of.wrapped) == WireOf(nf.wrapped));
      if (of.repeated != nf.repeated || !same_wire) {
        problems_->push_back(where + " changed type from " + TypeName(of) + " to " + TypeName(nf));
        continue;
      }
      if (ow == Wire::kMessage && of.message && nf.message)
        Check(*of.message, *nf.message, name + ".", number + ".");
    }
  }

 private:
  std::vector<std::string>* problems_;
  std::set<std::pair<const pb::Message*, const pb::Message*>> seen_;
};

}  // namespace

bool CheckCompatibility(const Schema& old_s, const Schema& new_s, std::vector<std::string>* backward_problems,
                        std::vector<std::string>* forward_problems) {
  const auto* old_avro = dynamic_cast<const avro::AvroSchema*>(&old_s);
  const auto* new_avro = dynamic_cast<const avro::AvroSchema*>(&new_s);
  if (old_avro && new_avro) {
    AvroCheck(true, backward_problems).Check(old_avro->root(), new_avro->root(), "");
    AvroCheck(false, forward_problems).Check(new_avro->root(), old_avro->root(), "");
    return true;
  }
  const pb::Message* old_pb = ProtobufRoot(old_s);
  const pb::Message* new_pb = ProtobufRoot(new_s);
  if (old_pb && new_pb) {
    // The wire rules are symmetric: what breaks one direction breaks the other.
    std::vector<std::string> problems;
    ProtobufCheck(&problems).Check(*old_pb, *new_pb, "", "");
    backward_problems->insert(backward_problems->end(), problems.begin(), problems.end());
    forward_problems->insert(forward_problems->end(), problems.begin(), problems.end());
    return true;
  }
  return false;
}

}  // namespace streamrun::format
