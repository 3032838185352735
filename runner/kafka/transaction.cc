#include "runner/kafka/transaction.h"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <thread>

#include "runner/log/log.h"
#include "runner/state/snapshot.h"

namespace streamrun::kafka {

namespace {

constexpr std::string_view kStateVersion = "kafka-transaction-v1";
constexpr uint32_t kNoKey = 0xFFFFFFFFu;

void PutU32(std::string* out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out->append(b, 4);
}

uint32_t GetU32(std::string_view in, size_t* pos) {
  if (in.size() - *pos < 4) throw SnapshotError("kafka transaction state: truncated record");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(in[*pos + i])) << (8 * i);
  *pos += 4;
  return v;
}

std::string_view GetBytes(std::string_view in, size_t* pos, uint32_t n) {
  if (in.size() - *pos < n) throw SnapshotError("kafka transaction state: truncated record");
  std::string_view s = in.substr(*pos, n);
  *pos += n;
  return s;
}

// One staged record, as it lies in the buffer.
struct StagedRecord {
  uint32_t topic;
  bool has_key;
  std::string_view key;
  std::string_view value;
};

template <typename F>
void ForEachStaged(std::string_view buffer, F&& f) {
  size_t pos = 0;
  while (pos < buffer.size()) {
    StagedRecord r;
    r.topic = GetU32(buffer, &pos);
    const uint32_t key_size = GetU32(buffer, &pos);
    r.has_key = key_size != kNoKey;
    if (r.has_key) r.key = GetBytes(buffer, &pos, key_size);
    r.value = GetBytes(buffer, &pos, GetU32(buffer, &pos));
    f(r);
  }
}

void AppendStaged(std::string* buffer, uint32_t topic, std::string_view value, const std::string_view* key) {
  PutU32(buffer, topic);
  if (key) {
    PutU32(buffer, static_cast<uint32_t>(key->size()));
    buffer->append(*key);
  } else {
    PutU32(buffer, kNoKey);
  }
  PutU32(buffer, static_cast<uint32_t>(value.size()));
  buffer->append(value);
}

std::string NewToken() {
  std::random_device random;
  const uint64_t a = (static_cast<uint64_t>(random()) << 32) ^ random();
  const uint64_t b = static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  char text[40];
  std::snprintf(text, sizeof text, "%016llx%08llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b & 0xFFFFFFFFu));
  return text;
}

// A librdkafka error taken apart (the handle destroyed).
struct TxnError {
  rd_kafka_resp_err_t code;
  std::string text;
  bool fatal;
  bool retriable;
  bool abortable;
};

bool Take(rd_kafka_error_t* error, TxnError* out) {
  if (!error) return false;
  out->code = rd_kafka_error_code(error);
  out->text = rd_kafka_error_string(error);
  out->fatal = rd_kafka_error_is_fatal(error);
  out->retriable = rd_kafka_error_is_retriable(error);
  out->abortable = rd_kafka_error_txn_requires_abort(error);
  rd_kafka_error_destroy(error);
  return true;
}

bool StartsWith(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

}  // namespace

struct Transaction::Staged {
  std::string transactional_id;
  std::string token;
  int64_t id = 0;
  std::vector<std::string> topics;
  uint64_t count = 0;
  std::string_view records;

  static Staged Parse(std::string_view state) {
    SnapshotReader r(state);
    if (r.Str() != kStateVersion) throw SnapshotError("kafka transaction state: unknown version");
    Staged s;
    s.transactional_id = std::string(r.Str());
    s.token = std::string(r.Str());
    s.id = r.I64();
    for (uint64_t n = r.U64(); n > 0; --n) s.topics.emplace_back(r.Str());
    s.count = r.U64();
    s.records = r.Str();
    if (s.count > 0 && s.topics.empty()) throw SnapshotError("kafka transaction state: no topic");
    return s;
  }
};

Transaction::Transaction(Options options) : options_(std::move(options)) { NewProducer(); }

Transaction::~Transaction() {
  try {
    Close();
  } catch (const std::exception& e) {
    Log(std::string("closing: ") + e.what());
  }
  DestroyProducer();
}

void Transaction::Log(const std::string& line) const {
  const std::string text = "transaction " + options_.transactional_id + ": " + line;
  if (options_.log)
    options_.log(text);
  else
    log::Warn("", "{}", text);  // repairs, aborts and restores: each one is worth a look
}

void Transaction::Fail(const std::string& what) const {
  throw std::runtime_error("Kafka transaction " + options_.transactional_id + ": " + what);
}

void Transaction::NewProducer() {
  Properties defaults = options_.defaults;
  // After the sink's defaults (its `idempotent: false` does not apply here)
  // and before the user's properties.
  defaults.emplace_back("transactional.id", options_.transactional_id);
  defaults.emplace_back("transaction.timeout.ms", std::to_string(options_.transaction_timeout_ms));
  defaults.emplace_back("enable.idempotence", "true");
  defaults.emplace_back("acks", "all");
  rd_kafka_conf_t* conf = MakeConf(defaults, options_.properties);
  rd_kafka_conf_set_opaque(conf, this);
  rd_kafka_conf_set_dr_msg_cb(conf, &Transaction::OnDelivery);
  char error[512];
  producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  if (!producer_) {
    rd_kafka_conf_destroy(conf);
    Fail(error);
  }
  topics_.clear();
  for (const auto& name : topic_names_)
    topics_.push_back(rd_kafka_topic_new(producer_, name.c_str(), nullptr));
  initialised_ = false;
  open_ = false;
  failed_ = 0;
}

void Transaction::DestroyProducer() {
  for (auto* t : topics_) rd_kafka_topic_destroy(t);
  topics_.clear();
  if (producer_) {
    // Unsent records are purged: they are staged, and a transaction left open
    // is aborted by the next producer of this id (or the broker's timeout).
    rd_kafka_purge(producer_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_destroy(producer_);
    producer_ = nullptr;
  }
}

void Transaction::OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  // Purged records (an abort, a new producer) are staged and sent again.
  if (!m->err || m->err == RD_KAFKA_RESP_ERR__PURGE_QUEUE || m->err == RD_KAFKA_RESP_ERR__PURGE_INFLIGHT)
    return;
  auto* self = static_cast<Transaction*>(opaque);
  if (self->failed_++ == 0) self->first_failure_ = rd_kafka_err2str(m->err);
}

void Transaction::Init() {
  if (initialised_) return;
  for (int attempt = 1;; ++attempt) {
    TxnError e;
    if (!Take(rd_kafka_init_transactions(producer_, static_cast<int>(options_.timeout_ms)), &e)) break;
    if (!e.retriable || attempt >= options_.max_attempts) Fail("init_transactions: " + e.text);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempt));
  }
  initialised_ = true;
  if (token_.empty()) token_ = NewToken();
}

void Transaction::Begin() {
  TxnError e;
  if (Take(rd_kafka_begin_transaction(producer_), &e)) Fail("begin_transaction: " + e.text);
  open_ = true;
}

int Transaction::Topic(const std::string& name) {
  for (size_t i = 0; i < topic_names_.size(); ++i)
    if (topic_names_[i] == name) return static_cast<int>(i);
  topic_names_.push_back(name);
  topics_.push_back(rd_kafka_topic_new(producer_, name.c_str(), nullptr));
  return static_cast<int>(topic_names_.size() - 1);
}

void Transaction::Produce(int topic, std::string_view value, const std::string_view* key) {
  rd_kafka_resp_err_t err = kafka::Produce(producer_, topics_[static_cast<size_t>(topic)], value, key, -1);
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
  // The producer is in an error state (an abortable or fatal transaction
  // error): count it as a failed delivery; Poll and Prepare repair it.
  if (failed_++ == 0) first_failure_ = rd_kafka_err2str(err);
}

void Transaction::SendStagedAgain() {
  ForEachStaged(staged_, [&](const StagedRecord& r) {
    Produce(static_cast<int>(r.topic), r.value, r.has_key ? &r.key : nullptr);
  });
}

void Transaction::Send(int topic, std::string_view value, const std::string_view* key) {
  if (!initialised_) Init();
  if (sealed_) {
    AppendStaged(&held_, static_cast<uint32_t>(topic), value, key);
    ++held_count_;
    return;
  }
  if (!open_) Begin();
  AppendStaged(&staged_, static_cast<uint32_t>(topic), value, key);
  ++staged_count_;
  Produce(topic, value, key);
}

void Transaction::Abort() {
  // Repairs in a row are bounded: a broker that keeps refusing fails the run
  // (a restart restores the last checkpoint).
  if (++attempts_ > options_.max_attempts)
    Fail("gave up after " + std::to_string(options_.max_attempts) + " repairs: " + first_failure_);
  ++stats_.repairs;
  TxnError e;
  bool renew = !open_;
  if (open_ && Take(rd_kafka_abort_transaction(producer_, static_cast<int>(options_.timeout_ms)), &e)) {
    Log("abort failed (" + e.text + "): a new producer fences this one");
    renew = true;
  }
  if (renew) {
    DestroyProducer();
    NewProducer();
    Init();
  }
  rd_kafka_poll(producer_, 0);  // the purged records' reports
  open_ = false;
  failed_ = 0;
}

void Transaction::Poll() {
  if (!producer_) return;
  rd_kafka_poll(producer_, 0);
  while (failed_ > 0) {
    Log("a record was not delivered (" + first_failure_ + "): aborting and sending the " +
        std::to_string(staged_count_) + " staged records again");
    Abort();
    Begin();
    SendStagedAgain();
    stats_.republished += staged_count_;
    rd_kafka_poll(producer_, 0);
  }
}

void Transaction::ReleaseHeld() {
  if (held_count_ == 0) return;
  if (!open_) Begin();
  std::string held = std::move(held_);
  held_.clear();
  ForEachStaged(held, [&](const StagedRecord& r) {
    AppendStaged(&staged_, r.topic, r.value, r.has_key ? &r.key : nullptr);
    Produce(static_cast<int>(r.topic), r.value, r.has_key ? &r.key : nullptr);
  });
  staged_count_ += held_count_;
  held_count_ = 0;
}

std::string Transaction::Prepare(int64_t id) {
  // A checkpoint after one that never completed: the same transaction goes on.
  sealed_ = false;
  ReleaseHeld();
  while (open_) {
    const rd_kafka_resp_err_t err = rd_kafka_flush(producer_, static_cast<int>(options_.timeout_ms));
    rd_kafka_poll(producer_, 0);
    if (failed_ == 0 && err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      sealed_ = true;
      break;
    }
    if (failed_ == 0)
      Fail(std::to_string(rd_kafka_outq_len(producer_)) + " records not delivered within " +
           std::to_string(options_.timeout_ms) + " ms");
    Poll();
  }
  prepared_ = id;
  // Also with no records: a restore then still fences this id, aborting what
  // the crashed run had begun after the checkpoint (else it would hold back
  // read_committed consumers until transaction.timeout.ms).
  std::string state;
  SnapshotWriter w(&state);
  w.Str(kStateVersion);
  w.Str(options_.transactional_id);
  w.Str(token_);
  w.I64(id);
  w.U64(topic_names_.size());
  for (const auto& t : topic_names_) w.Str(t);
  w.U64(staged_count_);
  w.Str(staged_);
  return state;
}

void Transaction::Commit(int64_t id) {
  if (prepared_ != id) return;
  if (open_) CommitWithMarker(token_, id, topic_names_.front());
  sealed_ = false;
  ReleaseHeld();
}

void Transaction::CommitWithMarker(const std::string& token, int64_t id, const std::string& marker_topic) {
  while (true) {
    TxnError e;
    bool failed = false;
    {
      rd_kafka_topic_partition_list_t* offsets = rd_kafka_topic_partition_list_new(1);
      rd_kafka_topic_partition_t* p = rd_kafka_topic_partition_list_add(offsets, marker_topic.c_str(), 0);
      p->offset = id;
      p->metadata = std::malloc(token.size());
      std::memcpy(p->metadata, token.data(), token.size());
      p->metadata_size = token.size();
      rd_kafka_consumer_group_metadata_t* group =
          rd_kafka_consumer_group_metadata_new(options_.transactional_id.c_str());
      failed = Take(rd_kafka_send_offsets_to_transaction(producer_, offsets, group,
                                                         static_cast<int>(options_.timeout_ms)),
                    &e);
      rd_kafka_consumer_group_metadata_destroy(group);
      rd_kafka_topic_partition_list_destroy(offsets);
    }
    if (!failed)
      failed = Take(rd_kafka_commit_transaction(producer_, static_cast<int>(options_.timeout_ms)), &e);
    if (!failed) {
      open_ = false;
      ++stats_.committed;
      stats_.records += staged_count_;
      staged_.clear();
      staged_count_ = 0;
      attempts_ = 0;
      return;
    }
    first_failure_ = e.text;
    if (e.retriable && e.code != RD_KAFKA_RESP_ERR__TIMED_OUT && !e.abortable && !e.fatal) {
      if (++attempts_ > options_.max_attempts)
        Fail("commit of checkpoint " + std::to_string(id) + ": " + e.text);
      Log("commit of checkpoint " + std::to_string(id) + ": " + e.text + "; trying again");
      std::this_thread::sleep_for(std::chrono::milliseconds(100 * attempts_));
      continue;
    }
    if (e.abortable && !e.fatal) {
      Log("commit of checkpoint " + std::to_string(id) + ": " + e.text + "; aborting and sending the " +
          std::to_string(staged_count_) + " staged records again");
      Abort();
      Begin();
      SendStagedAgain();
      stats_.republished += staged_count_;
      continue;
    }
    // Fatal for this producer, or timed out (the transaction's fate is
    // unknown): a new producer fences it, and the marker tells.
    Recreate(token, id, marker_topic, e.text);
    return;
  }
}

void Transaction::Recreate(const std::string& token, int64_t id, const std::string& marker_topic,
                           const std::string& reason) {
  if (++attempts_ > options_.max_attempts)
    Fail("commit of checkpoint " + std::to_string(id) + " gave up after " +
         std::to_string(options_.max_attempts) + " repairs: " + reason);
  ++stats_.repairs;
  Log("commit of checkpoint " + std::to_string(id) + ": " + reason + "; a new producer takes over");
  DestroyProducer();
  NewProducer();
  Init();
  if (Committed(token, id, marker_topic)) {
    Log("checkpoint " + std::to_string(id) + "'s transaction had committed");
    staged_.clear();
    staged_count_ = 0;
    attempts_ = 0;
    ++stats_.committed;
    return;
  }
  Begin();
  SendStagedAgain();
  stats_.republished += staged_count_;
  CommitWithMarker(token, id, marker_topic);
}

Transaction::Marker Transaction::ReadMarker(const std::string& marker_topic) {
  Properties conf_values;
  for (const auto& [key, value] : options_.defaults)
    if (key == "bootstrap.servers" || key == "client.id") conf_values.emplace_back(key, value);
  conf_values.emplace_back("group.id", options_.transactional_id);
  conf_values.emplace_back("enable.auto.commit", "false");
  conf_values.emplace_back("isolation.level", "read_committed");
  // Only what connecting needs: the producer's tuning is no consumer's.
  Properties connection;
  for (const auto& [key, value] : options_.properties)
    if (StartsWith(key, "security.") || StartsWith(key, "sasl.") || StartsWith(key, "ssl.") ||
        StartsWith(key, "socket.") || StartsWith(key, "broker.") || StartsWith(key, "api.version"))
      connection.emplace_back(key, value);
  rd_kafka_conf_t* conf = MakeConf(conf_values, connection);
  char error[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, error, sizeof error);
  if (!consumer) {
    rd_kafka_conf_destroy(conf);
    Fail(std::string("reading the commit marker: ") + error);
  }
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, marker_topic.c_str(), 0);
  const rd_kafka_resp_err_t err = rd_kafka_committed(consumer, parts, static_cast<int>(options_.timeout_ms));
  Marker marker;
  std::string failure;
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_err2str(err);
  } else if (parts->elems[0].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    failure = rd_kafka_err2str(parts->elems[0].err);
  } else {
    marker.offset = parts->elems[0].offset;
    if (parts->elems[0].metadata)
      marker.metadata.assign(static_cast<const char*>(parts->elems[0].metadata),
                             parts->elems[0].metadata_size);
  }
  rd_kafka_topic_partition_list_destroy(parts);
  rd_kafka_destroy(consumer);
  // Not knowing is not "not committed": sending the records again could
  // duplicate them. The run fails; a restart asks again.
  if (!failure.empty())
    Fail("reading the commit marker of group " + options_.transactional_id + ": " + failure);
  return marker;
}

bool Transaction::Committed(const std::string& token, int64_t id, const std::string& marker_topic) {
  const Marker marker = ReadMarker(marker_topic);
  return marker.metadata == token && marker.offset >= id;
}

void Transaction::Settle(const Staged& staged) {
  Init();  // fences the id's earlier producer, ends its open transaction
  if (staged.count == 0) return;
  if (Committed(staged.token, staged.id, staged.topics.front())) {
    Log("checkpoint " + std::to_string(staged.id) + "'s transaction (" + std::to_string(staged.count) +
        " records) had committed");
    return;
  }
  std::vector<uint32_t> topic_of;
  for (const auto& name : staged.topics) topic_of.push_back(static_cast<uint32_t>(Topic(name)));
  staged_.clear();
  ForEachStaged(staged.records, [&](const StagedRecord& r) {
    if (r.topic >= topic_of.size()) throw SnapshotError("kafka transaction state: unknown topic");
    AppendStaged(&staged_, topic_of[r.topic], r.value, r.has_key ? &r.key : nullptr);
  });
  staged_count_ = staged.count;
  Log("checkpoint " + std::to_string(staged.id) + "'s transaction was not committed: publishing its " +
      std::to_string(staged.count) + " records again");
  Begin();
  SendStagedAgain();
  stats_.republished += staged_count_;
  // A failed delivery: abort, send again (bounded), then commit.
  rd_kafka_flush(producer_, static_cast<int>(options_.timeout_ms));
  Poll();
  CommitWithMarker(staged.token, staged.id, staged.topics.front());
}

void Transaction::Start(const std::vector<std::string>& recovered) {
  // A checkpoint may only name this sink's own ids, `<prefix>-<worker>`: a
  // restore fences every id it names, and must not fence another
  // application's producer.
  const std::string& own = options_.transactional_id;
  const std::string prefix = own.substr(0, own.rfind('-') + 1);
  for (const auto& state : recovered) {
    if (state.empty()) continue;
    const Staged staged = Staged::Parse(state);
    const std::string& id = staged.transactional_id;
    const bool ours = id.size() > prefix.size() && id.size() <= prefix.size() + 4 &&
                      id.rfind(prefix, 0) == 0 &&
                      id.find_first_not_of("0123456789", prefix.size()) == std::string::npos;
    if (!ours)
      throw SnapshotError("kafka transaction state names transactional id '" + id +
                          "', not one of this sink's (" + prefix + "N)");
    if (staged.transactional_id == options_.transactional_id) {
      Settle(staged);
      continue;
    }
    // Another worker's (the checkpoint had another parallelism): its id, once.
    Options other = options_;
    other.transactional_id = staged.transactional_id;
    Transaction settler(std::move(other));
    settler.Settle(staged);
    stats_.republished += settler.stats().republished;
    stats_.repairs += settler.stats().repairs;
  }
  Init();
}

void Transaction::Close() {
  if (!producer_ || !open_) return;
  // Records of no complete checkpoint: a restore reads their input again.
  TxnError e;
  if (Take(rd_kafka_abort_transaction(producer_, static_cast<int>(options_.timeout_ms)), &e))
    Log("abort at close: " + e.text);
  open_ = false;
  sealed_ = false;
  staged_.clear();
  staged_count_ = 0;
  held_.clear();
  held_count_ = 0;
}

std::string Transaction::Describe(std::string_view state) {
  if (state.empty()) return "no state";
  const Staged s = Staged::Parse(state);
  if (s.count == 0)
    return "transaction " + s.transactional_id + " at checkpoint " + std::to_string(s.id) +
           ": nothing staged";
  std::string topics;
  for (const auto& t : s.topics) topics += (topics.empty() ? "" : ", ") + t;
  return "transaction " + s.transactional_id + " for checkpoint " + std::to_string(s.id) + ": " +
         std::to_string(s.count) + " records (" + std::to_string(s.records.size()) + " bytes) to " + topics;
}

}  // namespace streamrun::kafka
