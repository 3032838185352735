// window: event-time (or processing-time) windows per key (docs/time-and-windows.md):
// tumbling, sliding and merging session windows, aggregates, allowed lateness
// with late re-firing, the `.late` side output, having, and emit modes.
//
// State (per worker): for each key, its open windows with one accumulator per
// aggregate. A window fires when the watermark W >= its end: one row per key
// and window: the key fields, window_start, window_end, then the aggregates.
// A record is late for a window when end + allowed_lateness <= W; within the
// lateness the window fires again with its full updated row. A window's state is
// freed once W >= end + allowed_lateness. Rows fired by a watermark advance
// carry the watermark from before that advance, so a following top_n knows the
// rows of a window are complete only once the advance itself reaches it.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string_view>

#include "operators/steps/aggregates.h"
#include "operators/steps/steps.h"
#include "runner/config/diagnostics.h"
#include "runner/config/duration.h"
#include "runner/record/json_writer.h"
#include "runner/record/value_hash.h"
#include "runner/record/value_key.h"
#include "runner/state/keyed_store.h"

namespace streamrun {

const config::ComponentSpec& WindowSpec() {
  static const config::ComponentSpec spec = [] {
    using namespace config;
    ComponentSpec s;
    s.kind = ComponentKind::kStep;
    s.name = "window";
    s.late_output = true;
    s.summary = "Aggregate records per key over event-time windows.";
    s.description =
        "Exactly one of `tumbling`, `sliding` (with `slide`) or `session`. Windows are half-open "
        "`[start, end)` in epoch milliseconds; tumbling windows start at multiples of their size, "
        "sliding windows at multiples of `slide`; a session window of a record at t is `[t, t + gap)` "
        "and overlapping sessions of one key merge. A window fires once the watermark reaches its end, "
        "emitting one row per key: the key_by fields, `window_start`, `window_end`, then the aggregates "
        "in the order written. A record that comes after `end + allowed_lateness` is late: if it joins no "
        "window it goes unchanged to the side output `<transform>.late` (or is counted and dropped). "
        "Within the allowed lateness the window fires again with its updated row: treat "
        "(key, window_start, window_end) as an upsert key. Aggregates: count(), count(x), sum, min, max, "
        "avg, count_distinct, first, last (by event time; ties as docs/time-and-windows.md says), collect "
        "(in event-time order); all but count() "
        "ignore nulls.";
    FieldSpec every = Obj("", {Required(Dur("every", "Processing-time interval between updates."))},
                          "Emit the open windows' rows every D of processing time, and at close.");
    s.value =
        Obj("",
            {Dur("tumbling", "Size of tumbling windows."), Dur("sliding", "Size of sliding windows."),
             Dur("slide", "How far apart sliding windows start (with `sliding`)."),
             Dur("session", "Inactivity gap that ends a session window."),
             Default(Dur("allowed_lateness", "How long after a window's end late records still update it."),
                     "0s"),
             Required(MapOf("aggregate", Expr("", "FN(EXPR), e.g. count(), sum(amount)."),
                            "Output field -> aggregate function.")),
             Expr("having", "Emit only rows for which this holds (over the output row's fields)."),
             Default(OneOf("emit",
                           {Enum("", {"on_close", "on_update"},
                                 "on_close: when the window fires; on_update: also after every record."),
                            every},
                           "When rows are emitted."),
                     "on_close")},
            "");
    s.example =
        "- key_by: page_url\n- window:\n    tumbling: 5s\n    allowed_lateness: 1m\n    aggregate: { clicks: "
        "count(), users: count_distinct(user_id) }\n    having: \"clicks > 1\"";
    return s;
  }();
  return spec;
}

namespace {

enum class WindowKind { kTumbling, kSliding, kSession };
enum class EmitMode { kOnClose, kOnUpdate, kEvery };

struct AggregateSpec {
  std::string name;
  AggregateKind kind;
  std::unique_ptr<expr::Expression> argument;  // null for count()
};

struct WindowConfig {
  WindowKind kind = WindowKind::kTumbling;
  int64_t size = 0;   // tumbling/sliding size; session gap
  int64_t slide = 0;  // sliding
  int64_t allowed_lateness = 0;
  EmitMode emit = EmitMode::kOnClose;
  int64_t every = 0;
  std::vector<std::unique_ptr<expr::Expression>> key;  // read from the input records
  std::vector<AggregateSpec> aggregates;
  std::unique_ptr<expr::Expression> having;  // over output rows
  // Output row layout. The universe's width is final only once the whole
  // pipeline is planned (later steps may add slots), so it is read at Instantiate.
  const Universe* out_universe = nullptr;
  std::vector<int> key_slots;
  int start_slot = -1;
  int end_slot = -1;
  std::vector<int> aggregate_slots;
  RecordView out_view;
};

struct WindowState {
  int64_t start;
  int64_t end;
  bool fired = false;  // emitted at least once at close
  std::vector<Accumulator> accumulators;
};

// The keyed state of one key: its fields (for output rows) and its open
// windows, ordered by start (a key has few: one tumbling window, size/slide
// sliding ones, its sessions, which never overlap).
struct KeyWindows {
  // The key's field values: a count, then StoredValue bytes; or a count of 0
  // when the key bytes give them back (KeyKeepsValue: ints, strings, ...).
  std::string key_values;
  std::vector<WindowState> windows;
};

// Timers (keyed_store.h): a window fires at its end and is freed at end +
// allowed_lateness; one timer does both when they coincide. The namespace is
// the window's start. A timer applies only while its window has the bounds it
// was set for: a session that grew or merged left timers that no longer do.
enum TimerTag : uint8_t { kFire = 0, kFree = 1, kFireAndFree = 2 };

// How a key's windows are written to checkpoints and the database: the key's
// fields, then per window its start, its end (sessions only: a tumbling or
// sliding window's end is start + size), whether it fired, and the
// accumulators. Format 2 wrote every window's end.
class WindowCodec {
 public:
  explicit WindowCodec(const WindowConfig* c) : c_(c) {}
  void Save(const KeyWindows& k, SnapshotWriter& w) const {
    w.Raw(k.key_values);  // already "count, values"
    w.U64(k.windows.size());
    for (const auto& window : k.windows) {
      w.I64(window.start);
      if (c_->kind == WindowKind::kSession) w.I64(window.end);
      w.Bool(window.fired);
      for (const auto& a : window.accumulators) a.Save(w);
    }
  }
  void Load(SnapshotReader& r, KeyWindows* k, int format) const {
    const size_t from = r.position();
    StoredValue scratch;
    for (uint64_t n = r.Count(); n > 0; --n) scratch.Load(r);
    k->key_values.assign(r.Since(from));
    k->windows.clear();
    const uint64_t count = r.Count();
    k->windows.reserve(count);
    for (uint64_t n = count; n > 0; --n) {
      const int64_t start = r.I64();
      // Saturating: a damaged state's start near the end of time must not overflow.
      const int64_t end =
          format < 3 || c_->kind == WindowKind::kSession ? r.I64() : SaturatingAdd(start, c_->size);
      WindowState window = NewWindow(start, end);
      window.fired = r.Bool();
      for (auto& a : window.accumulators) a.Load(r, format);
      auto it = std::lower_bound(k->windows.begin(), k->windows.end(), window.start,
                                 [](const WindowState& w, int64_t start) { return w.start < start; });
      if (it != k->windows.end() && it->start == window.start)
        *it = std::move(window);
      else
        k->windows.insert(it, std::move(window));
    }
  }
  uint64_t Bytes(const KeyWindows& k) const {
    uint64_t bytes =
        (k.key_values.size() > 15 ? k.key_values.capacity() : 0) + k.windows.capacity() * sizeof(WindowState);
    for (const auto& w : k.windows) bytes += w.accumulators.capacity() * sizeof(Accumulator);
    return bytes;
  }
  // Format 2 held no timers: each window implies its own.
  void LegacyTimers(const KeyWindows& k, std::vector<KeyedTimer>* timers) const {
    for (const auto& w : k.windows) Timers(w, timers);
  }

  WindowState NewWindow(int64_t start, int64_t end) const {
    WindowState w{start, end, false, {}};
    w.accumulators.reserve(c_->aggregates.size());
    for (const auto& a : c_->aggregates) w.accumulators.emplace_back(a.kind);
    return w;
  }
  int64_t FreeTime(const WindowState& w) const { return SaturatingAdd(w.end, c_->allowed_lateness); }
  // The timers a window needs.
  void Timers(const WindowState& w, std::vector<KeyedTimer>* timers) const {
    if (FreeTime(w) == w.end) {
      timers->push_back(KeyedTimer{w.end, w.start, kFireAndFree});
    } else {
      timers->push_back(KeyedTimer{w.end, w.start, kFire});
      timers->push_back(KeyedTimer{FreeTime(w), w.start, kFree});
    }
  }
  // True if `t` was set for `w` as it is now.
  bool Applies(const KeyedTimer& t, const WindowState& w) const {
    return t.tag == kFree ? FreeTime(w) == t.time
                          : w.end == t.time && (t.tag == kFire || FreeTime(w) == t.time);
  }

 private:
  const WindowConfig* c_;
};

class WindowInstance : public StepInstance {
 public:
  WindowInstance(const WindowConfig* config, KeyedStateService& keyed)
      : c_(*config),
        codec_(config),
        state_(keyed, codec_, TimerLayout::kTimeTagNamespace),
        out_width_(static_cast<uint32_t>(config->out_universe->width)),
        out_(out_width_) {}

  void Process(Batch& batch, StepEnv& env, Emitter& out) override {
    expr::EvalContext ctx{&batch.arena(), env.now_ms, {}};
    late_keep_.assign(batch.size(), 0);
    bool any_late = false;
    args_.resize(c_.aggregates.size());
    for (uint32_t i = 0; i < batch.size(); ++i) {
      AdvanceTo(batch.watermark(i), env, out);
      const Value* row = batch.row(i);
      // The key and the aggregate arguments, evaluated once per record.
      key_bytes_.clear();
      // Without a key every record is of the one (empty) key, in group 0
      // (records from a window before carry their own key's hash).
      key_group_ = c_.key.empty() ? 0 : KeyGroupOf(batch.key_hash(i));
      key_values_.resize(c_.key.size());
      bool ok = true;
      for (size_t k = 0; k < c_.key.size() && ok; ++k) {
        if (!c_.key[k]->Eval(row, ctx, &key_values_[k])) ok = Fail(batch, i, "key", ctx, env);
        AppendValueKey(key_values_[k], &key_bytes_);  // 3 and 3.0: one key, as for key_by
      }
      for (size_t a = 0; a < c_.aggregates.size() && ok; ++a) {
        const auto& spec = c_.aggregates[a];
        if (!spec.argument) continue;
        if (!spec.argument->Eval(row, ctx, &args_[a])) ok = Fail(batch, i, spec.name, ctx, env);
      }
      if (!ok) continue;
      int64_t t = batch.event_time(i);
      bool added =
          c_.kind == WindowKind::kSession ? AddToSession(t, batch, i, env) : AddToFixed(t, batch, i, env);
      if (!added) {
        late_keep_[i] = 1;
        any_late = true;
      }
    }
    Flush(out);
    if (any_late) {
      Batch late = batch.ShallowCopy();
      late.Compact(late_keep_);
      out.EmitLate(late);
    }
  }

  void OnWatermark(int64_t watermark, StepEnv& env, Emitter& out) override {
    AdvanceTo(watermark, env, out);
    Flush(out);
    out.EmitWatermark(watermark);
  }

  // Global: the watermark and the arrival counter (first/last break
  // event-time ties by it). The keys and windows are the store's.
  void Snapshot(StateSnapshot& out) override {
    SnapshotWriter w(&out.global);
    w.I64(watermark_);
    w.U64(arrival_);
  }

  void Restore(const StateRestore& in) override {
    bool first = true;
    for (const auto& global : in.globals) {
      if (global.empty()) continue;
      SnapshotReader r(global);
      const int64_t watermark = r.I64();
      const uint64_t arrival = r.U64();
      // Every worker's window saw the same watermark; the lowest is safe either way.
      watermark_ = first ? watermark : std::min(watermark_, watermark);
      arrival_ = std::max(arrival_, arrival);
      first = false;
    }
  }

  void OnProcessingTime(int64_t now_ms, StepEnv& env, Emitter& out) override {
    if (c_.emit != EmitMode::kEvery) return;
    if (next_every_ == 0) next_every_ = now_ms + c_.every;
    if (now_ms < next_every_) return;
    next_every_ = now_ms + c_.every;
    state_.ForEach([&](std::string_view bytes, const KeyWindows& key) {
      for (const auto& w : key.windows)
        if (!w.fired) EmitRow(bytes, key, w, watermark_, env);
      if (out_.size() >= kDefaultBatchSize) Flush(out);
    });
    Flush(out);
  }

 private:
  bool Fail(const Batch& batch, uint32_t i, const std::string& what, expr::EvalContext& ctx, StepEnv& env) {
    env.errors->Fail(batch, i, "window " + what + ": " + ctx.error);
    ctx.error.clear();
    return false;
  }

  // The state of the current record's key (key_bytes_, key_group_), created if new.
  KeyWindows& Key() {
    bool created = false;
    KeyWindows* key = state_.SetCurrentKey(key_group_, key_bytes_, true, &created);
    if (created) {
      key->key_values.clear();
      SnapshotWriter w(&key->key_values);
      const bool from_key = std::all_of(key_values_.begin(), key_values_.end(), KeyKeepsValue);
      w.U64(from_key ? 0 : key_values_.size());
      StoredValue stored;
      for (size_t k = 0; k < key_values_.size() && !from_key; ++k) {
        stored.Set(key_values_[k]);
        stored.Save(w);
      }
    }
    return *key;
  }

  void Schedule(const WindowState& w) {
    timers_.clear();
    codec_.Timers(w, &timers_);
    for (const KeyedTimer& t : timers_) state_.RegisterTimer(t);
  }

  bool Accumulate(WindowState& w, const Batch& batch, uint32_t i, StepEnv& env) {
    for (size_t a = 0; a < c_.aggregates.size(); ++a) {
      if (!w.accumulators[a].Add(args_[a], RecordOrder::Of(batch, i, arrival_), &error_)) {
        env.errors->Fail(batch, i, "window " + c_.aggregates[a].name + ": " + error_);
        return false;
      }
    }
    return true;
  }

  static std::vector<WindowState>::iterator At(std::vector<WindowState>& windows, int64_t start) {
    return std::lower_bound(windows.begin(), windows.end(), start,
                            [](const WindowState& w, int64_t s) { return w.start < s; });
  }

  // Tumbling and sliding windows: the record joins every window holding t that is not late.
  bool AddToFixed(int64_t t, const Batch& batch, uint32_t i, StepEnv& env) {
    const int64_t step = c_.kind == WindowKind::kTumbling ? c_.size : c_.slide;
    int64_t last_start = FloorDiv(t, step) * step;
    bool added = false;
    KeyWindows* key = nullptr;
    ++arrival_;
    for (int64_t start = last_start; start > t - c_.size; start -= step) {
      int64_t end = start + c_.size;
      if (IsLate(end)) continue;
      if (!key) key = &Key();
      auto it = At(key->windows, start);
      if (it == key->windows.end() || it->start != start) {
        it = key->windows.insert(it, codec_.NewWindow(start, end));
        Schedule(*it);
      }
      // A record whose aggregate fails is a record error for all its windows.
      if (!Accumulate(*it, batch, i, env)) return true;
      added = true;
      AfterUpdate(*key, *it, env);
    }
    return added;
  }

  // Session windows: [t, t + gap) merges with every session of the key it overlaps.
  bool AddToSession(int64_t t, const Batch& batch, uint32_t i, StepEnv& env) {
    ++arrival_;
    int64_t start = t, end = t + c_.size;
    KeyWindows& key = Key();
    auto& windows = key.windows;
    // Sessions overlapping [t, t + gap): start < t + gap and end > t; sessions
    // of a key do not overlap, so these are one run of the start order.
    size_t first = windows.size(), last = 0;
    for (size_t w = 0; w < windows.size() && windows[w].start < t + c_.size; ++w) {
      if (windows[w].end > t) {
        first = std::min(first, w);
        last = w + 1;
        start = std::min(start, windows[w].start);
        end = std::max(end, windows[w].end);
      }
    }
    if (IsLate(end)) {
      if (windows.empty()) state_.EraseCurrent();
      return false;
    }
    if (last == first + 1 && windows[first].start == start && windows[first].end == end) {
      // Inside one session that it does not extend: that session, its timers as they are.
      WindowState& same = windows[first];
      if (!Accumulate(same, batch, i, env)) return true;
      AfterUpdate(key, same, env);
      return true;
    }
    WindowState merged = codec_.NewWindow(start, end);
    bool was_fired = false;
    if (first < last) {
      for (size_t w = first; w < last; ++w) {
        for (size_t a = 0; a < merged.accumulators.size(); ++a)
          merged.accumulators[a].Merge(windows[w].accumulators[a], &error_);
        was_fired |= windows[w].fired;
      }
      // Their timers stay queued and no longer apply (WindowCodec::Applies).
      windows.erase(windows.begin() + first, windows.begin() + last);
    }
    merged.fired = was_fired && merged.end <= watermark_;
    auto it = windows.insert(At(windows, start), std::move(merged));
    Schedule(*it);
    if (!Accumulate(*it, batch, i, env)) return true;
    AfterUpdate(key, *it, env);
    return true;
  }

  bool IsLate(int64_t end) const { return watermark_ != kNoTime && end + c_.allowed_lateness <= watermark_; }

  // After a record joined `w`: a window already past its end fires again now;
  // on_update emits the current row.
  void AfterUpdate(const KeyWindows& key, WindowState& w, StepEnv& env) {
    if (w.end <= watermark_) {
      w.fired = true;
      EmitRow(key_bytes_, key, w, watermark_, env);
    } else if (c_.emit == EmitMode::kOnUpdate) {
      EmitRow(key_bytes_, key, w, watermark_, env);
    }
  }

  // The watermark advances: due windows fire (rows carry the watermark from
  // before this advance) and windows past their lateness are freed.
  void AdvanceTo(int64_t watermark, StepEnv& env, Emitter& out) {
    if (watermark <= watermark_) return;
    const int64_t before = watermark_;
    watermark_ = watermark;
    state_.AdvanceTo(watermark, [&](const KeyedTimer& t, KeyWindows& key) {
      auto it = At(key.windows, t.ns);
      if (it == key.windows.end() || it->start != t.ns || !codec_.Applies(t, *it)) return;
      if (t.tag != kFree && !it->fired) {
        it->fired = true;
        EmitRow(state_.current_key(), key, *it, before, env);
        if (out_.size() >= kDefaultBatchSize) Flush(out);
      }
      if (t.tag != kFire) {
        key.windows.erase(it);
        if (key.windows.empty()) state_.EraseCurrent();
      }
    });
  }

  // `key_bytes`: the key's bytes in the store (its fields, when the value does
  // not hold them).
  void EmitRow(std::string_view key_bytes, const KeyWindows& key, const WindowState& w, int64_t row_watermark,
               StepEnv& env) {
    uint32_t r = out_.AddRow({}, RecordPosition{}, w.end - 1);
    out_.set_watermark(r, row_watermark);
    Value* row = out_.row(r);
    Arena& arena = out_.arena();
    // The row carries its key's hash, as key_by made it, also as its position
    // (which a later key_by leaves alone): rows of one window end are then in
    // the same RecordOrder at every parallelism.
    uint64_t key_hash = kKeyHashSeed;
    SnapshotReader fields(key.key_values);
    const bool from_key = fields.U64() == 0;
    for (size_t k = 0; k < c_.key_slots.size(); ++k) {
      Value v;
      if (!from_key) {
        key_field_.Load(fields);
        v = key_field_.Get();
      } else if (!KeyValueAt(&key_bytes, &v)) {
        throw InternalError("window: a key's bytes do not give its fields back");
      }
      key_hash = HashValue(v, key_hash);
      if (v.kind == Kind::kString || v.kind == Kind::kList || v.kind == Kind::kObject)
        v.str = arena.Copy(v.text()).data();
      row[c_.key_slots[k]] = v;
    }
    out_.set_key_hash(r, key_hash);
    out_.set_position(r, RecordPosition{-1, 0, static_cast<int64_t>(key_hash), 0, -1});
    row[c_.start_slot] = Value::Int(w.start);
    row[c_.end_slot] = Value::Int(w.end);
    for (size_t a = 0; a < c_.aggregate_slots.size(); ++a)
      row[c_.aggregate_slots[a]] = w.accumulators[a].Result(arena);
    if (c_.having) {
      expr::EvalContext ctx{&arena, env.now_ms, {}};
      bool keep = false;
      if (!c_.having->EvalPredicate(row, ctx, &keep)) {
        std::string text;
        EncodeJson(c_.out_view, row, {}, &text);
        env.errors->Add(RecordError{text, RecordPosition{}, "window having: " + ctx.error});
        keep = false;
      }
      if (!keep) out_.PopRow();
    }
  }

  void Flush(Emitter& out) {
    if (out_.empty()) return;
    out.Emit(out_);
    out_.Clear(out_width_);
  }

  static int64_t FloorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

  const WindowConfig& c_;
  WindowCodec codec_;
  KeyedStore<KeyWindows, WindowCodec> state_;  // keys, windows and timers
  uint32_t out_width_;
  uint32_t key_group_ = 0;  // of the record being processed
  int64_t watermark_ = kNoTime;
  uint64_t arrival_ = 0;
  int64_t next_every_ = 0;
  Batch out_;
  std::vector<uint8_t> late_keep_;
  std::vector<Value> args_;
  std::vector<Value> key_values_;
  std::vector<KeyedTimer> timers_;
  StoredValue key_field_;
  std::string key_bytes_;
  std::string error_;
};

class WindowPlan : public StepPlan {
 public:
  WindowPlan(std::unique_ptr<WindowConfig> config, std::string description, bool keyed)
      : config_(std::move(config)), description_(std::move(description)), keyed_(keyed) {}
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext& context) const override {
    return std::make_unique<WindowInstance>(config_.get(), *context.keyed_state);
  }
  std::string Describe() const override { return description_; }
  // Without a key, one window holds every record: it is computed in one place.
  bool NeedsAllRecords() const override { return !keyed_; }
  bool EmitsLate() const override { return true; }

 private:
  std::unique_ptr<WindowConfig> config_;
  std::string description_;
  bool keyed_;
};

constexpr int64_t kMaxWindowMs = 36500LL * 24 * 3600 * 1000;  // 100 years
constexpr int64_t kMaxWindowsPerRecord = 10000;               // sliding size / slide

// "sum(amount * 2)" -> name "sum", argument text "amount * 2" and its column.
bool SplitCall(const config::ConfNode& node, std::string* name, config::ConfNode* argument) {
  const std::string& text = node.scalar;
  size_t open = text.find('(');
  size_t close = text.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return false;
  if (text.find_first_not_of(" \t", close + 1) != std::string::npos) return false;
  *name = text.substr(0, open);
  while (!name->empty() && name->back() == ' ') name->pop_back();
  *argument = node;
  argument->scalar = text.substr(open + 1, close - open - 1);
  argument->text_column = node.text_column + static_cast<int>(open) + 1;
  return true;
}

}  // namespace

std::unique_ptr<StepPlan> PlanWindow(const config::ConfNode& value, PlanContext& ctx) {
  const bool keyed = !ctx.key().empty();  // the key in effect before this step
  if (!value.IsMap()) {
    ctx.Error(value.mark, "expected a map with tumbling, sliding or session and aggregate");
    return nullptr;
  }
  const config::Options o = ctx.Options(value, WindowSpec());
  auto c = std::make_unique<WindowConfig>();
  const config::ConfNode* tumbling = o.Node("tumbling");
  const config::ConfNode* sliding = o.Node("sliding");
  const config::ConfNode* session = o.Node("session");
  const config::ConfNode* slide = o.Node("slide");
  int kinds = (tumbling != nullptr) + (sliding != nullptr) + (session != nullptr);
  // A misspelt key (reported by the spec check) is the likely reason none is
  // there: say nothing more, but go on checking the rest of the step.
  bool misspelt = false;
  for (const auto& [key, unused] : value.entries) misspelt = misspelt || !o.Declares(key.scalar);
  if (kinds > 1 || (kinds == 0 && !misspelt))
    ctx.Error(value.mark, "a window needs exactly one of tumbling, sliding or session");
  bool ok = kinds == 1;
  // A duration the spec check refused reads as absent: it was reported there.
  auto duration = [&](const char* name) {
    auto ms = o.OptDurationMs(name);
    if (!ms) ok = false;
    return ms.value_or(0);
  };
  std::string description = "window ";
  if (tumbling) {
    c->kind = WindowKind::kTumbling;
    c->size = duration("tumbling");
    description += "tumbling " + tumbling->scalar;
  } else if (sliding) {
    c->kind = WindowKind::kSliding;
    c->size = duration("sliding");
    if (!slide) {
      ctx.Error(value.mark, "a sliding window needs `slide`");
      ok = false;
    } else {
      c->slide = duration("slide");
      if (ok && (c->slide <= 0 || c->slide > c->size)) {
        ctx.Error(slide->mark, "slide must be more than 0 and at most the window size");
        ok = false;
      }
      description += "sliding " + sliding->scalar + " every " + slide->scalar;
    }
  } else if (session) {
    c->kind = WindowKind::kSession;
    c->size = duration("session");
    description += "session gap " + session->scalar;
  }
  if (slide && !sliding) {
    ctx.Error(slide->mark, "`slide` only goes with `sliding`");
    ok = false;
  }
  if (ok && c->size <= 0) {
    ctx.Error(value.mark, "the window size must be more than 0");
    ok = false;
  }
  c->allowed_lateness = o.DurationMs("allowed_lateness");
  // Limits (docs/trust-and-limits.md): window arithmetic stays far from
  // overflow, and one record cannot open an unbounded number of windows.
  for (const char* name : {"tumbling", "sliding", "session", "allowed_lateness"}) {
    const auto ms = o.OptDurationMs(name);
    if (ms && *ms > kMaxWindowMs) {
      ctx.Error(o.Node(name)->mark, std::string(name) + " must be at most 36500d (100 years)");
      ok = false;
    }
  }
  if (ok && c->kind == WindowKind::kSliding && c->size / c->slide > kMaxWindowsPerRecord) {
    ctx.Error(slide->mark,
              "each record would be in " + std::to_string(c->size / c->slide) + " sliding windows; at most " +
                  std::to_string(kMaxWindowsPerRecord) + " (size / slide)",
              "use a larger slide");
    ok = false;
  }
  if (const auto* e = o.Node("emit")) {
    if (e->IsScalar() && e->scalar == "on_update") {
      c->emit = EmitMode::kOnUpdate;
    } else if (e->IsMap() && e->Find("every")) {
      c->emit = EmitMode::kEvery;
      c->every = config::ParseDurationMs(e->Find("every")->scalar).value_or(0);
      if (c->every <= 0) {
        if (config::ParseDurationMs(e->Find("every")->scalar))  // else the spec check said so
          ctx.Error(e->mark, "emit.every must be more than 0");
        ok = false;
      }
    }
  }

  // The key and the aggregate arguments read the input records.
  if (!ctx.CompileKey(value.mark, &c->key)) return nullptr;
  const config::ConfNode* aggregate = o.Node("aggregate");
  if (!aggregate || !aggregate->IsMap() || aggregate->entries.empty()) {
    if (aggregate)  // absent: the spec check reported the missing key
      ctx.Error(value.mark, "a window needs `aggregate: {name: FN(EXPR), ...}`");
    return nullptr;
  }
  for (const auto& [name_node, call] : aggregate->entries) {
    std::string fn;
    config::ConfNode argument;
    if (!call.IsScalar() || !SplitCall(call, &fn, &argument)) {
      ctx.Error(call.mark,
                "'" + call.scalar + "' is not an aggregate call (expected e.g. count(), sum(amount))");
      ok = false;
      continue;
    }
    bool has_argument = argument.scalar.find_first_not_of(" \t") != std::string::npos;
    AggregateSpec spec{name_node.scalar, AggregateKind::kCountAll, nullptr};
    if (!ParseAggregateKind(fn, has_argument, &spec.kind)) {
      std::string near = config::NearestName(fn, AggregateNames());
      std::string all;
      for (const auto& name : AggregateNames()) all += (all.empty() ? "" : ", ") + name;
      ctx.Error(call.mark, "unknown aggregate function '" + fn + "'",
                near.empty() ? "aggregate functions: " + all : "did you mean '" + near + "'?");
      ok = false;
      continue;
    }
    if (!has_argument && spec.kind != AggregateKind::kCountAll) {
      ctx.Error(call.mark, fn + "() needs an argument");
      ok = false;
      continue;
    }
    if (has_argument) {
      spec.argument = ctx.Compile(argument);
      if (!spec.argument) {
        ok = false;
        continue;
      }
    }
    c->aggregates.push_back(std::move(spec));
  }
  if (!ok) return nullptr;

  // The rows the window emits live in a universe of their own.
  ctx.MarkLateOutput();
  Universe* out = ctx.NewUniverse();
  std::vector<ViewField> fields;
  WindowOutput window_output;
  for (const auto& k : ctx.key()) {
    int slot = out->NewSlot();
    c->key_slots.push_back(slot);
    fields.push_back(ViewField{k.name, slot});
    window_output.key_fields.push_back(fields.back());
  }
  c->start_slot = out->NewSlot();
  c->end_slot = out->NewSlot();
  fields.push_back(ViewField{"window_start", c->start_slot});
  fields.push_back(ViewField{"window_end", c->end_slot});
  for (const auto& a : c->aggregates) {
    int slot = out->NewSlot();
    c->aggregate_slots.push_back(slot);
    fields.push_back(ViewField{a.name, slot});
    window_output.aggregates.push_back(fields.back());
  }
  RecordView view;
  view.closed = true;
  view.fields = fields;
  c->out_view = view;
  ctx.StartUniverse(out, view);
  window_output.window_start_slot = c->start_slot;
  window_output.window_end_slot = c->end_slot;
  window_output.allowed_lateness_ms = c->allowed_lateness;
  ctx.SetWindowOutput(window_output);
  ctx.SetKey({});
  if (const auto* having = o.Node("having")) {
    c->having = ctx.Compile(*having);
    if (!c->having) return nullptr;
  }
  c->out_universe = out;
  if (c->allowed_lateness > 0)
    description += ", allowed lateness " + config::FormatDurationMs(c->allowed_lateness);
  if (c->emit == EmitMode::kOnUpdate) description += ", emit on_update";
  if (c->emit == EmitMode::kEvery) description += ", emit every " + config::FormatDurationMs(c->every);
  description += ":";
  for (const auto& a : c->aggregates)
    description += " " + a.name + "=" + o.Node("aggregate")->Find(a.name)->scalar;
  if (c->having) description += ", having " + c->having->text();
  return std::make_unique<WindowPlan>(std::move(c), description, keyed);
}

}  // namespace streamrun
