#pragma once
// The process's log (docs/metrics.md "Logs"): one line per event on stderr,
// through spdlog, as text or JSON, each naming the pipeline, the worker (the
// calling thread's, see SetThreadWorker) and the operator. Secrets registered
// with AddSecret, and the password of a URL's `user:password@`, never reach
// the output. spdlog's headers stay in log.cc; fmt's core is all a caller
// includes.
//
// Thread-safe: Write may be called from any thread at any time, Configure,
// SetPipeline and AddSecret too (they take effect for the lines after them).
#include <fmt/core.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace streamrun::log {

enum class Level { kTrace, kDebug, kInfo, kWarn, kError, kOff };
enum class Format { kText, kJson };

// The level lines must reach to be written (default kInfo) and their format
// (default kText).
void Configure(Level level, Format format);
// The pipeline every line names (empty: "streamrun" in text, no key in JSON).
void SetPipeline(std::string name);
// The worker the calling thread runs (-1: none, the default). The runtime sets
// it at the start of each worker's thread.
void SetThreadWorker(int worker);
int ThreadWorker();
// Every occurrence of `value` in a line is written as `***` from now on.
// Values shorter than 4 characters are ignored (they would mask at random).
void AddSecret(std::string value);

// Whether a line at `level` is written; cheap (one atomic load).
bool Enabled(Level level);
// Writes one line at `level`; `op` names the operator (a source, step or
// sink; empty: none). Nothing when the level is not enabled.
void Write(Level level, std::string_view op, std::string_view message);
// The same for another worker than the calling thread's (-1: none): a line
// about a worker's operator written from a thread of the operator's own.
void Write(Level level, int worker, std::string_view op, std::string_view message);
// The line Write writes now, without its newline (secrets masked).
std::string FormatLine(Level level, int worker, std::string_view op, std::string_view message);

// The operator's name in a planning `where` text ("source 'clicks'",
// "transform 'x' step 2 (sessionize)"): the first quoted name; the text itself
// when it quotes none.
std::string_view OperatorOf(std::string_view where);

// "trace", "debug", "info", "warn" (or "warning"), "error", "off".
std::optional<Level> ParseLevel(std::string_view text);
// "text", "json".
std::optional<Format> ParseFormat(std::string_view text);
std::string_view LevelName(Level level);

// A configuration key whose value is a credential: it contains (case
// insensitive) password, passwd, secret, token, credential, apikey, api_key,
// api-key or private_key, or is `authorization`.
bool IsSecretKey(std::string_view key);

// Formatting with fmt, done only when the level is enabled.
template <typename... Args>
void Log(Level level, std::string_view op, fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(level)) Write(level, op, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void Trace(std::string_view op, fmt::format_string<Args...> format, Args&&... args) {
  Log(Level::kTrace, op, format, std::forward<Args>(args)...);
}
template <typename... Args>
void Debug(std::string_view op, fmt::format_string<Args...> format, Args&&... args) {
  Log(Level::kDebug, op, format, std::forward<Args>(args)...);
}
template <typename... Args>
void Info(std::string_view op, fmt::format_string<Args...> format, Args&&... args) {
  Log(Level::kInfo, op, format, std::forward<Args>(args)...);
}
template <typename... Args>
void Warn(std::string_view op, fmt::format_string<Args...> format, Args&&... args) {
  Log(Level::kWarn, op, format, std::forward<Args>(args)...);
}
template <typename... Args>
void Error(std::string_view op, fmt::format_string<Args...> format, Args&&... args) {
  Log(Level::kError, op, format, std::forward<Args>(args)...);
}

}  // namespace streamrun::log
