#pragma once
// Writes records to a file descriptor through one reused buffer, in the sink's
// format (docs/formats.md): JSON lines; CSV with a header line; Protobuf or
// Avro records each after its length as a varint.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "operators/operator.h"
#include "runner/format/codec.h"
#include "runner/record/csv.h"

namespace streamrun {

class RecordWriter {
 public:
  // `encoder`: protobuf and avro (null for json and csv).
  RecordWriter(int fd, std::string name, format::RecordFormat format = format::RecordFormat::kJson,
               std::unique_ptr<format::RecordEncoder> encoder = nullptr);
  ~RecordWriter();

  // A record that does not fit the format (a value of the wrong type for the
  // schema) is reported to `errors`.
  void Write(const Batch& batch, const RecordView& view, RecordErrors* errors = nullptr);
  // Records already written as JSON (dead letters), in the sink's format.
  void WriteEncoded(const std::vector<std::string>& records);
  void Flush();

  // Keeps the CRC-32 of everything handed to the file (checksum.h).
  void TrackCrc() { track_crc_ = true; }
  uint32_t crc() const { return crc_; }
  uint64_t records() const { return records_; }
  size_t buffered() const { return buf_.size(); }
  // Bytes handed to the file so far (buffered ones not included).
  uint64_t bytes_written() const { return bytes_written_; }

 private:
  // Appends one record given as JSON (with room for padding after it).
  bool Append(std::string& json, std::string* error);

  int fd_;
  std::string name_;
  format::RecordFormat format_;
  std::unique_ptr<format::RecordEncoder> encoder_;
  std::unique_ptr<CsvWriter> csv_;
  std::string buf_, json_, encoded_, error_;
  uint64_t records_ = 0;
  uint64_t bytes_written_ = 0;
  bool track_crc_ = false;
  uint32_t crc_ = 0;
};

}  // namespace streamrun
