#include "operators/sinks/record_writer.h"

#include <simdjson.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "runner/format/varint.h"
#include "runner/record/checksum.h"
#include "runner/record/csv.h"

namespace streamrun {

namespace od = simdjson::ondemand;

// CSV: the columns are the first record's fields, written as the header line.
// A later record's field that is not a column is left out; a column the record
// lacks is empty (null).
struct RecordWriter::Csv {
  std::vector<std::string> columns;
  std::vector<std::string> cells;
  std::vector<bool> filled;
  od::parser parser;
};

RecordWriter::RecordWriter(int fd, std::string name, format::RecordFormat format,
                           std::unique_ptr<format::RecordEncoder> encoder)
    : fd_(fd), name_(std::move(name)), format_(format), encoder_(std::move(encoder)) {
  if (format_ == format::RecordFormat::kCsv) csv_ = std::make_unique<Csv>();
}

RecordWriter::~RecordWriter() = default;

void RecordWriter::Write(const Batch& batch, const RecordView& view, RecordErrors* errors) {
  const bool modified = view.modified();
  for (uint32_t i = 0; i < batch.size(); ++i) {
    if (format_ == format::RecordFormat::kJson) {
      if (modified) {
        EncodeJson(view, batch.row(i), batch.raw(i), &buf_);
      } else {
        buf_.append(batch.raw(i));
      }
      buf_.push_back('\n');
      ++records_;
      continue;
    }
    json_.clear();
    if (modified) {
      EncodeJson(view, batch.row(i), batch.raw(i), &json_);
    } else {
      json_.assign(batch.raw(i));
    }
    if (!Append(json_, &error_)) {
      if (!errors) throw std::runtime_error(name_ + ": " + error_);
      errors->Add(RecordError{json_, batch.position(i),
                              "cannot write as " + std::string(format::FormatName(format_)) + ": " + error_});
    }
  }
  if (buf_.size() >= (1 << 20)) Flush();
}

void RecordWriter::WriteEncoded(const std::vector<std::string>& records) {
  for (const auto& r : records) {
    if (format_ == format::RecordFormat::kJson) {
      buf_.append(r);
      buf_.push_back('\n');
      ++records_;
      continue;
    }
    json_.assign(r);
    if (!Append(json_, &error_))
      throw std::runtime_error(name_ + ": a dead letter cannot be written: " + error_);
  }
  Flush();
}

bool RecordWriter::Append(std::string& json, std::string* error) {
  json.reserve(json.size() + simdjson::SIMDJSON_PADDING);
  if (format_ == format::RecordFormat::kCsv) {
    if (!AppendCsv(json, error)) return false;
    ++records_;
    return true;
  }
  encoded_.clear();
  if (!encoder_->Encode(json, &encoded_, error)) return false;
  format::PutVarint(encoded_.size(), &buf_);
  buf_.append(encoded_);
  ++records_;
  return true;
}

bool RecordWriter::AppendCsv(std::string_view json, std::string* error) {
  Csv& c = *csv_;
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
      if (k) buf_.push_back(',');
      AppendCsvField(c.columns[k], &buf_);
    }
    buf_.append("\n");
  }
  for (size_t k = 0; k < c.columns.size(); ++k) {
    if (k) buf_.push_back(',');
    if (!c.filled[k]) continue;
    const std::string& cell = c.cells[k];
    if (!cell.empty() && cell[0] == '\x01') {
      buf_.push_back('"');
      for (size_t q = 1; q < cell.size(); ++q) {
        if (cell[q] == '"') buf_.push_back('"');
        buf_.push_back(cell[q]);
      }
      buf_.push_back('"');
    } else {
      buf_.append(cell);
    }
  }
  buf_.append("\n");
  return true;
}

void RecordWriter::Flush() {
  size_t done = 0;
  while (done < buf_.size()) {
    ssize_t n = ::write(fd_, buf_.data() + done, buf_.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error("writing " + name_ + ": " + std::strerror(errno));
    }
    done += static_cast<size_t>(n);
  }
  bytes_written_ += buf_.size();
  if (track_crc_) crc_ = Crc32(crc_, buf_);
  buf_.clear();
}

}  // namespace streamrun
