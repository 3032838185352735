#pragma once
// CSV with a header line (RFC 4180 quoting). Each data line is turned into a JSON
// object text so the rest of the pipeline sees one record model. Unquoted values
// are typed: empty -> null, integers -> int, decimals -> float, true/false -> bool;
// quoted values are always strings.
#include <memory>
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

// Writes records, given as JSON object text (with JsonPadding() readable
// bytes after it), as CSV lines. The columns are the first record's fields,
// written as the header line before it. Strings are always quoted (a reader
// types unquoted cells, so the text "42" stays a string); null is an empty
// cell; numbers and bools are bare; lists and objects are quoted JSON text. A
// later record's field that is not a column is left out; a column it lacks is
// empty. One writer per output file.
class CsvWriter {
 public:
  CsvWriter();
  ~CsvWriter();
  bool Append(std::string_view json, std::string* out, std::string* error);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace streamrun
