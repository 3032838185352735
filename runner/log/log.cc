#include "runner/log/log.h"

#include <spdlog/logger.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <memory>
#include <mutex>
#include <vector>

#include "runner/record/json_writer.h"

namespace streamrun::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::kInfo)};
std::atomic<int> g_format{static_cast<int>(Format::kText)};
thread_local int t_worker = -1;

// What every line shares: the pipeline's name and the secrets, longest first
// (a secret that holds a shorter one is masked whole).
struct Context {
  std::mutex mutex;
  std::string pipeline;
  std::vector<std::string> secrets;
};

// Never destroyed: a line written while the process exits (a destructor of a
// static, another thread) still finds its logger.
Context& Ctx() {
  static Context* context = new Context;
  return *context;
}

spdlog::logger& Logger() {
  static spdlog::logger* logger = [] {
    auto* l = new spdlog::logger("streamrun", std::make_shared<spdlog::sinks::stderr_sink_mt>());
    l->set_pattern("%v");  // the line is built here (FormatLine)
    l->set_level(spdlog::level::trace);
    l->flush_on(spdlog::level::trace);
    return l;
  }();
  return *logger;
}

spdlog::level::level_enum SpdlogLevel(Level level) {
  switch (level) {
    case Level::kTrace:
      return spdlog::level::trace;
    case Level::kDebug:
      return spdlog::level::debug;
    case Level::kInfo:
      return spdlog::level::info;
    case Level::kWarn:
      return spdlog::level::warn;
    case Level::kError:
      return spdlog::level::err;
    case Level::kOff:
      break;
  }
  return spdlog::level::off;
}

char Lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string LowerCase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = Lower(c);
  return out;
}

// 2026-12-04T10:00:00.123Z
std::string UtcTime() {
  const auto now = std::chrono::system_clock::now();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[96];  // room for any int, as the compiler counts
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  return buf;
}

// `scheme://user:password@host`: the password becomes ***.
void MaskUrlPasswords(std::string& text) {
  static constexpr std::string_view kAuthorityEnd = "/?#\"' \t\r\n<>";
  size_t from = 0;
  while ((from = text.find("://", from)) != std::string::npos) {
    const size_t start = from + 3;
    size_t end = start;
    while (end < text.size() && kAuthorityEnd.find(text[end]) == std::string_view::npos) ++end;
    size_t at = std::string::npos;  // the user information ends at the authority's last '@'
    for (size_t i = start; i < end; ++i)
      if (text[i] == '@') at = i;
    const size_t colon = at == std::string::npos ? at : text.find(':', start);
    if (colon < at) {
      text.replace(colon + 1, at - colon - 1, "***");
      end = end + 3 - (at - colon - 1);
    }
    from = end;
  }
}

void MaskSecrets(std::string& text, const std::vector<std::string>& secrets) {
  for (const auto& secret : secrets) {
    size_t at = 0;
    while ((at = text.find(secret, at)) != std::string::npos) {
      text.replace(at, secret.size(), "***");
      at += 3;
    }
  }
  MaskUrlPasswords(text);
}

}  // namespace

void Configure(Level level, Format format) {
  g_level.store(static_cast<int>(level));
  g_format.store(static_cast<int>(format));
}

void SetPipeline(std::string name) {
  Context& ctx = Ctx();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  ctx.pipeline = std::move(name);
}

void SetThreadWorker(int worker) { t_worker = worker; }
int ThreadWorker() { return t_worker; }

void AddSecret(std::string value) {
  if (value.size() < 4) return;
  Context& ctx = Ctx();
  std::lock_guard<std::mutex> lock(ctx.mutex);
  if (std::find(ctx.secrets.begin(), ctx.secrets.end(), value) != ctx.secrets.end()) return;
  ctx.secrets.push_back(std::move(value));
  std::stable_sort(ctx.secrets.begin(), ctx.secrets.end(),
                   [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
}

bool Enabled(Level level) {
  return level != Level::kOff && static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

std::string FormatLine(Level level, int worker, std::string_view op, std::string_view message) {
  std::string pipeline, text(message), where(op);
  {
    Context& ctx = Ctx();
    std::lock_guard<std::mutex> lock(ctx.mutex);
    pipeline = ctx.pipeline;
    MaskSecrets(text, ctx.secrets);
    MaskSecrets(where, ctx.secrets);
    MaskSecrets(pipeline, ctx.secrets);
  }
  std::string line;
  line.reserve(text.size() + 96);
  if (static_cast<Format>(g_format.load()) == Format::kJson) {
    line += "{\"time\":\"" + UtcTime() + "\",\"level\":\"";
    line += LevelName(level);
    line += '"';
    if (!pipeline.empty()) {
      line += ",\"pipeline\":";
      AppendJsonString(pipeline, &line);
    }
    if (worker >= 0) line += ",\"worker\":" + std::to_string(worker);
    if (!where.empty()) {
      line += ",\"operator\":";
      AppendJsonString(where, &line);
    }
    line += ",\"message\":";
    AppendJsonString(text, &line);  // invalid UTF-8 becomes U+FFFD
    line += '}';
    return line;
  }
  line += UtcTime();
  line += ' ';
  line += LevelName(level);
  line += ' ';
  line += pipeline.empty() ? "streamrun" : pipeline;
  if (worker >= 0) line += " w" + std::to_string(worker);
  if (!where.empty()) line += " " + where;
  line += ": ";
  line += text;
  return line;
}

void Write(Level level, int worker, std::string_view op, std::string_view message) {
  if (!Enabled(level)) return;
  const std::string line = FormatLine(level, worker, op, message);
  Logger().log(SpdlogLevel(level), "{}", line);
}

void Write(Level level, std::string_view op, std::string_view message) {
  Write(level, t_worker, op, message);
}

std::string_view OperatorOf(std::string_view where) {
  const size_t open = where.find('\'');
  const size_t close = open == std::string_view::npos ? open : where.find('\'', open + 1);
  if (close == std::string_view::npos) return where;
  return where.substr(open + 1, close - open - 1);
}

std::optional<Level> ParseLevel(std::string_view text) {
  const std::string t = LowerCase(text);
  if (t == "trace") return Level::kTrace;
  if (t == "debug") return Level::kDebug;
  if (t == "info") return Level::kInfo;
  if (t == "warn" || t == "warning") return Level::kWarn;
  if (t == "error") return Level::kError;
  if (t == "off") return Level::kOff;
  return std::nullopt;
}

std::optional<Format> ParseFormat(std::string_view text) {
  const std::string t = LowerCase(text);
  if (t == "text") return Format::kText;
  if (t == "json") return Format::kJson;
  return std::nullopt;
}

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kTrace:
      return "trace";
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      break;
  }
  return "off";
}

bool IsSecretKey(std::string_view key) {
  const std::string k = LowerCase(key);
  static const char* const kParts[] = {"password", "passwd",  "secret",  "token",      "credential",
                                       "apikey",   "api_key", "api-key", "private_key"};
  for (const char* part : kParts)
    if (k.find(part) != std::string::npos) return true;
  return k == "authorization" || k == "proxy-authorization";
}

}  // namespace streamrun::log
