#include "operators/sinks/console_table.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace streamrun {

std::string FormatEpochMs(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86400000 : (ms - 86399999) / 86400000;
  int64_t rest = ms - days * 86400000;
  // Howard Hinnant's civil_from_days.
  int64_t z = days + 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = yoe + era * 400;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  int64_t d = doy - (153 * mp + 2) / 5 + 1;
  int64_t m = mp < 10 ? mp + 3 : mp - 9;
  if (m <= 2) ++y;
  char buf[160];
  std::snprintf(buf, sizeof buf, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%03lld",
                static_cast<long long>(y), static_cast<long long>(m), static_cast<long long>(d),
                static_cast<long long>(rest / 3600000), static_cast<long long>(rest / 60000 % 60),
                static_cast<long long>(rest / 1000 % 60), static_cast<long long>(rest % 1000));
  return buf;
}

namespace {

std::string Cell(const nlohmann::ordered_json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "";
  return v.dump();
}

}  // namespace

void ConsoleTable::AddRow(const std::string& json) {
  auto row = nlohmann::ordered_json::parse(json, nullptr, false);
  if (!row.is_object()) return;
  bool windowed = row.contains("window_start") && row.contains("window_end") &&
                  row["window_start"].is_number_integer() && row["window_end"].is_number_integer();
  int64_t start = windowed ? row["window_start"].get<int64_t>() : 0;
  int64_t end = windowed ? row["window_end"].get<int64_t>() : 0;
  if (windowed && have_window_ && (start != window_start_ || end != window_end_)) {
    Render(true);
    rows_.clear();
  }
  if (!windowed && rows_.size() >= 20) rows_.erase(rows_.begin());  // a rolling view of the last rows
  have_window_ = windowed;
  window_start_ = start;
  window_end_ = end;
  columns_.clear();
  Row r;
  for (auto it = row.begin(); it != row.end(); ++it) {
    if (it.key() == "window_start" || it.key() == "window_end") continue;
    columns_.push_back(it.key());
    r.cells.push_back(Cell(it.value()));
  }
  rows_.push_back(std::move(r));
  dirty_ = true;
}

void ConsoleTable::Show() {
  // Live: redraw after every batch. Plain: a window is printed once it is complete.
  if (live_ && dirty_) Render(false);
}

void ConsoleTable::Close() {
  if (!rows_.empty() && (dirty_ || !live_)) Render(true);
}

void ConsoleTable::Render(bool final) {
  if (rows_.empty()) return;
  if (!live_ && !final) return;
  std::vector<size_t> width(columns_.size());
  for (size_t c = 0; c < columns_.size(); ++c) width[c] = columns_[c].size();
  for (const auto& r : rows_)
    for (size_t c = 0; c < r.cells.size() && c < width.size(); ++c)
      width[c] = std::max(width[c], r.cells[c].size());
  std::string out;
  if (live_) out += "\x1b[H\x1b[2J";  // home, clear
  if (!title_.empty()) out += title_ + "\n";
  if (have_window_)
    out += "window " + FormatEpochMs(window_start_) + " .. " + FormatEpochMs(window_end_) + " UTC\n";
  auto line = [&](const std::vector<std::string>& cells) {
    for (size_t c = 0; c < width.size(); ++c) {
      std::string cell = c < cells.size() ? cells[c] : "";
      out += (c ? "  " : "") + cell + std::string(width[c] - std::min(width[c], cell.size()), ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
  };
  line(columns_);
  std::vector<std::string> rule;
  for (size_t w : width) rule.push_back(std::string(w, '-'));
  line(rule);
  for (const auto& r : rows_) line(r.cells);
  if (!live_) out += "\n";
  Write(out);
  dirty_ = false;
  ++windows_shown_;
}

void ConsoleTable::Write(const std::string& text) {
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
    if (n <= 0) return;  // the terminal went away; nothing to report to
    done += static_cast<size_t>(n);
  }
}

}  // namespace streamrun
