#pragma once
// Builds one record the way the engine holds it (docs/architecture.md "Records,
// slots and views"): the record's JSON object text plus the values of the
// fields the pipeline reads, in their slots. A binary decoder (Protobuf, Avro)
// writes the text and names the slots as it goes, in one pass over the bytes,
// so reading a binary record never parses JSON.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runner/record/arena.h"
#include "runner/record/value.h"

namespace streamrun::format {

class RecordBuilder {
 public:
  // The JSON text being written; decoders append to it.
  std::string& text() { return text_; }

  // Starts a new record.
  void Reset() {
    text_.clear();
    fixes_.clear();
  }

  // A value that points nowhere (null, bool, int, float).
  void SetScalar(int slot, const Value& v) { fixes_.push_back(Fix{slot, v.kind, kScalar, 0, 0, v, {}}); }
  // A string, list or object whose text is text()[begin, end): for a string,
  // the characters between the quotes, which must need no unescaping.
  void SetRange(int slot, Kind kind, size_t begin, size_t end) {
    fixes_.push_back(Fix{slot, kind, kRange, begin, end, Value(), {}});
  }
  // A string held elsewhere (the input bytes, valid until Finish); copied to the arena.
  void SetExternal(int slot, std::string_view s) {
    fixes_.push_back(Fix{slot, Kind::kString, kExternal, 0, 0, Value(), s});
  }

  // Copies the text into `arena` (with the JSON padding readers expect after
  // it), fills the named slots of `row`, and returns the text's copy.
  std::string_view Finish(Value* row, Arena& arena);

 private:
  enum Where : uint8_t { kScalar, kRange, kExternal };
  struct Fix {
    int slot;
    Kind kind;
    Where where;
    size_t begin, end;
    Value value;
    std::string_view external;
  };
  std::string text_;
  std::vector<Fix> fixes_;
};

}  // namespace streamrun::format
