// Training in the core (train.hpp): a batched forward pass that keeps what the backward pass needs, the
// backward pass layer by layer, the loss, PyTorch's initialisation, the optimisers and the Trainer.
// Read next: shared/include/digitlab/train.hpp, shared/include/digitlab/train_gemm.hpp (the products),
// docs/core.md ("Training").
//
// Sections: 1. deterministic maths  2. the batched network (forward, backward)  3. loss_and_gradients and
//           input_gradient  4. initialisation  5. optimiser and schedule  6. the Trainer  7. evaluation
//
// Layout: a batch of activations is (batch, features) when flat and (batch, height, width, channels) when
// image-like -- channels last, so that convolutions are one matrix product over every pixel of the batch
// (im2col) and batch_norm sees (rows, channels) either way. flatten restores PyTorch's (C, H, W) order.
// Elementwise layers and eval-mode batch_norm run through kernels.hpp, the same code forward() uses.
#include "digitlab/train.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <sstream>
#include <string>

#include "digitlab/architectures.hpp"
#include "digitlab/kernels.hpp"
#include "digitlab/train_gemm.hpp"
#include "vec4.hpp"

namespace digitlab {
namespace {

using train_gemm::MatrixView;

// GCC/Clang vectors of 4 (SSE2 natively, SIMD128 in wasm): vec4.hpp.
using vec4::f32x4;
using vec4::i32x4;

// ---- 1. Deterministic maths ---------------------------------------------------------------------------
// libm's log and cos differ between glibc and Emscripten's musl; these use + - * / and sqrt only.

// Natural log for x > 0 (double, about 1e-16 relative): x = m 2^e with m in [sqrt(1/2), sqrt(2)), then
// log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| < 0.172, by its series.
double log_deterministic(double x) {
  if (!(x > 0.0)) return x == 0.0 ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::quiet_NaN();
  if (x == std::numeric_limits<double>::infinity()) return x;
  int exponent = 0;
  while (x >= 1.4142135623730951) { x *= 0.5; ++exponent; }
  while (x < 0.7071067811865476) { x *= 2.0; --exponent; }
  const double s = (x - 1.0) / (x + 1.0), s2 = s * s;
  double term = s, sum = 0.0;
  for (int k = 1; k <= 31; k += 2) {
    sum += term / k;
    term *= s2;
  }
  return 2.0 * sum + exponent * 0.6931471805599453;
}

// cos for x in [0, pi] (the cosine schedule's range): Taylor to x^22 on [0, pi/2], symmetry beyond.
double cos_deterministic(double x) {
  const double pi = 3.141592653589793;
  double sign = 1.0;
  if (x > pi / 2) {
    x = pi - x;
    sign = -1.0;
  }
  const double x2 = x * x;
  double term = 1.0, sum = 1.0;
  for (int k = 1; k <= 11; ++k) {
    term *= -x2 / ((2.0 * k - 1.0) * (2.0 * k));
    sum += term;
  }
  return sign * sum;
}

kernels::Elementwise activation_op(const Layer& layer) {
  kernels::Elementwise op;
  switch (layer.kind) {
    case LayerKind::relu: op.op = kernels::Elementwise::Op::relu; break;
    case LayerKind::leaky_relu:
      op.op = kernels::Elementwise::Op::leaky_relu;
      op.alpha = layer.alpha;
      break;
    case LayerKind::sigmoid: op.op = kernels::Elementwise::Op::sigmoid; break;
    case LayerKind::tanh: op.op = kernels::Elementwise::Op::tanh; break;
    default: break;
  }
  return op;
}

// sums[j] += the sum of column j of values (rows, columns), in double, rows in order: a bias sums its
// gradient over every pixel of the batch (25,088 for the CNN's first layer), and before a train-mode
// batch_norm that sum is 0 in exact arithmetic, so float rounding would be all that is left of it.
void add_column_sums(const float* values, int rows, int columns, float* sums) {
  std::vector<double> total(static_cast<std::size_t>(columns), 0.0);
  for (int r = 0; r < rows; ++r) {
    const float* row = values + static_cast<std::size_t>(r) * columns;
    for (int j = 0; j < columns; ++j) total[j] += row[j];
  }
  for (int j = 0; j < columns; ++j) sums[j] += static_cast<float>(total[j]);
}

// ---- 2. The batched network ----------------------------------------------------------------------------

// What one layer's forward pass left for its backward pass (besides its input and output).
struct LayerCache {
  std::vector<float> columns;   // conv2d: im2col of the input (batch * out_h * out_w, kernel^2 * in_channels)
  std::vector<int> argmax;      // max_pool2d: per output, the index of its input within the sample
  std::vector<float> mask;      // dropout (train): 0 or 1 / (1 - p) per value
  std::vector<float> mean, inverse_std;  // batch_norm: the statistics it normalised with, per channel
  // The sparse first linear layer: per sample, the inputs that differ from blank paper and by how much.
  std::vector<int> sparse_start, sparse_index;  // sample b's entries: [sparse_start[b], sparse_start[b + 1])
  std::vector<float> sparse_value;              // input - blank
  bool sparse = false;                          // this batch went the sparse way
};

class BatchNetwork {
 public:
  // Checks the model (infer_shapes) and notes the layers that take part: all but trailing softmaxes.
  Status bind(const Model& model) {
    auto shapes = infer_shapes(model);
    if (!shapes) return shapes.error();
    model_ = &model;
    out_shapes_ = std::move(shapes).value();
    count_ = model.layers.size();
    while (count_ > 0 && model.layers[count_ - 1].kind == LayerKind::softmax) --count_;
    in_shapes_.assign(1, ActivationShape{{model.card.input_channels, model.card.input_height, model.card.input_width}});
    for (std::size_t l = 0; l + 1 < model.layers.size(); ++l) in_shapes_.push_back(out_shapes_[l]);
    acts_.resize(count_ + 1);
    caches_.resize(count_);
    // A linear layer fed by the model input (only flatten before it) sees mostly blank paper.
    sparse_layer_ = count_;
    blank_ = (0.f - model.card.normalize_mean) / model.card.normalize_std;
    for (std::size_t l = 0; l < count_ && std::isfinite(blank_); ++l) {
      if (model.layers[l].kind == LayerKind::linear) sparse_layer_ = l;
      if (model.layers[l].kind != LayerKind::flatten) break;
    }
    return Ok{};
  }

  std::size_t input_size() const { return static_cast<std::size_t>(in_shapes_[0].size()); }
  std::size_t classes() const {
    return count_ == 0 ? input_size() : static_cast<std::size_t>(out_shapes_[count_ - 1].size());
  }
  const std::vector<float>& logits() const { return acts_[count_]; }

  std::size_t layer_count() const { return count_; }

  // inputs: batch samples in (C, H, W). `dropout` is used in train mode only. With `grads` (train mode)
  // batch_norm's updated running statistics are written into it.
  void forward(const float* inputs, int batch, PassMode mode, SeededRandom* dropout, std::vector<LayerGradients>* grads) {
    start_forward(inputs, batch);
    for (std::size_t l = 0; l < count_; ++l) forward_layer(l, mode, dropout, grads ? &(*grads)[l] : nullptr);
  }

  // grad_logits (batch, classes) -> parameter gradients (added into grads, sized by make_gradients) and,
  // when input_grad is given, the gradient of the inputs in (C, H, W) per sample.
  void backward(const std::vector<float>& grad_logits, PassMode mode, std::vector<LayerGradients>* grads,
                std::vector<float>* input_grad) {
    start_backward(grad_logits);
    for (std::size_t l = count_; l-- > 0;)
      backward_layer(l, mode, grads ? &(*grads)[l] : nullptr, l > 0 || input_grad != nullptr);
    if (!input_grad) return;
    const ActivationShape& in = in_shapes_[0];
    input_grad->resize(gy_.size());
    if (in.dims.size() == 3 && in.dims[0] > 1) {
      const int c = static_cast<int>(in.dims[0]), h = static_cast<int>(in.dims[1]), w = static_cast<int>(in.dims[2]);
      for (int b = 0; b < batch_; ++b)
        kernels::hwc_to_chw(gy_.data() + b * input_size(), c, h, w, input_grad->data() + b * input_size());
    } else {
      *input_grad = gy_;
    }
  }

  // The passes in pieces (the Trainer's advance()): start_forward, forward_layer for 0..layer_count()-1,
  // start_backward, backward_layer from layer_count()-1 down to 0.
  void start_forward(const float* inputs, int batch) {
    batch_ = batch;
    const ActivationShape& in = in_shapes_[0];
    std::vector<float>& x0 = acts_[0];
    x0.resize(static_cast<std::size_t>(batch) * input_size());
    if (in.dims.size() == 3 && in.dims[0] > 1) {
      const int c = static_cast<int>(in.dims[0]), h = static_cast<int>(in.dims[1]), w = static_cast<int>(in.dims[2]);
      for (int b = 0; b < batch; ++b)
        kernels::chw_to_hwc(inputs + b * input_size(), c, h, w, x0.data() + b * input_size());
    } else {
      std::copy(inputs, inputs + x0.size(), x0.begin());
    }
  }
  void start_backward(const std::vector<float>& grad_logits) { gy_ = grad_logits; }

  // Bytes a pass over `batch` samples holds at most: every layer's input and output kept for the backward
  // pass, the conv columns and their gradient, pooling indices, dropout masks, the two gradient buffers;
  // plus per parameter its gradient, a transposed copy and two optimiser buffers.
  double memory_bytes(std::size_t batch) const {
    double per_sample = static_cast<double>(classes()), largest = static_cast<double>(input_size()), columns = 0;
    for (std::size_t l = 0; l < count_; ++l) {
      const Layer& layer = model_->layers[l];
      const double in = static_cast<double>(in_shapes_[l].size()), out = static_cast<double>(out_shapes_[l].size());
      per_sample += in;
      largest = std::max(largest, std::max(in, out));
      if (layer.kind == LayerKind::conv2d) {
        const double taps = static_cast<double>(layer.in_channels * layer.kernel * layer.kernel);
        const double pixels = static_cast<double>(out_shapes_[l].dims[1] * out_shapes_[l].dims[2]);
        per_sample += pixels * taps;
        columns = std::max(columns, pixels * taps);
      }
      if (layer.kind == LayerKind::max_pool2d || layer.kind == LayerKind::dropout) per_sample += out;
    }
    per_sample += columns + 2 * largest;
    return 4.0 * (static_cast<double>(batch) * per_sample + 4.0 * static_cast<double>(parameter_count(*model_)));
  }

  // Zeroed gradient tensors for every trainable tensor of the model.
  std::vector<LayerGradients> make_gradients() const {
    std::vector<LayerGradients> grads(model_->layers.size());
    for (std::size_t l = 0; l < count_; ++l) {
      const Layer& layer = model_->layers[l];
      const std::size_t trainable = layer.kind == LayerKind::linear || layer.kind == LayerKind::conv2d ||
                                            layer.kind == LayerKind::batch_norm
                                        ? 2
                                        : 0;
      for (std::size_t t = 0; t < trainable; ++t)
        grads[l].tensors.push_back(Tensor{layer.tensors[t].shape, std::vector<float>(layer.tensors[t].values.size(), 0.f)});
    }
    return grads;
  }

  // Layer l over the batch; its gradients go into grads (when given). Afterwards gy_ holds the gradient
  // of layer l's input (when need_input).
  void backward_layer(std::size_t l, PassMode mode, LayerGradients* grads, bool need_input) {
    backward_into_gx(l, mode, grads, need_input);
    gy_.swap(gx_);
  }
  // backward_layer() of a linear or conv2d layer in two halves: its parameters' gradients, then its
  // input's (the two products are independent; the Trainer's pieces stay short).
  void backward_parameters(std::size_t l, PassMode mode, LayerGradients* grads) {
    backward_into_gx(l, mode, grads, false);
  }
  void backward_input(std::size_t l, PassMode mode) { backward_layer(l, mode, nullptr, true); }
  bool splits_backward(std::size_t l) const {
    return model_->layers[l].kind == LayerKind::linear || model_->layers[l].kind == LayerKind::conv2d;
  }

  // Layer l over the batch: acts_[l] -> acts_[l + 1], keeping what its backward pass needs.
  void forward_layer(std::size_t l, PassMode mode, SeededRandom* dropout, LayerGradients* grads) {
    const Layer& layer = model_->layers[l];
    const std::vector<float>& x = acts_[l];
    std::vector<float>& y = acts_[l + 1];
    LayerCache& cache = caches_[l];
    const int batch = batch_;
    y.resize(static_cast<std::size_t>(batch) * sample_size(l, true));
    const auto& in = in_shapes_[l].dims;
    const auto& out = out_shapes_[l].dims;
    switch (layer.kind) {
      case LayerKind::linear: {
        if (l == sparse_layer_ && linear_forward_sparse(layer, x, y, cache)) break;
        // y (batch, out) = bias + x (batch, in) * weight^T; weight (out, in) read as (in, out).
        const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
        const float* bias = layer.tensors[1].values.data();
        for (int b = 0; b < batch; ++b) std::copy(bias, bias + n_out, y.data() + static_cast<std::size_t>(b) * n_out);
        train_gemm::gemm(batch, n_out, n_in, MatrixView{x.data(), n_in, 1},
                         MatrixView{layer.tensors[0].values.data(), 1, n_in}, y.data(), n_out, true, gemm_scratch_);
        break;
      }
      case LayerKind::conv2d: {
        const int c = static_cast<int>(in[0]), h = static_cast<int>(in[1]), w = static_cast<int>(in[2]);
        const int o = static_cast<int>(out[0]), oh = static_cast<int>(out[1]), ow = static_cast<int>(out[2]);
        const int k = static_cast<int>(layer.kernel), stride = static_cast<int>(layer.stride),
                  pad = static_cast<int>(layer.padding);
        const int taps = k * k * c;  // one column row: (ky, kx, channel)
        const std::size_t pixels = static_cast<std::size_t>(batch) * oh * ow;
        cache.columns.resize(pixels * taps);  // every entry is written below: no zero fill first
        for (int b = 0; b < batch; ++b) {
          const float* image = x.data() + static_cast<std::size_t>(b) * h * w * c;
          for (int oy = 0; oy < oh; ++oy) {
            for (int ox = 0; ox < ow; ++ox) {
              float* row = cache.columns.data() + ((static_cast<std::size_t>(b) * oh + oy) * ow + ox) * taps;
              for (int ky = 0; ky < k; ++ky) {
                const int iy = oy * stride + ky - pad;
                for (int kx = 0; kx < k; ++kx) {
                  const int ix = ox * stride + kx - pad;
                  float* tap = row + (ky * k + kx) * c;
                  if (iy < 0 || iy >= h || ix < 0 || ix >= w) {  // zero padding
                    for (int ch = 0; ch < c; ++ch) tap[ch] = 0.f;
                    continue;
                  }
                  const float* pixel = image + (static_cast<std::size_t>(iy) * w + ix) * c;
                  for (int ch = 0; ch < c; ++ch) tap[ch] = pixel[ch];  // c is 1 for a first layer: no memcpy call
                }
              }
            }
          }
        }
        reorder_conv_weight(layer);
        const float* bias = layer.tensors[1].values.data();
        for (std::size_t p = 0; p < pixels; ++p) std::copy(bias, bias + o, y.data() + p * o);
        train_gemm::gemm(static_cast<int>(pixels), o, taps, MatrixView{cache.columns.data(), taps, 1},
                         MatrixView{weight_hwc_.data(), 1, taps}, y.data(), o, true, gemm_scratch_);
        break;
      }
      case LayerKind::batch_norm: {
        const int channels = static_cast<int>(layer.channels);
        const std::size_t rows = y.size() / channels;
        const float* gamma = layer.tensors[0].values.data();
        const float* beta = layer.tensors[1].values.data();
        if (mode == PassMode::eval) {
          const kernels::Elementwise op =
              kernels::make_batch_norm(gamma, beta, layer.tensors[2].values.data(), layer.tensors[3].values.data(),
                                       channels, layer.eps);
          y = x;
          for (std::size_t r = 0; r < rows; ++r) kernels::apply_to_channels(op, y.data() + r * channels, 0, channels);
          break;
        }
        // Batch statistics in double, rows in order: mean, then the biased variance around it. Local
        // restrict pointers throughout, so the loops over channels vectorise.
        std::vector<double> mean_values(channels, 0.0), variance_values(channels, 0.0);
        double* __restrict__ mean = mean_values.data();
        double* __restrict__ variance = variance_values.data();
        const float* __restrict__ input = x.data();
        for (std::size_t r = 0; r < rows; ++r) {
          const float* __restrict__ row = input + r * channels;
          for (int ch = 0; ch < channels; ++ch) mean[ch] += row[ch];
        }
        for (int ch = 0; ch < channels; ++ch) mean[ch] /= static_cast<double>(rows);
        for (std::size_t r = 0; r < rows; ++r) {
          const float* __restrict__ row = input + r * channels;
          for (int ch = 0; ch < channels; ++ch) {
            const double d = row[ch] - mean[ch];
            variance[ch] += d * d;
          }
        }
        cache.mean.resize(channels);
        cache.inverse_std.resize(channels);
        for (int ch = 0; ch < channels; ++ch) {
          variance[ch] /= static_cast<double>(rows);
          cache.mean[ch] = static_cast<float>(mean[ch]);
          cache.inverse_std[ch] = static_cast<float>(1.0 / std::sqrt(variance[ch] + layer.eps));
        }
        const float* __restrict__ batch_mean = cache.mean.data();
        const float* __restrict__ inverse_std = cache.inverse_std.data();
        float* __restrict__ output = y.data();
        for (std::size_t r = 0; r < rows; ++r) {
          const float* __restrict__ row = input + r * channels;
          float* __restrict__ out_row = output + r * channels;
          for (int ch = 0; ch < channels; ++ch)
            out_row[ch] = (row[ch] - batch_mean[ch]) * inverse_std[ch] * gamma[ch] + beta[ch];
        }
        if (grads) {  // PyTorch's running statistics: momentum 0.1, unbiased variance
          const double unbiased = rows > 1 ? static_cast<double>(rows) / static_cast<double>(rows - 1) : 1.0;
          grads->running_statistics = {layer.tensors[2], layer.tensors[3]};
          for (int ch = 0; ch < channels; ++ch) {
            float& running_mean = grads->running_statistics[0].values[ch];
            float& running_var = grads->running_statistics[1].values[ch];
            running_mean = static_cast<float>(0.9 * running_mean + 0.1 * mean[ch]);
            running_var = static_cast<float>(0.9 * running_var + 0.1 * variance[ch] * unbiased);
          }
        }
        break;
      }
      case LayerKind::relu:
      case LayerKind::leaky_relu:
      case LayerKind::sigmoid:
      case LayerKind::tanh:
        y = x;
        kernels::apply_to_channels(activation_op(layer), y.data(), 0, static_cast<int>(y.size()));
        break;
      case LayerKind::max_pool2d: {
        const int c = static_cast<int>(in[0]), w = static_cast<int>(in[2]);
        const int oh = static_cast<int>(out[1]), ow = static_cast<int>(out[2]);
        const int k = static_cast<int>(layer.kernel), stride = static_cast<int>(layer.stride);
        const std::size_t in_sample = sample_size(l, false), out_sample = sample_size(l, true);
        cache.argmax.resize(y.size());
        // The first largest value in (ky, kx) order wins, as in PyTorch (a NaN wins too): it gets the
        // gradient on ties. Channels innermost, so the comparisons run over vectors of channels.
        for (int b = 0; b < batch; ++b) {
          const float* __restrict__ image = x.data() + b * in_sample;
          for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox) {
              const std::size_t o = b * out_sample + (static_cast<std::size_t>(oy) * ow + ox) * c;
              float* __restrict__ best = y.data() + o;
              int* __restrict__ where = cache.argmax.data() + o;
              const int first = ((oy * stride) * w + ox * stride) * c;
              for (int ch = 0; ch < c; ++ch) {
                best[ch] = image[first + ch];
                where[ch] = first + ch;
              }
              for (int ky = 0; ky < k; ++ky)
                for (int kx = 0; kx < k; ++kx) {
                  const int at = ((oy * stride + ky) * w + ox * stride + kx) * c;
                  int ch = 0;
                  // 4 channels at a time with explicit vector selects (clang leaves the scalar loop
                  // branchy in wasm: 12x slower than GCC's vectorised one natively).
                  for (; ch + 4 <= c; ch += 4) {
                    f32x4 v, current;
                    i32x4 index;
                    std::memcpy(&v, image + at + ch, sizeof v);
                    std::memcpy(&current, best + ch, sizeof current);
                    std::memcpy(&index, where + ch, sizeof index);
                    const i32x4 take = (v > current) | (v != v);
                    const i32x4 candidate = {at + ch, at + ch + 1, at + ch + 2, at + ch + 3};
                    const f32x4 chosen = reinterpret_cast<f32x4>((reinterpret_cast<i32x4>(v) & take) |
                                                                 (reinterpret_cast<i32x4>(current) & ~take));
                    const i32x4 chosen_index = (candidate & take) | (index & ~take);
                    std::memcpy(best + ch, &chosen, sizeof chosen);
                    std::memcpy(where + ch, &chosen_index, sizeof chosen_index);
                  }
                  for (; ch < c; ++ch) {
                    const float v = image[at + ch];
                    const bool take = v > best[ch] || v != v;
                    best[ch] = take ? v : best[ch];
                    where[ch] = take ? at + ch : where[ch];
                  }
                }
            }
        }
        break;
      }
      case LayerKind::flatten:
        if (in.size() == 3 && in[0] > 1) {
          const std::size_t size = sample_size(l, false);
          for (int b = 0; b < batch; ++b)
            kernels::hwc_to_chw(x.data() + b * size, static_cast<int>(in[0]), static_cast<int>(in[1]),
                                static_cast<int>(in[2]), y.data() + b * size);
        } else {
          y = x;
        }
        break;
      case LayerKind::dropout: {
        if (mode == PassMode::eval || layer.dropout_p <= 0.f) {
          y = x;
          cache.mask.clear();
          break;
        }
        const float keep = layer.dropout_p >= 1.f ? 0.f : 1.f / (1.f - layer.dropout_p);
        cache.mask.resize(x.size());
        for (std::size_t i = 0; i < x.size(); ++i) {
          cache.mask[i] = dropout->uniform(0.f, 1.f) < layer.dropout_p ? 0.f : keep;
          y[i] = x[i] * cache.mask[i];
        }
        break;
      }
      case LayerKind::softmax:
        // Inside the network: over the last dimension of (C, H, W) or over the features.
        for_each_softmax_group(l, [&](std::size_t first, std::size_t stride, std::size_t length) {
          group_.resize(length);
          for (std::size_t i = 0; i < length; ++i) group_[i] = x[first + i * stride];
          kernels::softmax(group_.data(), static_cast<std::int64_t>(length), static_cast<std::int64_t>(length));
          for (std::size_t i = 0; i < length; ++i) y[first + i * stride] = group_[i];
        });
        break;
    }
  }

 private:
  std::size_t sample_size(std::size_t l, bool output) const {
    return static_cast<std::size_t>((output ? out_shapes_[l] : in_shapes_[l]).size());
  }

  void backward_into_gx(std::size_t l, PassMode mode, LayerGradients* grads, bool need_input) {
    const Layer& layer = model_->layers[l];
    const std::vector<float>& x = acts_[l];
    const std::vector<float>& y = acts_[l + 1];
    const std::vector<float>& gy = gy_;
    LayerCache& cache = caches_[l];
    const int batch = batch_;
    const auto& in = in_shapes_[l].dims;
    const auto& out = out_shapes_[l].dims;
    gx_.resize(x.size());
    switch (layer.kind) {
      case LayerKind::linear: {
        const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
        if (grads) {
          // weight (out, in) += gy^T (out, batch) * x (batch, in); bias += column sums of gy.
          if (cache.sparse) {
            linear_weight_gradient_sparse(layer, gy, cache, grads->tensors[0].values.data());
          } else {
            train_gemm::gemm(n_out, n_in, batch, MatrixView{gy.data(), 1, n_out}, MatrixView{x.data(), n_in, 1},
                             grads->tensors[0].values.data(), n_in, true, gemm_scratch_);
          }
          add_column_sums(gy.data(), batch, n_out, grads->tensors[1].values.data());
        }
        // x (batch, in) <- gy (batch, out) * weight (out, in).
        if (need_input)
          train_gemm::gemm(batch, n_in, n_out, MatrixView{gy.data(), n_out, 1},
                           MatrixView{layer.tensors[0].values.data(), n_in, 1}, gx_.data(), n_in, false, gemm_scratch_);
        break;
      }
      case LayerKind::conv2d: {
        const int c = static_cast<int>(in[0]), h = static_cast<int>(in[1]), w = static_cast<int>(in[2]);
        const int o = static_cast<int>(out[0]), oh = static_cast<int>(out[1]), ow = static_cast<int>(out[2]);
        const int k = static_cast<int>(layer.kernel), stride = static_cast<int>(layer.stride),
                  pad = static_cast<int>(layer.padding);
        const int taps = k * k * c;
        const int pixels = batch * oh * ow;
        if (grads) {
          // weight (out, taps) = gy^T (out, pixels) * columns (pixels, taps), then back to (out, c, ky, kx).
          weight_grad_.resize(static_cast<std::size_t>(o) * taps);
          train_gemm::gemm(o, taps, pixels, MatrixView{gy.data(), 1, o}, MatrixView{cache.columns.data(), taps, 1},
                           weight_grad_.data(), taps, false, gemm_scratch_);
          float* weight = grads->tensors[0].values.data();
          for (int oc = 0; oc < o; ++oc)
            for (int ch = 0; ch < c; ++ch)
              for (int ky = 0; ky < k; ++ky)
                for (int kx = 0; kx < k; ++kx)
                  weight[((static_cast<std::size_t>(oc) * c + ch) * k + ky) * k + kx] +=
                      weight_grad_[static_cast<std::size_t>(oc) * taps + (ky * k + kx) * c + ch];
          add_column_sums(gy.data(), pixels, o, grads->tensors[1].values.data());
        }
        if (!need_input) break;
        // columns (pixels, taps) <- gy (pixels, out) * weight (out, taps), then added back onto the pixels.
        reorder_conv_weight(layer);
        column_grad_.resize(static_cast<std::size_t>(pixels) * taps);
        train_gemm::gemm(pixels, taps, o, MatrixView{gy.data(), o, 1}, MatrixView{weight_hwc_.data(), taps, 1},
                         column_grad_.data(), taps, false, gemm_scratch_);
        std::fill(gx_.begin(), gx_.end(), 0.f);
        for (int b = 0; b < batch; ++b) {
          float* image = gx_.data() + static_cast<std::size_t>(b) * h * w * c;
          for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox) {
              const float* row = column_grad_.data() + ((static_cast<std::size_t>(b) * oh + oy) * ow + ox) * taps;
              for (int ky = 0; ky < k; ++ky) {
                const int iy = oy * stride + ky - pad;
                if (iy < 0 || iy >= h) continue;
                for (int kx = 0; kx < k; ++kx) {
                  const int ix = ox * stride + kx - pad;
                  if (ix < 0 || ix >= w) continue;
                  float* pixel = image + (static_cast<std::size_t>(iy) * w + ix) * c;
                  const float* tap = row + (ky * k + kx) * c;
                  for (int ch = 0; ch < c; ++ch) pixel[ch] += tap[ch];
                }
              }
            }
        }
        break;
      }
      case LayerKind::batch_norm: {
        const int channels = static_cast<int>(layer.channels);
        const std::size_t rows = x.size() / channels;
        const float* gamma = layer.tensors[0].values.data();
        std::vector<float> mean(channels), inverse_std(channels);
        if (mode == PassMode::eval) {
          for (int ch = 0; ch < channels; ++ch) {
            mean[ch] = layer.tensors[2].values[ch];
            inverse_std[ch] = 1.f / std::sqrt(layer.tensors[3].values[ch] + layer.eps);
          }
        } else {
          mean = cache.mean;
          inverse_std = cache.inverse_std;
        }
        // Sums over the rows in order (double): d beta = sum gy, d gamma = sum gy * x_hat. Local restrict
        // pointers, so the loops over channels vectorise.
        std::vector<double> sum_gy_values(channels, 0.0), sum_gy_xhat_values(channels, 0.0);
        double* __restrict__ sum_gy = sum_gy_values.data();
        double* __restrict__ sum_gy_xhat = sum_gy_xhat_values.data();
        const float* __restrict__ input = x.data();
        const float* __restrict__ grad = gy.data();
        const float* __restrict__ centre = mean.data();
        const float* __restrict__ inverse = inverse_std.data();
        for (std::size_t r = 0; r < rows; ++r) {
          const float* __restrict__ row = input + r * channels;
          const float* __restrict__ grad_row = grad + r * channels;
          for (int ch = 0; ch < channels; ++ch) {
            const float xhat = (row[ch] - centre[ch]) * inverse[ch];
            sum_gy[ch] += grad_row[ch];
            sum_gy_xhat[ch] += static_cast<double>(grad_row[ch]) * xhat;
          }
        }
        if (grads) {
          for (int ch = 0; ch < channels; ++ch) {
            grads->tensors[0].values[ch] += static_cast<float>(sum_gy_xhat[ch]);
            grads->tensors[1].values[ch] += static_cast<float>(sum_gy[ch]);
          }
        }
        if (!need_input) break;
        if (mode == PassMode::eval) {
          for (std::size_t r = 0; r < rows; ++r)
            for (int ch = 0; ch < channels; ++ch) {
              const std::size_t i = r * channels + ch;
              gx_[i] = gy[i] * (gamma[ch] * inverse_std[ch]);
            }
          break;
        }
        // x_hat's own gradient through the batch mean and variance:
        // gx = gamma * inv_std * (gy - mean(gy) - x_hat * mean(gy * x_hat)).
        std::vector<float> mean_gy(channels), mean_gy_xhat(channels), factor(channels);
        for (int ch = 0; ch < channels; ++ch) {
          mean_gy[ch] = static_cast<float>(sum_gy[ch] / static_cast<double>(rows));
          mean_gy_xhat[ch] = static_cast<float>(sum_gy_xhat[ch] / static_cast<double>(rows));
          factor[ch] = gamma[ch] * inverse_std[ch];
        }
        float* __restrict__ input_grad = gx_.data();
        for (std::size_t r = 0; r < rows; ++r) {
          const float* __restrict__ row = input + r * channels;
          const float* __restrict__ grad_row = grad + r * channels;
          float* __restrict__ out_row = input_grad + r * channels;
          for (int ch = 0; ch < channels; ++ch) {
            const float xhat = (row[ch] - centre[ch]) * inverse[ch];
            out_row[ch] = factor[ch] * (grad_row[ch] - mean_gy[ch] - xhat * mean_gy_xhat[ch]);
          }
        }
        break;
      }
      case LayerKind::relu:
      case LayerKind::leaky_relu:
      case LayerKind::sigmoid:
      case LayerKind::tanh: {
        const std::size_t n = x.size();
        // Raw restrict pointers: the loops neither reload the vectors' data pointers nor fear aliasing,
        // so they vectorise.
        const float* __restrict__ input = x.data();
        const float* __restrict__ result = y.data();
        const float* __restrict__ g = gy.data();
        float* __restrict__ input_grad = gx_.data();
        const float alpha = layer.alpha;
        if (layer.kind == LayerKind::relu || layer.kind == LayerKind::leaky_relu) {
          // gy where the input was > 0, else gy * alpha (relu: 0, even for a non-finite gy, as PyTorch's
          // threshold_backward): a bitwise select over 4 lanes, since GCC leaves the ternary loop scalar.
          const bool leaky = layer.kind == LayerKind::leaky_relu;
          const f32x4 zero = {0.f, 0.f, 0.f, 0.f}, slope = {alpha, alpha, alpha, alpha};
          std::size_t i = 0;
          for (; i + 4 <= n; i += 4) {
            f32x4 v, gv;
            std::memcpy(&v, input + i, sizeof v);
            std::memcpy(&gv, g + i, sizeof gv);
            const i32x4 positive = v > zero;
            const i32x4 kept = reinterpret_cast<i32x4>(gv) & positive;
            const i32x4 other = leaky ? reinterpret_cast<i32x4>(gv * slope) & ~positive : i32x4{0, 0, 0, 0};
            const f32x4 result_vector = reinterpret_cast<f32x4>(kept | other);
            std::memcpy(input_grad + i, &result_vector, sizeof result_vector);
          }
          for (; i < n; ++i) input_grad[i] = input[i] > 0.f ? g[i] : (leaky ? g[i] * alpha : 0.f);
        } else if (layer.kind == LayerKind::sigmoid) {
          for (std::size_t i = 0; i < n; ++i) input_grad[i] = g[i] * (result[i] * (1.f - result[i]));
        } else {
          for (std::size_t i = 0; i < n; ++i) input_grad[i] = g[i] * (1.f - result[i] * result[i]);
        }
        break;
      }
      case LayerKind::max_pool2d: {
        std::fill(gx_.begin(), gx_.end(), 0.f);
        const std::size_t in_sample = sample_size(l, false), out_sample = sample_size(l, true);
        for (int b = 0; b < batch; ++b)
          for (std::size_t o = 0; o < out_sample; ++o) {
            const std::size_t at = b * out_sample + o;
            gx_[b * in_sample + cache.argmax[at]] += gy[at];
          }
        break;
      }
      case LayerKind::flatten:
        if (in.size() == 3 && in[0] > 1) {
          const std::size_t size = sample_size(l, false);
          for (int b = 0; b < batch; ++b)
            kernels::chw_to_hwc(gy.data() + b * size, static_cast<int>(in[0]), static_cast<int>(in[1]),
                                static_cast<int>(in[2]), gx_.data() + b * size);
        } else {
          gx_ = gy;
        }
        break;
      case LayerKind::dropout:
        if (cache.mask.empty()) {
          gx_ = gy;
        } else {
          for (std::size_t i = 0; i < x.size(); ++i) gx_[i] = gy[i] * cache.mask[i];
        }
        break;
      case LayerKind::softmax:
        // gx = y * (gy - sum(gy * y)) within each group.
        for_each_softmax_group(l, [&](std::size_t first, std::size_t stride, std::size_t length) {
          float dot = 0.f;
          for (std::size_t i = 0; i < length; ++i) dot += gy[first + i * stride] * y[first + i * stride];
          for (std::size_t i = 0; i < length; ++i) {
            const std::size_t at = first + i * stride;
            gx_[at] = y[at] * (gy[at] - dot);
          }
        });
        break;
    }
  }

  // softmax over the last dimension of PyTorch's layout: the features when flat; for (C, H, W), stored
  // here as (H, W, C), each (c, h) row over w, whose values lie C apart.
  template <class Visit>
  void for_each_softmax_group(std::size_t l, Visit visit) const {
    const auto& d = in_shapes_[l].dims;
    const std::size_t size = sample_size(l, false);
    for (int b = 0; b < batch_; ++b) {
      const std::size_t base = b * size;
      if (d.size() != 3) {
        visit(base, 1, size);
        continue;
      }
      const std::size_t c = d[0], h = d[1], w = d[2];
      for (std::size_t ch = 0; ch < c; ++ch)
        for (std::size_t y = 0; y < h; ++y) visit(base + y * w * c + ch, c, w);
    }
  }

  // The first linear layer on blank-paper inputs, as forward()'s kernels do it: with x = blank + s, where
  // s is 0 for every blank pixel, y = (bias + blank * sum_i w[o][i]) + sum over the nonzero s of s * w[.][i]
  // -- one row of the transposed weight per inked pixel. Used when at most half the inputs are inked (MNIST:
  // about a fifth); returns false otherwise (the dense product runs).
  bool linear_forward_sparse(const Layer& layer, const std::vector<float>& x, std::vector<float>& y, LayerCache& cache) {
    const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
    cache.sparse_start.assign(1, 0);
    cache.sparse_index.clear();
    cache.sparse_value.clear();
    for (int b = 0; b < batch_; ++b) {
      const float* sample = x.data() + static_cast<std::size_t>(b) * n_in;
      for (int i = 0; i < n_in; ++i) {
        if (sample[i] == blank_) continue;
        cache.sparse_index.push_back(i);
        cache.sparse_value.push_back(sample[i] - blank_);
      }
      cache.sparse_start.push_back(static_cast<int>(cache.sparse_index.size()));
    }
    cache.sparse = 2 * cache.sparse_index.size() <= static_cast<std::size_t>(batch_) * n_in;
    if (!cache.sparse) return false;
    const float* weight = layer.tensors[0].values.data();  // (out, in)
    const float* bias = layer.tensors[1].values.data();
    blank_bias_.resize(n_out);
    for (int o = 0; o < n_out; ++o) {
      double sum = 0.0;
      for (int i = 0; i < n_in; ++i) sum += weight[static_cast<std::size_t>(o) * n_in + i];
      blank_bias_[o] = static_cast<float>(bias[o] + static_cast<double>(blank_) * sum);
    }
    transpose(weight, n_out, n_in, transposed_);  // (in, out)
    for (int b = 0; b < batch_; ++b) {
      float* out = y.data() + static_cast<std::size_t>(b) * n_out;
      std::copy(blank_bias_.begin(), blank_bias_.end(), out);
      for (int e = cache.sparse_start[b]; e < cache.sparse_start[b + 1]; ++e)
        train_gemm::add_scaled(out, transposed_.data() + static_cast<std::size_t>(cache.sparse_index[e]) * n_out,
                               cache.sparse_value[e], n_out);
    }
    return true;
  }

  // Its weight gradient: gy^T x = gy^T s + blank * (column sums of gy), built transposed (in, out) one
  // inked pixel at a time, samples in order, then added to grad (out, in).
  void linear_weight_gradient_sparse(const Layer& layer, const std::vector<float>& gy, const LayerCache& cache,
                                     float* grad) {
    const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
    transposed_.assign(static_cast<std::size_t>(n_in) * n_out, 0.f);
    for (int b = 0; b < batch_; ++b) {
      const float* g = gy.data() + static_cast<std::size_t>(b) * n_out;
      for (int e = cache.sparse_start[b]; e < cache.sparse_start[b + 1]; ++e)
        train_gemm::add_scaled(transposed_.data() + static_cast<std::size_t>(cache.sparse_index[e]) * n_out, g,
                               cache.sparse_value[e], n_out);
    }
    std::vector<float> blank_share(n_out, 0.f);
    add_column_sums(gy.data(), batch_, n_out, blank_share.data());
    for (float& v : blank_share) v *= blank_;
    for (int i0 = 0; i0 < n_in; i0 += 16)  // in 16 x 16 tiles: both layouts stay in cache
      for (int o0 = 0; o0 < n_out; o0 += 16)
        for (int o = o0; o < std::min(n_out, o0 + 16); ++o)
          for (int i = i0; i < std::min(n_in, i0 + 16); ++i)
            grad[static_cast<std::size_t>(o) * n_in + i] +=
                transposed_[static_cast<std::size_t>(i) * n_out + o] + blank_share[o];
  }

  // out (columns, rows) = the transpose of in (rows, columns), in 16 x 16 tiles.
  static void transpose(const float* in, int rows, int columns, std::vector<float>& out) {
    out.resize(static_cast<std::size_t>(rows) * columns);
    for (int r0 = 0; r0 < rows; r0 += 16)
      for (int c0 = 0; c0 < columns; c0 += 16)
        for (int r = r0; r < std::min(rows, r0 + 16); ++r)
          for (int c = c0; c < std::min(columns, c0 + 16); ++c)
            out[static_cast<std::size_t>(c) * rows + r] = in[static_cast<std::size_t>(r) * columns + c];
  }

  // weight (out, c, ky, kx) as PyTorch stores it -> weight_hwc_ (out, ky, kx, c), the columns' order.
  void reorder_conv_weight(const Layer& layer) {
    const int o = static_cast<int>(layer.out_channels), c = static_cast<int>(layer.in_channels),
              k = static_cast<int>(layer.kernel);
    const float* weight = layer.tensors[0].values.data();
    weight_hwc_.resize(static_cast<std::size_t>(o) * k * k * c);
    for (int oc = 0; oc < o; ++oc)
      for (int ch = 0; ch < c; ++ch)
        for (int ky = 0; ky < k; ++ky)
          for (int kx = 0; kx < k; ++kx)
            weight_hwc_[((static_cast<std::size_t>(oc) * k + ky) * k + kx) * c + ch] =
                weight[((static_cast<std::size_t>(oc) * c + ch) * k + ky) * k + kx];
  }

  const Model* model_ = nullptr;
  std::size_t count_ = 0;  // layers that run: all but trailing softmaxes
  std::vector<ActivationShape> in_shapes_, out_shapes_;
  int batch_ = 0;
  std::vector<std::vector<float>> acts_;  // acts_[l]: layer l's input for the whole batch; acts_[count_]: logits
  std::vector<LayerCache> caches_;
  std::vector<float> gy_, gx_, weight_hwc_, weight_grad_, column_grad_, group_, transposed_, blank_bias_;
  std::size_t sparse_layer_ = 0;  // the linear layer fed by the model input, or count_ if none
  float blank_ = 0.f;             // a blank pixel as model input: (0 - mean) / std
  train_gemm::Scratch gemm_scratch_;
};

// Softmax cross-entropy of a batch of logits: fills grad (dLoss/dlogits of the batch mean), returns the
// summed loss (double) and counts the correct argmaxes. Labels must be valid.
double cross_entropy(const std::vector<float>& logits, const int* labels, int batch, std::size_t classes,
                     std::vector<float>& grad, int& correct) {
  grad = logits;
  double loss = 0.0;
  correct = 0;
  const float scale = 1.f / static_cast<float>(batch);
  for (int b = 0; b < batch; ++b) {
    float* g = grad.data() + static_cast<std::size_t>(b) * classes;
    const float* z = logits.data() + static_cast<std::size_t>(b) * classes;
    const std::size_t label = static_cast<std::size_t>(labels[b]);
    const std::size_t best = static_cast<std::size_t>(std::max_element(z, z + classes) - z);
    if (best == label) ++correct;
    float largest = z[best];
    double denominator = 0.0;
    for (std::size_t k = 0; k < classes; ++k) denominator += kernels::exp_deterministic(z[k] - largest);
    loss += log_deterministic(denominator) - (static_cast<double>(z[label]) - largest);
    kernels::softmax(g, static_cast<std::int64_t>(classes), static_cast<std::int64_t>(classes));
    for (std::size_t k = 0; k < classes; ++k) g[k] = (g[k] - (k == label ? 1.f : 0.f)) * scale;
  }
  return loss;
}

Status check_memory(const BatchNetwork& network, std::size_t batch, std::uint64_t budget) {
  const double bytes = network.memory_bytes(batch);
  if (bytes > static_cast<double>(budget)) {
    return make_error(ErrorCode::over_budget, "batch_size", 0,
                      "a batch of " + std::to_string(batch) + " would need about " +
                          std::to_string(static_cast<long long>(bytes / (1 << 20))) + " MB for this model, over the " +
                          std::to_string(budget >> 20) + " MB budget: use a smaller batch.");
  }
  return Ok{};
}

Status check_labels(const int* labels, std::size_t batch, std::size_t classes) {
  for (std::size_t s = 0; s < batch; ++s) {
    if (labels[s] < 0 || static_cast<std::size_t>(labels[s]) >= classes) {
      return make_error(ErrorCode::bad_argument, "labels[" + std::to_string(s) + "]", 0,
                        "label " + std::to_string(labels[s]) + " is outside the model's " + std::to_string(classes) +
                            " classes.");
    }
  }
  return Ok{};
}

}  // namespace

// ---- 3. loss_and_gradients and input_gradient ----------------------------------------------------------

Result<BatchGradients> loss_and_gradients(const Model& model, const float* inputs, const int* labels,
                                          std::size_t batch, const GradientOptions& options) {
  BatchNetwork network;
  if (Status bound = network.bind(model); !bound) return bound.error();
  if (batch == 0 || inputs == nullptr || labels == nullptr || batch > (1u << 24)) {
    return make_error(ErrorCode::bad_argument, "batch", 0,
                      "loss_and_gradients() needs 1 or more inputs and labels (got " + std::to_string(batch) +
                          (inputs && labels ? ")." : ", or a null pointer)."));
  }
  if (Status valid = check_labels(labels, batch, network.classes()); !valid) return valid.error();
  if (Status fits = check_memory(network, batch, options.memory_budget); !fits) return fits.error();
  BatchGradients result;
  result.layers = network.make_gradients();
  SeededRandom dropout(options.dropout_seed);
  const int n = static_cast<int>(batch);
  network.forward(inputs, n, options.mode, &dropout, &result.layers);
  std::vector<float> grad;
  const double loss = cross_entropy(network.logits(), labels, n, network.classes(), grad, result.correct);
  result.loss = static_cast<float>(loss / static_cast<double>(batch));
  network.backward(grad, options.mode, &result.layers, nullptr);
  return result;
}

Result<std::vector<float>> input_gradient(const Model& model, const float* input, std::size_t input_size,
                                          int class_index) {
  BatchNetwork network;
  if (Status bound = network.bind(model); !bound) return bound.error();
  if (input == nullptr || input_size != network.input_size()) {
    return make_error(ErrorCode::bad_argument, "input", 0,
                      "input_gradient() needs " + std::to_string(network.input_size()) +
                          " input floats (channels*height*width from the model card), got " +
                          std::to_string(input_size) + (input ? "." : " (null pointer)."));
  }
  if (class_index < 0 || static_cast<std::size_t>(class_index) >= network.classes()) {
    return make_error(ErrorCode::bad_argument, "class_index", 0,
                      "class " + std::to_string(class_index) + " is outside the model's " +
                          std::to_string(network.classes()) + " classes.");
  }
  network.forward(input, 1, PassMode::eval, nullptr, nullptr);
  std::vector<float> grad(network.classes(), 0.f);
  grad[static_cast<std::size_t>(class_index)] = 1.f;
  std::vector<float> result;
  network.backward(grad, PassMode::eval, nullptr, &result);
  return result;
}

// ---- 4. Initialisation ---------------------------------------------------------------------------------

void initialize_like_pytorch(Model& model, std::uint64_t seed) {
  SeededRandom random(seed);
  for (Layer& layer : model.layers) {
    if ((layer.kind == LayerKind::linear || layer.kind == LayerKind::conv2d) && layer.tensors.size() == 2) {
      // fan_in = in_features, or in_channels * kernel^2; kaiming_uniform_(a = sqrt(5)) gives the same
      // bound as the bias: gain sqrt(2 / (1 + 5)) * sqrt(3 / fan_in) = 1 / sqrt(fan_in).
      const double fan_in = layer.kind == LayerKind::linear
                                ? static_cast<double>(layer.in_features)
                                : static_cast<double>(layer.in_channels * layer.kernel * layer.kernel);
      const float bound = fan_in > 0 ? static_cast<float>(1.0 / std::sqrt(fan_in)) : 0.f;
      for (Tensor& tensor : layer.tensors)
        for (float& v : tensor.values) v = random.uniform(-bound, bound);
    } else if (layer.kind == LayerKind::batch_norm && layer.tensors.size() == 4) {
      const float fill[4] = {1.f, 0.f, 0.f, 1.f};  // gamma, beta, running_mean, running_var
      for (std::size_t t = 0; t < 4; ++t) std::fill(layer.tensors[t].values.begin(), layer.tensors[t].values.end(), fill[t]);
    }
  }
  model.prepared.reset();
}

// ---- 5. Optimiser and schedule ---------------------------------------------------------------------------

double Schedule::learning_rate(double base, int epoch, std::int64_t global_step, std::int64_t total_steps) const {
  switch (kind) {
    case Kind::none: return base;
    case Kind::step: {
      double rate = base;
      for (int e = step_epochs > 0 ? epoch / step_epochs : 0; e > 0; --e) rate *= gamma;
      return rate;
    }
    case Kind::cosine: {
      const double progress = total_steps > 0 ? static_cast<double>(global_step) / static_cast<double>(total_steps) : 0.0;
      return base * 0.5 * (1.0 + cos_deterministic(3.141592653589793 * std::min(1.0, std::max(0.0, progress))));
    }
  }
  return base;
}

namespace {

// One trainable tensor's optimiser state.
struct ParameterState {
  std::size_t layer = 0, tensor = 0;
  std::vector<float> first, second;  // sgd: momentum buffer; adam: exp_avg, exp_avg_sq
};

// torch.optim's single-tensor updates, in float as torch computes them for float32 parameters. The
// branches sit outside the loops (which then vectorise); each element gets the same operations either way.
void update_parameter(const OptimizerOptions& o, double learning_rate, std::int64_t step, double beta1_power,
                      double beta2_power, std::vector<float>& parameter_values, const std::vector<float>& gradient_values,
                      ParameterState& state) {
  const float lr = static_cast<float>(learning_rate), decay = static_cast<float>(o.weight_decay);
  const std::size_t n = parameter_values.size();
  float* parameter = parameter_values.data();
  const float* gradient = gradient_values.data();
  if (o.kind == OptimizerKind::sgd) {
    const float momentum = static_cast<float>(o.momentum);
    if (momentum != 0.f && state.first.empty()) state.first.assign(n, 0.f);
    float* buffer = state.first.data();
    if (momentum == 0.f) {
      if (decay != 0.f) {
        for (std::size_t i = 0; i < n; ++i) parameter[i] -= lr * (gradient[i] + decay * parameter[i]);
      } else {
        for (std::size_t i = 0; i < n; ++i) parameter[i] -= lr * gradient[i];
      }
    } else if (step == 1) {  // the buffer starts as the first gradient
      for (std::size_t i = 0; i < n; ++i) {
        buffer[i] = decay != 0.f ? gradient[i] + decay * parameter[i] : gradient[i];
        parameter[i] -= lr * buffer[i];
      }
    } else if (decay != 0.f) {
      for (std::size_t i = 0; i < n; ++i) {
        buffer[i] = buffer[i] * momentum + (gradient[i] + decay * parameter[i]);
        parameter[i] -= lr * buffer[i];
      }
    } else {
      for (std::size_t i = 0; i < n; ++i) {
        buffer[i] = buffer[i] * momentum + gradient[i];
        parameter[i] -= lr * buffer[i];
      }
    }
    return;
  }
  if (state.first.empty()) {
    state.first.assign(n, 0.f);
    state.second.assign(n, 0.f);
  }
  float* first = state.first.data();
  float* second = state.second.data();
  const float beta1 = static_cast<float>(o.beta1), beta2 = static_cast<float>(o.beta2);
  const float step_size = static_cast<float>(learning_rate / (1.0 - beta1_power));
  const float correction2_sqrt = static_cast<float>(std::sqrt(1.0 - beta2_power));
  const float epsilon = static_cast<float>(o.epsilon);
  const bool decoupled = o.kind == OptimizerKind::adamw;
  const float shrink = 1.f - lr * decay;
  for (std::size_t i = 0; i < n; ++i) {
    float g = gradient[i];
    if (decoupled) {
      parameter[i] *= shrink;
    } else if (decay != 0.f) {
      g += decay * parameter[i];
    }
    first[i] = first[i] * beta1 + g * (1.f - beta1);
    second[i] = second[i] * beta2 + (1.f - beta2) * g * g;
    const float denominator = std::sqrt(second[i]) / correction2_sqrt + epsilon;
    parameter[i] -= step_size * (first[i] / denominator);
  }
}

std::string number(double value) {
  std::ostringstream text;
  text << value;
  return text.str();
}

Status check_options(const TrainerOptions& options) {
  const auto bad = [](const char* field, const std::string& message) {
    return make_error(ErrorCode::bad_argument, field, 0, message);
  };
  const OptimizerOptions& o = options.optimizer;
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
    return bad("optimizer.learning_rate", "the learning rate must be a positive number (the tutorial uses 0.01).");
  if (!(o.momentum >= 0 && o.momentum < 1)) return bad("optimizer.momentum", "momentum must be in [0, 1).");
  if (!(o.weight_decay >= 0) || !std::isfinite(o.weight_decay))
    return bad("optimizer.weight_decay", "weight decay must be a number >= 0.");
  if (!(o.beta1 >= 0 && o.beta1 < 1 && o.beta2 >= 0 && o.beta2 < 1 && o.epsilon > 0))
    return bad("optimizer.beta1", "Adam needs beta1 and beta2 in [0, 1) and epsilon > 0.");
  if (options.epochs < 1 || options.epochs > 1000) return bad("epochs", "epochs must be in 1..1000.");
  if (options.batch_size < 1 || options.batch_size > 65536) return bad("batch_size", "the batch size must be in 1..65536.");
  if (options.schedule.kind == Schedule::Kind::step &&
      (options.schedule.step_epochs < 1 || !(options.schedule.gamma > 0) || !std::isfinite(options.schedule.gamma)))
    return bad("schedule.step_epochs", "a step schedule needs step_epochs >= 1 and a finite gamma > 0 (e.g. 2 and 0.1).");
  return Ok{};
}

Status check_image_shape(const ModelCard& card, const ImageSet& data) {
  if (data.channels != card.input_channels || data.height != card.input_height || data.width != card.input_width) {
    return make_error(ErrorCode::bad_argument, "data.channels", 0,
                      "the images are " + std::to_string(data.channels) + "x" + std::to_string(data.height) + "x" +
                          std::to_string(data.width) + " but the model takes " + std::to_string(card.input_channels) +
                          "x" + std::to_string(card.input_height) + "x" + std::to_string(card.input_width) + ".");
  }
  return Ok{};
}

}  // namespace

std::string describe_recipe(const TrainerOptions& options) {
  const OptimizerOptions& o = options.optimizer;
  const char* names[] = {"sgd", "adam", "adamw"};
  std::string text = std::string(names[static_cast<int>(o.kind)]) + " lr=" + number(o.learning_rate);
  if (o.kind == OptimizerKind::sgd) text += " momentum=" + number(o.momentum);
  if (o.weight_decay > 0) text += " weight_decay=" + number(o.weight_decay);
  std::string scheduler = "none";
  if (options.schedule.kind == Schedule::Kind::cosine) scheduler = "cosine";
  if (options.schedule.kind == Schedule::Kind::step)
    scheduler = "step:" + std::to_string(options.schedule.step_epochs) + ":" + number(options.schedule.gamma);
  return text + " batch=" + std::to_string(options.batch_size) + " epochs=" + std::to_string(options.epochs) +
         " scheduler=" + scheduler + " loss=cross_entropy seed=" + std::to_string(options.seed) + " trainer=core";
}

// ---- 6. The Trainer -------------------------------------------------------------------------------------

namespace {

struct Piece {
  enum class Kind { forward, loss_and_backward, loss_and_parameters, backward, backward_parameters, backward_input, update };
  Kind kind = Kind::forward;
  std::size_t layer = 0;
};

}  // namespace

struct Trainer::State {
  Model model;
  ImageSet data;
  TrainerOptions options;
  BatchNetwork network;
  std::vector<ParameterState> parameters;
  std::vector<float> normalize;  // 256 entries: pixel value -> model input
  std::size_t image_size = 0;
  std::vector<std::uint32_t> order;  // this epoch's permutation
  SeededRandom shuffle{1}, dropout{2};
  int epoch = 0;
  std::int64_t step = 0, global_step = 0, steps_per_epoch = 0;
  double beta1_power = 1.0, beta2_power = 1.0;
  float last_loss = 0.f;
  double epoch_loss_sum = 0.0, last_epoch_mean = 0.0;
  std::vector<float> inputs;
  std::vector<int> labels;
  // The step in progress (advance()): the pieces of a step, the next one, gradients and report so far.
  std::vector<Piece> pieces;
  std::size_t piece = 0;
  std::vector<LayerGradients> grads;
  std::vector<float> grad_logits;
  double loss_sum = 0.0;
  StepReport report;

  void plan_pieces() {
    const std::size_t layers = network.layer_count();
    for (std::size_t l = 0; l < layers; ++l) pieces.push_back({Piece::Kind::forward, l});
    bool first = true;  // the first backward piece also takes the loss
    for (std::size_t l = layers; l-- > 0;) {
      if (network.splits_backward(l) && l > 0) {
        pieces.push_back({first ? Piece::Kind::loss_and_parameters : Piece::Kind::backward_parameters, l});
        pieces.push_back({Piece::Kind::backward_input, l});
      } else {
        pieces.push_back({first ? Piece::Kind::loss_and_backward : Piece::Kind::backward, l});
      }
      first = false;
    }
    if (first) pieces.push_back({Piece::Kind::loss_and_backward, layers});  // no layers run: the loss alone
    pieces.push_back({Piece::Kind::update, 0});
  }

  // The batch of this step, normalised; gradients zeroed; the forward pass started.
  void begin_step(double rate) {
    const std::size_t batch_size = static_cast<std::size_t>(options.batch_size);
    const std::size_t start = static_cast<std::size_t>(step) * batch_size;
    const std::size_t batch = std::min(batch_size, data.count - start);
    inputs.resize(batch * image_size);
    labels.resize(batch);
    for (std::size_t b = 0; b < batch; ++b) {
      const std::size_t index = order[start + b];
      const std::uint8_t* pixels = data.pixels + index * image_size;
      float* input = inputs.data() + b * image_size;
      for (std::size_t i = 0; i < image_size; ++i) input[i] = normalize[pixels[i]];
      labels[b] = data.labels[index];
    }
    report = StepReport{};
    report.learning_rate = rate;
    report.batch = static_cast<int>(batch);
    if (grads.empty()) grads = network.make_gradients();
    for (LayerGradients& layer : grads) {
      for (Tensor& tensor : layer.tensors) std::fill(tensor.values.begin(), tensor.values.end(), 0.f);
      layer.running_statistics.clear();
    }
    network.start_forward(inputs.data(), static_cast<int>(batch));
  }

  // The update, the batch_norm statistics, the counters; returns the finished step's report.
  StepReport finish_step() {
    ++global_step;
    beta1_power *= options.optimizer.beta1;
    beta2_power *= options.optimizer.beta2;
    for (ParameterState& parameter : parameters) {
      update_parameter(options.optimizer, report.learning_rate, global_step, beta1_power, beta2_power,
                       model.layers[parameter.layer].tensors[parameter.tensor].values,
                       grads[parameter.layer].tensors[parameter.tensor].values, parameter);
    }
    for (std::size_t l = 0; l < grads.size(); ++l) {
      if (grads[l].running_statistics.size() == 2) {
        model.layers[l].tensors[2].values.swap(grads[l].running_statistics[0].values);
        model.layers[l].tensors[3].values.swap(grads[l].running_statistics[1].values);
      }
    }
    last_loss = static_cast<float>(loss_sum / static_cast<double>(report.batch));
    epoch_loss_sum += last_loss;
    report.loss = last_loss;
    report.epoch = epoch + 1;
    report.step = step + 1;
    report.global_step = global_step;
    ++step;
    if (step == steps_per_epoch) {
      report.epoch_finished = true;
      last_epoch_mean = epoch_loss_sum / static_cast<double>(steps_per_epoch);
      epoch_loss_sum = 0.0;
      step = 0;
      ++epoch;
      if (epoch < options.epochs) draw_order();
    }
    return report;
  }

  // Fisher-Yates from the shuffle generator, with rejection so every permutation is equally likely.
  void draw_order() {
    order.resize(data.count);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint32_t>(i);
    for (std::size_t i = order.size(); i > 1; --i) {
      const std::uint64_t range = i, limit = UINT64_MAX - UINT64_MAX % range;
      std::uint64_t draw;
      do draw = shuffle.next_u64(); while (draw >= limit);
      std::swap(order[i - 1], order[draw % range]);
    }
  }
};

Trainer::Trainer(std::unique_ptr<State> state) : state_(std::move(state)) {}
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;
Trainer::~Trainer() = default;

Result<Trainer> Trainer::create(Model model, ImageSet data, TrainerOptions options) {
  if (Status valid = check_options(options); !valid) return valid.error();
  auto state = std::make_unique<State>();
  state->model = std::move(model);
  state->model.prepared.reset();
  if (Status bound = state->network.bind(state->model); !bound) return bound.error();
  if (data.count == 0 || data.pixels == nullptr || data.labels == nullptr || data.count > UINT32_MAX) {
    return make_error(ErrorCode::bad_argument, "data", 0, "the Trainer needs 1 or more training images with labels.");
  }
  if (Status shaped = check_image_shape(state->model.card, data); !shaped) return shaped.error();
  if (Status fits = check_memory(state->network, static_cast<std::size_t>(options.batch_size), options.memory_budget); !fits)
    return fits.error();
  const std::size_t classes = state->network.classes();
  for (std::size_t i = 0; i < data.count; ++i) {
    if (data.labels[i] >= classes) {
      return make_error(ErrorCode::bad_argument, "data.labels[" + std::to_string(i) + "]", 0,
                        "label " + std::to_string(data.labels[i]) + " is outside the model's " +
                            std::to_string(classes) + " classes: is this the model's dataset?");
    }
  }
  const ModelCard& card = state->model.card;
  if (!(card.normalize_std != 0.f) || !std::isfinite(card.normalize_mean) || !std::isfinite(card.normalize_std))
    return make_error(ErrorCode::bad_value, "card.normalize_std", 0, "the card's normalisation must be finite with std != 0.");
  // torchvision: ToTensor (v / 255 in float), then Normalize ((x - mean) / std in float).
  state->normalize.resize(256);
  for (int v = 0; v < 256; ++v)
    state->normalize[v] = (static_cast<float>(v) / 255.f - card.normalize_mean) / card.normalize_std;
  state->image_size = state->network.input_size();
  state->data = data;
  state->options = options;
  state->shuffle = SeededRandom(options.seed);
  state->dropout = SeededRandom(options.seed ^ 0x9e3779b97f4a7c15ull);
  state->steps_per_epoch = static_cast<std::int64_t>((data.count + options.batch_size - 1) / options.batch_size);
  for (std::size_t l = 0; l < state->model.layers.size(); ++l) {
    const LayerKind kind = state->model.layers[l].kind;
    if (kind == LayerKind::linear || kind == LayerKind::conv2d || kind == LayerKind::batch_norm)
      for (std::size_t t = 0; t < 2; ++t) state->parameters.push_back(ParameterState{l, t, {}, {}});
  }
  state->draw_order();
  state->plan_pieces();
  return Trainer(std::move(state));
}

// One step's pieces, in order: forward layer 0 .. n-1 (the first also gathers the batch); backward layer
// n-1 .. 0 (the first also takes the loss), a linear or conv2d layer other than the first in two pieces
// (parameter gradients, input gradient); the update.
Result<std::optional<StepReport>> Trainer::advance() {
  State& s = *state_;
  if (finished()) {
    return make_error(ErrorCode::bad_argument, "step", 0,
                      "the run has finished its " + std::to_string(s.options.epochs) +
                          " epochs; create a new Trainer to train more.");
  }
  if (s.piece == 0) s.begin_step(learning_rate());
  const Piece piece = s.pieces[s.piece++];
  switch (piece.kind) {
    case Piece::Kind::forward:
      s.network.forward_layer(piece.layer, PassMode::train, &s.dropout, &s.grads[piece.layer]);
      return std::optional<StepReport>();
    case Piece::Kind::loss_and_backward:
    case Piece::Kind::loss_and_parameters:
      s.loss_sum = cross_entropy(s.network.logits(), s.labels.data(), s.report.batch, s.network.classes(),
                                 s.grad_logits, s.report.correct);
      s.network.start_backward(s.grad_logits);
      if (piece.kind == Piece::Kind::loss_and_parameters) {
        s.network.backward_parameters(piece.layer, PassMode::train, &s.grads[piece.layer]);
      } else if (piece.layer < s.network.layer_count()) {
        s.network.backward_layer(piece.layer, PassMode::train, &s.grads[piece.layer], piece.layer > 0);
      }
      break;
    case Piece::Kind::backward:
      s.network.backward_layer(piece.layer, PassMode::train, &s.grads[piece.layer], piece.layer > 0);
      break;
    case Piece::Kind::backward_parameters:
      s.network.backward_parameters(piece.layer, PassMode::train, &s.grads[piece.layer]);
      break;
    case Piece::Kind::backward_input:
      s.network.backward_input(piece.layer, PassMode::train);
      break;
    case Piece::Kind::update:
      s.piece = 0;
      return std::optional<StepReport>(s.finish_step());
  }
  return std::optional<StepReport>();
}

Result<StepReport> Trainer::step() {
  for (;;) {
    auto piece = advance();
    if (!piece) return piece.error();
    if (piece.value()) return *piece.value();
  }
}

std::size_t Trainer::pieces_per_step() const { return state_->pieces.size(); }
bool Trainer::finished() const { return state_->epoch >= state_->options.epochs; }
int Trainer::epoch() const { return state_->epoch; }
int Trainer::epochs() const { return state_->options.epochs; }
std::int64_t Trainer::step_in_epoch() const { return state_->step; }
std::int64_t Trainer::steps_per_epoch() const { return state_->steps_per_epoch; }
std::int64_t Trainer::global_step() const { return state_->global_step; }
std::int64_t Trainer::total_steps() const { return state_->steps_per_epoch * state_->options.epochs; }
float Trainer::last_loss() const { return state_->last_loss; }

double Trainer::learning_rate() const {
  const State& s = *state_;
  return s.options.schedule.learning_rate(s.options.optimizer.learning_rate, std::min(s.epoch, s.options.epochs - 1),
                                          s.global_step, total_steps());
}

double Trainer::epoch_mean_loss() const {
  const State& s = *state_;
  return s.step > 0 ? s.epoch_loss_sum / static_cast<double>(s.step) : s.last_epoch_mean;
}

const std::vector<std::uint32_t>& Trainer::epoch_order() const { return state_->order; }

Model Trainer::model() const {
  Model model = state_->model;
  model.card.recipe = describe_recipe(state_->options);
  model.card.trainer_version = "digitlab core trainer (shared/src/train.cpp)";
  (void)prepare(model);  // the model was checked in create(); its shapes never change
  return model;
}

// ---- 7. Evaluation --------------------------------------------------------------------------------------

void Evaluation::merge(const Evaluation& other) {
  if (confusion.empty()) confusion = std::vector<std::vector<std::size_t>>(other.confusion.size(),
                                                                           std::vector<std::size_t>(other.confusion.size(), 0));
  for (std::size_t t = 0; t < other.confusion.size() && t < confusion.size(); ++t)
    for (std::size_t p = 0; p < other.confusion[t].size() && p < confusion[t].size(); ++p)
      confusion[t][p] += other.confusion[t][p];
  count += other.count;
  correct += other.correct;
  accuracy = count ? static_cast<double>(correct) / static_cast<double>(count) : 0.0;
}

Result<Evaluation> evaluate(const Model& model, ImageSet data) {
  // A prepared model is used as it is (Trainer::model() gives one); otherwise a prepared copy, so that
  // forward() does not pack the weights again for every image.
  Model copy;
  if (!model.prepared) {
    copy = model;
    if (Status ready = prepare(copy); !ready) return ready.error();
  }
  const Model& prepared = model.prepared ? model : copy;
  const ModelCard& card = model.card;
  const std::size_t size = static_cast<std::size_t>(card.input_channels * card.input_height * card.input_width);
  if (data.count > 0 && (data.pixels == nullptr || data.labels == nullptr))
    return make_error(ErrorCode::bad_argument, "data", 0, "evaluate() got a null image or label pointer.");
  if (Status shaped = check_image_shape(card, data); !shaped) return shaped.error();
  std::vector<float> table(256), input(size);
  for (int v = 0; v < 256; ++v) table[v] = (static_cast<float>(v) / 255.f - card.normalize_mean) / card.normalize_std;
  Evaluation evaluation;
  evaluation.count = data.count;
  std::size_t classes = 0;
  for (std::size_t i = 0; i < data.count; ++i) {
    for (std::size_t p = 0; p < size; ++p) input[p] = table[data.pixels[i * size + p]];
    auto prediction = forward(prepared, input.data(), size);
    if (!prediction) return prediction.error();
    if (evaluation.confusion.empty()) {
      classes = prediction.value().logits.size();
      evaluation.confusion.assign(classes, std::vector<std::size_t>(classes, 0));
    }
    const std::size_t truth = data.labels[i], predicted = static_cast<std::size_t>(prediction.value().label);
    if (truth >= classes)
      return make_error(ErrorCode::bad_argument, "data.labels[" + std::to_string(i) + "]", 0,
                        "label " + std::to_string(truth) + " is outside the model's classes.");
    ++evaluation.confusion[truth][predicted];
    if (truth == predicted) ++evaluation.correct;
  }
  evaluation.accuracy = data.count ? static_cast<double>(evaluation.correct) / static_cast<double>(data.count) : 0.0;
  return evaluation;
}

}  // namespace digitlab
