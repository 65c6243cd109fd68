// Whether conv_wide_x86.cpp's AVX2 kernel may run: this file is compiled WITHOUT -mavx2, so the check
// itself runs on any x86-64 machine.
#include <atomic>

#include "conv_wide.hpp"

namespace digitlab {
namespace kernels {
namespace {

std::atomic<bool> wide_enabled{true};

bool machine_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") != 0;
  return has;
}

}  // namespace

void set_wide_kernels(bool enabled) { wide_enabled.store(enabled, std::memory_order_relaxed); }

bool wide_kernels_active() { return wide_enabled.load(std::memory_order_relaxed) && machine_has_avx2(); }

}  // namespace kernels
}  // namespace digitlab
