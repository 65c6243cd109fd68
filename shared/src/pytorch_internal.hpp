// Shared by the PyTorch readers (pytorch_read.cpp, pickle.cpp, safetensors.cpp): element sizes, dtype
// conversion, and the entry points each reader gives read_state_dict. Read next: pickle.cpp.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

#include "digitlab/pytorch.hpp"
#include "digitlab/zip.hpp"

namespace digitlab::pytorch::detail {

inline std::uint32_t element_size(TensorDType dtype) {
  switch (dtype) {
    case TensorDType::float16:
    case TensorDType::bfloat16: return 2;
    case TensorDType::float64:
    case TensorDType::int64: return 8;
    default: return 4;
  }
}

inline float half_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000) << 16;
  std::uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF, bits;
  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      exponent = 127 - 15 + 1;
      while (!(mantissa & 0x400)) mantissa <<= 1, --exponent;
      bits = sign | (exponent << 23) | ((mantissa & 0x3FF) << 13);
    }
  } else if (exponent == 31) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline float bfloat16_to_float(std::uint16_t b) {
  const std::uint32_t bits = std::uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

// One element of `dtype` at p (little-endian) as float32; int64 goes through read_integer instead.
inline float read_float(TensorDType dtype, const std::uint8_t* p) {
  switch (dtype) {
    case TensorDType::float16: return half_to_float(load_u16_le(p));
    case TensorDType::bfloat16: return bfloat16_to_float(load_u16_le(p));
    case TensorDType::float64: {
      const std::uint64_t bits = load_u64_le(p);
      double d;
      std::memcpy(&d, &bits, 8);
      return static_cast<float>(d);
    }
    case TensorDType::int64: return static_cast<float>(static_cast<std::int64_t>(load_u64_le(p)));
    default: {
      const std::uint32_t bits = load_u32_le(p);
      float f;
      std::memcpy(&f, &bits, 4);
      return f;
    }
  }
}

// The pickle of a torch.save archive (data.pkl) -> the named tensors, unwrapped; storages are the entries
// `<root>/data/<key>` of the archive. pickle_offset is data.pkl's position in the file, for error offsets.
Result<StateDict> read_torch_pickle(ByteSpan file, const zip::Archive& archive, const std::string& root,
                                    const zip::Entry& pickle, const ReadLimits& limits);

// A .safetensors file (already recognised by its header) -> the named tensors.
Result<StateDict> read_safetensors(ByteSpan file, const ReadLimits& limits);
bool looks_like_safetensors(ByteSpan file);

// Removes the wrappers' key prefixes ("module.", "_orig_mod.") shared by every name; notes what was done.
Status remove_prefixes(StateDict& state);

}  // namespace digitlab::pytorch::detail
