#include "runner/plugin/config_schema.h"

#include <cmath>
#include <nlohmann/json.hpp>

#include "runner/config/duration.h"
#include "runner/config/scalars.h"
#include "runner/expr/json_util.h"
#include "runner/record/json_writer.h"

namespace streamrun::plugin {

using config::ConfNode;
using config::FieldSpec;
using config::FieldType;
using Json = nlohmann::ordered_json;  // properties in the order the schema gives them

namespace {

// How deep a schema may nest (a schema is the plugin's data: bounded).
constexpr int kMaxDepth = 16;

bool Convert(const Json& schema, const std::string& name, FieldSpec* out, std::string* error, int depth) {
  const std::string at = name.empty() ? "the schema" : "'" + name + "'";
  if (depth > kMaxDepth) {
    *error = at + " nests more than " + std::to_string(kMaxDepth) + " levels";
    return false;
  }
  if (!schema.is_object()) {
    *error = at + " is not a JSON Schema object";
    return false;
  }
  out->name = name;
  if (auto d = schema.find("description"); d != schema.end() && d->is_string()) out->description = *d;
  if (auto e = schema.find("enum"); e != schema.end()) {
    if (!e->is_array() || e->empty()) {
      *error = at + ": enum must be a non-empty list of strings";
      return false;
    }
    out->type = FieldType::kEnum;
    for (const auto& v : *e) {
      if (!v.is_string()) {
        *error = at + ": enum must be a list of strings";
        return false;
      }
      out->enum_values.push_back(v.get<std::string>());
    }
  } else {
    auto t = schema.find("type");
    if (t == schema.end() || !t->is_string()) {
      *error = at + " has no \"type\" (one of string, integer, number, boolean, array, object)";
      return false;
    }
    const std::string type = *t;
    const std::string format = schema.value("format", "");
    if (type == "string") {
      out->type = format == "duration" ? FieldType::kDuration : FieldType::kString;
    } else if (type == "integer") {
      out->type = FieldType::kInt;
    } else if (type == "number") {
      out->type = FieldType::kNumber;
    } else if (type == "boolean") {
      out->type = FieldType::kBool;
    } else if (type == "array") {
      out->type = FieldType::kList;
      auto items = schema.find("items");
      if (items == schema.end()) {
        *error = at + ": an array needs \"items\"";
        return false;
      }
      out->item = std::make_shared<FieldSpec>();
      if (!Convert(*items, "", out->item.get(), error, depth + 1)) return false;
    } else if (type == "object") {
      auto props = schema.find("properties");
      auto extra = schema.find("additionalProperties");
      if (props == schema.end() && extra != schema.end() && extra->is_object()) {
        out->type = FieldType::kMap;  // user-chosen names, one schema for the values
        out->item = std::make_shared<FieldSpec>();
        if (!Convert(*extra, "", out->item.get(), error, depth + 1)) return false;
      } else {
        out->type = FieldType::kObject;
        out->additional_fields = extra != schema.end() && extra->is_boolean() && extra->get<bool>();
        if (props != schema.end()) {
          if (!props->is_object()) {
            *error = at + ": \"properties\" must be an object";
            return false;
          }
          for (const auto& [key, sub] : props->items()) {
            FieldSpec f;
            if (!Convert(sub, key, &f, error, depth + 1)) return false;
            out->fields.push_back(std::move(f));
          }
        }
        if (auto req = schema.find("required"); req != schema.end() && req->is_array())
          for (const auto& r : *req)
            for (auto& f : out->fields)
              if (r.is_string() && f.name == r.get<std::string>()) f.required = true;
      }
    } else {
      *error =
          at + " has type \"" + type + "\" (streamrun reads string, integer, number, boolean, array, object)";
      return false;
    }
  }
  if (auto d = schema.find("default"); d != schema.end())
    out->default_value = d->is_string() ? d->get<std::string>() : d->dump();
  return true;
}

void AppendScalarJson(const std::string& text, FieldType type, std::string* out, bool* ok) {
  switch (type) {
    case FieldType::kInt: {
      auto v = config::ParseInt(text);
      if (!v) break;
      out->append(std::to_string(*v));
      return;
    }
    case FieldType::kNumber: {
      if (auto i = config::ParseInt(text)) {
        out->append(std::to_string(*i));
        return;
      }
      auto v = config::ParseNumber(text);
      if (!v || !std::isfinite(*v)) break;
      char buf[expr::kNumberBufSize];
      out->append(buf, expr::FormatFloat(*v, buf));
      return;
    }
    case FieldType::kBool: {
      auto v = config::ParseBool(text);
      if (!v) break;
      out->append(*v ? "true" : "false");
      return;
    }
    case FieldType::kDuration: {
      auto v = config::ParseDurationMs(text);
      if (!v) break;
      out->append(std::to_string(*v));
      return;
    }
    default:
      AppendJsonString(text, out);
      return;
  }
  *ok = false;
}

bool Write(const ConfNode& node, const FieldSpec& spec, std::string* out, std::string* error) {
  if (node.IsNull()) {
    out->append("null");
    return true;
  }
  switch (spec.type) {
    case FieldType::kList: {
      if (!node.IsSequence()) break;
      out->push_back('[');
      for (size_t i = 0; i < node.items.size(); ++i) {
        if (i) out->push_back(',');
        if (!Write(node.items[i], *spec.item, out, error)) return false;
      }
      out->push_back(']');
      return true;
    }
    case FieldType::kMap:
    case FieldType::kObject: {
      if (!node.IsMap()) break;
      out->push_back('{');
      bool first = true;
      for (const auto& [key, value] : node.entries) {
        const FieldSpec* sub = spec.type == FieldType::kMap ? spec.item.get() : nullptr;
        for (const auto& f : spec.fields)
          if (f.name == key.scalar) sub = &f;
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(key.scalar, out);
        out->push_back(':');
        if (sub) {
          if (!Write(value, *sub, out, error)) return false;
        } else {  // an extra key the schema allows: as text
          FieldSpec any;
          any.type = FieldType::kAny;
          if (!Write(value, any, out, error)) return false;
        }
      }
      // Defaults of absent fields.
      for (const auto& f : spec.fields) {
        if (f.default_value.empty() || node.Find(f.name)) continue;
        if (!first) out->push_back(',');
        first = false;
        AppendJsonString(f.name, out);
        out->push_back(':');
        if (f.type == FieldType::kList || f.type == FieldType::kMap || f.type == FieldType::kObject) {
          out->append(f.default_value);  // JSON text, as the schema gave it
        } else {
          bool ok = true;
          AppendScalarJson(f.default_value, f.type, out, &ok);
          if (!ok) {
            *error = "the default of '" + f.name + "' (" + f.default_value + ") is not of its type";
            return false;
          }
        }
      }
      out->push_back('}');
      return true;
    }
    case FieldType::kAny: {
      if (node.IsSequence()) {
        FieldSpec list;
        list.type = FieldType::kList;
        list.item = std::make_shared<FieldSpec>(spec);
        return Write(node, list, out, error);
      }
      if (node.IsMap()) {
        FieldSpec map;
        map.type = FieldType::kMap;
        map.item = std::make_shared<FieldSpec>(spec);
        return Write(node, map, out, error);
      }
      AppendJsonString(node.scalar, out);
      return true;
    }
    default: {
      if (!node.IsScalar()) break;
      bool ok = true;
      AppendScalarJson(node.scalar, spec.type, out, &ok);
      if (ok) return true;
      break;
    }
  }
  *error =
      "'" + (spec.name.empty() ? node.scalar : spec.name) + "' is not of the type the plugin's schema gives";
  return false;
}

}  // namespace

bool SpecFromJsonSchema(const std::string& schema_text, FieldSpec* out, std::string* error) {
  Json schema = Json::parse(schema_text, nullptr, /*allow_exceptions=*/false);
  if (schema.is_discarded()) {
    *error = "its configuration schema is not valid JSON";
    return false;
  }
  return Convert(schema, "", out, error, 0);
}

bool ConfigJson(const ConfNode& value, const FieldSpec& spec, std::string* out, std::string* error) {
  out->clear();
  return Write(value, spec, out, error);
}

}  // namespace streamrun::plugin
