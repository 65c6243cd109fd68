// The forward pass: shape checking (infer_shapes), parameter counts and forward() over a Model's layers.
// Read next: preprocess.cpp (drawings to model input), weights_reader.cpp (how a Model is loaded).
#include "digitlab/model.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <string>

#include "digitlab/kernels.hpp"

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

// Largest activation (in floats) a layer may produce: 64 MiB, far above any digit model (the CNN's
// largest is 25,088) and small enough for a browser tab.
constexpr std::int64_t kMaxActivation = std::int64_t{1} << 24;
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
      // y = (x - mean) * gamma / sqrt(running_var + eps): a sum <= 0 would give infinities or NaN.
      const std::vector<float>& var = layer.tensors[3].values;
      for (std::size_t c = 0; c < var.size(); ++c) {
        if (!(var[c] + layer.eps > 0.f)) {
          return layer_error(ErrorCode::bad_value, index, "running_var",
                             "batch_norm running_var[" + std::to_string(c) + "] + eps must be > 0.");
        }
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
  // batch_norm's running_mean and running_var are buffers, not trainable parameters (as in PyTorch).
  const std::size_t counted = layer.kind == LayerKind::batch_norm ? std::min<std::size_t>(2, layer.tensors.size())
                                                                  : layer.tensors.size();
  std::int64_t n = 0;
  for (std::size_t i = 0; i < counted; ++i) n += static_cast<std::int64_t>(layer.tensors[i].values.size());
  return n;
}

std::int64_t parameter_count(const Model& model) {
  std::int64_t n = 0;
  for (const Layer& layer : model.layers) n += parameter_count(layer);
  return n;
}

// ---- prepare(): weights packed once for the kernels ---------------------------------------------------

struct PreparedModel {
  std::vector<std::uint64_t> fingerprint;        // what the packs were made from (see fingerprint_of)
  std::vector<ActivationShape> shapes;           // infer_shapes(), checked once
  std::vector<kernels::PackedLinear> linear;     // per layer: linear
  std::vector<kernels::PackedConv> conv;         // per layer: conv2d
  std::vector<kernels::Elementwise> elementwise;  // per layer: batch_norm, activations
};

namespace {

std::uint64_t float_bits(float value) {
  std::uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

// Everything prepare() read: the card's input fields, every layer's parameters and tensor shapes, and
// 8 values sampled from each tensor. Cheap enough for every forward() call (no pass over the weights),
// so a copied Model keeps its packs while a reshaped or reloaded one gets new ones. An edit of a weight
// that is not sampled goes unnoticed: call prepare() after editing weights in place.
std::vector<std::uint64_t> fingerprint_of(const Model& model) {
  const ModelCard& card = model.card;
  std::vector<std::uint64_t> f = {static_cast<std::uint64_t>(card.input_channels),
                                  static_cast<std::uint64_t>(card.input_height),
                                  static_cast<std::uint64_t>(card.input_width),
                                  float_bits(card.normalize_mean),
                                  float_bits(card.normalize_std),
                                  card.class_names.size(),
                                  model.layers.size()};
  for (const Layer& layer : model.layers) {
    for (std::int64_t v : {static_cast<std::int64_t>(layer.kind), layer.in_features, layer.out_features,
                           layer.in_channels, layer.out_channels, layer.kernel, layer.stride, layer.padding,
                           layer.channels}) {
      f.push_back(static_cast<std::uint64_t>(v));
    }
    f.push_back(float_bits(layer.alpha) << 32 | float_bits(layer.eps));
    f.push_back(layer.tensors.size());
    for (const Tensor& tensor : layer.tensors) {
      f.push_back(tensor.shape.size());
      for (std::int64_t d : tensor.shape) f.push_back(static_cast<std::uint64_t>(d));
      const std::size_t n = tensor.values.size();
      f.push_back(n);
      if (n == 0) continue;
      for (std::size_t i = 0; i < 8; ++i) f.push_back(float_bits(tensor.values[i * (n - 1) / 7]));
    }
  }
  return f;
}

// How a 3-d activation is stored. Convolutions and pooling work channels-last (HWC, so their inner loops
// run over channels); PyTorch's order (CHW) is restored for flatten, softmax and the activations we return.
enum class Layout { chw, hwc };

// Buffers reused across calls (one set per thread), so a warm forward() does not allocate for them.
struct Workspace {
  std::vector<float> current, next;
  kernels::Scratch scratch;
};

bool fusable(LayerKind kind) {
  return kind == LayerKind::batch_norm || kind == LayerKind::relu || kind == LayerKind::leaky_relu ||
         kind == LayerKind::sigmoid || kind == LayerKind::tanh || kind == LayerKind::dropout;
}

// The activation in PyTorch's (C, H, W) order.
void copy_as_chw(const std::vector<float>& values, const ActivationShape& shape, Layout layout,
                 std::vector<float>& out) {
  out.resize(values.size());
  if (layout == Layout::hwc && shape.dims.size() == 3 && shape.dims[0] > 1) {
    kernels::hwc_to_chw(values.data(), static_cast<int>(shape.dims[0]), static_cast<int>(shape.dims[1]),
                        static_cast<int>(shape.dims[2]), out.data());
  } else {
    std::copy(values.begin(), values.end(), out.begin());
  }
}

// Converts a 3-d activation to `wanted` in place (through ws.next).
void convert_layout(Workspace& ws, const ActivationShape& shape, Layout& layout, Layout wanted) {
  if (layout == wanted) return;
  layout = wanted;
  if (shape.dims.size() != 3 || shape.dims[0] == 1) return;  // one channel: both orders are the same
  const int c = static_cast<int>(shape.dims[0]), h = static_cast<int>(shape.dims[1]), w = static_cast<int>(shape.dims[2]);
  ws.next.resize(ws.current.size());
  if (wanted == Layout::hwc) {
    kernels::chw_to_hwc(ws.current.data(), c, h, w, ws.next.data());
  } else {
    kernels::hwc_to_chw(ws.current.data(), c, h, w, ws.next.data());
  }
  ws.current.swap(ws.next);
}

// Packs layer i's weights with the given skip values (nullptr: zeros): for a convolution an image shaped
// like its input (channels-last), for a linear layer a vector.
void pack_layer(const Model& model, std::size_t i, const ActivationShape& in_shape, const float* skip,
                PreparedModel& plan) {
  const Layer& layer = model.layers[i];
  const auto& t = layer.tensors;
  if (layer.kind == LayerKind::linear) {
    plan.linear[i] = kernels::pack_linear(t[0].values.data(), t[1].values.data(), static_cast<int>(layer.in_features),
                                          static_cast<int>(layer.out_features), skip);
  } else {
    plan.conv[i] = kernels::pack_conv2d(t[0].values.data(), t[1].values.data(), static_cast<int>(layer.in_channels),
                                        static_cast<int>(layer.out_channels), static_cast<int>(layer.kernel),
                                        static_cast<int>(layer.stride), static_cast<int>(layer.padding),
                                        static_cast<int>(in_shape.dims[1]), static_cast<int>(in_shape.dims[2]), skip);
  }
}

// Runs the layers. With `tune` (only while preparing, on a blank input), each convolution -- and a linear
// layer fed straight from the model input -- is packed just before it runs, with the activation it is
// about to see as its skip image: what its input looks like, pixel by pixel, when the paper is blank.
void execute(const Model& model, const PreparedModel& plan, PreparedModel* tune, const float* input,
             std::size_t input_size, bool keep_activations, Prediction& prediction) {
  thread_local Workspace ws;
  const ModelCard& card = model.card;
  ws.current.assign(input, input + input_size);
  ActivationShape shape{{card.input_channels, card.input_height, card.input_width}};
  Layout layout = Layout::chw;
  bool model_input = true;  // only flatten / dropout so far
  // The logits are the output of the last layer that is not a trailing softmax.
  std::size_t logits_layer = model.layers.size();
  while (logits_layer > 0 && model.layers[logits_layer - 1].kind == LayerKind::softmax) --logits_layer;

  const std::size_t layer_count = model.layers.size();
  for (std::size_t i = 0; i < layer_count; ++i) {
    const Layer& layer = model.layers[i];
    std::size_t last = i;  // the last layer this step computes (fused epilogues extend it)
    switch (layer.kind) {
      case LayerKind::linear:
      case LayerKind::conv2d: {
        // Without activations to return, the following batch_norm / activation / dropout layers run
        // inside the kernel on each output block. The float operations are the same either way.
        const kernels::Elementwise* epilogue[16];
        int epilogue_count = 0;
        while (!keep_activations && last + 1 < layer_count && epilogue_count < 16 &&
               fusable(model.layers[last + 1].kind)) {
          ++last;
          epilogue[epilogue_count++] = &plan.elementwise[last];
        }
        const bool conv = layer.kind == LayerKind::conv2d;
        // A max-pool right after (kernel == stride) runs inside the convolution too.
        int pool = 0;
        if (conv && !keep_activations && last + 1 < layer_count) {
          const Layer& next = model.layers[last + 1];
          if (next.kind == LayerKind::max_pool2d && next.kernel == next.stride) {
            pool = static_cast<int>(next.kernel);
            ++last;
          }
        }
        if (conv) convert_layout(ws, shape, layout, Layout::hwc);
        if (tune != nullptr && (conv || model_input)) pack_layer(model, i, shape, ws.current.data(), *tune);
        ws.next.resize(static_cast<std::size_t>(plan.shapes[last].size()));
        if (conv) {
          kernels::conv2d_hwc(plan.conv[i], ws.current.data(), ws.next.data(), epilogue, epilogue_count, pool,
                              ws.scratch);
        } else {
          kernels::linear(plan.linear[i], ws.current.data(), ws.next.data(), epilogue, epilogue_count, ws.scratch);
        }
        ws.current.swap(ws.next);
        layout = Layout::hwc;
        break;
      }
      case LayerKind::batch_norm:
      case LayerKind::relu:
      case LayerKind::leaky_relu:
      case LayerKind::sigmoid:
      case LayerKind::tanh: {
        const auto& d = shape.dims;
        const std::int64_t channels = d[0], plane = d.size() == 3 ? d[1] * d[2] : 1;
        if (layout == Layout::hwc && d.size() == 3) {
          kernels::apply_elementwise(plan.elementwise[i], ws.current.data(), plane, channels, 1);
        } else {
          kernels::apply_elementwise(plan.elementwise[i], ws.current.data(), 1, channels, plane);
        }
        break;
      }
      case LayerKind::max_pool2d: {
        convert_layout(ws, shape, layout, Layout::hwc);
        const ActivationShape& out_shape = plan.shapes[i];
        ws.next.resize(static_cast<std::size_t>(out_shape.size()));
        kernels::max_pool_hwc(ws.current.data(), static_cast<int>(shape.dims[0]), static_cast<int>(shape.dims[1]),
                              static_cast<int>(shape.dims[2]), static_cast<int>(layer.kernel),
                              static_cast<int>(layer.stride), ws.next.data(), static_cast<int>(out_shape.dims[1]),
                              static_cast<int>(out_shape.dims[2]));
        ws.current.swap(ws.next);
        break;
      }
      case LayerKind::flatten:
        convert_layout(ws, shape, layout, Layout::chw);
        break;
      case LayerKind::dropout:
        break;
      case LayerKind::softmax:
        convert_layout(ws, shape, layout, Layout::chw);
        kernels::softmax(ws.current.data(), static_cast<std::int64_t>(ws.current.size()), shape.dims.back());
        break;
    }
    for (std::size_t j = i; j <= last; ++j) {
      const LayerKind kind = model.layers[j].kind;
      if (kind != LayerKind::flatten && kind != LayerKind::dropout) model_input = false;
    }
    shape = plan.shapes[last];
    if (shape.dims.size() != 3) layout = Layout::chw;  // flat: one order
    if (keep_activations) {
      prediction.activations.emplace_back();
      copy_as_chw(ws.current, shape, layout, prediction.activations.back());
    }
    if (last + 1 == logits_layer) copy_as_chw(ws.current, shape, layout, prediction.logits);
    i = last;
  }
  if (logits_layer == 0) prediction.logits.assign(input, input + input_size);
}

Result<std::shared_ptr<const PreparedModel>> build_prepared(const Model& model) {
  Result<std::vector<ActivationShape>> shapes = infer_shapes(model);
  if (!shapes) return shapes.error();
  auto plan = std::make_shared<PreparedModel>();
  plan->fingerprint = fingerprint_of(model);
  plan->shapes = std::move(shapes).value();
  const std::size_t n = model.layers.size();
  plan->linear.resize(n);
  plan->conv.resize(n);
  plan->elementwise.resize(n);
  ActivationShape in_shape{{model.card.input_channels, model.card.input_height, model.card.input_width}};
  for (std::size_t i = 0; i < n; ++i) {
    const Layer& layer = model.layers[i];
    const auto& t = layer.tensors;
    kernels::Elementwise& op = plan->elementwise[i];
    switch (layer.kind) {
      case LayerKind::linear:
      case LayerKind::conv2d: pack_layer(model, i, in_shape, nullptr, *plan); break;
      case LayerKind::batch_norm:
        op = kernels::make_batch_norm(t[0].values.data(), t[1].values.data(), t[2].values.data(),
                                      t[3].values.data(), static_cast<int>(layer.channels), layer.eps);
        break;
      case LayerKind::relu: op.op = kernels::Elementwise::Op::relu; break;
      case LayerKind::leaky_relu:
        op.op = kernels::Elementwise::Op::leaky_relu;
        op.alpha = layer.alpha;
        break;
      case LayerKind::sigmoid: op.op = kernels::Elementwise::Op::sigmoid; break;
      case LayerKind::tanh: op.op = kernels::Elementwise::Op::tanh; break;
      case LayerKind::dropout:
      case LayerKind::flatten:
      case LayerKind::max_pool2d:
      case LayerKind::softmax: break;
    }
    in_shape = plan->shapes[i];
  }
  // One run on blank paper (every pixel (0 - mean) / std, as preprocess_canvas computes it) records the
  // skip images; each layer is repacked with its own just before it runs in that run.
  const ModelCard& card = model.card;
  const float blank = (0.f - card.normalize_mean) / card.normalize_std;
  if (std::isfinite(blank)) {
    const std::vector<float> paper(static_cast<std::size_t>(card.input_channels * card.input_height * card.input_width),
                                   blank);
    Prediction ignored;
    execute(model, *plan, plan.get(), paper.data(), paper.size(), false, ignored);
  }
  return std::shared_ptr<const PreparedModel>(std::move(plan));
}

}  // namespace

Status prepare(Model& model) {
  model.prepared.reset();
  Result<std::shared_ptr<const PreparedModel>> prepared = build_prepared(model);
  if (!prepared) return prepared.error();
  model.prepared = std::move(prepared).value();
  return Ok{};
}

Result<Prediction> forward(const Model& model, const float* input, std::size_t input_size, bool keep_activations) {
  // Packed weights: the prepared ones when they still describe this model, else packed for this call.
  std::shared_ptr<const PreparedModel> prepared = model.prepared;
  if (!prepared || prepared->fingerprint != fingerprint_of(model)) {
    Result<std::shared_ptr<const PreparedModel>> built = build_prepared(model);
    if (!built) return built.error();
    prepared = std::move(built).value();
  }
  const ModelCard& card = model.card;
  const std::size_t expected = static_cast<std::size_t>(card.input_channels * card.input_height * card.input_width);
  if (input == nullptr || input_size != expected) {
    return make_error(ErrorCode::bad_argument, "input", 0,
                      "forward() needs " + std::to_string(expected) + " input floats (channels*height*width from "
                          "the model card), got " + std::to_string(input_size) + (input ? "." : " (null pointer)."));
  }
  Prediction prediction;
  execute(model, *prepared, nullptr, input, input_size, keep_activations, prediction);
  prediction.probabilities = prediction.logits;
  kernels::softmax(prediction.probabilities.data(), static_cast<std::int64_t>(prediction.probabilities.size()),
                   static_cast<std::int64_t>(prediction.probabilities.size()));
  prediction.label = static_cast<int>(std::max_element(prediction.logits.begin(), prediction.logits.end()) -
                                      prediction.logits.begin());
  return prediction;
}

}  // namespace digitlab
