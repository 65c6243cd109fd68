// The test subsets and the shared evaluator (test_subset.hpp): loading, step-by-step classification
// with a time budget, the confusion matrix, the per-model cache. Read next: panel_confusion.cpp.
#include "teaching/test_subset.hpp"

#include "common/i18n.hpp"

#include <algorithm>
#include <chrono>
#include <cstdarg>
#include <cstdio>

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
  return format_text(tr("The site has no test subset for %s: rebuild it with the wasm preset (make demo)."),
                     dataset.c_str());
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
                      format_text(tr("%s has %u images but %s has %zu labels"), test_subset_images_path(dataset).c_str(),
                                  images.value().count, test_subset_labels_path(dataset).c_str(),
                                  labels.value().labels.size()));
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

const TestSubset* SubsetEvaluator::subset(const std::string& dataset) const {
  for (const Loaded& loaded : subsets_)
    if (loaded.dataset == dataset) return loaded.subset.get();
  return nullptr;
}

void SubsetEvaluator::retry(AssetStore& assets, const std::string& dataset) {
  for (std::size_t i = 0; i < subsets_.size(); ++i) {
    if (subsets_[i].dataset != dataset || subsets_[i].subset) continue;
    subsets_.erase(subsets_.begin() + std::ptrdiff_t(i));
    assets.retry(test_subset_images_path(dataset));
    assets.retry(test_subset_labels_path(dataset));
    return;
  }
}

const TestSubset* SubsetEvaluator::load(AssetStore& assets, const std::string& dataset, std::string* problem,
                                        bool* loading) {
  Loaded* slot = nullptr;
  for (Loaded& loaded : subsets_)
    if (loaded.dataset == dataset) slot = &loaded;
  if (!slot) {
    subsets_.emplace_back();
    slot = &subsets_.back();
    slot->dataset = dataset;
  }
  if (slot->subset) return slot->subset.get();
  if (!slot->problem.empty()) {
    *problem = slot->problem;
    return nullptr;
  }
  const std::string paths[2] = {test_subset_images_path(dataset), test_subset_labels_path(dataset)};
  const Asset* files[2] = {&assets.request(paths[0]), &assets.request(paths[1])};
  for (int f = 0; f < 2; ++f) {
    if (files[f]->state == Asset::State::failed) {
      slot->problem = format_text(tr("The site has no test subset for %s (%s: %s): rebuild it with the wasm preset (make demo)."),
                                  dataset.c_str(), paths[f].c_str(), files[f]->error.c_str());
      *problem = slot->problem;
      return nullptr;
    }
  }
  if (files[0]->state != Asset::State::ready || files[1]->state != Asset::State::ready) {
    *loading = true;
    *problem = format_text(tr("Loading the %s test subset..."), dataset.c_str());
    return nullptr;
  }
  Result<TestSubset> parsed = parse_test_subset(dataset, files[0]->bytes, files[1]->bytes);
  if (!parsed) {
    slot->problem = format_text(tr("The %s test subset is damaged (%s): rebuild the site with the wasm preset (make demo)."),
                                dataset.c_str(), parsed.error().to_string().c_str());
    *problem = slot->problem;
    return nullptr;
  }
  slot->subset = std::make_unique<TestSubset>(std::move(parsed).value());
  return slot->subset.get();
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
      evaluation.error = format_text(tr("test image %u: %s"), i, result.error().to_string().c_str());
      break;
    }
    const Prediction& prediction = result.value();
    if (prediction.probabilities.size() != classes || prediction.label < 0 || std::size_t(prediction.label) >= classes) {
      evaluation.error = format_text(tr("test image %u: the model gave %zu outputs for %zu classes"), i,
                                     prediction.probabilities.size(), classes);
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
    view.problem = tr("Waiting for a model to load...");
    return view;
  }
  const int index = catalog.active_index();
  const ModelEntry& entry = *catalog.active_entry();
  const LoadedWeights& loaded = catalog.active();
  const Model& model = loaded.model;
  view.card = &model.card;
  view.model_name = entry.name;
  view.dataset = model.card.dataset.empty() ? entry.dataset : model.card.dataset;

  const char* name = entry.name.c_str();
  const char* dataset = view.dataset.c_str();
  bool known = false;
  for (const char* subset_dataset : kSubsetDatasets) known = known || view.dataset == subset_dataset;
  if (!known) {
    view.problem = format_text(tr("Model %s was trained on '%.40s', but the site has test subsets for mnist and fashion-mnist only: pick one of their models."),
                               name, dataset);
    return view;
  }
  const TestSubset* subset = load(assets, view.dataset, &view.problem, &view.loading);
  if (!subset) return view;
  view.subset = subset;
  const ModelCard& card = model.card;
  if (!same_shape_as_model(*subset, card)) {
    view.problem = format_text(tr("Model %s takes %lldx%lldx%lld inputs, but the test images are 1x%ux%u: pick a model made for %s."),
                               name, (long long)card.input_channels, (long long)card.input_height,
                               (long long)card.input_width, subset->images.rows, subset->images.cols, dataset);
    return view;
  }
  if (card.class_names.size() < 10) {
    view.problem = format_text(tr("Model %s has %zu classes, but the %s test labels go from 0 to 9: pick a model made for %s."),
                               name, card.class_names.size(), dataset, dataset);
    return view;
  }

  SubsetEvaluation* found = nullptr;
  for (Cached& cached : evaluations_)
    if (cached.index == index && cached.serial == catalog.load_serial(index) && cached.name == entry.name)
      found = cached.evaluation.get();
  if (!found) {
    evaluations_.push_back({index, catalog.load_serial(index), entry.name, std::make_unique<SubsetEvaluation>()});
    found = evaluations_.back().evaluation.get();
    found->model_name = entry.name;
    found->num_classes = int(card.class_names.size());
    found->total = subset->size();
    found->predicted.assign(found->total, 0);
    found->probabilities.assign(std::size_t(found->total) * std::size_t(found->num_classes), 0.f);
    found->confusion.assign(std::size_t(found->num_classes) * std::size_t(found->num_classes), 0);
  }
  SubsetEvaluation& evaluation = *found;
  if (frame != last_frame_ && !evaluation.finished()) {
    last_frame_ = frame;
    classify(evaluation, model, *subset, budget_seconds);
  }
  view.evaluation = &evaluation;
  if (!evaluation.error.empty())
    view.problem = format_text(tr("Model %s could not classify %s. Pick another model."), name, evaluation.error.c_str());
  return view;
}

SubsetView SubsetEvaluator::finish(const ModelCatalog& catalog, AssetStore& assets) {
  SubsetView view = update(catalog, assets, ~0ull - 1, 1e30);
  last_frame_ = ~0ull;
  return view;
}

std::shared_ptr<SubsetEvaluator> shared_subset_evaluator(const AssetStore& assets) {
  static std::vector<std::pair<const AssetStore*, std::weak_ptr<SubsetEvaluator>>> evaluators;
  std::shared_ptr<SubsetEvaluator> evaluator;
  for (std::size_t i = evaluators.size(); i-- > 0;) {
    if (evaluators[i].second.expired()) {
      evaluators.erase(evaluators.begin() + std::ptrdiff_t(i));
    } else if (evaluators[i].first == &assets) {
      evaluator = evaluators[i].second.lock();
    }
  }
  if (!evaluator) {
    evaluator = std::make_shared<SubsetEvaluator>();
    evaluators.emplace_back(&assets, evaluator);
  }
  return evaluator;
}

// ---- datasets, models, text ------------------------------------------------------------------------------

int best_model_for_dataset(const ModelCatalog& catalog, const std::string& dataset) {
  int best = -1;
  for (std::size_t i = 0; i < catalog.entries().size(); ++i) {
    const ModelEntry& entry = catalog.entries()[i];
    if (entry.user_file || entry.dataset != dataset) continue;
    if (best < 0 || entry.test_accuracy > catalog.entries()[std::size_t(best)].test_accuracy) best = int(i);
  }
  return best;
}

}  // namespace digitlab::app
