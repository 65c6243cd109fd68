// forward() against the core's double-precision reference (shared/src/reference.cpp), for every layer
// kind and the three architectures; plus infer_shapes() errors and determinism. Read next: shared/src/model.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/model.hpp"
#include "digitlab/reference.hpp"

using namespace digitlab;

namespace {

// Tolerance for every comparison below: |core - reference| <= kTolerance * max(1, |reference|).
constexpr double kTolerance = 1e-4;

// ---- Comparison with evidence. ----
struct Difference {
  double largest = 0;  // largest |core - reference| / max(1, |reference|)
  std::size_t where = 0;
  double core = 0, reference = 0;
  bool size_ok = true;
};

Difference compare(const std::vector<float>& core, const std::vector<double>& reference) {
  Difference diff;
  if (core.size() != reference.size()) {
    diff.size_ok = false;
    return diff;
  }
  for (std::size_t i = 0; i < core.size(); ++i) {
    const double d = std::fabs(double(core[i]) - reference[i]) / std::max(1.0, std::fabs(reference[i]));
    if (!(d <= diff.largest)) {  // also catches NaN
      diff.largest = std::isnan(d) ? std::numeric_limits<double>::infinity() : d;
      diff.where = i;
      diff.core = core[i];
      diff.reference = reference[i];
    }
  }
  return diff;
}

std::string evidence(const std::string& what, const Difference& d) {
  if (!d.size_ok) return what + ": sizes differ";
  char text[256];
  std::snprintf(text, sizeof text, "%s: largest scaled |diff| %.3g at index %zu (core %.9g, reference %.9g)",
                what.c_str(), d.largest, d.where, d.core, d.reference);
  return text;
}

// Runs the core (with activations, prepared and not) and the reference; checks every layer's output,
// the logits and the probabilities. Returns the largest logit difference.
double check_against_reference(const Model& model, const std::vector<float>& input, const std::string& name) {
  auto checked = reference::forward(model, input.data(), input.size());
  auto result = forward(model, input.data(), input.size(), true);
  INFO(name);
  if (!checked) FAIL(checked.error().to_string());
  if (!result) FAIL(result.error().to_string());
  const reference::Forward& expected = checked.value();
  const Prediction& p = result.value();
  REQUIRE(p.activations.size() == model.layers.size());
  REQUIRE(expected.activations.size() == model.layers.size());
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    const Difference d = compare(p.activations[i], expected.activations[i].values);
    const std::string text = evidence(name + " layer " + std::to_string(i) + " (" +
                                          layer_kind_name(model.layers[i].kind) + ")", d);
    INFO(text);
    CHECK(d.size_ok);
    CHECK(d.largest <= kTolerance);
  }
  // Logits: the last output that is not a trailing softmax; probabilities: their softmax.
  const Difference logit_diff = compare(p.logits, expected.logits);
  {
    INFO(evidence(name + " logits", logit_diff));
    CHECK(logit_diff.size_ok);
    CHECK(logit_diff.largest <= kTolerance);
  }
  const Difference prob_diff = compare(p.probabilities, expected.probabilities);
  {
    INFO(evidence(name + " probabilities", prob_diff));
    CHECK(prob_diff.largest <= kTolerance);
  }
  // Without activations, and with a prepared model: the same bits (one code path, no hidden fast path
  // with other numerics).
  auto plain = forward(model, input.data(), input.size(), false);
  REQUIRE(plain);
  CHECK(plain.value().logits == p.logits);
  CHECK(plain.value().activations.empty());
  Model prepared = model;
  REQUIRE(prepare(prepared));
  auto fast = forward(prepared, input.data(), input.size(), false);
  REQUIRE(fast);
  CHECK(fast.value().logits == p.logits);
  CHECK(fast.value().label == p.label);
  std::printf("%-40s largest scaled logit |diff| vs double reference: %.3g\n", name.c_str(), logit_diff.largest);
  return logit_diff.largest;
}

std::vector<float> random_input(std::int64_t size, std::uint64_t seed, float low = -1.f, float high = 1.f) {
  SeededRandom random(seed);
  std::vector<float> v(static_cast<std::size_t>(size));
  for (float& x : v) x = random.uniform(low, high);
  return v;
}

// An input shaped like a normalised MNIST digit: mostly the blank value -1 (ink 0), some strokes.
std::vector<float> digit_like_input(std::uint64_t seed) {
  SeededRandom random(seed);
  std::vector<float> v(784, -1.f);
  for (int y = 6; y < 22; ++y)
    for (int x = 9; x < 19; ++x)
      if (random.uniform(0.f, 1.f) < 0.45f) v[y * 28 + x] = random.uniform(-1.f, 1.f);
  return v;
}

Model single_layer_model(std::int64_t c, std::int64_t h, std::int64_t w, std::vector<Layer> layers, std::uint64_t seed) {
  Model model;
  model.card.architecture = "test";
  model.card.input_channels = c;
  model.card.input_height = h;
  model.card.input_width = w;
  model.layers = std::move(layers);
  if (model.layers.empty() || (model.layers.back().kind != LayerKind::linear &&
                               model.layers.back().kind != LayerKind::flatten &&
                               model.layers.back().kind != LayerKind::softmax)) {
    model.layers.push_back(make_simple_layer(LayerKind::flatten));
  }
  randomize_parameters(model, seed);
  return model;
}

}  // namespace

TEST_CASE("linear matches the double reference, dense and sparse inputs", "[model]") {
  for (std::int64_t n_in : {1, 3, 7, 64, 100}) {
    for (std::int64_t n_out : {1, 5, 16, 37, 130}) {
      Model model = single_layer_model(1, 1, n_in, {make_simple_layer(LayerKind::flatten), make_linear_layer(n_in, n_out)},
                                       static_cast<std::uint64_t>(n_in * 1000 + n_out));
      std::vector<float> input = random_input(n_in, 7);
      const std::string name = "linear " + std::to_string(n_in) + "->" + std::to_string(n_out);
      check_against_reference(model, input, name);
      for (std::size_t i = 0; i < input.size(); i += 2) input[i] = 0.f;  // half zeros (like after a ReLU)
      check_against_reference(model, input, name + " half zeros");
    }
  }
}

TEST_CASE("conv2d matches the double reference for several kernels, strides and paddings", "[model]") {
  struct Case { std::int64_t c_in, c_out, h, w, k, s, p; };
  const Case cases[] = {
      {1, 32, 28, 28, 3, 1, 1}, {3, 5, 9, 7, 3, 1, 1}, {2, 4, 8, 8, 1, 1, 0}, {4, 6, 11, 9, 5, 2, 2},
      {5, 3, 7, 7, 3, 2, 0},   {8, 12, 6, 5, 3, 1, 2}, {1, 1, 3, 3, 3, 1, 0}, {6, 7, 10, 10, 4, 3, 1},
      {32, 64, 14, 14, 3, 1, 1},
  };
  for (const Case& c : cases) {
    Layer conv = make_conv2d_layer(c.c_in, c.c_out, c.k, c.s, c.p);
    Model model = single_layer_model(c.c_in, c.h, c.w, {conv}, static_cast<std::uint64_t>(c.c_in * 31 + c.k));
    std::vector<float> input = random_input(c.c_in * c.h * c.w, 11);
    const std::string name = "conv2d " + std::to_string(c.c_in) + "->" + std::to_string(c.c_out) + " " +
                             std::to_string(c.h) + "x" + std::to_string(c.w) + " k" + std::to_string(c.k) + " s" +
                             std::to_string(c.s) + " p" + std::to_string(c.p);
    check_against_reference(model, input, name);
    for (std::size_t i = 0; i < input.size(); i += 3) input[i] = 0.f;
    check_against_reference(model, input, name + " some zeros");
  }
}

TEST_CASE("batch_norm 1d and 2d, activations, pooling, dropout and softmax match the reference", "[model]") {
  check_against_reference(single_layer_model(1, 1, 20, {make_simple_layer(LayerKind::flatten), make_batch_norm_layer(20)}, 3),
                          random_input(20, 1, -3.f, 3.f), "batch_norm 1d");
  check_against_reference(single_layer_model(6, 5, 4, {make_batch_norm_layer(6)}, 4), random_input(120, 2, -3.f, 3.f),
                          "batch_norm 2d");
  for (LayerKind kind : {LayerKind::relu, LayerKind::sigmoid, LayerKind::tanh, LayerKind::dropout}) {
    std::vector<float> input = random_input(60, 5, -12.f, 12.f);
    input[0] = 0.f;
    input[1] = 90.f;  // saturating sigmoid / tanh
    input[2] = -90.f;
    input[3] = 1e-7f;
    check_against_reference(single_layer_model(3, 4, 5, {make_simple_layer(kind)}, 5), input, layer_kind_name(kind));
  }
  check_against_reference(single_layer_model(3, 4, 5, {make_leaky_relu_layer(0.2f)}, 6), random_input(60, 6), "leaky_relu");
  check_against_reference(single_layer_model(3, 8, 8, {make_max_pool2d_layer(2, 2)}, 7), random_input(192, 7), "max_pool 2/2");
  check_against_reference(single_layer_model(5, 7, 9, {make_max_pool2d_layer(2, 2)}, 8), random_input(315, 8), "max_pool 2/2 odd");
  check_against_reference(single_layer_model(2, 9, 7, {make_max_pool2d_layer(3, 2)}, 9), random_input(126, 9), "max_pool 3/2");
  check_against_reference(single_layer_model(2, 6, 6, {make_max_pool2d_layer(2, 1)}, 9), random_input(72, 10), "max_pool 2/1");
  // A trailing softmax: logits are the layer before it, probabilities the softmax of those.
  check_against_reference(single_layer_model(1, 1, 30,
                                             {make_simple_layer(LayerKind::flatten), make_linear_layer(30, 10),
                                              make_simple_layer(LayerKind::softmax)},
                                             10),
                          random_input(30, 11, -5.f, 5.f), "linear + softmax");
  // Softmax in the middle over the last dimension of (C, H, W).
  check_against_reference(single_layer_model(2, 3, 4, {make_simple_layer(LayerKind::softmax), make_simple_layer(LayerKind::flatten)}, 12),
                          random_input(24, 12, -4.f, 4.f), "softmax over width");
}

TEST_CASE("mixed stacks: conv, batch_norm, activations and pooling in unusual orders", "[model]") {
  Model model = single_layer_model(
      3, 12, 10,
      {make_conv2d_layer(3, 6, 3, 1, 1), make_simple_layer(LayerKind::tanh), make_batch_norm_layer(6),
       make_max_pool2d_layer(2, 2), make_conv2d_layer(6, 5, 3, 2, 1), make_leaky_relu_layer(0.1f),
       make_simple_layer(LayerKind::sigmoid), make_simple_layer(LayerKind::flatten), make_batch_norm_layer(5 * 3 * 3),
       make_linear_layer(45, 7), make_simple_layer(LayerKind::relu), make_dropout_layer(0.5f), make_linear_layer(7, 4)},
      21);
  check_against_reference(model, random_input(360, 21, -2.f, 2.f), "mixed stack");
}

TEST_CASE("fused conv + batch_norm + activation + max-pool match the reference and the unfused layers", "[model]") {
  // Inputs with blank paper (-1 with the default card) exercise the skip vectors and the bias map.
  auto with_paper = [](std::vector<float> v) {
    for (std::size_t i = 0; i < v.size(); ++i)
      if (i % 5 != 0) v[i] = -1.f;
    return v;
  };
  // One input channel (the scatter form), stride 2, floor pooling 3/3 on an odd size.
  Model single = single_layer_model(1, 13, 11,
                                    {make_conv2d_layer(1, 5, 4, 2, 1), make_batch_norm_layer(5), make_leaky_relu_layer(0.2f),
                                     make_max_pool2d_layer(3, 3)},
                                    31);
  check_against_reference(single, random_input(143, 31), "1-channel conv s2 + bn + leaky + pool 3/3");
  check_against_reference(single, with_paper(random_input(143, 32)), "1-channel conv s2 + bn + leaky + pool 3/3, paper");
  // 40 outputs: a full panel of 32 plus a narrow one; 9x7 pools to 4x3.
  Model wide = single_layer_model(3, 9, 7, {make_conv2d_layer(3, 40, 3, 1, 1), make_simple_layer(LayerKind::relu), make_max_pool2d_layer(2, 2)}, 33);
  check_against_reference(wide, random_input(189, 33), "conv 3->40 + relu + pool 2/2");
  check_against_reference(wide, with_paper(random_input(189, 34)), "conv 3->40 + relu + pool 2/2, paper");
  // Overlapping pooling (stride < kernel) is not fused; sigmoid runs in the epilogue's scalar path.
  Model overlap = single_layer_model(4, 8, 8, {make_conv2d_layer(4, 6, 3, 1, 0), make_simple_layer(LayerKind::sigmoid), make_max_pool2d_layer(2, 1)}, 35);
  check_against_reference(overlap, random_input(256, 35), "conv + sigmoid + pool 2/1");
  // Two convolutions back to back, the second on the first's blank-paper response.
  Model two = single_layer_model(1, 12, 12,
                                 {make_conv2d_layer(1, 8, 3, 1, 1), make_batch_norm_layer(8), make_simple_layer(LayerKind::relu),
                                  make_conv2d_layer(8, 36, 3, 1, 1), make_batch_norm_layer(36), make_simple_layer(LayerKind::relu),
                                  make_max_pool2d_layer(2, 2), make_simple_layer(LayerKind::flatten), make_linear_layer(36 * 36, 10)},
                                 36);
  check_against_reference(two, with_paper(random_input(144, 36)), "two convs + linear, paper");
  std::vector<float> blank(144, -1.f);
  check_against_reference(two, blank, "two convs + linear, blank paper");
}

TEST_CASE("random layer stacks match the double reference", "[model][random]") {
  // Seeded random but valid stacks: convolutions (strides, paddings, 1..40 channels), batch_norm,
  // activations and dropout in any order, pools that fuse (kernel == stride) and pools that do not,
  // then flatten and linear layers. Inputs carry blank paper so the skip images matter.
  SeededRandom random(2024);
  auto pick = [&](int n) { return static_cast<int>(random.uniform(0.f, static_cast<float>(n) - 0.001f)); };
  for (int trial = 0; trial < 40; ++trial) {
    std::int64_t c = 1 + pick(3), h = 5 + pick(12), w = 5 + pick(12);
    const std::int64_t in_c = c, in_h = h, in_w = w;
    std::vector<Layer> layers;
    const int blocks = 1 + pick(3);
    for (int b = 0; b < blocks; ++b) {
      const std::int64_t k = 1 + pick(4), s = 1 + pick(2), p = pick(static_cast<int>(k));
      if (h + 2 * p < k || w + 2 * p < k) break;
      const std::int64_t out_c = 1 + pick(40);
      layers.push_back(make_conv2d_layer(c, out_c, k, s, p));
      c = out_c;
      h = (h + 2 * p - k) / s + 1;
      w = (w + 2 * p - k) / s + 1;
      const int extras = pick(4);
      for (int e = 0; e < extras; ++e) {
        switch (pick(6)) {
          case 0: layers.push_back(make_batch_norm_layer(c)); break;
          case 1: layers.push_back(make_simple_layer(LayerKind::relu)); break;
          case 2: layers.push_back(make_leaky_relu_layer(0.05f)); break;
          case 3: layers.push_back(make_simple_layer(LayerKind::sigmoid)); break;
          case 4: layers.push_back(make_simple_layer(LayerKind::tanh)); break;
          default: layers.push_back(make_dropout_layer(0.3f)); break;
        }
      }
      if (pick(2) == 0 && h >= 2 && w >= 2) {
        const std::int64_t pk = 2, ps = pick(2) == 0 ? 2 : 1;
        layers.push_back(make_max_pool2d_layer(pk, ps));
        h = (h - pk) / ps + 1;
        w = (w - pk) / ps + 1;
      }
    }
    layers.push_back(make_simple_layer(LayerKind::flatten));
    std::int64_t features = c * h * w;
    if (pick(2) == 0) {
      const std::int64_t hidden = 1 + pick(70);
      layers.push_back(make_linear_layer(features, hidden));
      layers.push_back(pick(2) == 0 ? make_batch_norm_layer(hidden) : make_simple_layer(LayerKind::relu));
      features = hidden;
    }
    layers.push_back(make_linear_layer(features, 1 + pick(12)));
    if (pick(3) == 0) layers.push_back(make_simple_layer(LayerKind::softmax));
    Model model = single_layer_model(in_c, in_h, in_w, layers, 500 + static_cast<std::uint64_t>(trial));
    REQUIRE(infer_shapes(model));
    std::vector<float> input = random_input(in_c * in_h * in_w, 900 + static_cast<std::uint64_t>(trial));
    for (std::size_t i = 0; i < input.size(); ++i)
      if (random.uniform(0.f, 1.f) < 0.6f) input[i] = -1.f;  // blank paper
    check_against_reference(model, input, "random stack " + std::to_string(trial));
  }
}

TEST_CASE("the three architectures match the double reference", "[model][architectures]") {
  for (const std::string& name : architecture_names()) {
    Model model = make_architecture(name, 42).value();
    for (std::uint64_t seed = 1; seed <= 3; ++seed) {
      check_against_reference(model, random_input(784, seed), name + " random input " + std::to_string(seed));
      check_against_reference(model, digit_like_input(seed), name + " digit-like input " + std::to_string(seed));
    }
  }
}

TEST_CASE("architectures have the tutorial's shapes and parameter counts", "[model][architectures]") {
  // Trainable parameters as PyTorch counts them (batch_norm: gamma and beta; running statistics are
  // buffers, not parameters).
  CHECK(parameter_count(make_mlp()) == 669706);
  CHECK(parameter_count(make_mlp_deep()) == 2646026);
  CHECK(parameter_count(make_cnn()) == 953290);  // 320 + 64 + 18496 + 128 + 73856 + 256 + 590336 + 1024 + 262656 + 1024 + 5130
  auto shapes = infer_shapes(make_cnn());
  REQUIRE(shapes);
  const std::vector<std::vector<std::int64_t>> expected = {
      {32, 28, 28}, {32, 28, 28}, {32, 28, 28}, {32, 14, 14}, {64, 14, 14}, {64, 14, 14}, {64, 14, 14}, {64, 7, 7},
      {128, 7, 7}, {128, 7, 7}, {128, 7, 7}, {128, 3, 3}, {1152}, {512}, {512}, {512}, {512}, {512}, {512},
      {512}, {512}, {10}};
  REQUIRE(shapes.value().size() == expected.size());
  for (std::size_t i = 0; i < expected.size(); ++i) CHECK(shapes.value()[i].dims == expected[i]);
  // Same seed, same bits; another seed, other weights.
  CHECK(make_cnn(5).layers[0].tensors[0].values == make_cnn(5).layers[0].tensors[0].values);
  CHECK(make_cnn(5).layers[0].tensors[0].values != make_cnn(6).layers[0].tensors[0].values);
  CHECK_FALSE(make_architecture("resnet"));
}

TEST_CASE("forward is deterministic and prepare() survives copies and edits", "[model]") {
  Model model = make_cnn(3);
  const std::vector<float> input = random_input(784, 9);
  auto first = forward(model, input.data(), input.size());
  REQUIRE(first);
  REQUIRE(prepare(model));
  for (int i = 0; i < 3; ++i) {
    auto again = forward(model, input.data(), input.size());
    REQUIRE(again);
    CHECK(again.value().logits == first.value().logits);
  }
  Model copy = model;  // shares the packed weights
  auto from_copy = forward(copy, input.data(), input.size());
  REQUIRE(from_copy);
  CHECK(from_copy.value().logits == first.value().logits);
  // Changing the structure or the weights after prepare(): forward notices and does not use stale packs.
  copy.layers.back().tensors[1].values[0] += 5.f;  // last bias: sampled by the fingerprint
  auto edited = forward(copy, input.data(), input.size());
  REQUIRE(edited);
  CHECK(edited.value().logits[0] == Approx(first.value().logits[0] + 5.f).margin(1e-4));
}

TEST_CASE("infer_shapes and forward reject bad models and inputs with clear errors", "[model][errors]") {
  const Model good = make_mlp(1);
  std::vector<float> input(784, 0.f);
  {
    auto r = forward(good, input.data(), 783);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::bad_argument);
    CHECK(r.error().message.find("784") != std::string::npos);
    CHECK_FALSE(forward(good, nullptr, 784));
  }
  {
    Model m = good;
    m.layers[1].tensors[0].shape = {784, 512};  // transposed weight
    auto r = infer_shapes(m);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::shape_mismatch);
    CHECK(r.error().field == "layer[1].tensors[0] (weight)");
    CHECK_FALSE(forward(m, input.data(), input.size()));
  }
  {
    Model m = good;
    m.layers[1].tensors[0].values.pop_back();  // shape says more than the values hold
    CHECK(infer_shapes(m).error().code == ErrorCode::shape_mismatch);
  }
  {
    Model m = good;
    m.layers.erase(m.layers.begin());  // no flatten before the first linear
    auto r = infer_shapes(m);
    REQUIRE_FALSE(r);
    CHECK(r.error().message.find("flatten") != std::string::npos);
  }
  {
    Model m = good;
    m.layers[0].kind = static_cast<LayerKind>(99);
    CHECK(infer_shapes(m).error().code == ErrorCode::bad_layer);
  }
  {
    Model m = good;
    m.card.class_names.pop_back();
    CHECK(infer_shapes(m).error().code == ErrorCode::shape_mismatch);
  }
  {
    Model m = make_cnn(1);
    m.layers[0].padding = std::int64_t{1} << 62;  // would overflow
    CHECK(infer_shapes(m).error().code == ErrorCode::bad_layer);
    m = make_cnn(1);
    m.layers[0].stride = 0;
    CHECK(infer_shapes(m).error().code == ErrorCode::bad_layer);
    m = make_cnn(1);
    m.layers[3].kernel = 100;  // pool larger than its input
    CHECK(infer_shapes(m).error().code == ErrorCode::shape_mismatch);
    m = make_cnn(1);
    m.layers[1].eps = -1.f;
    CHECK(infer_shapes(m).error().code == ErrorCode::bad_value);
    m = make_cnn(1);
    m.card.input_height = -28;
    CHECK(infer_shapes(m).error().code == ErrorCode::bad_dimensions);
    m = make_cnn(1);
    m.layers.clear();
    CHECK_FALSE(infer_shapes(m));
    m = make_cnn(1);
    CHECK_FALSE(prepare(m.layers.empty() ? m : (m.layers[5].channels = 3, m)));
  }
  {
    // Blank paper that overflows inside the network (absurd but finite weights) must not poison other
    // inputs through the skip images: a digit-like input still gets the reference's finite logits.
    Model m = single_layer_model(1, 8, 8,
                                 {make_conv2d_layer(1, 4, 3, 1, 1), make_simple_layer(LayerKind::flatten),
                                  make_linear_layer(256, 3)},
                                 41);
    for (float& w : m.layers[0].tensors[0].values) w = 1e38f;  // blank paper (-1): 9 taps -> -inf
    std::vector<float> input(64, 0.f);
    input[9] = 1e-30f;
    auto r = forward(m, input.data(), input.size());
    REQUIRE(r);
    for (float v : r.value().logits) CHECK(std::isfinite(v));
  }
  {
    // Non-finite values never crash: NaN input gives NaN logits, not an abort.
    std::vector<float> bad(784, std::numeric_limits<float>::quiet_NaN());
    auto r = forward(make_cnn(1), bad.data(), bad.size());
    REQUIRE(r);
    CHECK(r.value().logits.size() == 10);
  }
}

TEST_CASE("the reference refuses the models and inputs forward() refuses, with the same codes", "[model][errors]") {
  const Model good = make_mlp(1);
  std::vector<float> input(784, 0.f);
  REQUIRE(reference::forward(good, input.data(), input.size()));
  {
    auto r = reference::forward(good, input.data(), 783);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::bad_argument);
    CHECK(r.error().message.find("784") != std::string::npos);
    CHECK(reference::forward(good, nullptr, 784).error().code == ErrorCode::bad_argument);
  }
  {
    Model m = good;
    m.layers[1].tensors[0].shape = {784, 512};  // transposed weight: the loops would read past the values
    auto r = reference::forward(m, input.data(), input.size());
    REQUIRE_FALSE(r);
    CHECK(r.error().code == forward(m, input.data(), input.size()).error().code);
    CHECK(r.error().field == "layer[1].tensors[0] (weight)");
  }
  {
    Model m = good;
    m.layers.clear();
    CHECK_FALSE(reference::forward(m, input.data(), input.size()));
  }
}

TEST_CASE("the reference's label and probabilities follow its logits", "[model]") {
  Model model = single_layer_model(1, 1, 30, {make_simple_layer(LayerKind::flatten), make_linear_layer(30, 10),
                                              make_simple_layer(LayerKind::softmax)}, 13);
  const std::vector<float> input = random_input(30, 13, -5.f, 5.f);
  auto r = reference::forward(model, input.data(), input.size());
  REQUIRE(r);
  const reference::Forward& f = r.value();
  REQUIRE(f.logits.size() == 10);
  CHECK(f.logits == f.activations[1].values);  // the trailing softmax is not the logits
  double total = 0;
  for (double p : f.probabilities) total += p;
  CHECK(total == Approx(1.0).margin(1e-12));
  CHECK(f.probabilities == f.activations[2].values);
  CHECK(f.label == int(std::max_element(f.logits.begin(), f.logits.end()) - f.logits.begin()));
}
