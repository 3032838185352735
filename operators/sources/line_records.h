#pragma once
// What line-oriented sources (file, stdin) share: the format and event-time
// options, reading lines from a file descriptor, and turning a line into a row.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "operators/operator.h"
#include "operators/plan_context.h"
#include "operators/record_format.h"
#include "operators/sources/watermarks.h"
#include "runner/config/spec.h"
#include "runner/record/json_decoder.h"

namespace streamrun {

// How a source's records are written: lines (json, csv, raw) or, for
// protobuf and avro, length-prefixed binary records (a message each on Kafka).
enum class LineFormat { kJson, kCsv, kRaw, kProtobuf, kAvro };

enum class TimeFormat { kEpochMillis, kEpochSeconds, kIso8601 };

struct EventTimeOptions {
  std::string field;
  TimeFormat format = TimeFormat::kEpochMillis;
  int slot = -1;
  int64_t max_out_of_orderness_ms = 0;
  int64_t idle_timeout_ms = 0;  // 0: never idle
};

struct LineSourceOptions {
  LineFormat format = LineFormat::kJson;
  RecordFormatOptions record_format;  // the schema and registry behind `format`
  // protobuf, avro: what turns a row's bytes into its text when needed.
  std::shared_ptr<RawTranscoder> transcoder;
  std::optional<EventTimeOptions> event_time;
  size_t max_record_bytes = 64 << 20;
};

// The spec fields every line source has (format, schema, message, event_time,
// max_record_size; with `registry`, Kafka's registry framing too).
std::vector<config::FieldSpec> LineSourceFields(bool registry = false);
// Reads them from a source's node; errors go to ctx. False on error.
bool ParseLineSourceOptions(const config::Options& options, PlanContext& ctx, LineSourceOptions* out,
                            const std::string& topic = "");
std::string DescribeLineSourceOptions(const LineSourceOptions& o);

// Event time from a value; false with a reason.
// Event times are within +-8.64e15 ms of 1970 (JavaScript's Date range, about
// 273,000 years): a time outside is a record error, so window arithmetic
// (start + size, end + allowed lateness) cannot overflow.
inline constexpr int64_t kMaxEventTimeMs = 8'640'000'000'000'000;
bool ReadEventTime(const Value& v, TimeFormat format, int64_t* ms, std::string* error);
// ISO 8601 date-time ("2024-05-01T12:00:00.250Z", "+02:00" offsets, a space for T) to epoch ms.
bool ParseIso8601(std::string_view s, int64_t* ms);

// The bytes a LineReader has read and not yet consumed: a growable buffer
// that, unlike std::string::resize, does not zero the room read() fills.
class ReadBuffer {
 public:
  static constexpr size_t npos = static_cast<size_t>(-1);
  size_t size() const { return size_; }
  const char* data() const { return data_.get(); }
  char operator[](size_t i) const { return data_[i]; }
  size_t find(char c, size_t from) const {
    if (from >= size_) return npos;
    const void* p = std::memchr(data_.get() + from, c, size_ - from);
    return p ? static_cast<size_t>(static_cast<const char*>(p) - data_.get()) : npos;
  }
  void EraseFront(size_t n) {
    if (n < size_) std::memmove(data_.get(), data_.get() + n, size_ - n);
    size_ = n < size_ ? size_ - n : 0;
  }
  void clear() { size_ = 0; }
  // Room for `n` more bytes after size(); Commit says how many were written.
  char* Extend(size_t n) {
    if (size_ + n > capacity_) {
      const size_t capacity = std::max(size_ + n, 2 * capacity_);
      std::unique_ptr<char[]> bigger(new char[capacity]);
      if (size_) std::memcpy(bigger.get(), data_.get(), size_);
      data_ = std::move(bigger);
      capacity_ = capacity;
    }
    return data_.get() + size_;
  }
  void Commit(size_t n) { size_ += n; }

 private:
  std::unique_ptr<char[]> data_;
  size_t size_ = 0;
  size_t capacity_ = 0;
};

// Reads a file descriptor as lines (LF or CRLF), any length up to the limit.
class LineReader {
 public:
  LineReader(int fd, size_t max_record_bytes) : fd_(fd), max_(max_record_bytes) {}
  enum class Status { kLine, kTooLong, kEnd, kError, kBad };
  // Length-prefixed records (a varint length before each) instead of lines:
  // files of Protobuf or Avro records. kBad: a length that cannot be right (past
  // max_record_size, or the file ends inside a record), reported as a record
  // error in `error`; the rest of such a file cannot be framed and is not read.
  void set_delimited(bool on) { delimited_ = on; }
  // On kLine, `line` is valid until the next call; `offset` is its byte offset and
  // `line_no` its 1-based number. kTooLong: the line was skipped (its first bytes
  // are in `line`). kError: errno text in `error`.
  Status Next(std::string_view* line, int64_t* offset, int64_t* line_no, std::string* error);
  // With `follow`, reaching the end of the file waits for more (like tail -f).
  bool at_eof() const { return eof_; }
  // True when the next line can be returned without reading (and so blocking).
  bool HasBufferedLine() const {
    return delimited_ ? buf_.size() > start_ : buf_.find('\n', start_) != ReadBuffer::npos;
  }
  void ClearEof() { eof_ = false; }
  // Checkpoints: where the next line starts, the number of the last line, and
  // whether the reader is inside an over-long line it is skipping.
  int64_t next_offset() const { return consumed_ + static_cast<int64_t>(start_); }
  int64_t line_no() const { return line_no_; }
  bool skipping() const { return skipping_; }
  // Reads from now on come from `fd` (a reader reused for another file).
  void set_fd(int fd) { fd_ = fd; }
  // Lines that start before byte `end` are all the caller wants (a chunk of
  // the file): reads stop near it instead of a megabyte past it. -1: no end.
  void set_end(int64_t end) { end_ = end; }
  // Resumes at a saved position; the caller has seeked the fd to `offset`.
  void StartAt(int64_t offset, int64_t line_no, bool skipping) {
    buf_.clear();
    start_ = 0;
    consumed_ = offset;
    line_no_ = line_no;
    skipping_ = skipping;
    eof_ = false;
  }

 private:
  bool Fill(std::string* error);
  Status NextDelimited(std::string_view* record, int64_t* offset, int64_t* number, std::string* error);
  bool delimited_ = false;
  int fd_;
  size_t max_;
  ReadBuffer buf_;
  int64_t end_ = -1;      // set_end
  size_t start_ = 0;      // first unconsumed byte in buf_
  int64_t consumed_ = 0;  // file offset of buf_[0]
  int64_t line_no_ = 0;
  bool eof_ = false;
  bool skipping_ = false;
};

// Fills fields a source knows besides the record's text (Kafka's `_key`,
// `_timestamp`...) into a decoded row, before its event time is read.
class RowExtras {
 public:
  virtual ~RowExtras() = default;
  virtual void Fill(Value* row, Arena& arena) const = 0;
};

// Turns lines into rows: decoding, the projection, the event time. One per
// source instance; not thread-safe.
class LineDecoder {
 public:
  LineDecoder(const LineSourceOptions& options, ProjectionNode projection);
  // For CSV: the header line of the current file.
  bool SetCsvHeader(std::string_view line, std::string* error);
  bool needs_header() const { return options_.format == LineFormat::kCsv; }
  // True when records are length-prefixed binary ones, not lines (in files).
  bool binary() const { return binary_ != nullptr && !options_.record_format.registry; }
  // Appends the line to `batch`, or reports it to `errors`. Without event_time,
  // a record's time is `now_ms`, the processing time it was read at. The
  // watermark counts it for partition `watermark_partition` (-1: pos.partition);
  // `extras`, if given, fills more fields before event time is read. False if
  // the record was reported as an error.
  bool Add(std::string_view line, const RecordPosition& pos, Batch& batch, RecordErrors& errors,
           int64_t now_ms, int32_t watermark_partition = -1, const RowExtras* extras = nullptr);
  WatermarkTracker& watermarks() { return watermarks_; }
  const WatermarkTracker& watermarks() const { return watermarks_; }
  // The source's watermark at `now_ms`: event-time watermarks skip idle
  // partitions; without event_time it is processing time itself, so
  // processing-time windows close as the clock passes their end.
  int64_t Watermark(int64_t now_ms) {
    if (options_.event_time) {
      watermarks_.Tick(now_ms);
    } else {
      watermarks_.AdvanceTo(now_ms);
    }
    return watermarks_.current();
  }

 private:
  // Extras, event time and the watermark of a decoded row.
  bool Finish(std::string_view line, const RecordPosition& pos, Batch& batch, uint32_t row,
              RecordErrors& errors, int64_t now_ms, int32_t partition, const RowExtras* extras);

  const LineSourceOptions& options_;
  JsonDecoder json_;
  std::unique_ptr<format::RecordDecoder> binary_;  // protobuf, avro (framed or not)
  WatermarkTracker watermarks_;
  std::vector<std::string> csv_header_;
  std::string scratch_;
  std::string error_;
};

}  // namespace streamrun
