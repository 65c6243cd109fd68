// What the weights reader and writer share: tensor roles and names, the card's text rule, element decoding
// (the writer decodes quantised tensors back the way the reader will). Internal to shared/src.
// Read next: weights_reader.cpp, weights_writer.cpp.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

#include "digitlab/bytes.hpp"
#include "digitlab/model.hpp"
#include "digitlab/weights.hpp"
#include "digitlab/weights_format.hpp"

namespace digitlab::weights_detail {

namespace wf = weights_format;

inline const char* tensor_role(LayerKind kind, std::size_t slot) {
  static const char* const kWeightBias[] = {"weight", "bias"};
  static const char* const kNorm[] = {"gamma", "beta", "running_mean", "running_var"};
  if ((kind == LayerKind::linear || kind == LayerKind::conv2d) && slot < 2) return kWeightBias[slot];
  if (kind == LayerKind::batch_norm && slot < 4) return kNorm[slot];
  return "tensor";
}

// The writer stores these in WriteOptions::dtype; everything else (biases, norms) stays float32.
inline bool is_weight_matrix(LayerKind kind, std::size_t slot) {
  return slot == 0 && (kind == LayerKind::linear || kind == LayerKind::conv2d);
}

inline std::string tensor_name(std::size_t layer, LayerKind kind, std::size_t slot) {
  return "layer[" + std::to_string(layer) + "]." + tensor_role(kind, slot);
}

inline std::string float_text(float value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", static_cast<double>(value));
  return text;
}

// UTF-8 (no overlongs, no surrogates, <= U+10FFFF) without control characters (C0, DEL, C1) or line and
// paragraph separators (U+2028, U+2029): card strings are one-line
// labels that the page and the terminal print as they are.
inline bool is_plain_text(const std::uint8_t* p, std::size_t n) {
  std::size_t i = 0;
  while (i < n) {
    const std::uint8_t c = p[i];
    if (c < 0x20 || c == 0x7F) return false;
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t extra;
    std::uint32_t code;
    if (c >= 0xC2 && c <= 0xDF)
      extra = 1, code = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF)
      extra = 2, code = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4)
      extra = 3, code = c & 0x07;
    else
      return false;
    if (n - i <= extra) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((p[i + k] & 0xC0) != 0x80) return false;
      code = (code << 6) | (p[i + k] & 0x3F);
    }
    if ((extra == 2 && (code < 0x800 || (code >= 0xD800 && code <= 0xDFFF))) ||
        (extra == 3 && (code < 0x10000 || code > 0x10FFFF)))
      return false;
    // C1 controls (NEL among them) and the Unicode line and paragraph separators break a line too.
    if ((code >= 0x80 && code <= 0x9F) || code == 0x2028 || code == 0x2029) return false;
    i += extra + 1;
  }
  return true;
}

inline float load_f32(const std::uint8_t* p) {
  const std::uint32_t bits = load_u32_le(p);
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

// Decodes one tensor's data (already bounds-checked) into float32. Returns `count` when every value is
// finite, else the index of the first non-finite value, or (with *bad_scale set) the row of the first int8
// scale that is not a finite number >= 0.
// The writer uses the same function to build the model "as it will be read".
inline std::uint64_t decode_values(const std::uint8_t* data, DType dtype, std::uint64_t count, std::uint64_t rows, float* out,
                            bool* bad_scale) {
  *bad_scale = false;
  switch (dtype) {
    case DType::float32:
      for (std::uint64_t i = 0; i < count; ++i) {
        out[i] = load_f32(data + 4 * i);
        if (!std::isfinite(out[i])) return i;
      }
      return count;
    case DType::float16:
      for (std::uint64_t i = 0; i < count; ++i) {
        out[i] = wf::half_to_float(load_u16_le(data + 2 * i));
        if (!std::isfinite(out[i])) return i;
      }
      return count;
    case DType::int8: {
      const std::uint64_t row_size = count / rows;  // rows = dims[0] >= 1 divides the element count
      const std::uint8_t* values = data + 4 * rows;
      for (std::uint64_t r = 0; r < rows; ++r) {
        const float scale = load_f32(data + 4 * r);
        if (!std::isfinite(scale) || scale < 0.f) {
          *bad_scale = true;
          return r;
        }
        for (std::uint64_t i = r * row_size; i < (r + 1) * row_size; ++i) {
          out[i] = static_cast<float>(static_cast<std::int8_t>(values[i])) * scale;
          if (!std::isfinite(out[i])) return i;  // a finite but huge scale times q overflows (found by fuzzing)
        }
      }
      return count;
    }
  }
  return 0;
}

}  // namespace digitlab::weights_detail
