// The engine's record (one JSON object) to Avro binary per the schema: the
// fields in the schema's order, whatever the JSON's; missing or null fields
// take their default (or null in a nullable union); fields the schema lacks
// are left out. Also encodes field defaults when a schema is loaded.
#include <simdjson.h>

#include <bit>
#include <cstring>
#include <deque>

#include "runner/format/avro_schema.h"
#include "runner/format/avro_values.h"
#include "runner/format/varint.h"

namespace streamrun::format::avro {

namespace {

namespace od = simdjson::ondemand;

static_assert(std::endian::native == std::endian::little,
              "Avro floats are little-endian, copied as they are");

std::string JsonError(simdjson::error_code e) {
  if (e == simdjson::INCORRECT_TYPE) return "the record is not a JSON object";
  std::string text = simdjson::error_message(e);
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.pop_back();
  return "malformed JSON: " + text;
}

void PutLong(int64_t v, std::string* out) { PutVarint(ZigZag(v), out); }

void PutBytes(std::string_view s, std::string* out) {
  PutLong(static_cast<int64_t>(s.size()), out);
  out->append(s);
}

// A JSON scalar, read once (On-Demand reads a value once), so that a union can
// choose its branch by what the value is before writing it.
struct Scalar {
  enum class Is : uint8_t { kNull, kBool, kInt, kBigInt, kFloat, kString } is = Is::kNull;
  bool b = false;
  int64_t i = 0;
  double d = 0;          // kFloat, kBigInt (an integer beyond int64)
  std::string_view s;    // kString, unescaped
  std::string_view raw;  // the JSON text, for messages and decimals
  bool IsNumber() const { return is == Is::kInt || is == Is::kBigInt || is == Is::kFloat; }
  double AsDouble() const { return is == Is::kInt ? static_cast<double>(i) : d; }
};

// A string default of bytes or fixed: each character (U+0000 to U+00FF) is
// one byte. -1 if some character is above U+00FF.
int64_t CodePointBytes(std::string_view s, std::string* out) {
  int64_t n = 0;
  for (size_t i = 0; i < s.size(); ++i, ++n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (out) out->push_back(static_cast<char>(c));
    } else if ((c == 0xC2 || c == 0xC3) && i + 1 < s.size()) {
      const auto next = static_cast<unsigned char>(s[++i]);
      if (out) out->push_back(static_cast<char>(((c & 0x1f) << 6) | (next & 0x3f)));
    } else {
      return -1;
    }
  }
  return n;
}

class Writer {
 private:
  enum State : uint8_t { kUnseen, kWritten, kEarly, kNull };
  // A record being written at one nesting level: where each field is, and
  // the fields read before their turn. Kept from record to record.
  struct Level {
    std::vector<State> state;
    std::vector<std::string> early;
  };

 public:
  // `defaults`: the JSON is a field default (Avro's JSON encoding: bytes as
  // code points, logical types as their underlying type), not a record.
  explicit Writer(bool defaults) : defaults_(defaults) {}

  // Starts a record: forgets the last one's failure.
  void Reset() {
    path.clear();
    depth_ = 0;
  }

  std::string message;                 // what went wrong
  std::vector<std::string_view> path;  // the fields it is in, innermost first

  // "field a.b: message"
  std::string Error() const {
    if (path.empty()) return message;
    std::string s = "field ";
    for (size_t i = path.size(); i-- > 0;) {
      s.append(path[i]);
      if (i) s.push_back('.');
    }
    return s + ": " + message;
  }

  // The JSON object's fields are read once, in the JSON's order (On-Demand
  // reads forward; its out-of-order lookup trusts parts of the text it has
  // not checked). Avro wants the schema's order: a field that arrives in turn
  // goes straight to `out`, one that arrives early waits in a buffer of its
  // nesting level until the fields before it are written.
  bool Record(const Node& n, od::object obj, std::string* out) {
    if (levels_.size() <= depth_) levels_.emplace_back();
    Level& level = levels_[depth_++];
    level.state.assign(n.fields.size(), kUnseen);
    if (level.early.size() < n.fields.size()) level.early.resize(n.fields.size());
    size_t next = 0;  // the first field not yet written
    simdjson::error_code err;
    for (auto field_result : obj) {
      od::field field;
      if ((err = std::move(field_result).get(field))) return Json(err);
      const int i = FieldIndex(n, next, field);
      if (i == -2) return Json(simdjson::STRING_ERROR);
      if (i < 0) continue;  // not in the schema: left out
      const Field& f = n.fields[static_cast<size_t>(i)];
      if (level.state[static_cast<size_t>(i)] != kUnseen) {
        path.push_back(f.name);
        return Fail("appears twice in the record");
      }
      bool null = false;
      if ((err = field.value().is_null().get(null))) return Json(err, f.name);
      if (null) {
        level.state[static_cast<size_t>(i)] = kNull;
      } else if (static_cast<size_t>(i) == next) {
        if (!Put(*f.type, field.value(), out)) return Note(f.name);
        level.state[static_cast<size_t>(i)] = kWritten;
        ++next;
      } else {
        std::string& early = level.early[static_cast<size_t>(i)];
        early.clear();
        if (!Put(*f.type, field.value(), &early)) return Note(f.name);
        level.state[static_cast<size_t>(i)] = kEarly;
      }
      if (!WriteInTurn(n, level, false, &next, out)) return false;
    }
    if (!WriteInTurn(n, level, true, &next, out)) return false;
    --depth_;
    return true;
  }

  // Writes the fields from `next` on that can be written: those read early
  // or null, and at the end of the object the missing ones too.
  bool WriteInTurn(const Node& n, Level& level, bool at_end, size_t* next, std::string* out) {
    for (; *next < n.fields.size(); ++*next) {
      const Field& f = n.fields[*next];
      switch (level.state[*next]) {
        case kWritten:
          break;
        case kEarly:
          out->append(level.early[*next]);
          break;
        case kNull:
          if (!PutAbsent(f, false, out)) return false;
          break;
        case kUnseen:
          if (!at_end) return true;
          if (!PutAbsent(f, true, out)) return false;
          break;
      }
    }
    return true;
  }

  // A missing or null field: its default, else null if it may be, else an error.
  bool PutAbsent(const Field& f, bool missing, std::string* out) {
    if (f.has_default) {
      out->append(f.default_bytes);
    } else if (f.type->type == Type::kNull) {
      // Nothing to write.
    } else if (f.type->type == Type::kUnion && f.type->null_branch >= 0) {
      PutLong(f.type->null_branch, out);
    } else {
      path.push_back(f.name);
      return Fail(missing ? "missing, and it has no default"
                          : "null, but " + TypeName(*f.type) + " is not nullable and it has no default");
    }
    return true;
  }

  // The schema field a JSON key names (-1: none; -2: a malformed key).
  // Tries `next` first: JSON written from the schema has its order.
  static int FieldIndex(const Node& n, size_t next, od::field& field) {
    // The key's text ends at the first unescaped quote (the parser has
    // checked that every string is closed).
    const char* raw = field.key().raw();
    bool escaped = false;
    size_t len = 0;
    for (; raw[len] != '"'; ++len) {
      if (raw[len] == '\\') {
        escaped = true;
        ++len;
      }
    }
    std::string_view key(raw, len);
    if (escaped && field.unescaped_key().get(key)) return -2;
    if (next < n.fields.size() && n.fields[next].name == key) return static_cast<int>(next);
    for (size_t i = 0; i < n.fields.size(); ++i)
      if (n.fields[i].name == key) return static_cast<int>(i);
    return -1;
  }

  bool Note(std::string_view field) {
    path.push_back(field);
    return false;
  }

  bool Put(const Node& n, od::value& v, std::string* out) {
    od::json_type t;
    auto err = v.type().get(t);
    if (err) return Json(err);
    const bool list = t == od::json_type::array, object = t == od::json_type::object;
    switch (n.type) {
      case Type::kRecord: {
        od::object o;
        if (!object) return Expected(n, v, t);
        if ((err = v.get_object().get(o))) return Json(err);
        return Record(n, o, out);
      }
      case Type::kArray: {
        od::array a;
        if (!list) return Expected(n, v, t);
        if ((err = v.get_array().get(a))) return Json(err);
        const size_t at = out->size();
        uint64_t count = 0;
        for (auto item_result : a) {
          od::value item;
          if ((err = item_result.get(item))) return Json(err);
          if (!Put(*n.items, item, out)) return false;
          ++count;
        }
        PutCount(at, count, out);
        return true;
      }
      case Type::kMap: {
        od::object o;
        if (!object) return Expected(n, v, t);
        if ((err = v.get_object().get(o))) return Json(err);
        const size_t at = out->size();
        uint64_t count = 0;
        for (auto field_result : o) {
          od::field field;
          std::string_view key;
          if ((err = std::move(field_result).get(field)) || (err = field.unescaped_key().get(key)))
            return Json(err);
          PutBytes(key, out);
          if (!Put(*n.items, field.value(), out)) return false;
          ++count;
        }
        PutCount(at, count, out);
        return true;
      }
      case Type::kUnion: {
        if (list || object) {
          for (size_t i = 0; i < n.branches.size(); ++i) {
            const Type b = n.branches[i]->type;
            if (list ? b == Type::kArray : b == Type::kRecord || b == Type::kMap) {
              PutLong(static_cast<int64_t>(i), out);
              return Put(*n.branches[i], v, out);
            }
          }
          return Expected(n, v, t);
        }
        Scalar s;
        if (!Read(v, t, &s)) return false;
        for (size_t i = 0; i < n.branches.size(); ++i) {
          if (Accepts(*n.branches[i], s)) {
            PutLong(static_cast<int64_t>(i), out);
            return PutScalar(*n.branches[i], s, out);
          }
        }
        return Fail("expected " + TypeName(n) + ", got " + Quote(s.raw));
      }
      default: {
        if (list || object) return Expected(n, v, t);
        Scalar s;
        return Read(v, t, &s) && PutScalar(n, s, out);
      }
    }
  }

 private:
  bool defaults_;
  std::deque<Level> levels_;  // by depth; a deque, so a level stays put as deeper ones are added
  size_t depth_ = 0;
  std::string decimal_, scratch_;

  bool Fail(std::string m) {
    message = std::move(m);
    return false;
  }
  bool Json(simdjson::error_code e, std::string_view field = {}) {
    if (!field.empty()) path.push_back(field);
    return Fail(JsonError(e));
  }
  static std::string Quote(std::string_view raw) {
    while (!raw.empty() &&
           (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\t' || raw.back() == '\r'))
      raw.remove_suffix(1);
    return raw.size() > 40 ? std::string(raw.substr(0, 37)) + "..." : std::string(raw);
  }
  bool Expected(const Node& n, od::value& v, od::json_type t) {
    return Fail("expected " + TypeName(n) + ", got " +
                (t == od::json_type::array    ? std::string("a list")
                 : t == od::json_type::object ? "an object"
                                              : Quote(v.raw_json_token())));
  }

  // Writes an array's or map's item count before its items (one block),
  // then the end marker.
  static void PutCount(size_t at, uint64_t count, std::string* out) {
    if (count > 0) {
      std::string n;
      PutLong(static_cast<int64_t>(count), &n);
      out->insert(at, n);
    }
    out->push_back('\0');
  }

  bool Read(od::value& v, od::json_type t, Scalar* s) {
    simdjson::error_code err = simdjson::SUCCESS;
    s->raw = v.raw_json_token();
    switch (t) {
      case od::json_type::null: {
        bool is = false;
        if ((err = v.is_null().get(is)) || !is) return Json(err ? err : simdjson::N_ATOM_ERROR);
        s->is = Scalar::Is::kNull;
        return true;
      }
      case od::json_type::boolean:
        s->is = Scalar::Is::kBool;
        return (err = v.get_bool().get(s->b)) ? Json(err) : true;
      case od::json_type::number: {
        od::number_type nt;
        if ((err = v.get_number_type().get(nt))) return Json(err);
        if (nt == od::number_type::signed_integer) {
          s->is = Scalar::Is::kInt;
          err = v.get_int64().get(s->i);
        } else {
          s->is = nt == od::number_type::unsigned_integer ? Scalar::Is::kBigInt : Scalar::Is::kFloat;
          err = v.get_double().get(s->d);
        }
        return err ? Json(err) : true;
      }
      case od::json_type::string: {
        s->is = Scalar::Is::kString;
        // Without a backslash the text between the quotes is the string
        // (UTF-8 was checked with the whole document): no copy.
        const size_t close = s->raw.rfind('"');
        if (close != std::string_view::npos && close > 0 &&
            std::memchr(s->raw.data(), '\\', close) == nullptr) {
          s->s = s->raw.substr(1, close - 1);
          return true;
        }
        return (err = v.get_string().get(s->s)) ? Json(err) : true;
      }
      default:
        return Fail("expected a scalar");
    }
  }

  // Whether a union's branch `n` takes `s` (the first that does is written).
  bool Accepts(const Node& n, const Scalar& s) const {
    switch (n.type) {
      case Type::kNull:
        return s.is == Scalar::Is::kNull;
      case Type::kBoolean:
        return s.is == Scalar::Is::kBool;
      case Type::kInt:
        return s.is == Scalar::Is::kInt && s.i >= INT32_MIN && s.i <= INT32_MAX;
      case Type::kLong:
        return s.is == Scalar::Is::kInt;
      case Type::kFloat:
      case Type::kDouble:
        return s.IsNumber();
      case Type::kString:
        return s.is == Scalar::Is::kString;
      case Type::kEnum:
        if (s.is != Scalar::Is::kString) return false;
        for (const auto& symbol : n.symbols)
          if (symbol == s.s) return true;
        return false;
      case Type::kBytes:
      case Type::kFixed:
        if (n.logical == Logical::kDecimal && !defaults_) return s.IsNumber() || s.is == Scalar::Is::kString;
        if (s.is != Scalar::Is::kString) return false;
        if (defaults_) {
          const int64_t size = CodePointBytes(s.s, nullptr);
          return size >= 0 && (n.type == Type::kBytes || static_cast<size_t>(size) == n.size);
        } else {
          const int64_t size = Base64DecodedSize(s.s);
          return size >= 0 && (n.type == Type::kBytes || static_cast<size_t>(size) == n.size);
        }
      default:
        return false;
    }
  }

  bool PutScalar(const Node& n, const Scalar& s, std::string* out) {
    auto expected = [&] { return Fail("expected " + TypeName(n) + ", got " + Quote(s.raw)); };
    switch (n.type) {
      case Type::kNull:
        return s.is == Scalar::Is::kNull || expected();
      case Type::kBoolean:
        if (s.is != Scalar::Is::kBool) return expected();
        out->push_back(s.b ? 1 : 0);
        return true;
      case Type::kInt:
        if (s.is != Scalar::Is::kInt) return expected();
        if (s.i < INT32_MIN || s.i > INT32_MAX) return Fail(Quote(s.raw) + " is out of range for an int");
        PutLong(s.i, out);
        return true;
      case Type::kLong: {
        if (s.is != Scalar::Is::kInt) return expected();
        int64_t v = s.i;
        if (n.logical == Logical::kTimestampMicros && !defaults_ &&
            __builtin_mul_overflow(s.i, int64_t{1000}, &v))
          return Fail(Quote(s.raw) + " milliseconds is out of range in microseconds");
        PutLong(v, out);
        return true;
      }
      case Type::kFloat: {
        if (!s.IsNumber()) return expected();
        const float f = static_cast<float>(s.AsDouble());
        out->append(reinterpret_cast<const char*>(&f), 4);
        return true;
      }
      case Type::kDouble: {
        if (!s.IsNumber()) return expected();
        const double d = s.AsDouble();
        out->append(reinterpret_cast<const char*>(&d), 8);
        return true;
      }
      case Type::kString:
        if (s.is != Scalar::Is::kString) return expected();
        PutBytes(s.s, out);
        return true;
      case Type::kEnum:
        if (s.is == Scalar::Is::kString) {
          for (size_t i = 0; i < n.symbols.size(); ++i) {
            if (n.symbols[i] == s.s) {
              PutLong(static_cast<int64_t>(i), out);
              return true;
            }
          }
          return Fail(Quote(s.raw) + " is not a symbol of enum " + n.name);
        }
        return expected();
      case Type::kBytes:
      case Type::kFixed:
        return PutBinary(n, s, out);
      default:
        return expected();
    }
  }

  bool PutBinary(const Node& n, const Scalar& s, std::string* out) {
    const bool fixed = n.type == Type::kFixed;
    if (n.logical == Logical::kDecimal && !defaults_) {
      if (!s.IsNumber() && s.is != Scalar::Is::kString)
        return Fail("expected a decimal number, got " + Quote(s.raw));
      decimal_.clear();
      std::string why;
      if (!EncodeDecimal(s.is == Scalar::Is::kString ? s.s : s.raw, n.precision, n.scale, &decimal_,
                         &scratch_, &why))
        return Fail(why);
      if (!fixed) {
        PutBytes(decimal_, out);
        return true;
      }
      if (decimal_.size() > n.size)
        return Fail(Quote(s.raw) + " does not fit in " + std::to_string(n.size) + " bytes");
      const char sign = static_cast<unsigned char>(decimal_[0]) & 0x80 ? '\xff' : '\0';
      out->append(n.size - decimal_.size(), sign);
      out->append(decimal_);
      return true;
    }
    if (s.is != Scalar::Is::kString)
      return Fail("expected " + TypeName(n) + " as base64, got " + Quote(s.raw));
    const int64_t size = defaults_ ? CodePointBytes(s.s, nullptr) : Base64DecodedSize(s.s);
    if (size < 0) {
      return Fail(defaults_ ? "a bytes default may only hold characters up to \\u00ff"
                            : Quote(s.raw) + " is not base64");
    }
    if (fixed && static_cast<size_t>(size) != n.size) {
      return Fail("fixed " + n.name + " needs " + std::to_string(n.size) + " bytes, got " +
                  std::to_string(size));
    }
    if (!fixed) PutLong(size, out);
    if (defaults_) {
      CodePointBytes(s.s, out);
    } else {
      DecodeBase64(s.s, out);
    }
    return true;
  }
};

class Encoder : public RecordEncoder {
 public:
  explicit Encoder(std::shared_ptr<const AvroSchema> schema) : schema_(std::move(schema)) {}

  bool Encode(std::string_view json, std::string* out, std::string* error) override {
    writer_.Reset();
    od::document doc;
    od::object obj;
    auto err = parser_
                   .iterate(simdjson::padded_string_view(json.data(), json.size(),
                                                         json.size() + simdjson::SIMDJSON_PADDING))
                   .get(doc);
    if (!err) err = doc.get_object().get(obj);
    if (err) {
      *error = JsonError(err);
      return false;
    }
    const size_t start = out->size();
    if (!writer_.Record(schema_->root(), obj, out)) {
      out->resize(start);
      *error = writer_.Error();
      return false;
    }
    // Nothing may follow the object: past its end there is no location left.
    if (!doc.current_location().error()) {
      out->resize(start);
      *error = JsonError(simdjson::TRAILING_CONTENT);
      return false;
    }
    return true;
  }

 private:
  std::shared_ptr<const AvroSchema> schema_;
  od::parser parser_;
  Writer writer_{false};
};

}  // namespace

bool EncodeDefault(const Node& type, std::string_view json, std::string* out, std::string* error) {
  // Wrapped in a list: On-Demand hands out values (what unions and scalars
  // are read from) only inside a document's list or object.
  std::string wrapped = "[" + std::string(json) + "]";
  const size_t size = wrapped.size();
  wrapped.append(simdjson::SIMDJSON_PADDING, '\0');
  od::parser parser;
  od::document doc;
  od::array list;
  auto err = parser.iterate(simdjson::padded_string_view(wrapped.data(), size, wrapped.size())).get(doc);
  if (!err) err = doc.get_array().get(list);
  if (err) {
    *error = JsonError(err);
    return false;
  }
  Writer writer(true);
  for (auto item_result : list) {
    od::value v;
    if ((err = item_result.get(v))) {
      *error = JsonError(err);
      return false;
    }
    if (!writer.Put(type, v, out)) {
      *error = writer.Error();
      return false;
    }
  }
  return true;
}

std::unique_ptr<RecordEncoder> AvroSchema::NewEncoder() const {
  return std::make_unique<Encoder>(shared_from_this());
}

}  // namespace streamrun::format::avro
