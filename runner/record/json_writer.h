#pragma once
// Small JSON text writer used by encoders and the dead-letter path.
#include <string>
#include <string_view>

#include "runner/record/value.h"

namespace streamrun {

// Appends `s` as a JSON string literal (quotes included). Invalid UTF-8 bytes are
// replaced by U+FFFD so the output is always valid JSON.
void AppendJsonString(std::string_view s, std::string* out);
// Appends a value as JSON (lists/objects as their raw text; non-finite floats as null;
// integral floats keep a ".0").
void AppendJsonValue(const Value& v, std::string* out);
// Base64 (standard alphabet, padded): how bytes that are not text appear in
// a JSON record (Protobuf and Avro bytes fields, a binary dead letter).
void AppendBase64(std::string_view bytes, std::string* out);
// Reads standard or URL-safe base64, padded or not; false on other characters.
bool DecodeBase64(std::string_view text, std::string* out);
// True if `s` is valid UTF-8.
bool IsValidUtf8(std::string_view s);

}  // namespace streamrun
