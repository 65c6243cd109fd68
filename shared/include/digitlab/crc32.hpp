// CRC-32 (IEEE 802.3, the checksum of gzip, PNG and zlib) for the weights format and the gzip decoder.
// Read next: shared/src/crc32.cpp (slicing-by-8), weights_format.hpp (the two CRCs of a weights file).
#pragma once

#include <cstdint>

#include "digitlab/bytes.hpp"

namespace digitlab {

// crc32("123456789") = 0xCBF43926; crc32(more, crc32(first)) continues a running checksum.
std::uint32_t crc32(ByteSpan bytes, std::uint32_t previous = 0);

}  // namespace digitlab
