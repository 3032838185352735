// The Kafka sink's transaction protocol (runner/kafka/transaction.h) against
// the embedded broker, with errors injected into the broker's answers.
//
// What these tests can show: the calls are made in an order the broker
// accepts; a commit is retried, aborted and redone, or handed to a new
// producer as the error demands; a restore publishes the staged records of a
// transaction that did not commit. What they cannot: the mock keeps no
// transactional offsets (the commit marker always reads as absent, so a
// restore always publishes again) and writes no transaction markers (aborted
// records stay visible), so record counts below include aborted records.
// tests/kafka_real/exactly_once.sh proves read_committed exactly-once on a
// real broker.
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "runner/kafka/embedded_broker.h"
#include "runner/kafka/transaction.h"

using streamrun::kafka::EmbeddedBroker;
using streamrun::kafka::Transaction;

namespace {

constexpr int kEndTxn = 26;
constexpr int kTxnOffsetCommit = 28;

// Messages in the topic (aborted ones included: the mock keeps them).
int64_t CountRecords(const std::string& bootstrap, const std::string& topic, int partitions) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char error[512];
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), error, sizeof error);
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
  REQUIRE(rk != nullptr);
  int64_t total = 0;
  for (int p = 0; p < partitions; ++p) {
    int64_t low = 0, high = 0;
    REQUIRE(rd_kafka_query_watermark_offsets(rk, topic.c_str(), p, &low, &high, 5000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    total += high - low;
  }
  rd_kafka_destroy(rk);
  return total;
}

struct Fixture {
  EmbeddedBroker broker{1};
  std::vector<std::string> log;

  Fixture() { broker.CreateTopic("out", 2); }

  Transaction::Options Options(const std::string& id) {
    Transaction::Options o;
    o.transactional_id = id;
    o.defaults = {{"bootstrap.servers", broker.bootstrap()}, {"linger.ms", "1"}};
    o.timeout_ms = 10000;
    o.log = [this](const std::string& line) { log.push_back(line); };
    return o;
  }

  bool Logged(const std::string& part) const {
    for (const auto& l : log)
      if (l.find(part) != std::string::npos) return true;
    return false;
  }
};

void SendRecords(Transaction& t, int topic, int from, int count) {
  for (int i = from; i < from + count; ++i) {
    const std::string key = "k" + std::to_string(i % 7);
    const std::string value = "{\"n\":" + std::to_string(i) + "}";
    const std::string_view k = key;
    t.Send(topic, value, &k);
  }
  t.Poll();
}

// A started transaction on topic "out" (index 0) with `records` sent and
// prepared for checkpoint 1: what a commit test begins with.
std::unique_ptr<Transaction> Prepared(Fixture& f, const std::string& id, int records, int max_attempts = 5) {
  auto options = f.Options(id);
  options.max_attempts = max_attempts;
  auto t = std::make_unique<Transaction>(std::move(options));
  const int out = t->Topic("out");
  t->Start({});
  SendRecords(*t, out, 0, records);
  t->Prepare(1);
  return t;
}

}  // namespace

TEST_CASE("a transaction per checkpoint: prepared, then committed") {
  Fixture f;
  Transaction t(f.Options("tx-commit-0"));
  const int out = t.Topic("out");
  t.Start({});
  // Nothing sent: no transaction, but a state that names the id.
  CHECK(Transaction::Describe(t.Prepare(1)).find("tx-commit-0 at checkpoint 1: nothing staged") !=
        std::string::npos);
  t.Commit(1);
  CHECK(t.stats().committed == 0);
  SendRecords(t, out, 0, 100);
  CHECK(t.staged_records() == 100);
  const std::string state = t.Prepare(2);
  REQUIRE_FALSE(state.empty());
  CHECK(Transaction::Describe(state).find("100 records") != std::string::npos);
  t.Commit(2);
  CHECK(t.stats().committed == 1);
  CHECK(t.stats().records == 100);
  CHECK(t.staged_records() == 0);
  CHECK(CountRecords(f.broker.bootstrap(), "out", 2) == 100);
  // The next checkpoint's transaction begins with its first record.
  SendRecords(t, out, 100, 10);
  t.Prepare(3);
  t.Commit(3);
  CHECK(t.stats().committed == 2);
  CHECK(CountRecords(f.broker.bootstrap(), "out", 2) == 110);
}

TEST_CASE("records sent between prepare and commit wait for the next transaction") {
  Fixture f;
  Transaction t(f.Options("tx-held-0"));
  const int out = t.Topic("out");
  t.Start({});
  SendRecords(t, out, 0, 20);
  t.Prepare(1);
  SendRecords(t, out, 20, 5);  // after the barrier: checkpoint 2's
  CHECK(t.staged_records() == 20);
  t.Commit(1);
  CHECK(t.stats().records == 20);
  CHECK(t.staged_records() == 5);
  t.Prepare(2);
  t.Commit(2);
  CHECK(t.stats().records == 25);
}

TEST_CASE("a checkpoint that never completes: the next one commits both") {
  Fixture f;
  Transaction t(f.Options("tx-skip-0"));
  const int out = t.Topic("out");
  t.Start({});
  SendRecords(t, out, 0, 30);
  t.Prepare(1);  // checkpoint 1 fails: no Commit(1)
  SendRecords(t, out, 30, 30);
  const std::string state = t.Prepare(2);
  CHECK(Transaction::Describe(state).find("60 records") != std::string::npos);
  t.Commit(1);  // too old: ignored
  CHECK(t.stats().committed == 0);
  t.Commit(2);
  CHECK(t.stats().committed == 1);
  CHECK(t.stats().records == 60);
}

TEST_CASE("a restore publishes again the staged records of a transaction that did not commit") {
  Fixture f;
  std::string state;
  {
    Transaction crashed(f.Options("tx-restore-0"));
    const int out = crashed.Topic("out");
    crashed.Start({});
    SendRecords(crashed, out, 0, 50);
    state = crashed.Prepare(7);  // the manifest is written; the process dies before the commit
  }
  Transaction t(f.Options("tx-restore-0"));
  t.Topic("out");
  t.Start({state});
  CHECK(t.stats().republished == 50);
  CHECK(t.stats().committed == 1);
  CHECK(f.Logged("checkpoint 7's transaction was not committed: publishing its 50 records again"));
  // 50 aborted (visible on the mock only) and 50 committed.
  CHECK(CountRecords(f.broker.bootstrap(), "out", 2) == 100);
}

TEST_CASE("a restore at another parallelism settles the other workers' transactions under their ids") {
  Fixture f;
  std::vector<std::string> states;
  for (int w = 0; w < 3; ++w) {
    Transaction worker(f.Options("tx-scale-" + std::to_string(w)));
    const int out = worker.Topic("out");
    worker.Start({});
    if (w < 2) SendRecords(worker, out, w * 100, 10 + w);  // worker 2 had nothing to stage
    states.push_back(worker.Prepare(4));
  }
  Transaction t(f.Options("tx-scale-0"));
  t.Topic("out");
  t.Start(states);
  CHECK(t.stats().republished == 21);
  CHECK(f.Logged("transaction tx-scale-1: checkpoint 4's transaction was not committed"));
  CHECK(f.Logged("transaction tx-scale-0: checkpoint 4's transaction was not committed"));
  CHECK_FALSE(f.Logged("transaction tx-scale-2:"));  // fenced (its id initialised), nothing to publish
}

TEST_CASE("a restore refuses a damaged state") {
  Fixture f;
  Transaction t(f.Options("tx-damaged-0"));
  CHECK_THROWS(t.Start({"not a state"}));
}

TEST_CASE("a restore fences only the sink's own transactional ids") {
  Fixture f;
  std::string state;
  {
    Transaction other(f.Options("someone-elses-app-0"));
    other.Topic("out");
    other.Start({});
    state = other.Prepare(3);
  }
  Transaction t(f.Options("tx-own-0"));
  t.Topic("out");
  try {
    t.Start({state});
    FAIL("a foreign transactional id was accepted");
  } catch (const std::exception& e) {
    CHECK(std::string(e.what()).find(
              "names transactional id 'someone-elses-app-0', not one of this sink's (tx-own-N)") !=
          std::string::npos);
  }
}

TEST_CASE("retriable commit errors: the commit is tried again") {
  Fixture f;
  auto txn = Prepared(f, "tx-retry", 40);
  Transaction& t = *txn;
  // COORDINATOR_LOAD_IN_PROGRESS (14) then NOT_COORDINATOR (16) for EndTxn.
  f.broker.FailRequests(kEndTxn, {14, 16});
  t.Commit(1);
  CHECK(t.stats().committed == 1);
  CHECK(t.stats().republished == 0);
  CHECK(CountRecords(f.broker.bootstrap(), "out", 2) == 40);
}

TEST_CASE("an abortable error in the commit: abort, send the staged records again, commit") {
  Fixture f;
  auto txn = Prepared(f, "tx-abortable", 40);
  Transaction& t = *txn;
  // The marker's TxnOffsetCommit refused: TOPIC_AUTHORIZATION_FAILED (29).
  f.broker.FailRequests(kTxnOffsetCommit, {29});
  t.Commit(1);
  CHECK(t.stats().committed == 1);
  CHECK(t.stats().records == 40);
  CHECK(t.stats().repairs >= 1);
  CHECK(t.stats().republished == 40);
  CHECK(f.Logged("aborting and sending the 40 staged records again"));
}

TEST_CASE("a fenced producer at commit: a new producer takes over and commits the staged records") {
  Fixture f;
  auto txn = Prepared(f, "tx-fenced", 40);
  Transaction& t = *txn;
  // PRODUCER_FENCED (90): fatal for this producer.
  f.broker.FailRequests(kEndTxn, {90});
  t.Commit(1);
  CHECK(t.stats().committed == 1);
  CHECK(t.stats().repairs >= 1);
  CHECK(t.stats().republished == 40);
  CHECK(f.Logged("a new producer takes over"));
  // And it goes on: the next checkpoint commits with the new producer.
  SendRecords(t, t.Topic("out"), 40, 5);
  t.Prepare(2);
  t.Commit(2);
  CHECK(t.stats().committed == 2);
}

TEST_CASE("a broker that keeps refusing the commit fails after max_attempts") {
  Fixture f;
  auto t = Prepared(f, "tx-refused", 5, /*max_attempts=*/2);
  f.broker.FailRequests(kEndTxn, std::vector<int>(20, 90));
  CHECK_THROWS_WITH_AS(t->Commit(1), doctest::Contains("gave up"), std::runtime_error);
}

TEST_CASE("close aborts a transaction no checkpoint covers") {
  Fixture f;
  Transaction t(f.Options("tx-close-0"));
  const int out = t.Topic("out");
  t.Start({});
  SendRecords(t, out, 0, 5);
  t.Close();
  CHECK(t.stats().committed == 0);
  // The producer can still be used by a new transaction (no fatal state).
  SendRecords(t, out, 5, 5);
  t.Prepare(1);
  t.Commit(1);
  CHECK(t.stats().records == 5);
}
