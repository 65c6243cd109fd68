// The saliency panel's figures (docs/teaching.md, "Where the model looks"): for a drawn 7 (made with the
// Drawing API: tests/app/drawn_seven.hpp, the one test_saliency.cpp checks) and each shipped model, the time
// of the saliency map, of occlusion (6x6 and 4x4 patches), and the nudge at steps of 1, 2 and 4 levels:
// steps, new answer, L-inf, L2, pixels changed, time; and how well finite differences agree with the gradient at smooth inked pixels.
// Prints; asserts nothing. Usage: saliency_figures [--weights DIR] [file.dlw ...]. Read next: wasm/teaching/saliency.hpp.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../app/drawn_seven.hpp"
#include "digitlab/preprocess.hpp"
#include "digitlab/weights.hpp"
#include "teaching/saliency.hpp"

using namespace digitlab;
using namespace digitlab::app;
using digitlab::app::testing::drawn_seven;

namespace {

using Clock = std::chrono::steady_clock;
double ms_since(Clock::time_point start) { return std::chrono::duration<double, std::milli>(Clock::now() - start).count(); }

float logit_of(const Model& model, const std::vector<float>& image, int label) {
  const std::vector<float> input = normalise_image(model.card, image);
  auto prediction = forward(model, input.data(), input.size());
  return prediction ? prediction.value().logits[std::size_t(label)] : NAN;
}

}  // namespace

int main(int argc, char** argv) {
  std::string folder = std::string(DIGITLAB_SOURCE_DIR) + "/weights";
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--weights" && i + 1 < argc) folder = argv[++i];
    else files.push_back(arg);
  }
  if (files.empty())
    files = {"mnist-mlp.dlw", "mnist-cnn.dlw", "mnist-cnn-f16.dlw", "mnist-cnn-int8.dlw", "fashion-mlp.dlw", "fashion-cnn.dlw"};
  for (const std::string& file : files) {
    auto loaded = load_weights_file(folder + "/" + file);
    if (!loaded) {
      std::printf("%s: %s\n", file.c_str(), loaded.error().to_string().c_str());
      return 1;
    }
    const Model& model = loaded.value().model;
    const std::vector<float> image = drawn_seven(model.card);
    Clock::time_point t0 = Clock::now();
    auto saliency = compute_saliency(model, image);
    const double saliency_ms = ms_since(t0);
    if (!saliency) {
      std::printf("%s: %s\n", file.c_str(), saliency.error().to_string().c_str());
      return 1;
    }
    const Saliency& s = saliency.value();
    std::printf("%s: %s (%.1f %%), saliency %.1f ms, largest |d logit / d ink| %.3f\n", file.c_str(),
                model.card.class_names[std::size_t(s.label)].c_str(), 100.0 * s.probability, saliency_ms, s.largest);
    // Finite differences (h = 0.001) at inked pixels where the two one-sided slopes agree (test_saliency.cpp).
    const float h = 0.001f, base = logit_of(model, image, s.label);
    int smooth = 0, inked = 0;
    float worst = 0.f;
    for (std::size_t i = 0; i < image.size(); ++i) {
      if (!(image[i] > 0.f)) continue;
      ++inked;
      std::vector<float> plus = image, minus = image;
      plus[i] += h, minus[i] -= h;
      const float up = (logit_of(model, plus, s.label) - base) / h, down = (base - logit_of(model, minus, s.label)) / h;
      if (std::fabs(up - down) > 0.01f * s.largest) continue;
      ++smooth;
      worst = std::max(worst, std::fabs(0.5f * (up + down) - s.gradient[i]));
    }
    std::printf("  finite differences: %d of %d inked pixels smooth, largest |fd - gradient| %.4f (%.2f %% of the largest)\n",
                smooth, inked, worst, 100.0 * worst / s.largest);
    for (int patch : {6, 4}) {
      Occlusion occlusion;
      OcclusionOptions options;
      options.patch = patch;
      if (!occlusion.start(model, image, options)) return 1;
      while (!occlusion.finished())
        if (!occlusion.advance(model, 1.0)) return 1;
      float largest = 0.f;
      for (float d : occlusion.drops()) largest = std::max(largest, d);
      std::printf("  occlusion %dx%d: %d passes in %.1f ms (%.2f ms each), largest drop %.3f\n", patch, patch,
                  occlusion.positions(), 1000.0 * occlusion.seconds(), 1000.0 * occlusion.seconds() / occlusion.positions(),
                  largest);
    }
    for (int step : {1, 2, 4}) {
      Nudge nudge;
      NudgeOptions options;
      options.step = float(step) / 255.f;
      if (!nudge.start(model, image, options)) return 1;
      while (!nudge.finished())
        if (!nudge.advance(model, 1.0)) return 1;
      std::printf("  nudge %d/255: %s after %d steps: %s (%.1f %%), L-inf %.0f, L2 %.0f, %d pixels, %.1f ms\n", step,
                  nudge.changed() ? "changed" : "unchanged", nudge.steps(),
                  model.card.class_names[std::size_t(nudge.label())].c_str(), 100.0 * nudge.probability(), nudge.linf_255(),
                  nudge.l2_255(), nudge.pixels_changed(), 1000.0 * nudge.seconds());
    }
  }
  return 0;
}
