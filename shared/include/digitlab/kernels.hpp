// The hot loops of forward(): weights packed once for register-blocked "axpy" kernels (linear, conv2d),
// fused bias + batch_norm + activation epilogues, pooling and layout changes, and a deterministic exp.
// Used by model.cpp and the benchmark. Read next: shared/src/model.cpp, docs/core.md (with the measurements).
//
// Why this shape:
// - The innermost loops always run over INDEPENDENT outputs (out[j] += w[k][j] * x[k]); each output adds
//   its terms in one fixed order on every platform. With -ffp-contract=off (CMakeLists.txt) the native
//   and the WebAssembly builds therefore give bit-identical results.
// - Eigen 3.4 is unvectorised under Emscripten (-msimd128) and its matrix-vector product was 3x slower
//   than these kernels natively (bench_core "mlp/eigen"); GCC 12 keeps a plain-loop accumulator array in
//   memory (a load and a store per term). GCC/Clang vector types (f32x4; no intrinsics, no #ifdef) keep
//   the accumulators in registers and become SSE2 natively and SIMD128 in wasm. Eigen::Map still views
//   the PyTorch-ordered tensors when packing.
// - Skip vectors: a layer adds w * (x - skip) only for inputs x that differ from skip, and starts from a
//   bias that already holds the skipped inputs' share (bias + sum w * skip, summed in double). The sum is
//   algebraically the same. skip is 0 after a ReLU; for convolutions (per pixel) and a first linear layer
//   it is what the input looks like on blank paper, so the background of a drawing costs nothing --
//   including near the borders, where zero padding makes blank paper look different.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>

namespace digitlab {
namespace kernels {

// Page-aligned storage for weight rows: a 4 KB row (1024 float outputs) then fills exactly one page, and
// the hardware prefetcher, which follows a stream only within a page, never restarts inside a row.
template <class T>
struct PageAlignedAllocator {
  using value_type = T;
  static constexpr std::align_val_t kAlignment{4096};
  PageAlignedAllocator() = default;
  template <class U>
  PageAlignedAllocator(const PageAlignedAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) { return static_cast<T*>(::operator new(n * sizeof(T), kAlignment)); }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, kAlignment); }
  template <class U>
  bool operator==(const PageAlignedAllocator<U>&) const noexcept { return true; }
  template <class U>
  bool operator!=(const PageAlignedAllocator<U>&) const noexcept { return false; }
};

constexpr int kPanelWidth = 32;  // conv outputs per register block: 8 vectors of 4 floats

// A convolution packed for conv2d_hwc(), for one input size. Outputs come in panels of kPanelWidth (8
// accumulator vectors); the last panel is narrower when out_channels is not a multiple of 32 (rounded up
// to 4 lanes).
struct PackedConv {
  int in_channels = 0, out_channels = 0, kernel = 1, stride = 1, padding = 0;
  int in_h = 0, in_w = 0, out_h = 0, out_w = 0;
  int panels = 0;      // ceil(out_channels / kPanelWidth)
  int out_stride = 0;  // out_channels rounded up to 4
  // Panel p: (kernel, kernel, in_channels, panel_width(p)) at weights[p * kernel^2 * in_channels * 32].
  std::vector<float> weights;
  std::vector<float> skip;      // (in_h, in_w, in_channels): input values whose terms are left out
  std::vector<float> bias_map;  // (out_h * out_w, out_stride): bias + conv(skip), per output pixel
  // Per input pixel whose skip values are not all zero: (in_h * in_w, kernel^2, out_stride), that
  // pixel's share of bias_map through each tap (zeros where the tap leaves the output). Near the ink many
  // inputs differ from blank paper but are 0 after a ReLU; for such a pixel conv2d_hwc() takes the
  // nonzero inputs whole and subtracts this share from the start values instead (empty: never).
  std::vector<float> skip_share;

  int panel_width(int panel) const {
    const int lanes = out_channels - panel * kPanelWidth;
    return lanes >= kPanelWidth ? kPanelWidth : (lanes + 3) / 4 * 4;
  }
};

// weight (out, in, k, k) and bias (out) as PyTorch stores them; skip (in_h, in_w, in_channels) or nullptr
// for zeros. The bias map is the convolution of the skip image, zero padding included.
PackedConv pack_conv2d(const float* weight, const float* bias, int in_channels, int out_channels, int kernel,
                       int stride, int padding, int in_h, int in_w, const float* skip);

// A linear layer packed for linear(): weight transposed to (in, out) rows, so each input that is not
// skipped reads one contiguous row (the hardware prefetcher's favourite pattern: the deep MLP's 10 MB of
// weights do not fit in L2 and stream from L3).
struct PackedLinear {
  int in_features = 0, out_features = 0;
  int row_stride = 0;          // out_features rounded up to 4
  std::vector<float, PageAlignedAllocator<float>> weights;  // (in_features, row_stride), zero padded
  std::vector<float> skip;     // (in_features)
  std::vector<float> bias;     // (row_stride): bias + the skipped share
};
// weight (out, in) and bias (out); skip (in) or nullptr for zeros.
PackedLinear pack_linear(const float* weight, const float* bias, int in_features, int out_features,
                         const float* skip);

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
  std::vector<int> index, count;  // conv: count[q] = where input pixel q's entries start
  std::vector<float> value;  // input - skip, broadcast at use (4 stored copies measured slower in wasm)
  std::vector<float> sums;   // single-channel convolutions: every output's sum; else corrected start values
  std::vector<float> zeros;  // a zero skip pixel
};

// input (in_h, in_w, in_channels) -> output (out_h, out_w, out_channels), both channels-last; the
// epilogue ops run on each output block in registers before it is stored. pool > 0 fuses a following
// max-pool with kernel = stride = pool: output is then (out_h / pool, out_w / pool, out_channels), and
// conv outputs the pooling never reads (the CNN's 7x7 -> 3x3 drops a row and a column) are not computed.
void conv2d_hwc(const PackedConv& conv, const float* input, float* output, const Elementwise* const* epilogue,
                int epilogue_count, int pool, Scratch& scratch);

// Convolution panels run with 8-float vectors (AVX2) on x86-64 machines that have them, with 4-float
// vectors elsewhere (SSE2, wasm SIMD128): the same bits either way (conv_panel.inc says why).
// set_wide_kernels(false) keeps to 4 floats (for comparisons); wide_kernels_active() says which runs.
void set_wide_kernels(bool enabled);
bool wide_kernels_active();

// output (out_features) = bias + weight x, then the epilogue ops.
void linear(const PackedLinear& layer, const float* input, float* output, const Elementwise* const* epilogue,
            int epilogue_count, Scratch& scratch);

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
