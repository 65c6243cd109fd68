// A small, bounded gzip/DEFLATE decoder (RFC 1951/1952), so the same code reads .gz data natively
// and in WebAssembly without zlib. Read next: idx.hpp, which uses it.
#pragma once

#include <cstdint>
#include <vector>

#include "digitlab/bytes.hpp"

namespace digitlab {

inline bool is_gzip(ByteSpan bytes) { return bytes.size >= 2 && bytes.data[0] == 0x1f && bytes.data[1] == 0x8b; }

// Decodes a gzip file (one or more members). Never writes more than max_output_bytes: a stream that would
// is rejected with over_budget before the memory is used. Errors: bad_gzip (with the byte offset in the
// compressed input), truncated, checksum_mismatch (CRC-32 or ISIZE trailer), over_budget.
Result<std::vector<std::uint8_t>> gunzip(ByteSpan compressed, std::uint64_t max_output_bytes);

// Raw DEFLATE stream (no gzip wrapper); *consumed receives the compressed bytes used.
Result<std::vector<std::uint8_t>> inflate_raw(ByteSpan compressed, std::uint64_t max_output_bytes,
                                              std::uint64_t* consumed);

// CRC-32 (IEEE 802.3, as in gzip and PNG); crc32(previous, ...) continues a running checksum.
std::uint32_t crc32(ByteSpan bytes, std::uint32_t previous = 0);

}  // namespace digitlab
