// The network panel's short layer words and activation views (network_layers.hpp); the full words are the
// core's (describe.cpp), so the terminal and the page match. Read next: panel_network.cpp.
#include "teaching/network_layers.hpp"

namespace digitlab::app {

std::string layer_short_description(const Layer& layer) {
  const auto n = [](std::int64_t v) { return static_cast<long long>(v); };
  switch (layer.kind) {
    case LayerKind::conv2d:
      return format_text("conv2d %lld -> %lld, k%lld s%lld p%lld", n(layer.in_channels), n(layer.out_channels),
                         n(layer.kernel), n(layer.stride), n(layer.padding));
    case LayerKind::batch_norm: return format_text("batch_norm %lld", n(layer.channels));
    case LayerKind::leaky_relu: return format_text("leaky_relu %g", double(layer.alpha));
    case LayerKind::max_pool2d: return format_text("max_pool2d %lld, s%lld", n(layer.kernel), n(layer.stride));
    case LayerKind::dropout: return format_text("dropout %g", double(layer.dropout_p));
    default: return layer_words(layer);
  }
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
