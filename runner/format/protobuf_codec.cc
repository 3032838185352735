// The Protobuf wire format to and from records (protobuf_codec.h).
//
// Decoding is one pass over the message per level: the fields present are
// listed by number (unknown numbers skipped, as a reader of an older schema
// does), then the JSON text is written in declaration order, so the record's
// text does not depend on the order a writer put fields on the wire. Scalars
// absent from the wire read as their default unless the field has presence
// (optional, oneof, message, wrapper), which reads as null.
#include "runner/format/protobuf_codec.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "runner/format/varint.h"
#include "runner/record/json_writer.h"

namespace streamrun::format {

namespace {

using pb::Field;
using pb::Message;
using pb::Type;

constexpr int kMaxDepth = 64;

// ---- number text, the way the JSON decoder reads it back ---------------

void AppendInt(int64_t v, std::string& t) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  t.append(buf, r.ptr);
}

// A double as JSON: shortest round-trip text with ".0" on integral values (so
// it reads back as a float), null when not finite.
Value AppendDouble(double d, std::string& t) {
  if (!std::isfinite(d)) {
    t.append("null");
    return Value::Null();
  }
  char buf[32];
  auto r = std::to_chars(buf, buf + sizeof buf, d);
  const std::string_view s(buf, static_cast<size_t>(r.ptr - buf));
  t.append(s);
  if (s.find_first_of(".eE") == std::string_view::npos) t.append(".0");
  return Value::Float(d);
}

// One field occurrence on the wire.
struct Occurrence {
  int wire_type;
  uint64_t number;  // varint / fixed value
  const uint8_t* data;
  uint32_t len;
  int next;  // the field's next occurrence, -1 at the last
};

struct Level {
  std::vector<Occurrence> seen;
  std::vector<int> head, tail;  // per field index
};

// Which fields of a message the pipeline reads: per field index, its slot and
// the projection of its own fields (for a nested message read by path).
struct Projection {
  std::vector<int> slot;
  std::vector<const Projection*> child;
  // Every field read is a singular scalar (the common case): DecodeSlots
  // reads such a message in one pass, without listing its fields first.
  bool flat = true;
  // flat: the slots of fields without presence and their default, set first
  // and overwritten by the field when it is on the wire.
  std::vector<std::pair<int, Value>> defaults;
};

// Reads a field's scalar value from a submessage (wrappers, Timestamp):
// the last occurrence of `number`, or false if absent.
bool FindScalar(const uint8_t* p, const uint8_t* end, uint32_t number, int* wire_type, uint64_t* v,
                const uint8_t** data, uint32_t* len, std::string* error) {
  bool found = false;
  while (p < end) {
    uint64_t tag;
    if (!GetVarint(&p, end, &tag)) {
      *error = "truncated tag";
      return false;
    }
    const int wt = static_cast<int>(tag & 7);
    uint64_t value = 0;
    const uint8_t* d = nullptr;
    uint32_t l = 0;
    switch (wt) {
      case 0:
        if (!GetVarint(&p, end, &value)) {
          *error = "truncated varint";
          return false;
        }
        break;
      case 1:
        if (end - p < 8) {
          *error = "truncated fixed64";
          return false;
        }
        std::memcpy(&value, p, 8);
        p += 8;
        break;
      case 5: {
        if (end - p < 4) {
          *error = "truncated fixed32";
          return false;
        }
        uint32_t v32;
        std::memcpy(&v32, p, 4);
        value = v32;
        p += 4;
        break;
      }
      case 2: {
        uint64_t n;
        if (!GetVarint(&p, end, &n) || n > static_cast<uint64_t>(end - p)) {
          *error = "truncated length-delimited field";
          return false;
        }
        d = p;
        l = static_cast<uint32_t>(n);
        p += n;
        break;
      }
      default:
        *error = "wire type " + std::to_string(wt) + " is not supported";
        return false;
    }
    if ((tag >> 3) == number) {
      found = true;
      *wire_type = wt;
      *v = value;
      *data = d;
      *len = l;
    }
  }
  if (!found) *wire_type = -1;
  return true;
}

class ProtobufDecoder : public RecordDecoder {
 public:
  ProtobufDecoder(const Message& root, const ProjectionNode& projection) : root_(root) {
    projection_ = Build(root, projection);
  }

  bool Decode(std::string_view bytes, RecordBuilder& out, std::string* error) override {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    return DecodeMessage(root_, p, p + bytes.size(), projection_, 0, out, error);
  }

  bool DecodeSlots(std::string_view bytes, Value* row, Arena& arena, std::string* error) override {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    return Slots(root_, p, p + bytes.size(), projection_, 0, row, arena, error);
  }

 private:
  const Projection* Build(const Message& m, const ProjectionNode& node) {
    if (node.children.empty()) return nullptr;
    auto proj = std::make_unique<Projection>();
    proj->slot.assign(m.fields.size(), -1);
    proj->child.assign(m.fields.size(), nullptr);
    for (const auto& c : node.children) {
      auto it = m.by_name.find(c.name);
      if (it == m.by_name.end()) continue;  // not in the schema: stays null
      const Field& f = m.fields[it->second];
      proj->slot[it->second] = c.slot;
      if (!c.children.empty() && f.message && !f.repeated) proj->child[it->second] = Build(*f.message, c);
      if (f.repeated || f.map || f.type == Type::kMessage) {
        proj->flat = false;
      } else if (c.slot >= 0 && !f.presence) {
        proj->defaults.emplace_back(c.slot, DefaultValue(f));
      }
    }
    owned_.push_back(std::move(proj));
    return owned_.back().get();
  }

  Level& LevelAt(int depth) {
    while (static_cast<int>(levels_.size()) <= depth) levels_.push_back(std::make_unique<Level>());
    return *levels_[depth];
  }

  // Reads one field's tag and value at *p (the bytes of a length-delimited
  // one are left in place).
  static bool ReadOccurrence(const uint8_t** p, const uint8_t* end, uint64_t* number, Occurrence* o,
                             std::string* error) {
    uint64_t tag;
    if (!GetVarint(p, end, &tag)) {
      *error = "truncated tag";
      return false;
    }
    *number = tag >> 3;
    *o = Occurrence{static_cast<int>(tag & 7), 0, nullptr, 0, -1};
    if (*number == 0 || *number > 536870911) {
      *error = "invalid field number " + std::to_string(*number);
      return false;
    }
    switch (o->wire_type) {
      case 0:
        if (!GetVarint(p, end, &o->number)) {
          *error = "truncated varint in field " + std::to_string(*number);
          return false;
        }
        break;
      case 1:
        if (end - *p < 8) {
          *error = "truncated fixed64 in field " + std::to_string(*number);
          return false;
        }
        std::memcpy(&o->number, *p, 8);
        *p += 8;
        break;
      case 5: {
        if (end - *p < 4) {
          *error = "truncated fixed32 in field " + std::to_string(*number);
          return false;
        }
        uint32_t v32;
        std::memcpy(&v32, *p, 4);
        o->number = v32;
        *p += 4;
        break;
      }
      case 2: {
        uint64_t n;
        if (!GetVarint(p, end, &n) || n > static_cast<uint64_t>(end - *p)) {
          *error = "truncated length-delimited field " + std::to_string(*number);
          return false;
        }
        o->data = *p;
        o->len = static_cast<uint32_t>(n);
        *p += n;
        break;
      }
      default:
        *error = "wire type " + std::to_string(o->wire_type) + " (field " + std::to_string(*number) +
                 ") is not supported (groups are proto2's deprecated encoding)";
        return false;
    }
    return true;
  }

  // A known field's wire type, checked for every field, read or not, so a
  // record that decodes here always has a text (RawTranscoder).
  bool CheckWireType(const Field& known, const Occurrence& o, std::string* error) {
    const int want = known.map ? 2 : pb::WireTypeOf(known.type);
    if (o.wire_type == want || (known.repeated && o.wire_type == 2 && pb::IsPackable(known.type)))
      return true;
    return WrongWire(known, o.wire_type, want, error);
  }

  // Reads fields at *p up to one this schema knows (*index, its wire type
  // checked) or the end (*index = -1); fields it does not know are skipped,
  // as a reader of an older schema does. False on bytes that are not a message.
  bool NextKnown(const Message& m, const uint8_t** p, const uint8_t* end, int* index, Occurrence* o,
                 std::string* error) {
    while (*p < end) {
      uint64_t number;
      if (!ReadOccurrence(p, end, &number, o, error)) return false;
      *index = m.IndexOfNumber(static_cast<uint32_t>(number));
      if (*index >= 0) return CheckWireType(m.fields[*index], *o, error);
    }
    *index = -1;
    return true;
  }

  // Lists the fields of one message present on the wire into `level`
  // (unknown field numbers skipped). False on bytes that are not a message.
  // With `only` (DecodeSlots), fields neither read nor nested messages are
  // not listed.
  bool Scan(const Message& m, const uint8_t* p, const uint8_t* end, int depth, Level& level,
            std::string* error, const Projection* only = nullptr, bool filter = false) {
    if (depth > kMaxDepth) {
      *error = "messages nested more than " + std::to_string(kMaxDepth) + " deep";
      return false;
    }
    level.seen.clear();
    level.head.assign(m.fields.size(), -1);
    level.tail.assign(m.fields.size(), -1);
    while (true) {
      int index;
      Occurrence o;
      if (!NextKnown(m, &p, end, &index, &o, error)) return false;
      if (index < 0) break;
      const Field& known = m.fields[index];
      if (filter && !NeedsCheck(known, o) && (!only || (only->slot[index] < 0 && !only->child[index])))
        continue;
      const int at = static_cast<int>(level.seen.size());
      level.seen.push_back(o);
      if (level.tail[index] >= 0) {
        level.seen[level.tail[index]].next = at;
      } else {
        level.head[index] = at;
      }
      level.tail[index] = at;
    }
    return true;
  }

  // True for an occurrence whose bytes hold more to check than its tag and
  // length: a nested message, a Timestamp, Duration or wrapper, a packed list.
  static bool NeedsCheck(const Field& field, const Occurrence& o) {
    return o.wire_type == 2 &&
           (field.type == Type::kMessage || field.type == Type::kTimestamp || field.type == Type::kDuration ||
            field.type == Type::kWrapper || (field.repeated && pb::IsPackable(field.type)));
  }

  // Checks what Decode would check inside one such occurrence, for a field
  // not decoded otherwise.
  bool CheckOccurrence(const Field& field, const Occurrence& o, int depth, std::string* error) {
    if (!NeedsCheck(field, o)) return true;
    if (field.type == Type::kMessage) {
      Level& inner = LevelAt(depth + 1);
      return Scan(*field.message, o.data, o.data + o.len, depth + 1, inner, error, nullptr,
                  /*filter=*/true) &&
             CheckNested(*field.message, inner, nullptr, depth + 1, error);
    }
    if (field.repeated && pb::IsPackable(field.type)) {
      const uint8_t* p = o.data;
      const uint8_t* end = p + o.len;
      const int wt = pb::WireTypeOf(field.type);
      while (p < end) {
        uint64_t v;
        if (wt == 0 ? !GetVarint(&p, end, &v) : end - p < (wt == 1 ? 8 : 4)) {
          *error = "truncated packed field '" + field.name + "'";
          return false;
        }
        if (wt != 0) p += wt == 1 ? 8 : 4;
      }
      return true;
    }
    Value unused;  // Timestamp, Duration, wrapper: read as Decode reads them
    return ScalarValue(field, field.type, o.wire_type, o.number, o.data, o.len, &unused, nullptr, error);
  }

  // Checks that what a scanned message holds beyond tags and lengths is sound
  // (so its text can always be made later), for fields not decoded otherwise.
  bool CheckNested(const Message& m, const Level& level, const Projection* proj, int depth,
                   std::string* error) {
    for (size_t f = 0; f < m.fields.size(); ++f) {
      if (proj && (proj->slot[f] >= 0 || proj->child[f])) continue;
      for (int o = level.head[f]; o >= 0; o = level.seen[o].next)
        if (!CheckOccurrence(m.fields[f], level.seen[o], depth, error)) return false;
    }
    return true;
  }

  // The projected slots of one message, without its text.
  bool Slots(const Message& m, const uint8_t* p, const uint8_t* end, const Projection* proj, int depth,
             Value* row, Arena& arena, std::string* error) {
    if (proj && proj->flat) return FlatSlots(m, p, end, *proj, depth, row, arena, error);
    Level& level = LevelAt(depth);
    if (!Scan(m, p, end, depth, level, error, proj, /*filter=*/true) ||
        !CheckNested(m, level, proj, depth, error))
      return false;
    if (!proj) return true;
    for (size_t f = 0; f < m.fields.size(); ++f) {
      const int slot = proj->slot[f];
      const Projection* child = proj->child[f];
      if (slot < 0 && !child) continue;
      const Field& field = m.fields[f];
      if (field.map || field.repeated || (field.type == Type::kMessage && slot >= 0)) {
        // A whole list, map or nested message: its JSON text (which checks it).
        text_.Reset();
        if (!EmitField(m, level, f, -1, nullptr, depth, text_, error)) return false;
        if (slot >= 0) {
          const std::string_view t = arena.Copy(text_.text());
          row[slot] = t == "null" ? Value::Null() : t[0] == '[' ? Value::List(t) : Value::Object(t);
        }
        if (!child) continue;
      }
      const int last = level.tail[f];
      if (last < 0) {
        if (slot >= 0 && !field.presence && field.type != Type::kMessage) row[slot] = DefaultValue(field);
        continue;
      }
      const Occurrence& occ = level.seen[last];
      if (field.type == Type::kMessage) {
        if (occ.wire_type != 2) return WrongWire(field, occ.wire_type, 2, error);
        if (!Slots(*field.message, occ.data, occ.data + occ.len, child, depth + 1, row, arena, error))
          return false;
        continue;
      }
      if (!ScalarValue(field, field.type, occ.wire_type, occ.number, occ.data, occ.len, &row[slot], &arena,
                       error))
        return false;
    }
    return true;
  }

  // Slots of a message whose fields read are all singular scalars, in one
  // pass: the last occurrence of a field wins, as in Decode.
  bool FlatSlots(const Message& m, const uint8_t* p, const uint8_t* end, const Projection& proj, int depth,
                 Value* row, Arena& arena, std::string* error) {
    if (depth > kMaxDepth) {
      *error = "messages nested more than " + std::to_string(kMaxDepth) + " deep";
      return false;
    }
    for (const auto& [slot, v] : proj.defaults) row[slot] = v;
    while (true) {
      int index;
      Occurrence o;
      if (!NextKnown(m, &p, end, &index, &o, error)) return false;
      if (index < 0) break;
      const Field& known = m.fields[index];
      const int slot = proj.slot[index];
      if (slot < 0) {  // not read: checked, so its text can be made later
        if (!CheckOccurrence(known, o, depth, error)) return false;
        continue;
      }
      if (!ScalarValue(known, known.type, o.wire_type, o.number, o.data, o.len, &row[slot], &arena, error))
        return false;
    }
    return true;
  }

  static Value DefaultValue(const Field& field) {
    switch (field.type) {
      case Type::kDouble:
      case Type::kFloat:
        return Value::Float(0);
      case Type::kBool:
        return Value::Bool(false);
      case Type::kString:
      case Type::kBytes:
        return Value::String(std::string_view());
      case Type::kEnum:
        return EnumOf(field, field.enum_default);
      default:
        return Value::Int(0);
    }
  }

  // An enum number as its name (the schema's text, which outlives the run's
  // rows), or the number when the schema does not name it.
  static Value EnumOf(const Field& field, int32_t number) {
    for (const auto& [n, name] : field.enum_values)
      if (n == number) return Value::String(name);
    return Value::Int(number);
  }

  // The record's value of one scalar occurrence; strings point into the
  // bytes; `arena` (may be null when the caller writes text) holds bytes as
  // base64.
  bool ScalarValue(const Field& field, Type type, int wt, uint64_t v, const uint8_t* data, uint32_t len,
                   Value* out, Arena* arena, std::string* error) {
    const int want = pb::WireTypeOf(type);
    if (wt != want) return WrongWire(field, wt, want, error);
    switch (type) {
      case Type::kDouble: {
        double d;
        std::memcpy(&d, &v, 8);
        *out = std::isfinite(d) ? Value::Float(d) : Value::Null();
        return true;
      }
      case Type::kFloat: {
        float f;
        const uint32_t v32 = static_cast<uint32_t>(v);
        std::memcpy(&f, &v32, 4);
        *out = FloatValue(f);
        return true;
      }
      case Type::kInt64:
      case Type::kSfixed64:
        *out = Value::Int(static_cast<int64_t>(v));
        return true;
      case Type::kUint64:
      case Type::kFixed64:
        // Beyond int64, as the JSON decoder reads such a number: a double.
        *out = v > static_cast<uint64_t>(INT64_MAX) ? Value::Float(static_cast<double>(v))
                                                    : Value::Int(static_cast<int64_t>(v));
        return true;
      case Type::kInt32:
      case Type::kSfixed32:
        *out = Value::Int(static_cast<int32_t>(static_cast<uint32_t>(v)));
        return true;
      case Type::kUint32:
      case Type::kFixed32:
        *out = Value::Int(static_cast<uint32_t>(v));
        return true;
      case Type::kSint32:
        *out = Value::Int(static_cast<int32_t>(UnZigZag(static_cast<uint32_t>(v))));
        return true;
      case Type::kSint64:
        *out = Value::Int(UnZigZag(v));
        return true;
      case Type::kBool:
        *out = Value::Bool(v != 0);
        return true;
      case Type::kEnum:
        *out = EnumOf(field, static_cast<int32_t>(static_cast<uint32_t>(v)));
        return true;
      case Type::kString: {
        const std::string_view s(reinterpret_cast<const char*>(data), len);
        if (!IsValidUtf8(s)) {
          *error = "field '" + field.name + "' is not valid UTF-8";
          return false;
        }
        *out = Value::String(s);
        return true;
      }
      case Type::kBytes: {
        scratch_.clear();
        AppendBase64(std::string_view(reinterpret_cast<const char*>(data), len), &scratch_);
        *out = Value::String(arena ? arena->Copy(scratch_) : std::string_view());
        return true;
      }
      case Type::kTimestamp:
      case Type::kDuration: {
        int swt;
        uint64_t seconds = 0, nanos = 0;
        const uint8_t* d;
        uint32_t l;
        if (!FindScalar(data, data + len, 1, &swt, &seconds, &d, &l, error)) return false;
        if (swt < 0) seconds = 0;
        if (!FindScalar(data, data + len, 2, &swt, &nanos, &d, &l, error)) return false;
        if (swt < 0) nanos = 0;
        const int64_t ns = static_cast<int32_t>(static_cast<uint32_t>(nanos));
        const int64_t s = static_cast<int64_t>(seconds);
        if (s > INT64_MAX / 1000 - 1 || s < INT64_MIN / 1000 + 1) {
          *error = "field '" + field.name + "' is out of range";
          return false;
        }
        // Floor to the millisecond (a time before 1970 with nanos rounds down).
        *out = Value::Int(s * 1000 + (ns >= 0 ? ns / 1000000 : -((-ns + 999999) / 1000000)));
        return true;
      }
      case Type::kWrapper: {
        int swt;
        uint64_t sv = 0;
        const uint8_t* d = nullptr;
        uint32_t l = 0;
        if (!FindScalar(data, data + len, 1, &swt, &sv, &d, &l, error)) return false;
        Field inner = field;
        inner.type = field.wrapped;
        if (swt < 0) {  // a present wrapper holding its default
          *out = DefaultValue(inner);
          return true;
        }
        return ScalarValue(inner, field.wrapped, swt, sv, d, l, out, arena, error);
      }
      case Type::kMessage:
        break;
    }
    *error = "field '" + field.name + "' is a message";
    return false;
  }

  // A float as the JSON decoder reads its shortest text (0.1f is 0.1).
  static Value FloatValue(float f) {
    if (!std::isfinite(f)) return Value::Null();
    char buf[32];
    auto r = std::to_chars(buf, buf + sizeof buf, f);
    double d = 0;
    std::from_chars(buf, r.ptr, d);
    return Value::Float(d);
  }

  bool DecodeMessage(const Message& m, const uint8_t* p, const uint8_t* end, const Projection* proj,
                     int depth, RecordBuilder& b, std::string* error) {
    Level& level = LevelAt(depth);
    if (!Scan(m, p, end, depth, level, error)) return false;
    std::string& t = b.text();
    t.push_back('{');
    for (size_t f = 0; f < m.fields.size(); ++f) {
      if (f > 0) t.push_back(',');
      t.append(m.fields[f].key);
      if (!EmitField(m, level, f, proj ? proj->slot[f] : -1, proj ? proj->child[f] : nullptr, depth, b,
                     error))
        return false;
    }
    t.push_back('}');
    return true;
  }

  // Writes field `f` of a scanned message (its value, after its key).
  // `level` stays valid: deeper messages use deeper levels.
  bool EmitField(const Message& m, const Level& level, size_t f, int slot, const Projection* child, int depth,
                 RecordBuilder& b, std::string* error) {
    const Field& field = m.fields[f];
    std::string& t = b.text();
    const size_t begin = t.size();
    if (field.map || field.repeated) {
      t.push_back(field.map ? '{' : '[');
      bool first = true;
      for (int o = level.head[f]; o >= 0; o = level.seen[o].next) {
        const Occurrence& occ = level.seen[o];
        if (field.map) {
          if (!first) t.push_back(',');
          first = false;
          if (!MapEntry(field, occ, depth, b, error)) return false;
        } else if (occ.wire_type == 2 && pb::IsPackable(field.type)) {
          if (!Packed(field, occ, first, b, error)) return false;
        } else {
          if (!first) t.push_back(',');
          first = false;
          if (!Single(field, field.type, occ.wire_type, occ.number, occ.data, occ.len, -1, nullptr, depth, b,
                      error))
            return false;
        }
      }
      t.push_back(field.map ? '}' : ']');
      if (slot >= 0) b.SetRange(slot, field.map ? Kind::kObject : Kind::kList, begin, t.size());
      return true;
    }
    const int last = level.tail[f];
    if (last < 0) {
      Absent(field, slot, b);
      return true;
    }
    const Occurrence& occ = level.seen[last];
    return Single(field, field.type, occ.wire_type, occ.number, occ.data, occ.len, slot, child, depth, b,
                  error);
  }

  // The value of a field that is not on the wire.
  void Absent(const Field& field, int slot, RecordBuilder& b) {
    if (field.presence || field.type == Type::kMessage) {
      b.text().append("null");
      return;
    }
    AppendValue(DefaultValue(field), slot, b);
  }

  // Writes a value's JSON text and puts it in `slot`.
  void AppendValue(const Value& v, int slot, RecordBuilder& b) {
    std::string& t = b.text();
    const size_t begin = t.size();
    switch (v.kind) {
      case Kind::kNull:
        t.append("null");
        return;
      case Kind::kBool:
        t.append(v.b ? "true" : "false");
        break;
      case Kind::kInt:
        AppendInt(v.i, t);
        break;
      case Kind::kFloat:
        AppendDouble(v.f, t);
        break;
      case Kind::kString:
        AppendJsonString(v.text(), &t);
        if (slot >= 0) {
          if (t.size() - begin == v.len + 2) {
            b.SetRange(slot, Kind::kString, begin + 1, t.size() - 1);
          } else {
            b.SetExternal(slot, v.text());
          }
        }
        return;
      default:
        t.append(v.text());
        break;
    }
    if (slot >= 0) b.SetScalar(slot, v);
  }

  bool WrongWire(const Field& field, int got, int want, std::string* error) {
    *error = "field '" + field.name + "' (" + std::to_string(field.number) + ") has wire type " +
             std::to_string(got) + ", its type needs " + std::to_string(want);
    return false;
  }

  // One value of `type` (the field's, or a wrapper's scalar).
  bool Single(const Field& field, Type type, int wt, uint64_t v, const uint8_t* data, uint32_t len, int slot,
              const Projection* child, int depth, RecordBuilder& b, std::string* error) {
    std::string& t = b.text();
    const int want = pb::WireTypeOf(type);
    if (wt != want) return WrongWire(field, wt, want, error);
    const size_t begin = t.size();
    switch (type) {
      case Type::kMessage:
        if (!DecodeMessage(*field.message, data, data + len, child, depth + 1, b, error)) return false;
        if (slot >= 0) b.SetRange(slot, Kind::kObject, begin, t.size());
        return true;
      case Type::kString: {
        const std::string_view s(reinterpret_cast<const char*>(data), len);
        // A field the pipeline reads must be text; others are written with
        // U+FFFD for bad bytes, as all JSON here is.
        if (slot >= 0 && !IsValidUtf8(s)) {
          *error = "field '" + field.name + "' is not valid UTF-8";
          return false;
        }
        AppendValue(Value::String(s), slot, b);
        return true;
      }
      case Type::kBytes:
        t.push_back('"');
        AppendBase64(std::string_view(reinterpret_cast<const char*>(data), len), &t);
        t.push_back('"');
        if (slot >= 0) b.SetRange(slot, Kind::kString, begin + 1, t.size() - 1);
        return true;
      case Type::kWrapper: {
        int swt;
        uint64_t sv = 0;
        const uint8_t* d = nullptr;
        uint32_t l = 0;
        if (!FindScalar(data, data + len, 1, &swt, &sv, &d, &l, error)) return false;
        if (swt < 0) {  // a present wrapper holding its default
          Field inner = field;
          inner.type = field.wrapped;
          inner.presence = false;
          Absent(inner, slot, b);
          return true;
        }
        return Single(field, field.wrapped, swt, sv, d, l, slot, nullptr, depth, b, error);
      }
      default: {
        Value value;
        if (!ScalarValue(field, type, wt, v, data, len, &value, nullptr, error)) return false;
        AppendValue(value, slot, b);
        return true;
      }
    }
  }

  bool Packed(const Field& field, const Occurrence& occ, bool& first, RecordBuilder& b, std::string* error) {
    const uint8_t* p = occ.data;
    const uint8_t* end = p + occ.len;
    const int wt = pb::WireTypeOf(field.type);
    while (p < end) {
      uint64_t v = 0;
      if (wt == 0) {
        if (!GetVarint(&p, end, &v)) {
          *error = "truncated packed field '" + field.name + "'";
          return false;
        }
      } else {
        const int n = wt == 1 ? 8 : 4;
        if (end - p < n) {
          *error = "truncated packed field '" + field.name + "'";
          return false;
        }
        std::memcpy(&v, p, n);
        p += n;
      }
      if (!first) b.text().push_back(',');
      first = false;
      if (!Single(field, field.type, wt, v, nullptr, 0, -1, nullptr, 0, b, error)) return false;
    }
    return true;
  }

  bool MapEntry(const Field& field, const Occurrence& occ, int depth, RecordBuilder& b, std::string* error) {
    if (occ.wire_type != 2) return WrongWire(field, occ.wire_type, 2, error);
    const Message& entry = *field.message;
    const int ki = entry.IndexOfNumber(1), vi = entry.IndexOfNumber(2);
    if (ki < 0 || vi < 0) {
      *error = "map field '" + field.name + "' has no key or value";
      return false;
    }
    int kwt, vwt;
    uint64_t kv = 0, vv = 0;
    const uint8_t *kd = nullptr, *vd = nullptr;
    uint32_t kl = 0, vl = 0;
    if (!FindScalar(occ.data, occ.data + occ.len, 1, &kwt, &kv, &kd, &kl, error) ||
        !FindScalar(occ.data, occ.data + occ.len, 2, &vwt, &vv, &vd, &vl, error))
      return false;
    std::string& t = b.text();
    const Field& key = entry.fields[ki];
    const Field& value = entry.fields[vi];
    const size_t at = t.size();
    if (kwt < 0) {
      Absent(key, -1, b);
    } else if (!Single(key, key.type, kwt, kv, kd, kl, -1, nullptr, depth + 1, b, error)) {
      return false;
    }
    if (t[at] != '"') {  // JSON object keys are strings
      t.insert(t.begin() + static_cast<std::ptrdiff_t>(at), '"');
      t.push_back('"');
    }
    t.push_back(':');
    if (vwt < 0) {
      if (value.type == Type::kMessage) {
        t.append("{}");
      } else {
        Field v = value;
        v.presence = false;
        Absent(v, -1, b);
      }
      return true;
    }
    return Single(value, value.type, vwt, vv, vd, vl, -1, nullptr, depth + 1, b, error);
  }

  const Message& root_;
  const Projection* projection_ = nullptr;
  std::vector<std::unique_ptr<Projection>> owned_;
  std::vector<std::unique_ptr<Level>> levels_;
  RecordBuilder text_;   // a list, map or message read whole (DecodeSlots)
  std::string scratch_;  // base64 of bytes
};

// ---- encoding ------------------------------------------------------------

namespace od = simdjson::ondemand;

void PutTag(uint32_t number, int wt, std::string* out) {
  PutVarint((static_cast<uint64_t>(number) << 3) | wt, out);
}
void PutFixed64(uint64_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 8); }
void PutFixed32(uint32_t v, std::string* out) { out->append(reinterpret_cast<const char*>(&v), 4); }

class ProtobufEncoder : public RecordEncoder {
 public:
  explicit ProtobufEncoder(const Message& root) : root_(root) {}

  bool Encode(std::string_view json, std::string* out, std::string* error) override {
    od::document doc;
    if (parser_
            .iterate(simdjson::padded_string_view(json.data(), json.size(),
                                                  json.size() + simdjson::SIMDJSON_PADDING))
            .get(doc)) {
      *error = "not JSON";
      return false;
    }
    od::object obj;
    if (doc.get_object().get(obj)) {
      *error = "a record must be an object";
      return false;
    }
    return EncodeMessage(root_, obj, 0, out, error);
  }

 private:
  std::string& Buffer(int depth) {
    while (static_cast<int>(buffers_.size()) <= depth) buffers_.push_back(std::make_unique<std::string>());
    buffers_[depth]->clear();
    return *buffers_[depth];
  }

  // The field a record's key names (its name or its JSON camelCase name),
  // trying the one after the previous key first: records usually list fields
  // in declaration order. No allocation, even for keys the schema lacks.
  static int FindField(const Message& m, std::string_view name, int hint) {
    if (hint < static_cast<int>(m.fields.size()) && m.fields[hint].name == name) return hint;
    for (size_t i = 0; i < m.fields.size(); ++i)
      if (m.fields[i].name == name || m.fields[i].json_name == name) return static_cast<int>(i);
    return -1;
  }

  bool Fail(const Field& f, const std::string& what, std::string* error) {
    *error = "field '" + f.name + "': " + what;
    return false;
  }

  bool EncodeMessage(const Message& m, od::object obj, int depth, std::string* out, std::string* error) {
    if (depth > kMaxDepth) {
      *error = "objects nested more than " + std::to_string(kMaxDepth) + " deep";
      return false;
    }
    int hint = 0;
    for (auto member : obj) {
      std::string_view name;
      if (member.unescaped_key().get(name)) {
        *error = "malformed JSON";
        return false;
      }
      const int index = FindField(m, name, hint);
      od::value v;
      if (member.value().get(v)) {
        *error = "malformed JSON";
        return false;
      }
      if (index < 0) continue;  // not in the schema: left out
      hint = index + 1;
      const Field& f = m.fields[index];
      bool null = false;
      if (v.is_null().get(null) == simdjson::SUCCESS && null) continue;  // absent
      if (f.map) {
        if (!EncodeMap(f, v, depth, out, error)) return false;
      } else if (f.repeated) {
        od::array arr;
        if (v.get_array().get(arr)) return Fail(f, "expected a list", error);
        if (pb::IsPackable(f.type)) {
          std::string& packed = Buffer(depth + 1);
          for (auto item : arr) {
            od::value iv;
            if (item.get(iv)) return Fail(f, "malformed list", error);
            if (!Scalar(f, f.type, iv, true, &packed, error)) return false;
          }
          if (!packed.empty()) {
            PutTag(f.number, 2, out);
            PutVarint(packed.size(), out);
            out->append(packed);
          }
        } else {
          for (auto item : arr) {
            od::value iv;
            if (item.get(iv)) return Fail(f, "malformed list", error);
            if (!FieldValue(f, iv, depth, true, out, error)) return false;
          }
        }
      } else if (!FieldValue(f, v, depth, f.presence, out, error)) {
        return false;
      }
    }
    return true;
  }

  // A field's tag and value. `always`: written even when it is the default
  // (a field with presence, or an element of a list).
  bool FieldValue(const Field& f, od::value& v, int depth, bool always, std::string* out,
                  std::string* error) {
    switch (f.type) {
      case Type::kMessage: {
        od::object obj;
        if (v.get_object().get(obj)) return Fail(f, "expected an object", error);
        std::string& inner = Buffer(depth + 1);
        if (!EncodeMessage(*f.message, obj, depth + 1, &inner, error)) return false;
        PutTag(f.number, 2, out);
        PutVarint(inner.size(), out);
        out->append(inner);
        return true;
      }
      case Type::kTimestamp:
      case Type::kDuration: {
        int64_t ms;
        if (!Int(v, &ms)) return Fail(f, "expected milliseconds (an integer)", error);
        int64_t seconds = ms / 1000, rem = ms % 1000;
        if (rem < 0) {
          rem += 1000;
          --seconds;
        }
        std::string& inner = Buffer(depth + 1);
        if (seconds != 0) {
          PutTag(1, 0, &inner);
          PutVarint(static_cast<uint64_t>(seconds), &inner);
        }
        if (rem != 0) {
          PutTag(2, 0, &inner);
          PutVarint(static_cast<uint64_t>(rem * 1000000), &inner);
        }
        PutTag(f.number, 2, out);
        PutVarint(inner.size(), out);
        out->append(inner);
        return true;
      }
      case Type::kWrapper: {
        std::string& inner = Buffer(depth + 1);
        Field w = f;
        w.number = 1;
        if (!Scalar(w, f.wrapped, v, true, &inner, error, /*tagged=*/true)) return false;
        PutTag(f.number, 2, out);
        PutVarint(inner.size(), out);
        out->append(inner);
        return true;
      }
      default:
        return Scalar(f, f.type, v, always, out, error, /*tagged=*/true);
    }
  }

  static bool Int(od::value& v, int64_t* out) {
    od::json_type type;
    if (v.type().get(type)) return false;
    if (type == od::json_type::string) {
      std::string_view s;
      if (v.get_string().get(s)) return false;
      auto r = std::from_chars(s.data(), s.data() + s.size(), *out);
      return r.ec == std::errc() && r.ptr == s.data() + s.size();
    }
    if (type != od::json_type::number) return false;
    od::number_type nt;
    if (v.get_number_type().get(nt)) return false;
    if (nt == od::number_type::signed_integer) return !v.get_int64().get(*out);
    if (nt == od::number_type::unsigned_integer) {
      uint64_t u;
      if (v.get_uint64().get(u)) return false;
      *out = static_cast<int64_t>(u);  // uint64 fields take the bits
      return true;
    }
    double d;
    if (v.get_double().get(d) || d != std::floor(d) || std::fabs(d) >= 9.3e18) return false;
    *out = static_cast<int64_t>(d);
    return true;
  }

  // A scalar, with its tag when `tagged` (not inside a packed list).
  bool Scalar(const Field& f, Type type, od::value& v, bool always, std::string* out, std::string* error,
              bool tagged = false) {
    const int wt = pb::WireTypeOf(type);
    switch (type) {
      case Type::kDouble:
      case Type::kFloat: {
        double d;
        if (v.get_double().get(d)) return Fail(f, "expected a number", error);
        if (d == 0 && !std::signbit(d) && !always) return true;
        if (tagged) PutTag(f.number, wt, out);
        if (type == Type::kDouble) {
          uint64_t bits;
          std::memcpy(&bits, &d, 8);
          PutFixed64(bits, out);
        } else {
          const float x = static_cast<float>(d);
          uint32_t bits;
          std::memcpy(&bits, &x, 4);
          PutFixed32(bits, out);
        }
        return true;
      }
      case Type::kBool: {
        bool x;
        if (v.get_bool().get(x)) return Fail(f, "expected true or false", error);
        if (!x && !always) return true;
        if (tagged) PutTag(f.number, wt, out);
        PutVarint(x ? 1 : 0, out);
        return true;
      }
      case Type::kString:
      case Type::kBytes: {
        std::string_view s;
        if (v.get_string().get(s)) return Fail(f, "expected a string", error);
        if (type == Type::kBytes) {
          if (!DecodeBase64(s, &scratch_)) return Fail(f, "expected base64 text for bytes", error);
          s = scratch_;
        }
        if (s.empty() && !always) return true;
        if (tagged) PutTag(f.number, wt, out);
        PutVarint(s.size(), out);
        out->append(s);
        return true;
      }
      case Type::kEnum: {
        int64_t number = 0;
        od::json_type jt;
        if (v.type().get(jt)) return Fail(f, "malformed JSON", error);
        if (jt == od::json_type::string) {
          std::string_view s;
          if (v.get_string().get(s)) return Fail(f, "malformed JSON", error);
          bool found = false;
          for (const auto& [n, name] : f.enum_values)
            if (name == s) {
              number = n;
              found = true;
            }
          if (!found) return Fail(f, "'" + std::string(s) + "' is not a value of the enum", error);
        } else if (!Int(v, &number)) {
          return Fail(f, "expected an enum name or number", error);
        }
        if (number == 0 && !always) return true;
        if (tagged) PutTag(f.number, wt, out);
        PutVarint(static_cast<uint64_t>(number), out);
        return true;
      }
      default:
        break;
    }
    int64_t x;
    if (!Int(v, &x)) return Fail(f, "expected an integer", error);
    const bool is32 = type == Type::kInt32 || type == Type::kSint32 || type == Type::kSfixed32;
    const bool isu32 = type == Type::kUint32 || type == Type::kFixed32;
    if ((is32 && (x < INT32_MIN || x > INT32_MAX)) || (isu32 && (x < 0 || x > UINT32_MAX)))
      return Fail(f, std::to_string(x) + " does not fit in 32 bits", error);
    if (x == 0 && !always) return true;
    if (tagged) PutTag(f.number, wt, out);
    switch (type) {
      case Type::kSint32:
      case Type::kSint64:
        PutVarint(ZigZag(x), out);
        break;
      case Type::kFixed64:
      case Type::kSfixed64:
        PutFixed64(static_cast<uint64_t>(x), out);
        break;
      case Type::kFixed32:
      case Type::kSfixed32:
        PutFixed32(static_cast<uint32_t>(x), out);
        break;
      default:
        PutVarint(static_cast<uint64_t>(x), out);  // int32 negatives take 10 bytes, as protobuf writes them
        break;
    }
    return true;
  }

  bool EncodeMap(const Field& f, od::value& v, int depth, std::string* out, std::string* error) {
    od::object obj;
    if (v.get_object().get(obj)) return Fail(f, "expected an object (a map)", error);
    const Message& entry = *f.message;
    const int ki = entry.IndexOfNumber(1), vi = entry.IndexOfNumber(2);
    if (ki < 0 || vi < 0) return Fail(f, "map without key or value", error);
    const Field& kf = entry.fields[ki];
    for (auto member : obj) {
      std::string_view key;
      if (member.unescaped_key().get(key)) return Fail(f, "malformed JSON", error);
      std::string& e = Buffer(depth + 1);
      if (kf.type == Type::kString) {
        PutTag(1, 2, &e);
        PutVarint(key.size(), &e);
        e.append(key);
      } else if (kf.type == Type::kBool) {
        PutTag(1, 0, &e);
        PutVarint(key == "true" ? 1 : 0, &e);
      } else {
        int64_t k;
        auto r = std::from_chars(key.data(), key.data() + key.size(), k);
        if (r.ec != std::errc() || r.ptr != key.data() + key.size())
          return Fail(f, "map key '" + std::string(key) + "' is not an integer", error);
        PutTag(1, pb::WireTypeOf(kf.type), &e);
        if (kf.type == Type::kSint32 || kf.type == Type::kSint64) {
          PutVarint(ZigZag(k), &e);
        } else if (pb::WireTypeOf(kf.type) == 1) {
          PutFixed64(static_cast<uint64_t>(k), &e);
        } else if (pb::WireTypeOf(kf.type) == 5) {
          PutFixed32(static_cast<uint32_t>(k), &e);
        } else {
          PutVarint(static_cast<uint64_t>(k), &e);
        }
      }
      od::value mv;
      if (member.value().get(mv)) return Fail(f, "malformed JSON", error);
      bool null = false;
      if (!(mv.is_null().get(null) == simdjson::SUCCESS && null)) {
        // The entry buffer is this depth's; the value encodes one deeper.
        std::string entry_bytes = e;
        if (!FieldValue(entry.fields[vi], mv, depth + 1, true, &entry_bytes, error)) return false;
        PutTag(f.number, 2, out);
        PutVarint(entry_bytes.size(), out);
        out->append(entry_bytes);
        continue;
      }
      PutTag(f.number, 2, out);
      PutVarint(e.size(), out);
      out->append(e);
    }
    return true;
  }

  const Message& root_;
  od::parser parser_;
  std::vector<std::unique_ptr<std::string>> buffers_;
  std::string scratch_;
};

}  // namespace

std::unique_ptr<RecordDecoder> NewProtobufDecoder(const pb::Message& message,
                                                  const ProjectionNode& projection) {
  return std::make_unique<ProtobufDecoder>(message, projection);
}

std::unique_ptr<RecordEncoder> NewProtobufEncoder(const pb::Message& message) {
  return std::make_unique<ProtobufEncoder>(message);
}

}  // namespace streamrun::format
