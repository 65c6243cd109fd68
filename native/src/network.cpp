// Building the torch modules from digitlab layers, the forward pass, and the PyTorch-style printout.
// Read next: export.cpp (copying tensors between this network and a digitlab::Model).
//
// forward() takes two shortcuts that change speed, never results:
//   * ReLU then MaxPool runs as MaxPool then ReLU: both are monotonic, so the outputs are the same values
//     and the gradients reach the same elements (where a window's maximum is <= 0 both orders pass zero
//     gradient). The ReLU then touches a quarter of the elements.
//   * ReLU right after a layer that made a fresh tensor (linear, conv, batch norm, pool) runs in place:
//     none of those layers needs its output for the backward pass.
//   * In training on CPU with channels-last activations, BatchNorm2d -> ReLU -> MaxPool2d(2) runs as one
//     operation with its own backward pass (fused_block.hpp): the same mathematics in fewer memory passes.
#include "network.hpp"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "console.hpp"
#include "digitlab/describe.hpp"  // shape_text
#include "fused_block.hpp"

namespace digitlab::trainer {

namespace {

torch::nn::AnyModule make_module(const Layer& layer, const ActivationShape& input) {
  namespace nn = torch::nn;
  switch (layer.kind) {
    case LayerKind::linear: return nn::AnyModule(nn::Linear(layer.in_features, layer.out_features));
    case LayerKind::conv2d:
      return nn::AnyModule(nn::Conv2d(nn::Conv2dOptions(layer.in_channels, layer.out_channels, layer.kernel)
                                          .stride(layer.stride)
                                          .padding(layer.padding)));
    case LayerKind::batch_norm:
      // 2d over (C, H, W) activations, 1d over features: the rank of the input decides, as in digitlab.
      if (input.dims.size() == 3)
        return nn::AnyModule(nn::BatchNorm2d(nn::BatchNorm2dOptions(layer.channels).eps(layer.eps)));
      return nn::AnyModule(nn::BatchNorm1d(nn::BatchNorm1dOptions(layer.channels).eps(layer.eps)));
    case LayerKind::relu: return nn::AnyModule(nn::ReLU());
    case LayerKind::leaky_relu: return nn::AnyModule(nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(layer.alpha)));
    case LayerKind::sigmoid: return nn::AnyModule(nn::Sigmoid());
    case LayerKind::tanh: return nn::AnyModule(nn::Tanh());
    case LayerKind::max_pool2d:
      return nn::AnyModule(nn::MaxPool2d(nn::MaxPool2dOptions(layer.kernel).stride(layer.stride)));
    case LayerKind::flatten: return nn::AnyModule(nn::Flatten());
    case LayerKind::dropout: return nn::AnyModule(nn::Dropout(nn::DropoutOptions(layer.dropout_p)));
    case LayerKind::softmax: return nn::AnyModule(nn::Softmax(nn::SoftmaxOptions(1)));
  }
  return nn::AnyModule(nn::Identity());
}

// Channels-last strides, also for tensors with one channel. contiguous(ChannelsLast) leaves a (N, 1, H, W)
// tensor as it is (it already counts as channels-last contiguous), but oneDNN picks its layout from the
// strides, and NCHW strides send the first convolution and everything after it down the slow NCHW path.
torch::Tensor with_channels_last_strides(const torch::Tensor& tensor) {
  if (tensor.strides() == c10::get_channels_last_strides_2d(tensor.sizes())) return tensor;
  torch::Tensor out = torch::empty(tensor.sizes(), tensor.options().memory_format(at::MemoryFormat::ChannelsLast));
  out.copy_(tensor);
  return out;
}

bool makes_fresh_tensor(LayerKind kind) {
  return kind == LayerKind::linear || kind == LayerKind::conv2d || kind == LayerKind::batch_norm ||
         kind == LayerKind::max_pool2d;
}

// LibTorch prints "torch::nn::Linear(in_features=784, out_features=512, bias=true)"; the tutorial's
// readers know PyTorch's "Linear(in_features=784, out_features=512, bias=True)".
std::string pythonic(std::string text) {
  auto replace_all = [&](const std::string& from, const std::string& to) {
    for (std::size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size()))
      text.replace(at, from.size(), to);
  };
  replace_all("torch::nn::", "");
  replace_all("=true", "=True");
  replace_all("=false", "=False");
  return text;
}

}  // namespace

std::int64_t torch_parameter_count(const torch::nn::Module& module) {
  std::int64_t total = 0;
  for (const auto& parameter : module.parameters()) total += parameter.numel();
  return total;
}

NetworkImpl::NetworkImpl(const Model& spec, std::vector<ActivationShape> shapes)
    : spec_(spec), shapes_(std::move(shapes)) {
  for (Layer& layer : spec_.layers)
    for (Tensor& tensor : layer.tensors) tensor.values.clear();  // only the structure is kept
  ActivationShape input{{spec_.card.input_channels, spec_.card.input_height, spec_.card.input_width}};
  for (std::size_t i = 0; i < spec_.layers.size(); ++i) {
    modules_.push_back(make_module(spec_.layers[i], i == 0 ? input : shapes_[i - 1]));
    layers_->push_back(modules_.back());
    has_convolution_ = has_convolution_ || spec_.layers[i].kind == LayerKind::conv2d;
  }
  register_module("layers", layers_);

  const auto& layers = spec_.layers;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    Step step;
    step.layer = i;
    const bool last = i + 1 == layers.size();
    const bool pool_2x2_follows = i + 2 < layers.size() && layers[i + 1].kind == LayerKind::relu &&
                                  layers[i + 2].kind == LayerKind::max_pool2d && layers[i + 2].kernel == 2 &&
                                  layers[i + 2].stride == 2;
    if (layers[i].kind == LayerKind::batch_norm && shapes_[i].dims.size() == 3 && pool_2x2_follows) {
      step.op = Step::Op::batch_norm_relu_pool;
      i += 2;
    } else if (layers[i].kind == LayerKind::batch_norm) {
      step.op = Step::Op::batch_norm;
    } else if (layers[i].kind == LayerKind::softmax && last) {
      step.op = Step::Op::skip;
    } else if (layers[i].kind == LayerKind::relu && !last && layers[i + 1].kind == LayerKind::max_pool2d) {
      step.op = Step::Op::pool_then_relu;
      step.layer = i + 1;
      ++i;
    } else if (layers[i].kind == LayerKind::relu && i > 0 && makes_fresh_tensor(layers[i - 1].kind)) {
      step.op = Step::Op::relu_in_place;
    }
    plan_.push_back(step);
  }
}

void NetworkImpl::use_channels_last() {
  if (!has_convolution_) return;
  channels_last_ = true;
  torch::NoGradGuard no_grad;
  for (auto& parameter : parameters())
    if (parameter.dim() == 4) parameter.set_data(with_channels_last_strides(parameter));
}

torch::Tensor NetworkImpl::forward(torch::Tensor x) {
  if (channels_last_) x = with_channels_last_strides(x);
  for (const Step& step : plan_) {
    switch (step.op) {
      case Step::Op::module: x = modules_[step.layer].forward(x); break;
      case Step::Op::batch_norm:
        x = is_training() && training_batch_norm_ ? training_batch_norm_(x, *modules_[step.layer].ptr())
                                                  : modules_[step.layer].forward(x);
        break;
      case Step::Op::relu_in_place: x = x.relu_(); break;
      case Step::Op::pool_then_relu: x = modules_[step.layer].forward(x).relu_(); break;
      case Step::Op::batch_norm_relu_pool:
        if (is_training() && training_batch_norm_) {
          x = training_batch_norm_(x, *modules_[step.layer].ptr());
          x = modules_[step.layer + 2].forward(x).relu_();
        } else if (is_training() && channels_last_ && can_fuse_batch_norm_relu_max_pool(x)) {
          x = batch_norm_relu_max_pool(x, *modules_[step.layer].ptr()->as<torch::nn::BatchNorm2dImpl>());
        } else {
          x = modules_[step.layer].forward(x);
          x = modules_[step.layer + 2].forward(x).relu_();
        }
        break;
      case Step::Op::skip: break;
    }
  }
  return x;
}

std::int64_t NetworkImpl::parameter_total() const { return torch_parameter_count(*this); }

void NetworkImpl::print_summary(std::ostream& out, const std::string& title) const {
  std::vector<std::string> descriptions;
  std::size_t width = 0;
  for (std::size_t i = 0; i < layers_->size(); ++i) {
    std::ostringstream text;
    layers_->ptr(i)->pretty_print(text);
    descriptions.push_back(fmt::format("({}): {}", i, pythonic(text.str())));
    width = std::max(width, descriptions.back().size());
  }
  out << title << "(" << std::string(width > title.size() + 1 ? width - title.size() - 1 : 0, ' ')
      << fmt::format("  {:>14}  {:>10}\n", "output", "parameters");
  for (std::size_t i = 0; i < descriptions.size(); ++i) {
    const std::int64_t count = torch_parameter_count(*layers_->ptr(i));
    out << "  " << descriptions[i] << std::string(width - descriptions[i].size(), ' ')
        << fmt::format("{:>14}  {:>10}\n", shape_text(shapes_[i].dims), count ? with_thousands(count) : "-");
  }
  out << ")\n" << fmt::format("Total parameters: {} (all trainable)\n", with_thousands(parameter_total()));
}

Result<Network> build_network(const Model& spec) {
  auto shapes = infer_shapes(spec);
  if (!shapes) return shapes.error();
  return Network(spec, std::move(shapes.value()));
}

}  // namespace digitlab::trainer
