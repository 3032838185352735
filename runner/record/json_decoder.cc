#include "runner/record/json_decoder.h"

#include <simdjson.h>

#include <cctype>
#include <cstring>

namespace streamrun {

namespace od = simdjson::ondemand;

size_t JsonPadding() { return simdjson::SIMDJSON_PADDING; }

struct JsonDecoder::Impl {
  ProjectionNode projection;
  od::parser parser;
  // For an object that is both read whole and navigated into (`user` and
  // `user.id`), the nested fields are decoded from a second parse of its text.
  std::unique_ptr<od::parser> nested;
};

JsonDecoder::JsonDecoder(ProjectionNode projection) : impl_(std::make_unique<Impl>()) {
  impl_->projection = std::move(projection);
}
JsonDecoder::~JsonDecoder() = default;

namespace {

std::string ErrorText(simdjson::error_code e) {
  switch (e) {
    case simdjson::UTF8_ERROR:
      return "invalid UTF-8";
    case simdjson::INCORRECT_TYPE:
      return "record is not a JSON object";
    case simdjson::TRAILING_CONTENT:
      return "malformed JSON: trailing content after the object";
    case simdjson::EMPTY:
      return "empty record";
    case simdjson::DEPTH_ERROR:
      return "JSON nested too deeply";
    case simdjson::CAPACITY:
      return "record too large";
    default:
      break;
  }
  // simdjson's own words, e.g. "malformed JSON: JSON document ended early in the middle of an object or
  // array"
  std::string text = simdjson::error_message(e);
  while (!text.empty() && (text.back() == '.' || text.back() == ' ')) text.pop_back();
  return "malformed JSON: " + text;
}

// Reads one scalar or nested value into `out`.
bool ValidJsonText(std::string_view t);

simdjson::error_code ReadValue(od::value v, Arena& arena, Value* out) {
  od::json_type t;
  auto err = v.type().get(t);
  if (err) return err;
  switch (t) {
    case od::json_type::null: {
      bool is_null = false;
      if ((err = v.is_null().get(is_null))) return err;
      if (!is_null) return simdjson::TAPE_ERROR;
      *out = Value::Null();
      return simdjson::SUCCESS;
    }
    case od::json_type::boolean: {
      bool b;
      if ((err = v.get_bool().get(b))) return err;
      *out = Value::Bool(b);
      return simdjson::SUCCESS;
    }
    case od::json_type::number: {
      od::number_type nt;
      if ((err = v.get_number_type().get(nt))) return err;
      if (nt == od::number_type::signed_integer) {
        int64_t i;
        if ((err = v.get_int64().get(i))) return err;
        *out = Value::Int(i);
      } else {
        // Floats and integers beyond int64 become doubles.
        double d;
        if ((err = v.get_double().get(d))) return err;
        *out = Value::Float(d);
      }
      return simdjson::SUCCESS;
    }
    case od::json_type::string: {
      std::string_view token = v.raw_json_token();
      // token is `"..."` possibly followed by whitespace; without a backslash
      // the text between the quotes is the string itself (zero copy).
      size_t close = token.rfind('"');
      if (close != std::string_view::npos && close > 0 && std::memchr(token.data(), '\\', close) == nullptr) {
        *out = Value::String(token.substr(1, close - 1));
        return simdjson::SUCCESS;
      }
      std::string_view s;
      if ((err = v.get_string().get(s))) return err;
      *out = Value::String(arena.Copy(s));
      return simdjson::SUCCESS;
    }
    case od::json_type::array: {
      od::array a;
      if ((err = v.get_array().get(a))) return err;
      std::string_view raw;
      if ((err = a.raw_json().get(raw))) return err;
      if (!ValidJsonText(raw)) return simdjson::TAPE_ERROR;  // read whole: its inside unchecked so far
      *out = Value::List(raw);
      return simdjson::SUCCESS;
    }
    case od::json_type::object: {
      od::object o;
      if ((err = v.get_object().get(o))) return err;
      std::string_view raw;
      if ((err = o.raw_json().get(raw))) return err;
      if (!ValidJsonText(raw)) return simdjson::TAPE_ERROR;
      *out = Value::Object(raw);
      return simdjson::SUCCESS;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

bool KeyMatches(od::field& f, const std::string& name) { return f.key().unsafe_is_equal(name); }

// True if the raw key text (after the opening quote) holds an escape.
bool KeyHasEscape(const char* raw) {
  for (const char* p = raw; *p != '"'; ++p)
    if (*p == '\\') return true;
  return false;
}

simdjson::error_code DecodeObject(od::object obj, const ProjectionNode& node, Value* row, Arena& arena,
                                  od::parser* nested);

// On-Demand checks only what it reads: a malformed value in a field no step
// reads (`[1,2,]`, `tru`, a bad escape) would pass through to the sinks
// verbatim. So every value the decoder does not read is checked here: a
// scalar by reading it, a list or object by the plain validator over its text
// (iterative and depth-limited: descending with On-Demand would run into the
// parser's own depth limit, which it asserts rather than reports).
simdjson::error_code ValidateValue(od::value v) {
  od::json_type t;
  auto err = v.type().get(t);
  if (err) return err;
  switch (t) {
    case od::json_type::array: {
      od::array a;
      std::string_view raw;
      if ((err = v.get_array().get(a)) || (err = a.raw_json().get(raw))) return err;
      return ValidJsonText(raw) ? simdjson::SUCCESS : simdjson::TAPE_ERROR;
    }
    case od::json_type::object: {
      od::object o;
      std::string_view raw;
      if ((err = v.get_object().get(o)) || (err = o.raw_json().get(raw))) return err;
      return ValidJsonText(raw) ? simdjson::SUCCESS : simdjson::TAPE_ERROR;
    }
    case od::json_type::number: {
      double d;  // any valid number, integers beyond 64 bits included
      return v.get_double().get(d);
    }
    case od::json_type::string: {
      std::string_view s;
      return v.get_string().get(s);
    }
    case od::json_type::boolean: {
      bool b;
      return v.get_bool().get(b);
    }
    case od::json_type::null: {
      bool is = false;
      if ((err = v.is_null().get(is))) return err;
      return is ? simdjson::SUCCESS : simdjson::N_ATOM_ERROR;
    }
  }
  return simdjson::INCORRECT_TYPE;
}

simdjson::error_code DecodeNode(od::value v, const ProjectionNode& child, Value* row, Arena& arena,
                                od::parser* nested);

// A path step through a list is the element's index (`items.0.price`).
simdjson::error_code DecodeArray(od::array arr, const ProjectionNode& node, Value* row, Arena& arena,
                                 od::parser* nested) {
  size_t index = 0;
  for (auto element_result : arr) {
    od::value element;
    auto err = std::move(element_result).get(element);
    if (err) return err;
    const ProjectionNode* match = nullptr;
    std::string name = std::to_string(index++);
    for (const auto& child : node.children)
      if (child.name == name) match = &child;
    if (!match) {
      if ((err = ValidateValue(element))) return err;
      continue;
    }
    if ((err = DecodeNode(element, *match, row, arena, nested))) return err;
  }
  return simdjson::SUCCESS;
}

simdjson::error_code DecodeNode(od::value v, const ProjectionNode& child, Value* row, Arena& arena,
                                od::parser* nested) {
  if (child.children.empty()) return ReadValue(v, arena, &row[child.slot]);
  od::json_type t;
  auto err = v.type().get(t);
  if (err) return err;
  if (child.slot < 0) {
    if (t == od::json_type::array) {
      od::array a;
      if ((err = v.get_array().get(a))) return err;
      return DecodeArray(a, child, row, arena, nested);
    }
    if (t != od::json_type::object) {
      // `a.b` of a scalar: the nested fields are missing (null). Consume it.
      Value ignored;
      return ReadValue(v, arena, &ignored);
    }
    od::object o;
    if ((err = v.get_object().get(o))) return err;
    return DecodeObject(o, child, row, arena, nested);
  }
  // Read whole, and navigate into it from a copy of its text.
  if ((err = ReadValue(v, arena, &row[child.slot]))) return err;
  const Value& whole = row[child.slot];
  if ((whole.kind != Kind::kObject && whole.kind != Kind::kList) || nested == nullptr)
    return simdjson::SUCCESS;
  std::string_view padded = arena.Copy(whole.text(), simdjson::SIMDJSON_PADDING);
  od::document doc;
  if ((err = nested->iterate(padded.data(), padded.size(), padded.size() + simdjson::SIMDJSON_PADDING)
                 .get(doc)))
    return err;
  ProjectionNode children_only{child.name, -1, child.children};
  if (whole.kind == Kind::kList) {
    od::array a;
    if ((err = doc.get_array().get(a))) return err;
    return DecodeArray(a, children_only, row, arena, nullptr);
  }
  od::object o;
  if ((err = doc.get_object().get(o))) return err;
  return DecodeObject(o, children_only, row, arena, nullptr);
}

simdjson::error_code DecodeObject(od::object obj, const ProjectionNode& node, Value* row, Arena& arena,
                                  od::parser* nested) {
  for (auto field_result : obj) {
    od::field field;
    auto err = std::move(field_result).get(field);
    if (err) return err;
    const ProjectionNode* match = nullptr;
    for (const auto& child : node.children) {
      if (KeyMatches(field, child.name)) {
        match = &child;
        break;
      }
    }
    if (!match) {
      // An unescaped key may still match after unescaping (rare).
      if (KeyHasEscape(field.key().raw())) {
        std::string_view unescaped;
        if ((err = field.unescaped_key().get(unescaped))) return err;
        for (const auto& child : node.children)
          if (child.name == unescaped) match = &child;
      }
    }
    if (!match) {
      if ((err = ValidateValue(field.value()))) return err;
      continue;
    }
    if ((err = DecodeNode(field.value(), *match, row, arena, nested))) return err;
  }
  return simdjson::SUCCESS;
}

// A plain JSON validator for a list or object read whole (its text is kept
// as it is, so its inside is checked here). Iterative (a stack of open brackets, at most 1024
// deep, as simdjson's), so no record can overflow the call stack.
bool ValidJsonText(std::string_view t) {
  size_t i = 0;
  const size_t n = t.size();
  auto blank = [&] {
    while (i < n && (t[i] == ' ' || t[i] == '\t' || t[i] == '\n' || t[i] == '\r')) ++i;
  };
  auto digits = [&] {
    const size_t from = i;
    while (i < n && t[i] >= '0' && t[i] <= '9') ++i;
    return i > from;
  };
  auto string = [&] {  // at '"'
    ++i;
    while (i < n && t[i] != '"') {
      const unsigned char c = static_cast<unsigned char>(t[i]);
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i >= n) return false;
        if (t[i] == 'u') {
          for (int k = 0; k < 4; ++k)
            if (++i >= n || !std::isxdigit(static_cast<unsigned char>(t[i]))) return false;
        } else if (std::strchr("\"\\/bfnrt", t[i]) == nullptr) {
          return false;
        }
      }
      ++i;
    }
    if (i >= n) return false;
    ++i;
    return true;
  };
  auto scalar = [&] {
    if (t[i] == '"') return string();
    for (const char* word : {"true", "false", "null"}) {
      const size_t len = std::strlen(word);
      if (t.substr(i, len) == word) {
        i += len;
        return true;
      }
    }
    if (t[i] == '-') ++i;
    if (i < n && t[i] == '0') {
      ++i;
    } else if (!digits()) {
      return false;
    }
    if (i < n && t[i] == '.') {
      ++i;
      if (!digits()) return false;
    }
    if (i < n && (t[i] == 'e' || t[i] == 'E')) {
      ++i;
      if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
      if (!digits()) return false;
    }
    return true;
  };
  std::string open;  // '{' or '['
  blank();
  bool need_value = true;
  while (true) {
    blank();
    if (i >= n) return false;
    if (need_value) {
      if (t[i] == '{' || t[i] == '[') {
        if (open.size() >= 1024) return false;
        open.push_back(t[i++]);
        blank();
        if (i < n && (t[i] == (open.back() == '{' ? '}' : ']'))) {
          ++i;
          open.pop_back();
          need_value = false;
        } else if (open.back() == '{') {
          if (i >= n || t[i] != '"' || !string()) return false;
          blank();
          if (i >= n || t[i++] != ':') return false;
        }
        if (open.empty() && !need_value) break;
        continue;
      }
      if (!scalar()) return false;
      need_value = false;
    }
    blank();
    if (open.empty()) break;
    if (i >= n) return false;
    const char close = open.back() == '{' ? '}' : ']';
    if (t[i] == close) {
      ++i;
      open.pop_back();
      if (open.empty()) break;
      continue;
    }
    if (t[i] != ',') return false;
    ++i;
    need_value = true;
    if (open.back() == '{') {
      blank();
      if (i >= n || t[i] != '"' || !string()) return false;
      blank();
      if (i >= n || t[i++] != ':') return false;
    }
  }
  blank();
  return i == n;
}

}  // namespace

bool JsonDecoder::Decode(std::string_view text, Value* row, Arena& arena, std::string* error) {
  od::document doc;
  auto err =
      impl_->parser.iterate(text.data(), text.size(), text.size() + simdjson::SIMDJSON_PADDING).get(doc);
  if (!err) {
    od::object obj;
    err = doc.get_object().get(obj);
    if (!err) {
      if (!impl_->nested) impl_->nested = std::make_unique<od::parser>();
      err = DecodeObject(obj, impl_->projection, row, arena, impl_->nested.get());
    }
    // Nothing may follow the object: past its end there is no location left.
    if (!err && !doc.current_location().error()) err = simdjson::TRAILING_CONTENT;
  }
  if (err) {
    *error = ErrorText(err);
    return false;
  }
  return true;
}

}  // namespace streamrun
