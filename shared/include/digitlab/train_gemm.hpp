// The matrix product behind training (train.hpp): C = [C +] A * B with any strides for A and B, register
// blocked with GCC/Clang vector types. Read next: shared/src/train_gemm.cpp, shared/src/train.cpp.
//
// Why not Eigen's GEMM: its blocking depends on the cache sizes it detects and its summation order on the
// SIMD width it was compiled for, so native and wasm would give different bits. Here every C(i, j) adds
// its K terms one after another in k order, starting from C(i, j) (accumulate) or from 0: one fixed
// order on every machine, and with -ffp-contract=off the same bits natively and in wasm.
#pragma once

#include <cstddef>
#include <vector>

namespace digitlab {
namespace train_gemm {

// A matrix read through strides: element (row, column) is data[row * row_stride + column * column_stride],
// so a transposed operand is the same memory with the strides swapped.
struct MatrixView {
  const float* data = nullptr;
  std::ptrdiff_t row_stride = 0, column_stride = 1;
};

// Reused packing buffers (one per caller; gemm() grows them as needed and never shrinks them).
struct Scratch {
  std::vector<float> packed_a, packed_b;
};

// c (m, n), row-major with leading dimension ldc: c = (accumulate ? c : 0) + a (m, k) * b (k, n).
void gemm(int m, int n, int k, MatrixView a, MatrixView b, float* c, std::ptrdiff_t ldc, bool accumulate,
          Scratch& scratch);

// y[i] += scale * x[i] for i < n, each element once (the sparse first-layer products in train.cpp).
void add_scaled(float* y, const float* x, float scale, int n);

}  // namespace train_gemm
}  // namespace digitlab
