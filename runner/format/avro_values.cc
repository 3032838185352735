// Base64 and decimal text for the Avro decoder and encoder (avro_values.h).
#include "runner/format/avro_values.h"

#include <algorithm>
#include <charconv>

namespace streamrun::format::avro {

namespace {

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0-63, or -1 for a character outside the alphabet.
int Base64Digit(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// The text without its '=' padding, or npos-sized failure as false.
bool StripPadding(std::string_view* text) {
  size_t pad = 0;
  while (pad < 2 && pad < text->size() && (*text)[text->size() - 1 - pad] == '=') ++pad;
  if (pad > 0 && text->size() % 4 != 0) return false;  // padding only on a full quad
  text->remove_suffix(pad);
  return text->size() % 4 != 1;
}

}  // namespace

void AppendBase64(std::string_view bytes, std::string* out) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t n = bytes.size();
  const size_t start = out->size();
  out->resize(start + (n + 2) / 3 * 4);
  char* o = out->data() + start;
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (uint32_t{p[i + 1]} << 8) | p[i + 2];
    *o++ = kBase64[v >> 18];
    *o++ = kBase64[(v >> 12) & 63];
    *o++ = kBase64[(v >> 6) & 63];
    *o++ = kBase64[v & 63];
  }
  if (i < n) {
    const uint32_t v = (uint32_t{p[i]} << 16) | (i + 1 < n ? uint32_t{p[i + 1]} << 8 : 0);
    *o++ = kBase64[v >> 18];
    *o++ = kBase64[(v >> 12) & 63];
    *o++ = i + 1 < n ? kBase64[(v >> 6) & 63] : '=';
    *o++ = '=';
  }
}

int64_t Base64DecodedSize(std::string_view text) {
  if (!StripPadding(&text)) return -1;
  for (char c : text)
    if (Base64Digit(c) < 0) return -1;
  return static_cast<int64_t>(text.size() / 4 * 3 + (text.size() % 4 == 0 ? 0 : text.size() % 4 - 1));
}

bool DecodeBase64(std::string_view text, std::string* out) {
  if (!StripPadding(&text)) return false;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    const int d = Base64Digit(c);
    if (d < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(d);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out->push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  // The bits of a partial quad past its last byte must be zero ("QQ==" is
  // not "QR=="): one text per byte string.
  return (acc & ((1u << bits) - 1)) == 0;
}

void AppendDecimal(std::string_view unscaled, int scale, std::string* out, std::string* scratch) {
  const auto* b = reinterpret_cast<const unsigned char*>(unscaled.data());
  const size_t n = unscaled.size();
  const bool negative = n > 0 && (b[0] & 0x80);
  char small[24];
  std::string_view digits;
  if (n <= 8) {
    uint64_t u = negative ? ~uint64_t{0} : 0;
    for (size_t i = 0; i < n; ++i) u = (u << 8) | b[i];
    const uint64_t magnitude = negative ? ~u + 1 : u;
    digits = std::string_view(small, std::to_chars(small, small + sizeof small, magnitude).ptr - small);
  } else {
    // The magnitude in scratch, then its digits after it by repeated
    // division by 10 (decimals are short: quadratic is fine).
    scratch->assign(unscaled);
    auto* m = reinterpret_cast<unsigned char*>(scratch->data());
    if (negative) {
      for (size_t i = 0; i < n; ++i) m[i] = static_cast<unsigned char>(~m[i]);
      for (size_t i = n; i-- > 0;)
        if (++m[i] != 0) break;
    }
    size_t first = 0;
    while (true) {
      while (first < n && m[first] == 0) ++first;
      if (first == n) break;
      unsigned rem = 0;
      for (size_t i = first; i < n; ++i) {
        const unsigned cur = (rem << 8) | m[i];
        m[i] = static_cast<unsigned char>(cur / 10);
        rem = cur % 10;
      }
      scratch->push_back(static_cast<char>('0' + rem));
      m = reinterpret_cast<unsigned char*>(scratch->data());  // push_back may move it
    }
    if (scratch->size() == n) scratch->push_back('0');
    std::reverse(scratch->begin() + static_cast<std::ptrdiff_t>(n), scratch->end());
    digits = std::string_view(*scratch).substr(n);
  }
  if (negative && digits != "0") out->push_back('-');
  const size_t s = static_cast<size_t>(scale);
  if (s == 0) {
    out->append(digits);
    out->append(".0");
  } else if (digits.size() <= s) {
    out->append("0.");
    out->append(s - digits.size(), '0');
    out->append(digits);
  } else {
    out->append(digits.substr(0, digits.size() - s));
    out->push_back('.');
    out->append(digits.substr(digits.size() - s));
  }
}

bool EncodeDecimal(std::string_view number, int precision, int scale, std::string* out, std::string* scratch,
                   std::string* error) {
  while (!number.empty() &&
         (number.back() == ' ' || number.back() == '\t' || number.back() == '\n' || number.back() == '\r'))
    number.remove_suffix(1);
  const std::string_view text = number;
  auto fail = [&] {
    *error = "'" + std::string(text.substr(0, 40)) + "' is not a decimal number";
    return false;
  };
  size_t i = 0;
  bool negative = false;
  if (i < number.size() && (number[i] == '-' || number[i] == '+')) negative = number[i++] == '-';
  // All significant digits in scratch; the value is digits * 10^exponent.
  scratch->clear();
  int64_t exponent = 0;
  size_t count = 0;
  for (; i < number.size() && number[i] >= '0' && number[i] <= '9'; ++i, ++count)
    if (!scratch->empty() || number[i] != '0') scratch->push_back(number[i]);
  if (i < number.size() && number[i] == '.') {
    for (++i; i < number.size() && number[i] >= '0' && number[i] <= '9'; ++i, ++count) {
      if (!scratch->empty() || number[i] != '0') scratch->push_back(number[i]);
      --exponent;
    }
  }
  if (count == 0) return fail();
  if (i < number.size() && (number[i] == 'e' || number[i] == 'E')) {
    ++i;
    bool minus = false;
    if (i < number.size() && (number[i] == '-' || number[i] == '+')) minus = number[i++] == '-';
    int64_t e = 0;
    size_t from = i;
    for (; i < number.size() && number[i] >= '0' && number[i] <= '9'; ++i)
      e = std::min<int64_t>(e * 10 + (number[i] - '0'), 1000000);
    if (i == from) return fail();
    exponent += minus ? -e : e;
  }
  if (i != number.size()) return fail();
  std::string& digits = *scratch;
  const int64_t shift = exponent + scale;
  if (!digits.empty() && shift >= 0) {
    if (static_cast<int64_t>(digits.size()) + shift > precision) {
      *error = std::string(text.substr(0, 40)) + " needs more than " + std::to_string(precision) + " digits";
      return false;
    }
    digits.append(static_cast<size_t>(shift), '0');
  } else if (!digits.empty()) {
    // Drop the digits past the scale, rounding half away from zero.
    const int64_t keep = static_cast<int64_t>(digits.size()) + shift;
    const bool up = keep >= 0 && digits[static_cast<size_t>(keep)] >= '5';
    digits.resize(static_cast<size_t>(std::max<int64_t>(keep, 0)));
    if (up) {
      size_t k = digits.size();
      while (k > 0 && digits[k - 1] == '9') digits[--k] = '0';
      if (k == 0) {
        digits.insert(digits.begin(), '1');
      } else {
        ++digits[k - 1];
      }
    }
  }
  if (static_cast<int64_t>(digits.size()) > precision) {
    *error = std::string(text.substr(0, 40)) + " needs more than " + std::to_string(precision) + " digits";
    return false;
  }
  // Digits to a big-endian magnitude, by repeated division by 256, its bytes
  // collected after the digits.
  const size_t d = digits.size();
  for (char& c : digits) c = static_cast<char>(c - '0');
  size_t first = 0;
  while (true) {
    while (first < d && digits[first] == 0) ++first;
    if (first == d) break;
    unsigned rem = 0;
    for (size_t k = first; k < d; ++k) {
      const unsigned cur = rem * 10 + static_cast<unsigned char>(digits[k]);
      digits[k] = static_cast<char>(cur / 256);
      rem = cur % 256;
    }
    digits.push_back(static_cast<char>(rem));
  }
  digits.push_back(0);  // room for the sign bit
  std::reverse(digits.begin() + static_cast<std::ptrdiff_t>(d), digits.end());
  auto* m = reinterpret_cast<unsigned char*>(digits.data()) + d;
  const size_t len = digits.size() - d;
  const bool zero = len == 1;
  if (negative && !zero) {
    for (size_t k = 0; k < len; ++k) m[k] = static_cast<unsigned char>(~m[k]);
    for (size_t k = len; k-- > 0;)
      if (++m[k] != 0) break;
  }
  // Minimal two's complement: drop a leading byte that only repeats the sign.
  size_t start = 0;
  while (start + 1 < len &&
         ((m[start] == 0 && !(m[start + 1] & 0x80)) || (m[start] == 0xff && (m[start + 1] & 0x80))))
    ++start;
  out->append(reinterpret_cast<const char*>(m + start), len - start);
  return true;
}

}  // namespace streamrun::format::avro
