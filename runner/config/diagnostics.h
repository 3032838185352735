#pragma once
// Configuration errors: every one names file:line:col, what was expected and,
// where it can, a suggestion. Loading and validation collect them all.
#include <string>
#include <vector>

#include "runner/config/conf_node.h"

namespace streamrun::config {

struct Diagnostic {
  Mark mark;
  std::string message;  // e.g. "unknown key 'tumblng' in window"
  std::string hint;     // e.g. "did you mean 'tumbling'?"; may be empty

  // "file:line:col: error: message (hint)"
  std::string ToString() const;
};

class Diagnostics {
 public:
  void Add(const Mark& mark, std::string message, std::string hint = {}) {
    list_.push_back(Diagnostic{mark, std::move(message), std::move(hint)});
  }
  void Append(const Diagnostics& other) { list_.insert(list_.end(), other.list_.begin(), other.list_.end()); }
  bool empty() const { return list_.empty(); }
  size_t size() const { return list_.size(); }
  const std::vector<Diagnostic>& list() const { return list_; }
  // Sorted by file, line, column; one per line.
  std::string ToString() const;

 private:
  std::vector<Diagnostic> list_;
};

// The nearest candidate by edit distance, if close enough to be a likely typo
// (distance <= max(1, len/3)); empty otherwise.
std::string NearestName(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace streamrun::config
