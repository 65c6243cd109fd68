// CRC-32 as zlib computes it (reflected polynomial 0xEDB88320), slicing-by-8.
// Read next: digitlab/crc32.hpp; its callers: weights_reader.cpp, weights_format.cpp, inflate.cpp.
#include "digitlab/crc32.hpp"

#include <array>

namespace digitlab {

// Slicing-by-8: eight 256-entry tables let the loop fold 8 input bytes per step (about 4x faster than the
// one-table loop); the trainer checks the CRC of 47 MB at start, so this is worth the 8 KB of tables.
namespace {

struct Crc32Tables {
  std::array<std::array<std::uint32_t, 256>, 8> t{};
  constexpr Crc32Tables() {
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;  // reflected IEEE polynomial
      t[0][n] = c;
    }
    for (std::uint32_t n = 0; n < 256; ++n)
      for (int k = 1; k < 8; ++k) t[k][n] = (t[k - 1][n] >> 8) ^ t[0][t[k - 1][n] & 0xff];
  }
};

constexpr Crc32Tables crc_tables{};

}  // namespace

std::uint32_t crc32(ByteSpan bytes, std::uint32_t previous) {
  const auto& t = crc_tables.t;
  std::uint32_t c = ~previous;
  const std::uint8_t* p = bytes.data;
  std::size_t n = bytes.size;
  if (p == nullptr) return previous;
  while (n >= 8) {
    std::uint32_t lo = c ^ load_u32_le(p);
    std::uint32_t hi = load_u32_le(p + 4);
    c = t[7][lo & 0xff] ^ t[6][(lo >> 8) & 0xff] ^ t[5][(lo >> 16) & 0xff] ^ t[4][lo >> 24] ^
        t[3][hi & 0xff] ^ t[2][(hi >> 8) & 0xff] ^ t[1][(hi >> 16) & 0xff] ^ t[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n--) c = t[0][(c ^ *p++) & 0xff] ^ (c >> 8);
  return ~c;
}

}  // namespace digitlab
