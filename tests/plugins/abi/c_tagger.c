/* A plugin written in C against plugin.h alone (no SDK): `c_tagger` passes
 * each record on with `tagged: true` and its `amount` multiplied by the
 * configured `factor`; a record whose `action` is "fail" is failed (the
 * pipeline's error policy applies), and one whose action is "fatal" ends the
 * run. */
#include <streamrun/plugin.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const sr_host* host;
  int32_t action;
  int32_t amount;
  int64_t factor;
} tagger;

/* The integer after `key` in the configuration's JSON (which is `len` bytes,
 * not NUL-terminated: copied first). */
static int find_int(const char* json, size_t len, const char* key, int64_t* out) {
  char text[512];
  if (len >= sizeof text) return 0;
  memcpy(text, json, len);
  text[len] = 0;
  const char* p = strstr(text, key);
  if (!p || !(p = strchr(p, ':'))) return 0;
  *out = strtoll(p + 1, NULL, 10);
  return 1;
}

static void* create(const sr_host* host, sr_ctx* ctx, const char* config, size_t len) {
  tagger* t = calloc(1, sizeof(tagger));
  if (!t) return NULL;
  t->host = host;
  t->factor = 2;
  find_int(config, len, "\"factor\"", &t->factor);
  if (t->factor == 0) {
    const char* why = "factor must not be 0";
    host->set_error(ctx, why, strlen(why));
    free(t);
    return NULL;
  }
  return t;
}

static sr_status open_op(void* p, sr_ctx* ctx) {
  tagger* t = p;
  sr_status s = t->host->declare_field(ctx, "action", 6, &t->action);
  if (s != SR_OK) return s;
  return t->host->declare_field(ctx, "amount", 6, &t->amount);
}

static sr_status process(void* p, sr_ctx* ctx, uint32_t count) {
  tagger* t = p;
  const sr_host* h = t->host;
  for (uint32_t i = 0; i < count; ++i) {
    sr_value action, amount;
    if (h->field(ctx, i, t->action, &action) != SR_OK) return SR_ERROR;
    if (action.kind == SR_STRING && action.len == 4 && memcmp(action.str, "fail", 4) == 0) {
      h->fail_record(ctx, i, "asked to fail", 13);
      continue;
    }
    if (action.kind == SR_STRING && action.len == 5 && memcmp(action.str, "fatal", 5) == 0) {
      h->set_error(ctx, "a fatal record", 14);
      return SR_ERROR;
    }
    if (h->field(ctx, i, t->amount, &amount) != SR_OK) return SR_ERROR;
    sr_value tagged = {SR_BOOL, 0, 1, 0, NULL, 0};
    sr_value doubled = amount;
    if (amount.kind == SR_INT) doubled.i = amount.i * t->factor;
    if (amount.kind == SR_FLOAT) doubled.f = amount.f * (double)t->factor;
    sr_status s = h->builder_begin(ctx, (int64_t)i);
    if (s == SR_OK) s = h->builder_set(ctx, "tagged", 6, &tagged);
    if (s == SR_OK) s = h->builder_set(ctx, "amount", 6, &doubled);
    if (s == SR_OK) s = h->builder_emit(ctx, SR_NO_TIME);
    if (s != SR_OK) return s;
  }
  h->counter_add(ctx, "records", 7, count);
  return SR_OK;
}

static void destroy(void* p) { free(p); }

static const sr_operator op = {
    sizeof(sr_operator), 0, "c_tagger", "0.1.0", "Tags records (a plugin in plain C)",
    "{\"type\":\"object\",\"properties\":{\"factor\":{\"type\":\"integer\",\"default\":2,"
    "\"description\":\"What amount is multiplied by\"}}}",
    create, open_op, process, NULL, NULL, NULL, NULL, NULL, destroy, NULL};
static const sr_operator* const ops[] = {&op};
static const sr_plugin plugin = {sizeof(sr_plugin), SR_ABI_MAJOR, SR_ABI_MINOR, SR_BUILD_TAG, 0, 0,
                                 "c_tagger", "0.1.0", 1, ops};

SR_EXPORT const sr_plugin* SR_ENTRY(const sr_host* host) {
  if (!host || host->abi_major != SR_ABI_MAJOR) return NULL;
  return &plugin;
}
