// Each preprocessing step turned into a model input and classified (preprocess_steps.hpp). The steps reuse
// preprocess_canvas (with and without the centre-of-mass shift) so that the final step is exactly what the
// app feeds the model; only the two "what if we stopped here" inputs are made here. Read next:
// panel_preprocess.cpp.
#include "teaching/preprocess_steps.hpp"

#include <algorithm>
#include <cmath>

namespace digitlab::app {

namespace {

// For destination pixel d of dst over a source span of src pixels: the first source pixel and the share of
// each source pixel under it (as in shared/src/preprocess.cpp).
struct Footprint {
  std::int64_t first = 0;
  std::vector<double> weights;
};

std::vector<Footprint> footprints(std::int64_t src, std::int64_t dst) {
  std::vector<Footprint> result(static_cast<std::size_t>(dst));
  const double step = double(src) / double(dst);
  for (std::int64_t d = 0; d < dst; ++d) {
    const double begin = double(d) * step, end = double(d + 1) * step;
    Footprint& f = result[std::size_t(d)];
    f.first = std::int64_t(std::floor(begin));
    const std::int64_t last = std::min<std::int64_t>(src - 1, std::int64_t(std::ceil(end)) - 1);
    for (std::int64_t s = f.first; s <= last; ++s) {
      const double overlap = std::min(end, double(s + 1)) - std::max(begin, double(s));
      f.weights.push_back(overlap > 0 ? overlap / step : 0.0);
    }
  }
  return result;
}

Result<PreprocessStep> classify(std::string name, std::string title, std::vector<float> image28, const Model& model) {
  PreprocessStep step;
  step.name = std::move(name);
  step.title = std::move(title);
  step.image28 = std::move(image28);
  std::vector<float> input(step.image28.size());
  for (std::size_t i = 0; i < input.size(); ++i)
    input[i] = (step.image28[i] - model.card.normalize_mean) / model.card.normalize_std;
  Result<Prediction> prediction = forward(model, input.data(), input.size());
  if (!prediction) return prediction.error();
  step.label = prediction.value().label;
  if (step.label >= 0 && std::size_t(step.label) < prediction.value().probabilities.size())
    step.probability = prediction.value().probabilities[std::size_t(step.label)];
  return step;
}

}  // namespace

std::vector<float> area_resize(const Canvas& canvas, std::int64_t x, std::int64_t y, std::int64_t width,
                               std::int64_t height, int dst_w, int dst_h) {
  std::vector<float> out(std::size_t(std::max(dst_w, 0)) * std::size_t(std::max(dst_h, 0)), 0.f);
  x = std::clamp<std::int64_t>(x, 0, canvas.width), y = std::clamp<std::int64_t>(y, 0, canvas.height);
  width = std::min(width, canvas.width - x), height = std::min(height, canvas.height - y);
  if (width <= 0 || height <= 0 || dst_w <= 0 || dst_h <= 0 ||
      std::int64_t(canvas.ink.size()) != canvas.width * canvas.height)
    return out;
  const std::vector<Footprint> across = footprints(width, dst_w), down = footprints(height, dst_h);
  std::vector<double> rows(std::size_t(height) * std::size_t(dst_w), 0.0);  // (height, dst_w)
  for (std::int64_t row = 0; row < height; ++row) {
    const float* src = canvas.ink.data() + (y + row) * canvas.width + x;
    for (int dx = 0; dx < dst_w; ++dx) {
      const Footprint& f = across[std::size_t(dx)];
      double sum = 0;
      for (std::size_t i = 0; i < f.weights.size(); ++i)
        sum += f.weights[i] * std::clamp(src[f.first + std::int64_t(i)], 0.f, 1.f);
      rows[std::size_t(row) * std::size_t(dst_w) + std::size_t(dx)] = sum;
    }
  }
  for (int dy = 0; dy < dst_h; ++dy) {
    const Footprint& f = down[std::size_t(dy)];
    for (std::size_t i = 0; i < f.weights.size(); ++i) {
      const double* row = rows.data() + std::size_t(f.first + std::int64_t(i)) * std::size_t(dst_w);
      for (int dx = 0; dx < dst_w; ++dx) out[std::size_t(dy) * std::size_t(dst_w) + std::size_t(dx)] += float(f.weights[i] * row[dx]);
    }
  }
  for (float& v : out) v = std::clamp(v, 0.f, 1.f);
  return out;
}

Result<PreprocessSteps> preprocess_steps(const Canvas& canvas, const Model& model, bool skip_centring) {
  PreprocessOptions centring, no_centring;
  no_centring.center_of_mass = false;
  Result<Preprocessed> centred = preprocess_canvas(canvas, model.card, centring);
  if (!centred) return centred.error();
  Result<Preprocessed> uncentred = preprocess_canvas(canvas, model.card, no_centring);
  if (!uncentred) return uncentred.error();
  PreprocessSteps out;
  out.centred = std::move(centred).value();
  out.uncentred = std::move(uncentred).value();
  out.skip_centring = skip_centring;
  // The shift preprocess_canvas applied: the whole pixels that bring the centre of mass into [14, 15).
  if (out.centred.image28 != out.uncentred.image28) {
    out.shift_x = std::int64_t(std::ceil(14.0 - double(out.centred.center_x) - 1e-6));
    out.shift_y = std::int64_t(std::ceil(14.0 - double(out.centred.center_y) - 1e-6));
  }

  const Preprocessed& p = out.centred;
  struct Made {
    const char* name;
    const char* title;
    std::vector<float> image;
  };
  const Made made[] = {
      {"raw", "1. Raw drawing", area_resize(canvas, 0, 0, canvas.width, canvas.height, 28, 28)},
      {"box", "2. Bounding box", area_resize(canvas, p.box_x, p.box_y, p.box_w, p.box_h, 28, 28)},
      {"placed", "3. 20x20 placed by its box", out.uncentred.image28},
      {"centred", "4. Centred by mass", out.centred.image28},
  };
  for (const Made& m : made) {
    Result<PreprocessStep> step = classify(m.name, m.title, m.image, model);
    if (!step) return step.error();
    out.steps.push_back(std::move(step).value());
  }
  return out;
}

}  // namespace digitlab::app
