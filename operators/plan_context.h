#pragma once
// What a step sees while it is planned: the record's view at its position in the
// chain, slot allocation, and expression compilation with errors reported at the
// expression's line:col in the pipeline file.
#include <memory>
#include <string>
#include <vector>

#include "runner/config/conf_node.h"
#include "runner/config/diagnostics.h"
#include "runner/expr/expr.h"
#include "runner/record/projection.h"
#include "runner/record/record_view.h"

namespace streamrun {

// A slot space shared by the records that flow from one decoder: the source's
// (or a multi-input transform's) projection plus the slots steps compute into.
struct Universe {
  int width = 0;
  ProjectionNode projection;
  int NewSlot() { return width++; }
};

class PlanContext {
 public:
  PlanContext(Universe* universe, RecordView view, config::Diagnostics* diags, std::string where)
      : universe_(universe), view_(std::move(view)), diags_(diags), where_(std::move(where)) {}

  // The slot to read `path` from at this point (see RecordView): a field set
  // earlier in the chain, null if dropped or not selected, else a decoded field.
  expr::FieldSlot Resolve(const std::vector<std::string>& path);

  // Compiles the scalar `node` as an expression; on error adds a diagnostic at the
  // exact line:col and returns nullptr.
  std::unique_ptr<expr::Expression> Compile(const config::ConfNode& node);
  // Compiles a field path written at `node`; nullptr and a diagnostic if invalid.
  std::unique_ptr<expr::Expression> CompileField(const config::ConfNode& node);

  int NewSlot() { return universe_->NewSlot(); }

  // View changes made by set/select/drop.
  void SetField(const std::string& name, int slot);
  void RemoveField(const std::string& name);
  void CloseView(std::vector<ViewField> fields);
  // A step that produces rows of its own shape starts a new universe (windows).
  void StartUniverse(Universe* universe, RecordView view) {
    universe_ = universe;
    view_ = std::move(view);
  }

  // The key set by key_by (empty before): its fields, in order, and where they are.
  struct KeyField {
    std::string name;
    expr::FieldSlot slot;
  };
  const std::vector<KeyField>& key() const { return key_; }
  void SetKey(std::vector<KeyField> key) { key_ = std::move(key); }

  const RecordView& view() const { return view_; }
  Universe* universe() const { return universe_; }
  config::Diagnostics& diags() { return *diags_; }
  const std::string& where() const { return where_; }
  void set_where(std::string w) { where_ = std::move(w); }
  void Error(const config::Mark& mark, std::string message, std::string hint = {}) {
    diags_->Add(mark, where_ + ": " + message, std::move(hint));
  }

 private:
  Universe* universe_;
  RecordView view_;
  std::vector<KeyField> key_;
  config::Diagnostics* diags_;
  std::string where_;
};

}  // namespace streamrun
