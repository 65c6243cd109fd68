// The teaching panels: one class per panel (panel_<name>.cpp), each an ImGui window's contents plus the
// state it reports to the page (the browser tests read it). The App owns them, builds a PanelContext
// every frame and calls draw() for the ones shown. A panel keeps its own settings (sliders, filters,
// selections) and its own derived work (caches keyed on the model generation and drawing revision).
// Read next: common/panels.hpp (names, titles), app/app.hpp (who calls this), common/assets.hpp (files
// panels fetch).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/assets.hpp"
#include "digitlab/model.hpp"
#include "digitlab/preprocess.hpp"
#include "common/drawing.hpp"
#include "common/json_writer.hpp"
#include "common/model_catalog.hpp"
#include "common/panels.hpp"
#include "common/url_options.hpp"

struct ImFont;

namespace digitlab::app {

class App;  // app/app.hpp

// Below this top probability a label carries an "unsure" mark (the prediction panel, the number panel).
// Fitted on held-out drawings and MNIST test images (docs/benchmarks.md, "Digits as people write them"):
// with the default model it marks 38 of its 48 MNIST test mistakes and 0.9 % of its right answers.
inline constexpr float kUnsureBelow = 0.935f;
// From this probability on, the second class is shown next to the first ("7 (62 %) or 1 (35 %)"): the two
// the model hesitates between. Any such reading is also marked unsure (its top is at most 0.8).
inline constexpr float kSecondShownFrom = 0.20f;

// What a panel may read and ask for during one frame.
struct PanelContext {
  const AppOptions& options;
  float ui_scale = 1.f;   // multiply pixel sizes by this (HiDPI)
  ImFont* big_font = nullptr;
  double now = 0;         // seconds, for throttling work over frames

  ModelCatalog& catalog;           // entries, the active model, loaded models (catalog.loaded(i))
  std::uint64_t model_generation;  // changes whenever the active model changes

  const Drawing& drawing;
  bool has_prediction = false;     // a model ran on a non-empty drawing
  const Preprocessed& preprocessed;
  const Prediction& prediction;    // activations filled when a shown panel wants_activations()

  AssetStore& assets;
  // Starts loading catalog entry `index` without switching to it (compare panel); no-op when loaded or
  // loading. The answer lands in the catalog; catalog.loaded(index) is non-null once it is there.
  std::function<void(int index)> preload_model;
  // Switches the app to catalog entry `index` (as the model picker does; it may load first).
  std::function<void(int index)> select_model;
  // Draws the drawing area (toolbar-less, side x side) for panels shown without the draw panel; the pen
  // then works in it. Only the first call in a frame gets pointer input.
  std::function<void(float side)> draw_canvas;
  bool draw_panel_shown = false;
  // Sets the text of the page's messages banner (for errors the user can act on).
  std::function<void(std::string)> add_message;
  // The app itself, for what few panels need (the train panel's model: App::open_user_file, and
  // App::services().save_file for its downloads).
  App* app = nullptr;
};

class TeachingPanel {
 public:
  virtual ~TeachingPanel() = default;
  virtual void draw(PanelContext& context) = 0;
  // What this panel shows, as one JSON object (for tests and the page's state(); docs/embedding.md lists
  // the fields): the App writes it under panel_state.<name>. {} when nothing.
  virtual void write_state(JsonWriter& json) const { json.begin_object().end_object(); }
  std::string state_json() const {  // write_state() on its own (tests)
    JsonWriter json;
    write_state(json);
    return json.text();
  }
  // The page's aria-live sentence when this panel has something better to say about a non-empty drawing
  // than the single-digit prediction (the number panel: "Number: 42 (99 %)"); "" otherwise.
  virtual std::string status_sentence() const { return ""; }
  // True when draw() needs every layer's activations for the current drawing.
  virtual bool wants_activations() const { return false; }
  // True while the panel has work in progress that needs frames with no event to ask for them (it
  // classifies the test subset a few images per frame): frames on demand, main.cpp.
  virtual bool busy() const { return false; }
};

// One factory per teaching panel, each in its own panel_<name>.cpp.
std::unique_ptr<TeachingPanel> make_activations_panel();
std::unique_ptr<TeachingPanel> make_network_panel();
std::unique_ptr<TeachingPanel> make_preprocess_panel();
std::unique_ptr<TeachingPanel> make_explorer_panel();
std::unique_ptr<TeachingPanel> make_confusion_panel();
std::unique_ptr<TeachingPanel> make_training_panel();
std::unique_ptr<TeachingPanel> make_compare_panel();
std::unique_ptr<TeachingPanel> make_number_panel();
std::unique_ptr<TeachingPanel> make_train_panel();
std::unique_ptr<TeachingPanel> make_saliency_panel();
// Not a panel of its own: drawn under the App's model panel in the lab build, the active model's downloads
// (.dlw, PyTorch .pth; widgets_your_model.cpp).
std::unique_ptr<TeachingPanel> make_model_downloads();

// null for the demo's own panels (draw, prediction, input: drawn by App itself; model: its downloads only).
std::unique_ptr<TeachingPanel> make_teaching_panel(PanelId id);

// How the App gets its teaching panels. The browser has two builds of the app (wasm/CMakeLists.txt):
// digitlab-lab with the panels (this returns &make_teaching_panel, panel_factory.cpp) and the smaller
// demo, digitlab-app, without them (null, panel_factory_none.cpp), which hands a request for a teaching panel to
// the page (AppServices::open_teaching_build) to reload with the lab build.
using PanelFactory = std::unique_ptr<TeachingPanel> (*)(PanelId);
PanelFactory built_in_panel_factory();


}  // namespace digitlab::app
