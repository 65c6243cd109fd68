// The 8-float (AVX2) copy of the convolution kernel, used by conv2d_hwc() on x86-64 machines that have
// AVX2. Internal to the core. CMake builds conv_wide_x86.cpp (+ conv_wide_detect_x86.cpp) there and
// conv_wide_none.cpp everywhere else (wasm included), so no source needs an #ifdef.
#pragma once

#include "digitlab/kernels.hpp"

namespace digitlab {
namespace kernels {

// Runs one conv panel `width` lanes wide with 8-float vectors and returns true, or returns false (width
// not a multiple of 8, or no wide kernel in this build) and the caller runs its 4-float kernel. Arguments
// as conv_panel() in conv_panel.inc. Call only when wide_kernels_active().
bool conv_panel_wide(int width, const PackedConv& conv, const float* panel_weights, int first, float* output,
                     const Elementwise* const* epilogue, int epilogue_count, int pool, const int* count,
                     const int* index, const float* value, const float* start, bool complete);

}  // namespace kernels
}  // namespace digitlab
