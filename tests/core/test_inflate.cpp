// gzip / DEFLATE decoding and CRC-32: real MNIST files, small vectors made with gzip and zlib, hand-built
// streams, and bad input (truncated, corrupt, bombs, garbage). Read next: shared/src/inflate.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/inflate.hpp"

using namespace digitlab;

namespace {

ByteSpan span_of(const std::string& s) { return ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()); }
template <std::size_t N>
std::vector<std::uint8_t> bytes_of(const std::uint8_t (&a)[N]) { return std::vector<std::uint8_t>(a, a + N); }
std::string text_of(const std::vector<std::uint8_t>& v) { return std::string(v.begin(), v.end()); }

constexpr std::uint64_t kBudget = 1 << 20;

// Test vectors, made with the commands in each comment (gzip 1.12 / Python 3.11 zlib) and `xxd -i`.
//   kHelloGzip: printf hello | gzip -n                                   (one fixed-Huffman block)
//   kStoredGzip: zlib.compressobj(0, DEFLATED, 31) on "stored, not compressed\n"    (a stored block)
//   kEmptyGzip: printf '' | gzip -n
//   kWordsGzipLevel9 / kWordsRawLevel1: words_text() at zlib level 9 (gzip) / level 1 (raw, wbits -15)
//   kAllHeaderFieldsGzip: FTEXT|FHCRC|FEXTRA|FNAME|FCOMMENT written by hand around zlib's raw level 9
//     stream of "hello, header fields\n"; the header (with its CRC-16) is 49 bytes
//   kTwoMembersGzip: "first member, " at level 6 (34 bytes) followed by "second member\n" at level 0

  const std::uint8_t kHelloGzip[] = {  // 25 bytes
      0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x07,
      0x00, 0x86, 0xa6, 0x10, 0x36, 0x05, 0x00, 0x00, 0x00,
  };

  const std::uint8_t kStoredGzip[] = {  // 46 bytes
      0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x03, 0x01, 0x17, 0x00, 0xe8, 0xff, 0x73,
      0x74, 0x6f, 0x72, 0x65, 0x64, 0x2c, 0x20, 0x6e, 0x6f, 0x74, 0x20, 0x63, 0x6f, 0x6d, 0x70, 0x72,
      0x65, 0x73, 0x73, 0x65, 0x64, 0x0a, 0x99, 0x72, 0xfe, 0x3e, 0x17, 0x00, 0x00, 0x00,
  };

  const std::uint8_t kEmptyGzip[] = {  // 20 bytes
      0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0x00,
  };

  const std::uint8_t kWordsGzipLevel9[] = {  // 483 bytes
      0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0x6d, 0x55, 0xcb, 0x72, 0x02, 0x31,
      0x0c, 0xbb, 0xfb, 0x2b, 0xf6, 0xe3, 0x9a, 0x85, 0x3d, 0x74, 0x77, 0x06, 0xb6, 0xb4, 0xd3, 0xaf,
      0x2f, 0x91, 0x1c, 0x4b, 0x84, 0x1e, 0xf0, 0x40, 0xe2, 0x58, 0xb2, 0xfc, 0x60, 0xdd, 0x1e, 0x6d,
      0x59, 0x8f, 0xaf, 0x1b, 0xcd, 0xb1, 0x37, 0x7c, 0xce, 0xeb, 0xad, 0xb5, 0xe5, 0xde, 0x1e, 0x6d,
      0x5f, 0xee, 0xdb, 0xcf, 0x12, 0xcb, 0xf9, 0x7d, 0x3c, 0x2d, 0x9c, 0xda, 0x76, 0xb9, 0x9e, 0x70,
      0x5b, 0xfb, 0xeb, 0xcf, 0x7d, 0xbb, 0x9f, 0xe9, 0xc1, 0x17, 0x72, 0xc8, 0x38, 0x88, 0x80, 0xb7,
      0x1f, 0xdb, 0x65, 0x3b, 0xd3, 0x2d, 0x70, 0x91, 0x20, 0xb0, 0x0c, 0x45, 0x6b, 0x50, 0xb4, 0x7c,
      0xca, 0x88, 0x1d, 0xab, 0xc7, 0xe7, 0xcd, 0xbe, 0xed, 0x04, 0xe1, 0x25, 0x7e, 0xe2, 0x79, 0x2c,
      0xbf, 0xed, 0x46, 0x4f, 0x02, 0xe4, 0x29, 0x11, 0xe0, 0xd7, 0x23, 0x8d, 0x4f, 0xf7, 0xc3, 0x21,
      0xa1, 0xe8, 0x55, 0x79, 0xc2, 0x10, 0x41, 0x82, 0x39, 0x63, 0xc9, 0x45, 0xb1, 0xba, 0x25, 0xc1,
      0x01, 0x30, 0x71, 0x3c, 0x12, 0x9f, 0xe1, 0x7a, 0x78, 0x1c, 0xf3, 0x4d, 0xf7, 0xf5, 0x94, 0x5d,
      0x39, 0xff, 0xce, 0x5b, 0xe4, 0x39, 0xa0, 0x79, 0xd1, 0xa3, 0x9b, 0x94, 0x46, 0x37, 0x08, 0xc6,
      0x28, 0xb4, 0x38, 0x48, 0x60, 0x29, 0x85, 0x53, 0x87, 0xb1, 0x20, 0xab, 0x3a, 0x67, 0xf6, 0xea,
      0x1c, 0x5c, 0x12, 0xab, 0xbc, 0xa1, 0x45, 0xc9, 0x02, 0xf2, 0xe1, 0xd2, 0x7b, 0x5d, 0x4b, 0xd5,
      0x2c, 0x9e, 0x64, 0xb5, 0x2c, 0x4a, 0x46, 0xb5, 0x54, 0x18, 0x9b, 0xb7, 0xd0, 0x43, 0x7a, 0xab,
      0x0f, 0x9d, 0x61, 0x8f, 0xec, 0x27, 0x83, 0x29, 0x9e, 0xe3, 0x0e, 0xa7, 0xd2, 0xb8, 0x9a, 0x49,
      0x7c, 0xbc, 0xa7, 0xd5, 0xac, 0x73, 0x9d, 0x25, 0x96, 0xe8, 0xa6, 0x20, 0x31, 0xa6, 0xa6, 0x7a,
      0x50, 0x4f, 0x24, 0xbf, 0x00, 0x95, 0x5a, 0x54, 0x3f, 0xb3, 0x38, 0x4f, 0xbe, 0x80, 0x24, 0x90,
      0x97, 0x02, 0xc7, 0xc0, 0xf3, 0xa6, 0xaf, 0x6c, 0xc2, 0x80, 0x4c, 0x44, 0x62, 0x94, 0x57, 0x8f,
      0x8f, 0x18, 0x2e, 0xa2, 0x75, 0x4c, 0x0d, 0xa8, 0xef, 0x07, 0x75, 0xa9, 0xbe, 0xc5, 0x0b, 0x43,
      0x12, 0x30, 0x9e, 0x52, 0xd5, 0x18, 0x73, 0xdc, 0x6b, 0x42, 0x73, 0x36, 0x06, 0x23, 0x53, 0x9a,
      0x37, 0x31, 0xb3, 0xad, 0x51, 0x04, 0x41, 0x2e, 0xbb, 0x5a, 0x5b, 0x73, 0x0d, 0x55, 0x3d, 0xc1,
      0xce, 0x75, 0xad, 0xce, 0x30, 0x92, 0x59, 0x38, 0x01, 0xaa, 0x5e, 0x84, 0x28, 0x16, 0xc4, 0xaa,
      0x79, 0xd6, 0xec, 0x56, 0x1b, 0xda, 0x22, 0xca, 0x46, 0xf1, 0x1d, 0xaa, 0x7e, 0xd2, 0xab, 0x8a,
      0xa6, 0x61, 0xca, 0x41, 0xac, 0xe8, 0x63, 0x77, 0x14, 0x79, 0xa3, 0x35, 0xfb, 0xfa, 0x6c, 0xab,
      0x52, 0x94, 0x54, 0x3d, 0xd3, 0x23, 0xea, 0x3f, 0xc0, 0x37, 0xf9, 0x7f, 0xff, 0x30, 0x5a, 0x7a,
      0xaf, 0xc9, 0xba, 0x46, 0x1e, 0x43, 0x5e, 0x61, 0x6b, 0x55, 0x83, 0x5c, 0x79, 0x58, 0x89, 0xf2,
      0xef, 0x00, 0x46, 0x0d, 0xa3, 0xb5, 0xe1, 0xab, 0x63, 0x48, 0x61, 0x32, 0x78, 0x22, 0x82, 0x8c,
      0x92, 0x4e, 0xaa, 0x01, 0xc1, 0xd6, 0xa4, 0x15, 0xeb, 0x7d, 0x99, 0xdb, 0x96, 0x93, 0xc4, 0x42,
      0x39, 0xa6, 0xcd, 0xa5, 0x3e, 0x7b, 0x9b, 0xda, 0xe7, 0xd5, 0x1f, 0x4a, 0x1e, 0x12, 0x0a, 0xd0,
      0x07, 0x00, 0x00,
  };

  const std::uint8_t kWordsRawLevel1[] = {  // 532 bytes
      0x65, 0x95, 0xc1, 0x6e, 0xc3, 0x30, 0x0c, 0x43, 0xef, 0xf9, 0x0a, 0x7f, 0xdc, 0xdc, 0x36, 0x87,
      0xa5, 0x40, 0x9b, 0x75, 0xc3, 0xbe, 0x7e, 0x26, 0x9f, 0x6c, 0x09, 0xdd, 0x21, 0x86, 0x23, 0x53,
      0x24, 0x25, 0x39, 0xed, 0x65, 0x7f, 0xf5, 0x76, 0xb9, 0x7f, 0x3d, 0x58, 0xee, 0x47, 0x6f, 0x7a,
      0xce, 0xdb, 0xa3, 0xf7, 0xf6, 0xec, 0xaf, 0x7e, 0xb4, 0xe7, 0xfe, 0xd3, 0xb6, 0x76, 0x7e, 0xdf,
      0xc7, 0x6a, 0x64, 0xdf, 0xaf, 0xb7, 0xd3, 0xb0, 0x8b, 0xb2, 0x3f, 0x8f, 0xfd, 0x79, 0x06, 0x82,
      0x8c, 0x04, 0x04, 0x8f, 0x19, 0x9c, 0xfb, 0xb1, 0x5f, 0xf7, 0x33, 0x88, 0x37, 0x53, 0x87, 0x88,
      0xa5, 0xa0, 0x62, 0x2d, 0x52, 0xf0, 0x91, 0x0a, 0xa3, 0xdc, 0xc8, 0x27, 0x27, 0xc7, 0x3e, 0xb6,
      0xb2, 0xc9, 0xa1, 0x5f, 0x9d, 0xbe, 0xb5, 0xdf, 0xfe, 0x00, 0x89, 0x4c, 0x44, 0x51, 0x30, 0x4e,
      0x4c, 0xf3, 0x11, 0xa3, 0x83, 0x48, 0x81, 0x52, 0xd0, 0x75, 0x7a, 0x41, 0xc1, 0x34, 0x5e, 0xaa,
      0xe3, 0x6c, 0x17, 0xcd, 0xd2, 0x8a, 0xc1, 0x29, 0xf0, 0xe6, 0xd1, 0x9d, 0x1e, 0x20, 0xe8, 0xd4,
      0x4b, 0xab, 0x93, 0x23, 0x6c, 0x2d, 0xb9, 0x76, 0xae, 0xee, 0x71, 0xe4, 0x3a, 0x4d, 0x3f, 0xf8,
      0x30, 0x22, 0xf6, 0xd2, 0xca, 0x62, 0x77, 0xcc, 0x51, 0x62, 0xb0, 0xb0, 0x3a, 0x10, 0xc2, 0x1e,
      0x45, 0x7a, 0x82, 0xad, 0x14, 0x1e, 0xa4, 0x79, 0x73, 0xb4, 0xab, 0x28, 0x95, 0x0b, 0x88, 0xa8,
      0xb9, 0xfe, 0xa9, 0x71, 0xa7, 0x84, 0xb5, 0xf9, 0xad, 0xb6, 0xbe, 0xce, 0x75, 0x5d, 0x42, 0xd3,
      0x90, 0xc5, 0x79, 0xa9, 0x42, 0x34, 0x3e, 0x57, 0x0f, 0x50, 0x1d, 0x48, 0xdf, 0x62, 0x1d, 0x95,
      0xa9, 0x92, 0x3a, 0x5b, 0xcf, 0x9b, 0x20, 0x01, 0x76, 0x8a, 0x4e, 0x45, 0x54, 0x64, 0x96, 0xcf,
      0x79, 0x66, 0xf1, 0xec, 0xf1, 0xba, 0x4c, 0xd4, 0x29, 0x38, 0x36, 0x68, 0x84, 0x80, 0x85, 0xad,
      0xcc, 0x59, 0x48, 0x30, 0x69, 0x37, 0x1a, 0xb2, 0xcd, 0x2f, 0x4e, 0xd9, 0x65, 0x42, 0x4a, 0xf1,
      0x6b, 0x69, 0xac, 0x62, 0x59, 0x1a, 0x5d, 0x5a, 0x69, 0xaa, 0xc5, 0x92, 0x08, 0xd5, 0x51, 0x38,
      0x6c, 0x3d, 0xa2, 0x20, 0x56, 0x35, 0x71, 0x55, 0x2c, 0xe4, 0x20, 0x28, 0x31, 0xc7, 0xc0, 0x5c,
      0xe9, 0xe0, 0x37, 0x47, 0x6d, 0x22, 0xfb, 0xcc, 0xcc, 0xc9, 0xe0, 0x93, 0xf6, 0x88, 0x29, 0x77,
      0x5b, 0xb4, 0x22, 0x9b, 0xb8, 0xc5, 0x35, 0x5d, 0x8e, 0x00, 0x17, 0xc7, 0x3e, 0xa1, 0x1d, 0x79,
      0xab, 0x25, 0x66, 0x8c, 0x4f, 0x11, 0x84, 0x94, 0x5f, 0x9d, 0xe2, 0xd6, 0x08, 0xdb, 0x18, 0x39,
      0xca, 0x9b, 0x17, 0x27, 0x0d, 0xe7, 0x0c, 0xad, 0xe3, 0x8c, 0x94, 0x7d, 0x9f, 0xab, 0x31, 0x22,
      0x2c, 0x26, 0xc1, 0xd0, 0x12, 0x67, 0xe6, 0xbc, 0x28, 0x68, 0xb9, 0x40, 0xcb, 0xa9, 0x32, 0xe0,
      0xfe, 0xb1, 0xa8, 0xba, 0x35, 0x7a, 0xa8, 0x0c, 0x1b, 0x15, 0xf1, 0x8d, 0x78, 0x15, 0x02, 0x8e,
      0xcc, 0x5a, 0x6c, 0x01, 0x1c, 0xbc, 0x34, 0x23, 0xd9, 0xa5, 0xb5, 0xc8, 0x73, 0x28, 0xb6, 0xf5,
      0x8e, 0x85, 0x1e, 0xae, 0x9c, 0x94, 0x45, 0x44, 0x11, 0x77, 0x46, 0x8c, 0x22, 0xc2, 0x29, 0x0d,
      0x60, 0xcd, 0x68, 0xfa, 0xe1, 0x24, 0x2b, 0x9e, 0xc5, 0x46, 0xdc, 0xa5, 0x55, 0x8e, 0x2c, 0x8e,
      0x81, 0xa2, 0x22, 0x79, 0x76, 0x6b, 0x08, 0xde, 0x90, 0x19, 0x7f, 0x07, 0x36, 0xea, 0x30, 0x8b,
      0xfe, 0xfd, 0x24, 0xec, 0xc7, 0x42, 0x7c, 0x3e, 0x3e, 0xc5, 0x21, 0x23, 0xf3, 0x6f, 0x43, 0x1a,
      0x45, 0x28, 0xe4, 0x87, 0x70, 0x76, 0xcd, 0x0a, 0x31, 0x04, 0x17, 0xe2, 0x4c, 0x1a, 0xe4, 0x2d,
      0x5d, 0x2b, 0xdc, 0x6c, 0x73, 0x1c, 0xa9, 0x22, 0x56, 0xe0, 0xc4, 0xec, 0xca, 0x7e, 0xcc, 0xc7,
      0xd1, 0xd2, 0xfa, 0x03,
  };

  const std::uint8_t kAllHeaderFieldsGzip[] = {  // 80 bytes
      0x1f, 0x8b, 0x08, 0x1f, 0x00, 0xf1, 0x53, 0x65, 0x02, 0x03, 0x06, 0x00, 0x44, 0x4c, 0x02, 0x00,
      0x68, 0x69, 0x64, 0x69, 0x67, 0x69, 0x74, 0x73, 0x2e, 0x69, 0x64, 0x78, 0x00, 0x6d, 0x61, 0x64,
      0x65, 0x20, 0x66, 0x6f, 0x72, 0x20, 0x64, 0x69, 0x67, 0x69, 0x74, 0x6c, 0x61, 0x62, 0x00, 0xf7,
      0x54, 0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0xd7, 0x51, 0xc8, 0x48, 0x4d, 0x4c, 0x49, 0x2d, 0x52, 0x48,
      0xcb, 0x4c, 0xcd, 0x49, 0x29, 0xe6, 0x02, 0x00, 0x85, 0x01, 0x70, 0x5d, 0x15, 0x00, 0x00, 0x00,
  };

  const std::uint8_t kTwoMembersGzip[] = {  // 71 bytes
      0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0x4b, 0xcb, 0x2c, 0x2a, 0x2e, 0x51,
      0xc8, 0x4d, 0xcd, 0x4d, 0x4a, 0x2d, 0xd2, 0x51, 0x00, 0x00, 0xde, 0xff, 0x0a, 0x62, 0x0e, 0x00,
      0x00, 0x00, 0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x03, 0x01, 0x0e, 0x00, 0xf1,
      0xff, 0x73, 0x65, 0x63, 0x6f, 0x6e, 0x64, 0x20, 0x6d, 0x65, 0x6d, 0x62, 0x65, 0x72, 0x0a, 0x36,
      0x18, 0x4b, 0x0e, 0x0e, 0x00, 0x00, 0x00,
  };
// The 2000-byte text behind kWords*: words chosen by an LCG (the same one the generator used).
std::string words_text() {
  const char* words[] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "digit", "mnist", "\n"};
  std::uint32_t state = 12345;
  std::string text;
  while (text.size() < 2000) {
    state = (state * 1103515245u + 12345u) & 0x7fffffffu;
    text += words[(state >> 16) % 13];
    text += ' ';
  }
  return text.substr(0, 2000);
}

// Writes DEFLATE bit streams by hand: fields LSB first, Huffman codes MSB first (RFC 1951, 3.1.1).
struct BitWriter {
  std::vector<std::uint8_t> bytes;
  unsigned used = 8;  // bits used in the last byte

  void bit(unsigned b) {
    if (used == 8) {
      bytes.push_back(0);
      used = 0;
    }
    bytes.back() |= std::uint8_t((b & 1) << used++);
  }
  void field(std::uint32_t value, unsigned count) {
    for (unsigned i = 0; i < count; ++i) bit(value >> i);
  }
  void code(std::uint32_t value, unsigned length) {
    for (unsigned i = length; i-- > 0;) bit(value >> i);
  }
  void block_header(bool final_block, unsigned type) {
    field(final_block, 1);
    field(type, 2);
  }
  // Fixed-code literal/length symbol and distance code (RFC 1951, 3.2.6).
  void fixed_symbol(unsigned s) {
    if (s < 144) code(0x30 + s, 8);
    else if (s < 256) code(0x190 + s - 144, 9);
    else if (s < 280) code(s - 256, 7);
    else code(0xc0 + s - 280, 8);
  }
  void fixed_distance(unsigned d) { code(d, 5); }
};

// A final dynamic-Huffman block whose code lengths are all 0, 1 or 2, sent with a code-length code of
// 0 -> "0", 1 -> "10", 2 -> "11" (no run-length symbols). The caller appends the block's data bits.
BitWriter dynamic_block(const std::vector<std::uint8_t>& literal_lengths, const std::vector<std::uint8_t>& distance_lengths) {
  BitWriter w;
  w.block_header(true, 2);
  w.field(std::uint32_t(literal_lengths.size() - 257), 5);
  w.field(std::uint32_t(distance_lengths.size() - 1), 5);
  w.field(18 - 4, 4);  // code-length code lengths for the first 18 symbols of the order 16, 17, 18, 0, 8, ...
  const unsigned order[18] = {16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1};
  for (unsigned symbol : order) w.field(symbol == 0 ? 1 : (symbol == 1 || symbol == 2) ? 2 : 0, 3);
  auto send = [&w](std::uint8_t length) {
    if (length == 0) w.code(0, 1);
    else w.code(length == 1 ? 2 : 3, 2);
  };
  for (std::uint8_t length : literal_lengths) send(length);
  for (std::uint8_t length : distance_lengths) send(length);
  return w;
}

// Wraps a raw DEFLATE stream in a minimal gzip member for the given decoded bytes.
std::vector<std::uint8_t> wrap_gzip(const std::vector<std::uint8_t>& deflate, ByteSpan decoded) {
  const std::uint8_t header[10] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};
  std::vector<std::uint8_t> out(sizeof header + deflate.size() + 8);
  std::copy(header, header + sizeof header, out.begin());
  std::copy(deflate.begin(), deflate.end(), out.begin() + sizeof header);
  const std::uint32_t crc = crc32(decoded);
  const std::uint32_t size = std::uint32_t(decoded.size);
  std::uint8_t* trailer = out.data() + out.size() - 8;
  for (int i = 0; i < 4; ++i) {
    trailer[i] = std::uint8_t(crc >> (8 * i));
    trailer[4 + i] = std::uint8_t(size >> (8 * i));
  }
  return out;
}

// A fixed-Huffman bomb: one zero byte, then `matches` copies of (length 258, distance 1): 13 bits for
// every 258 output bytes.
std::vector<std::uint8_t> zero_bomb(unsigned matches) {
  BitWriter w;
  w.block_header(true, 1);
  w.fixed_symbol(0);
  for (unsigned i = 0; i < matches; ++i) {
    w.fixed_symbol(285);
    w.fixed_distance(0);
  }
  w.fixed_symbol(256);
  return w.bytes;
}

bool is_input_error(ErrorCode code) {
  return code == ErrorCode::bad_gzip || code == ErrorCode::truncated || code == ErrorCode::checksum_mismatch ||
         code == ErrorCode::over_budget;
}

std::string error_text(const Error& e) { return e.to_string(); }

}  // namespace

TEST_CASE("crc32 matches zlib's IEEE CRC-32") {
  CHECK(crc32(span_of("")) == 0u);
  CHECK(crc32(span_of("123456789")) == 0xCBF43926u);
  CHECK(crc32(span_of("The quick brown fox jumps over the lazy dog")) == 0x414FA339u);
  CHECK(crc32(span_of(words_text())) == 0x0a121e4au);  // Python: zlib.crc32(text)
  // Continuing a running checksum gives the same result as one call, at every split point
  // (this crosses the 8-byte fast path's boundaries).
  const std::string text = "The quick brown fox jumps over the lazy dog";
  for (std::size_t split = 0; split <= text.size(); ++split) {
    std::uint32_t first = crc32(span_of(text.substr(0, split)));
    INFO("split at " << split);
    CHECK(crc32(span_of(text.substr(split)), first) == 0x414FA339u);
  }
}

TEST_CASE("gunzip decodes vectors made by gzip and zlib: fixed, stored and dynamic blocks") {
  // The block types really are the ones named (BFINAL is bit 0, BTYPE bits 1-2 of the first data byte).
  REQUIRE(((kHelloGzip[10] >> 1) & 3) == 1);
  REQUIRE(((kStoredGzip[10] >> 1) & 3) == 0);
  REQUIRE(((kWordsGzipLevel9[10] >> 1) & 3) == 2);
  REQUIRE(((kWordsRawLevel1[0] >> 1) & 3) == 2);

  struct Case {
    const char* name;
    std::vector<std::uint8_t> gz;
    std::string expected;
  };
  const Case cases[] = {
      {"fixed (gzip -n)", bytes_of(kHelloGzip), "hello"},
      {"stored (zlib level 0)", bytes_of(kStoredGzip), "stored, not compressed\n"},
      {"empty", bytes_of(kEmptyGzip), ""},
      {"dynamic (zlib level 9)", bytes_of(kWordsGzipLevel9), words_text()},
      {"every header field", bytes_of(kAllHeaderFieldsGzip), "hello, header fields\n"},
      {"two members", bytes_of(kTwoMembersGzip), "first member, second member\n"},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    auto result = gunzip(c.gz, kBudget);
    INFO((result.ok() ? std::string("ok") : error_text(result.error())));
    REQUIRE(result.ok());
    CHECK(text_of(result.value()) == c.expected);
  }
}

TEST_CASE("inflate_raw decodes bare DEFLATE and says how many bytes it used") {
  std::vector<std::uint8_t> input = bytes_of(kWordsRawLevel1);
  input.insert(input.end(), {'X', 'Y', 'Z'});  // what follows the stream is not part of it
  std::uint64_t consumed = 0;
  auto result = inflate_raw(input, kBudget, &consumed);
  INFO((result.ok() ? std::string("ok") : error_text(result.error())));
  REQUIRE(result.ok());
  CHECK(text_of(result.value()) == words_text());
  CHECK(consumed == sizeof kWordsRawLevel1);
  // The gzip vectors' DEFLATE part (after the 10-byte header, before the 8-byte trailer) decodes too.
  ByteSpan hello_deflate(kHelloGzip + 10, sizeof kHelloGzip - 18);
  auto hello = inflate_raw(hello_deflate, kBudget, &consumed);
  REQUIRE(hello.ok());
  CHECK(text_of(hello.value()) == "hello");
  CHECK(consumed == hello_deflate.size);
}

TEST_CASE("hand-built fixed-Huffman streams: overlapping matches and exact error offsets") {
  SECTION("short-distance overlap repeats a pattern") {
    BitWriter w;
    w.block_header(true, 1);
    for (char ch : std::string("abc")) w.fixed_symbol(std::uint8_t(ch));
    w.fixed_symbol(264);   // length 10
    w.fixed_distance(2);   // distance 3
    w.fixed_symbol(269);   // length 19 + 2 extra bits
    w.field(1, 2);         // = 20
    w.fixed_distance(5);   // distance 7 + 1 extra bit
    w.field(1, 1);         // = 8
    w.fixed_symbol(256);
    auto result = inflate_raw(w.bytes, kBudget, nullptr);
    REQUIRE(result.ok());
    std::string expected = "abcabcabcabca";
    for (int i = 0; i < 20; ++i) expected += expected[expected.size() - 8];
    CHECK(text_of(result.value()) == expected);
  }
  SECTION("a block after a non-final block, and a back-reference across blocks") {
    BitWriter w;
    w.block_header(false, 1);
    for (char ch : std::string("digit")) w.fixed_symbol(std::uint8_t(ch));
    w.fixed_symbol(256);
    w.block_header(true, 1);
    w.fixed_symbol(259);  // length 5
    w.fixed_distance(4);  // distance 5 + 1 extra bit
    w.field(0, 1);
    w.fixed_symbol(256);
    auto result = inflate_raw(w.bytes, kBudget, nullptr);
    REQUIRE(result.ok());
    CHECK(text_of(result.value()) == "digitdigit");
  }
  SECTION("reserved block type 3 is reported at its byte") {
    BitWriter w;
    w.block_header(true, 3);
    w.field(0, 16);
    auto gz = wrap_gzip(w.bytes, ByteSpan());
    auto result = gunzip(gz, kBudget);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::bad_gzip);
    CHECK(result.error().offset == 10);
    CHECK(result.error().field == "deflate.block_type");
  }
  SECTION("a back-reference before the start of the output") {
    BitWriter w;
    w.block_header(true, 1);
    w.fixed_symbol(257);  // length 3 with nothing decoded yet; starts at bit 3
    w.fixed_distance(0);  // starts at bit 10: byte 1
    w.fixed_symbol(256);
    auto result = inflate_raw(w.bytes, kBudget, nullptr);
    REQUIRE_FALSE(result.ok());
    INFO(error_text(result.error()));
    CHECK(result.error().code == ErrorCode::bad_gzip);
    CHECK(result.error().offset == 1);
  }
  SECTION("the reserved literal/length symbol 286 and distance code 30") {
    BitWriter w;
    w.block_header(true, 1);
    w.fixed_symbol(286);
    w.field(0, 16);
    auto bad_symbol = inflate_raw(w.bytes, kBudget, nullptr);
    REQUIRE_FALSE(bad_symbol.ok());
    CHECK(bad_symbol.error().code == ErrorCode::bad_gzip);
    CHECK(bad_symbol.error().offset == 0);

    BitWriter v;
    v.block_header(true, 1);
    v.fixed_symbol('a');  // bits 3..10
    v.fixed_symbol(257);  // bits 11..17
    v.fixed_distance(30); // starts at bit 18: byte 2
    v.field(0, 16);
    auto bad_distance = inflate_raw(v.bytes, kBudget, nullptr);
    REQUIRE_FALSE(bad_distance.ok());
    INFO(error_text(bad_distance.error()));
    CHECK(bad_distance.error().code == ErrorCode::bad_gzip);
    CHECK(bad_distance.error().offset == 2);
  }
}

TEST_CASE("hand-built dynamic blocks: the incomplete codes RFC 1951 allows, and the ones it does not") {
  auto literal_lengths = [](std::initializer_list<std::pair<unsigned, std::uint8_t>> set, unsigned count) {
    std::vector<std::uint8_t> lengths(count, 0);
    for (auto [symbol, length] : set) lengths[symbol] = length;
    return lengths;
  };
  SECTION("no distance codes at all: a block of literals") {
    BitWriter w = dynamic_block(literal_lengths({{'a', 1}, {256, 1}}, 257), {0});
    w.code(0, 1), w.code(0, 1), w.code(0, 1), w.code(1, 1);  // a a a end
    auto result = inflate_raw(w.bytes, kBudget, nullptr);
    INFO((result.ok() ? std::string("ok") : error_text(result.error())));
    REQUIRE(result.ok());
    CHECK(text_of(result.value()) == "aaa");
  }
  SECTION("a single 1-bit distance code, used and misused") {
    // 'a' -> 0, end -> 10, length 3 -> 11; distance 1 -> 0 (the pattern 1 is unused).
    auto lengths = literal_lengths({{'a', 1}, {256, 2}, {257, 2}}, 258);
    BitWriter w = dynamic_block(lengths, {1});
    w.code(0, 1), w.code(3, 2), w.code(0, 1), w.code(2, 2);  // a, (3, 1), end
    auto result = inflate_raw(w.bytes, kBudget, nullptr);
    INFO((result.ok() ? std::string("ok") : error_text(result.error())));
    REQUIRE(result.ok());
    CHECK(text_of(result.value()) == "aaaa");

    BitWriter bad = dynamic_block(lengths, {1});
    bad.code(0, 1), bad.code(3, 2), bad.code(1, 1), bad.code(2, 2);  // the unused distance pattern
    bad.field(0, 16);
    auto misused = inflate_raw(bad.bytes, kBudget, nullptr);
    REQUIRE_FALSE(misused.ok());
    INFO(error_text(misused.error()));
    CHECK(misused.error().code == ErrorCode::bad_gzip);
    CHECK(misused.error().field == "deflate.distance");
  }
  SECTION("over-subscribed, incomplete, and missing end-of-block codes are corrupt") {
    struct Case {
      const char* name;
      std::vector<std::uint8_t> lengths;
      const char* field;
    };
    const Case cases[] = {
        {"three 1-bit codes", literal_lengths({{'a', 1}, {256, 1}, {257, 1}}, 258), "deflate.literal_length_code"},
        {"two 2-bit codes", literal_lengths({{'a', 2}, {256, 2}}, 257), "deflate.literal_length_code"},
        {"no end-of-block", literal_lengths({{'a', 1}, {'b', 1}}, 257), "deflate.code_lengths"},
    };
    for (const Case& c : cases) {
      BitWriter w = dynamic_block(c.lengths, {1});
      w.field(0, 16);
      auto result = inflate_raw(w.bytes, kBudget, nullptr);
      INFO(c.name);
      REQUIRE_FALSE(result.ok());
      INFO(error_text(result.error()));
      CHECK(result.error().code == ErrorCode::bad_gzip);
      CHECK(result.error().field == c.field);
      CHECK(result.error().offset == 0);  // the dynamic header starts in byte 0
    }
  }
}

TEST_CASE("gunzip decodes the real data files byte for byte") {
  SECTION("MNIST t10k images: compare with the uncompressed file") {
    auto gz = read_file(DIGITLAB_DATA_DIR "/mnist/t10k-images-idx3-ubyte.gz", 64u << 20);
    auto raw = read_file(DIGITLAB_DATA_DIR "/mnist/t10k-images-idx3-ubyte", 64u << 20);
    REQUIRE(gz.ok());
    REQUIRE(raw.ok());
    auto decoded = gunzip(gz.value(), 64u << 20);
    INFO((decoded.ok() ? std::string("ok") : error_text(decoded.error())));
    REQUIRE(decoded.ok());
    const auto& a = decoded.value();
    const auto& b = raw.value();
    REQUIRE(a.size() == b.size());
    std::size_t first_difference = a.size();
    for (std::size_t i = 0; i < a.size(); ++i)
      if (a[i] != b[i]) {
        first_difference = i;
        break;
      }
    INFO("first differing byte: " << first_difference << " of " << a.size());
    CHECK(first_difference == a.size());

    // The budget is exact: the real size fits, one byte less does not.
    auto exact = gunzip(gz.value(), b.size());
    CHECK(exact.ok());
    auto short_by_one = gunzip(gz.value(), b.size() - 1);
    REQUIRE_FALSE(short_by_one.ok());
    CHECK(short_by_one.error().code == ErrorCode::over_budget);
  }
  SECTION("Fashion-MNIST t10k labels: size, header, labels and checksum") {
    auto gz = read_file(DIGITLAB_DATA_DIR "/fashion-mnist/t10k-labels-idx1-ubyte.gz", 1u << 20);
    REQUIRE(gz.ok());
    auto decoded = gunzip(gz.value(), 1u << 20);
    INFO((decoded.ok() ? std::string("ok") : error_text(decoded.error())));
    REQUIRE(decoded.ok());
    const auto& labels = decoded.value();
    REQUIRE(labels.size() == 10008);
    CHECK(load_u32_be(labels.data()) == 0x00000801u);  // idx1, unsigned bytes
    CHECK(load_u32_be(labels.data() + 4) == 10000u);
    std::size_t above_nine = 0;
    for (std::size_t i = 8; i < labels.size(); ++i) above_nine += labels[i] > 9;
    CHECK(above_nine == 0);
    CHECK(crc32(labels) == 0x80142c1fu);  // Python: zlib.crc32(gzip.open(...).read())
  }
}

TEST_CASE("every truncation of a gzip file is rejected as truncated") {
  const std::vector<std::uint8_t> files[] = {bytes_of(kHelloGzip), bytes_of(kStoredGzip), bytes_of(kEmptyGzip),
                                             bytes_of(kWordsGzipLevel9), bytes_of(kAllHeaderFieldsGzip)};
  for (const auto& file : files) {
    for (std::size_t keep = 0; keep < file.size(); ++keep) {
      auto result = gunzip(ByteSpan(file.data(), keep), kBudget);
      INFO("kept " << keep << " of " << file.size() << " bytes");
      REQUIRE_FALSE(result.ok());
      INFO(error_text(result.error()));
      CHECK(result.error().code == ErrorCode::truncated);
      CHECK(result.error().offset <= keep);
    }
  }
  // Two members: cut exactly between them is a complete one-member file; anywhere else is truncated.
  const auto two = bytes_of(kTwoMembersGzip);
  for (std::size_t keep = 0; keep < two.size(); ++keep) {
    auto result = gunzip(ByteSpan(two.data(), keep), kBudget);
    INFO("kept " << keep << " of " << two.size() << " bytes");
    if (keep == 34) {
      REQUIRE(result.ok());
      CHECK(text_of(result.value()) == "first member, ");
    } else {
      REQUIRE_FALSE(result.ok());
      INFO(error_text(result.error()));
      CHECK(result.error().code == ErrorCode::truncated);
    }
  }
  // Bare DEFLATE cut short, too.
  for (std::size_t keep = 0; keep < sizeof kWordsRawLevel1; ++keep) {
    auto result = inflate_raw(ByteSpan(kWordsRawLevel1, keep), kBudget, nullptr);
    INFO("kept " << keep);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::truncated);
  }
}

TEST_CASE("corrupt checksums and headers are reported where they are") {
  SECTION("CRC-32 trailer") {
    auto gz = bytes_of(kWordsGzipLevel9);
    gz[gz.size() - 8] ^= 0x01;
    auto result = gunzip(gz, kBudget);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::checksum_mismatch);
    CHECK(result.error().offset == gz.size() - 8);
  }
  SECTION("ISIZE trailer") {
    auto gz = bytes_of(kHelloGzip);
    gz[gz.size() - 4] = 6;
    auto result = gunzip(gz, kBudget);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::checksum_mismatch);
    CHECK(result.error().offset == gz.size() - 4);
  }
  SECTION("header CRC-16 (FHCRC)") {
    auto gz = bytes_of(kAllHeaderFieldsGzip);
    gz[20] ^= 0x20;  // a byte of the file name, covered by the header CRC at bytes 47-48
    auto result = gunzip(gz, kBudget);
    REQUIRE_FALSE(result.ok());
    CHECK(result.error().code == ErrorCode::checksum_mismatch);
    CHECK(result.error().offset == 47);
  }
  SECTION("magic, method and reserved flags") {
    auto gz = bytes_of(kHelloGzip);
    gz[2] = 7;
    auto method = gunzip(gz, kBudget);
    REQUIRE_FALSE(method.ok());
    CHECK(method.error().code == ErrorCode::bad_gzip);
    CHECK(method.error().offset == 2);
    gz = bytes_of(kHelloGzip);
    gz[3] = 0x80;
    auto flags = gunzip(gz, kBudget);
    REQUIRE_FALSE(flags.ok());
    CHECK(flags.error().code == ErrorCode::bad_gzip);
    CHECK(flags.error().offset == 3);
    // An uncompressed idx file handed to gunzip: the message says what it is.
    const std::uint8_t idx[] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 28, 0, 0, 0, 28};
    auto magic = gunzip(ByteSpan(idx, sizeof idx), kBudget);
    REQUIRE_FALSE(magic.ok());
    CHECK(magic.error().code == ErrorCode::bad_gzip);
    CHECK(magic.error().offset == 0);
    CHECK(magic.error().message.find("idx file") != std::string::npos);
  }
  SECTION("after a member: zero padding is fine, anything else is not") {
    auto gz = bytes_of(kHelloGzip);
    gz.insert(gz.end(), 5, 0);
    auto padded = gunzip(gz, kBudget);
    REQUIRE(padded.ok());
    CHECK(text_of(padded.value()) == "hello");
    gz.push_back('x');
    auto garbage = gunzip(gz, kBudget);
    REQUIRE_FALSE(garbage.ok());
    CHECK(garbage.error().code == ErrorCode::bad_gzip);
    CHECK(garbage.error().offset == sizeof kHelloGzip + 5);
  }
}

TEST_CASE("a gzip bomb is rejected with over_budget") {
  // 10 MB of zeros in 65 KB; with a 1 MB budget it must stop at the budget.
  const unsigned matches = 40000;
  const std::uint64_t decoded_size = 1 + 258ull * matches;
  auto deflate = zero_bomb(matches);
  std::vector<std::uint8_t> zeros(decoded_size, 0);
  auto gz = wrap_gzip(deflate, zeros);
  zeros = {};
  auto result = gunzip(gz, kBudget);
  REQUIRE_FALSE(result.ok());
  INFO(error_text(result.error()));
  CHECK(result.error().code == ErrorCode::over_budget);
  CHECK(result.error().offset < gz.size());

  // A forged ISIZE (4 GiB - 1) is only a hint: still over_budget, not an allocation of 4 GiB.
  gz[gz.size() - 4] = gz[gz.size() - 3] = gz[gz.size() - 2] = gz[gz.size() - 1] = 0xff;
  auto forged = gunzip(gz, kBudget);
  REQUIRE_FALSE(forged.ok());
  CHECK(forged.error().code == ErrorCode::over_budget);

  auto raw = inflate_raw(deflate, kBudget, nullptr);
  REQUIRE_FALSE(raw.ok());
  CHECK(raw.error().code == ErrorCode::over_budget);

  // With enough budget the same stream decodes to exactly the zeros it claims.
  auto allowed = inflate_raw(deflate, decoded_size, nullptr);
  REQUIRE(allowed.ok());
  CHECK(allowed.value().size() == decoded_size);
  std::size_t non_zero = 0;
  for (std::uint8_t b : allowed.value()) non_zero += b != 0;
  CHECK(non_zero == 0);

  // Stored blocks count against the budget too; a zero budget allows only empty output.
  auto stored = gunzip(bytes_of(kStoredGzip), 5);
  REQUIRE_FALSE(stored.ok());
  CHECK(stored.error().code == ErrorCode::over_budget);
  CHECK(gunzip(bytes_of(kEmptyGzip), 0).ok());
}

TEST_CASE("random garbage and bit flips never crash, and a success is always the right output") {
  std::uint32_t state = 2024;
  auto next = [&state] {
    state = state * 1664525u + 1013904223u;
    return state >> 8;
  };
  SECTION("random bytes, with and without a gzip header in front") {
    for (int round = 0; round < 3000; ++round) {
      std::vector<std::uint8_t> input(next() % 300);
      for (auto& b : input) b = std::uint8_t(next());
      if (round % 2 && input.size() >= 10) {
        input[0] = 0x1f, input[1] = 0x8b, input[2] = 8, input[3] = 0;
      }
      auto gz = gunzip(input, kBudget);
      if (!gz.ok()) {
        INFO(error_text(gz.error()));
        CHECK(is_input_error(gz.error().code));
        CHECK(gz.error().offset <= input.size());
      }
      std::uint64_t consumed = 0;
      auto raw = inflate_raw(input, kBudget, &consumed);
      if (raw.ok()) {
        CHECK(consumed <= input.size());
      } else {
        CHECK(is_input_error(raw.error().code));
        CHECK(raw.error().offset <= input.size());
      }
    }
  }
  SECTION("every single-bit flip of a dynamic-Huffman gzip file") {
    const auto original = bytes_of(kWordsGzipLevel9);
    const std::string expected = words_text();
    // zlib accepts exactly these flips too (Python: zlib.decompress(flipped, 31) for every bit): FTEXT
    // (bit 24), MTIME/XFL/OS (bits 32-79), the padding after the last block (3798, 3799), and bit 1289 in
    // the compressed data, whose changed stream still decodes to the same text (so the CRC-32 holds).
    std::vector<std::size_t> zlib_accepts = {24, 1289, 3798, 3799};
    for (std::size_t bit = 32; bit < 80; ++bit) zlib_accepts.push_back(bit);
    std::sort(zlib_accepts.begin(), zlib_accepts.end());
    std::vector<std::size_t> accepted;
    for (std::size_t bit = 0; bit < original.size() * 8; ++bit) {
      auto flipped = original;
      flipped[bit / 8] ^= std::uint8_t(1u << (bit % 8));
      auto result = gunzip(flipped, kBudget);
      INFO("flipped bit " << bit);
      if (result.ok()) {
        accepted.push_back(bit);
        CHECK(text_of(result.value()) == expected);  // the CRC-32 and ISIZE guard the output
      } else {
        INFO(error_text(result.error()));
        CHECK(is_input_error(result.error().code));
        CHECK(result.error().offset <= flipped.size());
      }
    }
    CHECK(accepted == zlib_accepts);
  }
}
