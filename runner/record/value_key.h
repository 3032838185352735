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

// True if the key bytes of `v` give `v` back exactly (KeyValueAt): null,
// bools, ints and strings. Floats (3.0 keys as 3) and lists and objects
// (whitespace dropped) do not.
bool KeyKeepsValue(const Value& v);

// Reads the value at the front of `*key` (bytes AppendValueKey wrote for a
// value KeyKeepsValue holds for) and moves past it; strings point into the
// key. False if the bytes are not such a value.
bool KeyValueAt(std::string_view* key, Value* v);

}  // namespace streamrun
