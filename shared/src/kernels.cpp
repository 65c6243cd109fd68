// The hot loops behind forward(): packing, the register-blocked conv kernel and the streaming linear kernel
// with fused epilogues, pooling, layout changes, deterministic exp and softmax. Read kernels.hpp first.
//
// Sections: 1. vector helpers  2. packing  3. elementwise ops  4. conv2d_hwc and linear
//           5. pooling and layouts  6. exp and softmax
#include "digitlab/kernels.hpp"

#include "conv_wide.hpp"
#include "vec4.hpp"

#include <Eigen/Core>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

namespace digitlab {
namespace kernels {

// ---- 1. Vector helpers ------------------------------------------------------------------------------
// A GCC/Clang vector of 4 floats: SSE2 natively, SIMD128 under Emscripten (-msimd128). memcpy gives
// unaligned loads and stores without breaking aliasing rules.
using vec4::f32x4;
using vec4::i32x4;
using vec4::load4;
using vec4::splat;
using vec4::store4;

namespace {


using RowMajorMatrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

}  // namespace

// ---- 2. Packing -------------------------------------------------------------------------------------

namespace {

bool all_finite(const std::vector<float>& values) {
  for (float v : values)
    if (!std::isfinite(v)) return false;
  return true;
}

// Calls visit(tap, output pixel) for every output that input pixel (iy, ix) reaches, taps in (ky, kx)
// order: output (oy, ox) reads input (oy * stride + ky - padding, ox * stride + kx - padding).
template <class Visit>
inline void for_each_reached_output(const PackedConv& conv, int iy, int ix, Visit visit) {
  for (int ky = 0; ky < conv.kernel; ++ky) {
    const int oy_scaled = iy + conv.padding - ky;  // = oy * stride
    if (oy_scaled < 0 || oy_scaled % conv.stride != 0 || oy_scaled / conv.stride >= conv.out_h) continue;
    for (int kx = 0; kx < conv.kernel; ++kx) {
      const int ox_scaled = ix + conv.padding - kx;
      if (ox_scaled < 0 || ox_scaled % conv.stride != 0 || ox_scaled / conv.stride >= conv.out_w) continue;
      visit(static_cast<std::size_t>(ky) * conv.kernel + kx,
            static_cast<std::size_t>(oy_scaled / conv.stride) * conv.out_w + ox_scaled / conv.stride);
    }
  }
}

// Part 1 of pack_conv2d: the sizes, and the weights (out, in, ky, kx) reordered per panel to
// (ky, kx, in, lane): the lane (output within the panel) is innermost.
PackedConv pack_conv2d_weights(const float* weight, int in_channels, int out_channels, int kernel, int stride,
                               int padding, int in_h, int in_w) {
  PackedConv packed;
  packed.in_channels = in_channels;
  packed.out_channels = out_channels;
  packed.kernel = kernel;
  packed.stride = stride;
  packed.padding = padding;
  packed.in_h = in_h;
  packed.in_w = in_w;
  packed.out_h = (in_h + 2 * padding - kernel) / stride + 1;
  packed.out_w = (in_w + 2 * padding - kernel) / stride + 1;
  packed.panels = (out_channels + kPanelWidth - 1) / kPanelWidth;
  packed.out_stride = (out_channels + 3) / 4 * 4;
  const std::size_t taps = static_cast<std::size_t>(kernel) * kernel;
  const std::size_t panel_stride = taps * in_channels * kPanelWidth;
  packed.weights.assign(panel_stride * (packed.panels - 1) + taps * in_channels * packed.panel_width(packed.panels - 1),
                        0.f);
  for (int o = 0; o < out_channels; ++o) {
    const int panel = o / kPanelWidth, lane = o % kPanelWidth, width = packed.panel_width(panel);
    float* panel_weights = packed.weights.data() + panel * panel_stride;
    for (int c = 0; c < in_channels; ++c) {
      for (std::size_t tap = 0; tap < taps; ++tap) {
        panel_weights[(tap * in_channels + c) * width + lane] =
            weight[(static_cast<std::size_t>(o) * in_channels + c) * taps + tap];
      }
    }
  }
  return packed;
}

// Part 2: the skip image (zeros without one) and the bias map, the convolution of the skip image (the
// input as blank paper makes it), computed in double over the packed weights in a fixed order and rounded
// once: what every output holds before the terms of the inputs that differ from the skip image.
void pack_conv2d_bias_map(PackedConv& packed, const float* bias, const float* skip) {
  const int in_channels = packed.in_channels, out_channels = packed.out_channels, kernel = packed.kernel;
  const int stride = packed.stride, padding = packed.padding, in_h = packed.in_h, in_w = packed.in_w;
  const std::size_t panel_stride = static_cast<std::size_t>(kernel) * kernel * in_channels * kPanelWidth;
  const std::size_t skip_size = static_cast<std::size_t>(in_h) * in_w * in_channels;
  packed.skip.assign(skip_size, 0.f);
  if (skip != nullptr) packed.skip.assign(skip, skip + skip_size);
  packed.bias_map.assign(static_cast<std::size_t>(packed.out_h) * packed.out_w * packed.out_stride, 0.f);
  std::vector<double> sum(static_cast<std::size_t>(packed.panels) * kPanelWidth);
  for (int oy = 0; oy < packed.out_h; ++oy) {
    for (int ox = 0; ox < packed.out_w; ++ox) {
      std::fill(sum.begin(), sum.end(), 0.0);
      for (int o = 0; o < out_channels; ++o) sum[o] = bias[o];
      for (int ky = 0; ky < kernel; ++ky) {
        const int iy = oy * stride + ky - padding;
        if (iy < 0 || iy >= in_h) continue;
        for (int kx = 0; kx < kernel; ++kx) {
          const int ix = ox * stride + kx - padding;
          if (ix < 0 || ix >= in_w) continue;
          const float* pixel = packed.skip.data() + (static_cast<std::size_t>(iy) * in_w + ix) * in_channels;
          const std::size_t tap = static_cast<std::size_t>(ky) * kernel + kx;
          for (int c = 0; c < in_channels; ++c) {
            if (pixel[c] == 0.f) continue;
            const double x = pixel[c];
            for (int panel = 0; panel < packed.panels; ++panel) {
              const int width = packed.panel_width(panel);
              const float* w = packed.weights.data() + panel * panel_stride + (tap * in_channels + c) * width;
              double* out = sum.data() + panel * kPanelWidth;
              for (int lane = 0; lane < width; ++lane) out[lane] += double(w[lane]) * x;
            }
          }
        }
      }
      float* row = packed.bias_map.data() + (static_cast<std::size_t>(oy) * packed.out_w + ox) * packed.out_stride;
      for (int o = 0; o < out_channels; ++o) row[o] = static_cast<float>(sum[o]);
    }
  }
}

// Part 3: each pixel's share of the bias map, through each tap: sum_c w[tap][c] * skip[c], in double,
// rounded once. Only where some skip value is not zero, and only up to 16 MB (a wide layer with many input
// pixels just does without: conv2d_hwc then always skips blank paper).
void pack_conv2d_skip_share(PackedConv& packed, bool skip_given) {
  const int in_channels = packed.in_channels, out_channels = packed.out_channels, in_h = packed.in_h, in_w = packed.in_w;
  const std::size_t taps = static_cast<std::size_t>(packed.kernel) * packed.kernel;
  const std::size_t panel_stride = taps * in_channels * kPanelWidth;
  constexpr std::size_t kMaxShareFloats = std::size_t(1) << 22;
  const std::size_t share_floats = static_cast<std::size_t>(in_h) * in_w * taps * packed.out_stride;
  const bool any_skip = std::any_of(packed.skip.begin(), packed.skip.end(), [](float v) { return v != 0.f; });
  if (skip_given && any_skip && in_channels > 1 && share_floats <= kMaxShareFloats) {
    packed.skip_share.assign(share_floats, 0.f);
    std::vector<double> share(static_cast<std::size_t>(packed.out_stride));
    for (int iy = 0; iy < in_h; ++iy) {
      for (int ix = 0; ix < in_w; ++ix) {
        const std::size_t q = static_cast<std::size_t>(iy) * in_w + ix;
        const float* pixel = packed.skip.data() + q * in_channels;
        for_each_reached_output(packed, iy, ix, [&](std::size_t tap, std::size_t) {
          std::fill(share.begin(), share.end(), 0.0);
          for (int c = 0; c < in_channels; ++c) {
            if (pixel[c] == 0.f) continue;
            for (int panel = 0; panel < packed.panels; ++panel) {
              const int width = packed.panel_width(panel);
              const float* w = packed.weights.data() + panel * panel_stride + (tap * in_channels + c) * width;
              for (int lane = 0; lane < width; ++lane) share[panel * kPanelWidth + lane] += double(w[lane]) * pixel[c];
            }
          }
          float* out = packed.skip_share.data() + (q * taps + tap) * packed.out_stride;
          for (int o = 0; o < out_channels; ++o) out[o] = static_cast<float>(share[o]);
        });
      }
    }
  }
}

}  // namespace

PackedConv pack_conv2d(const float* weight, const float* bias, int in_channels, int out_channels, int kernel,
                       int stride, int padding, int in_h, int in_w, const float* skip) {
  PackedConv packed = pack_conv2d_weights(weight, in_channels, out_channels, kernel, stride, padding, in_h, in_w);
  pack_conv2d_bias_map(packed, bias, skip);
  pack_conv2d_skip_share(packed, skip != nullptr);
  // Blank paper that overflows somewhere (absurd weights) would poison every input: skip zeros instead.
  if (skip != nullptr &&
      (!all_finite(packed.skip) || !all_finite(packed.bias_map) || !all_finite(packed.skip_share))) {
    return pack_conv2d(weight, bias, in_channels, out_channels, kernel, stride, padding, in_h, in_w, nullptr);
  }
  return packed;
}

PackedLinear pack_linear(const float* weight, const float* bias, int in_features, int out_features,
                         const float* skip) {
  PackedLinear packed;
  packed.in_features = in_features;
  packed.out_features = out_features;
  packed.row_stride = (out_features + 3) / 4 * 4;
  packed.weights.assign(static_cast<std::size_t>(in_features) * packed.row_stride, 0.f);
  packed.bias.assign(static_cast<std::size_t>(packed.row_stride), 0.f);
  const Eigen::Map<const RowMajorMatrix> w(weight, out_features, in_features);  // (out, in)
  Eigen::Map<RowMajorMatrix> rows(packed.weights.data(), in_features, packed.row_stride);  // (in, out)
  rows.leftCols(out_features) = w.transpose();
  packed.skip.assign(static_cast<std::size_t>(in_features), 0.f);
  if (skip != nullptr) packed.skip.assign(skip, skip + in_features);
  // bias + w * skip, in double, in a fixed order (not Eigen's product, whose order depends on the SIMD
  // it was compiled for), rounded once.
  for (int o = 0; o < out_features; ++o) {
    double sum = bias[o];
    for (int k = 0; k < in_features; ++k) {
      if (packed.skip[k] != 0.f) sum += double(w(o, k)) * double(packed.skip[k]);
    }
    packed.bias[o] = static_cast<float>(sum);
  }
  if (skip != nullptr && (!all_finite(packed.skip) || !all_finite(packed.bias))) {
    return pack_linear(weight, bias, in_features, out_features, nullptr);
  }
  return packed;
}

// ---- 3. Elementwise ops -------------------------------------------------------------------------------

Elementwise make_batch_norm(const float* gamma, const float* beta, const float* running_mean,
                            const float* running_var, int channels, float eps) {
  Elementwise op;
  op.op = Elementwise::Op::batch_norm;
  // Padded with zeros to a multiple of 4 so the conv epilogue can read whole vectors.
  const std::size_t padded = static_cast<std::size_t>(channels + 3) / 4 * 4;
  op.mean.assign(padded, 0.f);
  op.beta.assign(padded, 0.f);
  op.scale.assign(padded, 0.f);
  std::copy(running_mean, running_mean + channels, op.mean.begin());
  std::copy(beta, beta + channels, op.beta.begin());
  // Same float operations as the unfused formula, so fused and unfused results agree bit for bit.
  for (int c = 0; c < channels; ++c) op.scale[c] = gamma[c] / std::sqrt(running_var[c] + eps);
  return op;
}

namespace {

inline float sigmoid(float x) { return 1.f / (1.f + exp_deterministic(-x)); }

inline float tanh_deterministic(float x) {
  // tanh|x| = (1 - e^-2|x|) / (1 + e^-2|x|): no overflow; absolute error about 1e-7 near 0.
  const float magnitude = std::fabs(x);
  const float t = exp_deterministic(-2.f * magnitude);
  const float result = (1.f - t) / (1.f + t);
  return x < 0.f ? -result : result;
}

}  // namespace

void apply_to_channels(const Elementwise& op, float* v, int first_channel, int count) {
  switch (op.op) {
    case Elementwise::Op::identity:
      break;
    case Elementwise::Op::batch_norm: {
      const float* mean = op.mean.data() + first_channel;
      const float* scale = op.scale.data() + first_channel;
      const float* beta = op.beta.data() + first_channel;
      for (int i = 0; i < count; ++i) v[i] = (v[i] - mean[i]) * scale[i] + beta[i];
      break;
    }
    case Elementwise::Op::relu:
      for (int i = 0; i < count; ++i) v[i] = v[i] > 0.f ? v[i] : 0.f;
      break;
    case Elementwise::Op::leaky_relu:
      for (int i = 0; i < count; ++i) v[i] = v[i] > 0.f ? v[i] : v[i] * op.alpha;
      break;
    case Elementwise::Op::sigmoid:
      for (int i = 0; i < count; ++i) v[i] = sigmoid(v[i]);
      break;
    case Elementwise::Op::tanh:
      for (int i = 0; i < count; ++i) v[i] = tanh_deterministic(v[i]);
      break;
  }
}

void apply_elementwise(const Elementwise& op, float* values, std::int64_t outer, std::int64_t channels,
                       std::int64_t inner) {
  if (op.op != Elementwise::Op::batch_norm) {
    apply_to_channels(op, values, 0, static_cast<int>(outer * channels * inner));
  } else if (inner == 1) {
    for (std::int64_t o = 0; o < outer; ++o) apply_to_channels(op, values + o * channels, 0, static_cast<int>(channels));
  } else {
    for (std::int64_t o = 0; o < outer; ++o) {
      for (std::int64_t c = 0; c < channels; ++c) {
        float* v = values + (o * channels + c) * inner;
        const float mean = op.mean[c], scale = op.scale[c], beta = op.beta[c];
        for (std::int64_t i = 0; i < inner; ++i) v[i] = (v[i] - mean) * scale + beta;
      }
    }
  }
}

// ---- 4. conv2d_hwc and linear ------------------------------------------------------------------------

namespace {

// Lists the inputs that differ from their skip value (index, and x - skip), branch-free: a
// data-dependent branch per value would mispredict on ReLU outputs. Returns how many.
inline int gather(const float* x, const float* skip, int n, int* index, float* value, int index_offset = 0) {
  int count = 0;
  for (int c = 0; c < n; ++c) {
    const float v = x[c], s = skip[c];
    index[count] = index_offset + c;
    value[count] = v - s;
    count += (v != s) ? 1 : 0;
  }
  return count;
}

#include "conv_panel.inc"

// One input channel (a grayscale image): most pixels are blank paper, so rather than visit every
// output's taps, each non-blank input pixel adds its terms to the outputs it reaches. Input pixels go in
// raster order, which is each output's (ky, kx) order: the same sums, bit for bit, as the gather form.
void scatter_single_channel(const PackedConv& conv, const float* input, std::vector<float>& sums) {
  const int k = conv.kernel;
  const std::size_t panel_stride = static_cast<std::size_t>(k) * k * kPanelWidth;
  sums = conv.bias_map;
  for (int iy = 0; iy < conv.in_h; ++iy) {
    for (int ix = 0; ix < conv.in_w; ++ix) {
      const float x = input[static_cast<std::size_t>(iy) * conv.in_w + ix];
      const float skip = conv.skip[static_cast<std::size_t>(iy) * conv.in_w + ix];
      if (x == skip) continue;
      const f32x4 v = splat(x - skip);
      for_each_reached_output(conv, iy, ix, [&](std::size_t tap, std::size_t output_pixel) {
        float* sum = sums.data() + output_pixel * conv.out_stride;
        for (int panel = 0; panel < conv.panels; ++panel) {
          const int width = conv.panel_width(panel);
          const float* w = conv.weights.data() + panel * panel_stride + tap * width;
          float* out = sum + panel * kPanelWidth;
          for (int j = 0; j < width; j += 4) store4(out + j, load4(out + j) + load4(w + j) * v);
        }
      });
    }
  }
}

}  // namespace

void conv2d_hwc(const PackedConv& conv, const float* input, float* output, const Elementwise* const* epilogue,
                int epilogue_count, int pool, Scratch& scratch) {
  const int channels = conv.in_channels;
  const float* start = conv.bias_map.data();  // each output's value before the terms of its entries
  bool complete = false;                      // true: start already holds every output's whole sum
  if (channels == 1) {
    scatter_single_channel(conv, input, scratch.sums);
    start = scratch.sums.data();
    complete = true;
  } else {
    // The sparse form of the input: the (pixel, channel) entries that differ from the skip image, in
    // raster order, index = ix * channels + c; count[q] is where pixel q's entries start.
    const std::size_t pixels = static_cast<std::size_t>(conv.in_h) * conv.in_w;
    const std::size_t taps = static_cast<std::size_t>(conv.kernel) * conv.kernel;
    scratch.count.resize(pixels + 1);
    scratch.index.resize(pixels * channels);
    scratch.value.resize(pixels * channels);
    scratch.zeros.assign(static_cast<std::size_t>(channels), 0.f);
    bool corrected = false;
    int entries = 0;
    for (std::size_t q = 0; q < pixels; ++q) {
      scratch.count[q] = entries;
      const int ix = static_cast<int>(q % static_cast<std::size_t>(conv.in_w));
      const float* x = input + q * channels;
      int n = gather(x, conv.skip.data() + q * channels, channels, scratch.index.data() + entries,
                     scratch.value.data() + entries, ix * channels);
      if (n > 1 && !conv.skip_share.empty()) {
        // Zero skip for this pixel when that leaves fewer terms: its share of the bias map, taken off
        // the start values once per tap, costs about one term.
        int nonzero = 0;
        for (int c = 0; c < channels; ++c) nonzero += (x[c] != 0.f) ? 1 : 0;
        if (nonzero + 1 < n) {
          if (!corrected) scratch.sums = conv.bias_map;
          corrected = true;
          n = gather(x, scratch.zeros.data(), channels, scratch.index.data() + entries, scratch.value.data() + entries,
                     ix * channels);
          const int iy = static_cast<int>(q / static_cast<std::size_t>(conv.in_w));
          for_each_reached_output(conv, iy, ix, [&](std::size_t tap, std::size_t output_pixel) {
            const float* share = conv.skip_share.data() + (q * taps + tap) * conv.out_stride;
            float* output_start = scratch.sums.data() + output_pixel * conv.out_stride;
            for (int o = 0; o < conv.out_stride; o += 4) store4(output_start + o, load4(output_start + o) - load4(share + o));
          });
        }
      }
      entries += n;
    }
    scratch.count[pixels] = entries;
    if (corrected) start = scratch.sums.data();
  }
  // Panel outer, pixels inner: one panel's weights (36 KB for the CNN's second conv) stay in L1/L2.
  const std::size_t panel_stride = static_cast<std::size_t>(conv.kernel) * conv.kernel * channels * kPanelWidth;
  const int* count = scratch.count.data();
  const int* index = scratch.index.data();
  const float* value = scratch.value.data();
  const bool wide = wide_kernels_active();
  for (int panel = 0; panel < conv.panels; ++panel) {
    const float* w = conv.weights.data() + panel * panel_stride;
    const int first = panel * kPanelWidth;
    if (wide && conv_panel_wide(conv.panel_width(panel), conv, w, first, output, epilogue, epilogue_count, pool, count,
                                index, value, start, complete)) {
      continue;
    }
    auto run = [&](auto vectors) {
      conv_panel<f32x4, decltype(vectors)::value>(conv, w, first, output, epilogue, epilogue_count, pool, count, index,
                                                  value, start, complete);
    };
    switch (conv.panel_width(panel) / 4) {
      case 1: run(std::integral_constant<int, 1>{}); break;
      case 2: run(std::integral_constant<int, 2>{}); break;
      case 3: run(std::integral_constant<int, 3>{}); break;
      case 4: run(std::integral_constant<int, 4>{}); break;
      case 5: run(std::integral_constant<int, 5>{}); break;
      case 6: run(std::integral_constant<int, 6>{}); break;
      case 7: run(std::integral_constant<int, 7>{}); break;
      default: run(std::integral_constant<int, 8>{}); break;
    }
  }
}

void linear(const PackedLinear& layer, const float* input, float* output, const Elementwise* const* epilogue,
            int epilogue_count, Scratch& scratch) {
  const int stride = layer.row_stride;
  scratch.index.resize(static_cast<std::size_t>(layer.in_features));
  scratch.value.resize(static_cast<std::size_t>(layer.in_features));
  const int count = gather(input, layer.skip.data(), layer.in_features, scratch.index.data(), scratch.value.data());
  const int* index = scratch.index.data();
  const float* value = scratch.value.data();
  // y (a few KB) stays in L1 while the weight rows stream past; eight rows per pass over y keep y's loads
  // and stores off the critical path and eight row streams in flight (the gathered rows are scattered, so
  // the prefetcher restarts on each: in wasm, 8 rows ran the deep MLP ~5 % faster than 4, 16 slower;
  // docs/benchmarks.md). Each output still adds its terms in input order, so the grouping never changes a bit.
  float* y = output;
  std::memcpy(y, layer.bias.data(), sizeof(float) * layer.out_features);
  alignas(16) float tail[4];
  const int full = layer.out_features / 4 * 4;
  auto rows_pass = [&](auto rows_tag, int t) {
    constexpr int kRows = decltype(rows_tag)::value;
    const float* row[kRows];
    f32x4 v[kRows];
    for (int r = 0; r < kRows; ++r) {
      row[r] = layer.weights.data() + static_cast<std::size_t>(index[t + r]) * stride;
      v[r] = splat(value[t + r]);
    }
    for (int j = 0; j < full; j += 4) {
      f32x4 acc = load4(y + j);
      for (int r = 0; r < kRows; ++r) acc += load4(row[r] + j) * v[r];
      store4(y + j, acc);
    }
    if (full < layer.out_features) {  // the last 1-3 outputs: the padded row lanes are zero
      std::memcpy(tail, y + full, sizeof(float) * (layer.out_features - full));
      f32x4 acc = load4(tail);
      for (int r = 0; r < kRows; ++r) acc += load4(row[r] + full) * v[r];
      store4(tail, acc);
      std::memcpy(y + full, tail, sizeof(float) * (layer.out_features - full));
    }
  };
  int t = 0;
  for (; t + 8 <= count; t += 8) rows_pass(std::integral_constant<int, 8>{}, t);
  for (; t + 4 <= count; t += 4) rows_pass(std::integral_constant<int, 4>{}, t);
  for (; t < count; ++t) rows_pass(std::integral_constant<int, 1>{}, t);
  for (int e = 0; e < epilogue_count; ++e) apply_to_channels(*epilogue[e], y, 0, layer.out_features);
}

// ---- 5. Pooling and layouts ---------------------------------------------------------------------------

void max_pool_hwc(const float* input, int channels, int height, int width, int kernel, int stride, float* output,
                  int out_h, int out_w) {
  (void)height;
  for (int oy = 0; oy < out_h; ++oy) {
    for (int ox = 0; ox < out_w; ++ox) {
      float* out = output + (static_cast<std::size_t>(oy) * out_w + ox) * channels;
      const float* first = input + (static_cast<std::size_t>(oy) * stride * width + ox * stride) * channels;
      std::memcpy(out, first, sizeof(float) * channels);
      for (int ky = 0; ky < kernel; ++ky) {
        for (int kx = 0; kx < kernel; ++kx) {
          const float* in = input + ((static_cast<std::size_t>(oy) * stride + ky) * width + ox * stride + kx) * channels;
          for (int c = 0; c < channels; ++c) out[c] = in[c] > out[c] ? in[c] : out[c];
        }
      }
    }
  }
}

void chw_to_hwc(const float* input, int channels, int height, int width, float* output) {
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  for (int c = 0; c < channels; ++c)
    for (std::size_t p = 0; p < plane; ++p) output[p * channels + c] = input[c * plane + p];
}

void hwc_to_chw(const float* input, int channels, int height, int width, float* output) {
  const std::size_t plane = static_cast<std::size_t>(height) * width;
  for (std::size_t p = 0; p < plane; ++p)
    for (int c = 0; c < channels; ++c) output[c * plane + p] = input[p * channels + c];
}

// ---- 6. exp and softmax -------------------------------------------------------------------------------

float exp_deterministic(float x) {
  if (x != x) return x;  // NaN
  if (x > 88.72283f) return std::numeric_limits<float>::infinity();
  if (x < -87.33654f) return 0.f;  // below FLT_MIN: flushing keeps subnormal rounding out of the way
  // x = n ln2 + r, |r| <= ln2/2; n rounded to nearest by the 1.5 * 2^23 trick (no libm involved).
  const float n = (x * 1.44269504088896341f + 12582912.f) - 12582912.f;
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187e-06f;  // ln2 split: hi * n is exact
  // Taylor to degree 7: truncation below 6e-9 relative on |r| <= 0.347.
  float p = 1.f / 5040.f;
  p = p * r + 1.f / 720.f;
  p = p * r + 1.f / 120.f;
  p = p * r + 1.f / 24.f;
  p = p * r + 1.f / 6.f;
  p = p * r + 0.5f;
  p = p * r + 1.f;
  p = p * r + 1.f;
  // 2^n built from bits in two halves (n can be 128, beyond one float exponent); both factors exact.
  const int e = static_cast<int>(n);
  const int e1 = e / 2, e2 = e - e1;
  const std::uint32_t bits1 = static_cast<std::uint32_t>(e1 + 127) << 23;
  const std::uint32_t bits2 = static_cast<std::uint32_t>(e2 + 127) << 23;
  float scale1, scale2;
  std::memcpy(&scale1, &bits1, sizeof scale1);
  std::memcpy(&scale2, &bits2, sizeof scale2);
  return p * scale1 * scale2;
}

void softmax(float* values, std::int64_t count, std::int64_t group) {
  if (group <= 0) return;
  for (std::int64_t start = 0; start + group <= count; start += group) {
    float* v = values + start;
    float largest = v[0];
    for (std::int64_t i = 1; i < group; ++i) largest = v[i] > largest ? v[i] : largest;
    float total = 0.f;
    for (std::int64_t i = 0; i < group; ++i) {
      v[i] = exp_deterministic(v[i] - largest);
      total += v[i];
    }
    for (std::int64_t i = 0; i < group; ++i) v[i] /= total;
  }
}

}  // namespace kernels
}  // namespace digitlab
