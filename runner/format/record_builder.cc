#include "runner/format/record_builder.h"

#include "runner/record/json_decoder.h"

namespace streamrun::format {

std::string_view RecordBuilder::Finish(Value* row, Arena& arena) {
  const std::string_view copy = arena.Copy(text_, JsonPadding());
  for (const Fix& f : fixes_) {
    switch (f.where) {
      case kScalar:
        row[f.slot] = f.value;
        break;
      case kRange:
        row[f.slot] = f.kind == Kind::kString ? Value::String(copy.substr(f.begin, f.end - f.begin))
                      : f.kind == Kind::kList ? Value::List(copy.substr(f.begin, f.end - f.begin))
                                              : Value::Object(copy.substr(f.begin, f.end - f.begin));
        break;
      case kExternal:
        row[f.slot] = Value::String(arena.Copy(f.external));
        break;
    }
  }
  return copy;
}

}  // namespace streamrun::format
