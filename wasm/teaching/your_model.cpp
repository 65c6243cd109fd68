// The trained model's names, label and weights file (no ImGui: the buttons are in widgets_your_model.cpp).
// Read next: widgets_your_model.cpp.
#include "teaching/your_model.hpp"

#include <algorithm>

#include "common/i18n.hpp"
#include "digitlab/architectures.hpp"  // SeededRandom
#include "digitlab/text.hpp"
#include "digitlab/weights.hpp"

namespace digitlab::app {

namespace {

const char* architecture_title(const std::string& architecture) {
  if (architecture == "mlp") return "MLP";
  if (architecture == "mlp-deep") return tr("deeper MLP");
  if (architecture == "cnn") return "CNN";
  return architecture.c_str();
}

const char* dataset_title(const std::string& dataset) {
  if (dataset == "mnist") return "MNIST";
  if (dataset == "fashion-mnist") return "Fashion-MNIST";
  return dataset.c_str();
}

constexpr const char* kYourModel = "your-model";

}  // namespace

std::string describe_run(const ModelCard& card, const TrainedRun& run) {
  std::string text = format_text(run.epochs == 1 ? tr("%s on %s, %d images, %d epoch") : tr("%s on %s, %d images, %d epochs"),
                                 architecture_title(card.architecture),
                                 dataset_title(card.dataset), int(run.images), run.epochs);
  if (run.accuracy >= 0) text += format_text(", %.1f %%", 100.0 * run.accuracy);
  return text;
}

std::string next_your_model_name(const ModelCatalog& catalog, const std::vector<std::string>& taken) {
  for (int n = 1;; ++n) {
    const std::string name = n == 1 ? std::string(kYourModel) : format_text("%s-%d", kYourModel, n);
    if (catalog.find(name) < 0 && std::find(taken.begin(), taken.end(), name) == taken.end()) return name;
  }
}

std::string your_model_label(const std::string& name, const ModelCard& card, const TrainedRun& run) {
  const std::size_t dash = name.rfind('-');
  const std::string number = name != kYourModel && dash != std::string::npos ? " " + name.substr(dash + 1) : "";
  return format_text(tr("your model%s: %s"), number.c_str(), describe_run(card, run).c_str());
}

Result<std::vector<std::uint8_t>> your_model_weights(Model model, const TrainedRun& run) {
  // Where it was trained, next to the Trainer's recipe: the model panel shows it, and the file keeps it.
  model.card.recipe += format_text("; trained in the page on %d images of the %s test subset", int(run.images),
                                   dataset_title(model.card.dataset));
  if (run.accuracy >= 0)
    model.card.recipe += format_text(", %.2f %% on %d held-out ones", 100.0 * run.accuracy, int(run.held_out));
  // card.test_accuracy is for the full test set: the held-out images are not it, so it stays unknown.
  WriteOptions options;
  const std::int64_t size = model.card.input_channels * model.card.input_height * model.card.input_width;
  SeededRandom random(20261203);
  for (std::int64_t i = 0; i < size; ++i) options.self_test_input.push_back(random.uniform(-1.f, 1.f));
  return write_weights(model, options);
}

const char* tutorial_class_for(const ModelCard& card) {
  if (card.architecture == "mlp") return "NeuralNetwork";
  if (card.architecture == "mlp-deep") return "NeuralNetwork_v1";
  if (card.architecture == "cnn") return "ConvNeuralNetwork";
  return "";
}

}  // namespace digitlab::app
