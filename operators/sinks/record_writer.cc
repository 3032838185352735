#include "operators/sinks/record_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "runner/format/varint.h"
#include "runner/record/checksum.h"
#include "runner/record/csv.h"
#include "runner/record/json_decoder.h"

namespace streamrun {

RecordWriter::RecordWriter(int fd, std::string name, format::RecordFormat format,
                           std::unique_ptr<format::RecordEncoder> encoder)
    : fd_(fd), name_(std::move(name)), format_(format), encoder_(std::move(encoder)) {
  if (format_ == format::RecordFormat::kCsv) csv_ = std::make_unique<CsvWriter>();
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
  json.reserve(json.size() + JsonPadding());
  if (format_ == format::RecordFormat::kCsv) {
    if (!csv_->Append(json, &buf_, error)) return false;
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
