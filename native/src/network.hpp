// The torch network of a digitlab model: one torch module per digitlab::Layer, in the same order, so the
// trainer builds it from the architecture's layer list and eval rebuilds it from a weights file, and
// export/import are one walk over the list. Read next: export.hpp (tensors in and out), trainer.cpp.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "digitlab/error.hpp"
#include "digitlab/model.hpp"

namespace digitlab::trainer {

class NetworkImpl : public torch::nn::Module {
 public:
  // Use build_network(): it checks the layer list first.
  NetworkImpl(const Model& spec, std::vector<ActivationShape> shapes);

  // (N, C, H, W) normalised float32 -> (N, classes) logits (a trailing softmax layer is left out, as
  // digitlab::forward does, so the loss sees logits).
  torch::Tensor forward(torch::Tensor input);

  // Convolution weights (and from then on activations) in channels-last layout: oneDNN's fastest path on
  // CPU. The values and the results are the same; only the memory order changes.
  void use_channels_last();

  // Training-mode batch norm computed by `function` instead of the layer (synchronised batch norm across
  // data-parallel replicas: distributed.hpp); it gets the input and the BatchNorm1d/2d module. Eval mode,
  // and an empty function, use the layer itself.
  using BatchNormFunction = std::function<torch::Tensor(const torch::Tensor& input, torch::nn::Module& layer)>;
  void set_training_batch_norm(BatchNormFunction function) { training_batch_norm_ = std::move(function); }

  // The model layer by layer, as PyTorch prints it, with output shapes and parameter counts.
  void print_summary(std::ostream& out, const std::string& title) const;

  const Model& spec() const { return spec_; }
  const std::vector<ActivationShape>& shapes() const { return shapes_; }
  torch::nn::Sequential& layers() { return layers_; }
  std::int64_t parameter_total() const;

 private:
  // How forward() runs the layers: mostly one module each, with two exact shortcuts (see network.cpp).
  struct Step {
    enum class Op { module, batch_norm, relu_in_place, pool_then_relu, batch_norm_relu_pool, skip } op = Op::module;
    std::size_t layer = 0;
  };
  Model spec_;  // the layer list (tensor values unused) and the card's input shape
  std::vector<ActivationShape> shapes_;
  torch::nn::Sequential layers_;              // registered as "layers": printing, saving, parameters
  std::vector<torch::nn::AnyModule> modules_;  // the same modules, for forward() without a lookup
  std::vector<Step> plan_;
  bool channels_last_ = false;
  bool has_convolution_ = false;
  BatchNormFunction training_batch_norm_;
};
TORCH_MODULE(Network);

// Checks the layers chain (digitlab::infer_shapes) and builds the torch modules, initialised the way
// PyTorch initialises them from torch's current seed. Errors: shape_mismatch / bad_layer.
Result<Network> build_network(const Model& spec);

// Parameters of one layer of the torch network (to print and to check against digitlab's count).
std::int64_t torch_parameter_count(const torch::nn::Module& module);

}  // namespace digitlab::trainer
