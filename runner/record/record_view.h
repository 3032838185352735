#pragma once
// How a record looks at a point of the pipeline, relative to its raw bytes:
// open (the raw object with some top-level fields overridden, added or removed)
// or closed (exactly the listed fields, after `select`). Built at plan time; the
// encoder uses it to write each record, copying untouched records' raw bytes.
#include <string>
#include <string_view>
#include <vector>

#include "runner/record/value.h"

namespace streamrun {

struct ViewField {
  std::string name;  // top-level output name
  int slot = -1;     // value comes from this slot
};

struct RecordView {
  bool closed = false;
  // closed: the output fields in order. open: overridden or added fields in the
  // order they were first set (an override keeps the raw field's position).
  std::vector<ViewField> fields;
  // open: top-level raw fields removed by `drop` (or overridden then dropped).
  std::vector<std::string> removed;

  bool modified() const { return closed || !fields.empty() || !removed.empty(); }
  const ViewField* FindField(std::string_view name) const {
    for (const auto& f : fields)
      if (f.name == name) return &f;
    return nullptr;
  }
  bool IsRemoved(std::string_view name) const {
    for (const auto& r : removed)
      if (r == name) return true;
    return false;
  }
};

// Writes the record as one JSON object (no newline). `raw` is the record's raw
// JSON object text, used for the fields the view leaves untouched.
void EncodeJson(const RecordView& view, const Value* row, std::string_view raw, std::string* out);

}  // namespace streamrun
