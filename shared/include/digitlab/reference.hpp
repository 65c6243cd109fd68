// The plain maths of every layer: a reference forward pass in double precision, one function per layer
// kind, written as loops you can check by eye. Read this first; then shared/src/model.cpp (the fast path).
//
// It is what the tests hold forward() to (tests/core/test_model.cpp, test_kernels.cpp) and what tools may
// use to check a model; the web app does not link it (its own target, digitlab::reference). It is slow on
// purpose: no packing, no skipping, no vectors, the sums in double in the order the formula reads.
#pragma once

#include <cstdint>
#include <vector>

#include "digitlab/error.hpp"
#include "digitlab/model.hpp"

namespace digitlab::reference {

// One layer's input or output: (channels, height, width) row-major for image-like data, (features) for
// flat data -- PyTorch's layout for one image.
struct Activation {
  std::vector<std::int64_t> dims;
  std::vector<double> values;  // product(dims) values
};

// Each layer kind. They take a layer and an input that infer_shapes() has checked (forward() below does
// that first): on unchecked layers they may read out of bounds.
Activation linear(const Layer& layer, const Activation& in);       // (in) -> (out): W x + b
Activation conv2d(const Layer& layer, const Activation& in);       // (C, H, W) -> (O, H', W'), zero padding
Activation batch_norm(const Layer& layer, const Activation& in);   // per channel, running statistics
Activation relu(const Activation& in);
Activation leaky_relu(const Layer& layer, const Activation& in);   // slope layer.alpha below 0
Activation sigmoid(const Activation& in);
Activation tanh(const Activation& in);
Activation max_pool2d(const Layer& layer, const Activation& in);   // no padding; sizes floor
Activation flatten(const Activation& in);                          // (C, H, W) -> (C*H*W)
Activation dropout(const Activation& in);                          // identity at inference
Activation softmax(const Activation& in);                          // over the last dimension

// The function for layer.kind.
Activation run_layer(const Layer& layer, const Activation& in);

struct Forward {
  std::vector<Activation> activations;  // every layer's output, in layer order
  std::vector<double> logits;           // the last output that is not a trailing softmax
  std::vector<double> probabilities;    // softmax(logits)
  int label = -1;                       // argmax(logits), the first on ties
};

// The whole network on one normalised input (card.input_channels * height * width floats). Checks the
// model with infer_shapes() and the input's size first: the same errors as digitlab::forward().
Result<Forward> forward(const Model& model, const float* input, std::size_t input_size);

}  // namespace digitlab::reference
