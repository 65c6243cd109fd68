// The list of panels the app can show. Each is one ImGui window, chosen with the URL's panels=
// parameter and documented in docs/embedding.md. Adding a panel: a PanelId, a row in panel_list(),
// a draw function in app.cpp and a line in the docs. Read next: url_options.hpp, app.hpp.
#pragma once

#include <string_view>
#include <vector>

namespace digitlab::app {

enum class PanelId {
  draw,        // the drawing area: stroke width, undo, clear
  prediction,  // the label, ten probability bars, the "unsure" mark
  input,       // the 28x28 image the model sees
  model,       // model picker, model card, "open your own weights file"
};

struct PanelInfo {
  PanelId id;
  const char* name;     // in URLs: panels=draw,prediction
  const char* title;    // the window title
  const char* summary;  // one line for docs and error messages
  float weight;         // share of the side column the layout gives it
};

// In the default order (the one used when the URL says nothing).
inline const std::vector<PanelInfo>& panel_list() {
  static const std::vector<PanelInfo> panels = {
      {PanelId::draw, "draw", "Draw", "the drawing area with stroke width, undo and clear", 1.f},
      {PanelId::prediction, "prediction", "Prediction", "the predicted label and the ten probabilities", 1.4f},
      {PanelId::input, "input", "Model input", "the 28x28 image the model actually sees", 1.f},
      {PanelId::model, "model", "Model", "pick a model, read its card, load your own weights file", 1.3f},
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

}  // namespace digitlab::app
