#include "runner/config/duration.h"

#include <charconv>
#include <cmath>
#include <limits>

namespace streamrun::config {

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Milliseconds per unit; 0 when `unit` is not one.
int64_t UnitMs(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60 * 1000;
  if (unit == "h") return 60 * 60 * 1000;
  if (unit == "d") return 24 * 60 * 60 * 1000;
  return 0;
}

}  // namespace

std::optional<int64_t> ParseDurationMs(std::string_view text) {
  text = Trim(text);
  if (text.empty()) return std::nullopt;
  if (text.find_first_not_of('0') == std::string_view::npos) return 0;  // "0", "00"
  constexpr __int128 kMax = std::numeric_limits<int64_t>::max();
  __int128 total = 0;
  size_t i = 0;
  while (i < text.size()) {
    // Whole part: at least one digit.
    if (!IsDigit(text[i])) return std::nullopt;
    __int128 whole = 0;
    while (i < text.size() && IsDigit(text[i])) {
      whole = whole * 10 + (text[i] - '0');
      if (whole > kMax) return std::nullopt;
      ++i;
    }
    // Optional fraction: '.' and at least one digit.
    std::string_view frac;
    if (i < text.size() && text[i] == '.') {
      size_t start = ++i;
      while (i < text.size() && IsDigit(text[i])) ++i;
      frac = text.substr(start, i - start);
      if (frac.empty()) return std::nullopt;
    }
    size_t unit_start = i;
    while (i < text.size() && !IsDigit(text[i]) && text[i] != '.') ++i;
    int64_t unit = UnitMs(text.substr(unit_start, i - unit_start));
    if (unit == 0) return std::nullopt;
    __int128 part = whole * unit;
    if (part > kMax) return std::nullopt;
    // The fraction must come out as whole milliseconds ("1.5s" = 1500, "1.5ms" is refused).
    while (!frac.empty() && frac.back() == '0') frac.remove_suffix(1);
    if (!frac.empty()) {
      if (frac.size() > 12) return std::nullopt;
      __int128 num = 0, den = 1;
      for (char c : frac) {
        num = num * 10 + (c - '0');
        den *= 10;
      }
      __int128 scaled = num * unit;
      if (scaled % den != 0) return std::nullopt;
      part += scaled / den;
    }
    total += part;
    if (total > kMax) return std::nullopt;
  }
  return static_cast<int64_t>(total);
}

std::optional<double> ParseRatePerSecond(std::string_view text) {
  text = Trim(text);
  size_t slash = text.find('/');
  if (slash == std::string_view::npos || slash == 0) return std::nullopt;
  std::string_view number = Trim(text.substr(0, slash));
  std::string_view unit = Trim(text.substr(slash + 1));
  if (number.empty() || !(IsDigit(number.front()) || number.front() == '.')) return std::nullopt;
  double value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size()) return std::nullopt;
  if (!std::isfinite(value) || value <= 0) return std::nullopt;
  int64_t unit_ms = UnitMs(unit);
  if (unit_ms == 0) return std::nullopt;
  double per_second = value * 1000.0 / static_cast<double>(unit_ms);
  if (!std::isfinite(per_second) || per_second <= 0) return std::nullopt;
  return per_second;
}

std::string FormatDurationMs(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  uint64_t rest;
  if (ms < 0) {
    out = "-";
    rest = static_cast<uint64_t>(-(ms + 1)) + 1;
  } else {
    rest = static_cast<uint64_t>(ms);
  }
  struct Unit {
    uint64_t ms;
    const char* name;
  };
  static constexpr Unit kUnits[] = {{86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const Unit& u : kUnits) {
    if (rest >= u.ms) {
      out += std::to_string(rest / u.ms) + u.name;
      rest %= u.ms;
    }
  }
  return out;
}

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  size_t i = 0;
  uint64_t n = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    if (n > (uint64_t{1} << 50)) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  if (i == 0) return std::nullopt;
  std::string unit(text.substr(i));
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  static const std::pair<const char*, int> kUnits[] = {{"", 0},    {"B", 0},    {"KB", 10}, {"KiB", 10},
                                                       {"MB", 20}, {"MiB", 20}, {"GB", 30}, {"GiB", 30},
                                                       {"TB", 40}, {"TiB", 40}};
  for (const auto& [name, shift] : kUnits) {
    if (unit != name) continue;
    if (n > (std::numeric_limits<uint64_t>::max() >> shift)) return std::nullopt;
    return n << shift;
  }
  return std::nullopt;
}

}  // namespace streamrun::config
