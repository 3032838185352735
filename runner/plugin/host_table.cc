// The host's function table (plugin.h sr_host): C functions that check their
// arguments and call into the instance behind sr_ctx. No exception crosses
// back into the plugin: each becomes SR_ERROR with its message.
#include <string_view>

#include "runner/plugin/library.h"
#include "runner/plugin/plugin_instance.h"

namespace streamrun::plugin {

namespace {

std::string_view Text(const char* p, size_t n) { return p ? std::string_view(p, n) : std::string_view(); }

// Runs `call` on the context's instance; a null context or pointer argument is
// SR_INVALID, an exception SR_ERROR.
template <typename Call>
sr_status Guard(sr_ctx* ctx, Call&& call) {
  if (!ctx || !ctx->self) return SR_INVALID;
  try {
    return call(*ctx->self);
  } catch (const std::exception& e) {
    ctx->self->SetError(e.what());
    return SR_ERROR;
  } catch (...) {
    ctx->self->SetError("unknown error in the host");
    return SR_ERROR;
  }
}

#define SR_NEED(p) \
  if (!(p)) return SR_INVALID

sr_status HostSetError(sr_ctx* c, const char* m, size_t n) {
  return Guard(c, [&](PluginInstance& i) { return i.SetError(Text(m, n)); });
}
sr_status HostLog(sr_ctx* c, int32_t level, const char* m, size_t n) {
  return Guard(c, [&](PluginInstance& i) { return i.Log(level, Text(m, n)); });
}
sr_status HostDeclareField(sr_ctx* c, const char* p, size_t n, int32_t* ref) {
  SR_NEED(p && ref);
  return Guard(c, [&](PluginInstance& i) { return i.DeclareField(Text(p, n), ref); });
}
sr_status HostDeclareState(sr_ctx* c, const char* p, size_t n, sr_state_kind kind, int32_t* id) {
  SR_NEED(p && id);
  return Guard(c, [&](PluginInstance& i) { return i.DeclareState(Text(p, n), kind, id); });
}
sr_status HostRecordMeta(sr_ctx* c, uint32_t row, sr_record_meta* out) {
  SR_NEED(out);
  return Guard(c, [&](PluginInstance& i) { return i.RecordMeta(row, out); });
}
sr_status HostField(sr_ctx* c, uint32_t row, int32_t ref, sr_value* out) {
  SR_NEED(out);
  return Guard(c, [&](PluginInstance& i) { return i.Field(row, ref, out); });
}
sr_status HostFieldByName(sr_ctx* c, uint32_t row, const char* p, size_t n, sr_value* out) {
  SR_NEED(p && out);
  return Guard(c, [&](PluginInstance& i) { return i.FieldByName(row, Text(p, n), out); });
}
sr_status HostRecordJson(sr_ctx* c, uint32_t row, sr_bytes* out) {
  SR_NEED(out);
  return Guard(c, [&](PluginInstance& i) { return i.RecordJson(row, out); });
}
sr_status HostSelectKey(sr_ctx* c, uint32_t row) {
  return Guard(c, [&](PluginInstance& i) { return i.SelectKey(row); });
}
sr_status HostFailRecord(sr_ctx* c, uint32_t row, const char* m, size_t n) {
  return Guard(c, [&](PluginInstance& i) { return i.FailRecord(row, Text(m, n)); });
}
sr_status HostEmitLate(sr_ctx* c, uint32_t row) {
  return Guard(c, [&](PluginInstance& i) { return i.EmitLate(row); });
}
sr_status HostCurrentKey(sr_ctx* c, sr_bytes* out) {
  SR_NEED(out);
  return Guard(c, [&](PluginInstance& i) { return i.CurrentKey(out); });
}
sr_status HostKeyFieldCount(sr_ctx* c, uint32_t* count) {
  SR_NEED(count);
  return Guard(c, [&](PluginInstance& i) { return i.KeyFieldCount(count); });
}
sr_status HostKeyField(sr_ctx* c, uint32_t index, sr_bytes* name, sr_value* value) {
  SR_NEED(name && value);
  return Guard(c, [&](PluginInstance& i) { return i.KeyField(index, name, value); });
}
sr_status HostValueGet(sr_ctx* c, int32_t s, sr_bytes* out) {
  SR_NEED(out);
  return Guard(c, [&](PluginInstance& i) { return i.ValueGet(s, out); });
}
sr_status HostValuePut(sr_ctx* c, int32_t s, const void* d, size_t n) {
  SR_NEED(d || n == 0);
  return Guard(c, [&](PluginInstance& i) { return i.ValuePut(s, Text(static_cast<const char*>(d), n)); });
}
sr_status HostStateClear(sr_ctx* c, int32_t s) {
  return Guard(c, [&](PluginInstance& i) { return i.StateClear(s); });
}
sr_status HostMapGet(sr_ctx* c, int32_t s, const void* k, size_t kn, sr_bytes* out) {
  SR_NEED((k || kn == 0) && out);
  return Guard(c, [&](PluginInstance& i) { return i.MapGet(s, Text(static_cast<const char*>(k), kn), out); });
}
sr_status HostMapPut(sr_ctx* c, int32_t s, const void* k, size_t kn, const void* v, size_t vn) {
  SR_NEED((k || kn == 0) && (v || vn == 0));
  return Guard(c, [&](PluginInstance& i) {
    return i.MapPut(s, Text(static_cast<const char*>(k), kn), Text(static_cast<const char*>(v), vn));
  });
}
sr_status HostMapRemove(sr_ctx* c, int32_t s, const void* k, size_t kn) {
  SR_NEED(k || kn == 0);
  return Guard(c, [&](PluginInstance& i) { return i.MapRemove(s, Text(static_cast<const char*>(k), kn)); });
}
sr_status HostMapSize(sr_ctx* c, int32_t s, uint32_t* count) {
  SR_NEED(count);
  return Guard(c, [&](PluginInstance& i) { return i.MapSize(s, count); });
}
sr_status HostMapEntry(sr_ctx* c, int32_t s, uint32_t index, sr_bytes* k, sr_bytes* v) {
  SR_NEED(k && v);
  return Guard(c, [&](PluginInstance& i) { return i.MapEntry(s, index, k, v); });
}
sr_status HostListAppend(sr_ctx* c, int32_t s, const void* d, size_t n) {
  SR_NEED(d || n == 0);
  return Guard(c, [&](PluginInstance& i) { return i.ListAppend(s, Text(static_cast<const char*>(d), n)); });
}
sr_status HostListSize(sr_ctx* c, int32_t s, uint32_t* count) {
  SR_NEED(count);
  return Guard(c, [&](PluginInstance& i) { return i.ListSize(s, count); });
}
sr_status HostListGet(sr_ctx* c, int32_t s, uint32_t index, sr_bytes* out) {
  SR_NEED(out);
  return Guard(c, [&](PluginInstance& i) { return i.ListGet(s, index, out); });
}
sr_status HostTimerRegister(sr_ctx* c, sr_time_domain d, int64_t t, int64_t tag) {
  return Guard(c, [&](PluginInstance& i) { return i.TimerRegister(d, t, tag); });
}
sr_status HostTimerDelete(sr_ctx* c, sr_time_domain d, int64_t t, int64_t tag) {
  return Guard(c, [&](PluginInstance& i) { return i.TimerDelete(d, t, tag); });
}
sr_status HostWatermark(sr_ctx* c, int64_t* out) {
  SR_NEED(out);
  return Guard(c, [&](PluginInstance& i) { return i.Watermark(out); });
}
sr_status HostProcessingTime(sr_ctx* c, int64_t* out) {
  SR_NEED(out);
  return Guard(c, [&](PluginInstance& i) { return i.ProcessingTime(out); });
}
sr_status HostEmitJson(sr_ctx* c, const char* j, size_t n, int64_t t) {
  SR_NEED(j);
  return Guard(c, [&](PluginInstance& i) { return i.EmitJson(Text(j, n), t); });
}
sr_status HostBuilderBegin(sr_ctx* c, int64_t from_row) {
  return Guard(c, [&](PluginInstance& i) { return i.BuilderBegin(from_row); });
}
sr_status HostBuilderSet(sr_ctx* c, const char* name, size_t n, const sr_value* v) {
  SR_NEED(name && v);
  return Guard(c, [&](PluginInstance& i) { return i.BuilderSet(Text(name, n), *v); });
}
sr_status HostBuilderSetKeyFields(sr_ctx* c) {
  return Guard(c, [&](PluginInstance& i) { return i.BuilderSetKeyFields(); });
}
sr_status HostBuilderEmit(sr_ctx* c, int64_t t) {
  return Guard(c, [&](PluginInstance& i) { return i.BuilderEmit(t); });
}
sr_status HostCounterAdd(sr_ctx* c, const char* name, size_t n, uint64_t delta) {
  SR_NEED(name);
  return Guard(c, [&](PluginInstance& i) { return i.CounterAdd(Text(name, n), delta); });
}
sr_status HostGaugeSet(sr_ctx* c, const char* name, size_t n, double v) {
  SR_NEED(name);
  return Guard(c, [&](PluginInstance& i) { return i.GaugeSet(Text(name, n), v); });
}
sr_status HostCheckpointWrite(sr_ctx* c, const void* d, size_t n) {
  SR_NEED(d || n == 0);
  return Guard(c, [&](PluginInstance& i) { return i.CheckpointWrite(Text(static_cast<const char*>(d), n)); });
}

sr_status HostAsyncBegin(sr_ctx* c, uint32_t row, uint64_t* id) {
  SR_NEED(id);
  return Guard(c, [&](PluginInstance& i) { return i.AsyncBegin(row, id); });
}
// From any thread: touches nothing of the instance but its completion queue.
sr_status HostAsyncComplete(sr_ctx* c, uint64_t id, sr_status status, int64_t code, const void* d, size_t n) {
  if (!c || !c->self || (!d && n > 0)) return SR_INVALID;
  try {
    return c->self->AsyncComplete(id, status, code, Text(static_cast<const char*>(d), n));
  } catch (...) {
    return SR_ERROR;
  }
}
sr_status HostHttpRequest(sr_ctx* c, uint32_t row, const sr_http_request* r, uint64_t* id) {
  SR_NEED(r && id);
  return Guard(c, [&](PluginInstance& i) { return i.HttpRequest(row, *r, id); });
}

#undef SR_NEED

sr_host MakeHost() {
  sr_host h{};
  h.size = sizeof(sr_host);
  h.abi_major = SR_ABI_MAJOR;
  h.abi_minor = SR_ABI_MINOR;
  h.build_tag = SR_BUILD_TAG;
  h.set_error = HostSetError;
  h.log = HostLog;
  h.declare_field = HostDeclareField;
  h.declare_state = HostDeclareState;
  h.record_meta = HostRecordMeta;
  h.field = HostField;
  h.field_by_name = HostFieldByName;
  h.record_json = HostRecordJson;
  h.select_key = HostSelectKey;
  h.fail_record = HostFailRecord;
  h.emit_late = HostEmitLate;
  h.current_key = HostCurrentKey;
  h.key_field_count = HostKeyFieldCount;
  h.key_field = HostKeyField;
  h.value_get = HostValueGet;
  h.value_put = HostValuePut;
  h.state_clear = HostStateClear;
  h.map_get = HostMapGet;
  h.map_put = HostMapPut;
  h.map_remove = HostMapRemove;
  h.map_size = HostMapSize;
  h.map_entry = HostMapEntry;
  h.list_append = HostListAppend;
  h.list_size = HostListSize;
  h.list_get = HostListGet;
  h.timer_register = HostTimerRegister;
  h.timer_delete = HostTimerDelete;
  h.watermark = HostWatermark;
  h.processing_time = HostProcessingTime;
  h.emit_json = HostEmitJson;
  h.builder_begin = HostBuilderBegin;
  h.builder_set = HostBuilderSet;
  h.builder_set_key_fields = HostBuilderSetKeyFields;
  h.builder_emit = HostBuilderEmit;
  h.counter_add = HostCounterAdd;
  h.gauge_set = HostGaugeSet;
  h.checkpoint_write = HostCheckpointWrite;
  h.async_begin = HostAsyncBegin;
  h.async_complete = HostAsyncComplete;
  h.http_request = HostHttpRequest;
  return h;
}

}  // namespace

const sr_host* HostTable() {
  static const sr_host kHost = MakeHost();
  return &kHost;
}

}  // namespace streamrun::plugin
