#pragma once
// The host's side of one plugin operator instance (plugin_step.cc), which the
// C functions of the host table (host_table.cc) call into through sr_ctx.
// Private to runner/plugin.
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "operators/http_client.h"
#include "operators/operator.h"
#include "operators/plan_context.h"
#include "operators/steps/aggregates.h"
#include "runner/expr/expr.h"
#include "runner/metrics/registry.h"
#include "runner/plugin/library.h"
#include "runner/record/json_decoder.h"
#include "runner/state/keyed_store.h"

namespace streamrun::plugin {
class PluginInstance;
}

struct sr_ctx {
  streamrun::plugin::PluginInstance* self;
};

namespace streamrun::plugin {

// What planning learned of one plugin step: immutable after the plan, shared by
// its instances on every worker.
struct PluginStepConfig {
  const LoadedOperator* op = nullptr;
  std::string where;        // "transform 'x' step 2 (sessionize)"
  std::string config_json;  // what create gets
  // Declared in open, in order: field paths (compiled over the input's slots)
  // and keyed states.
  std::vector<std::string> field_paths;
  std::vector<std::unique_ptr<expr::Expression>> fields;
  std::vector<std::pair<std::string, sr_state_kind>> states;
  // The key_by key: its names and how to read it.
  std::vector<std::string> key_names;
  std::vector<std::unique_ptr<expr::Expression>> key;
  RecordView in_view;                     // how input records look (record_json, builder_begin(row))
  const Universe* in_universe = nullptr;  // input records' slots (their width is final once planned)
  Universe* out_universe = nullptr;       // the rows the operator emits, decoded from their JSON
};

// The state of one key: the states the operator declared, its live timers
// (a deleted timer stays queued in the store and is ignored when it fires),
// and the key's fields when its bytes do not give them back.
struct PluginKeyState {
  struct Slot {
    bool set = false;  // value state
    std::string value;
    std::vector<std::pair<std::string, std::string>> map;  // in key order
    std::vector<std::string> list;
  };
  uint64_t key_hash = 0;
  std::string key_values;
  std::vector<Slot> states;
  std::vector<std::pair<int64_t, int64_t>> event_timers;  // (time, tag), ordered
  std::vector<std::pair<int64_t, int64_t>> processing_timers;
  // Records of this key waiting for an asynchronous call: (call id, the
  // record as operators/held_record.h writes it). With the key, they move to
  // the key's worker at a restore.
  std::vector<std::pair<uint64_t, std::string>> held;
  uint64_t bytes = 0;  // heap bytes of the slots' strings, kept as they change

  bool Empty() const {
    for (const auto& s : states)
      if (s.set || !s.map.empty() || !s.list.empty()) return false;
    return event_timers.empty() && processing_timers.empty() && held.empty();
  }
};

struct PluginKeyCodec {
  void Save(const PluginKeyState& v, SnapshotWriter& w) const;
  void Load(SnapshotReader& r, PluginKeyState* v, int format) const;
  uint64_t Bytes(const PluginKeyState& v) const {
    return v.bytes + v.key_values.capacity() + v.states.capacity() * sizeof(PluginKeyState::Slot) +
           (v.event_timers.capacity() + v.processing_timers.capacity()) * 16;
  }
  void LegacyTimers(const PluginKeyState&, std::vector<KeyedTimer>*) const {}
};

class PluginInstance : public StepInstance {
 public:
  // `probe`: the planning instance, which records declarations into it and
  // sees no record (keyed is null then).
  PluginInstance(const PluginStepConfig* config, PluginStepConfig* probe, KeyedStateService* keyed,
                 int worker, int workers, metrics::OperatorMetrics* metrics = nullptr);
  ~PluginInstance() override;

  // create and open; a refusal throws (kConfig while planning, else kExternal).
  void Start();
  const std::string& error() const { return error_; }

  void Process(Batch& batch, StepEnv& env, Emitter& out) override;
  void OnWatermark(int64_t watermark, StepEnv& env, Emitter& out) override;
  void OnProcessingTime(int64_t now_ms, StepEnv& env, Emitter& out) override;
  void Snapshot(StateSnapshot& out) override;
  void Restore(const StateRestore& in) override;
  void Close() override;
  int64_t RestoredWatermark() const override { return c_.op->async() ? released_watermark_ : kEndOfTime; }

  // ---- the host table's calls (host_table.cc) ----
  sr_status SetError(std::string_view message);
  sr_status Log(int32_t level, std::string_view message);
  sr_status DeclareField(std::string_view path, int32_t* ref);
  sr_status DeclareState(std::string_view name, sr_state_kind kind, int32_t* id);
  sr_status RecordMeta(uint32_t row, sr_record_meta* out);
  sr_status Field(uint32_t row, int32_t ref, sr_value* out);
  sr_status FieldByName(uint32_t row, std::string_view path, sr_value* out);
  sr_status RecordJson(uint32_t row, sr_bytes* out);
  sr_status SelectKey(uint32_t row);
  sr_status FailRecord(uint32_t row, std::string_view message);
  sr_status EmitLate(uint32_t row);
  sr_status CurrentKey(sr_bytes* out);
  sr_status KeyFieldCount(uint32_t* count);
  sr_status KeyField(uint32_t index, sr_bytes* name, sr_value* value);
  sr_status ValueGet(int32_t state, sr_bytes* out);
  sr_status ValuePut(int32_t state, std::string_view data);
  sr_status StateClear(int32_t state);
  sr_status MapGet(int32_t state, std::string_view key, sr_bytes* out);
  sr_status MapPut(int32_t state, std::string_view key, std::string_view value);
  sr_status MapRemove(int32_t state, std::string_view key);
  sr_status MapSize(int32_t state, uint32_t* count);
  sr_status MapEntry(int32_t state, uint32_t index, sr_bytes* key, sr_bytes* value);
  sr_status ListAppend(int32_t state, std::string_view data);
  sr_status ListSize(int32_t state, uint32_t* count);
  sr_status ListGet(int32_t state, uint32_t index, sr_bytes* out);
  sr_status TimerRegister(sr_time_domain domain, int64_t time, int64_t tag);
  sr_status TimerDelete(sr_time_domain domain, int64_t time, int64_t tag);
  sr_status Watermark(int64_t* out);
  sr_status ProcessingTime(int64_t* out);
  sr_status EmitJson(std::string_view json, int64_t event_time);
  sr_status BuilderBegin(int64_t from_row);
  sr_status BuilderSet(std::string_view name, const sr_value& value);
  sr_status BuilderSetKeyFields();
  sr_status BuilderEmit(int64_t event_time);
  sr_status CounterAdd(std::string_view name, uint64_t delta);
  sr_status GaugeSet(std::string_view name, double value);
  sr_status CheckpointWrite(std::string_view data);
  sr_status AsyncBegin(uint32_t row, uint64_t* id);
  // From any thread.
  sr_status AsyncComplete(uint64_t id, sr_status status, int64_t code, std::string_view data);
  sr_status HttpRequest(uint32_t row, const sr_http_request& request, uint64_t* id);

 private:
  enum class Phase { kCreate, kOpen, kRun, kClosed };
  struct Held {
    uint64_t id = 0;  // the call's
    Batch record;     // one row that owns its bytes
    bool done = false;
    sr_status status = SR_OK;
    int64_t code = 0;
    std::string data;
  };
  using Store = KeyedStore<PluginKeyState, PluginKeyCodec>;

  // A callback's status: an error ends the run with the plugin's message.
  void Check(sr_status status, const char* callback);
  bool RowOk(uint32_t row) const { return batch_ && row < count_; }
  PluginKeyState::Slot* StateOf(int32_t state, sr_state_kind kind, sr_status* status);
  void Changed(PluginKeyState::Slot& slot, int64_t delta) {
    cur_->bytes = static_cast<uint64_t>(static_cast<int64_t>(cur_->bytes) + delta);
  }
  // The key is done with (a key with no state and no timer is erased).
  void ReleaseKey();
  void AdvanceTo(int64_t watermark);
  void FireEventTimers(int64_t before);
  void FireProcessingTimers(int64_t now_ms);
  // The rows of `batch`, split where the watermark moves, through process.
  void RunBatch(Batch& batch);
  // Asynchronous calls: collects completions (waiting up to `wait_ms` when
  // calls are running), hands them to on_async_complete, then passes on the
  // watermarks no held record is behind any more.
  void DriveAsync(int wait_ms);
  void Dispatch(uint64_t id, Held& held);
  // Every entry point: its env and emitter, and records to give process again.
  void Begin(StepEnv& env, Emitter& out, int64_t now_ms);
  // Records held by a key are in its state (the memory and rocksdb backends
  // alike); a key's held record is found again through its fields.
  PluginKeyState* KeyOfHeld(const Batch& record);
  void KeyValues();
  // from_row: the input row a built record started from, or -1.
  sr_status Emit(std::string_view json, int64_t event_time, int64_t from_row);
  void Flush();
  sr_status Fail(sr_status status, std::string message);

  const PluginStepConfig& c_;
  PluginStepConfig* probe_;
  const sr_operator* op_;
  int worker_;
  sr_ctx ctx_;
  void* instance_ = nullptr;
  Phase phase_ = Phase::kCreate;
  std::string error_;
  int32_t declared_fields_ = 0, declared_states_ = 0;

  std::unique_ptr<Store> store_;
  PluginKeyState* cur_ = nullptr;
  std::vector<Value> key_fields_;  // the current key's, once asked for
  bool key_fields_ready_ = false;
  StoredValue stored_;

  // The batch being processed: rows base_ .. base_ + count_ - 1 are the
  // plugin's 0 .. count_ - 1.
  Batch* batch_ = nullptr;
  uint32_t base_ = 0, count_ = 0;
  std::vector<uint8_t> late_keep_;
  bool any_late_ = false;
  StepEnv* env_ = nullptr;
  Emitter* emitter_ = nullptr;
  int64_t watermark_ = kNoTime;
  int64_t row_watermark_ = kNoTime;  // the watermark rows emitted now carry
  int64_t now_ms_ = 0;
  uint64_t emitted_ = 0;

  uint32_t out_width_ = 0;
  Batch out_;
  std::unique_ptr<JsonDecoder> decoder_;
  std::string json_;  // scratch: a record's JSON

  // The builder.
  bool building_ = false;
  int64_t build_from_ = -1;
  Arena build_arena_;
  std::vector<std::pair<std::string_view, Value>> build_fields_;  // names and text in build_arena_
  RecordView build_view_;  // for the names in build_view_names_ (see BuilderEmit)
  std::vector<std::string> build_view_names_;
  bool build_view_ready_ = false;
  bool build_view_from_row_ = false;
  uint32_t build_view_width_ = 0;
  std::vector<Value> build_row_;

  // Processing-time timers of every key, by time: (time, group, key, tag).
  std::set<std::tuple<int64_t, uint32_t, std::string, int64_t>> processing_index_;

  // Asynchronous calls (SR_OP_ASYNC), in the order they began (a retry in
  // the place of the call it retries).
  struct Completion {
    uint64_t id = 0;
    sr_status status = SR_OK;
    int64_t code = 0;
    std::string data;
  };
  std::map<uint64_t, Held> held_;                  // by their place in the order
  std::unordered_map<uint64_t, uint64_t> orders_;  // a call's id -> its place
  uint64_t next_call_ = 1;
  uint64_t next_order_ = 1;
  uint64_t dispatching_order_ = 0;
  std::mutex completions_mutex_;
  std::vector<Completion> completions_;  // from async_complete, on any thread
  std::vector<Completion> taken_;
  std::unique_ptr<HttpClient> http_;
  std::unordered_map<uint64_t, uint64_t> http_calls_;  // the client's id -> the call's
  std::unordered_set<uint64_t> http_ids_;              // calls that are HTTP requests
  std::vector<HttpClient::Answer> answers_;
  std::deque<std::pair<uint64_t, int64_t>> held_watermarks_;  // (calls begun before it, watermark)
  std::unique_ptr<Batch> replay_;  // held at the checkpoint restored from: given to process again
  bool dispatching_ = false;
  int64_t released_watermark_ = kNoTime;  // the last watermark passed on
  int workers_ = 1;
  std::string held_bytes_;

  std::string* checkpoint_out_ = nullptr;
  // The operator's own metrics (/metrics: streamrun_plugin_events_total and
  // streamrun_plugin_value), their cells found once by name; null: the probe.
  metrics::OperatorMetrics* metrics_ = nullptr;
  std::vector<std::pair<std::string, metrics::Counter*>> counters_;
  std::vector<std::pair<std::string, metrics::Gauge<double>*>> gauges_;
};

}  // namespace streamrun::plugin
