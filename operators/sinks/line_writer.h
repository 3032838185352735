#pragma once
// Writes records as JSON lines to a file descriptor through one reused buffer.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "operators/operator.h"
#include "runner/record/checksum.h"

namespace streamrun {

class JsonLineWriter {
 public:
  explicit JsonLineWriter(int fd, std::string name) : fd_(fd), name_(std::move(name)) {}

  void Write(const Batch& batch, const RecordView& view) {
    const bool modified = view.modified();
    for (uint32_t i = 0; i < batch.size(); ++i) {
      if (modified) {
        EncodeJson(view, batch.row(i), batch.raw(i), &buf_);
      } else {
        buf_.append(batch.raw(i));
      }
      buf_.push_back('\n');
      ++records_;
    }
    if (buf_.size() >= (1 << 20)) Flush();
  }

  void WriteEncoded(const std::vector<std::string>& records) {
    for (const auto& r : records) {
      buf_.append(r);
      buf_.push_back('\n');
      ++records_;
    }
    Flush();
  }

  void Flush() {
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

  // Keeps the CRC-32 of everything handed to the file (checksum.h).
  void TrackCrc() { track_crc_ = true; }
  uint32_t crc() const { return crc_; }
  uint64_t records() const { return records_; }
  size_t buffered() const { return buf_.size(); }
  // Bytes handed to the file so far (buffered ones not included).
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  int fd_;
  std::string name_;
  std::string buf_;
  uint64_t records_ = 0;
  uint64_t bytes_written_ = 0;
  bool track_crc_ = false;
  uint32_t crc_ = 0;
};

}  // namespace streamrun
