// A small, bounded gzip/DEFLATE decoder (RFC 1951/1952), so the same code reads .gz data natively
// and in WebAssembly without zlib. Read next: idx.hpp, which uses it.
//
// Why hand-written rather than zlib: the core reads gzipped idx files in both builds -- the trainer's
// Fashion-MNIST comes only as .gz (apt's dataset-fashion-mnist), and the web app fetches its test subsets
// as .gz idx files (data/, docs/embedding.md) and decodes them with this same core. zlib is on the native
// machines (zlib1g-dev), but in the browser it would be Emscripten's zlib port (-sUSE_ZLIB), which
// downloads its source at build time, and nothing may download at build time here (STYLE.md, TOOLCHAIN.md);
// shared/ also has no platform-only dependency and no #ifdef. A decoder of our own also enforces the
// output budget before the memory is allocated (a gzip bomb dropped on the page fails with over_budget)
// and names the byte of every error. It gives the same results as zlib 1.2.13 (docs/fuzzing.md).
#pragma once

#include <cstdint>
#include <vector>

#include "digitlab/bytes.hpp"
#include "digitlab/crc32.hpp"  // crc32(), which the gzip trailer uses; kept here for existing callers

namespace digitlab {

inline bool is_gzip(ByteSpan bytes) { return bytes.size >= 2 && bytes.data[0] == 0x1f && bytes.data[1] == 0x8b; }

// Decodes a gzip file (one or more members). Never writes more than max_output_bytes: a stream that would
// is rejected with over_budget before the memory is used. Errors: bad_gzip (with the byte offset in the
// compressed input), truncated, checksum_mismatch (CRC-32 or ISIZE trailer), over_budget.
Result<std::vector<std::uint8_t>> gunzip(ByteSpan compressed, std::uint64_t max_output_bytes);

// Raw DEFLATE stream (no gzip wrapper); *consumed receives the compressed bytes used.
Result<std::vector<std::uint8_t>> inflate_raw(ByteSpan compressed, std::uint64_t max_output_bytes,
                                              std::uint64_t* consumed);

}  // namespace digitlab
