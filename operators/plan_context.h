#pragma once
// What a step sees while it is planned: the record's view at its position in the
// chain, slot allocation, and expression compilation with errors reported at the
// expression's line:col in the pipeline file.
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runner/config/conf_node.h"
#include "runner/config/diagnostics.h"
#include "runner/config/options.h"
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

// What a window step produces, for the steps after it (top_n): one row per key
// and window, in the window's own universe.
struct WindowOutput {
  std::vector<ViewField> key_fields;  // the key_by fields, in order
  int window_start_slot = -1;         // int, epoch ms
  int window_end_slot = -1;           // int, epoch ms (exclusive)
  std::vector<ViewField> aggregates;  // in written order
  int64_t allowed_lateness_ms = 0;    // rows of a window may be re-emitted until W >= end + this
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
  // A fresh universe (owned by the plan) for a step that produces rows of its own shape.
  Universe* NewUniverse() { return &universe_pool_->emplace_back(); }
  void set_universe_pool(std::deque<Universe>* pool) { universe_pool_ = pool; }
  // A step that produces rows of its own shape starts a new universe (windows).
  void StartUniverse(Universe* universe, RecordView view) {
    universe_ = universe;
    view_ = std::move(view);
  }

  // The key set by key_by (empty before): its fields, in order, and where they are.
  struct KeyField {
    std::string name;      // the output name: the path's last part
    expr::FieldSlot slot;  // where it is read
    std::string path;      // as written, e.g. user.id
  };
  const std::vector<KeyField>& key() const { return key_; }
  // The key's fields compiled over the records here, in order, as a keyed
  // step reads its key (window, plugin operators); errors reported at `mark`.
  // False if one does not compile.
  bool CompileKey(const config::Mark& mark, std::vector<std::unique_ptr<expr::Expression>>* out);
  void SetKey(std::vector<KeyField> key) { key_ = std::move(key); }

  // A window step: records it adds to no window leave unchanged by the
  // transform's `.late` side output, seen as they are here.
  void MarkLateOutput() {
    late_universe_ = universe_;
    late_view_ = view_;
    has_late_output_ = true;
  }
  bool has_late_output() const { return has_late_output_; }
  // Set by a window step; null before any window (or after a step that changes rows).
  void SetWindowOutput(std::optional<WindowOutput> w) { window_output_ = std::move(w); }
  const WindowOutput* window_output() const { return window_output_ ? &*window_output_ : nullptr; }
  Universe* late_universe() const { return late_universe_; }
  const RecordView& late_view() const { return late_view_; }

  const RecordView& view() const { return view_; }
  Universe* universe() const { return universe_; }
  config::Diagnostics& diags() { return *diags_; }
  const std::string& where() const { return where_; }
  // The pipeline's `name:` (Kafka group and client ids default to it).
  const std::string& pipeline_name() const { return pipeline_name_; }
  void set_pipeline_name(std::string name) { pipeline_name_ = std::move(name); }
  // runtime.member (docs/scaling.md): empty for a job of one process. Kafka
  // transactional and client ids carry it, so members never share one.
  const std::string& member() const { return member_; }
  void set_member(std::string member) { member_ = std::move(member); }
  void set_where(std::string w) { where_ = std::move(w); }
  // Typed reads of a component's options through its spec (config/options.h).
  config::Options Options(const config::ConfNode& node, const config::ComponentSpec& spec) const {
    const char* kind = spec.kind == config::ComponentKind::kSource ? "source "
                       : spec.kind == config::ComponentKind::kSink ? "sink "
                                                                   : "step ";
    return config::Options(&node, spec.value, kind + spec.name, read_log_);
  }
  // True if the step before this one could not be planned (its errors are
  // reported): a step that needs what it would have made says nothing more.
  bool previous_failed() const { return previous_failed_; }
  void set_previous_failed(bool failed) { previous_failed_ = failed; }
  // Tests: records which options the plan read.
  void set_read_log(config::ReadLog* log) { read_log_ = log; }
  config::ReadLog* read_log() const { return read_log_; }
  void Error(const config::Mark& mark, std::string message, std::string hint = {}) {
    diags_->Add(mark, where_ + ": " + message, std::move(hint));
  }

 private:
  Universe* universe_;
  RecordView view_;
  std::vector<KeyField> key_;
  config::ReadLog* read_log_ = nullptr;
  bool previous_failed_ = false;
  std::deque<Universe>* universe_pool_ = nullptr;
  std::optional<WindowOutput> window_output_;
  bool has_late_output_ = false;
  Universe* late_universe_ = nullptr;
  RecordView late_view_;
  config::Diagnostics* diags_;
  std::string where_;
  std::string pipeline_name_;
  std::string member_;
};

}  // namespace streamrun
