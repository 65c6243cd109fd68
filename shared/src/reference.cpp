// The reference forward pass (reference.hpp): each layer kind as the loops of its formula, in double, in
// layer order, then the whole network. Read next: shared/src/model.cpp, which computes the same faster.
//
// Indexing, as PyTorch lays out one image: x[c][y][x] is values[(c * H + y) * W + x]; a linear weight
// W[o][k] is values[o * in + k]; a conv weight w[o][c][ky][kx] is values[((o * C + c) * K + ky) * K + kx].
#include "digitlab/reference.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace digitlab::reference {

namespace {

// The layer's tensor number `i` (in the order model.hpp lists on LayerKind), as stored: float32.
const std::vector<float>& tensor(const Layer& layer, std::size_t i) { return layer.tensors[i].values; }

}  // namespace

// y[o] = b[o] + sum_k W[o][k] * x[k]
Activation linear(const Layer& layer, const Activation& in) {
  const std::int64_t n_in = layer.in_features, n_out = layer.out_features;
  const std::vector<float>& weight = tensor(layer, 0);  // (out, in)
  const std::vector<float>& bias = tensor(layer, 1);    // (out)
  Activation out{{n_out}, std::vector<double>(static_cast<std::size_t>(n_out), 0.0)};
  for (std::int64_t o = 0; o < n_out; ++o) {
    double sum = bias[o];
    for (std::int64_t k = 0; k < n_in; ++k) sum += double(weight[o * n_in + k]) * in.values[k];
    out.values[o] = sum;
  }
  return out;
}

// y[o][y][x] = b[o] + sum_{c, ky, kx} w[o][c][ky][kx] * x[c][y*s + ky - p][x*s + kx - p], where inputs
// outside the image are 0 (zero padding). Output size (H + 2p - K) / s + 1, floored.
Activation conv2d(const Layer& layer, const Activation& in) {
  const std::int64_t c_in = in.dims[0], h = in.dims[1], w = in.dims[2];
  const std::int64_t k = layer.kernel, s = layer.stride, p = layer.padding, c_out = layer.out_channels;
  const std::int64_t h_out = (h + 2 * p - k) / s + 1, w_out = (w + 2 * p - k) / s + 1;
  const std::vector<float>& weight = tensor(layer, 0);  // (out, in, k, k)
  const std::vector<float>& bias = tensor(layer, 1);    // (out)
  Activation out{{c_out, h_out, w_out}, std::vector<double>(static_cast<std::size_t>(c_out * h_out * w_out), 0.0)};
  for (std::int64_t o = 0; o < c_out; ++o)
    for (std::int64_t y = 0; y < h_out; ++y)
      for (std::int64_t x = 0; x < w_out; ++x) {
        double sum = bias[o];
        for (std::int64_t c = 0; c < c_in; ++c)
          for (std::int64_t ky = 0; ky < k; ++ky)
            for (std::int64_t kx = 0; kx < k; ++kx) {
              const std::int64_t iy = y * s + ky - p, ix = x * s + kx - p;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;  // zero padding
              sum += double(weight[((o * c_in + c) * k + ky) * k + kx]) * in.values[(c * h + iy) * w + ix];
            }
        out.values[(o * h_out + y) * w_out + x] = sum;
      }
  return out;
}

// y = (x - running_mean[c]) * gamma[c] / sqrt(running_var[c] + eps) + beta[c], for every value of
// channel c: (C, H, W) data has H*W values per channel, flat (features) data one.
Activation batch_norm(const Layer& layer, const Activation& in) {
  const std::vector<float>& gamma = tensor(layer, 0);
  const std::vector<float>& beta = tensor(layer, 1);
  const std::vector<float>& running_mean = tensor(layer, 2);
  const std::vector<float>& running_var = tensor(layer, 3);
  Activation out = in;
  const std::int64_t channels = in.dims[0];
  const std::int64_t per_channel = static_cast<std::int64_t>(in.values.size()) / channels;
  for (std::int64_t c = 0; c < channels; ++c) {
    const double scale = gamma[c] / std::sqrt(double(running_var[c]) + double(layer.eps));
    for (std::int64_t i = 0; i < per_channel; ++i) {
      double& v = out.values[c * per_channel + i];
      v = (v - running_mean[c]) * scale + beta[c];
    }
  }
  return out;
}

// max(x, 0)
Activation relu(const Activation& in) {
  Activation out = in;
  for (double& v : out.values) v = v > 0 ? v : 0;
  return out;
}

// x for x > 0, alpha * x otherwise
Activation leaky_relu(const Layer& layer, const Activation& in) {
  Activation out = in;
  for (double& v : out.values) v = v > 0 ? v : v * layer.alpha;
  return out;
}

// 1 / (1 + e^-x)
Activation sigmoid(const Activation& in) {
  Activation out = in;
  for (double& v : out.values) v = 1 / (1 + std::exp(-v));
  return out;
}

Activation tanh(const Activation& in) {
  Activation out = in;
  for (double& v : out.values) v = std::tanh(v);
  return out;
}

// y[c][y][x] = max over the K x K window starting at (y*s, x*s); windows that would cross the edge are
// dropped (the size floors, as in PyTorch without ceil_mode).
Activation max_pool2d(const Layer& layer, const Activation& in) {
  const std::int64_t c = in.dims[0], h = in.dims[1], w = in.dims[2], k = layer.kernel, s = layer.stride;
  const std::int64_t h_out = (h - k) / s + 1, w_out = (w - k) / s + 1;
  Activation out{{c, h_out, w_out}, std::vector<double>(static_cast<std::size_t>(c * h_out * w_out), 0.0)};
  for (std::int64_t ch = 0; ch < c; ++ch)
    for (std::int64_t y = 0; y < h_out; ++y)
      for (std::int64_t x = 0; x < w_out; ++x) {
        double best = -std::numeric_limits<double>::infinity();
        for (std::int64_t ky = 0; ky < k; ++ky)
          for (std::int64_t kx = 0; kx < k; ++kx) best = std::max(best, in.values[(ch * h + y * s + ky) * w + x * s + kx]);
        out.values[(ch * h_out + y) * w_out + x] = best;
      }
  return out;
}

// The same values in the same order, as one flat vector.
Activation flatten(const Activation& in) {
  Activation out = in;
  out.dims = {static_cast<std::int64_t>(in.values.size())};
  return out;
}

Activation dropout(const Activation& in) { return in; }

// e^(x_i - max) / sum_j e^(x_j - max) over each group of the last dimension (subtracting the largest
// value changes nothing mathematically and keeps e^x finite).
Activation softmax(const Activation& in) {
  Activation out = in;
  const std::size_t group = static_cast<std::size_t>(in.dims.back());
  for (std::size_t start = 0; start < out.values.size(); start += group) {
    double largest = -std::numeric_limits<double>::infinity(), total = 0;
    for (std::size_t i = 0; i < group; ++i) largest = std::max(largest, out.values[start + i]);
    for (std::size_t i = 0; i < group; ++i) total += std::exp(out.values[start + i] - largest);
    for (std::size_t i = 0; i < group; ++i) out.values[start + i] = std::exp(out.values[start + i] - largest) / total;
  }
  return out;
}

Activation run_layer(const Layer& layer, const Activation& in) {
  switch (layer.kind) {
    case LayerKind::linear: return linear(layer, in);
    case LayerKind::conv2d: return conv2d(layer, in);
    case LayerKind::batch_norm: return batch_norm(layer, in);
    case LayerKind::relu: return relu(in);
    case LayerKind::leaky_relu: return leaky_relu(layer, in);
    case LayerKind::sigmoid: return sigmoid(in);
    case LayerKind::tanh: return tanh(in);
    case LayerKind::max_pool2d: return max_pool2d(layer, in);
    case LayerKind::flatten: return flatten(in);
    case LayerKind::dropout: return dropout(in);
    case LayerKind::softmax: return softmax(in);
  }
  return in;  // not reached: infer_shapes() refuses unknown kinds
}

Result<Forward> forward(const Model& model, const float* input, std::size_t input_size) {
  if (Result<std::vector<ActivationShape>> shapes = infer_shapes(model); !shapes) return shapes.error();
  const ModelCard& card = model.card;
  const std::size_t expected = static_cast<std::size_t>(card.input_channels * card.input_height * card.input_width);
  if (input == nullptr || input_size != expected) {
    return make_error(ErrorCode::bad_argument, "input", 0,
                      "reference::forward() needs " + std::to_string(expected) +
                          " input floats (channels*height*width from the model card), got " +
                          std::to_string(input_size) + (input ? "." : " (null pointer)."));
  }
  Forward result;
  Activation current{{card.input_channels, card.input_height, card.input_width},
                     std::vector<double>(input, input + input_size)};
  for (const Layer& each : model.layers) {
    current = run_layer(each, current);
    result.activations.push_back(current);
  }
  // Logits: the output of the last layer that is not a trailing softmax.
  std::size_t logits_layer = model.layers.size();
  while (logits_layer > 1 && model.layers[logits_layer - 1].kind == LayerKind::softmax) --logits_layer;
  result.logits = result.activations[logits_layer - 1].values;
  result.probabilities = softmax(Activation{{static_cast<std::int64_t>(result.logits.size())}, result.logits}).values;
  result.label = static_cast<int>(std::max_element(result.logits.begin(), result.logits.end()) - result.logits.begin());
  return result;
}

}  // namespace digitlab::reference
