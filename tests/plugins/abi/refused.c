/* Libraries streamrun must refuse, one per VARIANT (tests/cli/plugins.sh
 * checks each message): built as C against plugin.h alone. */
#include <streamrun/plugin.h>
#include <string.h>

static void* Create(const sr_host* h, sr_ctx* c, const char* config, size_t len) { return (void*)1; }
static sr_status Process(void* i, sr_ctx* c, uint32_t n) { return SR_OK; }
static void Destroy(void* i) {}

static sr_operator op = {sizeof(sr_operator), 0, "refused_op", "1.0.0", "never runs", "{\"type\":\"object\"}",
                         Create, NULL, Process, NULL, NULL, NULL, NULL, NULL, Destroy, NULL};
static const sr_operator* ops[] = {&op};
static sr_plugin plugin = {sizeof(sr_plugin), SR_ABI_MAJOR, SR_ABI_MINOR, SR_BUILD_TAG, 0, 0,
                           "refused", "1.0.0", 1, ops};

#if defined(VARIANT_NO_SYMBOL)
SR_EXPORT int not_a_plugin(void) { return 0; }
#elif defined(VARIANT_OTHER_MAJOR)
SR_EXPORT const sr_plugin* streamrun_plugin_v2(const sr_host* h) { return &plugin; }
#else
SR_EXPORT const sr_plugin* SR_ENTRY(const sr_host* h) {
#if defined(VARIANT_SMALL)
  plugin.size = 8;
#elif defined(VARIANT_MAJOR_IN_DESCRIPTOR)
  plugin.abi_major = 2;
#elif defined(VARIANT_BUILD_TAG)
  plugin.build_tag = 32u | (2u << 8);
#elif defined(VARIANT_NEWER_HOST)
  plugin.min_host_minor = 99;
#elif defined(VARIANT_NULL)
  return NULL;
#elif defined(VARIANT_OPERATOR_SIZE)
  op.size = 16;
#elif defined(VARIANT_BUILTIN_NAME)
  op.name = "filter";
#elif defined(VARIANT_BAD_SCHEMA)
  op.config_schema = "{\"type\": \"object\", \"properties\": {\"x\": {\"type\": \"date\"}}}";
#endif
  return &plugin;
}
#endif
