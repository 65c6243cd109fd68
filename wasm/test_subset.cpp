// The test subsets and the shared evaluator (test_subset.hpp): loading, step-by-step classification
// with a time budget, the confusion matrix, the per-model cache. Read next: panel_confusion.cpp.
#include "test_subset.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

namespace digitlab::app {

namespace {

bool same_shape_as_model(const TestSubset& subset, const ModelCard& card) {
  return card.input_channels == 1 && card.input_height == std::int64_t(subset.images.rows) &&
         card.input_width == std::int64_t(subset.images.cols);
}

Error in_file(Error error, const std::string& path) {
  error.message = path + ": " + error.message;
  return error;
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

// ---- the subset -------------------------------------------------------------------------------------------

std::string no_subset_message(const std::string& dataset) {
  return "The site has no test subset for " + dataset + ": rebuild it with the wasm preset (make demo).";
}

Result<TestSubset> parse_test_subset(const std::string& dataset, ByteSpan images_bytes, ByteSpan labels_bytes) {
  IdxLimits limits;
  limits.max_bytes = 64ull << 20;  // 1,000 images are 784 KB; a bigger stream is not a subset
  Result<IdxImages> images = parse_idx_images(images_bytes, limits);
  if (!images) return in_file(images.error(), test_subset_images_path(dataset));
  Result<IdxLabels> labels = parse_idx_labels(labels_bytes, limits);
  if (!labels) return in_file(labels.error(), test_subset_labels_path(dataset));
  if (std::size_t(images.value().count) != labels.value().labels.size())
    return make_error(ErrorCode::count_mismatch, "labels.count", 0,
                      test_subset_images_path(dataset) + " has " + std::to_string(images.value().count) +
                          " images but " + test_subset_labels_path(dataset) + " has " +
                          std::to_string(labels.value().labels.size()) + " labels");
  TestSubset subset;
  subset.dataset = dataset;
  subset.images = std::move(images).value();
  subset.labels = std::move(labels).value();
  return subset;
}

void normalize_idx_image(const std::uint8_t* pixels, std::size_t count, const ModelCard& card, float* input) {
  for (std::size_t i = 0; i < count; ++i)
    input[i] = (float(pixels[i]) / 255.f - card.normalize_mean) / card.normalize_std;
}

// ---- one model's results ----------------------------------------------------------------------------------

float SubsetEvaluation::confidence(std::uint32_t image) const {
  if (image >= done) return 0.f;
  return probabilities[std::size_t(image) * std::size_t(num_classes) + predicted[image]];
}

std::uint32_t SubsetEvaluation::count(int true_class, int predicted_class) const {
  if (true_class < 0 || predicted_class < 0 || true_class >= num_classes || predicted_class >= num_classes) return 0;
  return confusion[std::size_t(true_class) * std::size_t(num_classes) + std::size_t(predicted_class)];
}

float SubsetEvaluation::normalized(int true_class, int predicted_class) const {
  std::uint32_t row = 0;
  for (int c = 0; c < num_classes; ++c) row += count(true_class, c);
  return row ? float(count(true_class, predicted_class)) / float(row) : 0.f;
}

// ---- the evaluator ----------------------------------------------------------------------------------------

bool SubsetEvaluator::Key::operator<(const Key& other) const {
  if (index != other.index) return index < other.index;
  if (model != other.model) return std::less<const LoadedWeights*>()(model, other.model);
  return name < other.name;
}

const TestSubset* SubsetEvaluator::subset(const std::string& dataset) const {
  auto found = subsets_.find(dataset);
  return found == subsets_.end() ? nullptr : found->second.subset.get();
}

void SubsetEvaluator::retry(AssetStore& assets, const std::string& dataset) {
  auto found = subsets_.find(dataset);
  if (found == subsets_.end() || found->second.subset) return;
  subsets_.erase(found);
  assets.retry(test_subset_images_path(dataset));
  assets.retry(test_subset_labels_path(dataset));
}

const TestSubset* SubsetEvaluator::load(AssetStore& assets, const std::string& dataset, std::string* problem,
                                        bool* loading) {
  Loaded& slot = subsets_[dataset];
  if (slot.subset) return slot.subset.get();
  if (!slot.problem.empty()) {
    *problem = slot.problem;
    return nullptr;
  }
  const std::string images_path = test_subset_images_path(dataset), labels_path = test_subset_labels_path(dataset);
  const Asset& images = assets.request(images_path);
  const Asset& labels = assets.request(labels_path);
  for (const Asset* asset : {&images, &labels}) {
    if (asset->state == Asset::State::failed) {
      const std::string& path = asset == &images ? images_path : labels_path;
      slot.problem = no_subset_message(dataset) + " (" + path + ": " + asset->error + ")";
      *problem = slot.problem;
      return nullptr;
    }
  }
  if (images.state != Asset::State::ready || labels.state != Asset::State::ready) {
    *loading = true;
    *problem = "Loading the " + dataset + " test subset...";
    return nullptr;
  }
  Result<TestSubset> parsed = parse_test_subset(dataset, images.bytes, labels.bytes);
  if (!parsed) {
    slot.problem = "The " + dataset + " test subset is damaged (" + parsed.error().to_string() +
                   "): rebuild the site with the wasm preset (make demo).";
    *problem = slot.problem;
    return nullptr;
  }
  slot.subset = std::make_unique<TestSubset>(std::move(parsed).value());
  return slot.subset.get();
}

void SubsetEvaluator::classify(SubsetEvaluation& evaluation, const Model& model, const TestSubset& subset,
                               double budget_seconds) {
  const auto start = std::chrono::steady_clock::now();
  const std::size_t pixels = std::size_t(subset.images.rows) * subset.images.cols;
  const std::size_t classes = std::size_t(evaluation.num_classes);
  std::vector<float> input(pixels);
  while (evaluation.done < evaluation.total && evaluation.error.empty()) {
    const std::uint32_t i = evaluation.done;
    normalize_idx_image(subset.images.image(i), pixels, model.card, input.data());
    Result<Prediction> result = forward(model, input.data(), input.size());
    if (!result) {
      evaluation.error = "test image " + std::to_string(i) + ": " + result.error().to_string();
      break;
    }
    const Prediction& prediction = result.value();
    if (prediction.probabilities.size() != classes || prediction.label < 0 || std::size_t(prediction.label) >= classes) {
      evaluation.error = "test image " + std::to_string(i) + ": the model gave " +
                         std::to_string(prediction.probabilities.size()) + " outputs for " +
                         std::to_string(classes) + " classes";
      break;
    }
    std::copy(prediction.probabilities.begin(), prediction.probabilities.end(),
              evaluation.probabilities.begin() + std::ptrdiff_t(std::size_t(i) * classes));
    const int truth = subset.labels.labels[i];
    evaluation.predicted[i] = std::uint8_t(prediction.label);
    ++evaluation.confusion[std::size_t(truth) * classes + std::size_t(prediction.label)];
    if (prediction.label == truth) ++evaluation.correct;
    ++evaluation.done;
    if (seconds_since(start) >= budget_seconds) break;
  }
  evaluation.seconds += seconds_since(start);
}

SubsetView SubsetEvaluator::update(const ModelCatalog& catalog, AssetStore& assets, std::uint64_t frame,
                                   double budget_seconds) {
  SubsetView view;
  if (!catalog.has_model()) {
    view.loading = true;
    view.problem = "Waiting for a model to load...";
    return view;
  }
  const int index = catalog.active_index();
  const ModelEntry& entry = *catalog.active_entry();
  const LoadedWeights& loaded = catalog.active();
  const Model& model = loaded.model;
  view.card = &model.card;
  view.model_name = entry.name;
  view.dataset = model.card.dataset.empty() ? entry.dataset : model.card.dataset;

  bool known = false;
  for (const std::string& name : subset_datasets()) known = known || name == view.dataset;
  if (!known) {
    view.problem = "Model " + entry.name + " was trained on '" + view.dataset.substr(0, 40) +
                   "', but the site has test subsets for mnist and fashion-mnist only: pick one of their models.";
    return view;
  }
  const TestSubset* subset = load(assets, view.dataset, &view.problem, &view.loading);
  if (!subset) return view;
  view.subset = subset;
  if (!same_shape_as_model(*subset, model.card)) {
    view.problem = "Model " + entry.name + " takes " + std::to_string(model.card.input_channels) + "x" +
                   std::to_string(model.card.input_height) + "x" + std::to_string(model.card.input_width) +
                   " inputs, but the test images are 1x" + std::to_string(subset->images.rows) + "x" +
                   std::to_string(subset->images.cols) + ": pick a model made for " + view.dataset + ".";
    return view;
  }
  if (model.card.class_names.size() < 10) {
    view.problem = "Model " + entry.name + " has " + std::to_string(model.card.class_names.size()) +
                   " classes, but the " + view.dataset + " test labels go from 0 to 9: pick a model made for " +
                   view.dataset + ".";
    return view;
  }

  auto [found, inserted] = evaluations_.try_emplace(Key{index, &loaded, entry.name});
  SubsetEvaluation& evaluation = found->second;
  if (inserted) {
    evaluation.model_name = entry.name;
    evaluation.num_classes = int(model.card.class_names.size());
    evaluation.total = subset->size();
    evaluation.predicted.assign(evaluation.total, 0);
    evaluation.probabilities.assign(std::size_t(evaluation.total) * std::size_t(evaluation.num_classes), 0.f);
    evaluation.confusion.assign(std::size_t(evaluation.num_classes) * std::size_t(evaluation.num_classes), 0);
  }
  if (frame != last_frame_ && !evaluation.finished()) {
    last_frame_ = frame;
    classify(evaluation, model, *subset, budget_seconds);
  }
  view.evaluation = &evaluation;
  if (!evaluation.error.empty())
    view.problem = "Model " + entry.name + " could not classify " + evaluation.error + ". Pick another model.";
  return view;
}

SubsetView SubsetEvaluator::finish(const ModelCatalog& catalog, AssetStore& assets) {
  SubsetView view = update(catalog, assets, ~0ull - 1, 1e30);
  last_frame_ = ~0ull;
  return view;
}

std::shared_ptr<SubsetEvaluator> shared_subset_evaluator(const AssetStore& assets) {
  static std::map<const AssetStore*, std::weak_ptr<SubsetEvaluator>> evaluators;
  for (auto it = evaluators.begin(); it != evaluators.end();) it = it->second.expired() ? evaluators.erase(it) : ++it;
  std::weak_ptr<SubsetEvaluator>& slot = evaluators[&assets];
  std::shared_ptr<SubsetEvaluator> evaluator = slot.lock();
  if (!evaluator) {
    evaluator = std::make_shared<SubsetEvaluator>();
    slot = evaluator;
  }
  return evaluator;
}

// ---- datasets and models ------------------------------------------------------------------------------

const std::vector<std::string>& subset_datasets() {
  static const std::vector<std::string> datasets = {"mnist", "fashion-mnist"};
  return datasets;
}

int best_model_for_dataset(const ModelCatalog& catalog, const std::string& dataset) {
  int best = -1;
  for (std::size_t i = 0; i < catalog.entries().size(); ++i) {
    const ModelEntry& entry = catalog.entries()[i];
    if (entry.user_file || entry.dataset != dataset) continue;
    if (best < 0 || entry.test_accuracy > catalog.entries()[std::size_t(best)].test_accuracy) best = int(i);
  }
  return best;
}

std::string format_count(std::uint64_t value) {
  std::string digits = std::to_string(value), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

}  // namespace digitlab::app
