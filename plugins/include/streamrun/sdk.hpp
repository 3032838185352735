// streamrun plugin SDK: a header-only C++17 layer over the C ABI (plugin.h),
// so that an operator plugin reads like a built-in operator:
//
//   class Count : public streamrun::sdk::Operator {
//    public:
//     Count(const sdk::Json& config, sdk::Context& ctx) : field_(ctx.DeclareField(config["field"].Str())) {}
//     void Open(sdk::Context& ctx) override { seen_ = ctx.DeclareValue<int64_t>("seen"); }
//     void ProcessRecord(sdk::Record& r, sdk::Context& ctx) override {
//       seen_.Put(seen_.Get().value_or(0) + 1);
//     }
//    private:
//     sdk::FieldRef field_;
//     sdk::ValueState<int64_t> seen_;
//   };
//   static const sr_operator kCount =
//       sdk::MakeOperator<Count, SR_OP_KEYED>("count_it", "1.0.0", "Counts records per key", kSchema);
//   STREAMRUN_PLUGIN("counting", "1.0.0", &kCount)
//
// What the SDK does at the boundary: every callback catches every exception.
// An exception out of ProcessRecord fails that record (the pipeline's error
// policy applies); out of any other callback it ends the run with its
// message. A host call that fails throws sdk::HostError, whose message the
// host already holds; it ends the run even from ProcessRecord (it is the
// plugin's mistake, not the record's). Nothing else crosses: no C++ type, no
// allocator.
#ifndef STREAMRUN_SDK_HPP
#define STREAMRUN_SDK_HPP

#include <streamrun/plugin.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace streamrun::sdk {

// A host call failed; the host has the message (it becomes the run's error
// if the callback lets this escape).
class HostError : public std::runtime_error {
 public:
  HostError(const char* call, sr_status status)
      : std::runtime_error(std::string("host call ") + call + " failed with status " + std::to_string(status)),
        status_(status) {}
  sr_status status() const { return status_; }

 private:
  sr_status status_;
};

// ---- JSON: the configuration create() gets -------------------------------------
// A small reader for the configuration (validated by streamrun against the
// operator's schema before the plugin sees it): objects, arrays, strings,
// numbers, booleans, null.
class Json {
 public:
  enum class Type { kNull, kBool, kInt, kFloat, kString, kArray, kObject };

  static Json Parse(std::string_view text) {
    size_t pos = 0;
    Json j = ParseValue(text, pos, 0);
    SkipSpace(text, pos);
    if (pos != text.size()) throw std::runtime_error("configuration: trailing characters in JSON");
    return j;
  }

  Type type() const { return type_; }
  bool IsNull() const { return type_ == Type::kNull; }
  bool IsObject() const { return type_ == Type::kObject; }
  bool IsArray() const { return type_ == Type::kArray; }
  bool Has(std::string_view key) const { return Find(key) != nullptr; }

  // A member, or null if absent (chains: config["a"]["b"]).
  const Json& operator[](std::string_view key) const {
    const Json* j = Find(key);
    return j ? *j : Null();
  }
  const Json& operator[](size_t i) const { return i < items_.size() ? items_[i].second : Null(); }
  size_t Size() const { return items_.size(); }
  // Object members in the order written (arrays: keys empty).
  const std::vector<std::pair<std::string, Json>>& Items() const { return items_; }

  int64_t Int(int64_t fallback = 0) const {
    if (type_ == Type::kInt) return i_;
    if (type_ == Type::kFloat) return static_cast<int64_t>(f_);
    return fallback;
  }
  double Number(double fallback = 0) const {
    return type_ == Type::kInt ? static_cast<double>(i_) : type_ == Type::kFloat ? f_ : fallback;
  }
  bool Bool(bool fallback = false) const { return type_ == Type::kBool ? b_ : fallback; }
  const std::string& Str() const { return s_; }  // empty unless a string
  std::string Str(const std::string& fallback) const { return type_ == Type::kString ? s_ : fallback; }

 private:
  static const Json& Null() {
    static const Json null;
    return null;
  }
  const Json* Find(std::string_view key) const {
    if (type_ != Type::kObject) return nullptr;
    for (const auto& [k, v] : items_)
      if (k == key) return &v;
    return nullptr;
  }
  static void SkipSpace(std::string_view t, size_t& p) {
    while (p < t.size() && (t[p] == ' ' || t[p] == '\n' || t[p] == '\t' || t[p] == '\r')) ++p;
  }
  static void Expect(std::string_view t, size_t& p, char c) {
    SkipSpace(t, p);
    if (p >= t.size() || t[p] != c) throw std::runtime_error(std::string("configuration: expected '") + c + "'");
    ++p;
  }
  static void AppendUtf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }
  static uint32_t Hex4(std::string_view t, size_t& p) {
    if (p + 4 > t.size()) throw std::runtime_error("configuration: bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = t[p++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else throw std::runtime_error("configuration: bad \\u escape");
    }
    return v;
  }
  static std::string ParseString(std::string_view t, size_t& p) {
    Expect(t, p, '"');
    std::string out;
    while (p < t.size() && t[p] != '"') {
      char c = t[p++];
      if (c != '\\') {
        out += c;
        continue;
      }
      if (p >= t.size()) break;
      c = t[p++];
      switch (c) {
        case 'n': out += '\n'; break;
        case 't': out += '\t'; break;
        case 'r': out += '\r'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'u': {
          uint32_t cp = Hex4(t, p);
          if (cp >= 0xD800 && cp < 0xDC00 && p + 6 <= t.size() && t[p] == '\\' && t[p + 1] == 'u') {
            p += 2;
            const uint32_t low = Hex4(t, p);
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default: out += c;
      }
    }
    if (p >= t.size()) throw std::runtime_error("configuration: unterminated string");
    ++p;
    return out;
  }
  static Json ParseValue(std::string_view t, size_t& p, int depth) {
    if (depth > 64) throw std::runtime_error("configuration: nested too deep");
    SkipSpace(t, p);
    if (p >= t.size()) throw std::runtime_error("configuration: unexpected end of JSON");
    Json j;
    const char c = t[p];
    if (c == '{') {
      ++p;
      j.type_ = Type::kObject;
      SkipSpace(t, p);
      if (p < t.size() && t[p] == '}') {
        ++p;
        return j;
      }
      for (;;) {
        std::string key = ParseString(t, p);
        Expect(t, p, ':');
        j.items_.emplace_back(std::move(key), ParseValue(t, p, depth + 1));
        SkipSpace(t, p);
        if (p < t.size() && t[p] == ',') {
          ++p;
          continue;
        }
        Expect(t, p, '}');
        return j;
      }
    }
    if (c == '[') {
      ++p;
      j.type_ = Type::kArray;
      SkipSpace(t, p);
      if (p < t.size() && t[p] == ']') {
        ++p;
        return j;
      }
      for (;;) {
        j.items_.emplace_back(std::string(), ParseValue(t, p, depth + 1));
        SkipSpace(t, p);
        if (p < t.size() && t[p] == ',') {
          ++p;
          continue;
        }
        Expect(t, p, ']');
        return j;
      }
    }
    if (c == '"') {
      j.type_ = Type::kString;
      j.s_ = ParseString(t, p);
      return j;
    }
    if (t.substr(p, 4) == "true" || t.substr(p, 5) == "false") {
      j.type_ = Type::kBool;
      j.b_ = t[p] == 't';
      p += j.b_ ? 4 : 5;
      return j;
    }
    if (t.substr(p, 4) == "null") {
      p += 4;
      return j;
    }
    const size_t start = p;
    bool is_float = false;
    while (p < t.size() && (std::strchr("+-0123456789.eE", t[p]) != nullptr)) {
      is_float |= t[p] == '.' || t[p] == 'e' || t[p] == 'E';
      ++p;
    }
    if (start == p) throw std::runtime_error("configuration: bad JSON value");
    const std::string number(t.substr(start, p - start));
    if (is_float) {
      j.type_ = Type::kFloat;
      j.f_ = std::strtod(number.c_str(), nullptr);
    } else {
      j.type_ = Type::kInt;
      j.i_ = std::strtoll(number.c_str(), nullptr, 10);
    }
    return j;
  }

  Type type_ = Type::kNull;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::vector<std::pair<std::string, Json>> items_;
};

// ---- values -----------------------------------------------------------------------
// A field's value, borrowed from the host until the next host call.
class Value {
 public:
  Value() : v_{} {}
  explicit Value(const sr_value& v) : v_(v) {}
  static Value Null() { return Value(); }
  static Value Int(int64_t i) {
    sr_value v{};
    v.kind = SR_INT;
    v.i = i;
    return Value(v);
  }
  static Value Float(double f) {
    sr_value v{};
    v.kind = SR_FLOAT;
    v.f = f;
    return Value(v);
  }
  static Value Bool(bool b) {
    sr_value v{};
    v.kind = SR_BOOL;
    v.i = b ? 1 : 0;
    return Value(v);
  }
  // `s` must outlive the use of the value (a builder copies it when set).
  static Value String(std::string_view s) { return Text(SR_STRING, s); }
  static Value ListJson(std::string_view json) { return Text(SR_LIST, json); }
  static Value ObjectJson(std::string_view json) { return Text(SR_OBJECT, json); }

  sr_kind kind() const { return v_.kind; }
  bool IsNull() const { return v_.kind == SR_NULL; }
  bool IsNumber() const { return v_.kind == SR_INT || v_.kind == SR_FLOAT; }
  bool IsString() const { return v_.kind == SR_STRING; }
  int64_t Int() const { return v_.kind == SR_FLOAT ? static_cast<int64_t>(v_.f) : v_.i; }
  double AsDouble() const { return v_.kind == SR_FLOAT ? v_.f : static_cast<double>(v_.i); }
  bool Bool() const { return v_.i != 0; }
  // Strings: the text; lists and objects: their JSON text.
  std::string_view Str() const { return v_.str ? std::string_view(v_.str, v_.len) : std::string_view(); }
  const sr_value& raw() const { return v_; }

 private:
  static Value Text(sr_kind kind, std::string_view s) {
    sr_value v{};
    v.kind = kind;
    v.str = s.data();
    v.len = s.size();
    return Value(v);
  }
  sr_value v_;
};

// ---- state codecs -------------------------------------------------------------------
// How a state's values become bytes: trivially copyable types by their bytes,
// strings as they are, other types by their own members:
//   void Encode(std::string& out) const;  static T Decode(std::string_view bytes);
template <typename T, typename = void>
struct Codec {
  static void Encode(const T& v, std::string& out) { v.Encode(out); }
  static T Decode(std::string_view b) { return T::Decode(b); }
};
template <typename T>
struct Codec<T, std::enable_if_t<std::is_trivially_copyable_v<T>>> {
  static void Encode(const T& v, std::string& out) {
    out.assign(reinterpret_cast<const char*>(&v), sizeof(T));
  }
  static T Decode(std::string_view b) {
    T v{};
    if (b.size() != sizeof(T)) throw std::runtime_error("state value of an unexpected size");
    std::memcpy(&v, b.data(), sizeof(T));
    return v;
  }
};
template <>
struct Codec<std::string> {
  static void Encode(const std::string& v, std::string& out) { out = v; }
  static std::string Decode(std::string_view b) { return std::string(b); }
};

class Context;
template <typename T>
class ValueState;
template <typename K, typename V>
class MapState;
template <typename T>
class ListState;

namespace detail {
inline void Check(sr_status s, const char* call) {
  if (s != SR_OK) throw HostError(call, s);
}
}  // namespace detail

// A declared field's reference.
struct FieldRef {
  int32_t ref = -1;
};

// An HTTP request the host runs (Context::HttpRequest).
struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  int64_t timeout_ms = 5000;
};

// A completed asynchronous call, as OnAsyncComplete gets it.
struct AsyncResult {
  uint64_t id = 0;
  sr_status status = SR_OK;  // for an HTTP request: SR_OK if an answer came
  int64_t code = 0;          // for an HTTP request: its status, e.g. 200
  std::string_view data;     // for an HTTP request: the body, or why it failed
  bool ok() const { return status == SR_OK; }
};

// A timer as it fires.
struct Timer {
  sr_time_domain domain = SR_EVENT_TIME;
  int64_t time = 0;
  int64_t tag = 0;
};

// ---- the host, as an instance sees it ------------------------------------------------
class Context {
 public:
  Context(const sr_host* host, sr_ctx* ctx) : h_(host), c_(ctx) {}
  const sr_host* host() const { return h_; }
  sr_ctx* ctx() const { return c_; }

  // Declarations (constructor or Open).
  FieldRef DeclareField(std::string_view path) {
    FieldRef f;
    detail::Check(h_->declare_field(c_, path.data(), path.size(), &f.ref), "declare_field");
    return f;
  }
  // Keyed state, scoped to the current key (SR_OP_KEYED operators).
  template <typename T>
  sdk::ValueState<T> DeclareValue(std::string_view name);
  template <typename K, typename V>
  sdk::MapState<K, V> DeclareMap(std::string_view name);
  template <typename T>
  sdk::ListState<T> DeclareList(std::string_view name);

  // Time.
  int64_t Watermark() const {
    int64_t w = 0;
    detail::Check(h_->watermark(c_, &w), "watermark");
    return w;
  }
  int64_t ProcessingTime() const {
    int64_t t = 0;
    detail::Check(h_->processing_time(c_, &t), "processing_time");
    return t;
  }

  // The current key.
  std::string_view Key() const {
    sr_bytes b{};
    detail::Check(h_->current_key(c_, &b), "current_key");
    return {b.data, b.len};
  }

  // Timers of the current key.
  void RegisterEventTimer(int64_t time, int64_t tag = 0) {
    detail::Check(h_->timer_register(c_, SR_EVENT_TIME, time, tag), "timer_register");
  }
  bool DeleteEventTimer(int64_t time, int64_t tag = 0) { return Delete(SR_EVENT_TIME, time, tag); }
  void RegisterProcessingTimer(int64_t time, int64_t tag = 0) {
    detail::Check(h_->timer_register(c_, SR_PROCESSING_TIME, time, tag), "timer_register");
  }
  bool DeleteProcessingTimer(int64_t time, int64_t tag = 0) { return Delete(SR_PROCESSING_TIME, time, tag); }

  // Output.
  // False if the text is not a JSON object: it then went through the error
  // policy as a failed record.
  bool EmitJson(std::string_view json, int64_t event_time) {
    const sr_status s = h_->emit_json(c_, json.data(), json.size(), event_time);
    if (s == SR_INVALID) return false;
    detail::Check(s, "emit_json");
    return true;
  }
  class Builder;
  Builder Build();                 // an empty record
  Builder BuildFrom(uint32_t row);  // starting from an input record's fields

  // Asynchronous calls (operators flagged SR_OP_ASYNC): hold input row `row`
  // until CompleteAsync(id, ...) (from any thread) or, for HttpRequest, the
  // host's answer; then OnAsyncComplete gets the record back.
  uint64_t AsyncBegin(uint32_t row) {
    uint64_t id = 0;
    detail::Check(h_->async_begin(c_, row, &id), "async_begin");
    return id;
  }
  // The one call that may come from any thread.
  void CompleteAsync(uint64_t id, sr_status status, int64_t code, std::string_view data) const {
    detail::Check(h_->async_complete(c_, id, status, code, data.data(), data.size()), "async_complete");
  }
  uint64_t HttpRequest(uint32_t row, const sdk::HttpRequest& r) {
    std::vector<const char*> headers;
    for (const auto& h : r.headers) headers.push_back(h.c_str());
    sr_http_request req{};
    req.size = sizeof req;
    req.header_count = static_cast<uint32_t>(headers.size());
    req.method = r.method.c_str();
    req.url = r.url.c_str();
    req.headers = headers.data();
    req.body = r.body.empty() ? nullptr : r.body.data();
    req.body_len = r.body.size();
    req.timeout_ms = r.timeout_ms;
    uint64_t id = 0;
    detail::Check(h_->http_request(c_, row, &req, &id), "http_request");
    return id;
  }

  void Log(int32_t level, std::string_view message) { h_->log(c_, level, message.data(), message.size()); }
  void Count(std::string_view name, uint64_t delta = 1) { h_->counter_add(c_, name.data(), name.size(), delta); }
  void Gauge(std::string_view name, double value) { h_->gauge_set(c_, name.data(), name.size(), value); }

 private:
  bool Delete(sr_time_domain d, int64_t time, int64_t tag) {
    const sr_status s = h_->timer_delete(c_, d, time, tag);
    if (s == SR_NOT_FOUND) return false;
    detail::Check(s, "timer_delete");
    return true;
  }
  const sr_host* h_;
  sr_ctx* c_;
};

// A value per key (of the key current when it is used).
template <typename T>
class ValueState {
 public:
  ValueState() = default;
  ValueState(Context* ctx, int32_t id) : ctx_(ctx), id_(id) {}
  std::optional<T> Get() const {
    sr_bytes b{};
    const sr_status s = ctx_->host()->value_get(ctx_->ctx(), id_, &b);
    if (s == SR_NOT_FOUND) return std::nullopt;
    detail::Check(s, "value_get");
    return Codec<T>::Decode(std::string_view(b.data, b.len));
  }
  void Put(const T& v) {
    Codec<T>::Encode(v, scratch_);
    detail::Check(ctx_->host()->value_put(ctx_->ctx(), id_, scratch_.data(), scratch_.size()), "value_put");
  }
  void Clear() { detail::Check(ctx_->host()->state_clear(ctx_->ctx(), id_), "state_clear"); }

 private:
  Context* ctx_ = nullptr;
  int32_t id_ = -1;
  std::string scratch_;
};

// Entries per key, in key order (by the keys' encoded bytes).
template <typename K, typename V>
class MapState {
 public:
  MapState() = default;
  MapState(Context* ctx, int32_t id) : ctx_(ctx), id_(id) {}
  std::optional<V> Get(const K& key) const {
    Codec<K>::Encode(key, k_);
    sr_bytes b{};
    const sr_status s = ctx_->host()->map_get(ctx_->ctx(), id_, k_.data(), k_.size(), &b);
    if (s == SR_NOT_FOUND) return std::nullopt;
    detail::Check(s, "map_get");
    return Codec<V>::Decode(std::string_view(b.data, b.len));
  }
  void Put(const K& key, const V& value) {
    Codec<K>::Encode(key, k_);
    Codec<V>::Encode(value, v_);
    detail::Check(ctx_->host()->map_put(ctx_->ctx(), id_, k_.data(), k_.size(), v_.data(), v_.size()), "map_put");
  }
  bool Remove(const K& key) {
    Codec<K>::Encode(key, k_);
    const sr_status s = ctx_->host()->map_remove(ctx_->ctx(), id_, k_.data(), k_.size());
    if (s == SR_NOT_FOUND) return false;
    detail::Check(s, "map_remove");
    return true;
  }
  uint32_t Size() const {
    uint32_t n = 0;
    detail::Check(ctx_->host()->map_size(ctx_->ctx(), id_, &n), "map_size");
    return n;
  }
  std::pair<K, V> Entry(uint32_t i) const {
    sr_bytes k{}, v{};
    detail::Check(ctx_->host()->map_entry(ctx_->ctx(), id_, i, &k, &v), "map_entry");
    return {Codec<K>::Decode(std::string_view(k.data, k.len)), Codec<V>::Decode(std::string_view(v.data, v.len))};
  }
  void Clear() { detail::Check(ctx_->host()->state_clear(ctx_->ctx(), id_), "state_clear"); }

 private:
  Context* ctx_ = nullptr;
  int32_t id_ = -1;
  mutable std::string k_, v_;
};

// Values per key in the order appended.
template <typename T>
class ListState {
 public:
  ListState() = default;
  ListState(Context* ctx, int32_t id) : ctx_(ctx), id_(id) {}
  void Append(const T& v) {
    Codec<T>::Encode(v, scratch_);
    detail::Check(ctx_->host()->list_append(ctx_->ctx(), id_, scratch_.data(), scratch_.size()), "list_append");
  }
  uint32_t Size() const {
    uint32_t n = 0;
    detail::Check(ctx_->host()->list_size(ctx_->ctx(), id_, &n), "list_size");
    return n;
  }
  T At(uint32_t i) const {
    sr_bytes b{};
    detail::Check(ctx_->host()->list_get(ctx_->ctx(), id_, i, &b), "list_get");
    return Codec<T>::Decode(std::string_view(b.data, b.len));
  }
  void Clear() { detail::Check(ctx_->host()->state_clear(ctx_->ctx(), id_), "state_clear"); }

 private:
  Context* ctx_ = nullptr;
  int32_t id_ = -1;
  std::string scratch_;
};

template <typename T>
ValueState<T> Context::DeclareValue(std::string_view name) {
  int32_t id = -1;
  detail::Check(h_->declare_state(c_, name.data(), name.size(), SR_STATE_VALUE, &id), "declare_state");
  return sdk::ValueState<T>(this, id);
}
template <typename K, typename V>
MapState<K, V> Context::DeclareMap(std::string_view name) {
  int32_t id = -1;
  detail::Check(h_->declare_state(c_, name.data(), name.size(), SR_STATE_MAP, &id), "declare_state");
  return sdk::MapState<K, V>(this, id);
}
template <typename T>
ListState<T> Context::DeclareList(std::string_view name) {
  int32_t id = -1;
  detail::Check(h_->declare_state(c_, name.data(), name.size(), SR_STATE_LIST, &id), "declare_state");
  return sdk::ListState<T>(this, id);
}

// A record under construction: Set fields, then Emit.
class Context::Builder {
 public:
  Builder(const sr_host* h, sr_ctx* c, int64_t from_row) : h_(h), c_(c) {
    detail::Check(h_->builder_begin(c_, from_row), "builder_begin");
  }
  Builder& Set(std::string_view name, const Value& v) {
    detail::Check(h_->builder_set(c_, name.data(), name.size(), &v.raw()), "builder_set");
    return *this;
  }
  Builder& Set(std::string_view name, int64_t v) { return Set(name, Value::Int(v)); }
  Builder& Set(std::string_view name, int v) { return Set(name, Value::Int(v)); }
  Builder& Set(std::string_view name, double v) { return Set(name, Value::Float(v)); }
  Builder& Set(std::string_view name, bool v) { return Set(name, Value::Bool(v)); }
  Builder& Set(std::string_view name, std::string_view v) { return Set(name, Value::String(v)); }
  Builder& Set(std::string_view name, const char* v) { return Set(name, Value::String(v)); }
  // The current key's fields, under their key_by names.
  Builder& SetKeyFields() {
    detail::Check(h_->builder_set_key_fields(c_), "builder_set_key_fields");
    return *this;
  }
  // SR_NO_TIME with BuildFrom: the input record's event time.
  // False if a list or object value set was not valid JSON (as EmitJson).
  bool Emit(int64_t event_time = SR_NO_TIME) {
    const sr_status s = h_->builder_emit(c_, event_time);
    if (s == SR_INVALID) return false;
    detail::Check(s, "builder_emit");
    return true;
  }

 private:
  const sr_host* h_;
  sr_ctx* c_;
};

inline Context::Builder Context::Build() { return Builder(h_, c_, -1); }
inline Context::Builder Context::BuildFrom(uint32_t row) { return Builder(h_, c_, row); }

// One input record of the batch being processed.
class Record {
 public:
  Record(Context& ctx, uint32_t row) : ctx_(&ctx), row_(row) {}
  uint32_t row() const { return row_; }
  Value operator[](FieldRef f) const {
    sr_value v{};
    detail::Check(ctx_->host()->field(ctx_->ctx(), row_, f.ref, &v), "field");
    return Value(v);
  }
  Value Get(std::string_view path) const {
    sr_value v{};
    detail::Check(ctx_->host()->field_by_name(ctx_->ctx(), row_, path.data(), path.size(), &v), "field_by_name");
    return Value(v);
  }
  sr_record_meta Meta() const {
    sr_record_meta m{};
    detail::Check(ctx_->host()->record_meta(ctx_->ctx(), row_, &m), "record_meta");
    return m;
  }
  int64_t EventTime() const { return Meta().event_time; }
  std::string_view Json() const {
    sr_bytes b{};
    detail::Check(ctx_->host()->record_json(ctx_->ctx(), row_, &b), "record_json");
    return {b.data, b.len};
  }
  // The record failed: the pipeline's error policy applies to it.
  void Fail(std::string_view message) {
    detail::Check(ctx_->host()->fail_record(ctx_->ctx(), row_, message.data(), message.size()), "fail_record");
  }
  // To the transform's `.late` side output, unchanged (SR_OP_LATE_OUTPUT).
  void EmitLate() { detail::Check(ctx_->host()->emit_late(ctx_->ctx(), row_), "emit_late"); }
  // Makes this record's key current (the SDK does so before ProcessRecord
  // for keyed operators).
  void SelectKey() { detail::Check(ctx_->host()->select_key(ctx_->ctx(), row_), "select_key"); }

 private:
  Context* ctx_;
  uint32_t row_;
};

// ---- the operator ---------------------------------------------------------------------
// Subclass it; the constructor takes (const Json& config, Context& ctx).
// Throw from the constructor to refuse a configuration (the message is shown
// at the step's line of the pipeline file).
class Operator {
 public:
  virtual ~Operator() = default;
  // Declare fields and state.
  virtual void Open(Context& ctx) {}
  // A batch of `count` records. The default calls ProcessRecord for each,
  // with its key current for keyed operators, and fails a record whose
  // ProcessRecord throws.
  virtual void ProcessBatch(uint32_t count, Context& ctx) {
    for (uint32_t i = 0; i < count; ++i) {
      Record record(ctx, i);
      try {
        if (keyed_) record.SelectKey();
        ProcessRecord(record, ctx);
      } catch (const HostError&) {
        throw;
      } catch (const std::exception& e) {
        record.Fail(e.what());
      }
    }
  }
  virtual void ProcessRecord(Record& record, Context& ctx) {}
  virtual void OnTimer(const Timer& timer, Context& ctx) {}
  // An asynchronous call completed; `held` is the record it held (row 0).
  // Throwing fails that record, as from ProcessRecord.
  virtual void OnAsyncComplete(const AsyncResult& result, Record& held, Context& ctx) {}
  virtual void OnWatermark(int64_t watermark, Context& ctx) {}
  // State that belongs to no key: written at a checkpoint, read back from
  // every worker's at a restore.
  virtual void Snapshot(std::string& out, Context& ctx) {}
  virtual void Restore(const std::vector<std::string_view>& parts, Context& ctx) {}
  virtual void Close(Context& ctx) {}

  void set_keyed(bool keyed) { keyed_ = keyed; }

 private:
  bool keyed_ = false;
};

namespace detail {

inline const sr_host*& HostSlot() {
  static const sr_host* host = nullptr;
  return host;
}

struct Instance {
  Context ctx;
  Operator* op = nullptr;
  ~Instance() { delete op; }
};

inline sr_status Report(sr_ctx* c, const char* message) {
  const sr_host* h = HostSlot();
  h->set_error(c, message, std::strlen(message));
  return SR_ERROR;
}

// Runs `body` and turns what it throws into a status.
template <typename Body>
sr_status Guarded(sr_ctx* c, Body&& body) {
  try {
    body();
    return SR_OK;
  } catch (const HostError& e) {
    return e.status() == SR_OK ? SR_ERROR : e.status();  // the host holds the message
  } catch (const std::exception& e) {
    return Report(c, e.what());
  } catch (...) {
    return Report(c, "an unknown exception");
  }
}

template <typename Op, uint32_t Flags>
struct Adapter {
  static void* Create(const sr_host* host, sr_ctx* c, const char* config, size_t len) {
    Instance* inst = nullptr;
    const sr_status s = Guarded(c, [&] {
      auto holder = new Instance{Context(host, c), nullptr};
      try {
        const Json json = Json::Parse(std::string_view(config, len));
        holder->op = new Op(json, holder->ctx);
        holder->op->set_keyed((Flags & SR_OP_KEYED) != 0);
      } catch (...) {
        delete holder;
        throw;
      }
      inst = holder;
    });
    if (s != SR_OK) return nullptr;
    return inst;
  }
  static sr_status Open(void* p, sr_ctx* c) {
    auto* inst = static_cast<Instance*>(p);
    return Guarded(c, [&] { inst->op->Open(inst->ctx); });
  }
  static sr_status Process(void* p, sr_ctx* c, uint32_t count) {
    auto* inst = static_cast<Instance*>(p);
    return Guarded(c, [&] { inst->op->ProcessBatch(count, inst->ctx); });
  }
  static sr_status OnTimer(void* p, sr_ctx* c, sr_time_domain d, int64_t time, int64_t tag) {
    auto* inst = static_cast<Instance*>(p);
    return Guarded(c, [&] { inst->op->OnTimer(Timer{d, time, tag}, inst->ctx); });
  }
  static sr_status OnAsyncComplete(void* p, sr_ctx* c, uint64_t id, sr_status status, int64_t code,
                                   const void* data, size_t len) {
    auto* inst = static_cast<Instance*>(p);
    return Guarded(c, [&] {
      Record held(inst->ctx, 0);
      try {
        inst->op->OnAsyncComplete(AsyncResult{id, status, code, std::string_view(static_cast<const char*>(data), len)},
                                  held, inst->ctx);
      } catch (const HostError&) {
        throw;
      } catch (const std::exception& e) {
        held.Fail(e.what());
      }
    });
  }
  static sr_status OnWatermark(void* p, sr_ctx* c, int64_t w) {
    auto* inst = static_cast<Instance*>(p);
    return Guarded(c, [&] { inst->op->OnWatermark(w, inst->ctx); });
  }
  static sr_status OnCheckpoint(void* p, sr_ctx* c, int64_t id) {
    auto* inst = static_cast<Instance*>(p);
    return Guarded(c, [&] {
      std::string out;
      inst->op->Snapshot(out, inst->ctx);
      Check(inst->ctx.host()->checkpoint_write(c, out.data(), out.size()), "checkpoint_write");
    });
  }
  static sr_status OnRestore(void* p, sr_ctx* c, const sr_bytes* parts, uint32_t n) {
    auto* inst = static_cast<Instance*>(p);
    return Guarded(c, [&] {
      std::vector<std::string_view> v;
      for (uint32_t i = 0; i < n; ++i) v.emplace_back(parts[i].data, parts[i].len);
      inst->op->Restore(v, inst->ctx);
    });
  }
  static sr_status Close(void* p, sr_ctx* c) {
    auto* inst = static_cast<Instance*>(p);
    return Guarded(c, [&] { inst->op->Close(inst->ctx); });
  }
  static void Destroy(void* p) {
    try {
      delete static_cast<Instance*>(p);
    } catch (...) {
    }
  }
};

}  // namespace detail

// The descriptor of operator Op (see the top of this file). `flags`:
// SR_OP_KEYED, SR_OP_LATE_OUTPUT, SR_OP_ASYNC, SR_OP_ASYNC_ORDERED.
template <typename Op, uint32_t Flags>
sr_operator MakeOperator(const char* name, const char* version, const char* summary, const char* config_schema) {
  static_assert(std::is_base_of_v<Operator, Op>, "an operator derives from streamrun::sdk::Operator");
  sr_operator d{};
  d.size = sizeof(sr_operator);
  d.flags = Flags;
  d.name = name;
  d.version = version;
  d.summary = summary;
  d.config_schema = config_schema;
  using A = detail::Adapter<Op, Flags>;
  d.create = A::Create;
  d.open = A::Open;
  d.process = A::Process;
  d.on_timer = A::OnTimer;
  d.on_watermark = A::OnWatermark;
  d.on_checkpoint = A::OnCheckpoint;
  d.on_restore = A::OnRestore;
  d.close = A::Close;
  d.destroy = A::Destroy;
  d.on_async_complete = A::OnAsyncComplete;
  return d;
}

inline sr_plugin MakePlugin(const char* name, const char* version, const sr_operator* const* ops, uint32_t count) {
  sr_plugin p{};
  p.size = sizeof(sr_plugin);
  p.abi_major = SR_ABI_MAJOR;
  p.abi_minor = SR_ABI_MINOR;
  p.build_tag = SR_BUILD_TAG;
  // The SDK may call every function of its minor: an older host refuses the
  // plugin with a message naming both versions.
  p.min_host_minor = SR_ABI_MINOR;
  p.name = name;
  p.version = version;
  p.operator_count = count;
  p.operators = ops;
  return p;
}

}  // namespace streamrun::sdk

// Exports the plugin's entry: its name, version and operators (pointers to
// sr_operator values made by MakeOperator).
#define STREAMRUN_PLUGIN(NAME, VERSION, ...)                                                        \
  extern "C" SR_EXPORT const sr_plugin* streamrun_plugin_v1(const sr_host* host) {                  \
    static const sr_operator* const kOperators[] = {__VA_ARGS__};                                   \
    static const sr_plugin kPlugin = ::streamrun::sdk::MakePlugin(                                  \
        NAME, VERSION, kOperators, static_cast<uint32_t>(sizeof(kOperators) / sizeof(kOperators[0]))); \
    if (!host || host->abi_major != SR_ABI_MAJOR) return nullptr;                                   \
    ::streamrun::sdk::detail::HostSlot() = host;                                                    \
    return &kPlugin;                                                                                \
  }

#endif  // STREAMRUN_SDK_HPP
