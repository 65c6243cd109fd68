// Backward passes for the dense layers and the batch loss (train.hpp). Each sample runs forward keeping
// every layer's input, then backward; parameter gradients add up over the batch in sample order, so the
// sums have one fixed order on every machine. Read next: shared/include/digitlab/train.hpp.
#include "digitlab/train.hpp"

#include <cmath>
#include <string>

namespace digitlab {
namespace {

bool supported(LayerKind kind) {
  switch (kind) {
    case LayerKind::linear:
    case LayerKind::relu:
    case LayerKind::leaky_relu:
    case LayerKind::sigmoid:
    case LayerKind::tanh:
    case LayerKind::flatten:
    case LayerKind::dropout:
    case LayerKind::softmax:
      return true;
    default:
      return false;
  }
}

// The layers that take part: all but a trailing softmax (the loss works on logits).
Result<std::size_t> checked_layer_count(const Model& model) {
  auto shapes = infer_shapes(model);
  if (!shapes) return shapes.error();
  std::size_t count = model.layers.size();
  if (count > 0 && model.layers[count - 1].kind == LayerKind::softmax) --count;
  for (std::size_t l = 0; l < count; ++l) {
    if (!supported(model.layers[l].kind) || model.layers[l].kind == LayerKind::softmax) {
      return make_error(ErrorCode::bad_layer, "layer[" + std::to_string(l) + "]", 0,
                        std::string("no backward pass for ") + layer_kind_name(model.layers[l].kind) +
                            " yet");
    }
  }
  return count;
}

std::vector<float> layer_forward(const Layer& layer, const std::vector<float>& x) {
  std::vector<float> y;
  switch (layer.kind) {
    case LayerKind::linear: {
      const auto n_in = static_cast<std::size_t>(layer.in_features);
      const auto n_out = static_cast<std::size_t>(layer.out_features);
      const float* w = layer.tensors[0].values.data();
      const float* b = layer.tensors[1].values.data();
      y.resize(n_out);
      for (std::size_t o = 0; o < n_out; ++o) {
        float sum = 0.f;
        for (std::size_t i = 0; i < n_in; ++i) sum += w[o * n_in + i] * x[i];
        y[o] = sum + b[o];
      }
      return y;
    }
    case LayerKind::relu:
      y = x;
      for (float& v : y) v = v > 0.f ? v : 0.f;
      return y;
    case LayerKind::leaky_relu:
      y = x;
      for (float& v : y) v = v > 0.f ? v : v * layer.alpha;
      return y;
    case LayerKind::sigmoid:
      y = x;
      for (float& v : y) v = 1.f / (1.f + std::exp(-v));
      return y;
    case LayerKind::tanh:
      y = x;
      for (float& v : y) v = std::tanh(v);
      return y;
    default:  // flatten, dropout (eval)
      return x;
  }
}

// Given the layer's input x, output y and dL/dy, returns dL/dx and adds the parameter gradients.
std::vector<float> layer_backward(const Layer& layer, const std::vector<float>& x,
                                  const std::vector<float>& y, const std::vector<float>& gy,
                                  LayerGradients* grads) {
  std::vector<float> gx(x.size());
  switch (layer.kind) {
    case LayerKind::linear: {
      const auto n_in = static_cast<std::size_t>(layer.in_features);
      const auto n_out = static_cast<std::size_t>(layer.out_features);
      const float* w = layer.tensors[0].values.data();
      float* gw = grads ? grads->tensors[0].values.data() : nullptr;
      float* gb = grads ? grads->tensors[1].values.data() : nullptr;
      for (std::size_t o = 0; o < n_out; ++o) {
        const float g = gy[o];
        if (gw) {
          for (std::size_t i = 0; i < n_in; ++i) gw[o * n_in + i] += g * x[i];
          gb[o] += g;
        }
        for (std::size_t i = 0; i < n_in; ++i) gx[i] += w[o * n_in + i] * g;
      }
      return gx;
    }
    case LayerKind::relu:
      for (std::size_t i = 0; i < x.size(); ++i) gx[i] = x[i] > 0.f ? gy[i] : 0.f;
      return gx;
    case LayerKind::leaky_relu:
      for (std::size_t i = 0; i < x.size(); ++i) gx[i] = x[i] > 0.f ? gy[i] : gy[i] * layer.alpha;
      return gx;
    case LayerKind::sigmoid:
      for (std::size_t i = 0; i < x.size(); ++i) gx[i] = gy[i] * y[i] * (1.f - y[i]);
      return gx;
    case LayerKind::tanh:
      for (std::size_t i = 0; i < x.size(); ++i) gx[i] = gy[i] * (1.f - y[i] * y[i]);
      return gx;
    default:
      return gy;
  }
}

// Forward keeping each layer's input; acts[l] is layer l's input, acts[count] the logits.
std::vector<std::vector<float>> run_forward(const Model& model, std::size_t count, const float* input,
                                            std::size_t input_size) {
  std::vector<std::vector<float>> acts(count + 1);
  acts[0].assign(input, input + input_size);
  for (std::size_t l = 0; l < count; ++l) acts[l + 1] = layer_forward(model.layers[l], acts[l]);
  return acts;
}

}  // namespace

Result<BatchGradients> loss_and_gradients(const Model& model, const float* inputs, const int* labels,
                                          std::size_t batch) {
  auto count_result = checked_layer_count(model);
  if (!count_result) return count_result.error();
  const std::size_t count = count_result.value();
  if (batch == 0 || inputs == nullptr || labels == nullptr) {
    return make_error(ErrorCode::bad_argument, "batch", 0, "an empty batch");
  }
  const auto input_size = static_cast<std::size_t>(model.card.input_channels * model.card.input_height *
                                                    model.card.input_width);
  BatchGradients result;
  result.layers.resize(model.layers.size());
  for (std::size_t l = 0; l < count; ++l) {
    if (model.layers[l].kind == LayerKind::linear) {
      for (int t = 0; t < 2; ++t) {
        Tensor grad{model.layers[l].tensors[t].shape,
                    std::vector<float>(model.layers[l].tensors[t].values.size(), 0.f)};
        result.layers[l].tensors.push_back(std::move(grad));
      }
    }
  }
  double loss_sum = 0.0;
  const float scale = 1.f / static_cast<float>(batch);
  for (std::size_t s = 0; s < batch; ++s) {
    const auto acts = run_forward(model, count, inputs + s * input_size, input_size);
    const std::vector<float>& logits = acts[count];
    const int label = labels[s];
    if (label < 0 || static_cast<std::size_t>(label) >= logits.size()) {
      return make_error(ErrorCode::bad_argument, "labels[" + std::to_string(s) + "]", 0,
                        "label outside the model's classes");
    }
    float max_logit = logits[0];
    for (float v : logits) max_logit = v > max_logit ? v : max_logit;
    float denominator = 0.f;
    std::vector<float> grad(logits.size());
    for (std::size_t k = 0; k < logits.size(); ++k) {
      grad[k] = std::exp(logits[k] - max_logit);
      denominator += grad[k];
    }
    loss_sum += static_cast<double>(std::log(denominator) - (logits[label] - max_logit));
    for (std::size_t k = 0; k < logits.size(); ++k) {
      grad[k] = (grad[k] / denominator - (static_cast<int>(k) == label ? 1.f : 0.f)) * scale;
    }
    for (std::size_t l = count; l-- > 0;) {
      grad = layer_backward(model.layers[l], acts[l], acts[l + 1], grad, &result.layers[l]);
    }
  }
  result.loss = static_cast<float>(loss_sum / static_cast<double>(batch));
  return result;
}

Result<std::vector<float>> input_gradient(const Model& model, const float* input, std::size_t input_size,
                                          int class_index) {
  auto count_result = checked_layer_count(model);
  if (!count_result) return count_result.error();
  const std::size_t count = count_result.value();
  const auto expected = static_cast<std::size_t>(model.card.input_channels * model.card.input_height *
                                                 model.card.input_width);
  if (input == nullptr || input_size != expected) {
    return make_error(ErrorCode::bad_argument, "input", 0, "input size does not match the model");
  }
  const auto acts = run_forward(model, count, input, input_size);
  if (class_index < 0 || static_cast<std::size_t>(class_index) >= acts[count].size()) {
    return make_error(ErrorCode::bad_argument, "class_index", 0, "class outside the model's classes");
  }
  std::vector<float> grad(acts[count].size(), 0.f);
  grad[static_cast<std::size_t>(class_index)] = 1.f;
  for (std::size_t l = count; l-- > 0;) grad = layer_backward(model.layers[l], acts[l], acts[l + 1], grad, nullptr);
  return grad;
}

}  // namespace digitlab
