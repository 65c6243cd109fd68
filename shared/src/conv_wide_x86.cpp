// The convolution kernel with 8-float vectors, compiled with -mavx2 (shared/CMakeLists.txt). Nothing here
// may run before conv_wide_detect_x86.cpp has seen AVX2 on this machine, and nothing here has external
// linkage but conv_panel_wide(): an AVX2 copy of an inline function must never stand in for the SSE2 one.
#include <cstddef>
#include <cstring>
#include <type_traits>

#include "conv_wide.hpp"

namespace digitlab {
namespace kernels {
namespace {

typedef float f32x8 __attribute__((vector_size(32)));

#include "conv_panel.inc"

}  // namespace

bool conv_panel_wide(int width, const PackedConv& conv, const float* panel_weights, int first, float* output,
                     const Elementwise* const* epilogue, int epilogue_count, int pool, const int* count,
                     const int* index, const float* value, const float* start, bool complete) {
  auto run = [&](auto vectors) {
    conv_panel<f32x8, decltype(vectors)::value, true>(conv, panel_weights, first, output, epilogue, epilogue_count, pool,
                                                      count, index, value, start, complete);
    return true;
  };
  switch (width) {
    case 8: return run(std::integral_constant<int, 1>{});
    case 16: return run(std::integral_constant<int, 2>{});
    case 24: return run(std::integral_constant<int, 3>{});
    case 32: return run(std::integral_constant<int, 4>{});
    default: return false;
  }
}

}  // namespace kernels
}  // namespace digitlab
