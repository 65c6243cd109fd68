// 4-lane float and int vectors in GCC/Clang's vector extension (SSE natively, wasm SIMD128 in the browser),
// and the three helpers every kernel file uses on them. Private to shared/src. Read next: kernels.cpp.
#pragma once

#include <cstdint>
#include <cstring>

namespace digitlab::vec4 {

typedef float f32x4 __attribute__((vector_size(16)));
typedef std::int32_t i32x4 __attribute__((vector_size(16)));

// Unaligned loads and stores through memcpy: no alignment assumed, and the compiler emits one movups.
inline f32x4 load4(const float* p) {
  f32x4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store4(float* p, f32x4 v) { std::memcpy(p, &v, sizeof v); }
// Broadcast by construction, not by `f32x4{} + s`: adding +0 would turn -0 into +0.
inline f32x4 splat(float s) { return f32x4{s, s, s, s}; }

}  // namespace digitlab::vec4
