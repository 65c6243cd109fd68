// How digitlab words a network's layers: "conv2d 1 -> 32, kernel 3, stride 1, padding 1", output shapes as
// "(32, 28, 28)", parameter counts as "18,496". `digitlab info` (native/src/commands.cpp) and the network
// teaching panel (wasm/teaching/panel_network.cpp) both print these, so a lesson's terminal and page say
// the same words. Read next: shared/src/describe.cpp.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/model.hpp"

namespace digitlab {

// "conv2d 1 -> 32, kernel 3, stride 1, padding 1", "batch_norm 32 channels, eps 1e-05", "linear 784 -> 512",
// "dropout p 0.4 (identity at inference)", "relu".
std::string layer_words(const Layer& layer);

// (32, 28, 28) -> "(32, 28, 28)"; (512) -> "(512)".
std::string shape_text(const std::vector<std::int64_t>& dims);

struct LayerDescription {
  std::string words;         // layer_words()
  std::string output_shape;  // shape_text() of the layer's output; "?" when it is not known
  std::string parameters;    // trainable parameters with thousands separators; "-" for none
};

// One layer; output may be null (shapes not known, e.g. a model that infer_shapes() refuses).
LayerDescription describe_layer(const Layer& layer, const ActivationShape* output);
// Every layer of a model, with its output shape from infer_shapes() ("?" for all if that fails).
std::vector<LayerDescription> describe_layers(const Model& model);

// One row of `digitlab info`'s layer table, without the newline:
// "   0  conv2d 1 -> 32, kernel 3, stride 1, padding 1    (32, 28, 28)         320"
std::string layer_table_row(std::size_t index, const LayerDescription& layer);

}  // namespace digitlab
