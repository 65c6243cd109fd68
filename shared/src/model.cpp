// The forward pass: shape checking (infer_shapes), parameter counts and forward() over a Model's layers.
// Read next: preprocess.cpp (drawings to model input), weights.cpp (how a Model is loaded).
#include "digitlab/model.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

namespace digitlab {

const char* layer_kind_name(LayerKind kind) {
  switch (kind) {
    case LayerKind::linear: return "linear";
    case LayerKind::conv2d: return "conv2d";
    case LayerKind::batch_norm: return "batch_norm";
    case LayerKind::relu: return "relu";
    case LayerKind::leaky_relu: return "leaky_relu";
    case LayerKind::sigmoid: return "sigmoid";
    case LayerKind::tanh: return "tanh";
    case LayerKind::max_pool2d: return "max_pool2d";
    case LayerKind::flatten: return "flatten";
    case LayerKind::dropout: return "dropout";
    case LayerKind::softmax: return "softmax";
  }
  return "unknown";
}

std::int64_t ActivationShape::size() const {
  std::int64_t n = 1;
  for (std::int64_t d : dims) n *= d;
  return n;
}

namespace {

// Largest activation (in floats) a layer may produce: far above any digit model, far below overflow.
constexpr std::int64_t kMaxActivation = std::int64_t{1} << 28;
// Largest single dimension or layer parameter we accept before multiplying.
constexpr std::int64_t kMaxDim = std::int64_t{1} << 24;

std::string layer_field(std::size_t index, const char* what) {
  return "layer[" + std::to_string(index) + "]." + what;
}

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string text = "(";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) text += ", ";
    text += std::to_string(dims[i]);
  }
  return text + ")";
}

Error layer_error(ErrorCode code, std::size_t index, const char* field, const std::string& message) {
  return make_error(code, layer_field(index, field), 0, message);
}

// The tensor at `slot` must exist, have exactly `dims`, and hold product(dims) values.
Status check_tensor(const Layer& layer, std::size_t index, std::size_t slot, const char* name,
                    const std::vector<std::int64_t>& dims) {
  const std::string field = std::string("tensors[") + std::to_string(slot) + "] (" + name + ")";
  if (slot >= layer.tensors.size()) {
    return layer_error(ErrorCode::shape_mismatch, index, field.c_str(),
                       std::string(layer_kind_name(layer.kind)) + " needs its " + name +
                           " tensor; the layer has only " + std::to_string(layer.tensors.size()) +
                           " tensors. Re-export the model.");
  }
  const Tensor& tensor = layer.tensors[slot];
  if (tensor.shape != dims) {
    return layer_error(ErrorCode::shape_mismatch, index, field.c_str(),
                       std::string(name) + " has shape " + shape_text(tensor.shape) + ", expected " +
                           shape_text(dims) + " for this " + layer_kind_name(layer.kind) + " layer.");
  }
  std::int64_t count = 1;
  for (std::int64_t d : dims) count *= d;
  if (static_cast<std::int64_t>(tensor.values.size()) != count) {
    return layer_error(ErrorCode::shape_mismatch, index, field.c_str(),
                       std::string(name) + " holds " + std::to_string(tensor.values.size()) +
                           " values but its shape " + shape_text(dims) + " needs " + std::to_string(count) +
                           ".");
  }
  return Ok{};
}

Status check_tensor_count(const Layer& layer, std::size_t index, std::size_t expected) {
  if (layer.tensors.size() != expected) {
    return layer_error(ErrorCode::bad_layer, index, "tensors",
                       std::string(layer_kind_name(layer.kind)) + " takes " + std::to_string(expected) +
                           " tensors, this one has " + std::to_string(layer.tensors.size()) + ".");
  }
  return Ok{};
}

bool in_range(std::int64_t value, std::int64_t low, std::int64_t high) { return value >= low && value <= high; }

// The output shape of one layer given its input shape, or why the layer does not fit.
Result<ActivationShape> layer_output_shape(const Layer& layer, std::size_t index, const ActivationShape& in) {
  const auto& d = in.dims;
  switch (layer.kind) {
    case LayerKind::linear: {
      if (d.size() != 1) {
        return layer_error(ErrorCode::shape_mismatch, index, "input",
                           "linear needs a flat input but gets " + shape_text(d) +
                               "; put a flatten layer before it.");
      }
      if (!in_range(layer.in_features, 1, kMaxDim) || !in_range(layer.out_features, 1, kMaxDim)) {
        return layer_error(ErrorCode::bad_layer, index, "in_features",
                           "linear features must be in 1.." + std::to_string(kMaxDim) + ", got in=" +
                               std::to_string(layer.in_features) + " out=" + std::to_string(layer.out_features) +
                               ".");
      }
      if (layer.in_features != d[0]) {
        return layer_error(ErrorCode::shape_mismatch, index, "in_features",
                           "linear expects " + std::to_string(layer.in_features) + " inputs but the previous layer gives " +
                               std::to_string(d[0]) + ".");
      }
      if (Status s = check_tensor_count(layer, index, 2); !s) return s.error();
      if (Status s = check_tensor(layer, index, 0, "weight", {layer.out_features, layer.in_features}); !s) return s.error();
      if (Status s = check_tensor(layer, index, 1, "bias", {layer.out_features}); !s) return s.error();
      return ActivationShape{{layer.out_features}};
    }
    case LayerKind::conv2d: {
      if (d.size() != 3) {
        return layer_error(ErrorCode::shape_mismatch, index, "input",
                           "conv2d needs a (channels, height, width) input but gets " + shape_text(d) + ".");
      }
      if (!in_range(layer.in_channels, 1, kMaxDim) || !in_range(layer.out_channels, 1, kMaxDim) ||
          !in_range(layer.kernel, 1, 1024) || !in_range(layer.stride, 1, 1024) || !in_range(layer.padding, 0, 1024)) {
        return layer_error(ErrorCode::bad_layer, index, "kernel",
                           "conv2d parameters out of range: in_channels=" + std::to_string(layer.in_channels) +
                               " out_channels=" + std::to_string(layer.out_channels) + " kernel=" +
                               std::to_string(layer.kernel) + " stride=" + std::to_string(layer.stride) +
                               " padding=" + std::to_string(layer.padding) +
                               " (channels >= 1, kernel and stride in 1..1024, padding in 0..1024).");
      }
      if (layer.in_channels != d[0]) {
        return layer_error(ErrorCode::shape_mismatch, index, "in_channels",
                           "conv2d expects " + std::to_string(layer.in_channels) + " channels but gets " +
                               shape_text(d) + ".");
      }
      const std::int64_t padded_h = d[1] + 2 * layer.padding, padded_w = d[2] + 2 * layer.padding;
      if (padded_h < layer.kernel || padded_w < layer.kernel) {
        return layer_error(ErrorCode::shape_mismatch, index, "kernel",
                           "conv2d kernel " + std::to_string(layer.kernel) + " is larger than its padded input " +
                               shape_text(d) + ".");
      }
      const std::int64_t out_h = (padded_h - layer.kernel) / layer.stride + 1;
      const std::int64_t out_w = (padded_w - layer.kernel) / layer.stride + 1;
      if (Status s = check_tensor_count(layer, index, 2); !s) return s.error();
      if (layer.in_channels * layer.kernel * layer.kernel > kMaxActivation) {
        return layer_error(ErrorCode::bad_layer, index, "kernel", "conv2d kernel volume is implausibly large.");
      }
      if (Status s = check_tensor(layer, index, 0, "weight",
                                  {layer.out_channels, layer.in_channels, layer.kernel, layer.kernel});
          !s) {
        return s.error();
      }
      if (Status s = check_tensor(layer, index, 1, "bias", {layer.out_channels}); !s) return s.error();
      if (out_h > kMaxDim || out_w > kMaxDim || layer.out_channels * out_h > kMaxActivation ||
          layer.out_channels * out_h * out_w > kMaxActivation) {
        return layer_error(ErrorCode::bad_layer, index, "out_channels", "conv2d output is implausibly large.");
      }
      return ActivationShape{{layer.out_channels, out_h, out_w}};
    }
    case LayerKind::batch_norm: {
      if (d.size() != 1 && d.size() != 3) {
        return layer_error(ErrorCode::shape_mismatch, index, "input",
                           "batch_norm needs a (features) or (channels, height, width) input, got " + shape_text(d) + ".");
      }
      if (layer.channels != d[0]) {
        return layer_error(ErrorCode::shape_mismatch, index, "channels",
                           "batch_norm has " + std::to_string(layer.channels) + " channels but its input is " +
                               shape_text(d) + ".");
      }
      if (!std::isfinite(layer.eps) || layer.eps < 0.f) {
        return layer_error(ErrorCode::bad_value, index, "eps",
                           "batch_norm eps must be a finite number >= 0, got " + std::to_string(layer.eps) + ".");
      }
      if (Status s = check_tensor_count(layer, index, 4); !s) return s.error();
      const char* names[4] = {"gamma", "beta", "running_mean", "running_var"};
      for (std::size_t t = 0; t < 4; ++t) {
        if (Status s = check_tensor(layer, index, t, names[t], {layer.channels}); !s) return s.error();
      }
      return in;
    }
    case LayerKind::max_pool2d: {
      if (d.size() != 3) {
        return layer_error(ErrorCode::shape_mismatch, index, "input",
                           "max_pool2d needs a (channels, height, width) input but gets " + shape_text(d) + ".");
      }
      if (!in_range(layer.kernel, 1, 1024) || !in_range(layer.stride, 1, 1024)) {
        return layer_error(ErrorCode::bad_layer, index, "kernel",
                           "max_pool2d kernel and stride must be in 1..1024, got kernel=" +
                               std::to_string(layer.kernel) + " stride=" + std::to_string(layer.stride) + ".");
      }
      if (d[1] < layer.kernel || d[2] < layer.kernel) {
        return layer_error(ErrorCode::shape_mismatch, index, "kernel",
                           "max_pool2d kernel " + std::to_string(layer.kernel) + " is larger than its input " +
                               shape_text(d) + ".");
      }
      if (!layer.tensors.empty()) return check_tensor_count(layer, index, 0).error();
      return ActivationShape{{d[0], (d[1] - layer.kernel) / layer.stride + 1, (d[2] - layer.kernel) / layer.stride + 1}};
    }
    case LayerKind::flatten:
      if (!layer.tensors.empty()) return check_tensor_count(layer, index, 0).error();
      return ActivationShape{{in.size()}};
    case LayerKind::leaky_relu:
      if (!std::isfinite(layer.alpha)) {
        return layer_error(ErrorCode::bad_value, index, "alpha", "leaky_relu alpha must be finite.");
      }
      [[fallthrough]];
    case LayerKind::relu:
    case LayerKind::sigmoid:
    case LayerKind::tanh:
    case LayerKind::dropout:
    case LayerKind::softmax:
      if (!layer.tensors.empty()) return check_tensor_count(layer, index, 0).error();
      return in;
  }
  return layer_error(ErrorCode::bad_layer, index, "kind",
                     "unknown layer kind " + std::to_string(static_cast<int>(layer.kind)) +
                         "; this build knows kinds 1..11. Update digitlab or re-export the model.");
}

}  // namespace

Result<std::vector<ActivationShape>> infer_shapes(const Model& model) {
  const ModelCard& card = model.card;
  if (!in_range(card.input_channels, 1, kMaxDim) || !in_range(card.input_height, 1, kMaxDim) ||
      !in_range(card.input_width, 1, kMaxDim) ||
      card.input_channels * card.input_height > kMaxActivation ||
      card.input_channels * card.input_height * card.input_width > kMaxActivation) {
    return make_error(ErrorCode::bad_dimensions, "card.input_channels", 0,
                      "the model card's input shape (" + std::to_string(card.input_channels) + ", " +
                          std::to_string(card.input_height) + ", " + std::to_string(card.input_width) +
                          ") is not a plausible image shape.");
  }
  if (model.layers.empty()) {
    return make_error(ErrorCode::bad_layer, "layers", 0, "the model has no layers.");
  }
  std::vector<ActivationShape> shapes;
  shapes.reserve(model.layers.size());
  ActivationShape current{{card.input_channels, card.input_height, card.input_width}};
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    Result<ActivationShape> next = layer_output_shape(model.layers[i], i, current);
    if (!next) return next.error();
    current = std::move(next).value();
    shapes.push_back(current);
  }
  if (current.dims.size() != 1) {
    return make_error(ErrorCode::shape_mismatch, "layers", 0,
                      "the last layer gives " + shape_text(current.dims) +
                          " but a classifier must end with a flat (num_classes) output.");
  }
  if (!card.class_names.empty() && current.dims[0] != static_cast<std::int64_t>(card.class_names.size())) {
    return make_error(ErrorCode::shape_mismatch, "card.class_names", 0,
                      "the model outputs " + std::to_string(current.dims[0]) + " values but the card names " +
                          std::to_string(card.class_names.size()) + " classes.");
  }
  return shapes;
}

std::int64_t parameter_count(const Layer& layer) {
  std::int64_t n = 0;
  for (const Tensor& t : layer.tensors) n += static_cast<std::int64_t>(t.values.size());
  return n;
}

std::int64_t parameter_count(const Model& model) {
  std::int64_t n = 0;
  for (const Layer& layer : model.layers) n += parameter_count(layer);
  return n;
}

namespace {

// Reference-simple layer implementations (plain loops, in the order PyTorch's definitions read).

void run_linear(const Layer& layer, const std::vector<float>& in, std::vector<float>& out) {
  const std::int64_t n_in = layer.in_features, n_out = layer.out_features;
  const float* w = layer.tensors[0].values.data();  // (out, in)
  const float* b = layer.tensors[1].values.data();  // (out)
  out.assign(static_cast<std::size_t>(n_out), 0.f);
  for (std::int64_t o = 0; o < n_out; ++o) {
    float sum = 0.f;
    for (std::int64_t k = 0; k < n_in; ++k) sum += w[o * n_in + k] * in[static_cast<std::size_t>(k)];
    out[static_cast<std::size_t>(o)] = sum + b[o];
  }
}

void run_conv2d(const Layer& layer, const ActivationShape& in_shape, const ActivationShape& out_shape,
                const std::vector<float>& in, std::vector<float>& out) {
  const std::int64_t c_in = in_shape.dims[0], h_in = in_shape.dims[1], w_in = in_shape.dims[2];
  const std::int64_t c_out = out_shape.dims[0], h_out = out_shape.dims[1], w_out = out_shape.dims[2];
  const std::int64_t k = layer.kernel, s = layer.stride, p = layer.padding;
  const float* w = layer.tensors[0].values.data();  // (out, in, k, k)
  const float* b = layer.tensors[1].values.data();  // (out)
  out.assign(static_cast<std::size_t>(c_out * h_out * w_out), 0.f);
  for (std::int64_t o = 0; o < c_out; ++o) {
    for (std::int64_t y = 0; y < h_out; ++y) {
      for (std::int64_t x = 0; x < w_out; ++x) {
        float sum = 0.f;
        for (std::int64_t c = 0; c < c_in; ++c) {
          for (std::int64_t ky = 0; ky < k; ++ky) {
            const std::int64_t iy = y * s + ky - p;
            if (iy < 0 || iy >= h_in) continue;
            for (std::int64_t kx = 0; kx < k; ++kx) {
              const std::int64_t ix = x * s + kx - p;
              if (ix < 0 || ix >= w_in) continue;
              sum += w[((o * c_in + c) * k + ky) * k + kx] * in[static_cast<std::size_t>((c * h_in + iy) * w_in + ix)];
            }
          }
        }
        out[static_cast<std::size_t>((o * h_out + y) * w_out + x)] = sum + b[o];
      }
    }
  }
}

void run_batch_norm(const Layer& layer, const ActivationShape& shape, std::vector<float>& v) {
  const std::int64_t channels = shape.dims[0];
  const std::int64_t per_channel = shape.size() / channels;
  const auto& gamma = layer.tensors[0].values;
  const auto& beta = layer.tensors[1].values;
  const auto& mean = layer.tensors[2].values;
  const auto& var = layer.tensors[3].values;
  for (std::int64_t c = 0; c < channels; ++c) {
    const float scale = gamma[c] / std::sqrt(var[c] + layer.eps);
    for (std::int64_t i = 0; i < per_channel; ++i) {
      float& x = v[static_cast<std::size_t>(c * per_channel + i)];
      x = (x - mean[c]) * scale + beta[c];
    }
  }
}

void run_max_pool(const Layer& layer, const ActivationShape& in_shape, const ActivationShape& out_shape,
                  const std::vector<float>& in, std::vector<float>& out) {
  const std::int64_t h_in = in_shape.dims[1], w_in = in_shape.dims[2];
  const std::int64_t c = out_shape.dims[0], h_out = out_shape.dims[1], w_out = out_shape.dims[2];
  out.assign(static_cast<std::size_t>(c * h_out * w_out), 0.f);
  for (std::int64_t ch = 0; ch < c; ++ch) {
    for (std::int64_t y = 0; y < h_out; ++y) {
      for (std::int64_t x = 0; x < w_out; ++x) {
        float best = -std::numeric_limits<float>::infinity();
        for (std::int64_t ky = 0; ky < layer.kernel; ++ky) {
          for (std::int64_t kx = 0; kx < layer.kernel; ++kx) {
            const float value = in[static_cast<std::size_t>((ch * h_in + y * layer.stride + ky) * w_in +
                                                            x * layer.stride + kx)];
            // NaN propagates like PyTorch's max_pool2d.
            if (value > best || std::isnan(value)) best = value;
          }
        }
        out[static_cast<std::size_t>((ch * h_out + y) * w_out + x)] = best;
      }
    }
  }
}

// Softmax over groups of `group` consecutive values, max-subtracted for stability.
void softmax_in_place(float* v, std::size_t count, std::size_t group) {
  for (std::size_t start = 0; start + group <= count; start += group) {
    float largest = v[start];
    for (std::size_t i = 1; i < group; ++i) largest = std::max(largest, v[start + i]);
    float total = 0.f;
    for (std::size_t i = 0; i < group; ++i) {
      v[start + i] = std::exp(v[start + i] - largest);
      total += v[start + i];
    }
    for (std::size_t i = 0; i < group; ++i) v[start + i] /= total;
  }
}

}  // namespace

Result<Prediction> forward(const Model& model, const float* input, std::size_t input_size, bool keep_activations) {
  Result<std::vector<ActivationShape>> shapes_or = infer_shapes(model);
  if (!shapes_or) return shapes_or.error();
  const std::vector<ActivationShape>& shapes = shapes_or.value();
  const std::size_t expected =
      static_cast<std::size_t>(model.card.input_channels * model.card.input_height * model.card.input_width);
  if (input == nullptr || input_size != expected) {
    return make_error(ErrorCode::bad_argument, "input", 0,
                      "forward() needs " + std::to_string(expected) + " input floats (channels*height*width from "
                          "the model card), got " + std::to_string(input_size) + (input ? "." : " (null pointer)."));
  }

  Prediction prediction;
  ActivationShape shape{{model.card.input_channels, model.card.input_height, model.card.input_width}};
  std::vector<float> current(input, input + input_size), next;
  // The logits are the output of the last layer that is not a trailing softmax.
  std::size_t logits_layer = model.layers.size();
  while (logits_layer > 0 && model.layers[logits_layer - 1].kind == LayerKind::softmax) --logits_layer;
  if (logits_layer == 0) prediction.logits = current;

  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    const ActivationShape& out_shape = shapes[i];
    switch (layer.kind) {
      case LayerKind::linear: run_linear(layer, current, next); current.swap(next); break;
      case LayerKind::conv2d: run_conv2d(layer, shape, out_shape, current, next); current.swap(next); break;
      case LayerKind::batch_norm: run_batch_norm(layer, shape, current); break;
      case LayerKind::relu:
        for (float& x : current) x = x > 0.f ? x : 0.f;
        break;
      case LayerKind::leaky_relu:
        for (float& x : current) x = x > 0.f ? x : x * layer.alpha;
        break;
      case LayerKind::sigmoid:
        for (float& x : current) x = 1.f / (1.f + std::exp(-x));
        break;
      case LayerKind::tanh:
        for (float& x : current) x = std::tanh(x);
        break;
      case LayerKind::max_pool2d: run_max_pool(layer, shape, out_shape, current, next); current.swap(next); break;
      case LayerKind::flatten:
      case LayerKind::dropout:
        break;
      case LayerKind::softmax:
        softmax_in_place(current.data(), current.size(),
                         static_cast<std::size_t>(shape.dims.back()));
        break;
    }
    shape = out_shape;
    if (keep_activations) prediction.activations.push_back(current);
    if (i + 1 == logits_layer) prediction.logits = current;
  }

  prediction.probabilities = prediction.logits;
  softmax_in_place(prediction.probabilities.data(), prediction.probabilities.size(),
                   prediction.probabilities.size());
  prediction.label = static_cast<int>(std::max_element(prediction.logits.begin(), prediction.logits.end()) -
                                      prediction.logits.begin());
  return prediction;
}

}  // namespace digitlab
