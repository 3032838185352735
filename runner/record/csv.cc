#include "runner/record/csv.h"

#include <simdjson.h>

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

namespace od = simdjson::ondemand;

struct CsvWriter::State {
  std::vector<std::string> columns;
  std::vector<std::string> cells;
  std::vector<bool> filled;
  od::parser parser;
};

CsvWriter::CsvWriter() : state_(std::make_unique<State>()) {}
CsvWriter::~CsvWriter() = default;

bool CsvWriter::Append(std::string_view json, std::string* out, std::string* error) {
  State& c = *state_;
  od::document doc;
  od::object obj;
  if (c.parser
          .iterate(simdjson::padded_string_view(json.data(), json.size(),
                                                json.size() + simdjson::SIMDJSON_PADDING))
          .get(doc) ||
      doc.get_object().get(obj)) {
    *error = "not a JSON object";
    return false;
  }
  const bool header = c.columns.empty();
  c.filled.assign(c.columns.size(), false);
  c.cells.resize(c.columns.size());
  for (auto member : obj) {
    std::string_view key;
    od::value v;
    if (member.unescaped_key().get(key) || member.value().get(v)) {
      *error = "malformed JSON";
      return false;
    }
    size_t col = 0;
    while (col < c.columns.size() && c.columns[col] != key) ++col;
    if (col == c.columns.size()) {
      if (!header) continue;  // not a column of this file
      c.columns.emplace_back(key);
      c.cells.emplace_back();
      c.filled.push_back(false);
    }
    std::string& cell = c.cells[col];
    cell.clear();
    od::json_type type;
    if (v.type().get(type)) {
      *error = "malformed JSON";
      return false;
    }
    switch (type) {
      case od::json_type::null:
        break;  // an empty cell
      case od::json_type::string: {
        std::string_view s;
        if (v.get_string().get(s)) {
          *error = "malformed JSON";
          return false;
        }
        cell.assign(s);
        // Quoted even when it need not be: a reader types unquoted cells, so
        // the text "42" stays a string.
        c.filled[col] = true;
        cell.insert(0, 1, '\x01');  // marks "always quote"
        continue;
      }
      default: {
        std::string_view raw;
        const bool nested = type == od::json_type::array || type == od::json_type::object;
        if (!nested) raw = v.raw_json_token();
        if (nested && simdjson::to_json_string(v).get(raw)) {
          *error = "malformed JSON";
          return false;
        }
        while (!raw.empty() &&
               (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\t' || raw.back() == '\r'))
          raw.remove_suffix(1);
        cell.assign(raw);
        if (type == od::json_type::array || type == od::json_type::object) cell.insert(0, 1, '\x01');
        break;
      }
    }
    c.filled[col] = true;
  }
  if (header) {
    for (size_t k = 0; k < c.columns.size(); ++k) {
      if (k) (*out).push_back(',');
      AppendCsvField(c.columns[k], &(*out));
    }
    (*out).append("\n");
  }
  for (size_t k = 0; k < c.columns.size(); ++k) {
    if (k) (*out).push_back(',');
    if (!c.filled[k]) continue;
    const std::string& cell = c.cells[k];
    if (!cell.empty() && cell[0] == '\x01') {
      (*out).push_back('"');
      for (size_t q = 1; q < cell.size(); ++q) {
        if (cell[q] == '"') (*out).push_back('"');
        (*out).push_back(cell[q]);
      }
      (*out).push_back('"');
    } else {
      (*out).append(cell);
    }
  }
  (*out).append("\n");
  return true;
}

}  // namespace streamrun
