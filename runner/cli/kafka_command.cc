// `streamrun kafka`: the embedded broker as its own process (SPEC sections 5, 9).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <thread>

#include "runner/cli/commands.h"
#include "runner/kafka/embedded_broker.h"

namespace streamrun::cli {

namespace {
std::atomic<bool> g_broker_stop{false};
extern "C" void OnBrokerStop(int) { g_broker_stop = true; }
}  // namespace

int KafkaCommand(const KafkaArgs& args) {
  try {
    kafka::EmbeddedBroker broker(args.brokers);
    for (const auto& topic : args.topics) broker.CreateTopic(topic, args.partitions);
    if (!args.bootstrap_file.empty()) {
      std::ofstream out(args.bootstrap_file);
      out << broker.bootstrap() << "\n";
      if (!out) {
        std::fprintf(stderr, "streamrun kafka: cannot write %s\n", args.bootstrap_file.c_str());
        return kExitRunFailure;
      }
    }
    std::printf("%s\n", broker.bootstrap().c_str());
    std::fflush(stdout);
    std::fprintf(
        stderr,
        "streamrun kafka: %d broker%s at %s (in memory, for development and tests); Ctrl-C stops it\n",
        args.brokers, args.brokers == 1 ? "" : "s", broker.bootstrap().c_str());
    std::signal(SIGINT, OnBrokerStop);
    std::signal(SIGTERM, OnBrokerStop);
    while (!g_broker_stop) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    return kExitOk;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "streamrun kafka: %s\n", e.what());
    return kExitRunFailure;
  }
}

}  // namespace streamrun::cli
