// Layer descriptions and shapes for the network panel (network_layers.hpp), worded like `digitlab info` so
// that what a lesson shows in the terminal and in the page match. Read next: panel_network.cpp.
#include "teaching/network_layers.hpp"

#include <cstdio>

namespace digitlab::app {

namespace {

std::string number(double value) {  // like fmt's {:g}
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

}  // namespace

std::string layer_description(const Layer& layer) {
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  switch (layer.kind) {
    case LayerKind::linear: return "linear " + n(layer.in_features) + " -> " + n(layer.out_features);
    case LayerKind::conv2d:
      return "conv2d " + n(layer.in_channels) + " -> " + n(layer.out_channels) + ", kernel " + n(layer.kernel) +
             ", stride " + n(layer.stride) + ", padding " + n(layer.padding);
    case LayerKind::batch_norm: return "batch_norm " + n(layer.channels) + " channels, eps " + number(layer.eps);
    case LayerKind::leaky_relu: return "leaky_relu alpha " + number(layer.alpha);
    case LayerKind::max_pool2d: return "max_pool2d kernel " + n(layer.kernel) + ", stride " + n(layer.stride);
    case LayerKind::dropout: return "dropout p " + number(layer.dropout_p) + " (identity at inference)";
    default: return layer_kind_name(layer.kind);
  }
}

std::string layer_short_description(const Layer& layer) {
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  switch (layer.kind) {
    case LayerKind::conv2d:
      return "conv2d " + n(layer.in_channels) + " -> " + n(layer.out_channels) + ", k" + n(layer.kernel) + " s" +
             n(layer.stride) + " p" + n(layer.padding);
    case LayerKind::batch_norm: return "batch_norm " + n(layer.channels);
    case LayerKind::leaky_relu: return "leaky_relu " + number(layer.alpha);
    case LayerKind::max_pool2d: return "max_pool2d " + n(layer.kernel) + ", s" + n(layer.stride);
    case LayerKind::dropout: return "dropout " + number(layer.dropout_p);
    default: return layer_description(layer);
  }
}

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string text = "(";
  for (std::size_t d = 0; d < dims.size(); ++d) text += (d ? ", " : "") + std::to_string(dims[d]);
  return text + ")";
}

std::string with_thousands(std::int64_t value) {
  std::string digits = std::to_string(value < 0 ? -value : value), text;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return value < 0 ? "-" + text : text;
}

ActivationView activation_view(const ActivationShape& shape) {
  ActivationView view;
  view.size = shape.size();
  if (shape.dims.size() == 3) {
    view.maps = true;
    view.channels = shape.dims[0], view.height = shape.dims[1], view.width = shape.dims[2];
  } else {
    view.channels = 1, view.height = 1, view.width = view.size;
  }
  return view;
}

}  // namespace digitlab::app
