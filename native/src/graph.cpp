// `digitlab graph`: the network as Graphviz DOT, one node per layer with its output shape and parameter
// count, from an architecture name or a weights file. Read next: bench.cpp.
#include <iostream>

#include <fmt/format.h>

#include "atomic_file.hpp"
#include "commands.hpp"
#include "console.hpp"
#include "digitlab/architectures.hpp"
#include "digitlab/bytes.hpp"
#include "digitlab/weights.hpp"

namespace digitlab::trainer {

namespace {

int graph_error(const Error& error) {
  std::fprintf(stderr, "digitlab graph: error: %s\n", describe(error).c_str());
  return kExitError;
}

std::string shape_text(const std::vector<std::int64_t>& dims) {
  std::string text;
  for (std::size_t i = 0; i < dims.size(); ++i) text += (i ? "x" : "") + std::to_string(dims[i]);
  return text;
}

// A colour per family, so the eye finds the learned layers.
const char* fill_colour(LayerKind kind) {
  switch (kind) {
    case LayerKind::linear: return "#cfe2ff";
    case LayerKind::conv2d: return "#d1e7dd";
    case LayerKind::batch_norm: return "#fff3cd";
    case LayerKind::max_pool2d: return "#e2d9f3";
    case LayerKind::dropout: return "#f8f9fa";
    default: return "#f1f3f5";
  }
}

std::string title(const Layer& layer) {
  switch (layer.kind) {
    case LayerKind::linear: return fmt::format("Linear {} → {}", layer.in_features, layer.out_features);
    case LayerKind::conv2d:
      return fmt::format("Conv2d {} → {}, {}x{}, pad {}", layer.in_channels, layer.out_channels, layer.kernel,
                         layer.kernel, layer.padding);
    case LayerKind::batch_norm: return fmt::format("BatchNorm ({})", layer.channels);
    case LayerKind::relu: return "ReLU";
    case LayerKind::leaky_relu: return fmt::format("LeakyReLU {:g}", layer.alpha);
    case LayerKind::sigmoid: return "Sigmoid";
    case LayerKind::tanh: return "Tanh";
    case LayerKind::max_pool2d: return fmt::format("MaxPool {}x{}", layer.kernel, layer.kernel);
    case LayerKind::flatten: return "Flatten";
    case LayerKind::dropout: return fmt::format("Dropout {:g}", layer.dropout_p);
    case LayerKind::softmax: return "Softmax";
  }
  return "?";
}

std::string dot_escape(const std::string& text) {
  std::string out;
  for (char c : text) out += (c == '"' || c == '\\') ? std::string("\\") + c : std::string(1, c);
  return out;
}

}  // namespace

std::string graph_dot(const Model& model, const std::vector<ActivationShape>& shapes) {
  const ModelCard& card = model.card;
  std::string dot = fmt::format(
      "digraph \"{}\" {{\n"
      "  graph [rankdir=TB, label=\"{} ({}): {} parameters\", labelloc=t, fontname=\"Helvetica\"];\n"
      "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=11];\n"
      "  edge [fontname=\"Helvetica\", fontsize=9, color=\"#6c757d\"];\n"
      "  input [label=\"input\\n{}x{}x{}\", fillcolor=\"#ffffff\"];\n",
      dot_escape(card.architecture), dot_escape(card.architecture), dot_escape(card.dataset),
      with_thousands(parameter_count(model)), card.input_channels, card.input_height, card.input_width);
  std::string previous = "input";
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const Layer& layer = model.layers[i];
    const std::int64_t count = parameter_count(layer);
    const std::string node = "layer" + std::to_string(i);
    dot += fmt::format("  {} [label=\"{}: {}{}\", fillcolor=\"{}\"];\n", node, i, dot_escape(title(layer)),
                       count ? "\\n" + with_thousands(count) + " parameters" : "", fill_colour(layer.kind));
    // Edges carry the tensor shape flowing between the layers.
    const std::vector<std::int64_t> dims =
        i == 0 ? std::vector<std::int64_t>{card.input_channels, card.input_height, card.input_width} : shapes[i - 1].dims;
    dot += fmt::format("  {} -> {} [label=\" {}\"];\n", previous, node, shape_text(dims));
    previous = node;
  }
  const std::string classes = std::to_string(shapes.empty() ? 0 : shapes.back().size());
  dot += fmt::format("  output [label=\"logits\\n{} classes\", fillcolor=\"#ffffff\"];\n", classes);
  dot += fmt::format("  {} -> output [label=\" {}\"];\n}}\n", previous, classes);
  return dot;
}

int run_graph(const GraphOptions& options) {
  Model model;
  if (!options.weights.empty()) {
    auto bytes = read_file(options.weights, 1ull << 30);
    if (!bytes) return graph_error(bytes.error());
    auto loaded = load_weights(bytes.value());
    if (!loaded) {
      Error error = loaded.error();
      error.message = options.weights + ": " + error.message;
      return graph_error(error);
    }
    model = std::move(loaded.value().model);
  } else {
    auto built = make_architecture(options.model);
    if (!built) return graph_error(built.error());
    model = std::move(built.value());
    model.card.dataset = "untrained";
  }
  auto shapes = infer_shapes(model);
  if (!shapes) return graph_error(shapes.error());
  const std::string dot = graph_dot(model, shapes.value());
  if (options.output.empty()) {
    std::cout << dot;
    return kExitOk;
  }
  if (auto written = write_file_atomically(options.output, dot); !written) return graph_error(written.error());
  std::fprintf(stderr, "Wrote %s (render: dot -Tsvg %s -o graph.svg)\n", options.output.c_str(), options.output.c_str());
  return kExitOk;
}

}  // namespace digitlab::trainer
