// What the network teaching panel shows besides the core's layer words: the table's shorter form and how a
// layer's output is drawn. The full words, shapes and counts are the core's (digitlab/describe.hpp), the
// ones `digitlab info` prints. No ImGui here. Read next: panel_network.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/describe.hpp"  // layer_words, shape_text, describe_layer: the words `digitlab info` prints
#include "digitlab/model.hpp"
#include "digitlab/text.hpp"      // with_thousands

namespace digitlab::app {

// A shorter form of layer_words() for the panel's table: "conv2d 1 -> 32, k3 s1 p1", "batch_norm 32",
// "max_pool2d 2, s2"; layer_words() itself for the kinds it already words briefly ("linear 784 -> 512").
std::string layer_short_description(const Layer& layer);

// How a layer's output is best shown: feature maps (channels, height, width) or a strip of values.
struct ActivationView {
  bool maps = false;           // true: `channels` images of height x width
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t size = 0;       // number of values
};
ActivationView activation_view(const ActivationShape& shape);

}  // namespace digitlab::app
