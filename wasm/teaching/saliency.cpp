// Saliency, occlusion and the nudge for the "saliency" teaching panel (saliency.hpp says what each is).
// Everything works on ink images in [0,1] and normalises them the way preprocess_canvas does, so that an
// unchanged image gives the app's very prediction, bit for bit. Read next: panel_saliency.cpp.
#include "teaching/saliency.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "digitlab/train.hpp"

namespace digitlab::app {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

int strongest_other(const std::vector<float>& logits, int excluded) {
  int best = -1;
  for (std::size_t i = 0; i < logits.size(); ++i)
    if (int(i) != excluded && (best < 0 || logits[i] > logits[std::size_t(best)])) best = int(i);
  return best;
}

}  // namespace

std::vector<float> normalise_image(const ModelCard& card, const std::vector<float>& image) {
  std::vector<float> input(image.size());
  for (std::size_t i = 0; i < image.size(); ++i) input[i] = (image[i] - card.normalize_mean) / card.normalize_std;
  return input;
}

Status check_image_model(const Model& model, const std::vector<float>& image) {
  const ModelCard& card = model.card;
  if (card.input_channels != 1 || card.input_height <= 0 || card.input_width <= 0 ||
      std::size_t(card.input_height * card.input_width) != image.size())
    return make_error(ErrorCode::bad_argument, "card.input_height", 0,
                      "this panel needs a model that reads one " + std::to_string(image.size()) +
                          "-pixel grey image; this one reads " + std::to_string(card.input_channels) + "x" +
                          std::to_string(card.input_height) + "x" + std::to_string(card.input_width) + ".");
  if (!(card.normalize_std > 0.f))
    return make_error(ErrorCode::bad_value, "card.normalize_std", 0, "the model card's std must be above 0.");
  return Ok{};
}

// ---- saliency --------------------------------------------------------------------------------------------

Result<Saliency> compute_saliency(const Model& model, const std::vector<float>& image) {
  if (Status fits = check_image_model(model, image); !fits) return fits.error();
  const std::vector<float> input = normalise_image(model.card, image);
  Result<Prediction> prediction = forward(model, input.data(), input.size());
  if (!prediction) return prediction.error();
  Saliency saliency;
  saliency.label = prediction.value().label;
  saliency.probability = prediction.value().probabilities[std::size_t(saliency.label)];
  saliency.logit = prediction.value().logits[std::size_t(saliency.label)];
  Result<std::vector<float>> gradient = input_gradient(model, input.data(), input.size(), saliency.label);
  if (!gradient) return gradient.error();
  saliency.gradient = std::move(gradient).value();
  // d input / d ink = 1 / std.
  for (float& g : saliency.gradient) {
    g /= model.card.normalize_std;
    saliency.largest = std::max(saliency.largest, std::fabs(g));
  }
  return saliency;
}

// ---- occlusion -------------------------------------------------------------------------------------------

Status Occlusion::start(const Model& model, const std::vector<float>& image, const OcclusionOptions& options, int label) {
  *this = Occlusion{};
  if (Status fits = check_image_model(model, image); !fits) return fits.error();
  width_ = int(model.card.input_width), height_ = int(model.card.input_height);
  if (options.patch < 1 || options.patch > std::min(width_, height_) || options.stride < 1)
    return make_error(ErrorCode::bad_argument, "patch", 0,
                      "the patch must be 1 to " + std::to_string(std::min(width_, height_)) + " pixels and the stride 1 or more.");
  options_ = options;
  image_ = image;
  const std::vector<float> input = normalise_image(model.card, image_);
  const Clock::time_point t0 = Clock::now();
  Result<Prediction> prediction = forward(model, input.data(), input.size());
  seconds_ += seconds_since(t0);
  if (!prediction) return prediction.error();
  label_ = label >= 0 && std::size_t(label) < prediction.value().probabilities.size() ? label : prediction.value().label;
  baseline_ = prediction.value().probabilities[std::size_t(label_)];
  rows_ = (height_ - options.patch) / options.stride + 1;
  columns_ = (width_ - options.patch) / options.stride + 1;
  drops_.assign(std::size_t(rows_ * columns_), 0.f);
  ink_under_.assign(drops_.size(), 0.f);
  for (int r = 0; r < rows_; ++r)
    for (int c = 0; c < columns_; ++c) {
      float ink = 0.f;
      for (int y = r * options.stride; y < r * options.stride + options.patch; ++y)
        for (int x = c * options.stride; x < c * options.stride + options.patch; ++x) ink += image_[std::size_t(y * width_ + x)];
      ink_under_[std::size_t(r * columns_ + c)] = ink;
    }
  started_ = true;
  return Ok{};
}

Status Occlusion::advance(const Model& model, double budget_seconds) {
  const Clock::time_point start = Clock::now();
  std::vector<float> occluded;
  double last = 0.0;  // the last pass's time: the next one is expected to take as long
  for (int pieces = 0; started_ && done_ < positions(); ++pieces) {
    if (pieces > 0 && seconds_since(start) + last > budget_seconds) break;
    const int r = done_ / columns_, c = done_ % columns_;
    occluded = image_;
    for (int y = r * options_.stride; y < r * options_.stride + options_.patch; ++y)
      for (int x = c * options_.stride; x < c * options_.stride + options_.patch; ++x)
        occluded[std::size_t(y * width_ + x)] = options_.fill;
    const std::vector<float> input = normalise_image(model.card, occluded);
    const Clock::time_point t0 = Clock::now();
    Result<Prediction> prediction = forward(model, input.data(), input.size());
    last = seconds_since(t0);
    seconds_ += last;
    if (!prediction) return prediction.error();
    drops_[std::size_t(done_)] = baseline_ - prediction.value().probabilities[std::size_t(label_)];
    ++done_;
  }
  return Ok{};
}

std::vector<float> Occlusion::pixel_map() const {
  std::vector<float> sum(std::size_t(width_ * height_), 0.f), count(sum.size(), 0.f);
  for (int i = 0; i < done_; ++i) {
    const int r = i / columns_, c = i % columns_;
    for (int y = r * options_.stride; y < r * options_.stride + options_.patch; ++y)
      for (int x = c * options_.stride; x < c * options_.stride + options_.patch; ++x) {
        sum[std::size_t(y * width_ + x)] += drops_[std::size_t(i)];
        count[std::size_t(y * width_ + x)] += 1.f;
      }
  }
  for (std::size_t i = 0; i < sum.size(); ++i) sum[i] = count[i] > 0.f ? sum[i] / count[i] : 0.f;
  return sum;
}

// ---- the nudge -------------------------------------------------------------------------------------------

Status Nudge::start(const Model& model, const std::vector<float>& image, const NudgeOptions& options) {
  *this = Nudge{};
  if (Status fits = check_image_model(model, image); !fits) return fits.error();
  if (!(options.step > 0.f && options.step <= 1.f) || options.max_steps < 1)
    return make_error(ErrorCode::bad_argument, "step", 0, "the step must be above 0 and at most 1, with 1 or more steps.");
  options_ = options;
  original_ = image_ = image;
  if (Status classified = classify(model); !classified) return classified.error();
  original_label_ = label_;
  if (options_.target >= int(logits_.size())) options_.target = -1;
  started_ = true;
  // A target that is already the prediction needs no nudge.
  finished_ = changed_ = options_.target >= 0 && options_.target == original_label_;
  return Ok{};
}

Status Nudge::classify(const Model& model) {
  const std::vector<float> input = normalise_image(model.card, image_);
  Result<Prediction> prediction = forward(model, input.data(), input.size());
  if (!prediction) return prediction.error();
  logits_ = prediction.value().logits;
  label_ = prediction.value().label;
  probability_ = prediction.value().probabilities[std::size_t(label_)];
  return Ok{};
}

// A step in two pieces of one backward pass each (a CNN's takes about as long as a frame has): first the
// gradient of logit[to], then that of logit[from] and the update.
Status Nudge::piece(const Model& model) {
  // Towards `to`, away from `from`.
  const int to = options_.target >= 0 ? options_.target : strongest_other(logits_, original_label_);
  const int from = options_.target >= 0 ? strongest_other(logits_, options_.target) : original_label_;
  const std::vector<float> input = normalise_image(model.card, image_);
  if (!has_up_) {
    Result<std::vector<float>> up = input_gradient(model, input.data(), input.size(), to);
    if (!up) return up.error();
    up_ = std::move(up).value();
    has_up_ = true;
    return Ok{};
  }
  Result<std::vector<float>> down = input_gradient(model, input.data(), input.size(), from);
  if (!down) return down.error();
  has_up_ = false;
  // The gradient with respect to the ink is the input's divided by std > 0: the same signs.
  for (std::size_t i = 0; i < image_.size(); ++i) {
    const float d = up_[i] - down.value()[i];
    const float moved = image_[i] + (d > 0.f ? options_.step : d < 0.f ? -options_.step : 0.f);
    image_[i] = std::clamp(moved, 0.f, 1.f);
  }
  ++steps_;
  if (Status classified = classify(model); !classified) return classified.error();
  changed_ = options_.target >= 0 ? label_ == options_.target : label_ != original_label_;
  finished_ = changed_ || steps_ >= options_.max_steps;
  return Ok{};
}

Status Nudge::advance(const Model& model, double budget_seconds) {
  const Clock::time_point start = Clock::now();
  double last = 0.0;
  for (int pieces = 0; started_ && !finished_; ++pieces) {
    if (pieces > 0 && seconds_since(start) + last > budget_seconds) break;
    const Clock::time_point t0 = Clock::now();
    Status done = piece(model);
    last = seconds_since(t0);
    seconds_ += last;
    if (!done) {
      finished_ = true;
      return done.error();
    }
  }
  return Ok{};
}

float Nudge::linf_255() const {
  float largest = 0.f;
  for (std::size_t i = 0; i < image_.size(); ++i) largest = std::max(largest, std::fabs(image_[i] - original_[i]));
  return 255.f * largest;
}

float Nudge::l2_255() const {
  double sum = 0.0;
  for (std::size_t i = 0; i < image_.size(); ++i) {
    const double d = 255.0 * double(image_[i] - original_[i]);
    sum += d * d;
  }
  return float(std::sqrt(sum));
}

int Nudge::pixels_changed() const {
  int count = 0;
  for (std::size_t i = 0; i < image_.size(); ++i) count += image_[i] != original_[i];
  return count;
}

}  // namespace digitlab::app
