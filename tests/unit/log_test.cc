// The log's lines (runner/log/log.h): both formats, levels, and what a line
// must never show (registered secrets, a URL's password).
#include "runner/log/log.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

namespace slog = streamrun::log;

namespace {

// The defaults before and after each test case.
struct Reset {
  Reset() { Defaults(); }
  ~Reset() { Defaults(); }
  static void Defaults() {
    slog::Configure(slog::Level::kInfo, slog::Format::kText);
    slog::SetPipeline("");
    slog::SetThreadWorker(-1);
  }
};

// The line without its time (the first word).
std::string AfterTime(const std::string& line) { return line.substr(line.find(' ') + 1); }

}  // namespace

TEST_CASE("text lines: time, level, pipeline, worker, operator, message") {
  Reset reset;
  slog::SetPipeline("clickstream-top10");
  const std::string plain = slog::FormatLine(slog::Level::kWarn, -1, "", "checkpoint 3 timed out");
  CHECK(AfterTime(plain) == "warn clickstream-top10: checkpoint 3 timed out");
  // 2026-12-04T10:00:00.123Z
  const std::string time = plain.substr(0, plain.find(' '));
  REQUIRE(time.size() == 24);
  CHECK(time[4] == '-');
  CHECK(time[10] == 'T');
  CHECK(time[19] == '.');
  CHECK(time[23] == 'Z');
  CHECK(AfterTime(slog::FormatLine(slog::Level::kInfo, 0, "clicks", "consumer lag 3: clicks/0=3")) ==
        "info clickstream-top10 w0 clicks: consumer lag 3: clicks/0=3");
  slog::SetPipeline("");
  CHECK(AfterTime(slog::FormatLine(slog::Level::kError, 2, "", "x")) == "error streamrun w2: x");
}

TEST_CASE("json lines: one object each, escaped, keys only when known") {
  Reset reset;
  slog::Configure(slog::Level::kInfo, slog::Format::kJson);
  slog::SetPipeline("p \"quoted\"");
  const std::string message =
      "a \"quote\", a \\ backslash,\na newline, a tab\t, \x01 and caf\xc3\xa9 and \xff";
  const std::string line = slog::FormatLine(slog::Level::kInfo, 3, "out", message);
  CHECK(line.find('\n') == std::string::npos);
  const auto j = nlohmann::json::parse(line);
  CHECK(j["level"] == "info");
  CHECK(j["pipeline"] == "p \"quoted\"");
  CHECK(j["worker"] == 3);
  CHECK(j["operator"] == "out");
  CHECK(j["message"] ==
        "a \"quote\", a \\ backslash,\na newline, a tab\t, \x01 and caf\xc3\xa9 and \xef\xbf\xbd");
  CHECK(j["time"].get<std::string>().size() == 24);
  const auto bare = nlohmann::json::parse(slog::FormatLine(slog::Level::kWarn, -1, "", "m"));
  CHECK_FALSE(bare.contains("worker"));
  CHECK_FALSE(bare.contains("operator"));
}

TEST_CASE("levels") {
  Reset reset;
  CHECK(slog::Enabled(slog::Level::kInfo));
  CHECK_FALSE(slog::Enabled(slog::Level::kDebug));
  slog::Configure(slog::Level::kError, slog::Format::kText);
  CHECK_FALSE(slog::Enabled(slog::Level::kWarn));
  CHECK(slog::Enabled(slog::Level::kError));
  slog::Configure(slog::Level::kOff, slog::Format::kText);
  CHECK_FALSE(slog::Enabled(slog::Level::kError));
  CHECK_FALSE(slog::Enabled(slog::Level::kOff));
  slog::Configure(slog::Level::kTrace, slog::Format::kText);
  CHECK(slog::Enabled(slog::Level::kTrace));
  CHECK(slog::ParseLevel("WARN") == slog::Level::kWarn);
  CHECK(slog::ParseLevel("warning") == slog::Level::kWarn);
  CHECK(slog::ParseLevel("off") == slog::Level::kOff);
  CHECK_FALSE(slog::ParseLevel("verbose"));
  CHECK(slog::ParseFormat("json") == slog::Format::kJson);
  CHECK_FALSE(slog::ParseFormat("xml"));
}

TEST_CASE("the worker is the thread's") {
  Reset reset;
  slog::SetThreadWorker(4);
  CHECK(slog::ThreadWorker() == 4);
  slog::SetThreadWorker(-1);
  CHECK(slog::ThreadWorker() == -1);
}

TEST_CASE("secrets and URL passwords are masked") {
  Reset reset;
  slog::AddSecret("hunter2-secret-value");
  slog::AddSecret("hunter2");  // a part of a longer one: the longer is masked whole
  slog::AddSecret("abc");      // too short to mask
  const std::string line =
      slog::FormatLine(slog::Level::kWarn, -1, "",
                       "auth hunter2-secret-value failed, again hunter2-secret-value; abc; hunter2 alone");
  CHECK(AfterTime(line) == "warn streamrun: auth *** failed, again ***; abc; *** alone");
  CHECK(AfterTime(slog::FormatLine(slog::Level::kInfo, -1, "",
                                   "connecting to https://alice:p%40ss@example.com:8443/x?y=1 and "
                                   "s3://bob:pw@bucket/key, not http://host:80/a@b nor user@host:22")) ==
        "info streamrun: connecting to https://alice:***@example.com:8443/x?y=1 and s3://bob:***@bucket/key, "
        "not http://host:80/a@b nor user@host:22");
  // In every part of a line, in both formats.
  slog::Configure(slog::Level::kInfo, slog::Format::kJson);
  slog::SetPipeline("job-hunter2-secret-value");
  const std::string json = slog::FormatLine(slog::Level::kInfo, 0, "hunter2", "hunter2-secret-value");
  CHECK(json.find("hunter2") == std::string::npos);
}

TEST_CASE("secret keys and operator names") {
  CHECK(slog::IsSecretKey("sasl.password"));
  CHECK(slog::IsSecretKey("ssl.key.password"));
  CHECK(slog::IsSecretKey("Authorization"));
  CHECK(slog::IsSecretKey("X-API-Key"));
  CHECK(slog::IsSecretKey("aws_secret_access_key"));
  CHECK(slog::IsSecretKey("session_token"));
  CHECK(slog::IsSecretKey("apiKey"));
  CHECK_FALSE(slog::IsSecretKey("bootstrap.servers"));
  CHECK_FALSE(slog::IsSecretKey("key"));
  CHECK_FALSE(slog::IsSecretKey("sasl.username"));
  CHECK(slog::OperatorOf("source 'clicks'") == "clicks");
  CHECK(slog::OperatorOf("transform 'x' step 2 (sessionize)") == "x");
  CHECK(slog::OperatorOf("plain") == "plain");
}
