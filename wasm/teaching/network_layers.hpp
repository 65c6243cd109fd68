// Text for the network teaching panel: each layer described as `digitlab info` prints it (native/src/
// commands.cpp), shapes as "(32, 28, 28)", counts with thousands separators. No ImGui here.
// Read next: panel_network.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/model.hpp"

namespace digitlab::app {

// "conv2d 1 -> 32, kernel 3, stride 1, padding 1", "linear 784 -> 512", "relu"
std::string layer_description(const Layer& layer);
// A shorter form for the panel's table: "conv2d 1 -> 32, k3 s1 p1", "batch_norm 32", "max_pool2d 2, s2"
std::string layer_short_description(const Layer& layer);
// "(32, 28, 28)"
std::string shape_text(const std::vector<std::int64_t>& dims);
// 953290 -> "953,290"
std::string with_thousands(std::int64_t value);

// How a layer's output is best shown: feature maps (channels, height, width) or a strip of values.
struct ActivationView {
  bool maps = false;           // true: `channels` images of height x width
  std::int64_t channels = 0, height = 0, width = 0;
  std::int64_t size = 0;       // number of values
};
ActivationView activation_view(const ActivationShape& shape);

}  // namespace digitlab::app
