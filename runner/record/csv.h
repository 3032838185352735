#pragma once
// CSV with a header line (RFC 4180 quoting). Each data line is turned into a JSON
// object text so the rest of the pipeline sees one record model. Unquoted values
// are typed: empty -> null, integers -> int, decimals -> float, true/false -> bool;
// quoted values are always strings.
#include <string>
#include <string_view>
#include <vector>

namespace streamrun {

// Splits one CSV record (which may contain newlines inside quotes) into fields,
// unescaping "" inside quotes. False with a reason on an unterminated quote or
// text after a closing quote.
bool SplitCsv(std::string_view line, std::vector<std::string>* fields, std::vector<bool>* quoted,
              std::string* error);

// True when `text` ends inside a quoted field (the record continues on the next line).
bool CsvOpenQuote(std::string_view text);

// Builds the JSON object for one data line. A line with a different number of
// fields than the header is an error.
bool CsvToJson(const std::vector<std::string>& header, std::string_view line, std::string* json,
               std::string* error);

// Appends one value as a CSV field, quoted when needed.
void AppendCsvField(std::string_view text, std::string* out);

}  // namespace streamrun
