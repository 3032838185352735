// `streamrun generate KIND`: synthetic events as JSON lines (SPEC section 9).
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "operators/sources/sources.h"
#include "runner/cli/commands.h"
#include "runner/config/duration.h"
#include "runner/generate/generators.h"
#include "runner/record/clock.h"

namespace streamrun::cli {

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
  if (!args.out_of_order.empty() &&
      !ParseOutOfOrder(args.out_of_order, &options.out_of_order_fraction, &options.max_delay_ms)) {
    std::fprintf(stderr, "streamrun generate: --out-of-order must be FRACTION:MAX_DELAY, e.g. 0.1:5s\n");
    return kExitConfigError;
  }
  std::string error;
  auto generator = generate::Make(options, &error);
  if (!generator) {
    std::fprintf(stderr, "streamrun generate: %s\n", error.c_str());
    return kExitConfigError;
  }
  FILE* out = stdout;
  if (!args.out.empty()) {
    out = std::fopen(args.out.c_str(), "w");
    if (!out) {
      std::perror(("streamrun generate: " + args.out).c_str());
      return kExitRunFailure;
    }
  }
  std::string line;
  int64_t t;
  int64_t produced = 0;
  const int64_t start = NowMs();
  while (true) {
    if (rate > 0) {
      // Pace in processing time: event n is due at start + n / rate.
      int64_t due = start + static_cast<int64_t>(static_cast<double>(produced) * 1000.0 / rate);
      int64_t now = NowMs();
      if (due > now) {
        std::fflush(out);
        std::this_thread::sleep_for(std::chrono::milliseconds(due - now));
      }
    }
    line.clear();
    if (!generator->Next(&line, &t)) break;
    line.push_back('\n');
    if (std::fwrite(line.data(), 1, line.size(), out) != line.size()) {
      std::fprintf(stderr, "streamrun generate: write failed\n");
      return kExitRunFailure;
    }
    ++produced;
  }
  if (std::fflush(out) != 0 || (out != stdout && std::fclose(out) != 0)) {
    std::fprintf(stderr, "streamrun generate: write failed\n");
    return kExitRunFailure;
  }
  return kExitOk;
}

}  // namespace streamrun::cli
