#include "runner/expr/json_util.h"

#include <simdjson.h>

#include <charconv>
#include <cmath>
#include <cstring>

#include "runner/expr/node.h"
#include "runner/record/json_writer.h"

namespace streamrun::expr {
namespace {

namespace od = simdjson::ondemand;

od::parser& ThreadParser() {
  thread_local od::parser parser;
  return parser;
}

bool BadJson(EvalContext& ctx, const Value& v, simdjson::error_code code) {
  return Fail(ctx, std::string("invalid JSON in ") + std::string(KindName(v.kind)) +
                       " value: " + simdjson::error_message(code));
}

// Parses the arena copy of `container`'s text and hands back its root value.
bool Open(const Value& container, EvalContext& ctx, od::document* doc) {
  if (ctx.arena == nullptr) return Fail(ctx, "internal error: no arena to evaluate the expression in");
  std::string_view copy = ctx.arena->Copy(container.text(), simdjson::SIMDJSON_PADDING);
  simdjson::padded_string_view view(copy.data(), copy.size(), copy.size() + simdjson::SIMDJSON_PADDING);
  auto err = ThreadParser().iterate(view).get(*doc);
  if (err) return BadJson(ctx, container, err);
  return true;
}

bool ToValue(od::value& v, const Value& container, EvalContext& ctx, Value* out) {
  od::json_type type;
  if (auto err = v.type().get(type)) return BadJson(ctx, container, err);
  switch (type) {
    case od::json_type::array: {
      od::array a;
      std::string_view raw;
      if (auto err = v.get_array().get(a)) return BadJson(ctx, container, err);
      if (auto err = a.raw_json().get(raw)) return BadJson(ctx, container, err);
      *out = Value::List(raw);
      return true;
    }
    case od::json_type::object: {
      od::object o;
      std::string_view raw;
      if (auto err = v.get_object().get(o)) return BadJson(ctx, container, err);
      if (auto err = o.raw_json().get(raw)) return BadJson(ctx, container, err);
      *out = Value::Object(raw);
      return true;
    }
    case od::json_type::number:
      if (!ParseJsonNumber(v.raw_json_token(), out)) return BadJson(ctx, container, simdjson::NUMBER_ERROR);
      return true;
    case od::json_type::string: {
      std::string_view s;
      if (auto err = v.get_string().get(s)) return BadJson(ctx, container, err);
      return ArenaString(ctx, s, out);
    }
    case od::json_type::boolean: {
      bool b;
      if (auto err = v.get_bool().get(b)) return BadJson(ctx, container, err);
      *out = Value::Bool(b);
      return true;
    }
    case od::json_type::null:
      *out = Value::Null();
      return true;
  }
  return BadJson(ctx, container, simdjson::INCORRECT_TYPE);
}

bool ParseIndex(std::string_view s, size_t* index) {
  if (s.empty() || s.size() > 18) return false;
  size_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<size_t>(c - '0');
  }
  *index = v;
  return true;
}

}  // namespace

size_t FormatInt(int64_t i, char* buf) {
  auto r = std::to_chars(buf, buf + kNumberBufSize, i);
  return static_cast<size_t>(r.ptr - buf);
}

size_t FormatFloat(double f, char* buf) {
  auto r = std::to_chars(buf, buf + kNumberBufSize - 2, f);
  size_t n = static_cast<size_t>(r.ptr - buf);
  bool has_mark = false;
  for (size_t k = 0; k < n; ++k)
    if (buf[k] == '.' || buf[k] == 'e' || buf[k] == 'E') has_mark = true;
  if (!has_mark) {
    buf[n++] = '.';
    buf[n++] = '0';
  }
  return n;
}

// The record library writes JSON for sinks and expressions alike, so a value
// prints the same in to_string(), concat() and a sink's output.
void AppendJson(const Value& v, std::string* out) { AppendJsonValue(v, out); }

bool ParseJsonNumber(std::string_view token, Value* out) {
  size_t end = 0;
  bool is_float = false;
  while (end < token.size()) {
    char c = token[end];
    if (c == '.' || c == 'e' || c == 'E') {
      is_float = true;
    } else if (!((c >= '0' && c <= '9') || c == '-' || c == '+')) {
      break;
    }
    ++end;
  }
  const char* b = token.data();
  const char* e = b + end;
  if (end == 0) return false;
  if (!is_float) {
    int64_t i;
    auto r = std::from_chars(b, e, i);
    if (r.ec == std::errc() && r.ptr == e) {
      *out = Value::Int(i);
      return true;
    }
    if (r.ec != std::errc::result_out_of_range) return false;
  }
  double d;
  auto r = std::from_chars(b, e, d);
  if (r.ptr != e || (r.ec != std::errc() && r.ec != std::errc::result_out_of_range)) return false;
  if (r.ec == std::errc::result_out_of_range) d = std::strtod(std::string(b, e).c_str(), nullptr);
  *out = Value::Float(d);
  return true;
}

bool NavigateJson(const Value& container, const std::vector<std::string>& subpath, EvalContext& ctx,
                  Value* out) {
  if (subpath.empty()) {
    *out = container;
    return true;
  }
  if (container.kind != Kind::kList && container.kind != Kind::kObject) {
    *out = Value::Null();  // a scalar has no fields
    return true;
  }
  od::document doc;
  if (!Open(container, ctx, &doc)) return false;
  od::value cur;
  if (auto err = doc.get_value().get(cur)) return BadJson(ctx, container, err);
  for (const std::string& key : subpath) {
    od::json_type type;
    if (auto err = cur.type().get(type)) return BadJson(ctx, container, err);
    od::value next;
    if (type == od::json_type::object) {
      od::object o;
      if (auto err = cur.get_object().get(o)) return BadJson(ctx, container, err);
      auto err = o.find_field_unordered(key).get(next);
      if (err == simdjson::NO_SUCH_FIELD) {
        *out = Value::Null();
        return true;
      }
      if (err) return BadJson(ctx, container, err);
    } else if (type == od::json_type::array) {
      size_t index;
      if (!ParseIndex(key, &index)) {
        *out = Value::Null();
        return true;
      }
      od::array a;
      if (auto err = cur.get_array().get(a)) return BadJson(ctx, container, err);
      size_t at = 0;
      bool found = false;
      for (auto element : a) {
        od::value v;
        if (auto err = element.get(v)) return BadJson(ctx, container, err);
        if (at++ == index) {
          next = v;
          found = true;
          break;
        }
      }
      if (!found) {
        *out = Value::Null();
        return true;
      }
    } else {
      *out = Value::Null();
      return true;
    }
    cur = next;
  }
  return ToValue(cur, container, ctx, out);
}

bool JsonListContains(const Value& list, const Value& needle, EvalContext& ctx, bool* found) {
  *found = false;
  od::document doc;
  if (!Open(list, ctx, &doc)) return false;
  od::array a;
  if (auto err = doc.get_array().get(a)) return BadJson(ctx, list, err);
  for (auto element : a) {
    od::value v;
    if (auto err = element.get(v)) return BadJson(ctx, list, err);
    od::json_type type;
    if (auto err = v.type().get(type)) return BadJson(ctx, list, err);
    switch (type) {
      case od::json_type::number: {
        if (!needle.is_number()) continue;
        Value num;
        if (!ParseJsonNumber(v.raw_json_token(), &num)) return BadJson(ctx, list, simdjson::NUMBER_ERROR);
        if (CompareNumbers(needle, num) == 0) {
          *found = true;
          return true;
        }
        break;
      }
      case od::json_type::string: {
        if (needle.kind != Kind::kString) continue;
        std::string_view s;
        if (auto err = v.get_string().get(s)) return BadJson(ctx, list, err);
        if (s == needle.text()) {
          *found = true;
          return true;
        }
        break;
      }
      case od::json_type::boolean: {
        if (needle.kind != Kind::kBool) continue;
        bool b;
        if (auto err = v.get_bool().get(b)) return BadJson(ctx, list, err);
        if (b == needle.b) {
          *found = true;
          return true;
        }
        break;
      }
      case od::json_type::array:
      case od::json_type::object: {
        if (needle.kind != Kind::kList && needle.kind != Kind::kObject) continue;
        Value nested;
        if (!ToValue(v, list, ctx, &nested)) return false;
        if (ValuesEqual(nested, needle)) {
          *found = true;
          return true;
        }
        break;
      }
      case od::json_type::null:
        break;  // null never equals anything
    }
  }
  return true;
}

bool JsonCount(const Value& container, EvalContext& ctx, int64_t* count) {
  od::document doc;
  if (!Open(container, ctx, &doc)) return false;
  size_t n = 0;
  if (container.kind == Kind::kList) {
    od::array a;
    if (auto err = doc.get_array().get(a)) return BadJson(ctx, container, err);
    if (auto err = a.count_elements().get(n)) return BadJson(ctx, container, err);
  } else {
    od::object o;
    if (auto err = doc.get_object().get(o)) return BadJson(ctx, container, err);
    if (auto err = o.count_fields().get(n)) return BadJson(ctx, container, err);
  }
  *count = static_cast<int64_t>(n);
  return true;
}

size_t Utf8Length(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

size_t Utf8Offset(std::string_view s, size_t index) {
  size_t seen = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if ((static_cast<unsigned char>(s[i]) & 0xC0) != 0x80) {
      if (seen == index) return i;
      ++seen;
    }
  }
  return s.size();
}

}  // namespace streamrun::expr
