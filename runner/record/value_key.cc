#include "runner/record/value_key.h"

#include <charconv>
#include <cmath>

namespace streamrun {

namespace {

void AppendInt(int64_t i, std::string* out) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, i);
  out->append(buf, r.ptr);
  out->push_back(';');
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

void AppendValueKey(const Value& v, std::string* out) {
  switch (v.kind) {
    case Kind::kNull:
      out->push_back('n');
      return;
    case Kind::kBool:
      out->push_back(v.b ? 't' : 'f');
      return;
    case Kind::kInt:
      out->push_back('i');
      AppendInt(v.i, out);
      return;
    case Kind::kFloat: {
      double d = v.f;
      if (std::isfinite(d) && std::trunc(d) == d && d >= -9223372036854775808.0 &&
          d < 9223372036854775808.0) {
        out->push_back('i');
        AppendInt(static_cast<int64_t>(d), out);
        return;
      }
      out->push_back('d');
      char buf[32];
      auto r = std::to_chars(buf, buf + sizeof buf, d);
      out->append(buf, r.ptr);
      out->push_back(';');
      return;
    }
    case Kind::kString:
      out->push_back('s');
      AppendInt(v.len, out);
      out->append(v.text());
      return;
    case Kind::kList:
    case Kind::kObject: {
      // Length-prefixed after dropping insignificant whitespace.
      std::string compact;
      std::string_view t = v.text();
      bool in_string = false;
      for (size_t i = 0; i < t.size(); ++i) {
        char c = t[i];
        if (!in_string && IsJsonSpace(c)) continue;
        compact.push_back(c);
        if (in_string && c == '\\' && i + 1 < t.size()) {
          compact.push_back(t[++i]);
        } else if (c == '"') {
          in_string = !in_string;
        }
      }
      out->push_back(v.kind == Kind::kList ? 'l' : 'o');
      AppendInt(static_cast<int64_t>(compact.size()), out);
      out->append(compact);
      return;
    }
  }
}

bool KeyKeepsValue(const Value& v) {
  return v.kind == Kind::kNull || v.kind == Kind::kBool || v.kind == Kind::kInt || v.kind == Kind::kString;
}

bool KeyValueAt(std::string_view* key, Value* v) {
  if (key->empty()) return false;
  const char tag = key->front();
  key->remove_prefix(1);
  auto number = [&](int64_t* out) {
    const auto r = std::from_chars(key->data(), key->data() + key->size(), *out);
    if (r.ec != std::errc() || r.ptr == key->data() + key->size() || *r.ptr != ';') return false;
    key->remove_prefix(static_cast<size_t>(r.ptr - key->data()) + 1);
    return true;
  };
  int64_t n = 0;
  switch (tag) {
    case 'n':
      *v = Value::Null();
      return true;
    case 't':
    case 'f':
      *v = Value::Bool(tag == 't');
      return true;
    case 'i':
      if (!number(&n)) return false;
      *v = Value::Int(n);
      return true;
    case 's':
      if (!number(&n) || n < 0 || static_cast<uint64_t>(n) > key->size()) return false;
      *v = Value::String(key->substr(0, static_cast<size_t>(n)));
      key->remove_prefix(static_cast<size_t>(n));
      return true;
    default:
      return false;
  }
}

}  // namespace streamrun
