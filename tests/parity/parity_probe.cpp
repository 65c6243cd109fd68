// Prints, bit for bit, what the core computes for a fixed set of cases: the three architectures with
// seeded weights, the shipped trained models (their sparsity takes other kernel paths than seeded
// weights), a stack with every layer kind, and synthetic drawings through preprocess_canvas. The
// same source runs natively and as WebAssembly; parity_compare.cpp diffs the two outputs.
// Read next: parity_compare.cpp, tests/parity.cmake.
//
//   parity_probe [--out FILE]        (stdout without --out)
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/model.hpp"
#include "digitlab/preprocess.hpp"
#include "digitlab/weights.hpp"

using namespace digitlab;

namespace {

std::FILE* out = stdout;

void print_values(const char* what, const std::string& name, const std::vector<float>& values) {
  std::fprintf(out, "%s %s %zu", what, name.c_str(), values.size());
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    std::fprintf(out, " %08x", bits);
  }
  std::fprintf(out, "\n");
}

bool run_case(const Model& model, const std::string& name, const std::vector<float>& input) {
  auto result = forward(model, input.data(), input.size());
  if (!result) {
    std::fprintf(stderr, "%s: %s\n", name.c_str(), result.error().to_string().c_str());
    return false;
  }
  std::fprintf(out, "label %s %d\n", name.c_str(), result.value().label);
  print_values("logits", name, result.value().logits);
  print_values("probabilities", name, result.value().probabilities);
  return true;
}

// A soft round brush stamped along a polyline: anti-aliased ink like the web app's drawing.
void stroke(Canvas& c, const std::vector<std::pair<double, double>>& points, double radius) {
  for (std::size_t i = 0; i + 1 < points.size(); ++i) {
    const double steps = 1 + std::ceil(std::hypot(points[i + 1].first - points[i].first,
                                                  points[i + 1].second - points[i].second));
    for (double s = 0; s <= steps; ++s) {
      const double cx = points[i].first + (points[i + 1].first - points[i].first) * s / steps;
      const double cy = points[i].second + (points[i + 1].second - points[i].second) * s / steps;
      for (std::int64_t y = std::max<std::int64_t>(0, std::int64_t(cy - radius - 2));
           y < std::min<std::int64_t>(c.height, std::int64_t(cy + radius + 2)); ++y)
        for (std::int64_t x = std::max<std::int64_t>(0, std::int64_t(cx - radius - 2));
             x < std::min<std::int64_t>(c.width, std::int64_t(cx + radius + 2)); ++x) {
          const double d = std::hypot(x + 0.5 - cx, y + 0.5 - cy);
          const float ink = static_cast<float>(std::min(1.0, std::max(0.0, radius + 0.5 - d)));
          float& v = c.ink[static_cast<std::size_t>(y * c.width + x)];
          v = std::max(v, ink);
        }
    }
  }
}

Canvas canvas(std::int64_t w, std::int64_t h) {
  Canvas c;
  c.width = w;
  c.height = h;
  c.ink.assign(static_cast<std::size_t>(w * h), 0.f);
  return c;
}

std::vector<std::pair<std::string, Canvas>> drawings() {
  std::vector<std::pair<std::string, Canvas>> d;
  Canvas zero = canvas(280, 280);
  std::vector<std::pair<double, double>> ring;
  for (int i = 0; i <= 40; ++i)
    ring.push_back({140 + 60 * std::sin(i * 0.157079632679), 140 + 90 * std::cos(i * 0.157079632679)});
  stroke(zero, ring, 12);
  d.push_back({"drawn-0", zero});
  Canvas one = canvas(280, 280);
  stroke(one, {{120, 40}, {150, 30}, {148, 250}}, 10);
  d.push_back({"drawn-1", one});
  Canvas seven = canvas(400, 300);
  stroke(seven, {{100, 50}, {260, 50}, {160, 270}}, 14);
  d.push_back({"drawn-7", seven});
  Canvas two = canvas(640, 200);
  stroke(two, {{270, 60}, {300, 30}, {350, 35}, {360, 80}, {280, 170}, {370, 170}}, 9);
  d.push_back({"drawn-2-wide", two});
  Canvas dot = canvas(500, 500);
  stroke(dot, {{20, 20}, {24, 22}}, 3);
  d.push_back({"drawn-dot-corner", dot});
  return d;
}

// Every layer kind in one stack (the sigmoid / tanh / softmax paths use the core's own exp).
Model every_layer_model() {
  Model model;
  model.card = make_mnist_card("every-layer");
  model.layers = {make_conv2d_layer(1, 6, 5, 2, 2), make_batch_norm_layer(6), make_leaky_relu_layer(0.1f),
                  make_max_pool2d_layer(2, 2), make_conv2d_layer(6, 8, 3, 1, 0), make_simple_layer(LayerKind::tanh),
                  make_simple_layer(LayerKind::flatten), make_dropout_layer(0.2f), make_linear_layer(8 * 5 * 5, 40),
                  make_batch_norm_layer(40), make_simple_layer(LayerKind::sigmoid), make_linear_layer(40, 10),
                  make_simple_layer(LayerKind::softmax)};
  randomize_parameters(model, 77);
  return model;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--out") {
    out = std::fopen(argv[2], "w");
    if (out == nullptr) {
      std::fprintf(stderr, "cannot write %s\n", argv[2]);
      return 1;
    }
  } else if (argc != 1) {
    std::fprintf(stderr, "usage: parity_probe [--out FILE]\n");
    return 2;
  }
  bool ok = true;
  std::vector<std::pair<std::string, std::vector<float>>> inputs;
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    SeededRandom random(seed);
    std::vector<float> dense(784), sparse(784, -1.f);
    for (float& v : dense) v = random.uniform(-1.f, 1.f);
    for (int i = 0; i < 784; ++i)
      if (random.uniform(0.f, 1.f) < 0.2f) sparse[i] = random.uniform(-1.f, 1.f);
    inputs.push_back({"random-" + std::to_string(seed), dense});
    inputs.push_back({"sparse-" + std::to_string(seed), sparse});
  }
  const ModelCard card = make_mnist_card("mlp");
  for (const auto& drawing : drawings()) {
    auto p = preprocess_canvas(drawing.second, card);
    if (!p) {
      std::fprintf(stderr, "%s: %s\n", drawing.first.c_str(), p.error().to_string().c_str());
      return 1;
    }
    print_values("image28", drawing.first, p.value().image28);
    inputs.push_back({drawing.first, p.value().input});
  }
  std::vector<std::pair<std::string, Model>> models;
  for (const std::string& name : architecture_names()) {
    for (std::uint64_t seed : {1, 2}) models.push_back({name + "/seed" + std::to_string(seed), make_architecture(name, seed).value()});
  }
  models.push_back({"every-layer", every_layer_model()});
  for (const char* name : {"mnist-cnn", "fashion-cnn", "mnist-mlp"}) {
    const std::string path = std::string(DIGITLAB_WEIGHTS_DIR) + "/" + name + ".dlw";
    auto loaded = load_weights_file(path);
    if (!loaded) {
      std::fprintf(stderr, "%s\n", loaded.error().to_string().c_str());
      return 1;
    }
    models.push_back({name, std::move(loaded.value().model)});
  }
  for (auto& model : models) {
    if (!prepare(model.second)) return 1;
    for (const auto& input : inputs) ok = run_case(model.second, model.first + "/" + input.first, input.second) && ok;
  }
  if (out != stdout) std::fclose(out);
  return ok ? 0 : 1;
}
