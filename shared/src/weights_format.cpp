// The byte-level building blocks of the weights format: record encoders/decoders, float16 and int8 codecs,
// the checksum re-sealer. Read next: weights_reader.cpp, weights_writer.cpp (the loader and writer built on them).
#include "digitlab/weights_format.hpp"

#include <cmath>
#include <cstring>

#include "digitlab/crc32.hpp"

namespace digitlab::weights_format {

namespace {

void store_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = std::uint8_t(v);
  p[1] = std::uint8_t(v >> 8);
}
void store_u32(std::uint8_t* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = std::uint8_t(v >> (8 * i));
}
void store_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = std::uint8_t(v >> (8 * i));
}
void store_f32(std::uint8_t* p, float v) {
  std::uint32_t bits;
  std::memcpy(&bits, &v, 4);
  store_u32(p, bits);
}
float load_f32(const std::uint8_t* p) {
  std::uint32_t bits = load_u32_le(p);
  float v;
  std::memcpy(&v, &bits, 4);
  return v;
}

}  // namespace

const char* dtype_name(DType dtype) {
  switch (dtype) {
    case DType::float32: return "float32";
    case DType::float16: return "float16";
    case DType::int8: return "int8";
  }
  return "unknown";
}

// ---- Header ------------------------------------------------------------------------------------------------

FileHeader decode_header(const std::uint8_t* bytes) {
  namespace f = header_field;
  FileHeader h;
  std::memcpy(h.magic, bytes + f::magic, sizeof h.magic);
  h.version = load_u32_le(bytes + f::version);
  h.header_size = load_u32_le(bytes + f::header_size);
  h.file_size = load_u64_le(bytes + f::file_size);
  h.layer_count = load_u32_le(bytes + f::layer_count);
  h.tensor_count = load_u32_le(bytes + f::tensor_count);
  h.card_size = load_u32_le(bytes + f::card_size);
  h.self_test_size = load_u32_le(bytes + f::self_test_size);
  h.body_crc = load_u32_le(bytes + f::body_crc);
  std::memcpy(h.reserved, bytes + f::reserved, f::reserved_size);
  h.header_crc = load_u32_le(bytes + f::header_crc);
  return h;
}

void encode_header(const FileHeader& h, std::uint8_t* out) {
  namespace f = header_field;
  std::memcpy(out + f::magic, h.magic, sizeof h.magic);
  store_u32(out + f::version, h.version);
  store_u32(out + f::header_size, h.header_size);
  store_u64(out + f::file_size, h.file_size);
  store_u32(out + f::layer_count, h.layer_count);
  store_u32(out + f::tensor_count, h.tensor_count);
  store_u32(out + f::card_size, h.card_size);
  store_u32(out + f::self_test_size, h.self_test_size);
  store_u32(out + f::body_crc, h.body_crc);
  std::memcpy(out + f::reserved, h.reserved, f::reserved_size);
  store_u32(out + f::header_crc, h.header_crc);
}

// ---- Layer and tensor records ------------------------------------------------------------------------------

LayerRecord decode_layer(const std::uint8_t* bytes) {
  namespace f = layer_field;
  LayerRecord r;
  r.kind = load_u16_le(bytes + f::kind);
  r.tensor_count = load_u16_le(bytes + f::tensor_count);
  r.in_features = load_u32_le(bytes + f::in_features);
  r.out_features = load_u32_le(bytes + f::out_features);
  r.in_channels = load_u32_le(bytes + f::in_channels);
  r.out_channels = load_u32_le(bytes + f::out_channels);
  r.kernel = load_u32_le(bytes + f::kernel);
  r.stride = load_u32_le(bytes + f::stride);
  r.padding = load_u32_le(bytes + f::padding);
  r.channels = load_u32_le(bytes + f::channels);
  r.alpha = load_f32(bytes + f::alpha);
  r.eps = load_f32(bytes + f::eps);
  r.dropout_p = load_f32(bytes + f::dropout_p);
  return r;
}

void encode_layer(const LayerRecord& r, std::uint8_t* out) {
  namespace f = layer_field;
  store_u16(out + f::kind, r.kind);
  store_u16(out + f::tensor_count, r.tensor_count);
  store_u32(out + f::in_features, r.in_features);
  store_u32(out + f::out_features, r.out_features);
  store_u32(out + f::in_channels, r.in_channels);
  store_u32(out + f::out_channels, r.out_channels);
  store_u32(out + f::kernel, r.kernel);
  store_u32(out + f::stride, r.stride);
  store_u32(out + f::padding, r.padding);
  store_u32(out + f::channels, r.channels);
  store_f32(out + f::alpha, r.alpha);
  store_f32(out + f::eps, r.eps);
  store_f32(out + f::dropout_p, r.dropout_p);
}

TensorRecord decode_tensor(const std::uint8_t* bytes) {
  namespace f = tensor_field;
  TensorRecord r;
  r.dtype = bytes[f::dtype];
  r.rank = bytes[f::rank];
  r.reserved0 = load_u16_le(bytes + f::reserved0);
  for (std::uint32_t i = 0; i < kMaxRank; ++i) r.dims[i] = load_u32_le(bytes + f::dims + 4 * i);
  r.reserved1 = load_u32_le(bytes + f::reserved1);
  r.offset = load_u64_le(bytes + f::offset);
  return r;
}

void encode_tensor(const TensorRecord& r, std::uint8_t* out) {
  namespace f = tensor_field;
  out[f::dtype] = r.dtype;
  out[f::rank] = r.rank;
  store_u16(out + f::reserved0, r.reserved0);
  for (std::uint32_t i = 0; i < kMaxRank; ++i) store_u32(out + f::dims + 4 * i, r.dims[i]);
  store_u32(out + f::reserved1, r.reserved1);
  store_u64(out + f::offset, r.offset);
}

bool tensor_data_size(const TensorRecord& tensor, std::uint64_t* elements, std::uint64_t* bytes) {
  std::uint64_t count = 1;
  const std::uint32_t rank = tensor.rank < kMaxRank ? tensor.rank : kMaxRank;
  for (std::uint32_t i = 0; i < rank; ++i) {
    if (!checked_mul(count, tensor.dims[i], &count)) return false;
  }
  const DType dtype = static_cast<DType>(tensor.dtype);
  std::uint64_t size = 0;
  if (!checked_mul(count, dtype_element_size(dtype), &size)) return false;
  if (dtype == DType::int8 && rank >= 1) {
    std::uint64_t scales = std::uint64_t(tensor.dims[0]) * 4;  // u32 * 4 cannot overflow 64 bits
    if (!checked_add(size, scales, &size)) return false;
  }
  *elements = count;
  *bytes = size;
  return true;
}

// ---- float16 -----------------------------------------------------------------------------------------------

std::uint16_t float_to_half(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, 4);
  const std::uint16_t sign = std::uint16_t((bits >> 16) & 0x8000u);
  const std::uint32_t magnitude = bits & 0x7FFFFFFFu;

  if (magnitude >= 0x7F800000u) {  // inf, or NaN (kept quiet, top payload bits kept)
    if (magnitude == 0x7F800000u) return sign | 0x7C00u;
    return std::uint16_t(sign | 0x7E00u | ((magnitude >> 13) & 0x3FFu));
  }
  if (magnitude >= 0x477FF000u) return sign | 0x7C00u;  // >= 65520: halfway above 65504 ties to even = inf

  const std::uint32_t exponent = magnitude >> 23;  // biased float32 exponent
  if (exponent < 113) {                            // below 2^-14: a half subnormal (in units of 2^-24) or zero
    if (exponent < 102) return sign;               // below 2^-25 (half the smallest subnormal): rounds to zero
    const std::uint32_t mantissa = (magnitude & 0x7FFFFFu) | 0x800000u;  // value = mantissa * 2^(exponent-150)
    const std::uint32_t shift = 126 - exponent;                          // 14..24
    std::uint32_t half = mantissa >> shift;
    const std::uint32_t rest = mantissa & ((1u << shift) - 1), midpoint = 1u << (shift - 1);
    if (rest > midpoint || (rest == midpoint && (half & 1u))) ++half;  // may carry into the smallest normal: right
    return std::uint16_t(sign | half);
  }
  // Normal half: rebias the exponent (127 -> 15), keep 10 mantissa bits, round the 13 dropped ones.
  std::uint32_t half = ((exponent - 112) << 10) | ((magnitude >> 13) & 0x3FFu);
  const std::uint32_t rest = magnitude & 0x1FFFu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // a carry into the exponent is right too
  return std::uint16_t(sign | half);
}

float half_to_float(std::uint16_t bits) {
  const std::uint32_t sign = std::uint32_t(bits & 0x8000u) << 16;
  std::uint32_t exponent = (bits >> 10) & 0x1Fu;
  std::uint32_t mantissa = bits & 0x3FFu;
  std::uint32_t result;
  if (exponent == 0x1F) {
    result = sign | 0x7F800000u | (mantissa << 13);  // inf, or NaN with its payload
  } else if (exponent != 0) {
    result = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    result = sign;
  } else {  // subnormal: mantissa * 2^-24, normalised for float32
    exponent = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --exponent;
    }
    result = sign | (exponent << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float value;
  std::memcpy(&value, &result, 4);
  return value;
}

// ---- int8 --------------------------------------------------------------------------------------------------

namespace {
// Ties to even without depending on the FPU rounding mode (std::nearbyint does). |x| <= 254 here.
float round_half_even(float x) {
  const float down = std::floor(x);
  const float fraction = x - down;  // exact for |x| < 2^23
  if (fraction > 0.5f) return down + 1.f;
  if (fraction < 0.5f) return down;
  return static_cast<int>(down) % 2 == 0 ? down : down + 1.f;
}
}  // namespace

void quantize_int8(const float* values, std::uint64_t rows, std::uint64_t row_size, float* scales,
                   std::int8_t* quantized) {
  for (std::uint64_t r = 0; r < rows; ++r) {
    const float* row = values + r * row_size;
    float largest = 0.f;
    for (std::uint64_t i = 0; i < row_size; ++i) {
      const float magnitude = std::fabs(row[i]);
      largest = magnitude > largest ? magnitude : largest;  // values are finite: no NaN to propagate
    }
    const float scale = largest / 127.f;
    scales[r] = scale;
    for (std::uint64_t i = 0; i < row_size; ++i) {
      float q = scale > 0.f ? round_half_even(row[i] / scale) : 0.f;
      q = q > 127.f ? 127.f : q < -127.f ? -127.f : q;
      quantized[r * row_size + i] = static_cast<std::int8_t>(q);
    }
  }
}

// ---- Checksums ---------------------------------------------------------------------------------------------

bool reseal_checksums(std::vector<std::uint8_t>& bytes) {
  if (bytes.size() < kHeaderSize) return false;
  const std::uint64_t declared = load_u64_le(bytes.data() + header_field::file_size);
  const std::uint64_t end = declared < bytes.size() ? declared : bytes.size();
  const std::uint64_t body_size = end > kHeaderSize ? end - kHeaderSize : 0;
  store_u32(bytes.data() + header_field::body_crc,
            crc32(ByteSpan(bytes.data() + kHeaderSize, static_cast<std::size_t>(body_size))));
  store_u32(bytes.data() + header_field::header_crc, crc32(ByteSpan(bytes.data(), header_field::header_crc)));
  return true;
}

}  // namespace digitlab::weights_format
