// `streamrun generate KIND`: synthetic events as JSON lines (or CSV, or
// length-prefixed Protobuf or Avro records), or produced to a Kafka topic
// (docs/commands.md).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <thread>

#include "operators/sources/sources.h"
#include "runner/cli/commands.h"
#include "runner/config/duration.h"
#include "runner/format/codec.h"
#include "runner/format/registry_client.h"
#include "runner/format/varint.h"
#include "runner/generate/generators.h"
#include "runner/kafka/client.h"
#include "runner/record/clock.h"
#include "runner/record/csv.h"

namespace streamrun::cli {

namespace {

// Where the events go: a file or stdout, one per line, or a Kafka topic, one per message.
class EventOutput {
 public:
  virtual ~EventOutput() = default;
  virtual bool Write(const std::string& event, int64_t event_time) = 0;
  virtual void Pause() {}  // before sleeping for the rate
  virtual bool Finish() = 0;
};

class FileOutput : public EventOutput {
 public:
  // `delimited`: binary records, each after its length as a varint (else lines).
  explicit FileOutput(FILE* out, bool delimited = false) : out_(out), delimited_(delimited) {}
  bool Write(const std::string& event, int64_t) override {
    if (delimited_) {
      std::string len;
      format::PutVarint(event.size(), &len);
      return std::fwrite(len.data(), 1, len.size(), out_) == len.size() &&
             std::fwrite(event.data(), 1, event.size(), out_) == event.size();
    }
    return std::fwrite(event.data(), 1, event.size(), out_) == event.size() && std::fputc('\n', out_) != EOF;
  }
  void Pause() override { std::fflush(out_); }
  bool Finish() override { return std::fflush(out_) == 0 && (out_ == stdout || std::fclose(out_) == 0); }

 private:
  FILE* out_;
  bool delimited_;
};

// Turns the generator's JSON events into the chosen format.
class EventFormat {
 public:
  bool Open(const GenerateArgs& args, std::string* error) {
    format_ = args.format == "csv"        ? format::RecordFormat::kCsv
              : args.format == "protobuf" ? format::RecordFormat::kProtobuf
              : args.format == "avro"     ? format::RecordFormat::kAvro
                                          : format::RecordFormat::kJson;
    if (!args.registry.empty() && args.topic.empty()) {
      *error = "--registry goes with --topic";
      return false;
    }
    if (format_ == format::RecordFormat::kCsv && !args.topic.empty()) {
      *error = "--format csv writes files (a header line first), not Kafka messages";
      return false;
    }
    if (!format::IsBinary(format_)) {
      if (!args.registry.empty()) {
        *error = "--registry needs --format protobuf or avro";
        return false;
      }
      return true;
    }
    const std::string path =
        !args.schema.empty()
            ? args.schema
            : "schemas/" + args.kind + (format_ == format::RecordFormat::kProtobuf ? ".proto" : ".avsc");
    schema_ = format_ == format::RecordFormat::kProtobuf
                  ? format::LoadProtobufSchema(path, args.message, error)
                  : format::LoadAvroSchema(path, error);
    if (!schema_) return false;
    if (!args.registry.empty()) {
      format::RegistryConfig rc;
      rc.url = args.registry;
      format::RegistryClient client(rc);
      int32_t id = 0;
      if (!client.Register(args.topic + "-value", schema_->RegistryType(), schema_->RegistryText(), &id,
                           error))
        return false;
      encoder_ = format::NewFramedEncoder(schema_, id);
    } else {
      encoder_ = schema_->NewEncoder();
    }
    return true;
  }

  bool delimited() const { return format::IsBinary(format_); }

  // The event as it is written; false with a reason.
  bool Convert(std::string* event, std::string* error) {
    if (format_ == format::RecordFormat::kJson) return true;
    if (format_ == format::RecordFormat::kCsv) return ToCsv(event, error);
    const size_t n = event->size();
    event->append(64, '\0');  // the encoder reads JSON with padding after it
    event->resize(n);
    out_.clear();
    if (!encoder_->Encode(*event, &out_, error)) return false;
    event->swap(out_);
    return true;
  }

 private:
  // CSV: the first event's fields are the header; nested objects (Nexmark)
  // are written as their JSON text.
  bool ToCsv(std::string* event, std::string* error) {
    const size_t n = event->size();
    event->append(64, '\0');  // the writer reads JSON with padding after it
    event->resize(n);
    out_.clear();
    if (!csv_.Append(*event, &out_, error)) return false;
    out_.pop_back();  // FileOutput ends each event with a newline
    event->swap(out_);
    return true;
  }

  format::RecordFormat format_ = format::RecordFormat::kJson;
  std::shared_ptr<const format::Schema> schema_;
  std::unique_ptr<format::RecordEncoder> encoder_;
  CsvWriter csv_;
  std::string out_;
};

class KafkaOutput : public EventOutput {
 public:
  KafkaOutput(const std::string& brokers, const std::string& topic) {
    // Events have no key: sticky.partitioning off spreads them evenly over the
    // partitions (the default sends whole batches to one partition at a time).
    rd_kafka_conf_t* conf = kafka::MakeConf({{"bootstrap.servers", brokers},
                                             {"enable.idempotence", "true"},
                                             {"linger.ms", "5"},
                                             {"sticky.partitioning.linger.ms", "0"}},
                                            {});
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, [](rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
      auto* self = static_cast<KafkaOutput*>(opaque);
      if (m->err && self->failed_++ == 0) self->first_error_ = rd_kafka_err2str(m->err);
    });
    char error[512];
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    if (!producer_) {
      rd_kafka_conf_destroy(conf);
      throw std::runtime_error(error);
    }
    topic_ = rd_kafka_topic_new(producer_, topic.c_str(), nullptr);
  }
  ~KafkaOutput() override {
    rd_kafka_topic_destroy(topic_);
    rd_kafka_destroy(producer_);
  }
  bool Write(const std::string& event, int64_t event_time) override {
    rd_kafka_resp_err_t err = kafka::Produce(producer_, topic_, event, nullptr, event_time);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) return Report(rd_kafka_err2str(err));
    rd_kafka_poll(producer_, 0);
    return failed_ == 0 || Report(first_error_);
  }
  void Pause() override { rd_kafka_poll(producer_, 0); }
  bool Finish() override {
    if (rd_kafka_flush(producer_, 60000) != RD_KAFKA_RESP_ERR_NO_ERROR)
      return Report("events not delivered within 60 s");
    return failed_ == 0 || Report(std::to_string(failed_) + " events not delivered: " + first_error_);
  }

 private:
  bool Report(const std::string& what) {
    std::fprintf(stderr, "streamrun generate: %s\n", what.c_str());
    return false;
  }
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* topic_ = nullptr;
  uint64_t failed_ = 0;
  std::string first_error_;
};

}  // namespace

int GenerateCommand(const GenerateArgs& args) {
  generate::Options options;
  options.kind = args.kind;
  options.seed = args.seed;
  options.count = args.count;
  double rate = 0;
  if (!args.rate.empty()) {
    auto r = config::ParseRatePerSecond(args.rate);
    if (!r) {
      std::fprintf(stderr, "streamrun generate: --rate '%s' is not a rate (e.g. 2000/s)\n",
                   args.rate.c_str());
      return kExitConfigError;
    }
    rate = *r;
    options.events_per_second = rate;
  }
  if (!args.event_time_rate.empty()) {
    auto r = config::ParseRatePerSecond(args.event_time_rate);
    if (!r || *r <= 0) {
      std::fprintf(stderr, "streamrun generate: --event-time-rate '%s' is not a rate (e.g. 100000/s)\n",
                   args.event_time_rate.c_str());
      return kExitConfigError;
    }
    options.events_per_second = *r;
  }
  if (!args.out_of_order.empty() &&
      !ParseOutOfOrder(args.out_of_order, &options.out_of_order_fraction, &options.max_delay_ms)) {
    std::fprintf(stderr, "streamrun generate: --out-of-order must be FRACTION:MAX_DELAY, e.g. 0.1:5s\n");
    return kExitConfigError;
  }
  if (args.start_time == "now") {
    options.start_ms = NowMs();
  } else if (!args.start_time.empty()) {
    char* end = nullptr;
    options.start_ms = std::strtoll(args.start_time.c_str(), &end, 10);
    if (*end != '\0') {
      std::fprintf(stderr, "streamrun generate: --start-time must be epoch milliseconds or `now`\n");
      return kExitConfigError;
    }
  }
  if (args.topic.empty() != args.brokers.empty()) {
    std::fprintf(stderr, "streamrun generate: --topic and --brokers go together\n");
    return kExitConfigError;
  }
  if (args.brokers == kafka::kEmbedded) {
    std::fprintf(stderr,
                 "streamrun generate: an embedded broker would end with this command; start one with "
                 "`streamrun kafka` and pass its address\n");
    return kExitConfigError;
  }
  std::string error;
  auto generator = generate::Make(options, &error);
  if (!generator) {
    std::fprintf(stderr, "streamrun generate: %s\n", error.c_str());
    return kExitConfigError;
  }
  EventFormat event_format;
  if (!event_format.Open(args, &error)) {
    std::fprintf(stderr, "streamrun generate: %s\n", error.c_str());
    return kExitConfigError;
  }
  std::unique_ptr<EventOutput> out;
  try {
    if (!args.topic.empty()) {
      out = std::make_unique<KafkaOutput>(args.brokers, args.topic);
    } else if (!args.out.empty()) {
      FILE* f = std::fopen(args.out.c_str(), "w");
      if (!f) {
        std::perror(("streamrun generate: " + args.out).c_str());
        return kExitRunFailure;
      }
      out = std::make_unique<FileOutput>(f, event_format.delimited());
    } else {
      out = std::make_unique<FileOutput>(stdout, event_format.delimited());
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "streamrun generate: %s\n", e.what());
    return kExitConfigError;
  }
  std::string event;
  int64_t t;
  int64_t produced = 0;
  const int64_t start = NowMs();
  while (true) {
    if (rate > 0) {
      // Pace in processing time: event n is due at start + n / rate.
      int64_t due = start + static_cast<int64_t>(static_cast<double>(produced) * 1000.0 / rate);
      int64_t now = NowMs();
      if (due > now) {
        out->Pause();
        std::this_thread::sleep_for(std::chrono::milliseconds(due - now));
      }
    }
    event.clear();
    if (!generator->Next(&event, &t)) break;
    if (!event_format.Convert(&event, &error)) {
      std::fprintf(stderr, "streamrun generate: event %lld cannot be written as %s: %s\n",
                   static_cast<long long>(produced), args.format.c_str(), error.c_str());
      return kExitRunFailure;
    }
    if (!out->Write(event, t)) {
      std::fprintf(stderr, "streamrun generate: write failed\n");
      return kExitRunFailure;
    }
    ++produced;
  }
  if (!out->Finish()) {
    std::fprintf(stderr, "streamrun generate: write failed\n");
    return kExitRunFailure;
  }
  return kExitOk;
}

}  // namespace streamrun::cli
