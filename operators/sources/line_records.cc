#include "operators/sources/line_records.h"

#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>

#include "runner/config/duration.h"
#include "runner/record/csv.h"
#include "runner/record/json_writer.h"

namespace streamrun {

using config::ConfNode;

std::vector<config::FieldSpec> LineSourceFields(bool registry) {
  using namespace config;
  FieldSpec watermark =
      Obj("watermark",
          {Default(Dur("max_out_of_orderness",
                       "How far behind the highest event time seen a record may be and still be on time."),
                   "0s"),
           Dur("idle_timeout", "A partition with no record for this long stops holding the watermark back.")},
          "How the watermark follows event time (docs/time-and-windows.md).");
  FieldSpec event_time =
      Obj("event_time",
          {Required(Field("field", "The field holding the event time.")),
           Default(Enum("format", {"epoch_millis", "epoch_seconds", "iso8601"}, "How the field is written."),
                   "epoch_millis"),
           watermark},
          "Read event time from the records; without it, time is processing time.");
  event_time.example =
      "event_time:\n  field: ts\n  format: epoch_millis\n  watermark: { max_out_of_orderness: 2s, "
      "idle_timeout: 30s }";
  std::vector<FieldSpec> fields = RecordFormatFields(
      {"json", "csv", "raw", "protobuf", "avro"}, registry,
      "json: one object per line; csv: a header line, then one record per line; raw: each line is a record "
      "{\"value\": LINE}; protobuf, avro: binary records with `schema:` (in a file, each after its length "
      "as a varint).");
  fields.push_back(Str("writer_schema",
                       "avro without a registry: the .avsc the records were written with, when it is not "
                       "`schema` (an older or newer version); they are resolved to `schema`."));
  fields.push_back(event_time);
  fields.push_back(Default(Int("max_record_size", "Longest record in bytes; a longer one is a record error."),
                           "67108864"));
  return fields;
}

bool ParseLineSourceOptions(const config::Options& options, PlanContext& ctx, LineSourceOptions* out,
                            const std::string& topic) {
  bool ok = ParseRecordFormat(options, ctx, /*sink=*/false, topic, &out->record_format);
  switch (out->record_format.format) {
    case format::RecordFormat::kCsv:
      out->format = LineFormat::kCsv;
      break;
    case format::RecordFormat::kRaw:
      out->format = LineFormat::kRaw;
      break;
    case format::RecordFormat::kProtobuf:
      out->format = LineFormat::kProtobuf;
      break;
    case format::RecordFormat::kAvro:
      out->format = LineFormat::kAvro;
      break;
    default:
      out->format = LineFormat::kJson;
      break;
  }
  if (options.Declares("writer_schema")) {
    const std::string writer = options.String("writer_schema");
    if (!writer.empty()) {
      const config::Mark& at = options.Node("writer_schema")->mark;
      std::string error;
      if (out->format != LineFormat::kAvro) {
        ctx.Error(
            at,
            out->format == LineFormat::kProtobuf
                ? "writer_schema is for avro: protobuf reads any compatible writer's records by field number"
                : "writer_schema applies to format: avro only");
        ok = false;
      } else if (out->record_format.registry) {
        ctx.Error(at, "with registry: each record's writer schema comes from the registry");
        ok = false;
      } else if (!(out->record_format.writer = format::LoadAvroSchema(writer, &error))) {
        ctx.Error(at, error);
        ok = false;
      }
    }
  }
  const RecordFormatOptions& f = out->record_format;
  if (f.binary() && (f.schema || f.registry)) {
    out->transcoder = format::NewTranscoder([f]() -> std::unique_ptr<format::RecordDecoder> {
      if (f.registry) return format::NewRegistryDecoder(f.format, f.schema, ProjectionNode{}, f.registry);
      return f.schema->NewDecoder(ProjectionNode{}, f.writer.get());
    });
  }
  if (options.Declares("max_record_size")) {
    const int64_t max = options.Int("max_record_size");
    if (max <= 0) {
      ctx.Error(options.Node("max_record_size")->mark, "max_record_size must be a positive number of bytes");
      ok = false;
    } else {
      out->max_record_bytes = static_cast<size_t>(max);
    }
  }
  if (!options.Has("event_time")) return ok;
  const config::Options et = options.Object("event_time");
  EventTimeOptions o;
  const ConfNode* field = et.Node("field");
  std::vector<std::string> path;
  if (!field || !expr::ParseFieldPath(field->scalar, &path)) {
    ctx.Error(field ? field->mark : options.Node("event_time")->mark, "event_time.field must name a field");
    return false;
  }
  o.field = field->scalar;
  o.slot = ctx.Resolve(path).slot;
  const std::string format = et.Enum("format");
  o.format = format == "epoch_seconds" ? TimeFormat::kEpochSeconds
             : format == "iso8601"     ? TimeFormat::kIso8601
                                       : TimeFormat::kEpochMillis;
  const config::Options wm = et.Object("watermark");
  o.max_out_of_orderness_ms = wm.DurationMs("max_out_of_orderness");
  if (auto idle = wm.OptDurationMs("idle_timeout")) o.idle_timeout_ms = *idle;
  out->event_time = o;
  return ok;
}

std::string DescribeLineSourceOptions(const LineSourceOptions& o) {
  std::string d = o.record_format.Describe();
  if (o.event_time) {
    d += ", event time " + o.event_time->field;
    if (o.event_time->max_out_of_orderness_ms > 0)
      d += ", out of order up to " + config::FormatDurationMs(o.event_time->max_out_of_orderness_ms);
    if (o.event_time->idle_timeout_ms > 0)
      d += ", idle after " + config::FormatDurationMs(o.event_time->idle_timeout_ms);
  }
  return d;
}

// ---- event time -----------------------------------------------------------

namespace {

int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  // Howard Hinnant's days_from_civil.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, size_t at, size_t n, int* out) {
  if (at + n > s.size()) return false;
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

bool ParseIso8601(std::string_view s, int64_t* ms) {
  int y, mo, d, h = 0, mi = 0, sec = 0;
  if (!Digits(s, 0, 4, &y) || s.size() < 10 || s[4] != '-' || !Digits(s, 5, 2, &mo) || s[7] != '-' ||
      !Digits(s, 8, 2, &d))
    return false;
  static constexpr int kMonthDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (mo < 1 || mo > 12 || d < 1 || d > kMonthDays[mo - 1] + (mo == 2 && leap ? 1 : 0)) return false;
  size_t p = 10;
  int64_t frac_ms = 0;
  int64_t offset_min = 0;
  if (p < s.size() && (s[p] == 'T' || s[p] == 't' || s[p] == ' ')) {
    if (!Digits(s, p + 1, 2, &h) || p + 3 >= s.size() || s[p + 3] != ':' || !Digits(s, p + 4, 2, &mi))
      return false;
    p += 6;
    if (p < s.size() && s[p] == ':') {
      if (!Digits(s, p + 1, 2, &sec)) return false;
      p += 3;
      if (p < s.size() && (s[p] == '.' || s[p] == ',')) {
        ++p;
        int digits = 0;
        while (p < s.size() && s[p] >= '0' && s[p] <= '9') {
          if (digits < 3) frac_ms = frac_ms * 10 + (s[p] - '0');
          ++digits;
          ++p;
        }
        if (digits == 0) return false;
        for (int k = digits; k < 3; ++k) frac_ms *= 10;
      }
    }
    if (h > 23 || mi > 59 || sec > 60) return false;
    if (p < s.size()) {
      if (s[p] == 'Z' || s[p] == 'z') {
        ++p;
      } else if (s[p] == '+' || s[p] == '-') {
        int oh, om = 0;
        if (!Digits(s, p + 1, 2, &oh)) return false;
        size_t q = p + 3;
        if (q < s.size() && s[q] == ':') ++q;
        if (q < s.size()) {
          if (!Digits(s, q, 2, &om)) return false;
          q += 2;
        }
        if (oh > 23 || om > 59) return false;
        offset_min = (s[p] == '+' ? 1 : -1) * (oh * 60 + om);
        p = q;
      }
    }
  }
  if (p != s.size()) return false;
  int64_t days = DaysFromCivil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  *ms = ((days * 24 + h) * 60 + mi - offset_min) * 60000 + static_cast<int64_t>(sec) * 1000 + frac_ms;
  return true;
}

bool ReadEventTime(const Value& v, TimeFormat format, int64_t* ms, std::string* error) {
  const bool seconds = format == TimeFormat::kEpochSeconds;
  const char* unit = seconds ? "seconds" : "milliseconds";
  auto in_range = [&](int64_t t) {
    if (t >= -kMaxEventTimeMs && t <= kMaxEventTimeMs) {
      *ms = t;
      return true;
    }
    *error = "is out of range: event times are within +-" + std::to_string(kMaxEventTimeMs) +
             " ms of 1970 (about 273,000 years)";
    return false;
  };
  switch (format) {
    case TimeFormat::kEpochMillis:
    case TimeFormat::kEpochSeconds: {
      int64_t x = 0;
      bool integral = false;
      if (v.kind == Kind::kInt) {
        x = v.i;
        integral = true;
      } else if (v.kind == Kind::kString) {
        auto r = std::from_chars(v.str, v.str + v.len, x);
        integral = r.ec == std::errc() && r.ptr == v.str + v.len;
        if (r.ec == std::errc::result_out_of_range) return in_range(kMaxEventTimeMs + 1);
      }
      if (integral) {
        if (seconds && __builtin_mul_overflow(x, int64_t{1000}, &x)) return in_range(kMaxEventTimeMs + 1);
        return in_range(x);
      }
      if (v.kind == Kind::kFloat && std::isfinite(v.f)) {
        const double t = std::floor(v.f * (seconds ? 1000.0 : 1.0));
        if (std::fabs(t) > static_cast<double>(kMaxEventTimeMs)) return in_range(kMaxEventTimeMs + 1);
        return in_range(static_cast<int64_t>(t));
      }
      *error = std::string("is ") + std::string(KindName(v.kind)) + ", expected a number of " + unit;
      return false;
    }
    case TimeFormat::kIso8601:
      if (v.kind == Kind::kString && ParseIso8601(v.text(), ms)) return in_range(*ms);
      *error = "is not an ISO 8601 date-time (YYYY-MM-DD[Thh:mm[:ss[.fff]]][Z|+hh:mm], a real date)";
      return false;
  }
  return false;
}

// ---- reading lines --------------------------------------------------------

bool LineReader::Fill(std::string* error) {
  // Move the unconsumed tail to the front, then read more after it.
  if (start_ > 0) {
    consumed_ += static_cast<int64_t>(start_);
    buf_.EraseFront(start_);
    start_ = 0;
  }
  const size_t old = buf_.size();
  size_t want = std::max<size_t>(1 << 20, old);
  if (end_ >= 0) {
    // Up to the end, then a little at a time to finish the line that crosses it.
    const int64_t left = end_ - (consumed_ + static_cast<int64_t>(old));
    want = std::min<size_t>(want, static_cast<size_t>(std::max<int64_t>(left, 4096)));
  }
  char* into = buf_.Extend(want);
  ssize_t n;
  do {
    n = ::read(fd_, into, want);
  } while (n < 0 && errno == EINTR);
  if (n < 0) {
    *error = std::strerror(errno);
    return false;
  }
  buf_.Commit(static_cast<size_t>(n));
  if (n == 0) eof_ = true;
  return true;
}

LineReader::Status LineReader::NextDelimited(std::string_view* record, int64_t* offset, int64_t* number,
                                             std::string* error) {
  while (true) {
    const auto* p = reinterpret_cast<const uint8_t*>(buf_.data()) + start_;
    const auto* end = reinterpret_cast<const uint8_t*>(buf_.data()) + buf_.size();
    if (p < end) {
      uint64_t len = 0;
      const uint8_t* q = p;
      bool have_len = false;
      for (int shift = 0; q < end && shift < 70; shift += 7) {
        const uint8_t b = *q++;
        len |= static_cast<uint64_t>(b & 0x7f) << shift;
        if (!(b & 0x80)) {
          have_len = true;
          break;
        }
      }
      const bool complete_varint = have_len || (end - p) >= 10;
      if (complete_varint) {
        *offset = consumed_ + static_cast<int64_t>(start_);
        *number = ++line_no_;
        if (!have_len || len > max_) {
          *record = std::string_view(buf_.data() + start_, std::min<size_t>(16, buf_.size() - start_));
          *error = !have_len ? "malformed record length (not a varint)"
                             : "record length " + std::to_string(len) + " is more than max_record_size (" +
                                   std::to_string(max_) + " bytes)";
          *error += "; the rest of the file cannot be framed and is not read";
          start_ = buf_.size();
          eof_ = true;
          ::lseek(fd_, 0, SEEK_END);
          return Status::kBad;
        }
        const size_t header = static_cast<size_t>(q - p);
        if (static_cast<uint64_t>(end - q) >= len) {
          *record = std::string_view(reinterpret_cast<const char*>(q), len);
          start_ += header + len;
          return Status::kLine;
        }
        --line_no_;
      }
    }
    if (eof_) {
      if (start_ >= buf_.size()) return Status::kEnd;
      *offset = consumed_ + static_cast<int64_t>(start_);
      *number = ++line_no_;
      *record = std::string_view(buf_.data() + start_, std::min<size_t>(16, buf_.size() - start_));
      *error = "the file ends inside a record (" + std::to_string(buf_.size() - start_) + " bytes left)";
      start_ = buf_.size();
      return Status::kBad;
    }
    if (!Fill(error)) return Status::kError;
  }
}

LineReader::Status LineReader::Next(std::string_view* line, int64_t* offset, int64_t* line_no,
                                    std::string* error) {
  if (delimited_) return NextDelimited(line, offset, line_no, error);
  while (true) {
    size_t nl = buf_.find('\n', start_);
    if (nl == ReadBuffer::npos && skipping_ && buf_.size() - start_ > 0) {
      // Discard the rest of an over-long line as it arrives.
      start_ = buf_.size();
    }
    if (nl != ReadBuffer::npos || (eof_ && start_ < buf_.size())) {
      size_t end = nl == ReadBuffer::npos ? buf_.size() : nl;
      size_t next = nl == ReadBuffer::npos ? buf_.size() : nl + 1;
      size_t len = end - start_;
      if (len > 0 && buf_[end - 1] == '\r') --len;
      *line = std::string_view(buf_.data() + start_, len);
      *offset = consumed_ + static_cast<int64_t>(start_);
      start_ = next;
      if (skipping_) {
        skipping_ = false;
        continue;  // the tail of a line already reported
      }
      *line_no = ++line_no_;
      if (len > max_) {
        *line = line->substr(0, 1024);
        return Status::kTooLong;
      }
      return Status::kLine;
    }
    if (eof_) return Status::kEnd;
    if (!skipping_ && buf_.size() - start_ > max_) {
      // Report the line as too long now and skip the rest of it.
      *line = std::string_view(buf_.data() + start_, std::min<size_t>(1024, buf_.size() - start_));
      *offset = consumed_ + static_cast<int64_t>(start_);
      *line_no = ++line_no_;
      skipping_ = true;
      start_ = buf_.size();
      return Status::kTooLong;
    }
    if (!Fill(error)) return Status::kError;
    if (eof_ && start_ >= buf_.size()) return Status::kEnd;
  }
}

// ---- lines to rows --------------------------------------------------------

namespace {

std::unique_ptr<format::RecordDecoder> BinaryDecoder(const LineSourceOptions& options,
                                                     const ProjectionNode& projection) {
  const RecordFormatOptions& f = options.record_format;
  if (f.registry && f.format != format::RecordFormat::kJson)
    return format::NewRegistryDecoder(f.format, f.schema, projection, f.registry);
  if (f.binary() && f.schema) return f.schema->NewDecoder(projection, f.writer.get());
  return nullptr;
}

}  // namespace

LineDecoder::LineDecoder(const LineSourceOptions& options, ProjectionNode projection)
    : options_(options),
      json_(projection),
      binary_(BinaryDecoder(options, projection)),
      watermarks_(options.event_time ? options.event_time->max_out_of_orderness_ms : 0,
                  options.event_time ? options.event_time->idle_timeout_ms : 0) {}

bool LineDecoder::SetCsvHeader(std::string_view line, std::string* error) {
  if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);  // a byte order mark
  std::vector<bool> quoted;
  if (!SplitCsv(line, &csv_header_, &quoted, error)) return false;
  if (csv_header_.empty() || (csv_header_.size() == 1 && csv_header_[0].empty())) {
    *error = "empty CSV header";
    return false;
  }
  return true;
}

bool LineDecoder::Add(std::string_view line, const RecordPosition& pos, Batch& batch, RecordErrors& errors,
                      int64_t now_ms, int32_t watermark_partition, const RowExtras* extras) {
  const int32_t partition = watermark_partition >= 0 ? watermark_partition : pos.partition;
  uint32_t row;
  if (binary_) {
    // Protobuf and Avro: the row keeps the record's bytes and only its
    // projected fields are decoded; its JSON text is made if a step or sink
    // asks for it (RawTranscoder).
    const std::string_view bytes = batch.arena().Copy(line);
    row = batch.AddRow({}, pos);
    if (!binary_->DecodeSlots(bytes, batch.row(row), batch.arena(), &error_)) {
      batch.PopRow();
      errors.Add(RecordError{
          std::string(line), pos,
          "cannot decode " + std::string(format::FormatName(options_.record_format.format)) + ": " + error_,
          /*binary=*/true});
      return false;
    }
    batch.set_binary(row, bytes, options_.transcoder.get());
    return Finish(line, pos, batch, row, errors, now_ms, partition, extras);
  }
  // A UTF-8 byte order mark (editors put one at the start of a file) is not
  // part of the record.
  if (line.substr(0, 3) == "\xEF\xBB\xBF") line.remove_prefix(3);
  std::string_view json = line;
  if (options_.record_format.registry && !format::UnframeJson(line, &json, &error_)) {
    errors.Add(RecordError{std::string(line), pos, "cannot decode JSON: " + error_});
    return false;
  }
  if (options_.format != LineFormat::kJson) {
    scratch_.clear();
    if (options_.format == LineFormat::kCsv) {
      if (!CsvToJson(csv_header_, line, &scratch_, &error_)) {
        errors.Add(RecordError{std::string(line), pos, "cannot decode CSV: " + error_});
        return false;
      }
    } else {
      scratch_ = "{\"value\":";
      AppendJsonString(line, &scratch_);
      scratch_.push_back('}');
    }
    json = scratch_;
  }
  std::string_view raw = batch.arena().Copy(json, JsonPadding());
  row = batch.AddRow(raw, pos);
  if (!json_.Decode(raw, batch.row(row), batch.arena(), &error_)) {
    batch.PopRow();
    errors.Add(RecordError{std::string(line), pos, "cannot decode JSON: " + error_});
    return false;
  }
  return Finish(line, pos, batch, row, errors, now_ms, partition, extras);
}

bool LineDecoder::Finish(std::string_view line, const RecordPosition& pos, Batch& batch, uint32_t row,
                         RecordErrors& errors, int64_t now_ms, int32_t partition, const RowExtras* extras) {
  if (extras) extras->Fill(batch.row(row), batch.arena());
  if (options_.event_time) {
    const EventTimeOptions& et = *options_.event_time;
    const Value& v = batch.row(row)[et.slot];
    int64_t t;
    if (v.is_null()) {
      batch.PopRow();
      errors.Add(RecordError{std::string(line), pos, "missing event time field '" + et.field + "'",
                             binary_ != nullptr});
      return false;
    }
    if (!ReadEventTime(v, et.format, &t, &error_)) {
      batch.PopRow();
      errors.Add(RecordError{std::string(line), pos, "event time field '" + et.field + "' " + error_,
                             binary_ != nullptr});
      return false;
    }
    batch.set_event_time(row, t);
    batch.set_watermark(row, watermarks_.current());
    watermarks_.Observe(partition, t, now_ms);
    return true;
  }
  batch.set_event_time(row, now_ms);
  batch.set_watermark(row, watermarks_.current());
  watermarks_.Observe(partition, now_ms, now_ms);
  return true;
}

}  // namespace streamrun
