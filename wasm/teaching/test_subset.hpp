// The shipped test subsets (assets.hpp: the first 1,000 test images of MNIST and Fashion-MNIST) and the
// active model's results on them, computed in the page a few images per frame: predictions with their
// probabilities, and the confusion matrix. The explorer and confusion panels share one SubsetEvaluator,
// so the subset is classified once per model. No ImGui here. Read next: panel_explorer.cpp,
// panel_confusion.cpp (who draws this), tests/app/test_test_subset.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/assets.hpp"
#include "common/json_writer.hpp"
#include "digitlab/idx.hpp"
#include "digitlab/text.hpp"
#include "digitlab/weights.hpp"
#include "common/model_catalog.hpp"

namespace digitlab::app {

// How long one frame may spend classifying (the page stays smooth at 60 frames a second).
inline constexpr double kEvaluationBudgetSeconds = 0.008;

struct TestSubset {
  std::string dataset;  // "mnist", "fashion-mnist"
  IdxImages images;     // (count, 28, 28), 0 = background
  IdxLabels labels;     // (count)
  std::uint32_t size() const { return images.count; }
};

// "the site has no test subset for mnist: rebuild it with the wasm preset (make demo)"
std::string no_subset_message(const std::string& dataset);

// The two idx files (gzipped or raw). Errors: the idx/gzip reader's, with the file named in the message;
// count_mismatch when images and labels disagree.
Result<TestSubset> parse_test_subset(const std::string& dataset, ByteSpan images_bytes, ByteSpan labels_bytes);

// Model input from idx pixels, as the trainer normalised its data: (pixel/255 - mean) / std.
void normalize_idx_image(const std::uint8_t* pixels, std::size_t count, const ModelCard& card, float* input);

// One model's results on one subset, filled in order: entries [0, done) are valid.
struct SubsetEvaluation {
  std::string model_name;
  int num_classes = 0;
  std::uint32_t total = 0, done = 0, correct = 0;
  std::vector<std::uint8_t> predicted;   // (total)
  std::vector<float> probabilities;      // (total, num_classes)
  std::vector<std::uint32_t> confusion;  // (num_classes, num_classes): row = true label, column = predicted
  std::string error;                     // the forward pass failed; evaluation stopped there
  double seconds = 0;                    // time spent classifying so far

  bool finished() const { return done >= total || !error.empty(); }
  bool complete() const { return done >= total && error.empty(); }
  std::uint32_t misclassified() const { return done - correct; }
  float accuracy() const { return done ? float(correct) / float(done) : 0.f; }
  float confidence(std::uint32_t image) const;  // the top probability
  std::uint32_t count(int true_class, int predicted_class) const;
  // The cell's share of its row (each row sums to 1 once complete); 0 for a row with no images yet.
  float normalized(int true_class, int predicted_class) const;
};

// What a panel shows this frame: the active model's dataset, its subset, and the results so far.
struct SubsetView {
  std::string dataset;                      // of the active model ("" without one)
  std::string model_name;
  const ModelCard* card = nullptr;          // the active model's card (class names)
  const TestSubset* subset = nullptr;       // null while loading or when it failed
  const SubsetEvaluation* evaluation = nullptr;  // null until the subset and the model are both there
  bool loading = false;                     // waiting for the model or the subset
  std::string problem;                      // one sentence when there is nothing to show (what to do)
};

class SubsetEvaluator {
 public:
  // Loads the active model's subset through assets (requested once), starts or resumes that model's
  // evaluation and classifies for up to budget_seconds (at least one image while any are left). Two
  // panels calling it in the same frame (the same frame number) classify only once.
  SubsetView update(const ModelCatalog& catalog, AssetStore& assets, std::uint64_t frame,
                    double budget_seconds = kEvaluationBudgetSeconds);
  // Classifies everything left (tests, benchmarks).
  SubsetView finish(const ModelCatalog& catalog, AssetStore& assets);

  const TestSubset* subset(const std::string& dataset) const;  // null unless loaded
  // Forgets a subset that failed to load, and its failed assets: the next update() fetches it again.
  void retry(AssetStore& assets, const std::string& dataset);
  std::size_t cached_evaluations() const { return evaluations_.size(); }

 private:
  struct Loaded {
    std::string dataset;
    std::unique_ptr<TestSubset> subset;  // when both files parsed
    std::string problem;                 // when a file is missing or corrupt
  };
  std::vector<Loaded> subsets_;  // one per dataset asked for
  // One per model, keyed on the catalog entry and its load_serial(): switching back to a model is instant,
  // and a file that replaced the entry is evaluated afresh. (unique_ptr: panels keep pointers.)
  struct Cached {
    int index;
    std::uint64_t serial;
    std::string name;
    std::unique_ptr<SubsetEvaluation> evaluation;
  };
  std::vector<Cached> evaluations_;
  std::uint64_t last_frame_ = ~0ull;

  const TestSubset* load(AssetStore& assets, const std::string& dataset, std::string* problem, bool* loading);
  void classify(SubsetEvaluation& evaluation, const Model& model, const TestSubset& subset, double budget_seconds);
};

// The evaluator every panel of one app shares (one per AssetStore, alive while a panel holds it).
std::shared_ptr<SubsetEvaluator> shared_subset_evaluator(const AssetStore& assets);

// The datasets the site has test subsets for, in menu order.
inline constexpr const char* kSubsetDatasets[] = {"mnist", "fashion-mnist"};
// The shipped model to show for a dataset: the most accurate entry of that dataset (ties: the first,
// so float32 before its float16/int8 copies). -1 when the catalog has none.
int best_model_for_dataset(const ModelCatalog& catalog, const std::string& dataset);

using digitlab::format_text;     // shared/include/digitlab/text.hpp
using digitlab::with_thousands;

// ---- shared by the two panels (ImGui code: defined in panel_confusion.cpp, not in this library) -------------
struct PanelContext;
// What both panels draw first, with the state it keeps between frames.
struct SubsetHeader {
  int requested = -1;    // the model the dataset picker asked for, until it is active
  std::string no_model;  // the picked dataset has no shipped model: the sentence shown
  Rect picker_rect;      // the dataset picker as last drawn: for tests
  // The dataset picker (switches to that dataset's best shipped model), the model in use, the accuracy so
  // far, the problem sentence, a progress bar while classifying. False when no result is there to draw.
  bool draw(PanelContext& context, SubsetEvaluator& evaluator, const SubsetView& view, const char* id);
};

// The fields both panels report in write_state(), copied from the view each frame (its pointers do not outlive it).
struct SubsetState {
  std::string dataset, model, problem;
  std::uint32_t images_loaded = 0, evaluated = 0, total = 0, misclassified = 0;
  float accuracy = 0.f;
  double seconds = 0.0;
  void remember(const SubsetView& view);
  void write(JsonWriter& json) const;  // members of the panel's object: "dataset", "model", ... "problem"
  // Classifying is under way (the panels showing it are busy: frames on demand).
  bool in_progress() const { return total > 0 && evaluated < total && problem.empty(); }
};

}  // namespace digitlab::app
