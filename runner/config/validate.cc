#include "runner/config/validate.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <functional>
#include <map>
#include <optional>
#include <set>

#include "runner/config/duration.h"
#include "runner/config/scalars.h"

namespace streamrun::config {

namespace {

// ---------------------------------------------------------------------------
// Wording helpers.

std::string Shorten(const std::string& s) { return s.size() <= 40 ? s : s.substr(0, 37) + "..."; }

std::string Quote(const std::string& s) { return "'" + Shorten(s) + "'"; }

// What a node is, for "got ..." in messages.
std::string Got(const ConfNode& n) {
  switch (n.type) {
    case ConfNode::Type::kNull:
      return "nothing";
    case ConfNode::Type::kScalar:
      return n.scalar.empty() ? "an empty string" : Quote(n.scalar);
    case ConfNode::Type::kSequence:
      return "a list";
    case ConfNode::Type::kMap:
      return "a map";
  }
  return "nothing";
}

std::string Join(const std::vector<std::string>& items, const std::string& sep, const std::string& last_sep) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += (i + 1 == items.size()) ? last_sep : sep;
    out += items[i];
  }
  return out;
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& candidates,
                       const std::string& fallback_label) {
  std::string near = NearestName(word, candidates);
  if (!near.empty()) return "did you mean '" + near + "'?";
  if (candidates.empty() || fallback_label.empty()) return {};
  std::vector<std::string> sorted = candidates;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  return fallback_label + ": " + Join(sorted, ", ", ", ");
}

// "a field name" / "field names" for a spec.
std::string Describe(const FieldSpec& s, bool plural = false) {
  switch (s.type) {
    case FieldType::kString:
      return plural ? "strings" : "a string";
    case FieldType::kInt:
      return plural ? "integers" : "an integer";
    case FieldType::kNumber:
      return plural ? "numbers" : "a number";
    case FieldType::kBool:
      return plural ? "booleans" : "true or false";
    case FieldType::kDuration:
      return plural ? "durations" : "a duration";
    case FieldType::kRate:
      return plural ? "rates" : "a rate";
    case FieldType::kExpr:
      return plural ? "expressions" : "an expression";
    case FieldType::kField:
      return plural ? "field names" : "a field name";
    case FieldType::kEnum:
      return (plural ? "values among " : "one of ") + Join(s.enum_values, ", ", ", ");
    case FieldType::kList:
      return (plural ? "lists of " : "a list of ") +
             (s.item ? Describe(*s.item, true) : std::string("values"));
    case FieldType::kMap:
      return (plural ? "maps of " : "a map of ") + (s.item ? Describe(*s.item, true) : std::string("values"));
    case FieldType::kObject:
      return plural ? "maps" : "a map";
    case FieldType::kOneOf: {
      std::vector<std::string> parts;
      for (const auto& a : s.alternatives) parts.push_back(Describe(a, plural));
      if (parts.empty()) return plural ? "values" : "a value";
      return Join(parts, ", ", " or ");
    }
    case FieldType::kAny:
      return plural ? "values" : "any value";
  }
  return "a value";
}

// ---------------------------------------------------------------------------
// Scalar syntax.

bool IsNumber(const std::string& text) { return ParseNumber(text).has_value(); }

// a.b.c, with `odd name` segments.
bool IsFieldPath(const std::string& text) {
  size_t i = 0;
  const size_t n = text.size();
  if (n == 0) return false;
  while (true) {
    if (i >= n) return false;
    if (text[i] == '`') {
      size_t close = text.find('`', i + 1);
      if (close == std::string::npos || close == i + 1) return false;
      i = close + 1;
    } else {
      size_t start = i;
      while (i < n && (std::isalnum(static_cast<unsigned char>(text[i])) || text[i] == '_')) ++i;
      if (i == start) return false;
    }
    if (i == n) return true;
    if (text[i] != '.') return false;
    ++i;
  }
}

// ---------------------------------------------------------------------------
// Value validation.

struct Ctx {
  std::string where;  // the enclosing thing, e.g. "source 'clicks'" or "runtime"
  std::string path;   // key path below it, e.g. "event_time.watermark"
};

bool PathLike(const std::string& s) { return !s.empty() && s.find_first_of(" '\"") == std::string::npos; }

std::string Display(const Ctx& c) {
  if (c.path.empty()) return c.where;
  if (c.where.empty()) return c.path;
  if (PathLike(c.where)) return c.where + (c.path[0] == '[' ? "" : ".") + c.path;
  if (c.path[0] == '[') return "item " + c.path + " of " + c.where;
  return "'" + c.path + "' in " + c.where;
}

Ctx Child(const Ctx& c, const std::string& key) {
  return Ctx{c.where, c.path.empty() ? key : c.path + "." + key};
}

Ctx Item(const Ctx& c, size_t i) { return Ctx{c.where, c.path + "[" + std::to_string(i) + "]"}; }

void Error(Diagnostics& d, const Mark& mark, const Ctx& ctx, const std::string& core, std::string hint = {}) {
  std::string where = Display(ctx);
  d.Add(mark, where.empty() ? core : where + ": " + core, std::move(hint));
}

bool KindMatches(const FieldSpec& s, const ConfNode& n) {
  if (s.type == FieldType::kAny) return true;
  switch (n.type) {
    case ConfNode::Type::kScalar:
      return s.type != FieldType::kList && s.type != FieldType::kMap && s.type != FieldType::kObject &&
             s.type != FieldType::kOneOf;
    case ConfNode::Type::kSequence:
      return s.type == FieldType::kList;
    case ConfNode::Type::kMap:
      return s.type == FieldType::kMap || s.type == FieldType::kObject;
    case ConfNode::Type::kNull:
      return false;
  }
  return false;
}

bool SameMark(const Mark& a, const Mark& b) {
  return a.file == b.file && a.line == b.line && a.column == b.column;
}

void Check(const ConfNode& n, const FieldSpec& s, const Ctx& ctx, Diagnostics& d,
           const std::vector<std::string>& extra_keys = {});

void CheckObject(const ConfNode& n, const FieldSpec& s, const Ctx& ctx, Diagnostics& d,
                 const std::vector<std::string>& extra_keys) {
  if (!n.IsMap() && !n.IsNull()) {
    Error(d, n.mark, ctx, "expected a map, got " + Got(n));
    return;
  }
  std::vector<std::string> known;
  for (const auto& f : s.fields) known.push_back(f.name);
  known.insert(known.end(), extra_keys.begin(), extra_keys.end());
  for (const auto& [key, value] : n.entries) {
    if (!key.IsScalar()) {
      Error(d, key.mark, ctx, "a key must be a plain name, got " + Got(key));
      continue;
    }
    const FieldSpec* field = nullptr;
    for (const auto& f : s.fields)
      if (f.name == key.scalar) field = &f;
    if (field == nullptr) {
      if (s.additional_fields ||
          std::find(extra_keys.begin(), extra_keys.end(), key.scalar) != extra_keys.end())
        continue;
      std::string where = Display(ctx);
      d.Add(key.mark, "unknown key " + Quote(key.scalar) + (where.empty() ? "" : " in " + where),
            DidYouMean(key.scalar, known, "valid keys"));
      continue;
    }
    if (value.IsNull()) {
      if (field->required) {
        std::string where = Display(ctx);
        d.Add(value.mark,
              "required key '" + field->name + "'" + (where.empty() ? "" : " in " + where) + " has no value",
              "expected " + Describe(*field));
      }
      continue;  // an optional key without value keeps its default
    }
    Check(value, *field, Child(ctx, key.scalar), d);
  }
  for (const auto& f : s.fields) {
    if (!f.required || n.Find(f.name) != nullptr) continue;
    std::string where = Display(ctx);
    d.Add(n.mark, "missing required key '" + f.name + "'" + (where.empty() ? "" : " in " + where),
          f.description.empty() ? std::string() : f.name + ": " + f.description);
  }
}

void CheckOneOf(const ConfNode& n, const FieldSpec& s, const Ctx& ctx, Diagnostics& d) {
  if (s.alternatives.empty()) return;
  std::vector<Diagnostics> results(s.alternatives.size());
  for (size_t i = 0; i < s.alternatives.size(); ++i) {
    Check(n, s.alternatives[i], ctx, results[i]);
    if (results[i].empty()) return;
  }
  // The alternative that fits the node's kind (scalar, list, map) explains best.
  const Diagnostics* best = nullptr;
  for (size_t i = 0; i < s.alternatives.size() && best == nullptr; ++i)
    if (KindMatches(s.alternatives[i], n)) best = &results[i];
  std::string hint;
  if (best != nullptr) {
    bool at_node = false;
    for (const auto& diag : best->list())
      if (SameMark(diag.mark, n.mark)) {
        at_node = true;
        if (hint.empty()) hint = diag.hint;
      }
    if (!at_node) {
      d.Append(*best);
      return;
    }
  }
  Error(d, n.mark, ctx, "expected " + Describe(s) + ", got " + Got(n), hint);
  if (best != nullptr)
    for (const auto& diag : best->list())
      if (!SameMark(diag.mark, n.mark)) d.Add(diag.mark, diag.message, diag.hint);
}

void Check(const ConfNode& n, const FieldSpec& s, const Ctx& ctx, Diagnostics& d,
           const std::vector<std::string>& extra_keys) {
  switch (s.type) {
    case FieldType::kAny:
      return;
    case FieldType::kObject:
      CheckObject(n, s, ctx, d, extra_keys);
      return;
    case FieldType::kOneOf:
      CheckOneOf(n, s, ctx, d);
      return;
    case FieldType::kList: {
      if (n.IsNull()) return;
      if (!n.IsSequence()) {
        std::string hint;
        if (n.IsScalar()) hint = "write [" + Shorten(n.scalar) + "] for a list of one";
        Error(d, n.mark, ctx, "expected " + Describe(s) + ", got " + Got(n), hint);
        return;
      }
      if (!s.item) return;
      for (size_t i = 0; i < n.items.size(); ++i) Check(n.items[i], *s.item, Item(ctx, i), d);
      return;
    }
    case FieldType::kMap: {
      if (n.IsNull()) return;
      if (!n.IsMap()) {
        Error(d, n.mark, ctx, "expected " + Describe(s) + ", got " + Got(n));
        return;
      }
      for (const auto& [key, value] : n.entries) {
        if (!key.IsScalar()) {
          Error(d, key.mark, ctx, "a key must be a plain name, got " + Got(key));
          continue;
        }
        if (s.item) Check(value, *s.item, Child(ctx, key.scalar), d);
      }
      return;
    }
    default:
      break;
  }

  // Scalar types.
  if (!n.IsScalar()) {
    Error(d, n.mark, ctx, "expected " + Describe(s) + ", got " + Got(n));
    return;
  }
  const std::string& text = n.scalar;
  switch (s.type) {
    case FieldType::kString:
      return;
    case FieldType::kInt:
      if (!ParseInt(text)) Error(d, n.mark, ctx, Quote(text) + " is not an integer");
      return;
    case FieldType::kNumber:
      if (!IsNumber(text)) Error(d, n.mark, ctx, Quote(text) + " is not a number");
      return;
    case FieldType::kBool:
      if (!ParseBool(text)) Error(d, n.mark, ctx, "expected true or false, got " + Got(n));
      return;
    case FieldType::kDuration:
      if (!ParseDurationMs(text)) {
        std::string hint;
        if (ParseInt(text)) hint = "add a unit, e.g. '" + Trim(text) + "s' or '" + Trim(text) + "ms'";
        Error(d, n.mark, ctx, Quote(text) + " is not a duration (expected e.g. 250ms, 5s, 30m, 1h)", hint);
      }
      return;
    case FieldType::kRate:
      if (!ParseRatePerSecond(text))
        Error(d, n.mark, ctx, Quote(text) + " is not a rate (expected e.g. 2000/s, 100/ms)");
      return;
    case FieldType::kExpr:
      if (Trim(text).empty()) Error(d, n.mark, ctx, "expected an expression, got an empty string");
      return;
    case FieldType::kField:
      if (!IsFieldPath(text))
        Error(d, n.mark, ctx, Quote(text) + " is not a field name (expected a.b.c or `odd name`)");
      return;
    case FieldType::kEnum:
      if (std::find(s.enum_values.begin(), s.enum_values.end(), text) == s.enum_values.end())
        Error(d, n.mark, ctx, "expected one of " + Join(s.enum_values, ", ", ", ") + ", got " + Got(n),
              DidYouMean(text, s.enum_values, ""));
      return;
    default:
      return;
  }
}

// ---------------------------------------------------------------------------
// The pipeline.

const char* KindName(ComponentKind k) {
  switch (k) {
    case ComponentKind::kSource:
      return "source";
    case ComponentKind::kSink:
      return "sink";
    case ComponentKind::kStep:
      return "step";
  }
  return "component";
}

std::vector<std::string> CatalogNames(const ComponentCatalog& catalog, ComponentKind kind) {
  std::vector<std::string> names;
  for (const ComponentSpec* c : catalog.All(kind))
    if (c != nullptr) names.push_back(c->name);
  std::sort(names.begin(), names.end());
  return names;
}

struct GraphNode {
  std::string name;
  std::string kind;  // "source", "transform", "sink"
  const ConfNode* key = nullptr;
  const ConfNode* value = nullptr;
  bool has_late_output = false;         // a step gives it a `.late` output
  std::vector<const ConfNode*> inputs;  // scalar nodes naming inputs
  bool input_given = false;             // `input` or `inputs` present (even if malformed)
};

class PipelineValidator {
 public:
  PipelineValidator(const ConfNode& root, const ComponentCatalog& catalog, Diagnostics& d)
      : root_(root), catalog_(catalog), d_(d) {}

  void Run() {
    if (!root_.IsMap()) {
      d_.Add(root_.mark, "a pipeline file must be a map, got " + Got(root_),
             "start with 'name:', 'sources:' and 'sinks:'");
      return;
    }
    CheckTopLevel();
    CheckRuntime();
    CheckSection("sources", ComponentKind::kSource);
    CheckTransforms();
    CheckSection("sinks", ComponentKind::kSink);
    CheckGraph();
    CheckDeadLetter();
  }

 private:
  void CheckTopLevel() {
    static const std::vector<std::string> kKeys = {"name",    "plugins",    "runtime",
                                                   "sources", "transforms", "sinks"};
    for (const auto& [key, value] : root_.entries) {
      if (!key.IsScalar()) {
        d_.Add(key.mark, "a key must be a plain name, got " + Got(key));
        continue;
      }
      if (std::find(kKeys.begin(), kKeys.end(), key.scalar) == kKeys.end())
        d_.Add(key.mark, "unknown top-level key " + Quote(key.scalar),
               DidYouMean(key.scalar, kKeys, "valid keys"));
    }
    const ConfNode* name = root_.Find("name");
    if (name == nullptr) {
      d_.Add(root_.mark, "missing required key 'name'", "name the pipeline, e.g. 'name: clickstream-top10'");
    } else if (!name->IsScalar() || Trim(name->scalar).empty()) {
      d_.Add(name->IsNull() ? root_.KeyMark("name") : name->mark,
             "name: expected a pipeline name, got " + Got(*name));
    } else {
      bool ok = true;
      for (char c : name->scalar)
        ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-');
      if (!ok)
        d_.Add(name->mark,
               "name " + Quote(name->scalar) + " may only contain letters, digits, '.', '_' and '-'",
               "it names the consumer group and the checkpoint folder");
    }
    // Plugin libraries: a list of paths (loaded before validation, by the
    // command: runner/cli/pipeline_file.cc).
    if (const ConfNode* plugins = root_.Find("plugins")) {
      bool ok = plugins->IsSequence() && !plugins->items.empty();
      for (const auto& item : plugins->items) ok = ok && item.IsScalar() && !Trim(item.scalar).empty();
      if (!ok)
        d_.Add(plugins->IsNull() ? root_.KeyMark("plugins") : plugins->mark,
               "plugins: expected a list of plugin library paths, got " + Got(*plugins),
               "e.g. `plugins: [../build/release/plugins/libsessionize.so]` (relative to the pipeline file)");
    }
  }

  void CheckRuntime() {
    const ConfNode* rt = root_.Find("runtime");
    if (rt == nullptr) return;
    Check(*rt, RuntimeSpec(), Ctx{"runtime", ""}, d_);
    if (!rt->IsMap()) return;
    auto scalar = [](const ConfNode* n, std::string_view key) -> const ConfNode* {
      if (n == nullptr || !n->IsMap()) return nullptr;
      const ConfNode* v = n->Find(key);
      return v != nullptr && v->IsScalar() ? v : nullptr;
    };
    if (const ConfNode* p = scalar(rt, "parallelism")) {
      auto v = ParseInt(p->scalar);
      if (v && *v < 1) d_.Add(p->mark, "runtime.parallelism: must be at least 1, got " + Got(*p));
    }
    if (const ConfNode* m = scalar(rt, "member")) {
      if (!ValidMemberName(m->scalar))
        d_.Add(m->mark, "runtime.member: " + Quote(m->scalar) + " is not a member name",
               "letters, digits, '.', '_' and '-', 1 to 64 characters");
    }
    for (const char* server : {"metrics", "ui"}) {
      const ConfNode* listen = scalar(rt->Find(server), "listen");
      if (listen == nullptr) continue;
      const std::string what = std::string("runtime.") + server + ".listen: " + Quote(listen->scalar);
      const size_t colon = listen->scalar.rfind(':');
      auto port = colon == std::string::npos ? std::nullopt : ParseInt(listen->scalar.substr(colon + 1));
      if (colon == std::string::npos)
        d_.Add(listen->mark, what + " is not host:port",
               "e.g. 127.0.0.1:9249, or 0.0.0.0:9249 for every address");
      else if (!port || *port < 0 || *port > 65535)
        d_.Add(listen->mark, what + " has no valid port", "a port from 0 (any free one) to 65535");
    }
    const ConfNode* state = rt->Find("state");
    if (const ConfNode* backend = scalar(state, "backend")) {
      if (backend->scalar == "rocksdb" && scalar(state, "path") == nullptr)
        d_.Add(state->mark, "runtime.state: backend rocksdb needs 'path'",
               "e.g. path: /var/lib/streamrun/state");
    }
    const ConfNode* ckpt = rt->Find("checkpoint");
    if (const ConfNode* retain = scalar(ckpt, "retain")) {
      auto v = ParseInt(retain->scalar);
      if (v && *v < 1)
        d_.Add(retain->mark, "runtime.checkpoint.retain: must be at least 1, got " + Got(*retain));
    }
    for (const char* key : {"interval", "timeout"}) {
      if (const ConfNode* dur = scalar(ckpt, key)) {
        auto v = ParseDurationMs(dur->scalar);
        if (v && *v == 0)
          d_.Add(dur->mark, std::string("runtime.checkpoint.") + key + ": must be more than 0");
      }
    }
    if (const ConfNode* storage = scalar(ckpt, "storage")) {
      const std::string& s = storage->scalar;
      bool file = s.rfind("file://", 0) == 0 && s.size() > 7;
      bool s3 = s.rfind("s3://", 0) == 0 && s.size() > 5;
      if (!file && !s3)
        d_.Add(storage->mark,
               "runtime.checkpoint.storage: " + Got(*storage) + " is not a checkpoint location",
               "write file://DIR or s3://bucket/prefix");
    }
  }

  void Register(const ConfNode& key, const ConfNode& value, const std::string& kind) {
    if (!key.IsScalar()) {
      d_.Add(key.mark, "a " + kind + " name must be a plain name, got " + Got(key));
      return;
    }
    const std::string& name = key.scalar;
    if (name.empty()) {
      d_.Add(key.mark, "a " + kind + " name must not be empty");
      return;
    }
    if (name.find('.') != std::string::npos)
      d_.Add(key.mark, kind + " name " + Quote(name) + " must not contain '.'",
             "'NAME.late' refers to the late side output of a window");
    auto it = index_.find(name);
    if (it != index_.end()) {
      const GraphNode& other = nodes_[it->second];
      // Two of a kind under one key are duplicate keys, reported by the loader.
      if (other.kind != kind)
        d_.Add(key.mark,
               "name " + Quote(name) + " is already used by a " + other.kind + " (line " +
                   std::to_string(other.key->mark.line) + ")",
               "sources, transforms and sinks share one namespace");
      return;
    }
    index_[name] = nodes_.size();
    nodes_.push_back(GraphNode{name, kind, &key, &value, false, {}, false});
  }

  GraphNode* Node(const ConfNode& key) {
    if (!key.IsScalar()) return nullptr;
    auto it = index_.find(key.scalar);
    if (it == index_.end()) return nullptr;
    GraphNode& n = nodes_[it->second];
    return n.key == &key ? &n : nullptr;
  }

  // Reads `input` / `inputs` of a transform or sink.
  void CollectInputs(const ConfNode& value, GraphNode* node, const std::string& where) {
    const ConfNode* input = value.Find("input");
    const ConfNode* inputs = value.Find("inputs");
    if (input != nullptr && inputs != nullptr)
      d_.Add(value.KeyMark("inputs"), where + " has both 'input' and 'inputs'",
             "use input: NAME for one input or inputs: [A, B] for several");
    std::vector<const ConfNode*> refs;
    if (input != nullptr) {
      if (input->IsScalar() && !Trim(input->scalar).empty()) {
        refs.push_back(input);
      } else {
        d_.Add(input->IsNull() ? value.KeyMark("input") : input->mark,
               where + ": input: expected a node name, got " + Got(*input),
               input->IsSequence() ? "use inputs: [A, B] for several inputs" : "");
      }
    }
    if (inputs != nullptr) {
      if (inputs->IsSequence() && !inputs->items.empty()) {
        std::set<std::string> seen;
        for (const auto& item : inputs->items) {
          if (!item.IsScalar() || Trim(item.scalar).empty()) {
            d_.Add(item.mark, where + ": inputs: expected a node name, got " + Got(item));
          } else if (!seen.insert(item.scalar).second) {
            d_.Add(item.mark, where + ": input " + Quote(item.scalar) + " is listed twice");
          } else {
            refs.push_back(&item);
          }
        }
      } else {
        d_.Add(inputs->IsNull() ? value.KeyMark("inputs") : inputs->mark,
               where + ": inputs: expected a list of node names, got " + Got(*inputs),
               inputs->IsScalar()
                   ? "write inputs: [" + Shorten(inputs->scalar) + "] or input: " + Shorten(inputs->scalar)
                   : "");
      }
    }
    if (node != nullptr) {
      node->input_given = input != nullptr || inputs != nullptr;
      node->inputs = refs;
    }
  }

  void CheckSection(const char* section, ComponentKind kind) {
    const std::string kind_name = KindName(kind);
    const ConfNode* sec = root_.Find(section);
    if (sec == nullptr || sec->IsNull() || (sec->IsMap() && sec->entries.empty())) {
      d_.Add(sec == nullptr ? root_.mark : root_.KeyMark(section),
             "a pipeline needs at least one " + kind_name,
             std::string("add ") + section + ": {NAME: {type: ...}}");
      return;
    }
    if (!sec->IsMap()) {
      d_.Add(sec->mark, std::string(section) + ": expected a map of " + kind_name + " names to " + kind_name +
                            "s, got " + Got(*sec));
      return;
    }
    for (const auto& [key, value] : sec->entries) {
      Register(key, value, kind_name);
      if (!key.IsScalar()) continue;
      CheckComponent(key, value, kind, Node(key));
    }
  }

  void CheckComponent(const ConfNode& key, const ConfNode& value, ComponentKind kind, GraphNode* node) {
    const std::string kind_name = KindName(kind);
    const std::string where = kind_name + " " + Quote(key.scalar);
    const std::vector<std::string> names = CatalogNames(catalog_, kind);
    if (!value.IsMap()) {
      d_.Add(value.IsNull() ? key.mark : value.mark,
             where + ": expected a map with 'type' and its options, got " + Got(value));
      return;
    }
    if (kind == ComponentKind::kSink) CollectInputs(value, node, where);
    const ConfNode* type = value.Find("type");
    if (type == nullptr) {
      d_.Add(value.mark, "missing required key 'type' in " + where,
             names.empty() ? std::string() : "one of: " + Join(names, ", ", ", "));
      return;
    }
    if (!type->IsScalar()) {
      d_.Add(type->IsNull() ? value.KeyMark("type") : type->mark,
             where + ": type: expected a " + kind_name + " type, got " + Got(*type));
      return;
    }
    const ComponentSpec* spec = catalog_.Find(kind, type->scalar);
    if (spec == nullptr) {
      d_.Add(type->mark, "unknown " + kind_name + " type " + Quote(type->scalar) + " in " + where,
             names.empty() ? "no " + kind_name + " types are available"
                           : DidYouMean(type->scalar, names, "available"));
      return;
    }
    std::vector<std::string> extra = {"type"};
    if (kind == ComponentKind::kSink) {
      extra.push_back("input");
      extra.push_back("inputs");
      extra.push_back("preview");
      if (const ConfNode* preview = value.Find("preview");
          preview != nullptr && !(preview->IsScalar() && ParseBool(preview->scalar)))
        d_.Add(preview->IsNull() ? value.KeyMark("preview") : preview->mark,
               where + ": preview: expected true or false, got " + Got(*preview),
               "preview: true shows the sink's latest rows in the web view (runtime.ui)");
    }
    if (spec->value.type == FieldType::kObject) {
      Check(value, spec->value, Ctx{where, ""}, d_, extra);
    } else if (spec->value.type != FieldType::kAny) {
      // Not an object spec: the keys besides `type` form the value.
      ConfNode rest = value;
      rest.entries.clear();
      for (const auto& e : value.entries)
        if (!e.first.IsScalar() || std::find(extra.begin(), extra.end(), e.first.scalar) == extra.end())
          rest.entries.push_back(e);
      Check(rest, spec->value, Ctx{where, ""}, d_);
    }
  }

  void CheckTransforms() {
    const ConfNode* sec = root_.Find("transforms");
    if (sec == nullptr || sec->IsNull()) return;
    if (!sec->IsMap()) {
      d_.Add(sec->mark, "transforms: expected a map of transform names to transforms, got " + Got(*sec));
      return;
    }
    static const std::vector<std::string> kKeys = {"input", "inputs", "steps"};
    const std::vector<std::string> step_names = CatalogNames(catalog_, ComponentKind::kStep);
    for (const auto& [key, value] : sec->entries) {
      Register(key, value, "transform");
      if (!key.IsScalar()) continue;
      GraphNode* node = Node(key);
      const std::string where = "transform " + Quote(key.scalar);
      if (!value.IsMap()) {
        d_.Add(value.IsNull() ? key.mark : value.mark,
               where + ": expected a map with 'input' and 'steps', got " + Got(value));
        continue;
      }
      for (const auto& [k, v] : value.entries) {
        if (!k.IsScalar()) {
          d_.Add(k.mark, "a key must be a plain name, got " + Got(k));
        } else if (std::find(kKeys.begin(), kKeys.end(), k.scalar) == kKeys.end()) {
          d_.Add(k.mark, "unknown key " + Quote(k.scalar) + " in " + where,
                 DidYouMean(k.scalar, kKeys, "valid keys"));
        }
      }
      CollectInputs(value, node, where);
      if (value.Find("input") == nullptr && value.Find("inputs") == nullptr)
        d_.Add(value.mark, where + " has no input",
               "add input: NAME (a source or transform) or inputs: [A, B]");
      const ConfNode* steps = value.Find("steps");
      if (steps == nullptr) {
        d_.Add(value.mark, "missing required key 'steps' in " + where,
               "list the steps, e.g. steps: [{filter: \"x > 0\"}]");
        continue;
      }
      if (!steps->IsSequence() || steps->items.empty()) {
        d_.Add(steps->IsNull() ? value.KeyMark("steps") : steps->mark,
               where + ": steps: expected a non-empty list of steps, got " +
                   (steps->IsSequence() ? std::string("an empty list") : Got(*steps)),
               "write each step as '- NAME: VALUE'");
        continue;
      }
      for (const ConfNode& step : steps->items) {
        if (!step.IsMap() || step.entries.empty()) {
          d_.Add(step.mark,
                 where + ": a step is a map with one key such as 'filter: EXPR', got " + Got(step));
          continue;
        }
        if (step.entries.size() > 1) {
          std::vector<std::string> keys;
          for (const auto& e : step.entries) keys.push_back(Quote(e.first.scalar));
          d_.Add(step.entries[1].first.mark,
                 where + ": a step has a single key, found " + Join(keys, ", ", " and "),
                 "start each step with '- ', or indent its options under the step name");
        }
        const auto& [sk, sv] = step.entries.front();
        if (!sk.IsScalar()) {
          d_.Add(sk.mark, where + ": a step name must be a plain name, got " + Got(sk));
          continue;
        }
        const ComponentSpec* spec = catalog_.Find(ComponentKind::kStep, sk.scalar);
        if (spec == nullptr) {
          d_.Add(
              sk.mark, "unknown step " + Quote(sk.scalar) + " in " + where,
              step_names.empty() ? "no steps are available" : DidYouMean(sk.scalar, step_names, "available"));
          continue;
        }
        if (spec->late_output && node != nullptr) node->has_late_output = true;
        Check(sv, spec->value, Ctx{sk.scalar + " step of " + where, ""}, d_);
      }
    }
  }

  void CheckGraph() {
    std::vector<std::string> input_names;  // sources and transforms
    for (const auto& n : nodes_)
      if (n.kind != "sink") input_names.push_back(n.name);
    // Resolve inputs; edges among transforms for the cycle check.
    std::vector<std::vector<std::pair<size_t, const ConfNode*>>> edges(nodes_.size());
    for (size_t i = 0; i < nodes_.size(); ++i) {
      const GraphNode& n = nodes_[i];
      const std::string where = n.kind + " " + Quote(n.name);
      for (const ConfNode* ref : n.inputs) {
        const std::string& target = ref->scalar;
        auto it = index_.find(target);
        if (it != index_.end()) {
          const GraphNode& t = nodes_[it->second];
          if (t.kind == "sink") {
            d_.Add(ref->mark, where + ": input " + Quote(target) +
                                  " is a sink; only sources and transforms can be inputs");
          } else if (t.kind == "transform" && n.kind == "transform") {
            edges[i].push_back({it->second, ref});
          }
          continue;
        }
        const std::string suffix = ".late";
        if (target.size() > suffix.size() &&
            target.compare(target.size() - suffix.size(), suffix.size(), suffix) == 0) {
          std::string base = target.substr(0, target.size() - suffix.size());
          auto bit = index_.find(base);
          if (bit != index_.end()) {
            const GraphNode& t = nodes_[bit->second];
            if (t.kind != "transform") {
              d_.Add(ref->mark, where + ": input " + Quote(target) + ": " + Quote(base) + " is a " + t.kind +
                                    "; only a transform with a window step has a late output");
            } else if (!t.has_late_output) {
              d_.Add(ref->mark, where + ": input " + Quote(target) + ": transform " + Quote(base) +
                                    " has no window step, so no late output");
            } else if (n.kind == "transform") {
              edges[i].push_back({bit->second, ref});
            }
            continue;
          }
        }
        d_.Add(ref->mark, "unknown input " + Quote(target) + " of " + where,
               DidYouMean(target, input_names, "sources and transforms"));
      }
    }
    FindCycles(edges);
  }

  void FindCycles(const std::vector<std::vector<std::pair<size_t, const ConfNode*>>>& edges) {
    enum Color { kWhite, kGray, kBlack };
    std::vector<Color> color(nodes_.size(), kWhite);
    std::vector<size_t> stack;
    // Iterative DFS: frames of (node, next edge index).
    for (size_t start = 0; start < nodes_.size(); ++start) {
      if (color[start] != kWhite || nodes_[start].kind != "transform") continue;
      std::vector<std::pair<size_t, size_t>> frames = {{start, 0}};
      color[start] = kGray;
      stack = {start};
      while (!frames.empty()) {
        auto& [v, next] = frames.back();
        if (next < edges[v].size()) {
          auto [w, ref] = edges[v][next++];
          if (color[w] == kWhite) {
            color[w] = kGray;
            frames.push_back({w, 0});
            stack.push_back(w);
          } else if (color[w] == kGray) {
            // stack from w to v, then back to w; printed in data-flow order.
            auto pos = std::find(stack.begin(), stack.end(), w);
            std::vector<std::string> flow = {nodes_[w].name};
            for (auto p = stack.end(); p != pos + 1;) flow.push_back(nodes_[*--p].name);
            flow.push_back(nodes_[w].name);
            d_.Add(ref->mark, "transforms form a cycle: " + Join(flow, " -> ", " -> "),
                   "a transform cannot read, directly or not, its own output");
          }
        } else {
          color[v] = kBlack;
          frames.pop_back();
          stack.pop_back();
        }
      }
    }
  }

  void CheckDeadLetter() {
    std::string policy = "fail";
    const ConfNode* errors = nullptr;
    if (const ConfNode* rt = root_.Find("runtime"); rt != nullptr && rt->IsMap()) errors = rt->Find("errors");
    const ConfNode* sink_ref = nullptr;
    if (errors != nullptr && errors->IsMap()) {
      if (const ConfNode* p = errors->Find("policy"); p != nullptr && p->IsScalar()) policy = p->scalar;
      if (const ConfNode* s = errors->Find("sink"); s != nullptr && s->IsScalar()) sink_ref = s;
    }
    std::string dead_letter;
    std::vector<std::string> sink_names;
    for (const auto& n : nodes_)
      if (n.kind == "sink") sink_names.push_back(n.name);
    if (policy == "dead_letter") {
      if (sink_ref == nullptr) {
        d_.Add(errors->mark, "runtime.errors: policy dead_letter needs 'sink'",
               "name the sink that receives bad records, e.g. sink: bad_records");
      } else {
        auto it = index_.find(sink_ref->scalar);
        if (it == index_.end() || nodes_[it->second].kind != "sink") {
          d_.Add(sink_ref->mark, "runtime.errors.sink: " + Quote(sink_ref->scalar) + " is not a sink",
                 DidYouMean(sink_ref->scalar, sink_names, "sinks"));
        } else {
          dead_letter = sink_ref->scalar;
          const GraphNode& s = nodes_[it->second];
          if (s.input_given)
            d_.Add(s.value->KeyMark(s.value->Find("input") ? "input" : "inputs"),
                   "dead-letter sink " + Quote(s.name) + " must not have an input",
                   "the error policy feeds it; remove its input");
        }
      }
    } else if (sink_ref != nullptr) {
      d_.Add(sink_ref->mark, "runtime.errors.sink is only used with policy: dead_letter",
             "set policy: dead_letter or remove sink");
    }
    for (const auto& n : nodes_) {
      if (n.kind != "sink" || n.input_given || n.name == dead_letter) continue;
      if (!n.value->IsMap()) continue;  // already reported
      d_.Add(n.key->mark, "sink " + Quote(n.name) + " has no input",
             dead_letter.empty() && policy != "dead_letter"
                 ? "add input: NAME, or make it the dead-letter sink with runtime.errors: "
                   "{policy: dead_letter, sink: " +
                       n.name + "}"
                 : "add input: NAME (a source or transform)");
    }
  }

  const ConfNode& root_;
  const ComponentCatalog& catalog_;
  Diagnostics& d_;
  std::vector<GraphNode> nodes_;
  std::map<std::string, size_t> index_;
};

}  // namespace

void ValidateValue(const ConfNode& node, const FieldSpec& spec, const std::string& where,
                   Diagnostics& diags) {
  Check(node, spec, Ctx{where, ""}, diags);
}

bool ValidMemberName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') return false;
  return true;
}

const FieldSpec& RuntimeSpec() {
  static const FieldSpec spec = Obj(
      "runtime",
      {
          Example(Int("parallelism", "Worker threads; at least 1. Default: the number of cores."), "2"),
          Example(Str("member",
                      "This process's name in a job of several processes (docs/scaling.md): letters, "
                      "digits, '.', '_' and '-', at most 64, not starting with `task-`. Every process "
                      "started with the pipeline's name and a member name joins the job and runs the "
                      "tasks the consumer group gives it. `--member` overrides."),
                  "worker-1"),
          Obj("state",
              {
                  Default(Enum("backend", {"memory", "rocksdb"},
                               "Where keyed state lives: in memory, or in RocksDB under `path`."),
                          "memory"),
                  Str("path",
                      "The RocksDB directory (backend rocksdb): each worker's database, a scratch "
                      "copy rebuilt from the checkpoint at every start."),
                  Example(Str("cache",
                              "Memory for hot keys per worker and stateful step, kept decoded; the other "
                              "keys are kept encoded (in memory, or on disk with rocksdb). Default: 16MB "
                              "with memory, 256MB with rocksdb."),
                          "256MB"),
              },
              "Keyed state of window, dedupe and top_n, with its timers (with rocksdb: in RocksDB)."),
          Obj("checkpoint",
              {
                  Example(Default(Dur("interval", "Time between the starts of two checkpoints."), "10s"),
                          "10s"),
                  Example(Required(Str("storage",
                                       "Where checkpoints are written: file://DIR or "
                                       "s3://bucket/prefix.")),
                          "file://ckpt"),
                  Default(Enum("mode", {"exactly_once", "at_least_once"}, "Delivery guarantee of the sinks."),
                          "exactly_once"),
                  Default(Int("retain", "Completed checkpoints kept; at least 1."), "3"),
                  Str("endpoint",
                      "s3: the store's URL, scheme://host[:port] (MinIO, s3rver...); default "
                      "AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, else AWS's endpoint for the region."),
                  Str("region",
                      "s3: the region to sign for; default AWS_REGION, AWS_DEFAULT_REGION, us-east-1."),
                  Bool("path_style",
                       "s3: address the bucket in the path (http://host/bucket/key) rather than the host "
                       "name; "
                       "default true when an endpoint is given."),
                  Default(Dur("timeout", "A checkpoint not complete after this long is aborted."), "10m"),
              },
              "Periodic consistent snapshots of source offsets and operator state. Absent: no "
              "checkpoints."),
          Obj("metrics",
              {
                  Example(Default(Str("listen",
                                      "Where /metrics is served, host:port (port 0: any free port). "
                                      "Loopback unless you name another address."),
                                  "127.0.0.1:9249"),
                          "127.0.0.1:9249"),
              },
              "Prometheus metrics in text format at /metrics (docs/metrics.md). Absent: not served."),
          Obj("ui",
              {
                  Example(Default(Str("listen",
                                      "Where the web view is served, host:port (port 0: any free port). "
                                      "Loopback unless you name another address."),
                                  "127.0.0.1:8081"),
                          "127.0.0.1:8081"),
              },
              "The live web view: the operator graph with rates, watermarks and lag, checkpoints, and "
              "charts of `preview` sinks (docs/metrics.md). Absent: not served."),
          Obj("errors",
              {
                  Default(Enum("policy", {"fail", "skip", "dead_letter"},
                               "What a record error does: stop the run, count and drop the "
                               "record, or send it to the dead-letter sink."),
                          "fail"),
                  Str("sink", "The dead-letter sink (policy dead_letter): a sink without input."),
              },
              "Handling of records that cannot be decoded or fail an expression."),
      },
      "How the pipeline runs: threads, state, checkpoints and record errors. Every "
      "key is optional.");
  return spec;
}

void ValidatePipeline(const ConfNode& root, const ComponentCatalog& catalog, Diagnostics& diags) {
  PipelineValidator(root, catalog, diags).Run();
}

}  // namespace streamrun::config
