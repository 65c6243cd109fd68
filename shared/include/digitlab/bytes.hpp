// Bounds-checked views over untrusted bytes: little/big-endian reads and overflow-safe size arithmetic.
// Every parser in shared/ reads through these. Read next: crc32.hpp, inflate.hpp, idx.hpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/error.hpp"

namespace digitlab {

// A non-owning view of bytes (C++17 has no std::span).
struct ByteSpan {
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;

  ByteSpan() = default;
  ByteSpan(const std::uint8_t* d, std::size_t n) : data(d), size(n) {}
  ByteSpan(const std::vector<std::uint8_t>& v) : data(v.data()), size(v.size()) {}

  ByteSpan subspan(std::size_t offset, std::size_t count) const { return {data + offset, count}; }
};

// a * b and a + b in 64 bits; false on overflow.
inline bool checked_mul(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  if (a != 0 && b > UINT64_MAX / a) return false;
  *out = a * b;
  return true;
}
inline bool checked_add(std::uint64_t a, std::uint64_t b, std::uint64_t* out) {
  if (b > UINT64_MAX - a) return false;
  *out = a + b;
  return true;
}

inline std::uint32_t load_u32_be(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | std::uint32_t(p[3]);
}
inline std::uint16_t load_u16_le(const std::uint8_t* p) { return std::uint16_t(p[0] | (p[1] << 8)); }
inline std::uint32_t load_u32_le(const std::uint8_t* p) {
  return std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24);
}
inline std::uint64_t load_u64_le(const std::uint8_t* p) {
  return std::uint64_t(load_u32_le(p)) | (std::uint64_t(load_u32_le(p + 4)) << 32);
}

// Reads a whole file. Errors: io (with the path and the OS reason), over_budget when larger than max_bytes.
Result<std::vector<std::uint8_t>> read_file(const std::string& path, std::uint64_t max_bytes);

// Best-effort guess of what a rejected file really is ("a PNG image", "an HTML page", "a gzip stream",
// "an idx file", "a digitlab weights file"), or "" -- used to write error messages that say what to do.
std::string sniff_file_kind(ByteSpan bytes);

}  // namespace digitlab
