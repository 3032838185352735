#include "runner/config/diagnostics.h"

#include <algorithm>
#include <cctype>
#include <tuple>

namespace streamrun::config {

std::string Diagnostic::ToString() const {
  std::string out;
  if (!mark.file.empty()) out += mark.file + ":";
  if (mark.line > 0) {
    out += std::to_string(mark.line) + ":" + std::to_string(mark.column > 0 ? mark.column : 1) + ":";
  }
  if (!out.empty()) out += " ";
  out += "error: " + message;
  if (!hint.empty()) out += " (" + hint + ")";
  return out;
}

std::string Diagnostics::ToString() const {
  std::vector<const Diagnostic*> sorted;
  sorted.reserve(list_.size());
  for (const auto& d : list_) sorted.push_back(&d);
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic* a, const Diagnostic* b) {
    return std::tie(a->mark.file, a->mark.line, a->mark.column) <
           std::tie(b->mark.file, b->mark.line, b->mark.column);
  });
  std::string out;
  for (const Diagnostic* d : sorted) {
    out += d->ToString();
    out += '\n';
  }
  return out;
}

namespace {

char Lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

// Levenshtein distance, case-insensitive, with an early exit once every entry of a
// row exceeds `limit` (the result is then some value > limit).
size_t EditDistance(const std::string& a, const std::string& b, size_t limit) {
  const size_t n = a.size(), m = b.size();
  if ((n > m ? n - m : m - n) > limit) return limit + 1;
  std::vector<size_t> prev(m + 1), cur(m + 1);
  for (size_t j = 0; j <= m; ++j) prev[j] = j;
  for (size_t i = 1; i <= n; ++i) {
    cur[0] = i;
    size_t row_min = cur[0];
    for (size_t j = 1; j <= m; ++j) {
      size_t cost = Lower(a[i - 1]) == Lower(b[j - 1]) ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      row_min = std::min(row_min, cur[j]);
    }
    if (row_min > limit) return limit + 1;
    std::swap(prev, cur);
  }
  return prev[m];
}

}  // namespace

std::string NearestName(const std::string& word, const std::vector<std::string>& candidates) {
  const size_t limit = std::max<size_t>(1, word.size() / 3);
  const std::string* best = nullptr;
  size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    size_t d = EditDistance(word, c, limit);
    if (d < best_distance) {
      best_distance = d;
      best = &c;
    }
  }
  if (best != nullptr) return *best;
  // An abbreviation ("cnt" for count): the word's letters in order, starting
  // alike; the shortest such candidate.
  if (word.size() < 3) return {};
  for (const auto& c : candidates) {
    if (c.empty() || c[0] != word[0] || c.size() <= word.size()) continue;
    size_t at = 0;
    for (char ch : c)
      if (at < word.size() && ch == word[at]) ++at;
    if (at == word.size() && (best == nullptr || c.size() < best->size())) best = &c;
  }
  return best != nullptr ? *best : std::string();
}

}  // namespace streamrun::config
