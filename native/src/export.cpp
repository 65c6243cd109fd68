// Torch tensors <-> digitlab tensors, by layer kind. Read next: checkpoint.cpp.
#include "export.hpp"

#include <fmt/format.h>

namespace digitlab::trainer {

namespace {

// The torch tensors behind one digitlab layer, in the order model.hpp lists for its kind.
std::vector<torch::Tensor> layer_tensors(torch::nn::Module& module, LayerKind kind) {
  auto parameters = module.named_parameters(/*recurse=*/false);
  auto buffers = module.named_buffers(/*recurse=*/false);
  switch (kind) {
    case LayerKind::linear:
    case LayerKind::conv2d: return {parameters["weight"], parameters["bias"]};
    case LayerKind::batch_norm:
      return {parameters["weight"], parameters["bias"], buffers["running_mean"], buffers["running_var"]};
    default: return {};
  }
}

std::vector<std::int64_t> shape_of(const torch::Tensor& tensor) {
  return std::vector<std::int64_t>(tensor.sizes().begin(), tensor.sizes().end());
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "(";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + ")";
}

}  // namespace

Model export_model(NetworkImpl& network, const ModelCard& card) {
  Model model = network.spec();
  model.card = card;
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    Layer& layer = model.layers[i];
    layer.tensors.clear();
    if (layer.kind == LayerKind::batch_norm) {
      // The eps the torch module really used, whatever the layer list said.
      auto module = network.layers()->ptr(i);
      if (auto* bn2 = module->as<torch::nn::BatchNorm2dImpl>()) layer.eps = static_cast<float>(bn2->options.eps());
      if (auto* bn1 = module->as<torch::nn::BatchNorm1dImpl>()) layer.eps = static_cast<float>(bn1->options.eps());
    }
    for (const torch::Tensor& source : layer_tensors(*network.layers()->ptr(i), layer.kind)) {
      // contiguous() after the move puts channels-last weights back in (out, in, k, k) order.
      torch::Tensor values = source.detach().to(torch::kCPU, torch::kFloat32).contiguous();
      Tensor tensor;
      tensor.shape = shape_of(values);
      tensor.values.assign(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
      layer.tensors.push_back(std::move(tensor));
    }
  }
  return model;
}

Status import_model(NetworkImpl& network, const Model& model) {
  if (model.layers.size() != network.spec().layers.size())
    return make_error(ErrorCode::shape_mismatch, "layers", 0,
                      fmt::format("the model has {} layers, the network {}", model.layers.size(),
                                  network.spec().layers.size()));
  torch::NoGradGuard no_grad;
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    std::vector<torch::Tensor> targets = layer_tensors(*network.layers()->ptr(i), layer.kind);
    if (layer.tensors.size() != targets.size())
      return make_error(ErrorCode::shape_mismatch, fmt::format("layer[{}]", i), 0,
                        fmt::format("layer {} ({}) has {} tensors, the network expects {}", i,
                                    layer_kind_name(layer.kind), layer.tensors.size(), targets.size()));
    for (std::size_t t = 0; t < targets.size(); ++t) {
      const Tensor& source = layer.tensors[t];
      if (source.shape != shape_of(targets[t]))
        return make_error(ErrorCode::shape_mismatch, fmt::format("layer[{}].tensor[{}]", i, t), 0,
                          fmt::format("layer {} ({}) tensor {} has shape {}, the network expects {}", i,
                                      layer_kind_name(layer.kind), t, shape_text(source.shape),
                                      shape_text(shape_of(targets[t]))));
      torch::Tensor values = torch::from_blob(const_cast<float*>(source.values.data()), targets[t].sizes(),
                                              torch::kFloat32);
      targets[t].copy_(values);  // copy_ converts to the target's device and memory layout
    }
  }
  return Ok{};
}

}  // namespace digitlab::trainer
