// The words for layers that `digitlab info` and the network panel share (describe.hpp). printf-style
// numbers (format_text), not fmt or iostreams: this is compiled into the web app too.
// Read next: digitlab/text.hpp (with_thousands, format_text).
#include "digitlab/describe.hpp"

#include "digitlab/text.hpp"

namespace digitlab {

std::string layer_words(const Layer& layer) {
  const auto n = [](std::int64_t v) { return static_cast<long long>(v); };
  switch (layer.kind) {
    case LayerKind::linear: return format_text("linear %lld -> %lld", n(layer.in_features), n(layer.out_features));
    case LayerKind::conv2d:
      return format_text("conv2d %lld -> %lld, kernel %lld, stride %lld, padding %lld", n(layer.in_channels),
                         n(layer.out_channels), n(layer.kernel), n(layer.stride), n(layer.padding));
    case LayerKind::batch_norm: return format_text("batch_norm %lld channels, eps %g", n(layer.channels), double(layer.eps));
    case LayerKind::leaky_relu: return format_text("leaky_relu alpha %g", double(layer.alpha));
    case LayerKind::max_pool2d: return format_text("max_pool2d kernel %lld, stride %lld", n(layer.kernel), n(layer.stride));
    case LayerKind::dropout: return format_text("dropout p %g (identity at inference)", double(layer.dropout_p));
    default: return layer_kind_name(layer.kind);
  }
}

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string text = "(";
  for (std::size_t d = 0; d < dims.size(); ++d) text += (d ? ", " : "") + std::to_string(dims[d]);
  return text + ")";
}

LayerDescription describe_layer(const Layer& layer, const ActivationShape* output) {
  const std::int64_t count = parameter_count(layer);
  return {layer_words(layer), output ? shape_text(output->dims) : "?", count ? with_thousands(count) : "-"};
}

std::vector<LayerDescription> describe_layers(const Model& model) {
  const Result<std::vector<ActivationShape>> shapes = infer_shapes(model);
  std::vector<LayerDescription> described;
  for (std::size_t i = 0; i < model.layers.size(); ++i)
    described.push_back(describe_layer(model.layers[i], shapes ? &shapes.value()[i] : nullptr));
  return described;
}

std::string layer_table_row(std::size_t index, const LayerDescription& layer) {
  return format_text("  %2zu  %-46s %14s  %10s", index, layer.words.c_str(), layer.output_shape.c_str(),
                     layer.parameters.c_str());
}

}  // namespace digitlab
