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
// The double version continues totals across calls (a product cut into parts over the rows).
void add_column_sums(const float* values, int rows, int columns, double* total) {
  for (int r = 0; r < rows; ++r) {
    const float* row = values + static_cast<std::size_t>(r) * columns;
    for (int j = 0; j < columns; ++j) total[j] += row[j];
  }
}
void add_column_sums(const float* values, int rows, int columns, float* sums) {
  std::vector<double> total(static_cast<std::size_t>(columns), 0.0);
  add_column_sums(values, rows, columns, total.data());
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

// Where a pass is cut into parts (the Trainer's advance() pieces): each part of a layer's pass does about
// `work` multiply-adds (TrainerOptions::piece_work; elementwise work counted with the weights in
// work_per_element()). Parts never change a result: every sum still adds its terms in the same order.

// [begin, end) of part `part` of `parts` equal shares of `total`, cut at multiples of `align` (the
// product's register tile), so a short last batch gets its share of every part (some may be empty).
struct Range {
  int begin = 0, end = 0;
  int size() const { return end - begin; }
};
Range share(int total, int parts, int part, int align = 1) {
  const long units = (static_cast<long>(total) + align - 1) / align;
  const auto at = [&](int p) { return static_cast<int>(std::min<long>(total, units * p / parts * align)); };
  return Range{at(part), at(part + 1)};
}
int parts_for(double work, double part_work, int most) {
  return std::max(1, static_cast<int>(std::min<double>(most, std::ceil(work / part_work))));
}

// The work of a product C (m, n) over k terms: the register tile is 8 columns wide (a ninth column costs
// a tile of its own), and each C(i, j) costs about 16 multiply-adds besides its k (start, store, packing).
double product_work(double m, double n, double k) { return m * 8 * std::ceil(n / 8) * (k + 16); }

// A product cut into a grid of tiles of C, each product run whole over k (so no C(i, j) is stored and
// reloaded mid-sum). Tiles near square: each tile packs its rows of A and its columns of B once, and that
// packing, per multiply-add, is 1/rows + 1/columns of the work.
struct TileGrid {
  int row_parts = 1, column_parts = 1;
  int parts() const { return row_parts * column_parts; }
};
TileGrid tile_grid(int m, int n, int k, double part_work) {
  const int wanted = parts_for(product_work(m, n, k), part_work, 1 << 20);
  TileGrid grid;
  if (wanted == 1) return grid;
  const int most_rows = (m + 3) / 4, most_columns = (n + 7) / 8;
  const double side = std::sqrt(part_work / std::max(1, k));
  grid.column_parts = std::max(1, std::min({most_columns, wanted, static_cast<int>(std::lround(n / side))}));
  grid.row_parts = std::max(1, std::min(most_rows, (wanted + grid.column_parts - 1) / grid.column_parts));
  grid.column_parts = std::max(1, std::min(most_columns, (wanted + grid.row_parts - 1) / grid.row_parts));
  return grid;
}

// v sized for `full` values of which [0, upto) are about to be written: the first time a buffer grows, each
// part zero-fills (and faults in) only its own share, not the whole batch's in one piece (the CNN's conv
// columns at batch 256 are 58 MB). A shorter batch shrinks it (keeping the memory).
template <class T>
void grow(std::vector<T>& v, std::size_t full, std::size_t upto) {
  if (v.size() > full) v.resize(full);
  if (v.capacity() < full) v.reserve(full);  // address space: pages are touched when written
  if (v.size() < upto) v.resize(upto);
}

class BatchNetwork {
 public:
  // Checks the model (infer_shapes) and notes the layers that take part: all but trailing softmaxes.
  // `sparse`: a first linear layer on blank paper may take the sparse way (training); without, it is
  // always the dense product, whose cost per image does not depend on a per-call set-up (evaluation).
  Status bind(const Model& model, bool sparse = true) {
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
    for (std::size_t l = 0; l < count_ && sparse && std::isfinite(blank_); ++l) {
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

  // Multiply-adds of one image's eval-mode forward pass (products; elementwise layers by their values).
  double forward_work_per_image() const {
    double work = 0;
    for (std::size_t l = 0; l < count_; ++l) {
      const Layer& layer = model_->layers[l];
      const double out = static_cast<double>(sample_size(l, true));
      if (layer.kind == LayerKind::linear) work += product_work(1, static_cast<double>(layer.out_features), static_cast<double>(layer.in_features));
      else if (layer.kind == LayerKind::conv2d)
        work += product_work(out / static_cast<double>(layer.out_channels), static_cast<double>(layer.out_channels),
                             static_cast<double>(layer.in_channels * layer.kernel * layer.kernel));
      else work += work_per_element(layer) * out;
    }
    return work;
  }

  // ---- the plan: every layer's passes as phases, each phase as parts run in order ----
  // forward: batch_norm in train mode has three phases (the batch mean, the variance around it, the
  // normalisation: each needs the whole batch's previous one), the sparse first linear layer two, every
  // other layer one. backward: linear three (weight gradient, the sparse layer's move of it into place,
  // input gradient), conv2d two (parameter gradients, input gradient), batch_norm two (its sums over the
  // batch, then the input gradient that needs them), the others one (input gradient). A phase of 0 parts
  // does not run (the first layer's input gradient in training, the sparse phases of other layers).
  static constexpr int kPhases = 3;
  static constexpr double kWholeLayer = 1e300;  // part_work for passes not run in pieces: one part a phase
  struct LayerPlan {
    int forward[kPhases] = {0, 0, 0}, backward[kPhases] = {0, 0, 0};
  };
  const LayerPlan& plan(std::size_t l) const { return plans_[l]; }

  // Parts of about `part_work` multiply-adds for batches of up to `batch` samples (a shorter batch shares
  // the same parts out). A layer's part count depends on its size and the batch only.
  void make_plan(int batch, PassMode mode, bool input_gradient, double part_work = kWholeLayer) {
    plan_batch_ = batch;
    part_work_ = part_work;
    plans_.assign(count_, LayerPlan{});
    for (std::size_t l = 0; l < count_; ++l) {
      const Layer& layer = model_->layers[l];
      LayerPlan& p = plans_[l];
      const double in = static_cast<double>(sample_size(l, false)), out = static_cast<double>(sample_size(l, true));
      const bool input_pass = l > 0 || input_gradient;
      switch (layer.kind) {
        case LayerKind::linear: {
          // forward: [the sparse layer's blank-paper terms,] the product; backward: the weight gradient
          // [, the sparse layer's gradient moved into place], the input gradient. The sparse phases walk
          // the whole weight with strided reads or writes: about 40 multiply-adds a weight.
          const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
          const bool sparse = l == sparse_layer_;
          const int sparse_parts = parts_for(40.0 * n_in * n_out, part_work, (n_out + 15) / 16);
          p.forward[0] = sparse ? sparse_parts : 0;
          p.forward[1] = tile_grid(batch, n_out, n_in, part_work).parts();
          p.backward[0] = tile_grid(n_out, n_in, batch, part_work).parts();
          p.backward[1] = sparse ? sparse_parts : 0;
          p.backward[2] = input_pass ? tile_grid(batch, n_in, n_out, part_work).parts() : 0;
          break;
        }
        case LayerKind::conv2d: {
          // Per image: the product, and im2col (forward) or col2im (input gradient), or the bias sums.
          const double pixels = static_cast<double>(out_shapes_[l].dims[1] * out_shapes_[l].dims[2]);
          const double taps = static_cast<double>(layer.in_channels * layer.kernel * layer.kernel);
          const double o = static_cast<double>(layer.out_channels);
          p.forward[0] = parts_for((product_work(pixels, o, taps) + 4 * pixels * taps) * batch, part_work, batch);
          p.backward[0] = parts_for((product_work(o, taps, pixels) + 2 * pixels * o) * batch, part_work, batch);
          p.backward[1] = input_pass ? parts_for((product_work(pixels, taps, o) + 4 * pixels * taps) * batch, part_work, batch) : 0;
          break;
        }
        case LayerKind::batch_norm: {
          // Counted by values: each phase reads the batch once (sums in double), as an elementwise layer.
          const double pass = 12 * in * batch;
          const int parts = parts_for(pass, part_work, batch * static_cast<int>(in / layer.channels));
          if (mode == PassMode::train) p.forward[0] = p.forward[1] = parts;
          p.forward[2] = p.backward[0] = parts;
          p.backward[1] = input_pass ? parts : 0;
          break;
        }
        default: {
          p.forward[0] = parts_for(work_per_element(layer) * std::max(in, out) * batch, part_work, batch);
          p.backward[0] = input_pass ? parts_for(12 * std::max(in, out) * batch, part_work, batch) : 0;
          break;
        }
      }
    }
  }

  // inputs: batch samples in (C, H, W). `dropout` is used in train mode only. With `grads` (train mode)
  // batch_norm's updated running statistics are written into it. Plans for this batch first.
  void forward(const float* inputs, int batch, PassMode mode, SeededRandom* dropout, std::vector<LayerGradients>* grads,
               bool input_gradient) {
    make_plan(batch, mode, input_gradient);
    start_forward(inputs, batch);
    for (std::size_t l = 0; l < count_; ++l)
      for (int phase = 0; phase < kPhases; ++phase)
        for (int part = 0; part < plans_[l].forward[phase]; ++part)
          forward_part(l, phase, part, mode, dropout, grads ? &(*grads)[l] : nullptr);
  }

  // grad_logits (batch, classes) -> parameter gradients (added into grads, sized by make_gradients) and,
  // when input_grad is given (forward() planned with input_gradient), the gradient of the inputs in
  // (C, H, W) per sample.
  void backward(const std::vector<float>& grad_logits, PassMode mode, std::vector<LayerGradients>* grads,
                std::vector<float>* input_grad) {
    start_backward(grad_logits);
    for (std::size_t l = count_; l-- > 0;)
      for (int phase = 0; phase < kPhases; ++phase)
        for (int part = 0; part < plans_[l].backward[phase]; ++part)
          backward_part(l, phase, part, mode, grads ? &(*grads)[l] : nullptr);
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

  // The passes in pieces (the Trainer's advance()): start_forward, forward_part for every layer, phase
  // and part in order; start_backward, backward_part from the last layer down.
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

  // Zeroed gradient tensors for every trainable tensor of the model (of layer l: zero_gradients).
  std::vector<LayerGradients> make_gradients() const {
    std::vector<LayerGradients> grads(model_->layers.size());
    for (std::size_t l = 0; l < count_; ++l) zero_gradients(l, grads[l]);
    return grads;
  }
  void zero_gradients(std::size_t l, LayerGradients& grads) const {
    const Layer& layer = model_->layers[l];
    const std::size_t trainable =
        layer.kind == LayerKind::linear || layer.kind == LayerKind::conv2d || layer.kind == LayerKind::batch_norm ? 2 : 0;
    if (grads.tensors.size() != trainable) {
      grads.tensors.clear();
      for (std::size_t t = 0; t < trainable; ++t)
        grads.tensors.push_back(Tensor{layer.tensors[t].shape, std::vector<float>(layer.tensors[t].values.size(), 0.f)});
      return;
    }
    for (Tensor& tensor : grads.tensors) std::fill(tensor.values.begin(), tensor.values.end(), 0.f);
  }

  // Part `part` of phase `phase` of layer l's forward pass: acts_[l] -> acts_[l + 1] for its share of
  // the batch, keeping what the backward pass needs. A layer's first part also does what its whole batch
  // needs once (the conv weight in the columns' order, the sparse first layer's blank-paper terms).
  void forward_part(std::size_t l, int phase, int part, PassMode mode, SeededRandom* dropout, LayerGradients* grads) {
    const Layer& layer = model_->layers[l];
    const std::vector<float>& x = acts_[l];
    std::vector<float>& y = acts_[l + 1];
    LayerCache& cache = caches_[l];
    const int batch = batch_;
    const int parts = plans_[l].forward[phase];
    const bool first = part == 0, last = part + 1 == parts;
    const std::size_t in_sample = sample_size(l, false), out_sample = sample_size(l, true);
    const std::size_t full = static_cast<std::size_t>(batch) * out_sample;
    grow(y, full, 0);
    const auto& in = in_shapes_[l].dims;
    const auto& out = out_shapes_[l].dims;
    const Range images = share(batch, parts, part);
    switch (layer.kind) {
      case LayerKind::linear: {
        const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
        if (phase == 0) {  // the sparse layer: which inputs are inked, and its blank-paper terms
          if (first) linear_sparse_scan(layer, x, cache);
          if (cache.sparse) linear_sparse_prepare(layer, share(n_out, parts, part, 16));
          break;
        }
        if (l == sparse_layer_ && cache.sparse) {
          grow(y, full, images.end * out_sample);
          linear_forward_sparse(layer, y, cache, images);
          break;
        }
        // y (batch, out) = bias + x (batch, in) * weight^T; weight (out, in) read as (in, out); one tile.
        const TileGrid grid = tile_grid(plan_batch_, n_out, n_in, part_work_);
        const Range rows = share(batch, grid.row_parts, part / grid.column_parts, 4);
        const Range columns = share(n_out, grid.column_parts, part % grid.column_parts, 8);
        if (rows.size() == 0 || columns.size() == 0) break;
        grow(y, full, rows.end * out_sample);
        const float* bias = layer.tensors[1].values.data();
        for (int b = rows.begin; b < rows.end; ++b)
          std::copy(bias + columns.begin, bias + columns.end, y.data() + static_cast<std::size_t>(b) * n_out + columns.begin);
        train_gemm::gemm(rows.size(), columns.size(), n_in, MatrixView{x.data() + static_cast<std::size_t>(rows.begin) * n_in, n_in, 1},
                         MatrixView{layer.tensors[0].values.data() + static_cast<std::size_t>(columns.begin) * n_in, 1, n_in},
                         y.data() + static_cast<std::size_t>(rows.begin) * n_out + columns.begin, n_out, true, gemm_scratch_);
        break;
      }
      case LayerKind::conv2d: {
        const int c = static_cast<int>(in[0]), h = static_cast<int>(in[1]), w = static_cast<int>(in[2]);
        const int o = static_cast<int>(out[0]), oh = static_cast<int>(out[1]), ow = static_cast<int>(out[2]);
        const int k = static_cast<int>(layer.kernel), stride = static_cast<int>(layer.stride),
                  pad = static_cast<int>(layer.padding);
        const int taps = k * k * c;  // one column row: (ky, kx, channel)
        grow(cache.columns, static_cast<std::size_t>(batch) * oh * ow * taps, static_cast<std::size_t>(images.end) * oh * ow * taps);
        grow(y, full, images.end * out_sample);
        if (first) reorder_conv_weight(layer);
        for (int b = images.begin; b < images.end; ++b) {
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
        const std::size_t first_pixel = static_cast<std::size_t>(images.begin) * oh * ow;
        const std::size_t pixels = static_cast<std::size_t>(images.size()) * oh * ow;
        const float* bias = layer.tensors[1].values.data();
        for (std::size_t p = first_pixel; p < first_pixel + pixels; ++p) std::copy(bias, bias + o, y.data() + p * o);
        train_gemm::gemm(static_cast<int>(pixels), o, taps, MatrixView{cache.columns.data() + first_pixel * taps, taps, 1},
                         MatrixView{weight_hwc_.data(), 1, taps}, y.data() + first_pixel * o, o, true, gemm_scratch_);
        break;
      }
      case LayerKind::batch_norm: {
        const int channels = static_cast<int>(layer.channels);
        const int all_rows = static_cast<int>(x.size() / channels);
        const Range rows = share(all_rows, parts, part);
        const float* gamma = layer.tensors[0].values.data();
        const float* beta = layer.tensors[1].values.data();
        if (mode == PassMode::eval || phase == 2) grow(y, full, static_cast<std::size_t>(rows.end) * channels);
        if (mode == PassMode::eval) {
          const kernels::Elementwise op =
              kernels::make_batch_norm(gamma, beta, layer.tensors[2].values.data(), layer.tensors[3].values.data(),
                                       channels, layer.eps);
          const std::size_t from = static_cast<std::size_t>(rows.begin) * channels, to = static_cast<std::size_t>(rows.end) * channels;
          std::copy(x.begin() + from, x.begin() + to, y.begin() + from);
          for (int r = rows.begin; r < rows.end; ++r)
            kernels::apply_to_channels(op, y.data() + static_cast<std::size_t>(r) * channels, 0, channels);
          break;
        }
        // Batch statistics in double, rows in order across the parts: the mean (phase 0), then the biased
        // variance around it (phase 1), then the normalisation (phase 2). Local restrict pointers
        // throughout, so the loops over channels vectorise.
        const float* __restrict__ input = x.data();
        if (phase < 2) {
          if (first) (phase == 0 ? sums_a_ : sums_b_).assign(channels, 0.0);
          double* __restrict__ mean = sums_a_.data();
          double* __restrict__ variance = sums_b_.data();
          for (int r = rows.begin; r < rows.end; ++r) {
            const float* __restrict__ row = input + static_cast<std::size_t>(r) * channels;
            if (phase == 0) {
              for (int ch = 0; ch < channels; ++ch) mean[ch] += row[ch];
            } else {
              for (int ch = 0; ch < channels; ++ch) {
                const double d = row[ch] - mean[ch];
                variance[ch] += d * d;
              }
            }
          }
          if (!last) break;
          if (phase == 0) {
            for (int ch = 0; ch < channels; ++ch) mean[ch] /= static_cast<double>(all_rows);
            break;
          }
          cache.mean.resize(channels);
          cache.inverse_std.resize(channels);
          for (int ch = 0; ch < channels; ++ch) {
            variance[ch] /= static_cast<double>(all_rows);
            cache.mean[ch] = static_cast<float>(mean[ch]);
            cache.inverse_std[ch] = static_cast<float>(1.0 / std::sqrt(variance[ch] + layer.eps));
          }
          if (grads) {  // PyTorch's running statistics: momentum 0.1, unbiased variance
            const double unbiased = all_rows > 1 ? static_cast<double>(all_rows) / static_cast<double>(all_rows - 1) : 1.0;
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
        const float* __restrict__ batch_mean = cache.mean.data();
        const float* __restrict__ inverse_std = cache.inverse_std.data();
        float* __restrict__ output = y.data();
        for (int r = rows.begin; r < rows.end; ++r) {
          const float* __restrict__ row = input + static_cast<std::size_t>(r) * channels;
          float* __restrict__ out_row = output + static_cast<std::size_t>(r) * channels;
          for (int ch = 0; ch < channels; ++ch)
            out_row[ch] = (row[ch] - batch_mean[ch]) * inverse_std[ch] * gamma[ch] + beta[ch];
        }
        break;
      }
      case LayerKind::relu:
      case LayerKind::leaky_relu:
      case LayerKind::sigmoid:
      case LayerKind::tanh: {
        const std::size_t from = images.begin * in_sample, to = images.end * in_sample;
        grow(y, full, to);
        std::copy(x.begin() + from, x.begin() + to, y.begin() + from);
        kernels::apply_to_channels(activation_op(layer), y.data() + from, 0, static_cast<int>(to - from));
        break;
      }
      case LayerKind::max_pool2d: {
        const int c = static_cast<int>(in[0]), w = static_cast<int>(in[2]);
        const int oh = static_cast<int>(out[1]), ow = static_cast<int>(out[2]);
        const int k = static_cast<int>(layer.kernel), stride = static_cast<int>(layer.stride);
        grow(y, full, images.end * out_sample);
        grow(cache.argmax, full, images.end * out_sample);
        // The first largest value in (ky, kx) order wins, as in PyTorch (a NaN wins too): it gets the
        // gradient on ties. Channels innermost, so the comparisons run over vectors of channels.
        for (int b = images.begin; b < images.end; ++b) {
          const float* __restrict__ image = x.data() + b * in_sample;
          for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox) {
              const std::size_t o = b * out_sample + (static_cast<std::size_t>(oy) * ow + ox) * c;
              float* __restrict__ best = y.data() + o;
              int* __restrict__ where = cache.argmax.data() + o;
              const int first_tap = ((oy * stride) * w + ox * stride) * c;
              for (int ch = 0; ch < c; ++ch) {
                best[ch] = image[first_tap + ch];
                where[ch] = first_tap + ch;
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
        grow(y, full, images.end * out_sample);
        if (in.size() == 3 && in[0] > 1) {
          for (int b = images.begin; b < images.end; ++b)
            kernels::hwc_to_chw(x.data() + b * in_sample, static_cast<int>(in[0]), static_cast<int>(in[1]),
                                static_cast<int>(in[2]), y.data() + b * in_sample);
        } else {
          std::copy(x.begin() + images.begin * in_sample, x.begin() + images.end * in_sample, y.begin() + images.begin * in_sample);
        }
        break;
      case LayerKind::dropout: {
        const std::size_t from = images.begin * in_sample, to = images.end * in_sample;
        grow(y, full, to);
        if (mode == PassMode::eval || layer.dropout_p <= 0.f) {
          std::copy(x.begin() + from, x.begin() + to, y.begin() + from);
          cache.mask.clear();
          break;
        }
        // The masks come from the generator in value order, part after part.
        const float keep = layer.dropout_p >= 1.f ? 0.f : 1.f / (1.f - layer.dropout_p);
        grow(cache.mask, x.size(), to);
        for (std::size_t i = from; i < to; ++i) {
          cache.mask[i] = dropout->uniform(0.f, 1.f) < layer.dropout_p ? 0.f : keep;
          y[i] = x[i] * cache.mask[i];
        }
        break;
      }
      case LayerKind::softmax:
        // Inside the network: over the last dimension of (C, H, W) or over the features.
        grow(y, full, images.end * out_sample);
        for_each_softmax_group(l, images, [&](std::size_t first_value, std::size_t stride, std::size_t length) {
          group_.resize(length);
          for (std::size_t i = 0; i < length; ++i) group_[i] = x[first_value + i * stride];
          kernels::softmax(group_.data(), static_cast<std::int64_t>(length), static_cast<std::int64_t>(length));
          for (std::size_t i = 0; i < length; ++i) y[first_value + i * stride] = group_[i];
        });
        break;
    }
  }

  // Part `part` of phase `phase` of layer l's backward pass: its parameters' gradients go into grads
  // (when given), its input's into gx_; the input gradient's last part makes it gy_ for the layer below.
  void backward_part(std::size_t l, int phase, int part, PassMode mode, LayerGradients* grads) {
    backward_into_gx(l, phase, part, mode, grads);
    const LayerPlan& p = plans_[l];
    int last_phase = kPhases - 1;
    while (last_phase > 0 && p.backward[last_phase] == 0) --last_phase;
    if (phase == last_phase && part + 1 == p.backward[phase] && writes_input_gradient(l, phase)) gy_.swap(gx_);
  }

 private:
  std::size_t sample_size(std::size_t l, bool output) const {
    return static_cast<std::size_t>((output ? out_shapes_[l] : in_shapes_[l]).size());
  }
  bool writes_input_gradient(std::size_t l, int phase) const {
    const LayerKind kind = model_->layers[l].kind;
    if (kind == LayerKind::linear) return phase == 2;
    return kind == LayerKind::conv2d || kind == LayerKind::batch_norm ? phase == 1 : phase == 0;
  }

  void backward_into_gx(std::size_t l, int phase, int part, PassMode mode, LayerGradients* grads) {
    const Layer& layer = model_->layers[l];
    const std::vector<float>& x = acts_[l];
    const std::vector<float>& y = acts_[l + 1];
    const std::vector<float>& gy = gy_;
    LayerCache& cache = caches_[l];
    const int batch = batch_;
    const int parts = plans_[l].backward[phase];
    const bool first = part == 0, last = part + 1 == parts;
    const auto& in = in_shapes_[l].dims;
    const auto& out = out_shapes_[l].dims;
    const std::size_t in_sample = sample_size(l, false), out_sample = sample_size(l, true);
    if (writes_input_gradient(l, phase)) grow(gx_, x.size(), 0);
    const Range images = share(batch, parts, part);
    // This part writes the input gradient [0, upto) at most (its share; grow() above sized it).
    const auto grow_input_gradient = [&](std::size_t upto) { grow(gx_, x.size(), upto); };
    switch (layer.kind) {
      case LayerKind::linear: {
        const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
        if (phase == 0) {
          if (!grads) break;
          // bias += column sums of gy (the whole batch, in the first part: batch * out additions).
          if (first) add_column_sums(gy.data(), batch, n_out, grads->tensors[1].values.data());
          if (l == sparse_layer_ && cache.sparse) {
            linear_weight_gradient_sparse(layer, gy, cache, images, first);
            break;
          }
          // weight (out, in) += gy^T (out, batch) * x (batch, in): one tile of the weight, over the whole batch.
          const TileGrid grid = tile_grid(n_out, n_in, plan_batch_, part_work_);
          const Range rows = share(n_out, grid.row_parts, part / grid.column_parts, 4);
          const Range columns = share(n_in, grid.column_parts, part % grid.column_parts, 8);
          if (rows.size() == 0 || columns.size() == 0) break;
          train_gemm::gemm(rows.size(), columns.size(), batch, MatrixView{gy.data() + rows.begin, 1, n_out},
                           MatrixView{x.data() + columns.begin, n_in, 1},
                           grads->tensors[0].values.data() + static_cast<std::size_t>(rows.begin) * n_in + columns.begin,
                           n_in, true, gemm_scratch_);
          break;
        }
        if (phase == 1) {
          if (grads && cache.sparse) linear_weight_gradient_sparse_finish(layer, gy, grads->tensors[0].values.data(),
                                                                          share(n_out, parts, part, 16), first);
          break;
        }
        // x (batch, in) <- gy (batch, out) * weight (out, in): one tile.
        const TileGrid grid = tile_grid(plan_batch_, n_in, n_out, part_work_);
        const Range rows = share(batch, grid.row_parts, part / grid.column_parts, 4);
        const Range columns = share(n_in, grid.column_parts, part % grid.column_parts, 8);
        if (rows.size() == 0 || columns.size() == 0) break;
        grow_input_gradient(static_cast<std::size_t>(rows.end) * n_in);
        train_gemm::gemm(rows.size(), columns.size(), n_out, MatrixView{gy.data() + static_cast<std::size_t>(rows.begin) * n_out, n_out, 1},
                         MatrixView{layer.tensors[0].values.data() + columns.begin, n_in, 1},
                         gx_.data() + static_cast<std::size_t>(rows.begin) * n_in + columns.begin, n_in, false, gemm_scratch_);
        break;
      }
      case LayerKind::conv2d: {
        const int c = static_cast<int>(in[0]), h = static_cast<int>(in[1]), w = static_cast<int>(in[2]);
        const int o = static_cast<int>(out[0]), oh = static_cast<int>(out[1]), ow = static_cast<int>(out[2]);
        const int k = static_cast<int>(layer.kernel), stride = static_cast<int>(layer.stride),
                  pad = static_cast<int>(layer.padding);
        const int taps = k * k * c;
        const std::size_t first_pixel = static_cast<std::size_t>(images.begin) * oh * ow;
        const int pixels = images.size() * oh * ow;
        if (phase == 0) {
          if (!grads) break;
          // weight (out, taps) = gy^T (out, pixels) * columns (pixels, taps), the parts continuing the sums
          // over the pixels in order; then back to (out, c, ky, kx). The bias sums in double likewise.
          if (first) {
            weight_grad_.assign(static_cast<std::size_t>(o) * taps, 0.f);
            sums_a_.assign(o, 0.0);
          }
          train_gemm::gemm(o, taps, pixels, MatrixView{gy.data() + first_pixel * o, 1, o},
                           MatrixView{cache.columns.data() + first_pixel * taps, taps, 1}, weight_grad_.data(), taps,
                           true, gemm_scratch_);
          add_column_sums(gy.data() + first_pixel * o, pixels, o, sums_a_.data());
          if (!last) break;
          float* weight = grads->tensors[0].values.data();
          for (int oc = 0; oc < o; ++oc)
            for (int ch = 0; ch < c; ++ch)
              for (int ky = 0; ky < k; ++ky)
                for (int kx = 0; kx < k; ++kx)
                  weight[((static_cast<std::size_t>(oc) * c + ch) * k + ky) * k + kx] +=
                      weight_grad_[static_cast<std::size_t>(oc) * taps + (ky * k + kx) * c + ch];
          float* bias = grads->tensors[1].values.data();
          for (int oc = 0; oc < o; ++oc) bias[oc] += static_cast<float>(sums_a_[oc]);
          break;
        }
        // columns (pixels, taps) <- gy (pixels, out) * weight (out, taps), then added back onto the pixels.
        if (first) reorder_conv_weight(layer);
        column_grad_.resize(static_cast<std::size_t>(pixels) * taps);
        train_gemm::gemm(pixels, taps, o, MatrixView{gy.data() + first_pixel * o, o, 1}, MatrixView{weight_hwc_.data(), taps, 1},
                         column_grad_.data(), taps, false, gemm_scratch_);
        grow_input_gradient(images.end * in_sample);
        std::fill(gx_.begin() + images.begin * in_sample, gx_.begin() + images.end * in_sample, 0.f);
        for (int b = images.begin; b < images.end; ++b) {
          float* image = gx_.data() + static_cast<std::size_t>(b) * h * w * c;
          for (int oy = 0; oy < oh; ++oy)
            for (int ox = 0; ox < ow; ++ox) {
              const float* row = column_grad_.data() + ((static_cast<std::size_t>(b - images.begin) * oh + oy) * ow + ox) * taps;
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
        const int all_rows = static_cast<int>(x.size() / channels);
        const Range rows = share(all_rows, parts, part);
        const float* gamma = layer.tensors[0].values.data();
        if (phase == 0 && first) {
          bn_mean_.resize(channels);
          bn_inverse_std_.resize(channels);
          if (mode == PassMode::eval) {
            for (int ch = 0; ch < channels; ++ch) {
              bn_mean_[ch] = layer.tensors[2].values[ch];
              bn_inverse_std_[ch] = 1.f / std::sqrt(layer.tensors[3].values[ch] + layer.eps);
            }
          } else {
            bn_mean_ = cache.mean;
            bn_inverse_std_ = cache.inverse_std;
          }
          sums_a_.assign(channels, 0.0);
          sums_b_.assign(channels, 0.0);
        }
        const float* __restrict__ input = x.data();
        const float* __restrict__ grad = gy.data();
        const float* __restrict__ centre = bn_mean_.data();
        const float* __restrict__ inverse = bn_inverse_std_.data();
        if (phase == 0) {
          // Sums over the rows in order (double), across the parts: d beta = sum gy, d gamma = sum gy *
          // x_hat. Local restrict pointers, so the loops over channels vectorise.
          double* __restrict__ sum_gy = sums_a_.data();
          double* __restrict__ sum_gy_xhat = sums_b_.data();
          for (int r = rows.begin; r < rows.end; ++r) {
            const float* __restrict__ row = input + static_cast<std::size_t>(r) * channels;
            const float* __restrict__ grad_row = grad + static_cast<std::size_t>(r) * channels;
            for (int ch = 0; ch < channels; ++ch) {
              const float xhat = (row[ch] - centre[ch]) * inverse[ch];
              sum_gy[ch] += grad_row[ch];
              sum_gy_xhat[ch] += static_cast<double>(grad_row[ch]) * xhat;
            }
          }
          if (!last) break;
          if (grads) {
            for (int ch = 0; ch < channels; ++ch) {
              grads->tensors[0].values[ch] += static_cast<float>(sum_gy_xhat[ch]);
              grads->tensors[1].values[ch] += static_cast<float>(sum_gy[ch]);
            }
          }
          // x_hat's own gradient through the batch mean and variance (train mode):
          // gx = gamma * inv_std * (gy - mean(gy) - x_hat * mean(gy * x_hat)).
          bn_mean_gy_.resize(channels);
          bn_mean_gy_xhat_.resize(channels);
          bn_factor_.resize(channels);
          for (int ch = 0; ch < channels; ++ch) {
            bn_mean_gy_[ch] = static_cast<float>(sum_gy[ch] / static_cast<double>(all_rows));
            bn_mean_gy_xhat_[ch] = static_cast<float>(sum_gy_xhat[ch] / static_cast<double>(all_rows));
            bn_factor_[ch] = gamma[ch] * inverse[ch];
          }
          break;
        }
        grow_input_gradient(static_cast<std::size_t>(rows.end) * channels);
        if (mode == PassMode::eval) {
          for (int r = rows.begin; r < rows.end; ++r)
            for (int ch = 0; ch < channels; ++ch) {
              const std::size_t i = static_cast<std::size_t>(r) * channels + ch;
              gx_[i] = gy[i] * (gamma[ch] * inverse[ch]);
            }
          break;
        }
        const float* __restrict__ mean_gy = bn_mean_gy_.data();
        const float* __restrict__ mean_gy_xhat = bn_mean_gy_xhat_.data();
        const float* __restrict__ factor = bn_factor_.data();
        float* __restrict__ input_grad = gx_.data();
        for (int r = rows.begin; r < rows.end; ++r) {
          const float* __restrict__ row = input + static_cast<std::size_t>(r) * channels;
          const float* __restrict__ grad_row = grad + static_cast<std::size_t>(r) * channels;
          float* __restrict__ out_row = input_grad + static_cast<std::size_t>(r) * channels;
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
        const std::size_t from = images.begin * in_sample, n = images.size() * in_sample;
        grow_input_gradient(from + n);
        // Raw restrict pointers: the loops neither reload the vectors' data pointers nor fear aliasing,
        // so they vectorise.
        const float* __restrict__ input = x.data() + from;
        const float* __restrict__ result = y.data() + from;
        const float* __restrict__ g = gy.data() + from;
        float* __restrict__ input_grad = gx_.data() + from;
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
        grow_input_gradient(images.end * in_sample);
        std::fill(gx_.begin() + images.begin * in_sample, gx_.begin() + images.end * in_sample, 0.f);
        for (int b = images.begin; b < images.end; ++b)
          for (std::size_t o = 0; o < out_sample; ++o) {
            const std::size_t at = b * out_sample + o;
            gx_[b * in_sample + cache.argmax[at]] += gy[at];
          }
        break;
      }
      case LayerKind::flatten:
        grow_input_gradient(images.end * in_sample);
        if (in.size() == 3 && in[0] > 1) {
          for (int b = images.begin; b < images.end; ++b)
            kernels::chw_to_hwc(gy.data() + b * in_sample, static_cast<int>(in[0]), static_cast<int>(in[1]),
                                static_cast<int>(in[2]), gx_.data() + b * in_sample);
        } else {
          std::copy(gy.begin() + images.begin * in_sample, gy.begin() + images.end * in_sample, gx_.begin() + images.begin * in_sample);
        }
        break;
      case LayerKind::dropout: {
        const std::size_t from = images.begin * in_sample, to = images.end * in_sample;
        grow_input_gradient(to);
        if (cache.mask.empty()) {
          std::copy(gy.begin() + from, gy.begin() + to, gx_.begin() + from);
        } else {
          for (std::size_t i = from; i < to; ++i) gx_[i] = gy[i] * cache.mask[i];
        }
        break;
      }
      case LayerKind::softmax:
        // gx = y * (gy - sum(gy * y)) within each group.
        grow_input_gradient(images.end * in_sample);
        for_each_softmax_group(l, images, [&](std::size_t first_value, std::size_t stride, std::size_t length) {
          float dot = 0.f;
          for (std::size_t i = 0; i < length; ++i) dot += gy[first_value + i * stride] * y[first_value + i * stride];
          for (std::size_t i = 0; i < length; ++i) {
            const std::size_t at = first_value + i * stride;
            gx_[at] = y[at] * (gy[at] - dot);
          }
        });
        break;
    }
  }

  // softmax over the last dimension of PyTorch's layout: the features when flat; for (C, H, W), stored
  // here as (H, W, C), each (c, h) row over w, whose values lie C apart. Samples `images` only.
  template <class Visit>
  void for_each_softmax_group(std::size_t l, Range images, Visit visit) const {
    const auto& d = in_shapes_[l].dims;
    const std::size_t size = sample_size(l, false);
    for (int b = images.begin; b < images.end; ++b) {
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

  // Work per value of an elementwise layer's pass, in multiply-adds (measured: a value read and written
  // through memory costs about 12 of the product's; a generator draw or an exp about twice that).
  static double work_per_element(const Layer& layer) {
    switch (layer.kind) {
      case LayerKind::sigmoid:
      case LayerKind::tanh:
      case LayerKind::softmax:
      case LayerKind::dropout: return 24;
      case LayerKind::max_pool2d: return 12 + static_cast<double>(layer.kernel * layer.kernel);
      default: return 12;
    }
  }

  // The first linear layer on blank-paper inputs, as forward()'s kernels do it: with x = blank + s, where
  // s is 0 for every blank pixel, y = (bias + blank * sum_i w[o][i]) + sum over the nonzero s of s * w[.][i]
  // -- one row of the transposed weight per inked pixel. Used when at most half the inputs are inked (MNIST:
  // about a fifth); otherwise the dense product runs. Its first forward phase finds the inked pixels of
  // the whole batch (the choice is the batch's) and then, when sparse, the blank-paper bias and the
  // transposed weight, a share of the outputs per part.
  void linear_sparse_scan(const Layer& layer, const std::vector<float>& x, LayerCache& cache) {
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
    if (!cache.sparse) return;
    blank_bias_.resize(n_out);
    transposed_.resize(static_cast<std::size_t>(n_in) * n_out);  // (in, out)
  }
  void linear_sparse_prepare(const Layer& layer, Range outputs) {
    const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
    const float* weight = layer.tensors[0].values.data();  // (out, in)
    const float* bias = layer.tensors[1].values.data();
    for (int o = outputs.begin; o < outputs.end; ++o) {
      double sum = 0.0;
      for (int i = 0; i < n_in; ++i) sum += weight[static_cast<std::size_t>(o) * n_in + i];
      blank_bias_[o] = static_cast<float>(bias[o] + static_cast<double>(blank_) * sum);
    }
    for (int i0 = 0; i0 < n_in; i0 += 16)  // in 16 x 16 tiles: both layouts stay in cache
      for (int o = outputs.begin; o < outputs.end; ++o)
        for (int i = i0; i < std::min(n_in, i0 + 16); ++i)
          transposed_[static_cast<std::size_t>(i) * n_out + o] = weight[static_cast<std::size_t>(o) * n_in + i];
  }
  void linear_forward_sparse(const Layer& layer, std::vector<float>& y, const LayerCache& cache, Range samples) {
    const int n_out = static_cast<int>(layer.out_features);
    for (int b = samples.begin; b < samples.end; ++b) {
      float* out = y.data() + static_cast<std::size_t>(b) * n_out;
      std::copy(blank_bias_.begin(), blank_bias_.end(), out);
      for (int e = cache.sparse_start[b]; e < cache.sparse_start[b + 1]; ++e)
        train_gemm::add_scaled(out, transposed_.data() + static_cast<std::size_t>(cache.sparse_index[e]) * n_out,
                               cache.sparse_value[e], n_out);
    }
  }

  // Its weight gradient: gy^T x = gy^T s + blank * (column sums of gy), built transposed (in, out) one
  // inked pixel at a time, samples in order across the parts; then (the next phase, a share of the
  // outputs per part) added to grad (out, in).
  void linear_weight_gradient_sparse(const Layer& layer, const std::vector<float>& gy, const LayerCache& cache,
                                     Range samples, bool first) {
    const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
    if (first) transposed_.assign(static_cast<std::size_t>(n_in) * n_out, 0.f);
    for (int b = samples.begin; b < samples.end; ++b) {
      const float* g = gy.data() + static_cast<std::size_t>(b) * n_out;
      for (int e = cache.sparse_start[b]; e < cache.sparse_start[b + 1]; ++e)
        train_gemm::add_scaled(transposed_.data() + static_cast<std::size_t>(cache.sparse_index[e]) * n_out, g,
                               cache.sparse_value[e], n_out);
    }
  }
  void linear_weight_gradient_sparse_finish(const Layer& layer, const std::vector<float>& gy, float* grad,
                                            Range outputs, bool first) {
    const int n_in = static_cast<int>(layer.in_features), n_out = static_cast<int>(layer.out_features);
    if (first) {
      blank_share_.assign(n_out, 0.f);
      add_column_sums(gy.data(), batch_, n_out, blank_share_.data());
      for (float& v : blank_share_) v *= blank_;
    }
    for (int i0 = 0; i0 < n_in; i0 += 16)  // in 16 x 16 tiles: both layouts stay in cache
      for (int o0 = outputs.begin; o0 < outputs.end; o0 += 16)
        for (int o = o0; o < std::min(outputs.end, o0 + 16); ++o)
          for (int i = i0; i < std::min(n_in, i0 + 16); ++i)
            grad[static_cast<std::size_t>(o) * n_in + i] +=
                transposed_[static_cast<std::size_t>(i) * n_out + o] + blank_share_[o];
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
  int plan_batch_ = 0;  // the batch size make_plan() cut the passes for
  double part_work_ = kWholeLayer;
  std::vector<LayerPlan> plans_;
  std::vector<std::vector<float>> acts_;  // acts_[l]: layer l's input for the whole batch; acts_[count_]: logits
  std::vector<LayerCache> caches_;
  std::vector<float> gy_, gx_, weight_hwc_, weight_grad_, column_grad_, group_, transposed_, blank_bias_, blank_share_;
  // Sums carried from one part of a phase to the next (and batch_norm's backward from its first phase to
  // its second); a layer's phases run one after another, so one set serves every layer.
  std::vector<double> sums_a_, sums_b_;
  std::vector<float> bn_mean_, bn_inverse_std_, bn_mean_gy_, bn_mean_gy_xhat_, bn_factor_;
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
  network.forward(inputs, n, options.mode, &dropout, &result.layers, false);
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
  network.forward(input, 1, PassMode::eval, nullptr, nullptr, true);
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

// torch.optim's single-tensor updates, in float as torch computes them for float32 parameters, on the
// elements [begin, end) (the Trainer's update pieces; each element's update is independent). The branches
// sit outside the loops (which then vectorise); each element gets the same operations either way.
void update_parameter(const OptimizerOptions& o, double learning_rate, std::int64_t step, double beta1_power,
                      double beta2_power, std::vector<float>& parameter_values, const std::vector<float>& gradient_values,
                      ParameterState& state, std::size_t begin, std::size_t end) {
  const float lr = static_cast<float>(learning_rate), decay = static_cast<float>(o.weight_decay);
  const std::size_t n = end - begin;
  float* parameter = parameter_values.data() + begin;
  const float* gradient = gradient_values.data() + begin;
  if (o.kind == OptimizerKind::sgd) {
    const float momentum = static_cast<float>(o.momentum);
    if (momentum != 0.f && state.first.empty()) state.first.assign(parameter_values.size(), 0.f);
    float* buffer = state.first.data() + begin;
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
    state.first.assign(parameter_values.size(), 0.f);
    state.second.assign(parameter_values.size(), 0.f);
  }
  float* first = state.first.data() + begin;
  float* second = state.second.data() + begin;
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
  if (!(options.piece_work >= 1e3))
    return bad("piece_work", "piece_work must be at least 1,000 multiply-adds (the default is 16 million).");
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

// One advance(): a part of one phase of one layer's forward or backward pass (BatchNetwork::make_plan),
// the loss alone (a model with no layers that run), or a part of the update.
struct Piece {
  enum class Kind { forward, backward, loss, update };
  Kind kind = Kind::forward;
  std::size_t layer = 0;
  int phase = 0, part = 0;
  bool loss = false;  // the step's first backward piece also takes the loss
  bool zero = false;  // a layer's first backward piece first zeroes its gradients
};

// The elements [begin, end) of trainable tensor `parameter` (an index into State::parameters).
struct UpdateSlice {
  std::size_t parameter = 0, begin = 0, end = 0;
};

// Work per parameter element of an update, in multiply-adds (Adam's square root and division count several).
// The update streams 5 (SGD) or 7 (Adam) floats per element through memory: it is measured, not counted.
double update_work_per_element(OptimizerKind kind) { return kind == OptimizerKind::sgd ? 32 : 64; }

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
  std::vector<float> inputs, inputs_evaluated;
  std::vector<int> labels;
  // The step in progress (advance()): the pieces of a step, the next one, gradients and report so far.
  std::vector<Piece> pieces;
  std::vector<std::vector<UpdateSlice>> update_parts;  // Piece::part of an update piece indexes this
  std::size_t piece = 0;
  double next_beta1_power = 1.0, next_beta2_power = 1.0;  // the update in progress uses these
  std::size_t first_update_piece = 0;
  // evaluate(): the same layers over the same parameters in eval mode, with buffers of its own (so an
  // evaluation between two pieces of a step leaves the step's activations alone).
  BatchNetwork evaluation;
  bool evaluation_bound = false;
  std::vector<LayerGradients> grads;
  std::vector<float> grad_logits;
  double loss_sum = 0.0;
  StepReport report;

  // Every part of every layer's passes in order (forward, then backward from the last layer; the first
  // backward piece also takes the loss), then the update in parts of about options.piece_work, whole tensors
  // grouped and large ones cut. Planned for options.batch_size: a shorter last batch shares the same
  // pieces out, so every step has pieces_per_step() of them.
  void plan_pieces() {
    network.make_plan(options.batch_size, PassMode::train, false, options.piece_work);
    const std::size_t layers = network.layer_count();
    for (std::size_t l = 0; l < layers; ++l)
      for (int phase = 0; phase < BatchNetwork::kPhases; ++phase)
        for (int part = 0; part < network.plan(l).forward[phase]; ++part)
          pieces.push_back({Piece::Kind::forward, l, phase, part, false, false});
    bool first = true;
    for (std::size_t l = layers; l-- > 0;) {
      bool layer_first = true;
      for (int phase = 0; phase < BatchNetwork::kPhases; ++phase)
        for (int part = 0; part < network.plan(l).backward[phase]; ++part) {
          pieces.push_back({Piece::Kind::backward, l, phase, part, first, layer_first});
          first = layer_first = false;
        }
    }
    if (first) pieces.push_back({Piece::Kind::loss, 0, 0, 0, true, false});  // nothing ran backward: the loss alone
    const double per_element = update_work_per_element(options.optimizer.kind);
    const std::size_t slice = static_cast<std::size_t>(std::min(1e9, std::max(1.0, options.piece_work / per_element)));  // fits a 32-bit size_t (wasm)
    std::size_t filled = 0;  // elements in the last part so far
    update_parts.assign(1, {});
    for (std::size_t p = 0; p < parameters.size(); ++p) {
      const std::size_t size = model.layers[parameters[p].layer].tensors[parameters[p].tensor].values.size();
      for (std::size_t begin = 0; begin < size;) {
        if (filled == slice) {
          update_parts.emplace_back();
          filled = 0;
        }
        const std::size_t end = std::min(size, begin + (slice - filled));
        update_parts.back().push_back({p, begin, end});
        filled += end - begin;
        begin = end;
      }
    }
    first_update_piece = pieces.size();
    for (std::size_t part = 0; part < update_parts.size(); ++part)
      pieces.push_back({Piece::Kind::update, 0, 0, static_cast<int>(part), false, false});
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
    for (LayerGradients& layer : grads) layer.running_statistics.clear();  // each layer's tensors: its first backward piece
    network.start_forward(inputs.data(), static_cast<int>(batch));
  }

  // Part `part` of the update: the optimiser on its slices of the parameters.
  void update(int part) {
    if (part == 0) {
      next_beta1_power = beta1_power * options.optimizer.beta1;
      next_beta2_power = beta2_power * options.optimizer.beta2;
    }
    for (const UpdateSlice& slice : update_parts[static_cast<std::size_t>(part)]) {
      ParameterState& parameter = parameters[slice.parameter];
      update_parameter(options.optimizer, report.learning_rate, global_step + 1, next_beta1_power, next_beta2_power,
                       model.layers[parameter.layer].tensors[parameter.tensor].values,
                       grads[parameter.layer].tensors[parameter.tensor].values, parameter, slice.begin, slice.end);
    }
  }

  // After the update: the batch_norm statistics, the counters; returns the finished step's report.
  StepReport finish_step() {
    ++global_step;
    beta1_power = next_beta1_power;
    beta2_power = next_beta2_power;
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
  // Each layer's gradients are made (or zeroed) by its first backward piece: the deep MLP's are 10 MB.
  state->grads.resize(state->model.layers.size());
  return Trainer(std::move(state));
}

// One step's pieces, in order (plan_pieces()): the forward parts (the first also gathers the batch), the
// backward parts (the first also takes the loss), the update parts (the last also finishes the step).
Result<std::optional<StepReport>> Trainer::advance() {
  State& s = *state_;
  if (finished()) {
    return make_error(ErrorCode::bad_argument, "step", 0,
                      "the run has finished its " + std::to_string(s.options.epochs) +
                          " epochs; create a new Trainer to train more.");
  }
  if (s.piece == 0) s.begin_step(learning_rate());
  const Piece piece = s.pieces[s.piece++];
  if (piece.loss) {
    s.loss_sum = cross_entropy(s.network.logits(), s.labels.data(), s.report.batch, s.network.classes(),
                               s.grad_logits, s.report.correct);
    s.network.start_backward(s.grad_logits);
  }
  switch (piece.kind) {
    case Piece::Kind::forward:
      s.network.forward_part(piece.layer, piece.phase, piece.part, PassMode::train, &s.dropout, &s.grads[piece.layer]);
      break;
    case Piece::Kind::backward:
      if (piece.zero) s.network.zero_gradients(piece.layer, s.grads[piece.layer]);
      s.network.backward_part(piece.layer, piece.phase, piece.part, PassMode::train, &s.grads[piece.layer]);
      break;
    case Piece::Kind::loss:
      break;
    case Piece::Kind::update:
      s.update(piece.part);
      if (s.piece < s.pieces.size()) break;
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

Result<Evaluation> Trainer::evaluate(ImageSet data) {
  State& s = *state_;
  if (s.piece > s.first_update_piece) {
    return make_error(ErrorCode::bad_argument, "evaluate", 0,
                      "the step in progress is half way through its update: evaluate between steps (when "
                      "advance() has reported), not between its update pieces.");
  }
  if (data.count > 0 && (data.pixels == nullptr || data.labels == nullptr))
    return make_error(ErrorCode::bad_argument, "data", 0, "Trainer::evaluate() got a null image or label pointer.");
  if (Status shaped = check_image_shape(s.model.card, data); !shaped) return shaped.error();
  if (!s.evaluation_bound) {
    if (Status bound = s.evaluation.bind(s.model, false); !bound) return bound.error();
    s.evaluation_bound = true;
  }
  const std::size_t classes = s.network.classes();
  Evaluation evaluation;
  evaluation.count = data.count;
  evaluation.confusion.assign(classes, std::vector<std::size_t>(classes, 0));
  constexpr std::size_t kImagesAtOnce = 64;  // the activations held: about those of a training batch of 64
  for (std::size_t first = 0; first < data.count; first += kImagesAtOnce) {
    const std::size_t n = std::min(kImagesAtOnce, data.count - first);
    s.inputs_evaluated.resize(n * s.image_size);
    for (std::size_t i = 0; i < n * s.image_size; ++i) s.inputs_evaluated[i] = s.normalize[data.pixels[first * s.image_size + i]];
    s.evaluation.forward(s.inputs_evaluated.data(), static_cast<int>(n), PassMode::eval, nullptr, nullptr, false);
    const float* logits = s.evaluation.logits().data();
    for (std::size_t b = 0; b < n; ++b) {
      const float* z = logits + b * classes;
      const std::size_t truth = data.labels[first + b];
      const std::size_t predicted = static_cast<std::size_t>(std::max_element(z, z + classes) - z);
      if (truth >= classes)
        return make_error(ErrorCode::bad_argument, "data.labels[" + std::to_string(first + b) + "]", 0,
                          "label " + std::to_string(truth) + " is outside the model's classes.");
      ++evaluation.confusion[truth][predicted];
      if (truth == predicted) ++evaluation.correct;
    }
  }
  evaluation.accuracy = data.count ? static_cast<double>(evaluation.correct) / static_cast<double>(data.count) : 0.0;
  return evaluation;
}

std::size_t Trainer::evaluation_images_per_piece() const {
  const double per_image = state_->network.forward_work_per_image();
  return static_cast<std::size_t>(std::max(1.0, std::floor(state_->options.piece_work / std::max(1.0, per_image))));
}

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
