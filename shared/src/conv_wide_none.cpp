// Builds without an 8-float kernel (wasm, non-x86 machines): conv2d_hwc() always runs its 4-float one.
#include "conv_wide.hpp"

namespace digitlab {
namespace kernels {

void set_wide_kernels(bool) {}

bool wide_kernels_active() { return false; }

bool conv_panel_wide(int, const PackedConv&, const float*, int, float*, const Elementwise* const*, int, int, const int*,
                     const int*, const float*, const float*, bool) {
  return false;
}

}  // namespace kernels
}  // namespace digitlab
