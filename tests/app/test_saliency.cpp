// The "saliency" panel's maths (wasm/teaching/saliency.hpp) on the shipped models for a drawn 7: the saliency
// map against finite differences, occlusion over empty background, the nudge's change of mind and its size
// measured from the images, refused inputs. ImGui-free: it runs natively and as WebAssembly under node. The
// panel itself: test_panel_saliency.cpp. Read next: wasm/teaching/saliency.cpp.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "drawn_seven.hpp"
#include "digitlab/preprocess.hpp"
#include "digitlab/weights.hpp"
#include "teaching/saliency.hpp"

using namespace digitlab;
using namespace digitlab::app;

namespace {

Model shipped_model(const std::string& file) {
  const std::string path = std::string(DIGITLAB_SOURCE_DIR) + "/weights/" + file;
  auto loaded = load_weights_file(path);
  INFO(path << ": " << (loaded ? "" : loaded.error().to_string()));
  REQUIRE(loaded);
  return std::move(loaded).value().model;
}

// The drawn 7 (drawn_seven.hpp), which preprocessing must accept.
std::vector<float> drawn_seven(const ModelCard& card) {
  std::vector<float> image = testing::drawn_seven(card);
  REQUIRE_FALSE(image.empty());
  return image;
}

float logit_of(const Model& model, const std::vector<float>& image, int label) {
  const std::vector<float> input = normalise_image(model.card, image);
  auto prediction = forward(model, input.data(), input.size());
  REQUIRE(prediction);
  return prediction.value().logits[std::size_t(label)];
}

}  // namespace

TEST_CASE("saliency: the gradient matches finite differences where the network is smooth", "[saliency]") {
  // One-sided differences with h = 0.001 of ink: float32 logits (about 1e-6 relative) leave them about 0.005
  // of noise. ReLU networks are piecewise linear, and the CNNs' max-pools see exact ties over blank
  // background (every unit there holds the same value), so at blank pixels a CNN's gradient is backprop's
  // pick among tied units, often neither one-sided slope (docs/teaching.md). So the candidates are inked
  // pixels: the 30 with the largest |gradient| and every one above 0.5; a pixel counts as smooth when its
  // two one-sided slopes agree within 1 % of the map's largest value, and there the gradient must match
  // their mean within 2 % of the largest value plus 2 % of its own. The MLPs are checked at blank pixels too.
  const float h = 0.001f;
  for (const char* file : {"mnist-mlp.dlw", "mnist-cnn.dlw", "mnist-cnn-int8.dlw", "fashion-mlp.dlw", "fashion-cnn.dlw"}) {
    const Model model = shipped_model(file);
    const std::vector<float> image = drawn_seven(model.card);
    auto saliency = compute_saliency(model, image);
    INFO(file);
    REQUIRE(saliency);
    const Saliency& s = saliency.value();
    REQUIRE(s.gradient.size() == image.size());
    REQUIRE(s.largest > 0.f);
    std::vector<std::size_t> order(image.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    const bool is_mlp = model.card.architecture.rfind("mlp", 0) == 0;
    std::sort(order.begin(), order.end(),
              [&](std::size_t a, std::size_t b) { return std::fabs(s.gradient[a]) > std::fabs(s.gradient[b]); });
    std::vector<std::size_t> pixels;
    for (std::size_t i : order)
      if ((image[i] > 0.f || is_mlp) && pixels.size() < 30) pixels.push_back(i);
    for (std::size_t i = 0; i < image.size(); ++i)
      if (image[i] > 0.5f && std::find(pixels.begin(), pixels.end(), i) == pixels.end()) pixels.push_back(i);
    const float base = logit_of(model, image, s.label);
    int smooth = 0;
    float worst = 0.f, worst_allowed = 1.f, worst_estimate = 0.f;
    std::size_t worst_pixel = 0;
    for (std::size_t i : pixels) {
      std::vector<float> plus = image, minus = image;
      plus[i] += h, minus[i] -= h;  // may leave [0,1]: the model takes any float, the gradient is local
      const float up = (logit_of(model, plus, s.label) - base) / h, down = (base - logit_of(model, minus, s.label)) / h;
      if (std::fabs(up - down) > 0.01f * s.largest) continue;
      ++smooth;
      const float estimate = 0.5f * (up + down);
      const float difference = std::fabs(estimate - s.gradient[i]), allowed = 0.02f * s.largest + 0.02f * std::fabs(s.gradient[i]);
      if (difference / allowed > worst / worst_allowed)
        worst = difference, worst_allowed = allowed, worst_estimate = estimate, worst_pixel = i;
    }
    INFO("largest |gradient| " << s.largest << "; " << smooth << " of " << pixels.size() << " pixels smooth; worst ("
                               << worst_pixel % 28 << ", " << worst_pixel / 28 << "): gradient " << s.gradient[worst_pixel]
                               << ", differences " << worst_estimate << ", allowed " << worst_allowed);
    CHECK(worst <= worst_allowed);
    CHECK(smooth >= 20);
    if (is_mlp) CHECK(smooth == int(pixels.size()));  // no max-pool ties
  }
}

TEST_CASE("saliency: occlusion over empty background changes nothing; over the stroke it matters", "[saliency]") {
  for (const char* file : {"mnist-mlp.dlw", "mnist-cnn.dlw"}) {
    const Model model = shipped_model(file);
    const std::vector<float> image = drawn_seven(model.card);
    Occlusion occlusion;
    REQUIRE(occlusion.start(model, image, OcclusionOptions{}));
    CHECK(occlusion.positions() == 12 * 12);  // a 6x6 patch at stride 2 over 28x28
    int guard = 0;
    while (!occlusion.finished() && guard++ < 1000) REQUIRE(occlusion.advance(model, 0.002));
    REQUIRE(occlusion.finished());
    int background = 0;
    float largest = 0.f;
    for (int i = 0; i < occlusion.positions(); ++i) {
      if (occlusion.ink_under()[std::size_t(i)] == 0.f) {
        ++background;
        CHECK(occlusion.drops()[std::size_t(i)] == 0.f);
      }
      largest = std::max(largest, occlusion.drops()[std::size_t(i)]);
    }
    INFO(file << ": " << background << " background placements, largest drop " << largest);
    CHECK(background > 20);
    CHECK(largest > 0.01f);
    // The per-pixel map averages the placements covering each pixel: 0 in the corners (background only).
    CHECK(occlusion.pixel_map()[0] == 0.f);
  }
}

TEST_CASE("saliency: the nudge changes the prediction, and its size is what the images show", "[saliency]") {
  for (const char* file : {"mnist-mlp.dlw", "mnist-cnn.dlw", "mnist-cnn-f16.dlw"}) {
    const Model model = shipped_model(file);
    const std::vector<float> image = drawn_seven(model.card);
    Nudge nudge;
    REQUIRE(nudge.start(model, image, NudgeOptions{}));
    CHECK(nudge.original_label() == 7);
    int guard = 0;
    while (!nudge.finished() && guard++ < 1000) REQUIRE(nudge.advance(model, 0.005));
    INFO(file << ": " << nudge.steps() << " steps, now " << nudge.label() << " (" << nudge.probability() << "), L-inf "
              << nudge.linf_255() << ", L2 " << nudge.l2_255());
    REQUIRE(nudge.changed());
    CHECK(nudge.label() != 7);
    // The nudged image, classified afresh, is what the nudge reports.
    const std::vector<float> input = normalise_image(model.card, nudge.image());
    auto again = forward(model, input.data(), input.size());
    REQUIRE(again);
    CHECK(again.value().label == nudge.label());
    float linf = 0.f;
    double l2 = 0.0;
    for (std::size_t i = 0; i < image.size(); ++i) {
      REQUIRE((nudge.image()[i] >= 0.f && nudge.image()[i] <= 1.f));
      linf = std::max(linf, std::fabs(nudge.image()[i] - image[i]));
      l2 += double(nudge.image()[i] - image[i]) * double(nudge.image()[i] - image[i]);
    }
    CHECK(nudge.linf_255() == Approx(255.f * linf).margin(1e-3));
    CHECK(nudge.l2_255() == Approx(255.0 * std::sqrt(l2)).epsilon(1e-5));
    // Each step moves a pixel by at most the step.
    CHECK(nudge.linf_255() <= 255.f * nudge.options().step * float(nudge.steps()) + 1e-3f);
  }
  SECTION("towards a chosen class") {
    const Model model = shipped_model("mnist-mlp.dlw");
    NudgeOptions options;
    options.target = 1;
    Nudge nudge;
    REQUIRE(nudge.start(model, drawn_seven(model.card), options));
    int guard = 0;
    while (!nudge.finished() && guard++ < 1000) REQUIRE(nudge.advance(model, 0.005));
    INFO(nudge.steps() << " steps, now " << nudge.label());
    CHECK(nudge.changed());
    CHECK(nudge.label() == 1);
  }
}

TEST_CASE("saliency: wrong inputs are refused with a sentence", "[saliency]") {
  const Model model = shipped_model("mnist-mlp.dlw");
  auto wrong = compute_saliency(model, std::vector<float>(100, 0.f));
  REQUIRE_FALSE(wrong);
  CHECK(wrong.error().message.find("1x28x28") != std::string::npos);
  Occlusion occlusion;
  OcclusionOptions too_big;
  too_big.patch = 40;
  CHECK_FALSE(occlusion.start(model, std::vector<float>(784, 0.f), too_big));
  Nudge nudge;
  NudgeOptions no_step;
  no_step.step = 0.f;
  CHECK_FALSE(nudge.start(model, std::vector<float>(784, 0.f), no_step));
}

