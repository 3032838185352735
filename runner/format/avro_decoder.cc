// Avro binary to the engine's record: one datum (no container header, no
// single-object marker) written with the writer schema, resolved to the reader
// schema as the Avro spec's "Schema Resolution" says, and written as the JSON
// text the engine holds, with the projected fields in their slots as the JSON
// decoder would read them back from that text.
//
// The resolution is compiled once per decoder into a tree of plans, one per
// (writer type, reader type, projection node); the per-record walk only reads
// bytes and appends text, into buffers kept from record to record.
//
// DecodeSlots is the same walk without the text (Read<false>): it checks
// every value as Decode does, so that a record it takes always has a text
// later, but only projected values are made, strings pointing into the bytes.
// A projected string must be UTF-8 in both; any other string with bad bytes
// is written with U+FFFD, so the transcoder's Decode (with no projection)
// never refuses what DecodeSlots took.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <map>
#include <tuple>

#include "runner/format/avro_schema.h"
#include "runner/format/avro_values.h"
#include "runner/format/varint.h"
#include "runner/record/json_writer.h"

namespace streamrun::format::avro {

namespace {

// Containers nested deeper are refused: the JSON readers downstream stop at
// 1024 levels, and the walk is recursive.
constexpr int kMaxDepth = 1000;
// Items that take no bytes (null, a record of nulls) could be claimed by the
// billion in a few bytes; a record may hold this many in all.
constexpr int64_t kMaxFreeItems = 1 << 20;

enum class Op : uint8_t {
  kNull,
  kBoolean,
  kInt,      // writer int, an int in the record
  kLong,     // writer int or long (`from`), an int in the record
  kFloat32,  // writer int, long or float, a float as the reader's float holds it
  kFloat64,  // writer int, long, float or double, a float
  kString,   // writer string or bytes
  kBytes,    // writer bytes or string, base64 text
  kFixed,    // writer fixed, base64 text
  kDecimal,  // writer bytes or fixed, a number
  kEnum,
  kRecord,
  kArray,
  kMap,
  kUnion,  // writer union: the branch index, then that branch's plan
  kError,  // schemas that do not resolve: reading such a value fails
};

struct Plan;

struct Step {
  std::string key;             // `"name":` of the reader's field, after a comma unless it is written first
  std::string_view name;       // for messages
  const Plan* plan = nullptr;  // null: a writer-only field, skipped
  const Node* skip = nullptr;
};

struct Default {
  std::string key;
  std::string_view name;
  const Plan* plan = nullptr;  // reader type against itself
  std::string_view bytes;      // the default in Avro binary
};

struct Plan {
  Op op = Op::kError;
  Type from = Type::kNull;  // the writer's type for the numeric ops
  bool micros = false;      // kLong: microseconds on the wire, milliseconds in the record
  bool fixed = false;       // kDecimal: a fixed of `size` bytes, not length-prefixed bytes
  int slot = -1;
  int scale = 0;
  size_t size = 0;
  std::vector<Step> steps;  // kRecord, writer order
  std::vector<Default> defaults;
  const Plan* item = nullptr;                               // kArray, kMap: an item not projected
  size_t item_min_size = 0;                                 // bytes the writer's item takes at least
  std::vector<std::pair<uint64_t, const Plan*>> by_index;   // kArray: projected elements
  std::vector<std::pair<std::string, const Plan*>> by_key;  // kMap: projected entries
  std::vector<const Plan*> branches;                        // kUnion, by writer branch
  std::vector<std::string> symbols;  // kEnum, by writer index: `"SYMBOL"`; empty: not the reader's
  std::vector<std::string> unknown;  // kEnum, by writer index: the writer's symbol, for messages
  std::string error;                 // kError
};

bool IsNamed(Type t) { return t == Type::kRecord || t == Type::kEnum || t == Type::kFixed; }

bool SameName(const Node& w, const Node& r) {
  if (w.name == r.name || ShortName(w.name) == ShortName(r.name)) return true;
  for (const auto& alias : r.aliases)
    if (alias == w.name || ShortName(alias) == ShortName(w.name)) return true;
  return false;
}

// The reader union's branch a writer type resolves to: by the spec, the first
// that matches; an exact match (same type, same name) is preferred to a
// promotion, as the reference implementations do.
int PickBranch(const Node& w, const Node& r) {
  const auto& b = r.branches;
  for (size_t i = 0; i < b.size(); ++i)
    if (b[i]->type == w.type && (!IsNamed(w.type) || SameName(w, *b[i]))) return static_cast<int>(i);
  for (size_t i = 0; i < b.size(); ++i)
    if (b[i]->type == w.type && (w.type != Type::kFixed || w.size == b[i]->size)) return static_cast<int>(i);
  for (size_t i = 0; i < b.size(); ++i) {
    const Type t = b[i]->type;
    const bool promotes =
        (w.type == Type::kInt && (t == Type::kLong || t == Type::kFloat || t == Type::kDouble)) ||
        (w.type == Type::kLong && (t == Type::kFloat || t == Type::kDouble)) ||
        (w.type == Type::kFloat && t == Type::kDouble) || (w.type == Type::kString && t == Type::kBytes) ||
        (w.type == Type::kBytes && t == Type::kString);
    if (promotes) return static_cast<int>(i);
  }
  return -1;
}

// A projection node that asks for nothing is no node.
const ProjectionNode* Useful(const ProjectionNode* p) {
  return p && (p->slot >= 0 || !p->children.empty()) ? p : nullptr;
}

const ProjectionNode* Child(const ProjectionNode* p, std::string_view name) {
  if (!p) return nullptr;
  for (const auto& c : p->children)
    if (c.name == name) return Useful(&c);
  return nullptr;
}

// "12" -> 12; "012", "x" -> false: the JSON decoder matches list steps by
// the index's decimal text.
bool ParseIndex(const std::string& s, uint64_t* v) {
  if (s.empty() || s.size() > 18 || (s.size() > 1 && s[0] == '0')) return false;
  auto r = std::from_chars(s.data(), s.data() + s.size(), *v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

class Compiler {
 public:
  std::vector<std::unique_ptr<Plan>> plans;

  const Plan* Compile(const Node* w, const Node* r, const ProjectionNode* proj) {
    proj = Useful(proj);
    const auto key = std::make_tuple(w, r, proj);
    if (auto it = memo_.find(key); it != memo_.end()) return it->second;
    if (w->type != Type::kUnion && r->type == Type::kUnion) {
      // Transparent: the value is written as the branch writes it.
      const int i = PickBranch(*w, *r);
      const Plan* p =
          i >= 0 ? Compile(w, r->branches[static_cast<size_t>(i)], proj)
                 : Error(proj, "the writer's " + TypeName(*w) + " is none of the reader's " + TypeName(*r));
      memo_[key] = p;
      return p;
    }
    Plan* p = New(proj);
    memo_[key] = p;  // before the children: a recursive type comes back here
    if (w->type == Type::kUnion) {
      p->op = Op::kUnion;
      for (const Node* b : w->branches) p->branches.push_back(Compile(b, r, proj));
      return p;
    }
    auto mismatch = [&] {
      p->op = Op::kError;
      p->error = "the writer's " + TypeName(*w) + " cannot be read as the reader's " + TypeName(*r);
      return p;
    };
    const Type wt = w->type;
    switch (r->type) {
      case Type::kNull:
        if (wt != Type::kNull) return mismatch();
        p->op = Op::kNull;
        return p;
      case Type::kBoolean:
        if (wt != Type::kBoolean) return mismatch();
        p->op = Op::kBoolean;
        return p;
      case Type::kInt:
        if (wt != Type::kInt) return mismatch();
        p->op = Op::kInt;
        return p;
      case Type::kLong: {
        if (wt != Type::kInt && wt != Type::kLong) return mismatch();
        p->op = Op::kLong;
        p->from = wt;
        // A timestamp's units are the writer's when it says, else the reader's.
        const bool timestamp =
            r->logical == Logical::kTimestampMillis || r->logical == Logical::kTimestampMicros;
        const Logical units = w->logical != Logical::kNone ? w->logical : r->logical;
        p->micros = timestamp && units == Logical::kTimestampMicros;
        return p;
      }
      case Type::kFloat:
        if (wt != Type::kInt && wt != Type::kLong && wt != Type::kFloat) return mismatch();
        p->op = Op::kFloat32;
        p->from = wt;
        return p;
      case Type::kDouble:
        if (wt != Type::kInt && wt != Type::kLong && wt != Type::kFloat && wt != Type::kDouble)
          return mismatch();
        p->op = Op::kFloat64;
        p->from = wt;
        return p;
      case Type::kString:
        if (wt != Type::kString && wt != Type::kBytes) return mismatch();
        p->op = Op::kString;
        return p;
      case Type::kBytes:
      case Type::kFixed:
        if (r->logical == Logical::kDecimal) {
          const bool fits =
              wt == Type::kBytes || (wt == Type::kFixed && (r->type == Type::kBytes || w->size == r->size));
          if (!fits) return mismatch();
          p->op = Op::kDecimal;
          p->fixed = wt == Type::kFixed;
          p->size = w->size;
          // The bytes are scaled as the writer says; the record's number has no scale of its own.
          p->scale = w->logical == Logical::kDecimal ? w->scale : r->scale;
          return p;
        }
        if (r->type == Type::kBytes) {
          if (wt != Type::kBytes && wt != Type::kString) return mismatch();
          p->op = Op::kBytes;
          return p;
        }
        if (wt != Type::kFixed || w->size != r->size) return mismatch();
        p->op = Op::kFixed;
        p->size = w->size;
        return p;
      case Type::kEnum:
        if (wt != Type::kEnum) return mismatch();
        p->op = Op::kEnum;
        for (const auto& symbol : w->symbols) {
          int found = -1;
          for (size_t i = 0; i < r->symbols.size(); ++i)
            if (r->symbols[i] == symbol) found = static_cast<int>(i);
          if (found < 0) found = r->enum_default;
          p->symbols.push_back(found < 0 ? "" : "\"" + r->symbols[static_cast<size_t>(found)] + "\"");
          p->unknown.push_back(symbol);
        }
        return p;
      case Type::kArray:
      case Type::kMap:
        if (wt != r->type) return mismatch();
        p->op = wt == Type::kArray ? Op::kArray : Op::kMap;
        p->item = Compile(w->items, r->items, nullptr);
        p->item_min_size = MinSize(*w->items);
        if (proj) {
          for (const auto& c : proj->children) {
            if (!Useful(&c)) continue;
            uint64_t index;
            if (wt == Type::kMap) {
              p->by_key.emplace_back(c.name, Compile(w->items, r->items, &c));
            } else if (ParseIndex(c.name, &index)) {
              p->by_index.emplace_back(index, Compile(w->items, r->items, &c));
            }
          }
        }
        return p;
      case Type::kRecord:
        if (wt != Type::kRecord) return mismatch();
        return CompileRecord(*w, *r, proj, p);
      case Type::kUnion:
        break;  // handled above
    }
    return mismatch();
  }

 private:
  std::map<std::tuple<const Node*, const Node*, const ProjectionNode*>, const Plan*> memo_;
  std::map<const Node*, size_t> min_size_;

  Plan* New(const ProjectionNode* proj) {
    plans.push_back(std::make_unique<Plan>());
    plans.back()->slot = proj ? proj->slot : -1;
    return plans.back().get();
  }

  const Plan* Error(const ProjectionNode* proj, std::string message) {
    Plan* p = New(proj);
    p->op = Op::kError;
    p->error = std::move(message);
    return p;
  }

  Plan* CompileRecord(const Node& w, const Node& r, const ProjectionNode* proj, Plan* p) {
    p->op = Op::kRecord;
    std::vector<bool> matched(r.fields.size(), false);
    int written = 0;
    for (const Field& wf : w.fields) {
      int found = -1;
      for (size_t i = 0; i < r.fields.size() && found < 0; ++i) {
        const Field& rf = r.fields[i];
        if (rf.name == wf.name) found = static_cast<int>(i);
        for (const auto& alias : rf.aliases)
          if (alias == wf.name) found = static_cast<int>(i);
      }
      Step step;
      step.name = wf.name;
      if (found < 0 || matched[static_cast<size_t>(found)]) {
        step.skip = wf.type;
      } else {
        const Field& rf = r.fields[static_cast<size_t>(found)];
        matched[static_cast<size_t>(found)] = true;
        step.key = (written++ ? "," : "") + rf.key;
        step.name = rf.name;
        step.plan = Compile(wf.type, rf.type, Child(proj, rf.name));
      }
      p->steps.push_back(step);
    }
    for (size_t i = 0; i < r.fields.size(); ++i) {
      if (matched[i]) continue;
      const Field& rf = r.fields[i];
      if (!rf.has_default) {
        p->op = Op::kError;
        p->error = "the reader's field '" + rf.name + "' of record " + r.name +
                   " is not in the writer's schema and has no default";
        return p;
      }
      p->defaults.push_back(Default{(written++ ? "," : "") + rf.key, rf.name,
                                    Compile(rf.type, rf.type, Child(proj, rf.name)), rf.default_bytes});
    }
    return p;
  }

  // The fewest bytes a value of `n` takes (0 for a type that recurses into
  // itself without a union: it has no finite values anyway).
  size_t MinSize(const Node& n) {
    if (auto it = min_size_.find(&n); it != min_size_.end()) return it->second;
    min_size_[&n] = 0;
    size_t size = 0;
    switch (n.type) {
      case Type::kNull:
        break;
      case Type::kFloat:
        size = 4;
        break;
      case Type::kDouble:
        size = 8;
        break;
      case Type::kFixed:
        size = n.size;
        break;
      case Type::kRecord:
        for (const Field& f : n.fields) size += MinSize(*f.type);
        break;
      default:  // one byte at least: a varint, a length, a block count, a branch index
        size = 1;
        break;
    }
    min_size_[&n] = size;
    return size;
  }
};

// True if one of the 8 bytes of `w` is not written into a JSON string as it
// is: a control character, '"', '\\', or a byte of a multi-byte character.
inline bool NeedsCare(uint64_t w) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL, kHigh = 0x8080808080808080ULL;
  auto zero_byte = [](uint64_t x) { return (x - kOnes) & ~x & kHigh; };
  return ((w & kHigh) | ((w - kOnes * 0x20) & ~w & kHigh) | zero_byte(w ^ (kOnes * '"')) |
          zero_byte(w ^ (kOnes * '\\'))) != 0;
}

// True if no byte of `s` has its high bit set.
inline bool IsAscii(std::string_view s) {
  uint64_t high = 0;
  size_t i = 0;
  for (uint64_t w; i + 8 <= s.size(); i += 8) {
    std::memcpy(&w, s.data() + i, 8);
    high |= w;
  }
  for (; i < s.size(); ++i) high |= static_cast<unsigned char>(s[i]);
  return (high & 0x8080808080808080ULL) == 0;
}

// The record's text as it is written: RecordBuilder::text() held at its full
// capacity while a record is decoded, so a write is a bounds check and a
// copy rather than a call into std::string.
class TextOut {
 public:
  void Start(std::string* s) {
    s_ = s;
    pos_ = s->size();
    s->resize(std::max<size_t>(s->capacity(), pos_ + 256));
    base_ = s->data();
    cap_ = s->size();
  }
  // Back to a plain string of what was written.
  void End() { s_->resize(pos_); }

  char* Reserve(size_t n) {
    if (cap_ - pos_ < n) Grow(n);
    return base_ + pos_;
  }
  void Advance(size_t n) { pos_ += n; }
  void Put(char c) {
    *Reserve(1) = c;
    ++pos_;
  }
  void Put(std::string_view v) {
    std::memcpy(Reserve(v.size()), v.data(), v.size());
    pos_ += v.size();
  }
  size_t Size() const { return pos_; }
  const char* Data() const { return base_; }

  // For the writers that append to a std::string (escapes, base64, decimals).
  std::string* Borrow() {
    s_->resize(pos_);
    return s_;
  }
  void Return() {
    pos_ = s_->size();
    s_->resize(std::max(s_->capacity(), pos_ + 64));
    base_ = s_->data();
    cap_ = s_->size();
  }

 private:
  std::string* s_ = nullptr;
  char* base_ = nullptr;
  size_t pos_ = 0, cap_ = 0;

  void Grow(size_t n) {
    s_->resize(std::max(2 * cap_, pos_ + n + 256));
    base_ = s_->data();
    cap_ = s_->size();
  }
};

class Decoder : public RecordDecoder {
 public:
  Decoder(std::shared_ptr<const AvroSchema> reader, std::shared_ptr<const AvroSchema> writer_owner,
          const AvroSchema* writer, const ProjectionNode& projection)
      : reader_(std::move(reader)), writer_(std::move(writer_owner)), projection_(projection) {
    Compiler c;
    root_ = c.Compile(&writer->root(), &reader_->root(), &projection_);
    plans_ = std::move(c.plans);
  }

  bool Decode(std::string_view bytes, RecordBuilder& out, std::string* error) override {
    Cursor c = Begin(bytes);
    text_.Start(&out.text());
    const bool ok = Read<true>(*root_, c, out, 0);
    text_.End();
    return Done(ok, c, error);
  }

  // The same walk without the text: values the record does not project are
  // stepped over (still checked as Decode checks them, so that Decode accepts
  // whatever this accepts), projected ones go straight into `row`.
  bool DecodeSlots(std::string_view bytes, Value* row, Arena& arena, std::string* error) override {
    Cursor c = Begin(bytes);
    row_ = row;
    arena_ = &arena;
    from_default_ = false;
    return Done(Read<false>(*root_, c, nested_, 0), c, error);
  }

 private:
  struct Cursor {
    const uint8_t* p;
    const uint8_t* end;
    size_t Left() const { return static_cast<size_t>(end - p); }
  };

  std::shared_ptr<const AvroSchema> reader_;
  std::shared_ptr<const AvroSchema> writer_;  // may be null: the caller keeps it
  ProjectionNode projection_;                 // the plans point into it
  std::vector<std::unique_ptr<Plan>> plans_;
  const Plan* root_ = nullptr;
  // Per record, kept for their capacity:
  TextOut text_;
  std::string message_;                 // what went wrong
  std::vector<std::string_view> path_;  // the fields it is in, innermost first
  std::string scratch_;
  std::string number_;  // DecodeSlots: a decimal's or base64 text
  int64_t free_items_ = 0;
  // DecodeSlots: where the slots go, and a record, list or map read whole
  // (its text and the slots inside it).
  Value* row_ = nullptr;
  Arena* arena_ = nullptr;
  RecordBuilder nested_;
  bool from_default_ = false;  // reading a reader-only field's default: strings are the schema's, copied

  Cursor Begin(std::string_view bytes) {
    free_items_ = kMaxFreeItems;
    path_.clear();
    return Cursor{reinterpret_cast<const uint8_t*>(bytes.data()),
                  reinterpret_cast<const uint8_t*>(bytes.data()) + bytes.size()};
  }

  bool Done(bool ok, const Cursor& c, std::string* error) {
    if (ok && c.p == c.end) [[likely]]
      return true;
    return Refuse(ok, c, error);
  }

  // The reason a record was refused.
  [[gnu::noinline]] bool Refuse(bool ok, const Cursor& c, std::string* error) {
    if (!ok) {
      if (path_.empty()) {
        *error = std::move(message_);
      } else {
        *error = "field ";
        for (size_t i = path_.size(); i-- > 0;) {
          error->append(path_[i]);
          if (i) error->push_back('.');
        }
        *error += ": " + message_;
      }
      return false;
    }
    *error = std::to_string(c.end - c.p) + " bytes after the end of the record";
    return false;
  }

  bool Fail(std::string message) {
    message_ = std::move(message);
    return false;
  }

  [[gnu::always_inline]] bool ReadLong(Cursor& c, int64_t* v) {
    if (c.p < c.end && *c.p < 0x80) [[likely]] {
      *v = UnZigZag(*c.p++);
      return true;
    }
    return ReadLongSlow(c, v);
  }

  bool ReadLongSlow(Cursor& c, int64_t* v) {
    uint64_t u;
    if (!GetVarint(&c.p, c.end, &u))
      return Fail(c.p >= c.end ? "truncated" : "a varint longer than 10 bytes");
    *v = UnZigZag(u);
    return true;
  }

  bool ReadInt(Cursor& c, int64_t* v) {
    if (!ReadLong(c, v)) return false;
    if (*v < INT32_MIN || *v > INT32_MAX) [[unlikely]]
      return Fail("int " + std::to_string(*v) + " out of range");
    return true;
  }

  // A length-prefixed byte string.
  [[gnu::always_inline]] bool ReadBytes(Cursor& c, std::string_view* s) {
    int64_t n;
    if (!ReadLong(c, &n)) return false;
    if (static_cast<uint64_t>(n) > c.Left()) [[unlikely]]
      return BadLength(n, c.Left());
    *s = std::string_view(reinterpret_cast<const char*>(c.p), static_cast<size_t>(n));
    c.p += n;
    return true;
  }

  [[gnu::noinline]] bool BadLength(int64_t n, size_t left) {
    if (n < 0) return Fail("negative length " + std::to_string(n));
    return Fail("length " + std::to_string(n) + " past the end (" + std::to_string(left) + " bytes left)");
  }

  bool ReadFixed(Cursor& c, size_t size, std::string_view* s) {
    if (size > c.Left()) {
      return Fail("fixed of " + std::to_string(size) + " bytes past the end (" + std::to_string(c.Left()) +
                  " bytes left)");
    }
    *s = std::string_view(reinterpret_cast<const char*>(c.p), size);
    c.p += size;
    return true;
  }

  // A value that points nowhere, into its slot (if any).
  template <bool kText>
  void SetScalar(int slot, const Value& v, RecordBuilder& out) {
    if (slot < 0) return;
    if constexpr (kText) {
      out.SetScalar(slot, v);
    } else {
      row_[slot] = v;
    }
  }

  // A string of the record. One in a slot must be UTF-8 (the engine's
  // strings are text); elsewhere, bad bytes are written as U+FFFD, as all
  // JSON here is, so that a record DecodeSlots took always has a text.
  // With the text, the slot points at its text when it needed no escaping,
  // else at the bytes read; without it, at the bytes read.
  template <bool kText>
  bool PutString(std::string_view s, int slot, RecordBuilder& out) {
    if constexpr (!kText) {
      if (slot < 0) return true;
      if (!IsAscii(s) && !IsValidUtf8(s)) return Fail("invalid UTF-8 in a string");
      row_[slot] = Value::String(from_default_ ? arena_->Copy(s) : s);
      return true;
    }
    size_t i = 0;
    for (uint64_t w; i + 8 <= s.size(); i += 8) {
      std::memcpy(&w, s.data() + i, 8);
      if (NeedsCare(w)) break;
    }
    bool escape = false, multibyte = false;
    for (; i < s.size(); ++i) {
      const auto ch = static_cast<unsigned char>(s[i]);
      multibyte |= ch >= 0x80;
      escape |= ch < 0x20 || ch == '"' || ch == '\\';
    }
    if (multibyte && !IsValidUtf8(s)) {
      if (slot >= 0) return Fail("invalid UTF-8 in a string");
      escape = true;  // AppendJsonString replaces the bad bytes
    }
    if (!escape) {
      char* p = text_.Reserve(s.size() + 2);
      *p = '"';
      std::memcpy(p + 1, s.data(), s.size());
      p[s.size() + 1] = '"';
      if (slot >= 0) out.SetRange(slot, Kind::kString, text_.Size() + 1, text_.Size() + 1 + s.size());
      text_.Advance(s.size() + 2);
    } else {
      AppendJsonString(s, text_.Borrow());
      text_.Return();
      if (slot >= 0) out.SetExternal(slot, s);
    }
    return true;
  }

  // Base64 (never escaped).
  template <bool kText>
  void PutBase64(std::string_view s, int slot, RecordBuilder& out) {
    if constexpr (!kText) {
      if (slot < 0) return;
      number_.clear();
      AppendBase64(s, &number_);
      row_[slot] = Value::String(arena_->Copy(number_));
      return;
    }
    text_.Put('"');
    const size_t begin = text_.Size();
    AppendBase64(s, text_.Borrow());
    text_.Return();
    if (slot >= 0) out.SetRange(slot, Kind::kString, begin, text_.Size());
    text_.Put('"');
  }

  template <bool kText>
  void PutInt(int64_t v, int slot, RecordBuilder& out) {
    if constexpr (kText) {
      char* p = text_.Reserve(24);
      text_.Advance(static_cast<size_t>(std::to_chars(p, p + 24, v).ptr - p));
    }
    SetScalar<kText>(slot, Value::Int(v), out);
  }

  // Shortest text that reads back as the same float or double, kept a float
  // ("2.0"); non-finite values are null, as the JSON writer has them.
  template <bool kText, typename F>
  void PutFloat(F v, int slot, RecordBuilder& out) {
    if constexpr (!kText) {
      if (slot < 0) return;
      if (!std::isfinite(v)) {
        row_[slot] = Value::Null();
        return;
      }
      double d = static_cast<double>(v);
      if constexpr (sizeof(F) == sizeof(float)) {
        char buf[40];
        std::from_chars(buf, std::to_chars(buf, buf + sizeof buf, v).ptr, d);  // as the text reads back
      }
      row_[slot] = Value::Float(d);
      return;
    }
    if (!std::isfinite(v)) {
      text_.Put("null");
      if (slot >= 0) out.SetScalar(slot, Value::Null());
      return;
    }
    char* begin = text_.Reserve(40);
    char* end = std::to_chars(begin, begin + 38, v).ptr;
    if (std::memchr(begin, '.', end - begin) == nullptr && std::memchr(begin, 'e', end - begin) == nullptr) {
      *end++ = '.';
      *end++ = '0';
    }
    text_.Advance(static_cast<size_t>(end - begin));
    if (slot < 0) return;
    double d = static_cast<double>(v);
    if constexpr (sizeof(F) == sizeof(float))
      std::from_chars(begin, end, d);  // the text's double, as JSON reads it
    out.SetScalar(slot, Value::Float(d));
  }

  // A decimal's bytes as a number. Without the text it is only written (to
  // a scratch buffer) when it goes in a slot or may be too large.
  template <bool kText>
  bool PutDecimal(std::string_view s, int slot, int scale, RecordBuilder& out) {
    // Beyond 10^308 the text would be a number no JSON reader takes.
    if (s.size() > 128)
      return Fail("decimal of " + std::to_string(s.size()) + " bytes is too large for a number");
    std::string_view number;
    if constexpr (kText) {
      const size_t begin = text_.Size();
      AppendDecimal(s, scale, text_.Borrow(), &scratch_);
      text_.Return();
      number = std::string_view(text_.Data() + begin, text_.Size() - begin);
    } else {
      // Fewer than 128 bytes hold at most 2^1015 in magnitude: 306 digits.
      if (slot < 0 && s.size() < 128) return true;
      number_.clear();
      AppendDecimal(s, scale, &number_, &scratch_);
      number = number_;
    }
    if (number.find('.') - (number[0] == '-' ? 1 : 0) > 308)
      return Fail("decimal " + std::string(number.substr(0, 20)) + "... is too large for a number");
    if (slot >= 0) {
      double d = 0;
      std::from_chars(number.data(), number.data() + number.size(), d);
      SetScalar<kText>(slot, Value::Float(d), out);
    }
    return true;
  }

  template <bool kText>
  bool Read(const Plan& plan, Cursor& c, RecordBuilder& out, int depth) {
    switch (plan.op) {
      case Op::kNull:
        if constexpr (kText) text_.Put("null");
        SetScalar<kText>(plan.slot, Value::Null(), out);
        return true;
      case Op::kBoolean: {
        if (c.p >= c.end) return Fail("truncated");
        const uint8_t b = *c.p++;
        if (b > 1) return Fail("boolean byte " + std::to_string(b) + " is neither 0 nor 1");
        if constexpr (kText) text_.Put(b ? std::string_view("true") : std::string_view("false"));
        SetScalar<kText>(plan.slot, Value::Bool(b), out);
        return true;
      }
      case Op::kInt: {
        int64_t v;
        if (!ReadInt(c, &v)) return false;
        PutInt<kText>(v, plan.slot, out);
        return true;
      }
      case Op::kLong: {
        int64_t v;
        if (plan.from == Type::kInt ? !ReadInt(c, &v) : !ReadLong(c, &v)) return false;
        if (plan.micros) v = v / 1000 - (v % 1000 < 0 ? 1 : 0);  // floor
        PutInt<kText>(v, plan.slot, out);
        return true;
      }
      case Op::kFloat32:
      case Op::kFloat64: {
        double d;
        if (plan.from == Type::kFloat) {
          if (c.Left() < 4) return Fail("truncated");
          float f;
          std::memcpy(&f, c.p, 4);
          c.p += 4;
          d = f;
        } else if (plan.from == Type::kDouble) {
          if (c.Left() < 8) return Fail("truncated");
          std::memcpy(&d, c.p, 8);
          c.p += 8;
        } else {
          int64_t v;
          if (plan.from == Type::kInt ? !ReadInt(c, &v) : !ReadLong(c, &v)) return false;
          d = static_cast<double>(v);
          if (plan.op == Op::kFloat32) {
            PutFloat<kText>(static_cast<float>(v), plan.slot, out);
            return true;
          }
        }
        if (plan.op == Op::kFloat32) {
          PutFloat<kText>(static_cast<float>(d), plan.slot, out);
        } else {
          PutFloat<kText>(d, plan.slot, out);
        }
        return true;
      }
      case Op::kString: {
        std::string_view s;
        return ReadBytes(c, &s) && PutString<kText>(s, plan.slot, out);
      }
      case Op::kBytes:
      case Op::kFixed: {
        std::string_view s;
        if (plan.op == Op::kBytes ? !ReadBytes(c, &s) : !ReadFixed(c, plan.size, &s)) return false;
        PutBase64<kText>(s, plan.slot, out);
        return true;
      }
      case Op::kDecimal: {
        std::string_view s;
        if (plan.fixed ? !ReadFixed(c, plan.size, &s) : !ReadBytes(c, &s)) return false;
        return PutDecimal<kText>(s, plan.slot, plan.scale, out);
      }
      case Op::kEnum: {
        int64_t i;
        if (!ReadInt(c, &i)) return false;
        if (i < 0 || static_cast<size_t>(i) >= plan.symbols.size()) {
          return Fail("enum index " + std::to_string(i) + " out of range (" +
                      std::to_string(plan.symbols.size()) + " symbols)");
        }
        const std::string& symbol = plan.symbols[static_cast<size_t>(i)];
        if (symbol.empty()) {
          return Fail("symbol '" + plan.unknown[static_cast<size_t>(i)] +
                      "' is not in the reader's enum, which has no default");
        }
        if constexpr (kText) {
          text_.Put(symbol);
          if (plan.slot >= 0)
            out.SetRange(plan.slot, Kind::kString, text_.Size() - symbol.size() + 1, text_.Size() - 1);
        } else if (plan.slot >= 0) {
          // A copy: the plan is the decoder's, which the row may outlive.
          row_[plan.slot] =
              Value::String(arena_->Copy(std::string_view(symbol).substr(1, symbol.size() - 2)));
        }
        return true;
      }
      case Op::kUnion: {
        int64_t i;
        if (!ReadLong(c, &i)) return false;
        if (i < 0 || static_cast<size_t>(i) >= plan.branches.size()) [[unlikely]]
          return BadBranch(i, plan.branches.size());
        return Read<kText>(*plan.branches[static_cast<size_t>(i)], c, out, depth);
      }
      case Op::kRecord:
        if constexpr (!kText)
          if (plan.slot >= 0) return Whole(plan, c, depth);
        return ReadRecord<kText>(plan, c, out, depth);
      case Op::kArray:
      case Op::kMap:
        if constexpr (!kText)
          if (plan.slot >= 0) return Whole(plan, c, depth);
        return ReadBlocks<kText>(plan, c, out, depth);
      case Op::kError:
        return Fail(plan.error);
    }
    return Fail("unknown plan");
  }

  // DecodeSlots: one field of a record. The common values (a string, a long,
  // null, a union of those) without a call through Read's switch.
  [[gnu::always_inline]] bool SlotsField(const Plan* p, Cursor& c, int depth) {
    if (p->op == Op::kUnion) {
      int64_t i;
      if (!ReadLong(c, &i)) return false;
      if (i < 0 || static_cast<size_t>(i) >= p->branches.size()) [[unlikely]]
        return BadBranch(i, p->branches.size());
      p = p->branches[static_cast<size_t>(i)];
    }
    switch (p->op) {
      case Op::kNull:
        if (p->slot >= 0) row_[p->slot] = Value::Null();
        return true;
      case Op::kString: {
        std::string_view s;
        return ReadBytes(c, &s) && PutString<false>(s, p->slot, nested_);
      }
      case Op::kLong:
        if (p->from == Type::kLong && !p->micros) {
          int64_t v;
          if (!ReadLong(c, &v)) return false;
          if (p->slot >= 0) row_[p->slot] = Value::Int(v);
          return true;
        }
        break;
      default:
        break;
    }
    return Read<false>(*p, c, nested_, depth);
  }

  [[gnu::noinline]] bool BadBranch(int64_t i, size_t branches) {
    return Fail("union branch " + std::to_string(i) + " out of range (" + std::to_string(branches) +
                " branches)");
  }

  // DecodeSlots: a record, list or map that goes in a slot whole, with its
  // text (written into the arena) and the slots inside it, as Decode has them.
  bool Whole(const Plan& plan, Cursor& c, int depth) {
    nested_.Reset();
    text_.Start(&nested_.text());
    const bool ok = Read<true>(plan, c, nested_, depth);
    text_.End();
    if (ok) nested_.Finish(row_, *arena_);
    return ok;
  }

  template <bool kText>
  bool ReadRecord(const Plan& plan, Cursor& c, RecordBuilder& out, int depth) {
    if (++depth > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    size_t begin = 0;
    if constexpr (kText) {
      begin = text_.Size();
      text_.Put('{');
    }
    for (const Step& step : plan.steps) {
      if (!step.plan) {
        if (!Skip(*step.skip, c, depth)) return Note(step.name);
        continue;
      }
      if constexpr (kText) {
        text_.Put(step.key);
        if (!Read<true>(*step.plan, c, out, depth)) return Note(step.name);
      } else {
        if (!SlotsField(step.plan, c, depth)) return Note(step.name);
      }
    }
    if (!plan.defaults.empty()) {
      const bool was = from_default_;
      from_default_ = true;
      for (const Default& d : plan.defaults) {
        if constexpr (kText) text_.Put(d.key);
        Cursor dc{reinterpret_cast<const uint8_t*>(d.bytes.data()),
                  reinterpret_cast<const uint8_t*>(d.bytes.data()) + d.bytes.size()};
        if (!Read<kText>(*d.plan, dc, out, depth)) return Note(d.name);
      }
      from_default_ = was;
    }
    if constexpr (kText) {
      text_.Put('}');
      if (plan.slot >= 0) out.SetRange(plan.slot, Kind::kObject, begin, text_.Size());
    }
    return true;
  }

  bool Note(std::string_view field) {
    path_.push_back(field);
    return false;
  }

  // One block's item count (and, when negative, its byte size, not needed).
  bool ReadCount(Cursor& c, size_t min_size, int64_t* count) {
    if (!ReadLong(c, count)) return false;
    if (*count < 0) {
      if (*count == INT64_MIN) return Fail("block count out of range");
      *count = -*count;
      int64_t size;
      if (!ReadLong(c, &size)) return false;
      if (size < 0) return Fail("negative block size " + std::to_string(size));
    }
    if (min_size > 0 ? static_cast<uint64_t>(*count) > c.Left() / min_size : *count > free_items_)
      return Fail("a block of " + std::to_string(*count) + " items is longer than the record");
    if (min_size == 0) free_items_ -= *count;
    return true;
  }

  template <bool kText>
  bool ReadBlocks(const Plan& plan, Cursor& c, RecordBuilder& out, int depth) {
    if (++depth > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
    const bool map = plan.op == Op::kMap;
    size_t begin = 0;
    if constexpr (kText) {
      begin = text_.Size();
      text_.Put(map ? '{' : '[');
    }
    uint64_t index = 0;
    // A map key is a string: one byte at least.
    const size_t min_size = plan.item_min_size + (map ? 1 : 0);
    while (true) {
      int64_t count;
      if (!ReadCount(c, min_size, &count)) return false;
      if (count == 0) break;
      for (int64_t k = 0; k < count; ++k, ++index) {
        if constexpr (kText)
          if (index > 0) text_.Put(',');
        const Plan* item = plan.item;
        if (map) {
          std::string_view key;
          if (!ReadBytes(c, &key)) return false;
          if constexpr (kText) {
            PutString<true>(key, -1, out);  // never fails: a key is in no slot
            text_.Put(':');
          }
          for (const auto& [name, p] : plan.by_key)
            if (name == key) item = p;
        } else {
          for (const auto& [i, p] : plan.by_index)
            if (i == index) item = p;
        }
        if (!Read<kText>(*item, c, out, depth)) return false;
      }
    }
    if constexpr (kText) {
      text_.Put(map ? '}' : ']');
      if (plan.slot >= 0) out.SetRange(plan.slot, map ? Kind::kObject : Kind::kList, begin, text_.Size());
    }
    return true;
  }

  // Steps over a value of writer type `w` (a field the reader does not have).
  bool Skip(const Node& w, Cursor& c, int depth) {
    int64_t v;
    std::string_view s;
    switch (w.type) {
      case Type::kNull:
        return true;
      case Type::kBoolean:
        if (c.p >= c.end) return Fail("truncated");
        ++c.p;
        return true;
      case Type::kInt:
      case Type::kLong:
      case Type::kEnum:
        return ReadLong(c, &v);
      case Type::kFloat:
        return ReadFixed(c, 4, &s);
      case Type::kDouble:
        return ReadFixed(c, 8, &s);
      case Type::kFixed:
        return ReadFixed(c, w.size, &s);
      case Type::kBytes:
      case Type::kString:
        return ReadBytes(c, &s);
      case Type::kUnion:
        if (!ReadLong(c, &v)) return false;
        if (v < 0 || static_cast<size_t>(v) >= w.branches.size()) {
          return Fail("union branch " + std::to_string(v) + " out of range (" +
                      std::to_string(w.branches.size()) + " branches)");
        }
        return Skip(*w.branches[static_cast<size_t>(v)], c, depth);
      case Type::kRecord:
        if (++depth > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
        for (const Field& f : w.fields)
          if (!Skip(*f.type, c, depth)) return false;
        return true;
      case Type::kArray:
      case Type::kMap: {
        if (++depth > kMaxDepth) return Fail("nested deeper than " + std::to_string(kMaxDepth) + " levels");
        const bool map = w.type == Type::kMap;
        while (true) {
          if (!ReadLong(c, &v)) return false;
          if (v == 0) return true;
          if (v < 0) {
            // A block that gives its size is stepped over whole.
            int64_t size;
            if (v == INT64_MIN || !ReadLong(c, &size))
              return v == INT64_MIN ? Fail("block count out of range") : false;
            if (size < 0) return Fail("negative block size " + std::to_string(size));
            if (static_cast<uint64_t>(size) > c.Left()) return Fail("block past the end");
            c.p += size;
            continue;
          }
          for (int64_t k = 0; k < v; ++k) {
            const uint8_t* before = c.p;
            if ((map && !ReadBytes(c, &s)) || !Skip(*w.items, c, depth)) return false;
            if (c.p == before && --free_items_ < 0)
              return Fail("a block of " + std::to_string(v) + " items is longer than the record");
          }
        }
      }
    }
    return Fail("unknown type");
  }
};

// Every Decode fails with the same reason (a writer schema of another format).
class Refusing : public RecordDecoder {
 public:
  explicit Refusing(std::string why) : why_(std::move(why)) {}
  bool Decode(std::string_view, RecordBuilder&, std::string* error) override {
    *error = why_;
    return false;
  }

 private:
  std::string why_;
};

}  // namespace

std::unique_ptr<RecordDecoder> AvroSchema::NewDecoder(const ProjectionNode& projection,
                                                      const Schema* writer) const {
  const AvroSchema* w = this;
  if (writer && writer != this) {
    w = dynamic_cast<const AvroSchema*>(writer);
    if (!w) {
      return std::make_unique<Refusing>("the writer's schema is " +
                                        std::string(FormatName(writer->format())) + ", not avro");
    }
    if (w->RegistryText() == canonical_) w = this;
  }
  return std::make_unique<Decoder>(shared_from_this(), w == this ? nullptr : w->weak_from_this().lock(), w,
                                   projection);
}

}  // namespace streamrun::format::avro
