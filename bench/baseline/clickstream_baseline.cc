// The clickstream top 10 written by hand, with no framework: the yardstick for
// streamrun's figure on the same job (bench/run.sh prints the ratio).
// Same job as bench/nexmark/clickstream.yaml and bench/files/clickstream.yaml:
// JSON clicks, event time `ts`, watermark = highest ts - 0 s; per 5 s tumbling
// window the count per page_url, the 10 largest (ties by page) when the
// watermark passes the window's end. Single-threaded; one hash map per open
// window.
// Two inputs:
// - generator mode: the clicks generator's JSON text, made in this process;
// - file mode (--file): a JSON-lines file (as `streamrun generate clicks -o`
//   writes), read with read() into a large buffer and parsed line by line in
//   place, or with --many by simdjson's iterate_many over each buffer's whole
//   lines. The time includes reading the file.
// Both print the rows' count and a checksum (the sum of each row's count times
// its rank), equal for the same events whichever the input; bench/run.sh
// compares it with streamrun's rows.
// Usage: clickstream_baseline EVENTS EVENTS_PER_EVENT_TIME_SECOND
//        clickstream_baseline --file PATH [--many]
#include <fcntl.h>
#include <simdjson.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "runner/generate/generators.h"

namespace {

// The job itself: tumbling 5 s counts per page, top 10 per window on firing.
class TopTen {
 public:
  void Add(std::string_view page, int64_t ts) {
    ++events_;
    if (ts < watermark_) return;  // late (none with in-order input)
    int64_t window = ts - ((ts % kWindowMs) + kWindowMs) % kWindowMs;
    auto& counts = windows_[window];
    // Look up by string_view first so a page already counted costs no allocation.
    auto it = counts.find(page);
    if (it == counts.end()) it = counts.emplace(std::string(page), 0).first;
    ++it->second;
    if (ts > watermark_) {
      watermark_ = ts;
      FireUntil(watermark_);
    }
  }
  void Finish() { FireUntil(INT64_MAX); }

  int64_t events() const { return events_; }
  int64_t rows() const { return rows_; }
  int64_t checksum() const { return checksum_; }

 private:
  static constexpr int64_t kWindowMs = 5000;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Counts = std::unordered_map<std::string, int64_t, Hash, std::equal_to<>>;

  void FireUntil(int64_t w) {
    while (!windows_.empty() && windows_.begin()->first + kWindowMs <= w) {
      auto& counts = windows_.begin()->second;
      order_.clear();
      for (const auto& [page, n] : counts) order_.emplace_back(n, &page);
      size_t k = std::min<size_t>(10, order_.size());
      std::partial_sort(order_.begin(), order_.begin() + static_cast<long>(k), order_.end(),
                        [](const auto& a, const auto& b) {
                          return a.first != b.first ? a.first > b.first : *a.second < *b.second;
                        });
      for (size_t i = 0; i < k; ++i) checksum_ += order_[i].first * static_cast<int64_t>(i + 1);
      rows_ += static_cast<int64_t>(k);
      windows_.erase(windows_.begin());
    }
  }

  std::map<int64_t, Counts> windows_;  // window start -> counts
  std::vector<std::pair<int64_t, const std::string*>> order_;
  int64_t watermark_ = INT64_MIN, events_ = 0, rows_ = 0, checksum_ = 0;
};

// Reads page_url and ts from one parsed click; false if the record is not an object.
template <typename Doc>
bool ReadClick(Doc&& doc, std::string_view* page, int64_t* ts) {
  simdjson::ondemand::object object;
  if (doc.get_object().get(object)) return false;
  *page = {};
  *ts = 0;
  for (auto field : object) {
    std::string_view key;
    if (field.unescaped_key().get(key)) return false;
    if (key == "page_url") {
      if (field.value().get_string().get(*page)) *page = {};
    } else if (key == "ts") {
      if (field.value().get_int64().get(*ts)) *ts = 0;
    }
  }
  return true;
}

int FromGenerator(int64_t count, double events_per_second, TopTen* job) {
  streamrun::generate::Options options;
  options.kind = "clicks";
  options.count = count;
  options.events_per_second = events_per_second;
  std::string error;
  auto generator = streamrun::generate::Make(options, &error);
  if (!generator) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 2;
  }
  simdjson::ondemand::parser parser;
  std::string line;
  int64_t t = 0;
  std::string_view page;
  int64_t ts = 0;
  while (true) {
    line.clear();
    if (!generator->Next(&line, &t)) break;
    line.reserve(line.size() + simdjson::SIMDJSON_PADDING);
    if (ReadClick(parser.iterate(line.data(), line.size(), line.capacity()), &page, &ts)) job->Add(page, ts);
  }
  return 0;
}

// File mode. The buffer holds kBlock bytes read at a time plus the unfinished
// line carried over from the previous read, and always SIMDJSON_PADDING spare
// bytes past its data, so simdjson may parse a line in place.
int FromFile(const char* path, bool many, TopTen* job) {
  int fd = ::open(path, O_RDONLY);
  if (fd < 0) {
    std::fprintf(stderr, "clickstream_baseline: cannot open %s: %s\n", path, std::strerror(errno));
    return 2;
  }
  constexpr size_t kBlock = 4 << 20;
  std::vector<char> buffer(kBlock + simdjson::SIMDJSON_PADDING);
  size_t have = 0;  // bytes of data at the buffer's start
  simdjson::ondemand::parser parser;
  std::string_view page;
  int64_t ts = 0;
  int64_t bad = 0;
  bool end = false;
  while (!end) {
    if (buffer.size() - have < kBlock + simdjson::SIMDJSON_PADDING)
      buffer.resize(have + kBlock + simdjson::SIMDJSON_PADDING);  // a line longer than a block
    ssize_t n = ::read(fd, buffer.data() + have, kBlock);
    if (n < 0) {
      std::fprintf(stderr, "clickstream_baseline: reading %s: %s\n", path, std::strerror(errno));
      ::close(fd);
      return 2;
    }
    have += static_cast<size_t>(n);
    end = n == 0;
    // Whole lines only; at the end of the file the last line may lack its newline.
    char* data = buffer.data();
    size_t whole = have;
    if (!end) {
      char* last = static_cast<char*>(memrchr(data, '\n', have));
      whole = last ? static_cast<size_t>(last - data) + 1 : 0;
    }
    std::memset(data + have, 0, simdjson::SIMDJSON_PADDING);
    if (many && whole > 0) {
      simdjson::ondemand::document_stream stream;
      if (parser.iterate_many(data, whole, std::max<size_t>(whole, 1 << 20)).get(stream)) {
        std::fprintf(stderr, "clickstream_baseline: iterate_many failed\n");
        ::close(fd);
        return 2;
      }
      for (auto doc : stream) {
        if (ReadClick(doc, &page, &ts))
          job->Add(page, ts);
        else
          ++bad;
      }
    } else {
      size_t at = 0;
      while (at < whole) {
        const char* line = data + at;
        const char* nl = static_cast<const char*>(std::memchr(line, '\n', whole - at));
        size_t len = nl ? static_cast<size_t>(nl - line) : whole - at;
        at += len + 1;
        if (len == 0) continue;
        // The bytes after the line (the next lines, then the zeroed padding) are
        // simdjson's padding: they are read, never parsed.
        size_t capacity = buffer.size() - static_cast<size_t>(line - data);
        if (ReadClick(parser.iterate(line, len, capacity), &page, &ts))
          job->Add(page, ts);
        else
          ++bad;
      }
    }
    std::memmove(data, data + whole, have - whole);
    have -= whole;
  }
  ::close(fd);
  if (bad > 0)
    std::fprintf(stderr, "clickstream_baseline: %lld lines were not JSON objects\n",
                 static_cast<long long>(bad));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const bool file_mode = argc >= 3 && std::strcmp(argv[1], "--file") == 0;
  const bool many = file_mode && argc == 4 && std::strcmp(argv[3], "--many") == 0;
  if (!(argc == 3 || (file_mode && many))) {
    std::fprintf(stderr,
                 "usage: clickstream_baseline EVENTS EVENTS_PER_EVENT_TIME_SECOND\n"
                 "       clickstream_baseline --file PATH [--many]\n");
    return 2;
  }
  TopTen job;
  const auto start = std::chrono::steady_clock::now();
  int rc = file_mode ? FromFile(argv[2], many, &job)
                     : FromGenerator(std::atoll(argv[1]), std::atof(argv[2]), &job);
  if (rc != 0) return rc;
  job.Finish();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("clickstream_baseline: %lld events in %.3f s (%.0f events/s), %lld rows (checksum %lld)\n",
              static_cast<long long>(job.events()), seconds, static_cast<double>(job.events()) / seconds,
              static_cast<long long>(job.rows()), static_cast<long long>(job.checksum()));
  return 0;
}
