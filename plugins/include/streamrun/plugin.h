/*
 * streamrun operator plugin ABI, version 1 (pure C).
 *
 * A plugin is a shared library that exports one function, streamrun_plugin_v1
 * (SR_ENTRY_NAME). streamrun calls it once, when it loads the library, with its
 * table of host functions, and gets back the plugin's descriptor: the operators
 * it offers and their callbacks. The major version is in the symbol's name, so
 * a library built for another major version is never called at all.
 *
 * Versions (SR_ABI_MAJOR.SR_ABI_MINOR):
 *   - major: changes that break: a removed or changed function or field. A new
 *     major exports a new symbol (streamrun_plugin_v2).
 *   - minor: new functions at the end of sr_host, new fields at the end of
 *     sr_plugin and sr_operator, new enum values. Both sides read a field only
 *     when the struct's `size` says it is there, so a plugin built against an
 *     older minor loads in a newer host and the reverse, unless the plugin asks
 *     for more (sr_plugin.min_host_minor).
 *   - a build tag (pointer width and byte order, SR_BUILD_TAG) is compared too.
 *
 * Rules at the boundary:
 *   - Nothing crosses but C types. No C++ type, exception or allocator: a
 *     plugin written in C++ catches everything inside its callbacks (the SDK,
 *     streamrun/sdk.hpp, does) and reports it as a status.
 *   - Data passed in is borrowed for the duration of the call (a record's
 *     strings, the configuration text) or, for what a host function returns
 *     through an out-parameter, until the next call to the host on the same
 *     context. Copy what you keep. Nothing is freed across the boundary: the
 *     host copies what it is given (emit, state put) before it returns.
 *   - Every host function returns an sr_status; SR_OK is 0. A callback returns
 *     SR_OK, or an error after calling host->set_error with a message: the run
 *     then ends with that message (exit 1). An error in one record is not that:
 *     report it with host->fail_record and return SR_OK, and the pipeline's
 *     error policy (fail, skip, dead letter) applies to the record.
 *
 * Threading: streamrun makes one instance of an operator per worker (create),
 * and calls an instance only from its worker's thread, one call at a time.
 * Instances of one operator run on several threads at once: a plugin's global
 * data must be read-only or guarded by the plugin. The plugin calls the host
 * only from the thread of the callback it is in, with one exception:
 * async_complete may be called from any thread (it is queued to the worker).
 *
 * The ABI is batch-shaped: process gets a batch, records are named by their
 * index in it, and the host is reached only through sr_host, so a later
 * out-of-process host can load the same library. In process, a crash inside a
 * plugin (a bad pointer, an abort) ends streamrun: restart it and it restores
 * from its last checkpoint.
 *
 * The lifecycle of an instance:
 *   create(config) -> open -> { process | on_timer | on_watermark |
 *   on_async_complete | on_checkpoint | on_restore }* -> close -> destroy
 * streamrun also calls create and open once while it plans the pipeline, to
 * check the configuration and learn the fields and state the operator
 * declares in open, then destroy; that instance sees no record. Declarations
 * must therefore depend only on the configuration.
 *
 * docs/plugins.md teaches writing a plugin; plugins/template is one to copy.
 */
#ifndef STREAMRUN_PLUGIN_H
#define STREAMRUN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SR_ABI_MAJOR 1
#define SR_ABI_MINOR 0
#define SR_ENTRY streamrun_plugin_v1
#define SR_ENTRY_NAME "streamrun_plugin_v1"

#if defined(__BYTE_ORDER__) && defined(__ORDER_BIG_ENDIAN__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define SR_BYTE_ORDER_TAG 2u
#else
#define SR_BYTE_ORDER_TAG 1u
#endif
/* 64 | 1 << 8 on x86-64 and arm64: pointer bits, then 1 little / 2 big endian. */
#define SR_BUILD_TAG ((uint32_t)(sizeof(void*) * 8u) | (SR_BYTE_ORDER_TAG << 8))

#if defined(_WIN32)
#define SR_EXPORT __declspec(dllexport)
#else
#define SR_EXPORT __attribute__((visibility("default")))
#endif

/* Statuses: what every host function and callback returns. */
typedef int32_t sr_status;
#define SR_OK 0
#define SR_ERROR 1       /* failed; host->set_error holds why */
#define SR_NOT_FOUND 2   /* no such value, entry, field or timer */
#define SR_INVALID 3     /* a bad argument (unknown state id, row out of range, bad JSON) */
#define SR_WRONG_STATE 4 /* not allowed now: a declaration after open, state with no key current */
#define SR_UNSUPPORTED 5 /* the host does not offer this (yet) */

/* Times are epoch milliseconds. */
#define SR_NO_TIME INT64_MIN /* no event time; the watermark before the first one */
#define SR_END_OF_TIME INT64_MAX

/* A value of a record field. Strings, lists and objects are UTF-8 text borrowed
 * from the host (lists and objects as their JSON text). */
typedef int32_t sr_kind;
#define SR_NULL 0
#define SR_BOOL 1   /* i: 0 or 1 */
#define SR_INT 2    /* i */
#define SR_FLOAT 3  /* f */
#define SR_STRING 4 /* str, len */
#define SR_LIST 5   /* str, len: JSON array text */
#define SR_OBJECT 6 /* str, len: JSON object text */

typedef struct sr_value {
  sr_kind kind;
  int32_t reserved;
  int64_t i;
  double f;
  const char* str;
  size_t len;
} sr_value;

typedef struct sr_bytes {
  const char* data;
  size_t len;
} sr_bytes;

/* Where a record stands: its event time, the watermark before it, and where it
 * was read. Order records of equal event time by (source, topic, partition,
 * offset) and they come out the same at every parallelism. */
typedef struct sr_record_meta {
  int64_t event_time; /* SR_NO_TIME if the source has none */
  int64_t watermark;  /* the watermark the record is judged against */
  int32_t source;     /* index of its source; -1 for a row an operator made */
  int32_t topic;      /* Kafka: index among the source's topics; -1 otherwise */
  int32_t partition;  /* Kafka partition, or the file's index in a glob */
  int32_t reserved;
  int64_t offset;    /* Kafka offset, or byte offset in the file */
  uint64_t key_hash; /* the key_by key's hash (0 with no key) */
} sr_record_meta;

/* The host's side of one instance: opaque, passed to every callback. */
typedef struct sr_ctx sr_ctx;

/* Kinds of keyed state (declare_state). */
typedef int32_t sr_state_kind;
#define SR_STATE_VALUE 0 /* one byte string per key */
#define SR_STATE_MAP 1   /* byte-string keys to byte-string values, in key order */
#define SR_STATE_LIST 2  /* byte strings in the order appended */

/* Time domains of timers. */
typedef int32_t sr_time_domain;
#define SR_EVENT_TIME 0      /* fires when the watermark reaches its time */
#define SR_PROCESSING_TIME 1 /* fires when the wall clock does */

/* An HTTP request the host runs (http_request). */
typedef struct sr_http_request {
  uint32_t size; /* sizeof(sr_http_request) */
  uint32_t header_count;
  const char* method;         /* "GET", "POST", "PUT", ... (NULL: GET) */
  const char* url;            /* http:// or https:// */
  const char* const* headers; /* header_count "Name: value" strings */
  const char* body;           /* NULL: none */
  size_t body_len;
  int64_t timeout_ms; /* 0: 5000 */
} sr_http_request;

/* Log levels. */
#define SR_LOG_DEBUG 0
#define SR_LOG_INFO 1
#define SR_LOG_WARN 2
#define SR_LOG_ERROR 3

/*
 * The host's functions. Grows only at the end; read `size` before calling a
 * function added after the minor version you build against.
 */
typedef struct sr_host {
  uint32_t size; /* sizeof(sr_host) as the host was built */
  uint16_t abi_major;
  uint16_t abi_minor;
  uint32_t build_tag;
  uint32_t reserved;

  /* ---- errors and logs ---------------------------------------------------- */
  /* The message for the error status the current callback returns. */
  sr_status (*set_error)(sr_ctx* ctx, const char* message, size_t len);
  /* A log line naming the pipeline, the step and the worker, at the level
   * given (SR_LOG_DEBUG lines show with --log-level debug). */
  sr_status (*log)(sr_ctx* ctx, int32_t level, const char* message, size_t len);

  /* ---- declarations (create and open only) -------------------------------- */
  /* A field the operator reads, as a path ("user.id"), and its reference for
   * field(). Only declared fields are decoded from the input records. */
  sr_status (*declare_field)(sr_ctx* ctx, const char* path, size_t len, int32_t* ref);
  /* Keyed state named `name` of a kind; its id for the state functions. */
  sr_status (*declare_state)(sr_ctx* ctx, const char* name, size_t len, sr_state_kind kind, int32_t* id);

  /* ---- records of the batch being processed (process only) ----------------- */
  sr_status (*record_meta)(sr_ctx* ctx, uint32_t row, sr_record_meta* out);
  sr_status (*field)(sr_ctx* ctx, uint32_t row, int32_t ref, sr_value* out);
  /* The same by path: a path declared with declare_field, else SR_NOT_FOUND. */
  sr_status (*field_by_name)(sr_ctx* ctx, uint32_t row, const char* path, size_t len, sr_value* out);
  /* The whole record as JSON text. */
  sr_status (*record_json)(sr_ctx* ctx, uint32_t row, sr_bytes* out);
  /* Makes the row's key (its key_by key) current for the state and timer
   * functions. Keyed operators only. */
  sr_status (*select_key)(sr_ctx* ctx, uint32_t row);
  /* The record failed: the error policy applies to it (skip, dead letter, or
   * end the run). Emit nothing for it. */
  sr_status (*fail_record)(sr_ctx* ctx, uint32_t row, const char* message, size_t len);
  /* Sends the row, unchanged, to the transform's `.late` side output
   * (operators with SR_OP_LATE_OUTPUT). */
  sr_status (*emit_late)(sr_ctx* ctx, uint32_t row);

  /* ---- the current key (keyed operators; set by select_key or a timer) ------ */
  /* The key's bytes (a stable identity: equal keys, equal bytes). */
  sr_status (*current_key)(sr_ctx* ctx, sr_bytes* out);
  /* The key's fields, as key_by named them: how many, and each name and value. */
  sr_status (*key_field_count)(sr_ctx* ctx, uint32_t* count);
  sr_status (*key_field)(sr_ctx* ctx, uint32_t index, sr_bytes* name, sr_value* value);

  /* ---- keyed state of the current key ---------------------------------------- */
  sr_status (*value_get)(sr_ctx* ctx, int32_t state, sr_bytes* out); /* SR_NOT_FOUND if unset */
  sr_status (*value_put)(sr_ctx* ctx, int32_t state, const void* data, size_t len);
  sr_status (*state_clear)(sr_ctx* ctx, int32_t state); /* any kind */
  sr_status (*map_get)(sr_ctx* ctx, int32_t state, const void* key, size_t klen, sr_bytes* out);
  sr_status (*map_put)(sr_ctx* ctx, int32_t state, const void* key, size_t klen, const void* value,
                       size_t vlen);
  sr_status (*map_remove)(sr_ctx* ctx, int32_t state, const void* key, size_t klen); /* SR_NOT_FOUND */
  sr_status (*map_size)(sr_ctx* ctx, int32_t state, uint32_t* count);
  /* The index-th entry in key order (0 .. map_size - 1). */
  sr_status (*map_entry)(sr_ctx* ctx, int32_t state, uint32_t index, sr_bytes* key, sr_bytes* value);
  sr_status (*list_append)(sr_ctx* ctx, int32_t state, const void* data, size_t len);
  sr_status (*list_size)(sr_ctx* ctx, int32_t state, uint32_t* count);
  sr_status (*list_get)(sr_ctx* ctx, int32_t state, uint32_t index, sr_bytes* out);

  /* ---- timers of the current key ---------------------------------------------- */
  /* A timer is (domain, time, tag); registering one that exists does nothing.
   * on_timer gets it with its key current, once. Checkpoints keep them. */
  sr_status (*timer_register)(sr_ctx* ctx, sr_time_domain domain, int64_t time, int64_t tag);
  sr_status (*timer_delete)(sr_ctx* ctx, sr_time_domain domain, int64_t time, int64_t tag); /* SR_NOT_FOUND */

  /* ---- time ---------------------------------------------------------------------- */
  /* The operator's input watermark (SR_NO_TIME before the first). */
  sr_status (*watermark)(sr_ctx* ctx, int64_t* out);
  sr_status (*processing_time)(sr_ctx* ctx, int64_t* out);

  /* ---- output --------------------------------------------------------------------- */
  /* Emits a record given as one JSON object. The host copies it. Text that
   * is not a JSON object is a failed record (the error policy applies to it,
   * the text as its raw bytes) and the call returns SR_INVALID. */
  sr_status (*emit_json)(sr_ctx* ctx, const char* json, size_t len, int64_t event_time);
  /* A builder: begin (from_row: start from that input record's fields, or -1
   * for an empty record), set fields (the last set of a name wins; top-level
   * names), then emit. One builder per instance. */
  sr_status (*builder_begin)(sr_ctx* ctx, int64_t from_row);
  sr_status (*builder_set)(sr_ctx* ctx, const char* name, size_t len, const sr_value* value);
  /* Sets the current key's fields, under their key_by names. */
  sr_status (*builder_set_key_fields)(sr_ctx* ctx);
  sr_status (*builder_emit)(sr_ctx* ctx, int64_t event_time); /* SR_INVALID as emit_json */

  /* ---- metrics ------------------------------------------------------------------ */
  /* Counters and gauges of this operator instance (per worker), served at
   * /metrics as streamrun_plugin_events_total and streamrun_plugin_value with
   * labels operator, worker and name (docs/metrics.md). Look-up is by name:
   * use a few fixed names, not one per key. */
  sr_status (*counter_add)(sr_ctx* ctx, const char* name, size_t len, uint64_t delta);
  sr_status (*gauge_set)(sr_ctx* ctx, const char* name, size_t len, double value);

  /* ---- checkpoints (on_checkpoint only) -------------------------------------------- */
  /* Appends bytes to the instance's state that belongs to no key. */
  sr_status (*checkpoint_write)(sr_ctx* ctx, const void* data, size_t len);

  /* ---- asynchronous calls (operators flagged SR_OP_ASYNC) ----------------------- */
  /* Holds input row `row` for an asynchronous call and gives the call's id.
   * The record waits in the host until the call completes: in checkpoints
   * too (a restore gives it to process again, so begin the call there and
   * change state when it completes), and the operator's watermark waits for
   * it downstream. From process, or from on_async_complete for its held row
   * (a retry, which keeps the call's place in the order). About 1000 records
   * wait per worker: past that, the host waits for completions before the
   * next process call. */
  sr_status (*async_begin)(sr_ctx* ctx, uint32_t row, uint64_t* id);
  /* Completes call `id`, once: from ANY thread (the only host function that
   * may be called off the worker's thread), until the instance's close
   * returns (or, for a run that fails, until destroy). The host copies
   * `data` and queues the completion; the worker
   * then calls on_async_complete. `status` and `code` are the plugin's. */
  sr_status (*async_complete)(sr_ctx* ctx, uint64_t id, sr_status status, int64_t code, const void* data,
                              size_t len);
  /* An HTTP request the host runs for input row `row` (libcurl, connections
   * reused): an asynchronous call, holding the record as async_begin does. It
   * completes with SR_OK, code = the HTTP status and data = the body when an
   * answer came, or SR_ERROR and data = why (connection refused, timeout...).
   * Retrying is the operator's: make a new request from on_async_complete's
   * held row. */
  sr_status (*http_request)(sr_ctx* ctx, uint32_t row, const sr_http_request* request, uint64_t* id);
} sr_host;

/* Flags of an operator. */
#define SR_OP_KEYED 1u         /* needs a key_by before it; has keyed state and timers */
#define SR_OP_LATE_OUTPUT 2u   /* its transform gets a `.late` side output (emit_late) */
#define SR_OP_ASYNC 4u         /* makes asynchronous calls (async_begin, http_request) */
#define SR_OP_ASYNC_ORDERED 8u /* with SR_OP_ASYNC: completions are handled in the order calls began */

/*
 * One operator: a step named `name` in a pipeline's transforms. Grows only at
 * the end (`size`). Callbacks the operator does not need may be NULL.
 */
typedef struct sr_operator {
  uint32_t size; /* sizeof(sr_operator) as the plugin was built */
  uint32_t flags;
  const char* name;    /* the step's name: lowercase letters, digits, '_' */
  const char* version; /* the operator's own version, e.g. "1.2.0" */
  const char* summary; /* one line for `streamrun plugins` and the reference */
  /* JSON Schema (a subset: type, properties, required, default, enum,
   * description, items, additionalProperties; "format": "duration" for
   * strings such as 5s) of the step's value. streamrun validates the YAML
   * against it, with line:col errors, and passes create the value as JSON:
   * durations as integer milliseconds, defaults filled in. */
  const char* config_schema;

  /* An instance for one worker, or NULL after host->set_error (a configuration
   * the schema cannot rule out: the message is shown at the step's line). */
  void* (*create)(const sr_host* host, sr_ctx* ctx, const char* config_json, size_t len);
  /* Declares fields and state. */
  sr_status (*open)(void* instance, sr_ctx* ctx);
  /* A batch of `count` input records, rows 0 .. count - 1, all judged against
   * the same watermark (host->watermark). */
  sr_status (*process)(void* instance, sr_ctx* ctx, uint32_t count);
  /* A timer is due, its key current. Event-time timers fire as the watermark
   * passes them (before on_watermark sees it); processing-time ones between
   * batches. */
  sr_status (*on_timer)(void* instance, sr_ctx* ctx, sr_time_domain domain, int64_t time, int64_t tag);
  /* The watermark advanced (SR_END_OF_TIME: every input is done), after the
   * timers it made due fired: every advance, also one that comes with a
   * batch's records (then between process calls). */
  sr_status (*on_watermark)(void* instance, sr_ctx* ctx, int64_t watermark);
  /* A checkpoint: write state that belongs to no key with
   * host->checkpoint_write (keyed state and timers are the host's). */
  sr_status (*on_checkpoint)(void* instance, sr_ctx* ctx, int64_t checkpoint_id);
  /* A restore, after create and open: what on_checkpoint wrote, on every
   * worker of the checkpoint (`count` parts, in worker order; the run may
   * have another parallelism now). Keyed state is back already. */
  sr_status (*on_restore)(void* instance, sr_ctx* ctx, const sr_bytes* parts, uint32_t count);
  /* The run is ending normally. */
  sr_status (*close)(void* instance, sr_ctx* ctx);
  void (*destroy)(void* instance);
  /* An asynchronous call completed (SR_OP_ASYNC), on the worker's thread:
   * the record it held is row 0 of a one-row batch (field, record_meta,
   * select_key, builder_begin(0), fail_record, emit_late work on it), its key
   * current for a keyed operator, and http_request or async_begin may hold
   * it again (a retry). In the order calls began with SR_OP_ASYNC_ORDERED,
   * else as they complete. */
  sr_status (*on_async_complete)(void* instance, sr_ctx* ctx, uint64_t id, sr_status status, int64_t code,
                                 const void* data, size_t len);
} sr_operator;

/* The plugin: what the entry function returns. Grows only at the end. */
typedef struct sr_plugin {
  uint32_t size;           /* sizeof(sr_plugin) as the plugin was built */
  uint16_t abi_major;      /* SR_ABI_MAJOR */
  uint16_t abi_minor;      /* SR_ABI_MINOR the plugin was built against */
  uint32_t build_tag;      /* SR_BUILD_TAG */
  uint16_t min_host_minor; /* the oldest host minor version it works with */
  uint16_t reserved;
  const char* name;
  const char* version;
  uint32_t operator_count;
  const sr_operator* const* operators;
} sr_plugin;

/* The entry point: returns the descriptor (static data that lives as long as
 * the library), or NULL if the plugin cannot work with this host. */
typedef const sr_plugin* (*sr_entry_fn)(const sr_host* host);

#ifdef __cplusplus
}
#endif

#endif /* STREAMRUN_PLUGIN_H */
