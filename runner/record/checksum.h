#pragma once
// CRC-32 (zlib's) of bytes and of byte ranges of files: what a checkpoint
// records about the files it names, so a restore can tell a file it wrote from
// one that was damaged, replaced or cut short.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace streamrun {

// Continues `crc` (0 to start) over `bytes`.
uint32_t Crc32(uint32_t crc, std::string_view bytes);
inline uint32_t Crc32(std::string_view bytes) { return Crc32(0, bytes); }

// The CRC-32 of bytes [offset, offset + length) of `file`; nullopt if the file
// cannot be read or is shorter.
std::optional<uint32_t> FileCrc32(const std::string& file, int64_t offset, int64_t length);

}  // namespace streamrun
