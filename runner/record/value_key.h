#pragma once
// The identity of a value as a key: equal bytes exactly for the values `==`
// holds equal (3 and 3.0 alike; lists and objects ignoring whitespace outside
// strings). Self-delimiting, so keys of several fields can be concatenated.
// Used for keyed state (window, dedupe), row identity (top_n) and
// count_distinct, so they all agree on what one key is.
#include <string>

#include "runner/record/value.h"

namespace streamrun {

void AppendValueKey(const Value& v, std::string* out);

}  // namespace streamrun
