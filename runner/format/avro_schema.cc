// Loading an Avro schema: the .avsc JSON parsed with nlohmann::json into the
// compiled tree of avro_schema.h, and checked once more by libavro (the
// reference parser: what it refuses, producers using it could not write).
#include "runner/format/avro_schema.h"

#include <avro.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

namespace streamrun::format {

namespace avro {

namespace {

using Json = nlohmann::ordered_json;

bool IsPrimitive(std::string_view name, Type* t) {
  static constexpr std::pair<std::string_view, Type> kPrimitives[] = {
      {"null", Type::kNull},   {"boolean", Type::kBoolean}, {"int", Type::kInt},
      {"long", Type::kLong},   {"float", Type::kFloat},     {"double", Type::kDouble},
      {"bytes", Type::kBytes}, {"string", Type::kString},
  };
  for (const auto& [n, type] : kPrimitives) {
    if (n == name) {
      *t = type;
      return true;
    }
  }
  return false;
}

// [A-Za-z_][A-Za-z0-9_]*
bool IsIdentifier(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool letter = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
    if (!letter && (i == 0 || c < '0' || c > '9')) return false;
  }
  return true;
}

// Dot-separated identifiers.
bool IsFullName(std::string_view s) {
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (!IsIdentifier(s.substr(start, dot == std::string_view::npos ? dot : dot - start))) return false;
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string Qualify(const std::string& name, const std::string& ns) {
  if (name.find('.') != std::string::npos || ns.empty()) return name;
  return ns + "." + name;
}

std::string ListedTwice(const std::string& where, const std::string& symbol) {
  return where + ": symbol '" + symbol + "' is listed twice";
}

std::string Short(const Json& j) {
  std::string s = j.dump();
  if (s.size() > 60) s = s.substr(0, 57) + "...";
  return s;
}

class Parser {
 public:
  std::vector<std::unique_ptr<Node>> nodes;
  std::string error;  // the first problem, with where it is

  // `ns` is the enclosing namespace; `where` says where `j` is, for messages.
  const Node* Parse(const Json& j, const std::string& ns, const std::string& where) {
    if (!error.empty()) return nullptr;
    if (j.is_string()) return ParseName(j.get<std::string>(), ns, where);
    if (j.is_array()) return ParseUnion(j, ns, where);
    if (!j.is_object()) return Fail(where + ": " + Short(j) + " is not a type");
    auto type_it = j.find("type");
    if (type_it == j.end()) return Fail(where + ": a type object needs \"type\"");
    if (!type_it->is_string()) return Parse(*type_it, ns, where);  // {"type": {...}}: the inner type
    const std::string type = type_it->get<std::string>();
    Type primitive;
    if (IsPrimitive(type, &primitive)) {
      Node* n = New(primitive);
      ParseLogical(j, n);
      return n;
    }
    if (type == "record" || type == "error") return ParseRecord(j, ns, where);
    if (type == "enum") return ParseEnum(j, ns, where);
    if (type == "fixed") return ParseFixed(j, ns, where);
    if (type == "array" || type == "map") {
      const char* key = type == "array" ? "items" : "values";
      auto it = j.find(key);
      if (it == j.end()) return Fail(where + ": " + type + " needs \"" + key + "\"");
      Node* n = New(type == "array" ? Type::kArray : Type::kMap);
      n->items = Parse(*it, ns, where + " " + key);
      return n->items ? n : nullptr;
    }
    return ParseName(type, ns, where);  // {"type": "acme.Other"}
  }

  // Encodes each field's default, once every named type is complete.
  bool CompileDefaults() {
    for (const auto& n : nodes) {
      if (n->type != Type::kRecord) continue;
      for (Field& f : n->fields) {
        if (!f.has_default) continue;
        std::string why;
        if (!EncodeDefault(*f.type, f.default_json, &f.default_bytes, &why)) {
          error = "record " + n->name + " field '" + f.name + "': default " + f.default_json +
                  " does not fit its type " + TypeName(*f.type) + " (" + why + ")";
          return false;
        }
      }
    }
    return true;
  }

 private:
  std::map<std::string, Node*> named_;

  std::nullptr_t Fail(std::string message) {
    if (error.empty()) error = std::move(message);
    return nullptr;
  }

  bool Refuse(std::string message) {
    Fail(std::move(message));
    return false;
  }

  Node* New(Type t) {
    nodes.push_back(std::make_unique<Node>());
    nodes.back()->type = t;
    return nodes.back().get();
  }

  const Node* ParseName(const std::string& name, const std::string& ns, const std::string& where) {
    Type primitive;
    if (IsPrimitive(name, &primitive)) return New(primitive);
    if (auto it = named_.find(Qualify(name, ns)); it != named_.end()) return it->second;
    if (auto it = named_.find(name); it != named_.end()) return it->second;  // the null namespace
    return Fail(
        where + ": unknown type '" + name + "'" +
        (name.find('.') == std::string::npos && !ns.empty() ? " (looked for " + ns + "." + name + ")" : ""));
  }

  const Node* ParseUnion(const Json& j, const std::string& ns, const std::string& where) {
    Node* n = New(Type::kUnion);
    if (j.empty()) return Fail(where + ": a union needs at least one type");
    for (size_t i = 0; i < j.size(); ++i) {
      const Node* b = Parse(j[i], ns, where + " union branch " + std::to_string(i));
      if (!b) return nullptr;
      if (b->type == Type::kUnion) return Fail(where + ": a union may not hold a union directly");
      for (const Node* other : n->branches) {
        const bool named = b->type == Type::kRecord || b->type == Type::kEnum || b->type == Type::kFixed;
        if (other->type == b->type && (!named || other->name == b->name))
          return Fail(where + ": the union holds " + TypeName(*b) + " twice");
      }
      if (b->type == Type::kNull) n->null_branch = static_cast<int>(n->branches.size());
      n->branches.push_back(b);
    }
    return n;
  }

  // Name, namespace and aliases of a record, enum or fixed; registers it so
  // later (and its own) fields may refer to it. Returns its namespace.
  bool Name(const Json& j, const std::string& ns, const std::string& where, Node* n, std::string* own_ns) {
    auto it = j.find("name");
    if (it == j.end() || !it->is_string()) return Refuse(where + ": a named type needs a \"name\"");
    std::string name = it->get<std::string>();
    std::string space = ns;
    if (auto s = j.find("namespace"); s != j.end() && s->is_string()) space = s->get<std::string>();
    if (name.find('.') != std::string::npos) space = name.substr(0, name.rfind('.'));
    n->name = Qualify(name, space);
    if (!IsFullName(n->name))
      return Refuse(where + ": '" + n->name + "' is not a valid name (letters, digits and _, dot-separated)");
    Type primitive;
    if (IsPrimitive(ShortName(n->name), &primitive))
      return Refuse(where + ": a named type may not be called '" + name + "'");
    if (!named_.emplace(n->name, n).second) return Refuse(where + ": type " + n->name + " is defined twice");
    if (auto a = j.find("aliases"); a != j.end()) {
      if (!a->is_array()) return Refuse(where + ": \"aliases\" must be a list of names");
      for (const auto& alias : *a) {
        if (!alias.is_string()) return Refuse(where + ": \"aliases\" must be a list of names");
        n->aliases.push_back(Qualify(alias.get<std::string>(), space));
      }
    }
    *own_ns = space;
    return true;
  }

  const Node* ParseRecord(const Json& j, const std::string& ns, const std::string& where) {
    Node* n = New(Type::kRecord);
    std::string space;
    if (!Name(j, ns, where, n, &space)) return nullptr;
    const std::string here = "record " + n->name;
    auto fields = j.find("fields");
    if (fields == j.end() || !fields->is_array()) return Fail(here + ": needs a \"fields\" list");
    for (const auto& fj : *fields) {
      if (!fj.is_object()) return Fail(here + ": field " + Short(fj) + " is not an object");
      auto name = fj.find("name");
      if (name == fj.end() || !name->is_string() || !IsIdentifier(name->get<std::string>()))
        return Fail(here + ": field " + Short(fj) + " needs a \"name\" (letters, digits and _)");
      Field f;
      f.name = name->get<std::string>();
      for (const Field& other : n->fields)
        if (other.name == f.name) return Fail(here + ": field '" + f.name + "' is defined twice");
      f.key.push_back('"');
      f.key += f.name;
      f.key += "\":";
      auto type = fj.find("type");
      if (type == fj.end()) return Fail(here + " field '" + f.name + "': needs a \"type\"");
      f.type = Parse(*type, space, here + " field '" + f.name + "'");
      if (!f.type) return nullptr;
      if (auto d = fj.find("default"); d != fj.end()) {
        f.has_default = true;
        f.default_json = d->dump();
      }
      if (auto a = fj.find("aliases"); a != fj.end()) {
        if (!a->is_array())
          return Fail(here + " field '" + f.name + "': \"aliases\" must be a list of names");
        for (const auto& alias : *a) {
          if (!alias.is_string())
            return Fail(here + " field '" + f.name + "': \"aliases\" must be a list of names");
          f.aliases.push_back(alias.get<std::string>());
        }
      }
      n->fields.push_back(std::move(f));
    }
    return n;
  }

  const Node* ParseEnum(const Json& j, const std::string& ns, const std::string& where) {
    Node* n = New(Type::kEnum);
    std::string space;
    if (!Name(j, ns, where, n, &space)) return nullptr;
    const std::string here = "enum " + n->name;
    auto symbols = j.find("symbols");
    if (symbols == j.end() || !symbols->is_array()) return Fail(here + ": needs a \"symbols\" list");
    for (const auto& s : *symbols) {
      if (!s.is_string() || !IsIdentifier(s.get<std::string>()))
        return Fail(here + ": symbol " + Short(s) + " is not a name (letters, digits and _)");
      std::string symbol = s.get<std::string>();
      if (std::find(n->symbols.begin(), n->symbols.end(), symbol) != n->symbols.end())
        return Fail(ListedTwice(here, symbol));
      n->symbols.push_back(std::move(symbol));
    }
    if (auto d = j.find("default"); d != j.end()) {
      for (size_t i = 0; i < n->symbols.size(); ++i)
        if (d->is_string() && n->symbols[i] == d->get<std::string>()) n->enum_default = static_cast<int>(i);
      if (n->enum_default < 0) return Fail(here + ": default " + Short(*d) + " is not one of its symbols");
    }
    return n;
  }

  const Node* ParseFixed(const Json& j, const std::string& ns, const std::string& where) {
    Node* n = New(Type::kFixed);
    std::string space;
    if (!Name(j, ns, where, n, &space)) return nullptr;
    auto size = j.find("size");
    if (size == j.end() || !size->is_number_integer() || size->get<int64_t>() < 0 ||
        size->get<int64_t>() > (1 << 20))
      return Fail("fixed " + n->name + ": needs a \"size\" (a count of bytes)");
    n->size = size->get<size_t>();
    ParseLogical(j, n);
    return n;
  }

  // As the spec asks, a logical type that does not apply (timestamp-millis on
  // a string, a decimal whose scale exceeds its precision) is ignored: the
  // field reads as its underlying type.
  static void ParseLogical(const Json& j, Node* n) {
    auto it = j.find("logicalType");
    if (it == j.end() || !it->is_string()) return;
    const std::string logical = it->get<std::string>();
    if (logical == "timestamp-millis" && n->type == Type::kLong) n->logical = Logical::kTimestampMillis;
    if (logical == "timestamp-micros" && n->type == Type::kLong) n->logical = Logical::kTimestampMicros;
    if (logical == "date" && n->type == Type::kInt) n->logical = Logical::kDate;
    if (logical == "decimal" && (n->type == Type::kBytes || n->type == Type::kFixed)) {
      auto p = j.find("precision");
      auto s = j.find("scale");
      if (p == j.end() || !p->is_number_integer()) return;
      const int64_t precision = p->get<int64_t>();
      const int64_t scale = s != j.end() && s->is_number_integer() ? s->get<int64_t>() : 0;
      if (s != j.end() && !s->is_number_integer()) return;
      if (precision <= 0 || precision > 1000 || scale < 0 || scale > precision) return;
      // A fixed of n bytes holds at most floor(log10(2^(8n-1) - 1)) digits.
      if (n->type == Type::kFixed && precision > static_cast<int64_t>((8.0 * n->size - 1) * 0.30102999566398))
        return;
      n->logical = Logical::kDecimal;
      n->precision = static_cast<int>(precision);
      n->scale = static_cast<int>(scale);
    }
  }
};

// "FILE:LINE:COLUMN: malformed JSON: ..." from nlohmann's parse error.
std::string JsonErrorText(const std::string& source, std::string_view text, const Json::parse_error& e) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i + 1 < e.byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  std::string what = e.what();
  const size_t at = what.find("column");
  const size_t colon = at == std::string::npos ? std::string::npos : what.find(": ", at);
  if (colon != std::string::npos) what = what.substr(colon + 2);
  // "; last read: '...'" quotes the text, newlines and all: the line and column say where.
  const size_t last = what.find("; last read: '");
  if (last != std::string::npos) {
    const size_t close = what.find("'; ", last + 14);
    what.erase(last, close == std::string::npos ? std::string::npos : close + 1 - last);
  }
  return source + ":" + std::to_string(line) + ":" + std::to_string(column) + ": malformed JSON: " + what;
}

std::shared_ptr<const Schema> Compile(const std::string& source, std::string_view text, std::string* error) {
  const std::string name = source.empty() ? "avro schema" : source;
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::parse_error& e) {
    *error = JsonErrorText(name, text, e);
    return nullptr;
  }
  Parser parser;
  const Node* root = parser.Parse(j, "", "top-level type");
  if (root && root->type != Type::kRecord) {
    *error =
        name + ": the top-level type is " + TypeName(*root) + "; records are read and written as records";
    return nullptr;
  }
  if (!root || !parser.CompileDefaults()) {
    *error = name + ": " + parser.error;
    return nullptr;
  }
  // Ours first (its messages say where), then the reference parser's.
  avro_schema_t checked = nullptr;
  if (avro_schema_from_json_length(text.data(), text.size(), &checked) != 0) {
    std::string why = avro_strerror();
    while (!why.empty() && (why.back() == '\n' || why.back() == '.')) why.pop_back();
    *error = name + ": libavro refuses the schema: " + why;
    return nullptr;
  }
  avro_schema_decref(checked);
  return std::make_shared<AvroSchema>(source, j.dump(), std::move(parser.nodes), root);
}

}  // namespace

std::string_view ShortName(std::string_view full_name) {
  const size_t dot = full_name.rfind('.');
  return dot == std::string_view::npos ? full_name : full_name.substr(dot + 1);
}

std::string TypeName(const Node& n) {
  switch (n.type) {
    case Type::kNull:
      return "null";
    case Type::kBoolean:
      return "boolean";
    case Type::kInt:
      return n.logical == Logical::kDate ? "int (date)" : "int";
    case Type::kLong:
      return n.logical == Logical::kTimestampMillis   ? "long (timestamp-millis)"
             : n.logical == Logical::kTimestampMicros ? "long (timestamp-micros)"
                                                      : "long";
    case Type::kFloat:
      return "float";
    case Type::kDouble:
      return "double";
    case Type::kBytes:
      return n.logical == Logical::kDecimal ? "bytes (decimal)" : "bytes";
    case Type::kString:
      return "string";
    case Type::kRecord:
      return "record " + n.name;
    case Type::kEnum:
      return "enum " + n.name;
    case Type::kArray:
      return "array of " + TypeName(*n.items);
    case Type::kMap:
      return "map of " + TypeName(*n.items);
    case Type::kFixed:
      return "fixed " + n.name + (n.logical == Logical::kDecimal ? " (decimal)" : "");
    case Type::kUnion: {
      std::string s = "union [";
      for (size_t i = 0; i < n.branches.size(); ++i) {
        if (i) s += ", ";
        const Node& b = *n.branches[i];
        // Branches by name: a recursive record would otherwise print forever.
        s += b.name.empty() ? TypeName(b) : b.name;
      }
      return s + "]";
    }
  }
  return "?";
}

std::string AvroSchema::Describe() const {
  return "avro schema " + (source_.empty() ? std::string("from the registry") : source_) + " (" +
         TypeName(*root_) + ")";
}

}  // namespace avro

std::shared_ptr<const Schema> LoadAvroSchema(const std::string& path, std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = path + ": cannot read: " + std::strerror(errno);
    return nullptr;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return avro::Compile(path, text.str(), error);
}

std::shared_ptr<const Schema> ParseAvroSchema(std::string_view text, std::string* error) {
  return avro::Compile("", text, error);
}

}  // namespace streamrun::format
