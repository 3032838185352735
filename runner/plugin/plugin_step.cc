// Plugin operators as steps: planning (the configuration as JSON, a probe
// instance that declares fields and state, the output universe) and the host's
// side of each instance: batches split where the watermark moves, keyed state
// and timers on the KeyedStore, emitted JSON decoded into the output universe.
#include "runner/plugin/plugin_step.h"

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <thread>

#include "operators/held_record.h"
#include "runner/log/log.h"
#include "runner/plugin/config_schema.h"
#include "runner/plugin/plugin_instance.h"
#include "runner/record/json_writer.h"
#include "runner/record/value_hash.h"
#include "runner/record/value_key.h"

namespace streamrun::plugin {

namespace {
constexpr size_t kMaxHeld = 1000;  // records waiting per worker before process waits
}  // namespace

// ---- the key's codec ----------------------------------------------------------

void PluginKeyCodec::Save(const PluginKeyState& v, SnapshotWriter& w) const {
  w.U64(v.key_hash);
  w.Str(v.key_values);
  w.U64(v.states.size());
  for (const auto& s : v.states) {
    w.Bool(s.set);
    w.Str(s.set ? std::string_view(s.value) : std::string_view());
    w.U64(s.map.size());
    for (const auto& [k, x] : s.map) {
      w.Str(k);
      w.Str(x);
    }
    w.U64(s.list.size());
    for (const auto& x : s.list) w.Str(x);
  }
  for (const auto* timers : {&v.event_timers, &v.processing_timers}) {
    w.U64(timers->size());
    for (const auto& [time, tag] : *timers) {
      w.I64(time);
      w.I64(tag);
    }
  }
  w.U64(v.held.size());
  for (const auto& [id, record] : v.held) {
    w.U64(id);
    w.Str(record);
  }
}

void PluginKeyCodec::Load(SnapshotReader& r, PluginKeyState* v, int format) const {
  if (format < 3) throw SnapshotError("plugin state: written by a format that had no plugins");
  v->key_hash = r.U64();
  v->key_values = r.Str();
  v->states.resize(r.Count());
  v->bytes = 0;
  for (auto& s : v->states) {
    s.set = r.Bool();
    s.value = r.Str();
    s.map.resize(r.Count());
    for (auto& [k, x] : s.map) {
      k = r.Str();
      x = r.Str();
      v->bytes += k.size() + x.size();
    }
    s.list.resize(r.Count());
    for (auto& x : s.list) {
      x = r.Str();
      v->bytes += x.size();
    }
    v->bytes += s.value.size();
  }
  for (auto* timers : {&v->event_timers, &v->processing_timers}) {
    timers->resize(r.Count());
    for (auto& [time, tag] : *timers) {
      time = r.I64();
      tag = r.I64();
    }
  }
  v->held.resize(r.Count());
  for (auto& [id, record] : v->held) {
    id = r.U64();
    record = r.Str();
    v->bytes += record.size();
  }
}

// ---- the instance ---------------------------------------------------------------

PluginInstance::PluginInstance(const PluginStepConfig* config, PluginStepConfig* probe,
                               KeyedStateService* keyed, int worker, int workers,
                               metrics::OperatorMetrics* metrics)
    : c_(*config), probe_(probe), op_(config->op->op), worker_(worker), ctx_{this}, workers_(workers) {
  metrics_ = metrics;
  if (!probe_) {
    if (c_.op->keyed())
      store_ = std::make_unique<Store>(*keyed, PluginKeyCodec{}, TimerLayout::kTimeTagNamespace);
    out_width_ = static_cast<uint32_t>(c_.out_universe->width);
    out_.Clear(out_width_);
    decoder_ = std::make_unique<JsonDecoder>(c_.out_universe->projection);
  }
}

PluginInstance::~PluginInstance() {
  if (instance_ && op_->destroy) op_->destroy(instance_);
}

void PluginInstance::Start() {
  phase_ = Phase::kCreate;
  error_.clear();
  instance_ = op_->create(HostTable(), &ctx_, c_.config_json.data(), c_.config_json.size());
  if (!instance_)
    throw Error(probe_ ? ErrorKind::kConfig : ErrorKind::kExternal,
                "the plugin operator '" + c_.op->spec.name +
                    "' refused its configuration: " + (error_.empty() ? "no reason given" : error_));
  phase_ = Phase::kOpen;
  if (op_->open) Check(op_->open(instance_, &ctx_), "open");
  if (!probe_ && (declared_fields_ != static_cast<int32_t>(c_.field_paths.size()) ||
                  declared_states_ != static_cast<int32_t>(c_.states.size())))
    throw ExternalError(c_.where +
                        ": the plugin declared other fields or states in open than when the pipeline "
                        "was planned (declarations must depend only on the configuration)");
  phase_ = Phase::kRun;
}

void PluginInstance::Check(sr_status status, const char* callback) {
  if (status == SR_OK) return;
  std::string message = error_.empty() ? "status " + std::to_string(status) : error_;
  error_.clear();
  throw Error(probe_ ? ErrorKind::kConfig : ErrorKind::kExternal,
              (probe_ ? std::string() : c_.where + ": ") + "the plugin operator '" + c_.op->spec.name +
                  "' failed in " + callback + ": " + message);
}

sr_status PluginInstance::Fail(sr_status status, std::string message) {
  error_ = std::move(message);
  return status;
}

void PluginInstance::Begin(StepEnv& env, Emitter& out, int64_t now_ms) {
  env_ = &env;
  emitter_ = &out;
  now_ms_ = now_ms;
  if (replay_) {
    const std::unique_ptr<Batch> replay = std::move(replay_);
    RunBatch(*replay);
  }
}

void PluginInstance::Process(Batch& batch, StepEnv& env, Emitter& out) {
  Begin(env, out, env.now_ms);
  RunBatch(batch);
}

void PluginInstance::RunBatch(Batch& batch) {
  late_keep_.assign(batch.size(), 0);
  any_late_ = false;
  const uint32_t n = batch.size();
  uint32_t i = 0;
  while (i < n) {
    // A record is judged against the watermark of the records before it:
    // timers it makes due fire first, so a call sees one watermark.
    AdvanceTo(batch.watermark(i));
    uint32_t j = i + 1;
    while (j < n && batch.watermark(j) <= watermark_) ++j;
    batch_ = &batch;
    base_ = i;
    count_ = j - i;
    row_watermark_ = watermark_;
    const sr_status st = op_->process(instance_, &ctx_, count_);
    ReleaseKey();
    building_ = false;
    batch_ = nullptr;
    count_ = 0;
    Check(st, "process");
    // At most kMaxHeld records wait: past that, answers first (backpressure).
    while (held_.size() >= kMaxHeld) DriveAsync(100);
    i = j;
  }
  Flush();
  if (any_late_) {
    Batch late = batch.ShallowCopy();
    late.Compact(late_keep_);
    emitter_->EmitLate(late);
  }
  if (c_.op->async()) DriveAsync(0);
}

void PluginInstance::OnWatermark(int64_t watermark, StepEnv& env, Emitter& out) {
  Begin(env, out, env.now_ms);
  AdvanceTo(watermark);
  Flush();
  if (!c_.op->async()) {
    out.EmitWatermark(watermark);
    return;
  }
  // It passes on once every record before it has left.
  held_watermarks_.emplace_back(next_order_, watermark);
  if (watermark == kEndOfTime)
    while (!held_.empty()) DriveAsync(100);  // the input is done: every call first
  DriveAsync(0);
}

// Every advance: the timers it makes due, then on_watermark.
void PluginInstance::AdvanceTo(int64_t watermark) {
  if (watermark <= watermark_) return;
  const int64_t before = watermark_;
  watermark_ = watermark;
  if (store_) FireEventTimers(before);
  if (op_->on_watermark) {
    row_watermark_ = watermark_;
    const sr_status st = op_->on_watermark(instance_, &ctx_, watermark_);
    building_ = false;
    Check(st, "on_watermark");
  }
}

void PluginInstance::FireEventTimers(int64_t before) {
  const int64_t watermark = watermark_;
  // Rows a timer emits carry the watermark from before this advance, as a
  // window's do.
  row_watermark_ = before;
  store_->AdvanceTo(watermark, [&](const KeyedTimer& t, PluginKeyState& v) {
    const std::pair<int64_t, int64_t> timer{t.time, t.ns};
    auto it = std::lower_bound(v.event_timers.begin(), v.event_timers.end(), timer);
    if (it == v.event_timers.end() || *it != timer) return;  // deleted, or of a key erased since
    v.event_timers.erase(it);
    cur_ = &v;
    key_fields_ready_ = false;
    const sr_status st = op_->on_timer ? op_->on_timer(instance_, &ctx_, SR_EVENT_TIME, t.time, t.ns) : SR_OK;
    building_ = false;
    if (cur_ && cur_->Empty()) store_->EraseCurrent();
    cur_ = nullptr;
    Check(st, "on_timer");
    if (out_.size() >= kDefaultBatchSize) Flush();
  });
  row_watermark_ = watermark_;
}

void PluginInstance::OnProcessingTime(int64_t now_ms, StepEnv& env, Emitter& out) {
  Begin(env, out, now_ms);
  FireProcessingTimers(now_ms);
  Flush();
  if (c_.op->async()) DriveAsync(0);
}

void PluginInstance::FireProcessingTimers(int64_t now_ms) {
  row_watermark_ = watermark_;
  while (store_ && !processing_index_.empty() && std::get<0>(*processing_index_.begin()) <= now_ms) {
    auto [time, group, key, tag] = *processing_index_.begin();
    processing_index_.erase(processing_index_.begin());
    PluginKeyState* v = store_->SetCurrentKey(group, key, false);
    if (!v) continue;
    const std::pair<int64_t, int64_t> timer{time, tag};
    auto it = std::lower_bound(v->processing_timers.begin(), v->processing_timers.end(), timer);
    if (it == v->processing_timers.end() || *it != timer) continue;
    v->processing_timers.erase(it);
    cur_ = v;
    key_fields_ready_ = false;
    const sr_status st =
        op_->on_timer ? op_->on_timer(instance_, &ctx_, SR_PROCESSING_TIME, time, tag) : SR_OK;
    building_ = false;
    ReleaseKey();
    Check(st, "on_timer");
    if (out_.size() >= kDefaultBatchSize) Flush();
  }
}

void PluginInstance::ReleaseKey() {
  if (cur_ && cur_->Empty()) store_->EraseCurrent();
  cur_ = nullptr;
  key_fields_ready_ = false;
}

// Global part: the watermark, then what the plugin wrote.
void PluginInstance::Snapshot(StateSnapshot& out) {
  SnapshotWriter w(&out.global);
  w.I64(watermark_);
  w.I64(released_watermark_);
  w.U64(emitted_);
  std::string mine;
  if (op_->on_checkpoint) {
    checkpoint_out_ = &mine;
    const sr_status st = op_->on_checkpoint(instance_, &ctx_, out.checkpoint_id);
    checkpoint_out_ = nullptr;
    Check(st, "on_checkpoint");
  }
  w.Str(mine);
  // Records held by a non-keyed operator (a keyed one's are in their keys' state).
  w.U64(store_ ? 0 : held_.size());
  if (!store_)
    for (const auto& [order, held] : held_) {
      held_bytes_.clear();
      SnapshotWriter record(&held_bytes_);
      SaveHeldRecord(held.record, 0, record);
      w.Str(held_bytes_);
    }
}

void PluginInstance::Restore(const StateRestore& in) {
  std::vector<sr_bytes> parts;
  bool first = true;
  const uint32_t width = static_cast<uint32_t>(c_.in_universe->width);
  auto replay = std::make_unique<Batch>(width);
  for (size_t worker = 0; worker < in.globals.size(); ++worker) {
    const std::string& global = in.globals[worker];
    if (global.empty()) continue;
    SnapshotReader r(global);
    const int64_t watermark = r.I64();
    const int64_t released = r.I64();
    const uint64_t emitted = r.U64();
    const std::string_view mine = r.Str();
    if (c_.op->async()) released_watermark_ = first ? released : std::min(released_watermark_, released);
    // A non-keyed operator's held records: each old worker's go to one worker now.
    for (uint64_t n = r.Count(); n > 0; --n) {
      SnapshotReader record(r.Str());
      if (static_cast<int>(worker % static_cast<size_t>(workers_)) == worker_)
        LoadHeldRecord(record, *replay);
    }
    watermark_ = first ? watermark : std::min(watermark_, watermark);
    emitted_ = std::max(emitted_, emitted);
    first = false;
    parts.push_back(sr_bytes{mine.data(), mine.size()});
  }
  if (op_->on_restore)
    Check(op_->on_restore(instance_, &ctx_, parts.data(), static_cast<uint32_t>(parts.size())), "on_restore");
  processing_index_.clear();
  std::vector<std::pair<uint32_t, std::string>> holding;  // keys with held records
  if (store_)
    store_->ForEach([&](std::string_view key, const PluginKeyState& v) {
      for (const auto& [time, tag] : v.processing_timers)
        processing_index_.emplace(time, KeyGroupOf(v.key_hash), std::string(key), tag);
      if (!v.held.empty()) holding.emplace_back(KeyGroupOf(v.key_hash), std::string(key));
    });
  // Held records go to process again (in the order they were read): their
  // calls begin anew. Their keys forget them until then.
  for (const auto& [group, key] : holding) {
    PluginKeyState* v = store_->SetCurrentKey(group, key, false);
    for (const auto& [id, bytes] : v->held) {
      SnapshotReader record(bytes);
      LoadHeldRecord(record, *replay);
      v->bytes -= bytes.size();
    }
    v->held.clear();
    cur_ = v;
    ReleaseKey();
  }
  if (replay->empty()) return;
  std::vector<uint32_t> order(replay->size());
  for (uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return RecordOrder::Of(*replay, a, 0) < RecordOrder::Of(*replay, b, 0);
  });
  replay_ = std::make_unique<Batch>(width);
  for (uint32_t i : order) CopyRow(*replay, i, *replay_);
}

void PluginInstance::Close() {
  if (phase_ != Phase::kRun) return;
  phase_ = Phase::kClosed;
  if (op_->close) Check(op_->close(instance_, &ctx_), "close");
}

void PluginInstance::Flush() {
  if (out_.empty()) return;
  emitter_->Emit(out_);
  out_.Clear(out_width_);
}

// ---- host calls ----------------------------------------------------------------

sr_status PluginInstance::SetError(std::string_view message) {
  error_.assign(message);
  return SR_OK;
}

sr_status PluginInstance::Log(int32_t level, std::string_view message) {
  static const log::Level kLevels[] = {log::Level::kDebug, log::Level::kInfo, log::Level::kWarn,
                                       log::Level::kError};
  if (level < SR_LOG_DEBUG || level > SR_LOG_ERROR) return SR_INVALID;
  const log::Level at = kLevels[level];
  if (!log::Enabled(at)) return SR_OK;
  if (probe_) {
    log::Write(at, -1, c_.op->spec.name, message);
    return SR_OK;
  }
  // "transform 'x' step 2 (sessionize)": the line names operator x, and its
  // message starts with "step 2 (sessionize): ". The instance's worker,
  // whichever thread calls (an asynchronous operator's own).
  const std::string_view where = c_.where;
  const std::string_view op = log::OperatorOf(where);
  std::string_view step;
  if (op.size() != where.size())
    step =
        where.substr(std::min(where.size(), static_cast<size_t>(op.data() - where.data()) + op.size() + 1));
  while (!step.empty() && step.front() == ' ') step.remove_prefix(1);
  log::Write(at, worker_, op,
             step.empty() ? std::string(message) : std::string(step) + ": " + std::string(message));
  return SR_OK;
}

sr_status PluginInstance::DeclareField(std::string_view path, int32_t* ref) {
  if (phase_ != Phase::kCreate && phase_ != Phase::kOpen)
    return Fail(SR_WRONG_STATE, "declare_field is for create and open");
  std::vector<std::string> parts;
  if (!expr::ParseFieldPath(path, &parts))
    return Fail(SR_INVALID, "'" + std::string(path) + "' is not a field path");
  if (probe_) {
    for (size_t i = 0; i < probe_->field_paths.size(); ++i)
      if (probe_->field_paths[i] == path) {
        *ref = static_cast<int32_t>(i);
        return SR_OK;
      }
    probe_->field_paths.emplace_back(path);
    *ref = static_cast<int32_t>(probe_->field_paths.size() - 1);
    declared_fields_ = *ref + 1;
    return SR_OK;
  }
  for (size_t i = 0; i < c_.field_paths.size(); ++i)
    if (c_.field_paths[i] == path) {
      *ref = static_cast<int32_t>(i);
      declared_fields_ = std::max(declared_fields_, *ref + 1);
      return SR_OK;
    }
  return Fail(SR_INVALID,
              "the field '" + std::string(path) + "' was not declared when the pipeline was planned");
}

sr_status PluginInstance::DeclareState(std::string_view name, sr_state_kind kind, int32_t* id) {
  if (phase_ != Phase::kCreate && phase_ != Phase::kOpen)
    return Fail(SR_WRONG_STATE, "declare_state is for create and open");
  if (!c_.op->keyed()) return Fail(SR_WRONG_STATE, "keyed state needs an operator flagged SR_OP_KEYED");
  if (kind < SR_STATE_VALUE || kind > SR_STATE_LIST) return Fail(SR_INVALID, "unknown state kind");
  const auto& states = probe_ ? probe_->states : c_.states;
  for (size_t i = 0; i < states.size(); ++i)
    if (states[i].first == name) {
      if (states[i].second != kind)
        return Fail(SR_INVALID, "state '" + std::string(name) + "' declared twice");
      *id = static_cast<int32_t>(i);
      declared_states_ = std::max(declared_states_, *id + 1);
      return SR_OK;
    }
  if (!probe_) return Fail(SR_INVALID, "the state '" + std::string(name) + "' was not declared when planned");
  probe_->states.emplace_back(std::string(name), kind);
  *id = static_cast<int32_t>(probe_->states.size() - 1);
  declared_states_ = *id + 1;
  return SR_OK;
}

namespace {
sr_value ToC(const Value& v) {
  sr_value out{};
  switch (v.kind) {
    case Kind::kNull:
      out.kind = SR_NULL;
      break;
    case Kind::kBool:
      out.kind = SR_BOOL;
      out.i = v.b ? 1 : 0;
      break;
    case Kind::kInt:
      out.kind = SR_INT;
      out.i = v.i;
      break;
    case Kind::kFloat:
      out.kind = SR_FLOAT;
      out.f = v.f;
      break;
    case Kind::kString:
    case Kind::kList:
    case Kind::kObject:
      out.kind = v.kind == Kind::kString ? SR_STRING : v.kind == Kind::kList ? SR_LIST : SR_OBJECT;
      out.str = v.str;
      out.len = v.len;
      break;
  }
  return out;
}
}  // namespace

sr_status PluginInstance::RecordMeta(uint32_t row, sr_record_meta* out) {
  if (!RowOk(row)) return Fail(SR_INVALID, "row " + std::to_string(row) + " is not in the batch");
  const uint32_t r = base_ + row;
  const RecordPosition& p = batch_->position(r);
  *out = sr_record_meta{};
  out->event_time = batch_->event_time(r);
  out->watermark = watermark_;
  out->source = p.source;
  out->topic = p.topic;
  out->partition = p.partition;
  out->offset = p.offset;
  out->key_hash = batch_->key_hash(r);
  return SR_OK;
}

sr_status PluginInstance::Field(uint32_t row, int32_t ref, sr_value* out) {
  if (!RowOk(row)) return Fail(SR_INVALID, "row " + std::to_string(row) + " is not in the batch");
  if (ref < 0 || static_cast<size_t>(ref) >= c_.fields.size())
    return Fail(SR_INVALID, "unknown field reference");
  expr::EvalContext ctx{&batch_->arena(), now_ms_, {}};
  Value v;
  if (!c_.fields[ref]->Eval(batch_->row(base_ + row), ctx, &v)) return Fail(SR_ERROR, ctx.error);
  *out = ToC(v);
  return SR_OK;
}

sr_status PluginInstance::FieldByName(uint32_t row, std::string_view path, sr_value* out) {
  for (size_t i = 0; i < c_.field_paths.size(); ++i)
    if (c_.field_paths[i] == path) return Field(row, static_cast<int32_t>(i), out);
  return Fail(SR_NOT_FOUND, "the field '" + std::string(path) + "' was not declared in open");
}

sr_status PluginInstance::RecordJson(uint32_t row, sr_bytes* out) {
  if (!RowOk(row)) return Fail(SR_INVALID, "row " + std::to_string(row) + " is not in the batch");
  json_.clear();
  EncodeJson(c_.in_view, batch_->row(base_ + row), batch_->raw(base_ + row), &json_);
  *out = sr_bytes{json_.data(), json_.size()};
  return SR_OK;
}

sr_status PluginInstance::SelectKey(uint32_t row) {
  if (!store_) return Fail(SR_WRONG_STATE, "select_key: the operator is not keyed");
  if (!RowOk(row)) return Fail(SR_INVALID, "row " + std::to_string(row) + " is not in the batch");
  ReleaseKey();
  const uint32_t r = base_ + row;
  expr::EvalContext ctx{&batch_->arena(), now_ms_, {}};
  key_fields_.resize(c_.key.size());
  json_.clear();  // the key's bytes
  for (size_t k = 0; k < c_.key.size(); ++k) {
    if (!c_.key[k]->Eval(batch_->row(r), ctx, &key_fields_[k])) return Fail(SR_ERROR, "key: " + ctx.error);
    AppendValueKey(key_fields_[k], &json_);
  }
  bool created = false;
  cur_ = store_->SetCurrentKey(KeyGroupOf(batch_->key_hash(r)), json_, true, &created);
  if (created) {
    cur_->key_hash = batch_->key_hash(r);
    cur_->states.resize(c_.states.size());
    cur_->key_values.clear();
    SnapshotWriter w(&cur_->key_values);
    const bool from_key = std::all_of(key_fields_.begin(), key_fields_.end(), KeyKeepsValue);
    w.U64(from_key ? 0 : key_fields_.size());
    for (size_t k = 0; k < key_fields_.size() && !from_key; ++k) {
      stored_.Set(key_fields_[k]);
      stored_.Save(w);
    }
  }
  key_fields_ready_ = true;
  return SR_OK;
}

// The current key's fields into key_fields_: strings point into the key's
// bytes, or into out_'s arena when the key's value keeps them.
void PluginInstance::KeyValues() {
  if (key_fields_ready_) return;
  key_fields_.resize(c_.key_names.size());
  SnapshotReader fields(cur_->key_values);
  const bool from_key = fields.U64() == 0;
  std::string_view key_bytes = store_->current_key();
  for (size_t k = 0; k < key_fields_.size(); ++k) {
    Value v;
    if (!from_key) {
      stored_.Load(fields);
      v = stored_.Get();
      if (v.kind == Kind::kString || v.kind == Kind::kList || v.kind == Kind::kObject)
        v.str = out_.arena().Copy(v.text()).data();
    } else if (!KeyValueAt(&key_bytes, &v)) {
      throw InternalError("plugin step: a key's bytes do not give its fields back");
    }
    key_fields_[k] = v;
  }
  key_fields_ready_ = true;
}

sr_status PluginInstance::FailRecord(uint32_t row, std::string_view message) {
  if (!RowOk(row)) return Fail(SR_INVALID, "row " + std::to_string(row) + " is not in the batch");
  env_->errors->Fail(*batch_, base_ + row, c_.op->spec.name + ": " + std::string(message));
  return SR_OK;
}

sr_status PluginInstance::EmitLate(uint32_t row) {
  if (!c_.op->late_output())
    return Fail(SR_WRONG_STATE, "emit_late needs an operator flagged SR_OP_LATE_OUTPUT");
  if (!RowOk(row)) return Fail(SR_INVALID, "row " + std::to_string(row) + " is not in the batch");
  if (dispatching_) {  // the record of a completed call
    Batch late = batch_->ShallowCopy();
    emitter_->EmitLate(late);
    return SR_OK;
  }
  late_keep_[base_ + row] = 1;
  any_late_ = true;
  return SR_OK;
}

sr_status PluginInstance::CurrentKey(sr_bytes* out) {
  if (!cur_) return Fail(SR_WRONG_STATE, "no key is current");
  const std::string_view key = store_->current_key();
  *out = sr_bytes{key.data(), key.size()};
  return SR_OK;
}

sr_status PluginInstance::KeyFieldCount(uint32_t* count) {
  if (!store_) return Fail(SR_WRONG_STATE, "the operator is not keyed");
  *count = static_cast<uint32_t>(c_.key_names.size());
  return SR_OK;
}

sr_status PluginInstance::KeyField(uint32_t index, sr_bytes* name, sr_value* value) {
  if (!cur_) return Fail(SR_WRONG_STATE, "no key is current");
  if (index >= c_.key_names.size()) return Fail(SR_INVALID, "no key field " + std::to_string(index));
  KeyValues();
  *name = sr_bytes{c_.key_names[index].data(), c_.key_names[index].size()};
  *value = ToC(key_fields_[index]);
  return SR_OK;
}

PluginKeyState::Slot* PluginInstance::StateOf(int32_t state, sr_state_kind kind, sr_status* status) {
  if (!cur_) {
    *status = Fail(SR_WRONG_STATE, "no key is current (select_key first)");
    return nullptr;
  }
  if (state < 0 || static_cast<size_t>(state) >= c_.states.size()) {
    *status = Fail(SR_INVALID, "unknown state id " + std::to_string(state));
    return nullptr;
  }
  if (kind >= 0 && c_.states[state].second != kind) {
    *status = Fail(SR_INVALID, "state '" + c_.states[state].first + "' is of another kind");
    return nullptr;
  }
  if (cur_->states.size() < c_.states.size()) cur_->states.resize(c_.states.size());
  return &cur_->states[state];
}

sr_status PluginInstance::ValueGet(int32_t state, sr_bytes* out) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_VALUE, &st);
  if (!s) return st;
  if (!s->set) return SR_NOT_FOUND;
  *out = sr_bytes{s->value.data(), s->value.size()};
  return SR_OK;
}

sr_status PluginInstance::ValuePut(int32_t state, std::string_view data) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_VALUE, &st);
  if (!s) return st;
  Changed(*s, static_cast<int64_t>(data.size()) - static_cast<int64_t>(s->value.size()));
  s->value.assign(data);
  s->set = true;
  return SR_OK;
}

sr_status PluginInstance::StateClear(int32_t state) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, -1, &st);
  if (!s) return st;
  int64_t freed = static_cast<int64_t>(s->value.size());
  for (const auto& [k, v] : s->map) freed += static_cast<int64_t>(k.size() + v.size());
  for (const auto& x : s->list) freed += static_cast<int64_t>(x.size());
  Changed(*s, -freed);
  *s = PluginKeyState::Slot{};
  return SR_OK;
}

namespace {
using MapEntries = std::vector<std::pair<std::string, std::string>>;
MapEntries::iterator FindIn(MapEntries& map, std::string_view key) {
  return std::lower_bound(
      map.begin(), map.end(), key,
      [](const std::pair<std::string, std::string>& e, std::string_view k) { return e.first < k; });
}
}  // namespace

sr_status PluginInstance::MapGet(int32_t state, std::string_view key, sr_bytes* out) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_MAP, &st);
  if (!s) return st;
  auto it = FindIn(s->map, key);
  if (it == s->map.end() || it->first != key) return SR_NOT_FOUND;
  *out = sr_bytes{it->second.data(), it->second.size()};
  return SR_OK;
}

sr_status PluginInstance::MapPut(int32_t state, std::string_view key, std::string_view value) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_MAP, &st);
  if (!s) return st;
  auto it = FindIn(s->map, key);
  if (it != s->map.end() && it->first == key) {
    Changed(*s, static_cast<int64_t>(value.size()) - static_cast<int64_t>(it->second.size()));
    it->second.assign(value);
  } else {
    Changed(*s, static_cast<int64_t>(key.size() + value.size()));
    s->map.emplace(it, std::string(key), std::string(value));
  }
  return SR_OK;
}

sr_status PluginInstance::MapRemove(int32_t state, std::string_view key) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_MAP, &st);
  if (!s) return st;
  auto it = FindIn(s->map, key);
  if (it == s->map.end() || it->first != key) return SR_NOT_FOUND;
  Changed(*s, -static_cast<int64_t>(it->first.size() + it->second.size()));
  s->map.erase(it);
  return SR_OK;
}

sr_status PluginInstance::MapSize(int32_t state, uint32_t* count) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_MAP, &st);
  if (!s) return st;
  *count = static_cast<uint32_t>(s->map.size());
  return SR_OK;
}

sr_status PluginInstance::MapEntry(int32_t state, uint32_t index, sr_bytes* key, sr_bytes* value) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_MAP, &st);
  if (!s) return st;
  if (index >= s->map.size())
    return Fail(SR_NOT_FOUND,
                "map state '" + c_.states[state].first + "' has no entry " + std::to_string(index));
  const auto& e = s->map[index];
  *key = sr_bytes{e.first.data(), e.first.size()};
  *value = sr_bytes{e.second.data(), e.second.size()};
  return SR_OK;
}

sr_status PluginInstance::ListAppend(int32_t state, std::string_view data) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_LIST, &st);
  if (!s) return st;
  Changed(*s, static_cast<int64_t>(data.size()));
  s->list.emplace_back(data);
  return SR_OK;
}

sr_status PluginInstance::ListSize(int32_t state, uint32_t* count) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_LIST, &st);
  if (!s) return st;
  *count = static_cast<uint32_t>(s->list.size());
  return SR_OK;
}

sr_status PluginInstance::ListGet(int32_t state, uint32_t index, sr_bytes* out) {
  sr_status st = SR_OK;
  auto* s = StateOf(state, SR_STATE_LIST, &st);
  if (!s) return st;
  if (index >= s->list.size())
    return Fail(SR_NOT_FOUND,
                "list state '" + c_.states[state].first + "' has no item " + std::to_string(index));
  *out = sr_bytes{s->list[index].data(), s->list[index].size()};
  return SR_OK;
}

sr_status PluginInstance::TimerRegister(sr_time_domain domain, int64_t time, int64_t tag) {
  if (!cur_) return Fail(SR_WRONG_STATE, "timers need a current key");
  if (domain != SR_EVENT_TIME && domain != SR_PROCESSING_TIME) return Fail(SR_INVALID, "unknown time domain");
  auto& timers = domain == SR_EVENT_TIME ? cur_->event_timers : cur_->processing_timers;
  const std::pair<int64_t, int64_t> timer{time, tag};
  auto it = std::lower_bound(timers.begin(), timers.end(), timer);
  if (it != timers.end() && *it == timer) return SR_OK;
  timers.insert(it, timer);
  if (domain == SR_EVENT_TIME)
    store_->RegisterTimer(KeyedTimer{time, tag, 0});
  else
    processing_index_.emplace(time, KeyGroupOf(cur_->key_hash), std::string(store_->current_key()), tag);
  return SR_OK;
}

sr_status PluginInstance::TimerDelete(sr_time_domain domain, int64_t time, int64_t tag) {
  if (!cur_) return Fail(SR_WRONG_STATE, "timers need a current key");
  if (domain != SR_EVENT_TIME && domain != SR_PROCESSING_TIME) return Fail(SR_INVALID, "unknown time domain");
  auto& timers = domain == SR_EVENT_TIME ? cur_->event_timers : cur_->processing_timers;
  const std::pair<int64_t, int64_t> timer{time, tag};
  auto it = std::lower_bound(timers.begin(), timers.end(), timer);
  if (it == timers.end() || *it != timer) return SR_NOT_FOUND;
  // The queued timer stays and is ignored when it comes due.
  timers.erase(it);
  return SR_OK;
}

sr_status PluginInstance::Watermark(int64_t* out) {
  *out = watermark_;
  return SR_OK;
}

sr_status PluginInstance::ProcessingTime(int64_t* out) {
  *out = now_ms_;
  return SR_OK;
}

sr_status PluginInstance::Emit(std::string_view json, int64_t event_time, int64_t from_row) {
  if (phase_ != Phase::kRun || !emitter_) return Fail(SR_WRONG_STATE, "records are emitted while running");
  const std::string_view text = out_.arena().Copy(json, JsonPadding());
  // A record built from an input record keeps where that one was read (its
  // errors downstream name its source line). Another row's key hash is its
  // key's, as key_by made it (also its position, as a window's rows have):
  // rows then order the same at every parallelism.
  uint64_t key_hash = cur_ ? cur_->key_hash : 0;
  RecordPosition position{-1, 0, cur_ ? static_cast<int64_t>(key_hash) : static_cast<int64_t>(emitted_), 0,
                          -1};
  if (from_row >= 0) {
    position = batch_->position(base_ + static_cast<uint32_t>(from_row));
    key_hash = batch_->key_hash(base_ + static_cast<uint32_t>(from_row));
  }
  const uint32_t r = out_.AddRow(text, position, event_time);
  ++emitted_;
  // An asynchronous operator's rows carry the watermark it has passed on: a
  // row may leave before a record held from earlier, which must not be late
  // for the steps after it.
  out_.set_watermark(r, c_.op->async() ? released_watermark_ : row_watermark_);
  out_.set_key_hash(r, key_hash);
  std::string why;
  if (!decoder_->Decode(text, out_.row(r), out_.arena(), &why)) {
    out_.PopRow();
    env_->errors->Add(RecordError{std::string(json), RecordPosition{},
                                  c_.op->spec.name + " emitted a record that is not a JSON object: " + why});
    return Fail(SR_INVALID, "not a JSON object: " + why);
  }
  if (out_.size() >= kDefaultBatchSize) Flush();
  return SR_OK;
}

sr_status PluginInstance::EmitJson(std::string_view json, int64_t event_time) {
  return Emit(json, event_time, -1);
}

sr_status PluginInstance::BuilderBegin(int64_t from_row) {
  if (from_row >= 0 && !RowOk(static_cast<uint32_t>(from_row)))
    return Fail(SR_INVALID, "row " + std::to_string(from_row) + " is not in the batch");
  building_ = true;
  build_from_ = from_row;
  build_fields_.clear();
  build_arena_.Reset();
  return SR_OK;
}

sr_status PluginInstance::BuilderSet(std::string_view name, const sr_value& v) {
  if (!building_) return Fail(SR_WRONG_STATE, "builder_set before builder_begin");
  Value x;
  switch (v.kind) {
    case SR_NULL:
      break;
    case SR_BOOL:
      x = Value::Bool(v.i != 0);
      break;
    case SR_INT:
      x = Value::Int(v.i);
      break;
    case SR_FLOAT:
      x = Value::Float(v.f);
      break;
    case SR_STRING:
    case SR_LIST:
    case SR_OBJECT: {
      const std::string_view text =
          build_arena_.Copy(std::string_view(v.str ? v.str : "", v.str ? v.len : 0));
      x = v.kind == SR_STRING ? Value::String(text)
          : v.kind == SR_LIST ? Value::List(text)
                              : Value::Object(text);
      break;
    }
    default:
      return Fail(SR_INVALID, "unknown value kind " + std::to_string(v.kind));
  }
  for (auto& [n, value] : build_fields_)
    if (n == name) {
      value = x;
      return SR_OK;
    }
  build_fields_.emplace_back(build_arena_.Copy(name), x);
  return SR_OK;
}

sr_status PluginInstance::BuilderSetKeyFields() {
  if (!building_) return Fail(SR_WRONG_STATE, "builder_set_key_fields before builder_begin");
  if (!cur_) return Fail(SR_WRONG_STATE, "no key is current");
  KeyValues();
  for (size_t k = 0; k < key_fields_.size(); ++k) {
    const sr_value v = ToC(key_fields_[k]);
    const sr_status st = BuilderSet(c_.key_names[k], v);
    if (st != SR_OK) return st;
  }
  return SR_OK;
}

sr_status PluginInstance::BuilderEmit(int64_t event_time) {
  if (!building_) return Fail(SR_WRONG_STATE, "builder_emit before builder_begin");
  building_ = false;
  // The fields set, over the input record's own (from_row) or alone, written
  // by the same encoder sinks use: a view whose added fields are slots after
  // the record's. The view depends only on the names set (and the record's
  // width), so records built alike reuse it.
  const bool from_row = build_from_ >= 0;
  const uint32_t r = from_row ? base_ + static_cast<uint32_t>(build_from_) : 0;
  const uint32_t width = from_row ? batch_->width() : 0;
  bool same = build_view_ready_ && build_view_from_row_ == from_row && build_view_width_ == width &&
              build_view_names_.size() == build_fields_.size();
  for (size_t f = 0; same && f < build_fields_.size(); ++f)
    same = build_view_names_[f] == build_fields_[f].first;
  if (!same) {
    build_view_ = from_row ? c_.in_view : RecordView{};
    build_view_.closed = !from_row;
    build_view_names_.clear();
    for (size_t f = 0; f < build_fields_.size(); ++f) {
      const std::string_view name = build_fields_[f].first;
      const int slot = static_cast<int>(width + f);
      bool replaced = false;
      for (auto& field : build_view_.fields)
        if (field.name == name) {
          field.slot = slot;
          replaced = true;
        }
      if (!replaced) build_view_.fields.push_back(ViewField{std::string(name), slot});
      auto& removed = build_view_.removed;
      removed.erase(std::remove(removed.begin(), removed.end(), name), removed.end());
      build_view_names_.emplace_back(name);
    }
    build_view_ready_ = true;
    build_view_from_row_ = from_row;
    build_view_width_ = width;
  }
  build_row_.clear();
  std::string_view raw;
  if (from_row) {
    build_row_.assign(batch_->row(r), batch_->row(r) + width);
    raw = batch_->raw(r);
    if (event_time == SR_NO_TIME) event_time = batch_->event_time(r);
  }
  for (const auto& [name, v] : build_fields_) build_row_.push_back(v);
  json_.clear();
  EncodeJson(build_view_, build_row_.data(), raw, &json_);
  return Emit(json_, event_time, build_from_);
}

sr_status PluginInstance::CounterAdd(std::string_view name, uint64_t delta) {
  if (metrics_ == nullptr) return SR_OK;  // the probe counts nothing
  for (auto& [n, cell] : counters_)
    if (n == name) {
      *cell += delta;
      return SR_OK;
    }
  metrics::Counter& cell = metrics_->CounterNamed(name);
  counters_.emplace_back(std::string(name), &cell);
  cell += delta;
  return SR_OK;
}

sr_status PluginInstance::GaugeSet(std::string_view name, double value) {
  if (metrics_ == nullptr) return SR_OK;
  for (auto& [n, cell] : gauges_)
    if (n == name) {
      cell->set(value);
      return SR_OK;
    }
  metrics::Gauge<double>& cell = metrics_->GaugeNamed(name);
  gauges_.emplace_back(std::string(name), &cell);
  cell.set(value);
  return SR_OK;
}

sr_status PluginInstance::CheckpointWrite(std::string_view data) {
  if (!checkpoint_out_) return Fail(SR_WRONG_STATE, "checkpoint_write is for on_checkpoint");
  checkpoint_out_->append(data);
  return SR_OK;
}

// ---- asynchronous calls ---------------------------------------------------------

sr_status PluginInstance::AsyncBegin(uint32_t row, uint64_t* id) {
  if (!c_.op->async()) return Fail(SR_WRONG_STATE, "async_begin needs an operator flagged SR_OP_ASYNC");
  if (!RowOk(row)) return Fail(SR_INVALID, "row " + std::to_string(row) + " is not in the batch");
  const uint64_t call = next_call_++;
  // A call begun for a completed call's record (a retry) takes that call's
  // place in the order; else it goes last.
  const uint64_t order =
      dispatching_ && !held_.count(dispatching_order_) ? dispatching_order_ : next_order_++;
  orders_[call] = order;
  Held& held = held_[order];
  held.id = call;
  held.record = Batch(batch_->width());
  CopyRow(*batch_, base_ + row, held.record);
  if (store_) {
    // The record waits in its key's state too, which checkpoints keep with
    // the key (and a restore moves to the key's worker).
    PluginKeyState* key = KeyOfHeld(held.record);
    held_bytes_.clear();
    SnapshotWriter w(&held_bytes_);
    SaveHeldRecord(held.record, 0, w);
    key->bytes += held_bytes_.size();
    key->held.emplace_back(call, held_bytes_);
  }
  *id = call;
  return SR_OK;
}

// Makes the held record's key current (selecting it as select_key does) and
// returns its state.
PluginKeyState* PluginInstance::KeyOfHeld(const Batch& record) {
  Batch* batch = batch_;
  const uint32_t base = base_, count = count_;
  batch_ = const_cast<Batch*>(&record);
  base_ = 0;
  count_ = 1;
  const sr_status st = SelectKey(0);
  batch_ = batch;
  base_ = base;
  count_ = count;
  if (st != SR_OK) throw ExternalError(c_.where + ": a held record's key: " + error_);
  return cur_;
}

sr_status PluginInstance::AsyncComplete(uint64_t id, sr_status status, int64_t code, std::string_view data) {
  std::lock_guard<std::mutex> lock(completions_mutex_);
  completions_.push_back(Completion{id, status, code, std::string(data)});
  return SR_OK;
}

sr_status PluginInstance::HttpRequest(uint32_t row, const sr_http_request& request, uint64_t* id) {
  if (request.size < offsetof(sr_http_request, timeout_ms) + sizeof(int64_t))
    return Fail(SR_INVALID, "http_request: the request struct is too small");
  if (!request.url) return Fail(SR_INVALID, "http_request: no url");
  if (request.header_count > 0 && !request.headers) return Fail(SR_INVALID, "http_request: no headers");
  const sr_status st = AsyncBegin(row, id);
  if (st != SR_OK) return st;
  HttpClient::Request r;
  r.method = request.method ? request.method : "GET";
  r.url = request.url;
  for (uint32_t h = 0; h < request.header_count; ++h)
    if (request.headers[h]) r.headers.emplace_back(request.headers[h]);
  if (request.body) r.body.assign(request.body, request.body_len);
  r.timeout_ms = request.timeout_ms > 0 ? request.timeout_ms : 5000;
  if (!http_) http_ = std::make_unique<HttpClient>(static_cast<int64_t>(kMaxHeld));
  http_calls_[http_->Start(r)] = *id;
  http_ids_.insert(*id);
  return SR_OK;
}

void PluginInstance::DriveAsync(int wait_ms) {
  // What completed: the host's requests, and the plugin's calls (queued from any thread).
  answers_.clear();
  if (http_ && http_->running() > 0) {
    bool pending = false;
    {
      std::lock_guard<std::mutex> lock(completions_mutex_);
      pending = !completions_.empty();
    }
    http_->Drive(pending ? 0 : wait_ms, &answers_);
    wait_ms = 0;
  }
  for (auto& a : answers_) {
    auto it = http_calls_.find(a.id);
    const uint64_t call = it->second;
    http_calls_.erase(it);
    http_ids_.erase(call);
    Held& held = held_.at(orders_.at(call));
    held.done = true;
    held.status = a.ok ? SR_OK : SR_ERROR;
    held.code = a.ok ? a.status : 0;
    held.data = a.ok ? std::move(a.body) : std::move(a.error);
  }
  taken_.clear();
  {
    std::unique_lock<std::mutex> lock(completions_mutex_);
    taken_.swap(completions_);
  }
  if (taken_.empty() && answers_.empty() && wait_ms > 0 && !held_.empty()) {
    // Only the plugin's own calls run: a short wait for them.
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(wait_ms, 5)));
    std::unique_lock<std::mutex> lock(completions_mutex_);
    taken_.swap(completions_);
  }
  for (auto& c : taken_) {
    if (http_ids_.count(c.id))
      throw ExternalError(c_.where + ": the plugin completed call " + std::to_string(c.id) +
                          ", an HTTP request the host runs (its answer completes it)");
    auto order = orders_.find(c.id);
    auto it = order == orders_.end() ? held_.end() : held_.find(order->second);
    if (it == held_.end() || it->second.id != c.id || it->second.done)
      throw ExternalError(c_.where + ": the plugin completed call " + std::to_string(c.id) +
                          ", which is not running (completed twice, or never begun)");
    it->second.done = true;
    it->second.status = c.status;
    it->second.code = c.code;
    it->second.data = std::move(c.data);
  }
  // Hand them over: in the order calls began (ordered), or all that are done.
  for (auto it = held_.begin(); it != held_.end();) {
    if (!it->second.done) {
      if (c_.op->async_ordered()) break;
      ++it;
      continue;
    }
    const uint64_t order = it->first;
    Held held = std::move(it->second);
    it = held_.erase(it);
    orders_.erase(held.id);
    dispatching_order_ = order;
    Dispatch(held.id, held);
    it = held_.lower_bound(order);  // a retry holds the record again in this place
  }
  Flush();
  const uint64_t oldest = held_.empty() ? next_order_ : held_.begin()->first;
  while (!held_watermarks_.empty() && held_watermarks_.front().first <= oldest) {
    released_watermark_ = held_watermarks_.front().second;
    emitter_->EmitWatermark(released_watermark_);
    held_watermarks_.pop_front();
  }
}

void PluginInstance::Dispatch(uint64_t id, Held& held) {
  if (store_) {
    // The key's state no longer holds it.
    PluginKeyState* key = KeyOfHeld(held.record);
    for (auto h = key->held.begin(); h != key->held.end(); ++h)
      if (h->first == id) {
        key->bytes -= h->second.size();
        key->held.erase(h);
        break;
      }
  }
  batch_ = &held.record;
  base_ = 0;
  count_ = 1;
  row_watermark_ = watermark_;
  dispatching_ = true;
  const sr_status st = op_->on_async_complete(instance_, &ctx_, id, held.status, held.code, held.data.data(),
                                              held.data.size());
  dispatching_ = false;
  ReleaseKey();
  building_ = false;
  batch_ = nullptr;
  count_ = 0;
  Check(st, "on_async_complete");
  if (out_.size() >= kDefaultBatchSize) Flush();
}

// ---- planning -------------------------------------------------------------------

namespace {

class PluginStepPlan : public StepPlan {
 public:
  explicit PluginStepPlan(std::unique_ptr<PluginStepConfig> c) : c_(std::move(c)) {}
  std::unique_ptr<StepInstance> Instantiate(const OperatorContext& context) const override {
    auto instance = std::make_unique<PluginInstance>(c_.get(), nullptr, context.keyed_state, context.worker,
                                                     context.workers, context.metrics);
    instance->Start();
    return instance;
  }
  std::string Describe() const override {
    const LoadedOperator& op = *c_->op;
    return op.spec.name + " " + c_->config_json + "  (plugin " + op.plugin + " " + op.plugin_version +
           ", operator " + (op.op->version ? op.op->version : "?") + ", " + op.library + ")";
  }
  bool EmitsLate() const override { return c_->op->late_output(); }

 private:
  std::unique_ptr<PluginStepConfig> c_;
};

std::unique_ptr<StepPlan> PlanPluginStep(const LoadedOperator* op, const config::ConfNode& value,
                                         PlanContext& ctx) {
  auto c = std::make_unique<PluginStepConfig>();
  c->op = op;
  c->where = ctx.where();
  std::string why;
  if (!ConfigJson(value, op->spec.value, &c->config_json, &why)) {
    ctx.Error(value.mark, why);
    return nullptr;
  }
  if (op->keyed() && ctx.key().empty()) {
    ctx.Error(value.mark, "needs a key_by before it: the operator keeps state per key",
              "add e.g. `- key_by: user_id` before this step");
    return nullptr;
  }
  // A probe instance checks the configuration and declares what it reads.
  try {
    PluginInstance probe(c.get(), c.get(), nullptr, 0, 1);
    probe.Start();
  } catch (const Error& e) {
    ctx.Error(value.mark, e.what());
    return nullptr;
  }
  for (const auto& path : c->field_paths) {
    expr::CompileError err;
    auto e = expr::Compile(
        path, [&](const std::vector<std::string>& p) { return ctx.Resolve(p); }, &err);
    if (!e) {
      ctx.Error(value.mark, "the plugin declared the field '" + path + "': " + err.message);
      return nullptr;
    }
    c->fields.push_back(std::move(e));
  }
  if (!ctx.CompileKey(value.mark, &c->key)) return nullptr;
  for (const auto& k : ctx.key()) c->key_names.push_back(k.name);
  c->in_view = ctx.view();
  c->in_universe = ctx.universe();
  if (op->late_output()) ctx.MarkLateOutput();
  // What the operator emits is JSON, decoded into a universe of its own for
  // the steps after it. It carries no key: a keyed step after it needs a key_by.
  Universe* out = ctx.NewUniverse();
  ctx.StartUniverse(out, RecordView{});
  ctx.SetKey({});
  ctx.SetWindowOutput(std::nullopt);
  c->out_universe = out;
  return std::make_unique<PluginStepPlan>(std::move(c));
}

}  // namespace

StepEntry PluginStepEntry(const LoadedOperator* op) {
  StepEntry e;
  e.spec = [op]() -> const config::ComponentSpec& { return op->spec; };
  e.plan = [op](const config::ConfNode& value, PlanContext& ctx) { return PlanPluginStep(op, value, ctx); };
  return e;
}

}  // namespace streamrun::plugin
