#pragma once
// How scalar option values are read: one set of parsers shared by validation
// and by the typed option reads of the plan (options.h), so `True` means the
// same to both.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace streamrun::config {

std::string Trim(std::string_view s);
// A decimal integer, an optional leading '+'; surrounding blanks ignored.
std::optional<int64_t> ParseInt(std::string_view text);
// A finite decimal number.
std::optional<double> ParseNumber(std::string_view text);
// true/false in any letter case (YAML 1.2 core schema: true, True, TRUE).
std::optional<bool> ParseBool(std::string_view text);

}  // namespace streamrun::config
