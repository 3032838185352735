#pragma once
// The console sink's `format: table`: a table per window, redrawn in place on a
// terminal, appended as plain text otherwise.
#include <cstdint>
#include <string>
#include <vector>

namespace streamrun {

class ConsoleTable {
 public:
  // `fd` is where the table goes; `live` redraws in place (a terminal).
  ConsoleTable(int fd, bool live, std::string title) : fd_(fd), live_(live), title_(std::move(title)) {}

  // One row as JSON text. Rows of one window (window_start, window_end) are
  // shown together; a row of another window completes the current one.
  void AddRow(const std::string& json);
  // Shows what is pending (after each batch).
  void Show();
  // End of output: in plain mode, the last window's table.
  void Close();

 private:
  struct Row {
    std::vector<std::string> cells;
  };
  void Render(bool final);
  void Write(const std::string& text);

  int fd_;
  bool live_;
  std::string title_;
  bool have_window_ = false;
  int64_t window_start_ = 0;
  int64_t window_end_ = 0;
  std::vector<std::string> columns_;
  std::vector<Row> rows_;
  bool dirty_ = false;
  uint64_t windows_shown_ = 0;
};

// 1767225605000 -> "2026-01-01 00:00:05.000"
std::string FormatEpochMs(int64_t ms);

}  // namespace streamrun
