#pragma once
// The text forms the Avro decoder writes and the encoder reads for values
// JSON has no type for: bytes and fixed as base64, decimals as numbers (their
// wire form is a big-endian two's-complement integer of any length, scaled).
#include <cstdint>
#include <string>
#include <string_view>

namespace streamrun::format::avro {

// Standard alphabet, '=' padded.
void AppendBase64(std::string_view bytes, std::string* out);
// Padded or not; anything else (other characters, a lone trailing character,
// bits left over) is refused. Appends to `out`.
bool DecodeBase64(std::string_view text, std::string* out);
// The length DecodeBase64 would produce, or -1 if `text` is not base64.
int64_t Base64DecodedSize(std::string_view text);

// Appends the decimal `unscaled` / 10^scale as a JSON number that reads back
// as a float: "12.34", "-0.05", "7.0" (scale 0). `scratch` is reused.
void AppendDecimal(std::string_view unscaled, int scale, std::string* out, std::string* scratch);

// Parses a JSON number's text (or a string holding one) rounded half away
// from zero to `scale` digits after the point, and appends the unscaled
// integer's minimal two's-complement bytes. False with a reason if it is not
// a number or needs more than `precision` digits. `scratch` is reused.
bool EncodeDecimal(std::string_view number, int precision, int scale, std::string* out, std::string* scratch,
                   std::string* error);

}  // namespace streamrun::format::avro
