#include "runner/record/checksum.h"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>

namespace streamrun {

uint32_t Crc32(uint32_t crc, std::string_view bytes) {
  // zlib takes lengths as uInt: feed it in pieces.
  while (!bytes.empty()) {
    const size_t n = bytes.size() < (1u << 30) ? bytes.size() : (1u << 30);
    crc = static_cast<uint32_t>(
        ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n)));
    bytes.remove_prefix(n);
  }
  return crc;
}

std::optional<uint32_t> FileCrc32(const std::string& file, int64_t offset, int64_t length) {
  if (offset < 0 || length < 0) return std::nullopt;
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1 << 16];
  uint32_t crc = 0;
  int64_t at = offset, left = length;
  while (left > 0) {
    const size_t want = left < static_cast<int64_t>(sizeof buf) ? static_cast<size_t>(left) : sizeof buf;
    const ssize_t n = ::pread(fd, buf, want, at);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return std::nullopt;
    }
    crc = Crc32(crc, std::string_view(buf, static_cast<size_t>(n)));
    at += n;
    left -= n;
  }
  ::close(fd);
  return crc;
}

}  // namespace streamrun
