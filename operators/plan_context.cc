#include "operators/plan_context.h"

#include <algorithm>

namespace streamrun {

expr::FieldSlot PlanContext::Resolve(const std::vector<std::string>& path) {
  if (path.empty()) return {};
  const std::string& top = path[0];
  if (const ViewField* f = view_.FindField(top)) {
    return expr::FieldSlot{f->slot, std::vector<std::string>(path.begin() + 1, path.end())};
  }
  if (view_.closed || view_.IsRemoved(top)) return {};
  ProjectionNode& node = universe_->projection.At(path);
  if (node.slot < 0) node.slot = universe_->NewSlot();
  return expr::FieldSlot{node.slot, {}};
}

std::unique_ptr<expr::Expression> PlanContext::Compile(const config::ConfNode& node) {
  if (!node.IsScalar() || node.scalar.empty()) {
    Error(node.mark, "expected an expression");
    return nullptr;
  }
  expr::CompileError err;
  auto e = expr::Compile(
      node.scalar, [this](const std::vector<std::string>& p) { return Resolve(p); }, &err);
  if (!e) {
    config::Mark at = node.mark;
    at.column = node.text_column + err.offset;
    // A long expression is shown around the error only (the column points at it).
    std::string shown = node.scalar;
    if (shown.size() > 80) {
      const size_t from = err.offset > 40 ? static_cast<size_t>(err.offset) - 40 : 0;
      shown = (from > 0 ? "..." : "") + shown.substr(from, 80) + (from + 80 < shown.size() ? "..." : "");
    }
    Error(at, "in expression '" + shown + "': " + err.message);
  }
  return e;
}

std::unique_ptr<expr::Expression> PlanContext::CompileField(const config::ConfNode& node) {
  std::vector<std::string> path;
  if (!node.IsScalar() || !expr::ParseFieldPath(node.scalar, &path)) {
    Error(node.mark, "'" + node.scalar + "' is not a field name (expected e.g. user_id or user.id)");
    return nullptr;
  }
  return Compile(node);
}

bool PlanContext::CompileKey(const config::Mark& mark, std::vector<std::unique_ptr<expr::Expression>>* out) {
  for (const auto& k : key_) {
    config::ConfNode field;
    field.type = config::ConfNode::Type::kScalar;
    field.scalar = k.path;
    field.mark = mark;
    auto e = Compile(field);
    if (!e) return false;
    out->push_back(std::move(e));
  }
  return true;
}

void PlanContext::SetField(const std::string& name, int slot) {
  if (!view_.closed) {
    auto& r = view_.removed;
    r.erase(std::remove(r.begin(), r.end(), name), r.end());
  }
  for (auto& f : view_.fields) {
    if (f.name == name) {
      f.slot = slot;
      return;
    }
  }
  view_.fields.push_back(ViewField{name, slot});
}

void PlanContext::RemoveField(const std::string& name) {
  auto& fs = view_.fields;
  fs.erase(std::remove_if(fs.begin(), fs.end(), [&](const ViewField& f) { return f.name == name; }),
           fs.end());
  if (!view_.closed && !view_.IsRemoved(name)) view_.removed.push_back(name);
}

void PlanContext::CloseView(std::vector<ViewField> fields) {
  view_.closed = true;
  view_.fields = std::move(fields);
  view_.removed.clear();
}

}  // namespace streamrun
