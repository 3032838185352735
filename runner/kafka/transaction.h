#pragma once
// A Kafka transaction per checkpoint (docs/guarantees.md, exactly_once): what the
// Kafka sinks of one worker write between two checkpoints goes to the broker
// inside one transaction, committed when the checkpoint completes.
//
// librdkafka cannot resume a transaction another process opened, so a crash
// between a checkpoint's manifest and its commit would lose the records of
// that transaction (init_transactions aborts it, and the restore does not read
// their input again). So every record is also kept ("staged") until its
// transaction commits, and Prepare returns them for the checkpoint. The commit
// carries a marker: offset `checkpoint id` with the run's token as metadata for group
// <transactional id> on partition 0 of the first topic, sent with
// send_offsets_to_transaction, so it becomes visible exactly when the records
// do. A restore (Start) reads the marker after init_transactions has fenced
// the old producer and finished or aborted its transaction: marker there, the
// records are out; else it publishes the staged records again in a new
// transaction. The same repair serves a commit that times out or a producer
// that hit a fatal error: a new producer, the marker, the records again.
//
// The embedded broker (librdkafka's mock) takes every call but keeps no
// transactional offsets and writes no markers: there the marker always reads
// as absent and aborted records stay visible, so only the call flow can be
// tested against it (tests/unit/kafka_transaction_test.cc); a real broker
// proves the rest (tests/kafka_real/exactly_once.sh).
//
// Not thread-safe: one worker's thread uses it.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runner/kafka/client.h"

namespace streamrun::kafka {

class Transaction {
 public:
  struct Options {
    std::string transactional_id;  // "streamrun-fraud-0": stable per pipeline and worker
    Properties defaults;           // bootstrap.servers, client.id, batching; the user's properties win
    Properties properties;
    int64_t timeout_ms = 60000;                   // flush, commit, init, marker reads
    int64_t transaction_timeout_ms = 60000;       // transaction.timeout.ms: the broker aborts after it
    int max_attempts = 5;                         // repairs in a row before the run fails
    std::function<void(const std::string&)> log;  // notable events; default: stderr
  };
  struct Stats {
    uint64_t committed = 0;    // transactions committed
    uint64_t records = 0;      // records in them
    uint64_t republished = 0;  // records published again (a restore or a repair)
    uint64_t repairs = 0;      // aborts and new producers after errors
  };

  // Creates the producer; talks to no broker yet. Throws std::runtime_error.
  explicit Transaction(Options options);
  // Aborts a transaction still open (its checkpoint never completed).
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  // Before the first record: finishes what `recovered` (Prepare results saved
  // in the checkpoint the run restores, of this or any other transactional id)
  // left, and fences earlier producers of this id (init_transactions). May be
  // called again with more states; the producer is initialised once.
  void Start(const std::vector<std::string>& recovered);

  // A topic's handle for Send; the first topic also carries the marker.
  int Topic(const std::string& name);
  // Adds a record to the open transaction (begun on the first record after a
  // commit). Key null: no key.
  void Send(int topic, std::string_view value, const std::string_view* key);
  // Serves delivery reports; a failed delivery aborts and sends the staged
  // records again in a new transaction.
  void Poll();

  // Checkpoint `id` is being taken: every record sent since the last commit is
  // delivered (in the open transaction). Returns them with what a restore needs
  // (the transactional id, to fence it, even when there are none).
  std::string Prepare(int64_t id);
  // Checkpoint `id` is complete: commits the transaction Prepare(id) covered.
  void Commit(int64_t id);
  // The run ends: aborts a transaction still open.
  void Close();

  const std::string& transactional_id() const { return options_.transactional_id; }
  const Stats& stats() const { return stats_; }
  // Records sent and not committed yet.
  uint64_t staged_records() const { return staged_count_; }

  // Human-readable summary of a Prepare result, for `checkpoints inspect`.
  static std::string Describe(std::string_view state);

 private:
  struct Staged;  // a parsed Prepare result
  struct Marker {
    std::string metadata;  // the committing run's token
    int64_t offset = -1;   // the checkpoint id
  };

  void NewProducer();
  void DestroyProducer();
  void Init();
  void Begin();
  void Produce(int topic, std::string_view value, const std::string_view* key);
  void SendStagedAgain();
  void ReleaseHeld();  // held_ into the open transaction
  // Aborts the open transaction (or replaces a producer that cannot abort);
  // bounded by max_attempts per commit.
  void Abort();
  void CommitWithMarker(const std::string& token, int64_t id, const std::string& marker_topic);
  // A new producer (fencing the old one); the marker tells whether transaction
  // `token`/`id` committed; if not, the staged records go again and commit.
  void Recreate(const std::string& token, int64_t id, const std::string& marker_topic,
                const std::string& reason);
  bool Committed(const std::string& token, int64_t id, const std::string& marker_topic);
  Marker ReadMarker(const std::string& marker_topic);
  void Settle(const Staged& staged);
  [[noreturn]] void Fail(const std::string& what) const;
  void Log(const std::string& line) const;
  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque);

  Options options_;
  rd_kafka_t* producer_ = nullptr;
  std::vector<std::string> topic_names_;
  std::vector<rd_kafka_topic_t*> topics_;
  bool initialised_ = false;
  bool open_ = false;
  std::string token_;  // this run's: tells its markers from an earlier run's
  int64_t prepared_ = -1;
  // Between Prepare and Commit the transaction is sealed: records sent then
  // belong to the next checkpoint and wait here (same layout as staged_).
  bool sealed_ = false;
  std::string held_;
  uint64_t held_count_ = 0;
  // Records since the last commit: [topic u32][key length u32 or ~0][key][value length u32][value].
  std::string staged_;
  uint64_t staged_count_ = 0;
  uint64_t failed_ = 0;  // delivery reports with an error since the last repair
  std::string first_failure_;
  int attempts_ = 0;  // repairs since the last commit
  Stats stats_;
};

}  // namespace streamrun::kafka
