#pragma once
// JSON text in and out for expression values: AppendJson's helpers, and reading
// inside the raw JSON of list/object values (simdjson on demand, one parser per
// thread, input copied into the batch arena with the padding simdjson needs).
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "runner/expr/expr.h"

namespace streamrun::expr {

constexpr size_t kNumberBufSize = 40;

// Shortest round-trip text of `f`; integral values keep a trailing ".0".
// `f` must be finite. Returns the length written to buf (>= kNumberBufSize bytes).
size_t FormatFloat(double f, char* buf);
size_t FormatInt(int64_t i, char* buf);

// Parses a JSON number token (int if it has no '.', 'e' or 'E' and fits in 64 bits).
bool ParseJsonNumber(std::string_view token, Value* out);

// Follows `subpath` (object keys; decimal indexes into arrays) inside the list or
// object `container`. A missing step gives null. Strings are copied to the arena,
// nested lists/objects are views of an arena copy. False on invalid JSON.
bool NavigateJson(const Value& container, const std::vector<std::string>& subpath, EvalContext& ctx,
                  Value* out);
// Whether the JSON array `list` holds an element equal (`==`) to `needle` (not null).
bool JsonListContains(const Value& list, const Value& needle, EvalContext& ctx, bool* found);
// Elements of a list, keys of an object.
bool JsonCount(const Value& container, EvalContext& ctx, int64_t* count);

// UTF-8 helpers: number of code points; byte offset of code point `index` (clamped).
size_t Utf8Length(std::string_view s);
size_t Utf8Offset(std::string_view s, size_t index);

}  // namespace streamrun::expr
