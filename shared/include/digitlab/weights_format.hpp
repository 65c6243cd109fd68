// The ONE declaration of the digitlab weights file format (version 1): magic, field offsets, record
// layouts, limits, float16/int8 encodings. Writer and reader both include it. Read next: docs/weights-format.md.
//
// Sections of this header:
//   1. Constants        magic, version, sizes, alignment, limits, self-test tolerance
//   2. FileHeader       the 64-byte header at offset 0
//   3. LayerRecord      one 48-byte record per layer (the layer table, at offset 64)
//   4. TensorRecord     one 32-byte record per tensor (the tensor table, after the layer table)
//   5. Element codecs   float16 <-> float32, int8 per-output-channel quantisation
//   6. Checksums        which bytes each CRC-32 covers, and a re-sealer for tools and tests
//
// File layout (all integers and floats little-endian, floats IEEE-754 binary32):
//   [0, 64)                 FileHeader
//   [64, +48*L)             L LayerRecords, in network order
//   [.., +32*T)             T TensorRecords: layer 0's tensors, then layer 1's, ... (order on LayerKind)
//   [.., +card_size)        the model card
//   [.., +self_test_size)   the self-test (input and expected logits), or nothing
//   zero padding to a multiple of 64, then each tensor's data at its 64-aligned offset, zero padding between
//   file_size = end of the last tensor's data (or of the metadata when there are no tensors)
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "digitlab/weights.hpp"

namespace digitlab::weights_format {

// ---- 1. Constants ------------------------------------------------------------------------------------------

// PNG-style: a non-ASCII first byte, then "DLW", then CR LF, ^Z, LF so that text-mode transfers and
// truncation to 7 bits are caught. sniff_file_kind() recognises the first four bytes.
inline constexpr std::uint8_t kMagic[8] = {0x89, 'D', 'L', 'W', '\r', '\n', 0x1A, '\n'};
inline constexpr std::uint32_t kVersion = 1;  // changes only when the layout changes

inline constexpr std::uint32_t kHeaderSize = 64;
inline constexpr std::uint32_t kLayerRecordSize = 48;
inline constexpr std::uint32_t kTensorRecordSize = 32;
inline constexpr std::uint32_t kTensorAlignment = 64;  // every tensor's data starts at a multiple of this
inline constexpr std::uint32_t kMaxRank = 4;
inline constexpr std::uint32_t kCardFixedSize = 28;     // the card's fixed fields before its strings
inline constexpr std::uint32_t kSelfTestFixedSize = 8;  // input_count, logit_count

// Plausibility limits, checked before anything is allocated. Far above any digit model.
inline constexpr std::uint32_t kMaxLayers = 1024;
inline constexpr std::uint32_t kMaxTensorsPerLayer = 4;
inline constexpr std::uint32_t kMaxStringBytes = 4096;  // each card string
inline constexpr std::uint32_t kMaxClasses = 65536;

// Self-test: a logit passes when |actual - expected| <= kSelfTestAbsTolerance + kSelfTestRelTolerance*|expected|.
inline constexpr float kSelfTestAbsTolerance = 1e-4f;
inline constexpr float kSelfTestRelTolerance = 1e-4f;

// Bytes per element of each dtype (int8 tensors also carry dims[0] float32 scales in front).
inline constexpr std::uint32_t dtype_element_size(DType dtype) {
  return dtype == DType::float32 ? 4 : dtype == DType::float16 ? 2 : 1;
}
const char* dtype_name(DType dtype);

// ---- 2. FileHeader: 64 bytes at offset 0 -------------------------------------------------------------------
// Byte offsets inside the header.
namespace header_field {
inline constexpr std::size_t magic = 0;            // u8[8]  kMagic
inline constexpr std::size_t version = 8;          // u32    kVersion
inline constexpr std::size_t header_size = 12;     // u32    kHeaderSize
inline constexpr std::size_t file_size = 16;       // u64    total bytes in the file
inline constexpr std::size_t layer_count = 24;     // u32    L
inline constexpr std::size_t tensor_count = 28;    // u32    T (sum of the layers' tensor counts)
inline constexpr std::size_t card_size = 32;       // u32    bytes of the model card section
inline constexpr std::size_t self_test_size = 36;  // u32    bytes of the self-test section; 0 = none
inline constexpr std::size_t body_crc = 40;        // u32    CRC-32 of bytes [kHeaderSize, file_size)
inline constexpr std::size_t reserved = 44;        // u8[16] zero
inline constexpr std::size_t header_crc = 60;      // u32    CRC-32 of bytes [0, 60)
inline constexpr std::size_t reserved_size = 16;
}  // namespace header_field

struct FileHeader {
  std::uint8_t magic[8] = {};
  std::uint32_t version = 0;
  std::uint32_t header_size = 0;
  std::uint64_t file_size = 0;
  std::uint32_t layer_count = 0;
  std::uint32_t tensor_count = 0;
  std::uint32_t card_size = 0;
  std::uint32_t self_test_size = 0;
  std::uint32_t body_crc = 0;
  std::uint8_t reserved[header_field::reserved_size] = {};
  std::uint32_t header_crc = 0;
};
FileHeader decode_header(const std::uint8_t* bytes);              // reads kHeaderSize bytes
void encode_header(const FileHeader& header, std::uint8_t* out);  // writes kHeaderSize bytes, as given

// ---- 3. LayerRecord: 48 bytes per layer, the table starts at offset kHeaderSize -----------------------------
namespace layer_field {
inline constexpr std::size_t kind = 0;           // u16 LayerKind
inline constexpr std::size_t tensor_count = 2;   // u16 tensors of this layer (2 linear/conv2d, 4 batch_norm, else 0)
inline constexpr std::size_t in_features = 4;    // u32
inline constexpr std::size_t out_features = 8;   // u32
inline constexpr std::size_t in_channels = 12;   // u32
inline constexpr std::size_t out_channels = 16;  // u32
inline constexpr std::size_t kernel = 20;        // u32
inline constexpr std::size_t stride = 24;        // u32
inline constexpr std::size_t padding = 28;       // u32
inline constexpr std::size_t channels = 32;      // u32
inline constexpr std::size_t alpha = 36;         // f32 leaky_relu slope
inline constexpr std::size_t eps = 40;           // f32 batch_norm epsilon
inline constexpr std::size_t dropout_p = 44;     // f32
}  // namespace layer_field

struct LayerRecord {
  std::uint16_t kind = 0;
  std::uint16_t tensor_count = 0;
  std::uint32_t in_features = 0, out_features = 0, in_channels = 0, out_channels = 0;
  std::uint32_t kernel = 0, stride = 0, padding = 0, channels = 0;
  float alpha = 0.f, eps = 0.f, dropout_p = 0.f;
};
LayerRecord decode_layer(const std::uint8_t* bytes);             // reads kLayerRecordSize bytes
void encode_layer(const LayerRecord& layer, std::uint8_t* out);  // writes kLayerRecordSize bytes

// ---- 4. TensorRecord: 32 bytes per tensor, the table follows the layer table ------------------------------
namespace tensor_field {
inline constexpr std::size_t dtype = 0;       // u8  DType: 0 float32, 1 float16, 2 int8
inline constexpr std::size_t rank = 1;        // u8  1..kMaxRank
inline constexpr std::size_t reserved0 = 2;   // u16 zero
inline constexpr std::size_t dims = 4;        // u32[4] dims[0..rank) >= 1, unused dims zero
inline constexpr std::size_t reserved1 = 20;  // u32 zero
inline constexpr std::size_t offset = 24;     // u64 absolute byte offset of the data, multiple of kTensorAlignment
}  // namespace tensor_field

struct TensorRecord {
  std::uint8_t dtype = 0;
  std::uint8_t rank = 0;
  std::uint16_t reserved0 = 0;
  std::uint32_t dims[kMaxRank] = {};
  std::uint32_t reserved1 = 0;
  std::uint64_t offset = 0;
};
TensorRecord decode_tensor(const std::uint8_t* bytes);              // reads kTensorRecordSize bytes
void encode_tensor(const TensorRecord& tensor, std::uint8_t* out);  // writes kTensorRecordSize bytes

// Bytes of a tensor's data: elements * element size, plus 4 * dims[0] for int8's scales. False when the
// product overflows 64 bits (overflow-safe: use this, never multiply the dims yourself).
bool tensor_data_size(const TensorRecord& tensor, std::uint64_t* elements, std::uint64_t* bytes);

// ---- 5. Element codecs -------------------------------------------------------------------------------------

// IEEE-754 binary16, round to nearest, ties to even; overflow gives +-inf, NaN stays NaN (quiet),
// subnormals both ways. half_to_float is exact.
std::uint16_t float_to_half(float value);
float half_to_float(std::uint16_t bits);

// int8, symmetric, per output channel (dims[0] rows of `row_size` values): scale = max|w| / 127 (0 for an
// all-zero row), q = round_half_even(w / scale) clamped to [-127, 127] (0 when scale is 0);
// read back as q * scale. Deterministic: no dependence on the FPU rounding mode.
void quantize_int8(const float* values, std::uint64_t rows, std::uint64_t row_size, float* scales,
                   std::int8_t* quantized);

// ---- 6. Checksums ------------------------------------------------------------------------------------------
// body_crc covers [kHeaderSize, file_size): every table, the card, the self-test, padding and tensor data.
// header_crc covers [0, 60) (the header with its body_crc), so any change to the file changes header_crc.

// Recomputes body_crc (over [kHeaderSize, min(file_size, bytes.size()))) then header_crc, in place. For tools
// and tests that edit a file on purpose, so their edits reach the check under test. False when the buffer is
// shorter than a header.
bool reseal_checksums(std::vector<std::uint8_t>& bytes);

}  // namespace digitlab::weights_format
