// gzip / DEFLATE decoding and CRC-32: real MNIST files, small vectors made with gzip and zlib, and bad input.
// Read next: shared/src/inflate.cpp.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/inflate.hpp"

using namespace digitlab;

namespace {

ByteSpan span_of(const std::string& s) { return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }

}  // namespace

TEST_CASE("crc32 matches zlib's IEEE CRC-32") {
  CHECK(crc32(span_of("")) == 0u);
  CHECK(crc32(span_of("123456789")) == 0xCBF43926u);
  CHECK(crc32(span_of("The quick brown fox jumps over the lazy dog")) == 0x414FA339u);
  // Continuing a running checksum gives the same result as one call, at every split point
  // (this crosses the 8-byte fast path's boundaries).
  const std::string text = "The quick brown fox jumps over the lazy dog";
  for (std::size_t split = 0; split <= text.size(); ++split) {
    std::uint32_t first = crc32(span_of(text.substr(0, split)));
    INFO("split at " << split);
    CHECK(crc32(span_of(text.substr(split)), first) == 0x414FA339u);
  }
}
