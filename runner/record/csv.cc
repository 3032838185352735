#include "runner/record/csv.h"

#include <charconv>
#include <cstdint>

#include "runner/record/json_writer.h"

namespace streamrun {

bool CsvOpenQuote(std::string_view text) {
  bool in_quotes = false;
  for (char c : text)
    if (c == '"') in_quotes = !in_quotes;
  return in_quotes;
}

bool SplitCsv(std::string_view line, std::vector<std::string>* fields, std::vector<bool>* quoted,
              std::string* error) {
  fields->clear();
  quoted->clear();
  size_t i = 0;
  while (true) {
    std::string field;
    bool was_quoted = false;
    if (i < line.size() && line[i] == '"') {
      was_quoted = true;
      ++i;
      while (true) {
        if (i >= line.size()) {
          *error = "unterminated quoted CSV field";
          return false;
        }
        if (line[i] == '"') {
          if (i + 1 < line.size() && line[i + 1] == '"') {
            field.push_back('"');
            i += 2;
            continue;
          }
          ++i;
          break;
        }
        field.push_back(line[i++]);
      }
      if (i < line.size() && line[i] != ',') {
        *error = "unexpected text after a closing quote in CSV field " + std::to_string(fields->size() + 1);
        return false;
      }
    } else {
      size_t end = line.find(',', i);
      if (end == std::string_view::npos) end = line.size();
      field.assign(line.substr(i, end - i));
      i = end;
    }
    fields->push_back(std::move(field));
    quoted->push_back(was_quoted);
    if (i >= line.size()) break;
    ++i;  // the comma
  }
  return true;
}

namespace {

bool IsInt(std::string_view s) {
  int64_t v;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  return r.ec == std::errc() && r.ptr == s.data() + s.size();
}

bool IsFloat(std::string_view s) {
  if (s.empty()) return false;
  double v;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return false;
  // Only plain decimal notation (no inf/nan words).
  for (char c : s)
    if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E')) return false;
  return true;
}

}  // namespace

bool CsvToJson(const std::vector<std::string>& header, std::string_view line, std::string* json,
               std::string* error) {
  thread_local std::vector<std::string> fields;
  thread_local std::vector<bool> quoted;
  if (!SplitCsv(line, &fields, &quoted, error)) return false;
  if (fields.size() != header.size()) {
    *error = "CSV line has " + std::to_string(fields.size()) + " fields, the header has " +
             std::to_string(header.size());
    return false;
  }
  json->clear();
  json->push_back('{');
  for (size_t k = 0; k < fields.size(); ++k) {
    if (k) json->push_back(',');
    AppendJsonString(header[k], json);
    json->push_back(':');
    const std::string& f = fields[k];
    if (quoted[k]) {
      AppendJsonString(f, json);
    } else if (f.empty()) {
      json->append("null");
    } else if (f == "true" || f == "false") {
      json->append(f);
    } else if (IsInt(f)) {
      json->append(f);
    } else if (IsFloat(f)) {
      if (f.front() == '+')
        json->append(f.substr(1));
      else
        json->append(f);
      if (f.find_first_of(".eE") == std::string::npos) json->append(".0");
    } else {
      AppendJsonString(f, json);
    }
  }
  json->push_back('}');
  return true;
}

void AppendCsvField(std::string_view text, std::string* out) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) {
    out->append(text);
    return;
  }
  out->push_back('"');
  for (char c : text) {
    if (c == '"') out->push_back('"');
    out->push_back(c);
  }
  out->push_back('"');
}

}  // namespace streamrun
