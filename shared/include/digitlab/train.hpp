// Training in the core, part 1: backward passes and the batch loss with its parameter gradients, in
// plain fixed-order loops (the same bits natively and in wasm, as forward()). So far the dense layers:
// linear, relu, leaky_relu, sigmoid, tanh, flatten, dropout (eval: identity) and a final softmax
// cross-entropy; conv2d, max_pool2d, batch_norm and dropout in train mode are not written yet and are
// refused with bad_layer. Read next: model.hpp (the layers), docs/core.md.
#pragma once

#include <cstddef>
#include <vector>

#include "digitlab/error.hpp"
#include "digitlab/model.hpp"

namespace digitlab {

// One gradient tensor per trainable tensor of the layer, in the layer's tensor order (linear: weight,
// bias); empty for layers without parameters.
struct LayerGradients {
  std::vector<Tensor> tensors;
};

struct BatchGradients {
  float loss = 0.f;                    // mean softmax cross-entropy over the batch (nn.CrossEntropyLoss)
  std::vector<LayerGradients> layers;  // one per model layer
};

// Loss and the gradients of every layer's parameters for a batch: inputs holds batch normalised model
// inputs one after another, labels one class each. A final softmax layer, if the model has one, is
// skipped (the loss takes logits, as nn.CrossEntropyLoss). Errors: bad_argument, bad_layer.
Result<BatchGradients> loss_and_gradients(const Model& model, const float* inputs, const int* labels,
                                          std::size_t batch);

// Gradient of one class's logit with respect to the input (eval mode), for a saliency panel.
Result<std::vector<float>> input_gradient(const Model& model, const float* input, std::size_t input_size,
                                          int class_index);

}  // namespace digitlab
