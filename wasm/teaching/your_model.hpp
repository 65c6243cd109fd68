// "Your model": the network the train panel trained, taken out of the panel -- into the app's model list
// (every panel then works on it) and into files: a .dlw (this project's weights file) and a PyTorch
// state_dict .pth that the tutorial's own class loads. The ImGui-free part (the files, the names, the
// label) is in your_model.cpp; the widget's buttons in widgets_your_model.cpp. Read next: panel_train.cpp
// (who shows it), shared/include/digitlab/pytorch.hpp (export_state_dict), docs/teaching.md ("Train").
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/model_catalog.hpp"
#include "common/rect.hpp"
#include "common/json_writer.hpp"
#include "digitlab/model.hpp"

namespace digitlab::app {

struct PanelContext;

// What the train panel knows about a finished run that the model itself does not say.
struct TrainedRun {
  std::size_t images = 0;    // training images
  int epochs = 0;
  double accuracy = -1.0;    // on the held-out images, fraction; < 0 unknown
  std::size_t held_out = 0;  // how many held-out images
};

// "MLP on MNIST, 800 images, 5 epochs, 91.5 %"
std::string describe_run(const ModelCard& card, const TrainedRun& run);
// The model list's name for a new run: "your-model", then "your-model-2", ... (the first that neither the
// catalog nor `taken` has). A learner's earlier runs stay in the list, to compare (the compare panel).
std::string next_your_model_name(const ModelCatalog& catalog, const std::vector<std::string>& taken);
// The model list's label: "your model: MLP on MNIST, ..." ("your model 2: ..." for your-model-2).
std::string your_model_label(const std::string& name, const ModelCard& card, const TrainedRun& run);
// The trained model as a weights file: float32, its card's recipe saying where it was trained, and a
// self-test (seeded input, the logits the model gives) that the loader checks, as for any file.
Result<std::vector<std::uint8_t>> your_model_weights(Model model, const TrainedRun& run);
// The tutorial's Python class whose load_state_dict takes the exported .pth: "NeuralNetwork" (mlp),
// "NeuralNetwork_v1" (mlp-deep), "ConvNeuralNetwork" (cnn); "" for any other architecture.
const char* tutorial_class_for(const ModelCard& card);

// The widget under the train panel's results (widgets_your_model.cpp): "Use for drawing", "Download .dlw",
// "Download .pth (PyTorch)" and how to load the .pth in Python. One per train panel; it remembers which
// runs it already put in the model list, so pressing "Use for drawing" again switches back instead of
// adding a copy.
class YourModelWidget {
 public:
  // `model` is the finished run's; `run_serial` tells runs apart (TrainRun::serial()).
  void draw(PanelContext& context, const Model& model, std::uint64_t run_serial, const TrainedRun& run);
  // {"name", "in_list", "python_class", "saved" (file names), "problem", "use_rect", "dlw_rect", "pth_rect"}
  void write_state(JsonWriter& json) const;

 private:
  struct Used {
    std::uint32_t crc = 0;  // of the run's weights file: the same run gives the same bytes
    std::string name;
  };
  bool prepare(const Model& model, std::uint64_t run_serial, const TrainedRun& run, const ModelCatalog& catalog);
  void save(PanelContext& context, const std::string& file_name, const std::vector<std::uint8_t>& bytes);

  std::uint64_t run_serial_ = 0;  // the run the files below belong to (0: none yet)
  ModelCard card_;
  std::vector<std::uint8_t> weights_;  // the .dlw
  std::string name_;                   // in the model list ("your-model-2")
  std::vector<Used> used_;             // every run given a name so far
  std::vector<std::string> saved_;
  std::string problem_;
  bool in_list_ = false;
  Rect use_rect_, dlw_rect_, pth_rect_;
};

}  // namespace digitlab::app
