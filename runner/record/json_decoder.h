#pragma once
// Decodes JSON records with simdjson On-Demand, extracting only the projected
// fields into slots. One decoder per worker; not thread-safe.
#include <memory>
#include <string>
#include <string_view>

#include "runner/record/arena.h"
#include "runner/record/projection.h"
#include "runner/record/value.h"

namespace streamrun {

// Bytes that must be readable (and are ignored) after a record's text.
size_t JsonPadding();

class JsonDecoder {
 public:
  explicit JsonDecoder(ProjectionNode projection);
  ~JsonDecoder();
  JsonDecoder(const JsonDecoder&) = delete;
  JsonDecoder& operator=(const JsonDecoder&) = delete;

  // `text` must be followed by JsonPadding() readable bytes. Fills the projected
  // slots of `row` (others untouched; missing fields stay null). Strings point
  // into `text` when they need no unescaping, else into `arena`. On malformed
  // input (bad syntax, invalid UTF-8, not an object) returns false with a reason.
  bool Decode(std::string_view text, Value* row, Arena& arena, std::string* error);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace streamrun
