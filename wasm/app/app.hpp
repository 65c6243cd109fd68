// The digit-drawing app: the panels (ImGui windows), live prediction, the model picker and the messages
// the page shows. Platform-free: it speaks ImGui and the core, and asks its platform (AppServices) for
// everything else (fetching files, the file picker, telling the page). Used by the browser (web_platform.cpp)
// and the desktop program (desktop_platform.cpp) through main.cpp. Read next: app.cpp, main.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/assets.hpp"
#include "common/drawing.hpp"
#include "common/layout.hpp"
#include "common/model_catalog.hpp"
#include "teaching/teaching_panel.hpp"
#include "common/url_options.hpp"

struct ImFont;
struct ImDrawList;
struct ImVec2;

namespace digitlab::app {

// What the app needs from the platform it runs on.
class AppServices {
 public:
  virtual ~AppServices() = default;
  // Start fetching entry.file; answer later (or at once) with App::weights_arrived / weights_failed.
  virtual void fetch_weights(int index, const ModelEntry& entry) = 0;
  // Only in a build without the teaching panels (the browser's demo build): show the page again with this
  // URL query (e.g. "panels=draw,network&model=mnist-cnn") in the build that has them.
  virtual void open_teaching_build(const std::string& url_query) { (void)url_query; }
  // Start fetching a site file for the teaching panels (assets.hpp: "weights/runs/x.json",
  // "data/mnist/test-subset-images-idx3-ubyte.gz"); answer with App::asset_arrived / asset_failed.
  virtual void fetch_asset(const std::string& path) = 0;
  // The "Open weights file..." button; platforms without a picker return false from can_open_files().
  virtual bool can_open_files() const { return false; }
  virtual void open_file_picker() {}
  virtual const char* open_files_hint() const = 0;  // how to open a file here, one sentence
  // The prediction, the model or the messages changed: the page updates its live region and parent.
  virtual void state_changed() {}
  virtual double now_seconds() const = 0;
  // "Copy link" in the menu: url_query (App::share_query) reopens what is shown; the browser copies the
  // page's URL with it, the desktop prints it.
  virtual void copy_link(const std::string& url_query) { (void)url_query; }
  // A "Download" button (the train panel's model, the model panel's in the lab build): the browser saves
  // the bytes as file_name, the desktop writes them into its current directory and prints the path. false
  // when they were not saved.
  virtual bool save_file(const std::string& file_name, ByteSpan bytes) { return (void)file_name, (void)bytes, false; }
};

// While a stroke is being drawn, predict at most this often (a finished stroke is predicted at once).
inline constexpr double kPredictEverySeconds = 0.05;

class App {
 public:
  // factory: where teaching panels come from; null in the demo build (teaching_panel.hpp, PanelFactory).
  explicit App(AppServices& services, PanelFactory factory = &make_teaching_panel);

  // Set-up: add the manifest's models to catalog(), then start() with the URL's query (or "").
  ModelCatalog& catalog() { return catalog_; }
  void start(std::string_view url_query);

  // Answers to AppServices::fetch_weights.
  void weights_arrived(int index, ByteSpan bytes);
  // `code`, where known, adds (in Chinese) what the error means before the English `why`.
  void weights_failed(int index, const std::string& why, ErrorCode code = ErrorCode::ok);

  // Answers to AppServices::fetch_asset.
  void asset_arrived(const std::string& path, ByteSpan bytes);
  void asset_failed(const std::string& path, const std::string& why);

  // Which panels are shown, in layout order (the Panels menu, the page's showPanels()). Unknown or
  // repeated ids are dropped; an empty list keeps the current panels.
  void set_panels(const std::vector<PanelId>& panels);

  // A file the user opened or dropped. On failure the message is the loader's Error::to_string(), it is
  // shown in the page, and the previous model stays. label: for a model trained in the page (the train
  // panel writes its weights file), what the model list shows instead of the name.
  Status open_user_file(const std::string& file_name, ByteSpan bytes, const std::string& label = {});
  // A file that never reached the loader (the page's PyTorch importer refused it): shown like a rejected
  // weights file, with error_text as the reason; the previous model stays.
  void user_file_failed(const std::string& file_name, const std::string& error_text, ErrorCode code = ErrorCode::ok);
  // For a model imported from PyTorch (pytorch::is_imported): what its state_dict could not say, changed.
  // The input normalisation, and the activation after every linear layer; the model is replaced in its
  // catalog entry and the drawing read again. bad_argument for another model or a std <= 0. The model
  // panel's choices call this.
  Status set_import_assumptions(float mean, float std_dev, LayerKind activation);
  // Switch to a model by name (the picker, the page's JavaScript API). false + *why when unknown.
  bool select_model(const std::string& name, std::string* why);
  void add_message(std::string text);

  // Pointer input in ImGui display coordinates, from the platform's event callbacks (mouse, pen, touch).
  void pointer_down(float x, float y);
  void pointer_move(float x, float y);
  void pointer_up(float x, float y);
  void undo();
  void clear();

  // Call before the first frame and when the screen's pixel ratio changes; the platform must then
  // rebuild the font texture. Scale = framebuffer pixels per CSS pixel (or the desktop content scale).
  void set_ui_scale(float scale);
  float ui_scale() const { return ui_scale_; }
  // Between ImGui::NewFrame and ImGui::Render: predicts if the drawing changed, draws the panels.
  void frame();
  // True while frames are needed with no event to ask for them (frames on demand, main.cpp): the
  // prediction of the current drawing and model is not made yet, a panel has work in progress, or the
  // drawing or model changed less than kSettleSeconds ago (throttled panel updates catch up by then).
  bool busy() const;

  const AppOptions& options() const { return options_; }
  Rect drawing_rect() const { return drawing_rect_; }  // last frame's drawing area, display units
  // Everything the page's state() reports, as a JSON object (docs/embedding.md).
  std::string state_json() const;
  // One sentence for the page's aria-live region: "Prediction: 7 (98 %)".
  std::string status_sentence() const;
  // The 28x28 image the model was last given, before normalisation (values in [0, 1], row-major), as a
  // JSON array; "null" while nothing is drawn. The page's modelInput() (tests compare with PyTorch on it).
  std::string model_input_json() const;
  // The URL query that reopens this view: model, panels, theme, embed, pen width and the drawing
  // (docs/embedding.md); what "Copy link" and the page's shareUrl() hand out.
  std::string share_query() const;
  const Drawing& drawing() const { return drawing_; }
  AppServices& services() { return services_; }

 private:
  void request_model(int index);
  void predict_if_needed();
  void apply_theme();
  void draw_messages(float width, float top);
  void draw_panel(PanelId id);
  void draw_drawing_panel();
  void draw_canvas(float side);
  void draw_panels_menu();
  TeachingPanel* teaching_panel(PanelId id);
  bool activations_wanted() const;
  // In a build without teaching panels, hands panels that include one to the page; true when it did.
  bool hand_over_to_teaching_build(const std::vector<PanelId>& panels);
  std::string query_for(const std::vector<PanelId>& panels) const;
  void preload_model(int index);
  void draw_stroke(ImDrawList* draw_list, const Stroke& stroke, ImVec2 origin, float side);
  void draw_prediction_panel();
  void draw_input_panel();
  void draw_model_panel();
  // For a model imported from PyTorch: what the state_dict could not say (input normalisation, the
  // activation between linears), shown as assumed and changeable; a change reloads the model.
  void draw_import_assumptions();
  std::string class_name(int label) const;
  // The second most probable class when it has at least kSecondShownFrom, else -1.
  int runner_up() const;

  AppServices& services_;
  AppOptions options_;
  ModelCatalog catalog_;
  Drawing drawing_;
  bool started_ = false;

  int pending_model_ = -1;   // requested, bytes not here yet
  std::string last_error_;   // the last load error, as Error::to_string() (or the fetch failure)
  std::vector<std::string> messages_;
  std::uint64_t model_generation_ = 0;

  // The last prediction and what it was made from.
  std::uint64_t predicted_revision_ = ~0ull, predicted_generation_ = ~0ull;
  double last_prediction_time_ = -1.0;
  bool empty_ = true;
  Preprocessed preprocessed_;
  Prediction prediction_;
  double latency_ms_ = 0.0;
  std::vector<float> latencies_ms_;  // recent predictions' compute times (up to 2000), for the benchmark
  std::uint64_t prediction_count_ = 0;
  std::uint64_t frames_drawn_ = 0;  // state().frames: an idle page draws none (frames on demand)
  std::uint64_t seen_revision_ = ~0ull, seen_generation_ = ~0ull;
  double changed_at_ = 0;           // when frame() last saw the drawing or the model change

  float ui_scale_ = 1.f;
  ImFont* font_big_ = nullptr;
  float banner_height_ = 0.f;
  float menu_height_ = 0.f;
  Rect drawing_rect_;
  Rect stroke_rect_;  // the drawing area when the current stroke began
  Rect copy_link_rect_;  // the menu's "Copy link" item, last frame
  bool drawing_accepts_input_ = false;  // no popup covers the drawing area
  bool canvas_drawn_ = false;           // this frame already drew the drawing area

  // The teaching panels, created when first shown (indexed by PanelId), and what they fetch.
  PanelFactory panel_factory_ = nullptr;
  std::vector<std::unique_ptr<TeachingPanel>> teaching_;
  AssetStore assets_;
  std::set<int> preloading_;  // catalog entries fetched for the compare panel, not to be switched to
  bool predicted_activations_ = false;  // the last prediction kept every layer's activations
};

}  // namespace digitlab::app
