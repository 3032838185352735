#include "runner/config/options.h"

#include <stdexcept>

#include "runner/config/duration.h"
#include "runner/config/scalars.h"

namespace streamrun::config {

Options::Options(const ConfNode* node, const FieldSpec& spec, std::string where, ReadLog* log)
    : node_(node != nullptr && node->IsMap() ? node : nullptr),
      spec_(&spec),
      where_(std::move(where)),
      log_(log) {
  if (spec.type != FieldType::kObject)
    throw std::logic_error("Options over " + where_ + ", whose spec is not an object");
}

const FieldSpec& Options::Spec(const std::string& name, std::initializer_list<FieldType> types) const {
  for (const auto& f : spec_->fields) {
    if (f.name != name) continue;
    bool fits = types.size() == 0;
    for (FieldType t : types) fits = fits || f.type == t;
    if (!fits)
      throw std::logic_error(where_ + ": option '" + name + "' is read as another type than its spec's");
    if (log_) log_->insert(where_ + "." + name);
    return f;
  }
  throw std::logic_error(where_ + ": option '" + name + "' is not in its spec");
}

const ConfNode* Options::Node(const std::string& name) const {
  Spec(name, {});
  if (node_ == nullptr) return nullptr;
  const ConfNode* n = node_->Find(name);
  return n != nullptr && !n->IsNull() ? n : nullptr;
}

bool Options::Has(const std::string& name) const { return Node(name) != nullptr; }

bool Options::Declares(const std::string& name) const {
  for (const auto& f : spec_->fields)
    if (f.name == name) return true;
  return false;
}

std::optional<std::string> Options::Text(const FieldSpec& field) const {
  if (node_ != nullptr)
    if (const ConfNode* n = node_->Find(field.name); n != nullptr && n->IsScalar()) return n->scalar;
  if (!field.default_value.empty()) return field.default_value;
  return std::nullopt;
}

namespace {
// A written value validation refused reads as the default (the run never
// starts with it: validation reported it).
template <typename T, typename Parse>
std::optional<T> Read(const std::optional<std::string>& text, const FieldSpec& field, Parse parse) {
  if (!text) return std::nullopt;
  if (auto v = parse(*text)) return *v;
  if (!field.default_value.empty()) return parse(field.default_value);
  return std::nullopt;
}
}  // namespace

std::optional<bool> Options::OptBool(const std::string& name) const {
  const FieldSpec& f = Spec(name, {FieldType::kBool});
  return Read<bool>(Text(f), f, [](const std::string& t) { return ParseBool(t); });
}
bool Options::Bool(const std::string& name) const { return OptBool(name).value_or(false); }

std::optional<int64_t> Options::OptInt(const std::string& name) const {
  const FieldSpec& f = Spec(name, {FieldType::kInt});
  return Read<int64_t>(Text(f), f, [](const std::string& t) { return ParseInt(t); });
}
int64_t Options::Int(const std::string& name) const { return OptInt(name).value_or(0); }

double Options::Number(const std::string& name) const {
  const FieldSpec& f = Spec(name, {FieldType::kNumber, FieldType::kInt});
  return Read<double>(Text(f), f, [](const std::string& t) { return ParseNumber(t); }).value_or(0);
}

std::optional<int64_t> Options::OptDurationMs(const std::string& name) const {
  const FieldSpec& f = Spec(name, {FieldType::kDuration});
  return Read<int64_t>(Text(f), f, [](const std::string& t) { return ParseDurationMs(t); });
}
int64_t Options::DurationMs(const std::string& name) const { return OptDurationMs(name).value_or(0); }

std::optional<double> Options::OptRate(const std::string& name) const {
  const FieldSpec& f = Spec(name, {FieldType::kRate});
  return Read<double>(Text(f), f, [](const std::string& t) { return ParseRatePerSecond(t); });
}

std::optional<std::string> Options::OptString(const std::string& name) const {
  const FieldSpec& f =
      Spec(name, {FieldType::kString, FieldType::kField, FieldType::kExpr, FieldType::kEnum});
  return Text(f);
}
std::string Options::String(const std::string& name) const { return OptString(name).value_or(""); }

std::string Options::Enum(const std::string& name) const {
  const FieldSpec& f = Spec(name, {FieldType::kEnum});
  auto text = Text(f);
  if (text)
    for (const auto& v : f.enum_values)
      if (v == *text) return v;
  return f.default_value;
}

std::vector<std::string> Options::Strings(const std::string& name) const {
  Spec(name, {FieldType::kList});
  std::vector<std::string> out;
  if (node_ == nullptr) return out;
  if (const ConfNode* n = node_->Find(name); n != nullptr && n->IsSequence())
    for (const auto& item : n->items)
      if (item.IsScalar()) out.push_back(item.scalar);
  return out;
}

Options Options::Object(const std::string& name) const {
  const FieldSpec& f = Spec(name, {FieldType::kObject});
  const ConfNode* n = node_ != nullptr ? node_->Find(name) : nullptr;
  return Options(n, f, where_ + "." + name, log_);
}

}  // namespace streamrun::config
