// top_n: rank each window's rows across all keys (docs/time-and-windows.md).
//
// Semantics:
// - top_n follows a window step, whose rows (one per key and window) it buffers
//   per window (window_start, window_end). A window's rows are complete when the
//   step's watermark W reaches window_end (W is the maximum of the watermarks the
//   rows carry and of the input watermark); then at most `n` rows are emitted,
//   in rank order, each with an int field `rank` (1 = first; ranks are distinct:
//   equal `by` values are ranked by the key fields, ascending). Windows that
//   complete together are emitted in order of (window_end, window_start).
// - Order: `desc` (default) puts the largest `by` first, `asc` the smallest. A null
//   `by` ranks after every non-null value in both orders. Values compare as:
//   null < bool < number < string < list < object; numbers numerically, strings
//   bytewise, lists and objects by their JSON text.
// - A row's identity in its window is its key fields as a key (AppendValueKey:
//   the same equality the window groups by, 3 and 3.0 alike): a later
//   row with the same key (an `emit: on_update` row, or a re-fire within `allowed_lateness`)
//   replaces the earlier one. A row that arrives for a window already emitted
//   (a late re-fire) makes the whole top n of that window be emitted again at
//   the end of that input batch; consumers treat (window_start, window_end, rank)
//   as an upsert key, and the last row emitted for it is the result.
// - Output rows: the window's row plus `rank`, event time window_end - 1, and
//   the watermark in effect before the advance that completed the window (like
//   the window's own rows); re-emitted rows carry the current watermark.
// - State: every row of every open window (needed to re-rank on a re-fire), freed
//   once W >= window_end + allowed_lateness, kept in the runtime's keyed store
//   (keyed_store.h) with one key per window: under rocksdb the open windows
//   spill to the database like any keyed state.
// - A `by` expression that fails is a record error for that row.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "operators/steps/aggregates.h"
#include "operators/steps/steps.h"
#include "runner/config/diagnostics.h"
#include "runner/record/json_decoder.h"
#include "runner/record/value_key.h"
#include "runner/state/keyed_store.h"

namespace streamrun {

const config::ComponentSpec& TopNSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kStep;
    s.name = "top_n";
    s.summary = "Rank each window's rows across all keys and keep the first n.";
    s.description =
        "Follows a `window` step. When a window's rows are complete (the watermark reached its end), "
        "emits at most `n` of them, ordered by `by`, each with an int field `rank` (1 = first). Equal "
        "`by` values are ranked by the key fields, ascending; a null `by` ranks last. When a window "
        "fires again within its allowed lateness, the updated row replaces the key's earlier row and "
        "the window's whole top n is emitted again: treat (window_start, window_end, rank) as an upsert "
        "key. A `by` expression that fails is a record error.";
    s.value = Required(
        Obj("",
            {Required(Example(Int("n", "How many rows of each window to emit (at least 1)."), "10")),
             Required(Example(Expr("by", "The field or expression the rows are ranked by."), "clicks")),
             Default(Example(Enum("order", {"desc", "asc"},
                                  "desc: the largest value ranks first; asc: the smallest."),
                             "asc"),
                     "desc")},
            "How many rows to keep and how to rank them."));
    s.example =
        "- key_by: page_url\n- window:\n    tumbling: 5s\n    aggregate: { clicks: count() }\n"
        "- top_n: { n: 10, by: clicks, order: desc }";
    return s;
  }();
  return spec;
}

namespace {

int KindRank(Kind k) {
  switch (k) {
    case Kind::kNull:
      return 0;
    case Kind::kBool:
      return 1;
    case Kind::kInt:
    case Kind::kFloat:
      return 2;
    case Kind::kString:
      return 3;
    case Kind::kList:
      return 4;
    case Kind::kObject:
      return 5;
  }
  return 6;
}

// A total order: null < bool < number < string < list < object; numbers
// numerically (NaN after every number), text bytewise.
int CompareValues(const Value& a, const Value& b) {
  int ra = KindRank(a.kind), rb = KindRank(b.kind);
  if (ra != rb) return ra < rb ? -1 : 1;
  switch (a.kind) {
    case Kind::kNull:
      return 0;
    case Kind::kBool:
      return a.b == b.b ? 0 : (a.b ? 1 : -1);
    case Kind::kInt:
    case Kind::kFloat: {
      const int c = CompareNumbers(a, b);
      if (c != 2) return c;
      const bool na = a.kind == Kind::kFloat && std::isnan(a.f),
                 nb = b.kind == Kind::kFloat && std::isnan(b.f);
      return na == nb ? 0 : (na ? 1 : -1);
    }
    default: {
      int c = a.text().compare(b.text());
      return c == 0 ? 0 : (c < 0 ? -1 : 1);
    }
  }
}

bool IsText(Kind k) { return k == Kind::kString || k == Kind::kList || k == Kind::kObject; }

struct TopNConfig {
  int64_t n = 10;
  bool descending = true;
  std::unique_ptr<expr::Expression> by;
  std::vector<int> key_slots;
  int window_start_slot = -1;
  int window_end_slot = -1;
  int64_t allowed_lateness_ms = 0;
  int rank_slot = -1;
  Universe* universe = nullptr;  // output width, read once planning is done
};

// One window row, owning its strings: every text value points into `bytes`.
struct StoredRow {
  std::vector<Value> values;
  std::unique_ptr<char[]> bytes;
  size_t bytes_len = 0;
  Value by;
  std::string raw;
  std::string identity;  // the key fields, exactly (final tie-break)
  RecordPosition position;
  uint64_t key_hash = 0;

  void Assign(const Value* row, uint32_t width, const Value& by_value, std::string_view raw_text,
              const RecordPosition& pos, uint64_t hash) {
    size_t total = IsText(by_value.kind) ? by_value.len : 0;
    for (uint32_t s = 0; s < width; ++s)
      if (IsText(row[s].kind)) total += row[s].len;
    bytes.reset(new char[total > 0 ? total : 1]);
    bytes_len = total;
    size_t used = 0;
    auto own = [&](Value v) {
      if (IsText(v.kind)) {
        if (v.len) std::memcpy(bytes.get() + used, v.str, v.len);
        v.str = bytes.get() + used;
        used += v.len;
      }
      return v;
    };
    values.assign(row, row + width);
    for (auto& v : values) v = own(v);
    by = own(by_value);
    raw.assign(raw_text);
    position = pos;
    key_hash = hash;
  }
};

struct WindowRows {
  std::unordered_map<std::string, size_t> index;  // canonical key fields -> rows
  std::vector<StoredRow> rows;
  bool dirty = false;  // rows changed since the window's top n was last emitted
};

// The store's key of a window: end then start, both order-keeping, so the
// windows' timers come due in (end, start) order.
void WindowKey(int64_t end, int64_t start, std::string* out) {
  out->clear();
  AppendOrderedTime(end, out);
  AppendOrderedTime(start, out);
}

// Timers (namespace: the window's start): the window's top n is emitted at
// its end and its rows are freed at end + allowed_lateness.
enum TimerTag : uint8_t { kFire = 0, kFree = 1, kFireAndFree = 2 };

// A window's rows in checkpoints and the database: dirty, then each row with
// its values, ranking value, raw text and position.
class RowsCodec {
 public:
  void Save(const WindowRows& rows, SnapshotWriter& w) const {
    w.Bool(rows.dirty);
    w.U64(rows.rows.size());
    StoredValue stored;
    auto value = [&](const Value& v) {
      stored.Set(v);
      stored.Save(w);
    };
    for (const StoredRow& r : rows.rows) {
      w.Str(r.identity);
      w.U64(r.values.size());
      for (const Value& v : r.values) value(v);
      value(r.by);
      w.Str(r.raw);
      w.I64(r.position.source);
      w.I64(r.position.partition);
      w.I64(r.position.offset);
      w.I64(r.position.line);
      w.I64(r.position.topic);
      w.U64(r.key_hash);
    }
  }
  void Load(SnapshotReader& r, WindowRows* w, int) const {
    w->dirty = r.Bool();
    for (uint64_t nr = r.U64(); nr > 0; --nr) LoadRow(r, w);
  }
  // One row (as Save wrote it) into `w`, replacing the row of the same key.
  static void LoadRow(SnapshotReader& r, WindowRows* w) {
    std::vector<StoredValue> stored;
    std::vector<Value> values;
    StoredValue by;
    const std::string identity(r.Str());
    stored.resize(r.Count());
    for (auto& v : stored) v.Load(r);
    by.Load(r);
    const std::string_view raw = r.Str();
    RecordPosition pos;
    pos.source = static_cast<int32_t>(r.I64());
    pos.partition = static_cast<int32_t>(r.I64());
    pos.offset = r.I64();
    pos.line = r.I64();
    pos.topic = static_cast<int32_t>(r.I64());
    const uint64_t key_hash = r.U64();
    for (const auto& v : stored) values.push_back(v.Get());
    auto [it, inserted] = w->index.emplace(identity, w->rows.size());
    if (inserted) w->rows.emplace_back().identity = identity;
    w->rows[it->second].Assign(values.data(), static_cast<uint32_t>(values.size()), by.Get(), raw, pos,
                               key_hash);
  }
  uint64_t Bytes(const WindowRows& w) const {
    uint64_t bytes = w.index.size() * 64 + w.rows.capacity() * sizeof(StoredRow);
    for (const auto& r : w.rows)
      bytes += r.values.capacity() * sizeof(Value) + r.bytes_len + r.raw.capacity() + r.identity.capacity();
    return bytes;
  }
  // Format 2 kept top_n's windows in its global state (see TopNInstance::Restore).
  void LegacyTimers(const WindowRows&, std::vector<KeyedTimer>*) const {}
};

class TopNInstance : public StepInstance {
 public:
  TopNInstance(const TopNConfig* config, KeyedStateService& keyed)
      : config_(config),
        width_(static_cast<uint32_t>(
            std::max(config->universe ? config->universe->width : 0, config->rank_slot + 1))),
        // A window's rows are one value, and a few windows are open at once:
        // they stay decoded (a window's rows encoded per record would cost
        // all of them).
        state_(keyed, RowsCodec(), TimerLayout::kTimeTagNamespace, HotValues::kKeep) {}

  void Process(Batch& batch, StepEnv& env, Emitter& out) override {
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    const TopNConfig& c = *config_;
    for (uint32_t i = 0; i < batch.size(); ++i) {
      Advance(batch.watermark(i), out);
      const Value* row = batch.row(i);
      Value by;
      if (!c.by->Eval(row, ctx, &by)) {
        env.errors->Fail(batch, i, "top_n by " + c.by->text() + ": " + ctx.error);
        ctx.error.clear();
        continue;
      }
      const Value* start = Slot(row, batch.width(), c.window_start_slot);
      const Value* end = Slot(row, batch.width(), c.window_end_slot);
      if (!start || !end || start->kind != Kind::kInt || end->kind != Kind::kInt) {
        env.errors->Fail(batch, i, "top_n: the row has no int window_start and window_end");
        continue;
      }
      key_.clear();
      for (int s : c.key_slots) {
        const Value* v = Slot(row, batch.width(), s);
        AppendValueKey(v ? *v : Value::Null(), &key_);
      }
      WindowRows& w = Window(end->i, start->i);
      auto [it, inserted] = w.index.emplace(key_, w.rows.size());
      if (inserted) w.rows.emplace_back().identity = key_;
      w.rows[it->second].Assign(row, batch.width(), by, batch.raw(i), batch.position(i), batch.key_hash(i));
      // A row for a window already complete (a re-fire within the allowed
      // lateness): its top n goes again at the end of this batch.
      if (!w.dirty && end->i <= watermark_) refire_.push_back(window_key_);
      w.dirty = true;
    }
    Refire(out, watermark_);
  }

  void OnWatermark(int64_t watermark, StepEnv&, Emitter& out) override {
    Advance(watermark, out);
    out.EmitWatermark(std::max(watermark, watermark_));
  }

  // Gathered on worker 0: the watermark here, the windows' rows in the store.
  void Snapshot(StateSnapshot& out) override {
    SnapshotWriter w(&out.global);
    w.I64(watermark_);
  }

  void Restore(const StateRestore& in) override {
    for (const auto& global : in.globals) {
      if (global.empty()) continue;
      SnapshotReader r(global);
      watermark_ = std::max(watermark_, r.I64());
      if (in.format >= 3) continue;
      // Format 2: the open windows' rows followed the watermark.
      for (uint64_t nw = r.U64(); nw > 0; --nw) {
        const int64_t end = r.I64();
        const int64_t start = r.I64();
        WindowRows& w = Window(end, start);
        w.dirty = r.Bool();
        for (uint64_t nr = r.U64(); nr > 0; --nr) RowsCodec::LoadRow(r, &w);
      }
    }
  }

 private:
  static const Value* Slot(const Value* row, uint32_t width, int slot) {
    return slot >= 0 && static_cast<uint32_t>(slot) < width ? &row[slot] : nullptr;
  }

  // The rows of window [start, end), made current (created with its timers if new).
  WindowRows& Window(int64_t end, int64_t start) {
    WindowKey(end, start, &window_key_);
    bool created = false;
    WindowRows* w = state_.SetCurrentKey(0, window_key_, true, &created);
    if (created) {
      const int64_t free = SaturatingAdd(end, config_->allowed_lateness_ms);
      if (free == end) {
        state_.RegisterTimer(KeyedTimer{end, start, kFireAndFree});
      } else {
        state_.RegisterTimer(KeyedTimer{end, start, kFire});
        state_.RegisterTimer(KeyedTimer{free, start, kFree});
      }
    }
    return *w;
  }

  // W = max(W, w): windows it completes fire, in (end, start) order, with the
  // watermark before the advance; windows past their lateness are freed.
  void Advance(int64_t w, Emitter& out) {
    if (w <= watermark_) return;
    const int64_t before = watermark_;
    // Re-fires waiting for the end of the batch go first, with the watermark
    // before this advance (which may free their windows).
    Refire(out, before);
    watermark_ = w;
    std::optional<Batch> batch;  // made only when something fires (most advances fire nothing)
    state_.AdvanceTo(w, [&](const KeyedTimer& t, WindowRows& rows) {
      const int64_t end = ReadOrderedTime(state_.current_key());
      if (rows.dirty) {
        rows.dirty = false;
        if (!batch) batch.emplace(width_);
        EmitTop(end, rows, before, *batch);
      }
      if (t.tag != kFire) state_.EraseCurrent();
    });
    if (batch && !batch->empty()) out.Emit(*batch);
  }

  // Emits the top n of the complete windows that got rows since the last
  // re-fire, with `row_watermark`.
  void Refire(Emitter& out, int64_t row_watermark) {
    if (refire_.empty()) return;
    std::sort(refire_.begin(), refire_.end());  // (end, start) order
    std::optional<Batch> batch;
    for (const std::string& key : refire_) {
      WindowRows* rows = state_.SetCurrentKey(0, key, false);
      if (!rows || !rows->dirty) continue;
      rows->dirty = false;
      if (!batch) batch.emplace(width_);
      const int64_t end = ReadOrderedTime(key);
      EmitTop(end, *rows, row_watermark, *batch);
      // A window already past its lateness when the row came is forgotten now.
      if (SaturatingAdd(end, config_->allowed_lateness_ms) <= watermark_) state_.EraseCurrent();
    }
    refire_.clear();
    if (batch && !batch->empty()) out.Emit(*batch);
  }

  void EmitTop(int64_t window_end, const WindowRows& w, int64_t row_watermark, Batch& batch) {
    const TopNConfig& c = *config_;
    order_.clear();
    for (const auto& r : w.rows) order_.push_back(&r);
    auto less = [&](const StoredRow* a, const StoredRow* b) {
      if (a->by.is_null() != b->by.is_null()) return b->by.is_null();
      if (!a->by.is_null()) {
        int r = CompareValues(a->by, b->by);
        if (c.descending) r = -r;
        if (r != 0) return r < 0;
      }
      for (int s : c.key_slots) {
        const Value na;
        const Value& x = s >= 0 && static_cast<size_t>(s) < a->values.size() ? a->values[s] : na;
        const Value& y = s >= 0 && static_cast<size_t>(s) < b->values.size() ? b->values[s] : na;
        int r = CompareValues(x, y);
        if (r != 0) return r < 0;
      }
      return a->identity < b->identity;  // unreachable for rows of one window (keys differ), kept total
    };
    const size_t count = static_cast<size_t>(std::min<int64_t>(c.n, static_cast<int64_t>(order_.size())));
    std::partial_sort(order_.begin(), order_.begin() + static_cast<long>(count), order_.end(), less);
    for (size_t k = 0; k < count; ++k) {
      const StoredRow& r = *order_[k];
      std::string_view raw = batch.arena().Copy(r.raw, JsonPadding());
      uint32_t i = batch.AddRow(raw, r.position, window_end - 1);
      batch.set_watermark(i, row_watermark);
      batch.set_key_hash(i, r.key_hash);
      const char* base = r.bytes_len ? batch.arena().Copy({r.bytes.get(), r.bytes_len}).data() : "";
      Value* dst = batch.row(i);
      const size_t n = std::min<size_t>(r.values.size(), width_);
      for (size_t s = 0; s < n; ++s) {
        Value v = r.values[s];
        if (IsText(v.kind)) v.str = base + (v.str - r.bytes.get());
        dst[s] = v;
      }
      dst[c.rank_slot] = Value::Int(static_cast<int64_t>(k + 1));
    }
  }

  const TopNConfig* config_;
  uint32_t width_;
  int64_t watermark_ = kNoTime;
  // Window (end, start) -> its rows, all in key group 0 (top_n runs on worker 0).
  KeyedStore<WindowRows, RowsCodec> state_;
  std::vector<std::string> refire_;  // complete windows that got rows in this batch
  std::vector<const StoredRow*> order_;
  std::string key_, window_key_;
};

class TopNPlan : public StepPlan {
 public:
  explicit TopNPlan(TopNConfig config) : config_(std::move(config)) {}
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext& context) const override {
    return std::make_unique<TopNInstance>(&config_, *context.keyed_state);
  }
  std::string Describe() const override {
    return "top_n " + std::to_string(config_.n) + " by " + config_.by->text() +
           (config_.descending ? " desc" : " asc");
  }
  // Ranks across every key: one instance sees all rows.
  bool NeedsAllRecords() const override { return true; }

 private:
  TopNConfig config_;
};

}  // namespace

std::unique_ptr<StepPlan> PlanTopN(const config::ConfNode& value, PlanContext& ctx) {
  if (!value.IsMap()) {
    ctx.Error(value.mark, "expected {n: N, by: EXPR, order: desc|asc}");
    return nullptr;
  }
  TopNConfig c;
  bool ok = true;
  const WindowOutput* window = ctx.window_output();
  if (!window) {
    if (!ctx.previous_failed())
      ctx.Error(value.mark, "top_n must follow a window step of the same transform",
                "add a `window` step (after key_by) before top_n");
    ok = false;
  }
  const config::Options o = ctx.Options(value, TopNSpec());
  if (auto n = o.OptInt("n")) {
    if (*n < 1) {
      ctx.Error(o.Node("n")->mark, "n must be at least 1");
      ok = false;
    }
    c.n = *n;
  } else {
    ok = false;  // reported by the spec check
  }
  c.descending = o.Enum("order") == "desc";
  if (const config::ConfNode* by = o.Node("by")) {
    c.by = ctx.Compile(*by);
    if (!c.by) {
      ok = false;
    } else if (window && ctx.view().closed) {
      // The window's rows have only its fields: a misspelt one would rank every row as null.
      for (const auto& path : c.by->fields()) {
        if (path.empty() || ctx.view().FindField(path[0])) continue;
        std::vector<std::string> names;
        std::string list;
        for (const auto& f : ctx.view().fields) {
          names.push_back(f.name);
          list += (list.empty() ? "" : ", ") + f.name;
        }
        std::string near = config::NearestName(path[0], names);
        ctx.Error(by->mark, "'" + path[0] + "' is not a field of the window's rows",
                  near.empty() ? "they have: " + list : "did you mean '" + near + "'?");
        ok = false;
        break;
      }
    }
  } else {
    ok = false;  // reported by the spec check
  }
  if (!ok) return nullptr;
  for (const auto& k : window->key_fields) c.key_slots.push_back(k.slot);
  c.window_start_slot = window->window_start_slot;
  c.window_end_slot = window->window_end_slot;
  c.allowed_lateness_ms = window->allowed_lateness_ms;
  c.rank_slot = ctx.NewSlot();
  ctx.SetField("rank", c.rank_slot);
  c.universe = ctx.universe();
  return std::make_unique<TopNPlan>(std::move(c));
}

}  // namespace streamrun
