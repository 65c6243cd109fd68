// The list of panels the app can show. Each is one ImGui window, chosen with the URL's panels=
// parameter and documented in docs/embedding.md. The first four are the demo (shown when the URL says
// nothing); the others are the teaching panels (teaching_panel.hpp), one file each (panel_*.cpp). Adding a
// panel: a PanelId, a row in panel_list(), a factory in teaching_panel.hpp and a line in the docs.
// Read next: url_options.hpp, app/app.hpp, teaching/teaching_panel.hpp.
#pragma once

#include <string_view>
#include <vector>

namespace digitlab::app {

enum class PanelId {
  draw,        // the drawing area: stroke width, undo, clear
  prediction,  // the label, ten probability bars, the "unsure" mark
  input,       // the 28x28 image the model sees
  model,       // model picker, model card, "open your own weights file"
  // The teaching panels.
  activations,  // sigmoid, tanh, ReLU, leaky ReLU, softmax: formula, plot, derivative
  network,      // the architecture as the trainer prints it, each layer's activations for the drawing
  preprocess,   // the preprocessing steps one by one, with the prediction after each
  explorer,     // a grid of test images, "Predicted: X (Label: Y)", misclassified filter
  confusion,    // the normalised confusion matrix over the shipped test subset
  training,     // loss and accuracy curves and the sweep table from the run records
  compare,      // the drawing classified by every shipped model side by side
  number,       // a whole number: the drawing split into digits, each read
  train,        // the tutorial's training loop run in the page (1-4 runs side by side), live curves and logs
  saliency,     // where the model looks: saliency map, occlusion, the smallest nudge that changes its mind
};

struct PanelInfo {
  PanelId id;
  const char* name;     // in URLs: panels=draw,prediction
  const char* title;    // the window title
  const char* summary;  // one line for docs and error messages
  float weight;         // share of the side column the layout gives it
  bool in_default;      // shown when the URL names no panels
  bool uses_drawing;    // shows something about the current drawing (so it wants the drawing area)
};

// In the default order (the one used when the URL says nothing, then the teaching panels).
inline const std::vector<PanelInfo>& panel_list() {
  static const std::vector<PanelInfo> panels = {
      {PanelId::draw, "draw", "Draw", "the drawing area with stroke width, undo and clear", 1.f, true, true},
      {PanelId::prediction, "prediction", "Prediction", "the predicted label and the ten probabilities", 1.4f, true, true},
      {PanelId::input, "input", "Model input", "the 28x28 image the model actually sees", 1.f, true, true},
      {PanelId::model, "model", "Model", "pick a model, read its card, load your own weights file", 1.3f, true, false},
      {PanelId::activations, "activations", "Activation functions",
       "sigmoid, tanh, ReLU, leaky ReLU and softmax with their formulas and derivatives", 2.f, false, false},
      {PanelId::network, "network", "Network",
       "the layers, their shapes and parameters, and each layer's activations for the drawing", 2.f, false, true},
      {PanelId::preprocess, "preprocess", "Preprocessing",
       "from strokes to the 28x28 input step by step, with the prediction after each step", 2.f, false, true},
      {PanelId::explorer, "explorer", "Test set", "test images with the model's prediction; filter the mistakes", 2.f,
       false, false},
      {PanelId::confusion, "confusion", "Confusion matrix",
       "which classes the model confuses, over the shipped test subset; click a cell for its images", 2.f, false, false},
      {PanelId::training, "training", "Training", "loss and accuracy curves and the sweep table from the run records",
       2.f, false, false},
      {PanelId::compare, "compare", "All models", "the drawing classified by every shipped model side by side", 1.6f,
       false, true},
      {PanelId::number, "number", "Whole number", "draw a number of several digits: each digit found and read", 1.4f,
       false, true},
      {PanelId::train, "train", "Train a network",
       "train the tutorial's networks in the page on the shipped subset: its log, live curves, confusion matrix", 2.4f,
       false, false},
      {PanelId::saliency, "saliency", "Where the model looks",
       "which pixels the answer depends on (gradient, occlusion) and the smallest nudge that changes it", 2.f, false,
       true},
  };
  return panels;
}

inline const PanelInfo* find_panel(std::string_view name) {
  for (const PanelInfo& panel : panel_list())
    if (name == panel.name) return &panel;
  return nullptr;
}

inline const PanelInfo& panel_info(PanelId id) {
  for (const PanelInfo& panel : panel_list())
    if (panel.id == id) return panel;
  return panel_list().front();
}

inline bool is_teaching_panel(PanelId id) { return !panel_info(id).in_default; }

}  // namespace digitlab::app
