// The hot loops of forward(): weights packed once for a register-blocked "axpy" kernel shared by linear
// and conv2d, fused bias + batch_norm + activation epilogues, pooling and layout changes, and a
// deterministic exp. Used by model.cpp and the benchmark. Read next: model.cpp, docs/core.md.
//
// Why this shape (measured, docs/benchmarks.md):
// - The innermost loop always runs over 32 INDEPENDENT outputs (out[j] += w[k][j] * x[k]); each output
//   sums its terms in one fixed order on every platform. With -ffp-contract=off (CMakeLists.txt) the
//   native and the WebAssembly builds therefore give bit-identical results.
// - Eigen 3.4 is unvectorised under Emscripten (-msimd128), and GCC 12 keeps a plain-loop accumulator
//   array in memory (a load and a store per term). GCC/Clang vector types (f32x4 below; no intrinsics,
//   no #ifdef) keep the 8 accumulators in registers and become SSE2 natively and SIMD128 in wasm.
// - Terms whose input is the "skip value" are skipped: 0 after a ReLU, and for a first linear layer the
//   blank pixel (-mean/std), with that constant's share folded into the bias. The sum is algebraically
//   the same; only which terms are added changes (results stay identical across platforms).
#pragma once

#include <cstdint>
#include <vector>

namespace digitlab {
namespace kernels {

constexpr int kPanelWidth = 32;  // outputs per register block: 8 vectors of 4 floats

// A convolution, or a linear layer (kernel 1 on a 1x1 image), packed for conv2d_hwc(). Outputs come in
// panels of kPanelWidth; the last panel is narrower when out_channels is not a multiple of 32 (rounded
// up to 4), so a 10-class layer computes 12 lanes, not 32.
struct PackedConv {
  int in_channels = 0, out_channels = 0, kernel = 1, stride = 1, padding = 0;
  int panels = 0;           // ceil(out_channels / kPanelWidth)
  float skip_value = 0.f;   // inputs equal to this contribute nothing (their share is in bias)
  // Panel p: (kernel, kernel, in_channels, panel_width(p)) at weights[p * kernel^2 * in_channels * 32].
  std::vector<float> weights;
  std::vector<float> bias;  // (out_channels rounded up to 4), zero padded

  int panel_width(int panel) const {
    const int lanes = out_channels - panel * kPanelWidth;
    return lanes >= kPanelWidth ? kPanelWidth : (lanes + 3) / 4 * 4;
  }
};

// weight (out, in, k, k) and bias (out) as PyTorch stores them.
PackedConv pack_conv2d(const float* weight, const float* bias, int in_channels, int out_channels, int kernel,
                       int stride, int padding);
// weight (out, in), bias (out). skip_value: see above; pass 0 unless every input is a model input.
PackedConv pack_linear(const float* weight, const float* bias, int in_features, int out_features,
                       float skip_value);

// An elementwise layer that can run on its own or fused into a conv/linear epilogue.
struct Elementwise {
  enum class Op { identity, batch_norm, relu, leaky_relu, sigmoid, tanh };
  Op op = Op::identity;
  float alpha = 0.f;                     // leaky_relu
  std::vector<float> mean, scale, beta;  // batch_norm: scale = gamma / sqrt(running_var + eps)
};
Elementwise make_batch_norm(const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, int channels, float eps);

// Applies `op` to count consecutive values whose channels are first_channel, first_channel+1, ...
void apply_to_channels(const Elementwise& op, float* values, int first_channel, int count);
// Applies `op` to values laid out as (outer, channels, inner).
void apply_elementwise(const Elementwise& op, float* values, std::int64_t outer, std::int64_t channels,
                       std::int64_t inner);

// Reused buffers (the sparse input lists); forward() keeps one per thread so it does not allocate.
struct Scratch {
  std::vector<int> index, count;
  std::vector<float> value;
};

// input (height, width, in_channels) -> output (out_h, out_w, out_channels), both channels-last;
// the epilogue ops run on each output block while it is still in registers' reach.
void conv2d_hwc(const PackedConv& conv, const float* input, int height, int width, float* output, int out_h,
                int out_w, const Elementwise* const* epilogue, int epilogue_count, Scratch& scratch);

// Channels-last max pooling (floors like PyTorch's MaxPool2d).
void max_pool_hwc(const float* input, int channels, int height, int width, int kernel, int stride, float* output,
                  int out_h, int out_w);

// Layout changes between (C, H, W) and (H, W, C).
void chw_to_hwc(const float* input, int channels, int height, int width, float* output);
void hwc_to_chw(const float* input, int channels, int height, int width, float* output);

// exp with the same bits on every platform (libm's expf differs between glibc and Emscripten's musl);
// within about 2 ulp of the true value.
float exp_deterministic(float x);
// Softmax over consecutive groups of `group` values (max subtracted first).
void softmax(float* values, std::int64_t count, std::int64_t group);

}  // namespace kernels
}  // namespace digitlab
