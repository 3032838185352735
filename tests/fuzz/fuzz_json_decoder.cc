// Fuzzes the JSON record path: decoding a projection of fields, then re-encoding
// the record through an open and a closed view. Any input must either decode or
// be rejected with a reason; nothing may crash or read out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "runner/record/arena.h"
#include "runner/record/json_decoder.h"
#include "runner/record/json_writer.h"
#include "runner/record/record_view.h"

using namespace streamrun;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static JsonDecoder* decoder = [] {
    ProjectionNode root;
    root.At({"a"}).slot = 0;
    root.At({"b", "c"}).slot = 1;
    root.At({"b"}).slot = 2;
    root.At({"s"}).slot = 3;
    return new JsonDecoder(root);
  }();
  Arena arena;
  std::string_view text =
      arena.Copy(std::string_view(reinterpret_cast<const char*>(data), size), JsonPadding());
  Value row[5];
  std::string error;
  if (!decoder->Decode(text, row, arena, &error)) return 0;
  std::string out;
  for (const auto& v : row) AppendJsonValue(v, &out);
  RecordView open;
  open.fields.push_back(ViewField{"a", 4});
  open.removed.push_back("s");
  out.clear();
  EncodeJson(open, row, text, &out);
  RecordView closed;
  closed.closed = true;
  closed.fields = {ViewField{"x", 0}, ViewField{"y", 1}};
  out.clear();
  EncodeJson(closed, row, text, &out);
  return 0;
}
