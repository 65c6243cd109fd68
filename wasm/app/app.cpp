// The app's behaviour and its ImGui panels. Sections: set-up and models; input; prediction; frame and
// layout; one function per panel; the state the page reports. Read next: main.cpp (the loop around it),
// platform/web_platform.cpp (the browser's side), web/page.js (the page's JavaScript API).
#include "app/app.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "digitlab/pytorch.hpp"
#include "digitlab/text.hpp"
#include "imgui.h"
#include "app/fonts.hpp"
#include "common/drawing_code.hpp"
#include "common/i18n.hpp"
#include "common/json_writer.hpp"
#include "teaching/widgets.hpp"

namespace digitlab::app {

namespace {

constexpr std::size_t kMaxMessages = 6;

ImU32 ink_color() { return IM_COL32(20, 20, 24, 255); }
ImU32 paper_color() { return IM_COL32(255, 255, 255, 255); }
ImVec4 warning_color(Theme theme) {
  return theme == Theme::dark ? ImVec4(1.f, 0.75f, 0.3f, 1.f) : ImVec4(0.65f, 0.3f, 0.f, 1.f);
}
using widgets::error_color;

// Joins two sentences; the first may come from the loader without a final full stop. A Chinese one ends in
// a full-width one (a non-ASCII last byte), and Chinese puts no space between sentences.
std::string then(std::string first, const std::string& second) {
  if (!first.empty() && static_cast<unsigned char>(first.back()) >= 0x80) return first + second;
  if (!first.empty() && first.back() != '.' && first.back() != '!' && first.back() != '?') first += '.';
  return first + " " + second;
}

// The core's error detail is English: a reader of another language gets, before it, what the error code
// means and what to do. English readers get the detail as it is (tests and bug reports quote it).
std::string explained(ErrorCode code, const std::string& detail) {
  if (current_language() == Language::english) return detail;
  const char* advice = nullptr;
  switch (code) {
    case ErrorCode::io: advice = tr("The file could not be read: try again."); break;
    case ErrorCode::bad_magic:
    case ErrorCode::wrong_file_kind:
      advice = tr("This is not a weights file: open a .dlw file from the trainer or a PyTorch .pth file."); break;
    case ErrorCode::bad_version:
    case ErrorCode::bad_dtype:
      advice = tr("The file uses a format this app does not read: export it again with this version's trainer."); break;
    case ErrorCode::over_budget: advice = tr("The file is too large for the app: use a smaller model."); break;
    case ErrorCode::self_test_failed:
      advice = tr("The file's self-test gives other results, so the file is damaged: export it again."); break;
    case ErrorCode::bad_layer:
    case ErrorCode::shape_mismatch:
    case ErrorCode::unknown_architecture:
      advice = tr("The app does not know this network's layers: use one of the tutorial's MLP or CNN models."); break;
    case ErrorCode::forbidden_global:
      advice = tr("The PyTorch file holds code, which the app never runs: save only the state_dict."); break;
    case ErrorCode::ok:
    case ErrorCode::empty_input:
    case ErrorCode::bad_argument: return detail;
    default: advice = tr("The file is damaged or incomplete: save or download it again."); break;
  }
  return format_text(tr("%s (%s)"), advice, detail.c_str());
}

std::string percent_text(float fraction) {
  char text[16];
  std::snprintf(text, sizeof text, "%.0f %%", double(fraction) * 100.0);
  return text;
}

}  // namespace

App::App(AppServices& services, PanelFactory factory)
    : services_(services),
      panel_factory_(factory),
      assets_([this](const std::string& path) { services_.fetch_asset(path); }) {
  teaching_.resize(panel_list().size());
}

// ---- set-up and models ------------------------------------------------------------------------------

void App::start(std::string_view url_query) {
  ParsedOptions parsed = parse_url_options(url_query);
  options_ = parsed.options;
  for (std::string& problem : parsed.problems) add_message(std::move(problem));
  for (const Stroke& stroke : decode_drawing(options_.drawing, nullptr)) {  // a shared link's drawing
    drawing_.begin_stroke(stroke.points[0], stroke.width);
    for (const Point& point : stroke.points) drawing_.extend_stroke(point);
    drawing_.end_stroke();
  }
  options_.drawing.clear();
  if (hand_over_to_teaching_build(options_.panels)) {
    // The page reloads with the build that has the panels; meanwhile show the demo's.
    options_.panels.clear();
    for (const PanelInfo& panel : panel_list())
      if (panel.in_default) options_.panels.push_back(panel.id);
  }
  apply_theme();

  int index = catalog_.default_index();
  if (!options_.model.empty()) {
    const int named = catalog_.find(options_.model);
    if (named >= 0) {
      index = named;
    } else {
      std::string names;
      for (const ModelEntry& entry : catalog_.entries()) names += (names.empty() ? "" : ", ") + entry.name;
      if (names.empty()) names = tr("none");
      const std::string wanted = options_.model.substr(0, 40);
      add_message(index >= 0 ? format_text(tr("URL parameter model: there is no model named '%s' in weights/manifest.json (models: %s); showing the default, %s."),
                                           wanted.c_str(), names.c_str(), catalog_.entries()[std::size_t(index)].name.c_str())
                             : format_text(tr("URL parameter model: there is no model named '%s' in weights/manifest.json (models: %s)."),
                                           wanted.c_str(), names.c_str()));
    }
  }
  started_ = true;
  if (index < 0) {
    add_message(tr("weights/manifest.json lists no models, so there is nothing to predict with. Build the site with the wasm preset (it copies weights/), or open a weights file."));
    services_.state_changed();
    return;
  }
  request_model(index);
}

void App::request_model(int index) {
  if (index < 0 || std::size_t(index) >= catalog_.entries().size()) return;
  if (catalog_.activate(index)) {
    pending_model_ = -1;
    ++model_generation_;
    services_.state_changed();
    return;
  }
  pending_model_ = index;
  services_.state_changed();
  services_.fetch_weights(index, catalog_.entries()[std::size_t(index)]);  // may answer at once
}

void App::weights_arrived(int index, ByteSpan bytes) {
  if (index < 0 || std::size_t(index) >= catalog_.entries().size()) return;
  preloading_.erase(index);
  const int previous = catalog_.active_index();
  const std::string file = catalog_.entries()[std::size_t(index)].file;
  Status status = catalog_.load(index, bytes);
  if (status) {
    if (index == pending_model_) {
      pending_model_ = -1;
      ++model_generation_;
    } else if (previous >= 0) {
      catalog_.activate(previous);  // an answer to an older request: keep it cached, keep what is shown
    }
  } else {
    weights_failed(index, status.error().to_string(), status.error().code);
    return;
  }
  services_.state_changed();
}

void App::weights_failed(int index, const std::string& why, ErrorCode code) {
  if (index < 0 || std::size_t(index) >= catalog_.entries().size()) return;
  preloading_.erase(index);
  const ModelEntry& entry = catalog_.entries()[std::size_t(index)];
  last_error_ = why;
  std::string message = format_text(tr("Could not load model %s (weights/%s): %s"), entry.name.c_str(), entry.file.c_str(),
                                    explained(code, why).c_str());
  const int fallback = catalog_.default_index();
  if (index == pending_model_) {
    pending_model_ = -1;
    if (catalog_.has_model()) {
      message = then(message, format_text(tr("Still using %s."), catalog_.active_entry()->name.c_str()));
    } else if (fallback >= 0 && fallback != index) {
      message = then(message, format_text(tr("Loading the default model, %s, instead."),
                                          catalog_.entries()[std::size_t(fallback)].name.c_str()));
      add_message(message);
      request_model(fallback);
      return;
    }
  }
  add_message(message);
  services_.state_changed();
}

void App::preload_model(int index) {
  if (index < 0 || std::size_t(index) >= catalog_.entries().size() || catalog_.is_loaded(index) ||
      index == pending_model_ || preloading_.count(index) || catalog_.entries()[std::size_t(index)].user_file)
    return;
  preloading_.insert(index);
  services_.fetch_weights(index, catalog_.entries()[std::size_t(index)]);  // may answer at once
}

void App::asset_arrived(const std::string& path, ByteSpan bytes) {
  assets_.arrived(path, std::vector<std::uint8_t>(bytes.data, bytes.data + bytes.size));
  services_.state_changed();
}

void App::asset_failed(const std::string& path, const std::string& why) {
  assets_.failed(path, why);
  services_.state_changed();
}

void App::set_panels(const std::vector<PanelId>& panels) {
  std::vector<PanelId> shown;
  for (PanelId id : panels) {
    bool known = false, seen = false;
    for (const PanelInfo& panel : panel_list()) known = known || panel.id == id;
    for (PanelId other : shown) seen = seen || other == id;
    if (known && !seen) shown.push_back(id);
  }
  if (shown.empty() || hand_over_to_teaching_build(shown)) return;
  options_.panels = std::move(shown);
  services_.state_changed();
}

bool App::hand_over_to_teaching_build(const std::vector<PanelId>& panels) {
  if (panel_factory_) return false;
  bool teaching = false;
  for (PanelId id : panels) teaching = teaching || is_teaching_panel(id);
  if (!teaching) return false;
  services_.open_teaching_build(query_for(panels));
  return true;
}

std::string App::share_query() const { return query_for(options_.panels); }

std::string App::query_for(const std::vector<PanelId>& panels) const {
  std::string names;
  for (PanelId id : panels) names += (names.empty() ? "" : ",") + std::string(panel_info(id).name);
  std::string query = "panels=" + names;
  const std::string& model = catalog_.has_model() && !catalog_.active_entry()->user_file
                                 ? catalog_.active_entry()->name : options_.model;
  if (!model.empty()) query += "&model=" + model;
  if (options_.embed) query += "&embed=1";
  if (options_.theme == Theme::dark) query += "&theme=dark";
  if (current_language() != Language::english) query += std::string("&lang=") + language_code(current_language());
  char stroke[32];
  std::snprintf(stroke, sizeof stroke, "&stroke=%.3g", double(options_.stroke_width) * 100.0);
  query += stroke;
  const std::string code = encode_drawing(drawing_.strokes());
  if (!code.empty()) query += "&drawing=" + code;  // base64url and '.': nothing to escape
  return query;
}

TeachingPanel* App::teaching_panel(PanelId id) {
  const std::size_t slot = std::size_t(id);
  if (slot >= teaching_.size() || !panel_factory_) return nullptr;
  if (!teaching_[slot]) teaching_[slot] = panel_factory_(id);
  return teaching_[slot].get();
}

bool App::activations_wanted() const {
  for (PanelId id : options_.panels) {
    const std::size_t slot = std::size_t(id);
    if (slot < teaching_.size() && teaching_[slot] && teaching_[slot]->wants_activations()) return true;
  }
  return false;
}

Status App::open_user_file(const std::string& file_name, ByteSpan bytes, const std::string& label) {
  int index = -1;
  Status status = catalog_.load_user_file(file_name, bytes, &index, label);
  if (status) {
    pending_model_ = -1;
    last_error_.clear();
    ++model_generation_;
    services_.state_changed();
  } else {
    user_file_failed(file_name, status.error().to_string(), status.error().code);
  }
  return status;
}

void App::user_file_failed(const std::string& file_name, const std::string& error_text, ErrorCode code) {
  last_error_ = error_text;
  std::string message = format_text(tr("%s was not loaded: %s"), file_name.c_str(), explained(code, error_text).c_str());
  if (catalog_.has_model())
    message = then(message, format_text(tr("The model in use is still %s."), catalog_.active_entry()->name.c_str()));
  add_message(message);
  services_.state_changed();
}

bool App::select_model(const std::string& name, std::string* why) {
  const int index = catalog_.find(name);
  if (index < 0) {
    if (why) *why = format_text(tr("there is no model named '%s'"), name.substr(0, 40).c_str());
    return false;
  }
  request_model(index);
  return true;
}

void App::add_message(std::string text) {
  if (!messages_.empty() && messages_.back() == text) return;
  messages_.push_back(std::move(text));
  if (messages_.size() > kMaxMessages) messages_.erase(messages_.begin());
}

// ---- input --------------------------------------------------------------------------------------------

void App::pointer_down(float x, float y) {
  if (!drawing_accepts_input_ || !drawing_rect_.contains(x, y) || drawing_rect_.width <= 0.f) return;
  // A stroke keeps the area it started in: if the layout changes under it (a resize), it does not jump.
  stroke_rect_ = drawing_rect_;
  drawing_.begin_stroke({(x - stroke_rect_.x) / stroke_rect_.width, (y - stroke_rect_.y) / stroke_rect_.height},
                        options_.stroke_width);
}

// The prediction follows the pen at once (throttled to every kPredictEverySeconds while a stroke is drawn),
// not at the next frame: where frames are slow (a software renderer takes 30-80 ms for one) the page's
// state and its live region still answer within milliseconds; the panels show it in the next frame.
void App::pointer_move(float x, float y) {
  if (!drawing_.stroke_in_progress() || stroke_rect_.width <= 0.f) return;
  drawing_.extend_stroke({(x - stroke_rect_.x) / stroke_rect_.width, (y - stroke_rect_.y) / stroke_rect_.height});
  predict_if_needed();
}

void App::pointer_up(float x, float y) {
  if (!drawing_.stroke_in_progress()) return;
  pointer_move(x, y);
  drawing_.end_stroke();
  predict_if_needed();
}

void App::undo() { drawing_.undo(); }
void App::clear() { drawing_.clear(); }

// ---- prediction -----------------------------------------------------------------------------------------

void App::predict_if_needed() {
  if (!catalog_.has_model()) return;
  const bool keep_activations = activations_wanted();
  if (drawing_.revision() == predicted_revision_ && model_generation_ == predicted_generation_ &&
      (predicted_activations_ || !keep_activations))
    return;
  const double started = services_.now_seconds();
  if (drawing_.stroke_in_progress() && model_generation_ == predicted_generation_ &&
      started - last_prediction_time_ < kPredictEverySeconds)
    return;

  predicted_revision_ = drawing_.revision();
  predicted_generation_ = model_generation_;
  predicted_activations_ = keep_activations;
  last_prediction_time_ = started;
  const Model& model = catalog_.active().model;
  Result<Preprocessed> preprocessed = preprocess_canvas(drawing_.canvas(), model.card);
  if (!preprocessed) {
    empty_ = true;
    prediction_ = Prediction{};
    preprocessed_.image28.assign(28 * 28, 0.f);
    if (preprocessed.error().code != ErrorCode::empty_input)
      add_message(format_text(tr("The drawing could not be prepared for the model: %s"), preprocessed.error().to_string().c_str()));
    services_.state_changed();
    return;
  }
  preprocessed_ = std::move(preprocessed).value();
  Result<Prediction> prediction = forward(model, preprocessed_.input.data(), preprocessed_.input.size(), keep_activations);
  if (!prediction) {
    empty_ = true;
    prediction_ = Prediction{};
    add_message(format_text(tr("Model %s cannot run on a 28x28 drawing: %s"), catalog_.active_entry()->name.c_str(),
                            prediction.error().to_string().c_str()));
    services_.state_changed();
    return;
  }
  prediction_ = std::move(prediction).value();
  empty_ = false;
  latency_ms_ = (services_.now_seconds() - started) * 1000.0;
  if (latencies_ms_.size() >= 2000) latencies_ms_.erase(latencies_ms_.begin(), latencies_ms_.begin() + 1000);
  latencies_ms_.push_back(float(latency_ms_));  // the recent ones: state_json() sorts them for the summary
  ++prediction_count_;
  services_.state_changed();
}

int App::runner_up() const {
  int second = -1;
  for (std::size_t i = 0; i < prediction_.probabilities.size(); ++i)
    if (int(i) != prediction_.label && (second < 0 || prediction_.probabilities[i] > prediction_.probabilities[std::size_t(second)]))
      second = int(i);
  return second >= 0 && prediction_.probabilities[std::size_t(second)] >= kSecondShownFrom ? second : -1;
}

std::string App::class_name(int label) const {
  if (catalog_.has_model()) {
    const std::vector<std::string>& names = catalog_.active().model.card.class_names;
    if (label >= 0 && std::size_t(label) < names.size() && !names[std::size_t(label)].empty())
      return names[std::size_t(label)];
  }
  return std::to_string(label);
}

// ---- frame and layout ---------------------------------------------------------------------------------

void App::set_ui_scale(float scale) {
  ui_scale_ = std::clamp(scale, 0.5f, 4.f);
  const AppFonts fonts = build_fonts(ui_scale_);  // app/fonts.hpp: with the shown language's glyphs
  font_big_ = fonts.big;
  apply_theme();
}

void App::apply_theme() {
  ImGuiStyle& style = ImGui::GetStyle();
  style = ImGuiStyle();
  if (options_.theme == Theme::dark) {
    ImGui::StyleColorsDark(&style);
  } else {
    ImGui::StyleColorsLight(&style);
  }
  style.WindowRounding = 0.f;
  style.WindowBorderSize = 1.f;
  style.FrameRounding = 3.f;
  style.ScaleAllSizes(ui_scale_);
}

// Panels that update at most every 0.1-0.2 s while a stroke is drawn (prediction, preprocess, number,
// compare) have caught up this long after the last change.
constexpr double kSettleSeconds = 0.3;

bool App::busy() const {
  if (services_.now_seconds() - changed_at_ < kSettleSeconds) return true;
  if (catalog_.has_model() && !drawing_.empty() &&
      (predicted_revision_ != drawing_.revision() || predicted_generation_ != model_generation_))
    return true;
  for (PanelId id : options_.panels) {
    const std::size_t slot = std::size_t(id);
    if (slot < teaching_.size() && teaching_[slot] && teaching_[slot]->busy()) return true;
  }
  return false;
}

void App::frame() {
  ++frames_drawn_;
  if (drawing_.revision() != seen_revision_ || model_generation_ != seen_generation_) {
    seen_revision_ = drawing_.revision();
    seen_generation_ = model_generation_;
    changed_at_ = services_.now_seconds();
  }
  predict_if_needed();

  const ImGuiIO& io = ImGui::GetIO();
  const float width = io.DisplaySize.x, height = io.DisplaySize.y;
  float top = 0.f;
  if (!options_.embed) {
    draw_panels_menu();
    top = menu_height_;
  }
  if (!messages_.empty()) {
    draw_messages(width, top);
    top += banner_height_;
  } else {
    banner_height_ = 0.f;
  }
  canvas_drawn_ = false;

  const float gap = options_.embed ? 0.f : std::round(4.f * ui_scale_);
  const std::vector<Rect> rects =
      layout_panels(options_.panels, {0.f, top, width, std::max(1.f, height - top)}, gap);
  ImGuiWindowFlags flags = ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoResize | ImGuiWindowFlags_NoCollapse |
                           ImGuiWindowFlags_NoSavedSettings | ImGuiWindowFlags_NoBringToFrontOnFocus;
  if (options_.embed) flags |= ImGuiWindowFlags_NoTitleBar;
  bool drawing_shown = false;
  const std::vector<PanelId> panels = options_.panels;  // the Panels menu may change them mid-frame
  for (std::size_t i = 0; i < panels.size(); ++i) {
    const PanelInfo& panel = panel_info(panels[i]);
    ImGui::SetNextWindowPos(ImVec2(rects[i].x, rects[i].y), ImGuiCond_Always);
    ImGui::SetNextWindowSize(ImVec2(rects[i].width, rects[i].height), ImGuiCond_Always);
    // The drawing area must not move under the pen: its panel never scrolls (nor does the 28x28 image's).
    const bool fixed = panel.id == PanelId::draw || panel.id == PanelId::input;
    const ImGuiWindowFlags panel_flags =
        flags | (fixed ? ImGuiWindowFlags_NoScrollbar | ImGuiWindowFlags_NoScrollWithMouse : 0);
    // The title is translated, the window's ID is the panel's URL name (the same in every language).
    const std::string title = widgets::labelled(tr(panel.title), panel.name);
    if (ImGui::Begin(title.c_str(), nullptr, panel_flags)) draw_panel(panel.id);
    ImGui::End();
    drawing_shown = drawing_shown || panel.id == PanelId::draw;
  }
  if (!drawing_shown && !canvas_drawn_) drawing_rect_ = {};

  // Keyboard: Ctrl+Z undoes a stroke, Escape clears (not while typing into a widget).
  if (!io.WantTextInput) {
    if (io.KeyCtrl && ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Z), false)) undo();
    if (ImGui::IsKeyPressed(ImGui::GetKeyIndex(ImGuiKey_Escape), false)) clear();
  }
  drawing_accepts_input_ =
      started_ && !ImGui::IsPopupOpen(nullptr, ImGuiPopupFlags_AnyPopupId | ImGuiPopupFlags_AnyPopupLevel);
}

void App::draw_panels_menu() {
  menu_height_ = 0.f;
  copy_link_rect_ = {};
  if (!ImGui::BeginMainMenuBar()) return;
  menu_height_ = ImGui::GetWindowSize().y;
  if (ImGui::BeginMenu(widgets::labelled(tr("Panels"), "panels").c_str())) {
    if (ImGui::MenuItem(tr("The demo (draw, prediction, input, model)"))) {
      std::vector<PanelId> demo;
      for (const PanelInfo& panel : panel_list())
        if (panel.in_default) demo.push_back(panel.id);
      set_panels(demo);
    }
    ImGui::Separator();
    for (const PanelInfo& panel : panel_list()) {
      bool shown = false;
      for (PanelId id : options_.panels) shown = shown || id == panel.id;
      if (ImGui::MenuItem(tr(panel.title), nullptr, shown)) {
        std::vector<PanelId> next;
        for (PanelId id : options_.panels)
          if (id != panel.id) next.push_back(id);
        if (!shown) next.push_back(panel.id);
        set_panels(next);  // the last one cannot be hidden (an empty list is ignored)
      }
      if (ImGui::IsItemHovered()) ImGui::SetTooltip(tr("%s  (URL: panels=%s)"), tr(panel.summary), panel.name);
    }
    ImGui::EndMenu();
  }
  if (ImGui::BeginMenu(widgets::labelled(tr("Lessons"), "lessons").c_str())) {
    struct Lesson {
      const char* title;  // tr() when shown (so a literal here is read in the shown language)
      std::vector<PanelId> panels;
    };
    const Lesson lessons[] = {
        {tr("Inside the network"), {PanelId::draw, PanelId::network, PanelId::prediction}},
        {tr("Why preprocessing matters"), {PanelId::draw, PanelId::preprocess}},
        {tr("Activation functions"), {PanelId::activations}},
        {tr("Where the model goes wrong"), {PanelId::explorer, PanelId::confusion}},
        {tr("How it was trained"), {PanelId::training, PanelId::model}},
        {tr("Models side by side"), {PanelId::draw, PanelId::compare}},
        {tr("Write a whole number"), {PanelId::draw, PanelId::number}},
    };
    for (const Lesson& lesson : lessons)
      if (ImGui::MenuItem(lesson.title)) set_panels(lesson.panels);
    ImGui::EndMenu();
  }
  if (ImGui::MenuItem(widgets::labelled(tr("Copy link"), "copy_link").c_str())) services_.copy_link(share_query());
  const ImVec2 item_min = ImGui::GetItemRectMin(), item_max = ImGui::GetItemRectMax();
  copy_link_rect_ = {item_min.x, item_min.y, item_max.x - item_min.x, item_max.y - item_min.y};
  ImGui::EndMainMenuBar();
}

void App::draw_messages(float width, float top) {
  ImGui::SetNextWindowPos(ImVec2(0.f, top), ImGuiCond_Always);
  ImGui::SetNextWindowSizeConstraints(ImVec2(width, 0.f), ImVec2(width, FLT_MAX));
  const ImGuiWindowFlags flags = ImGuiWindowFlags_NoDecoration | ImGuiWindowFlags_AlwaysAutoResize |
                                 ImGuiWindowFlags_NoMove | ImGuiWindowFlags_NoSavedSettings |
                                 ImGuiWindowFlags_NoFocusOnAppearing;
  if (ImGui::Begin("Messages", nullptr, flags)) {
    const ImGuiStyle& style = ImGui::GetStyle();
    const std::string dismiss = widgets::labelled(tr("Dismiss"), "dismiss");
    const float button_width = ImGui::CalcTextSize(dismiss.c_str(), nullptr, true).x + style.FramePadding.x * 2.f;
    ImGui::PushTextWrapPos(width - button_width - style.WindowPadding.x * 2.f - style.ItemSpacing.x);
    ImGui::PushStyleColor(ImGuiCol_Text, warning_color(options_.theme));
    for (const std::string& message : messages_) ImGui::TextWrapped("%s", message.c_str());
    ImGui::PopStyleColor();
    ImGui::PopTextWrapPos();
    ImGui::SetCursorPos(ImVec2(width - button_width - style.WindowPadding.x, style.WindowPadding.y));
    if (ImGui::Button(dismiss.c_str())) messages_.clear();
    banner_height_ = ImGui::GetWindowSize().y;
  }
  ImGui::End();
}

void App::draw_panel(PanelId id) {
  switch (id) {
    case PanelId::draw: draw_drawing_panel(); break;
    case PanelId::prediction: draw_prediction_panel(); break;
    case PanelId::input: draw_input_panel(); break;
    case PanelId::model: draw_model_panel(); break;
    default: break;
  }
  // A teaching panel, or what the lab build adds to one of the demo's (the model panel's downloads).
  if (TeachingPanel* panel = teaching_panel(id)) {
    PanelContext context{options_,
                         ui_scale_,
                         font_big_,
                         services_.now_seconds(),
                         catalog_,
                         model_generation_,
                         drawing_,
                         catalog_.has_model() && !empty_,
                         preprocessed_,
                         prediction_,
                         assets_,
                         [this](int index) { preload_model(index); },
                         [this](int index) { request_model(index); },
                         [this](float side) { draw_canvas(side); },
                         std::find(options_.panels.begin(), options_.panels.end(), PanelId::draw) !=
                             options_.panels.end(),
                         [this](std::string text) { add_message(std::move(text)); },
                         this};
    panel->draw(context);
  }
}

// ---- panels -------------------------------------------------------------------------------------------

void App::draw_drawing_panel() {
  float percent = options_.stroke_width * 100.f;
  ImGui::SetNextItemWidth(std::round(110.f * ui_scale_));
  if (ImGui::SliderFloat(widgets::labelled(tr("Pen"), "pen").c_str(), &percent, kMinStrokePercent, kMaxStrokePercent, "%.0f %%"))
    options_.stroke_width = percent / 100.f;
  ImGui::SameLine();
  if (ImGui::Button(widgets::labelled(tr("Undo"), "undo").c_str())) undo();
  ImGui::SameLine();
  if (ImGui::Button(widgets::labelled(tr("Clear"), "clear").c_str())) clear();

  const ImVec2 available = ImGui::GetContentRegionAvail();
  const float side = std::max(16.f, std::floor(std::min(available.x, available.y)));
  ImGui::SetCursorPosX(ImGui::GetCursorPosX() + std::max(0.f, std::floor((available.x - side) * 0.5f)));
  draw_canvas(side);
}

// The paper and the strokes, side x side at the cursor. The first call in a frame takes pointer input.
void App::draw_canvas(float side) {
  side = std::max(16.f, std::floor(side));
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const ImVec2 p1(p0.x + side, p0.y + side);
  ImGui::InvisibleButton("drawing area", ImVec2(side, side));
  if (!canvas_drawn_) drawing_rect_ = {p0.x, p0.y, side, side};
  canvas_drawn_ = true;

  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  draw_list->PushClipRect(p0, p1, true);
  draw_list->AddRectFilled(p0, p1, paper_color());
  if (drawing_.empty()) {
    const char* hint = tr("Draw a digit here");
    const ImVec2 size = ImGui::CalcTextSize(hint);
    draw_list->AddText(ImVec2(p0.x + (side - size.x) * 0.5f, p0.y + (side - size.y) * 0.5f),
                       IM_COL32(150, 150, 150, 255), hint);
  }
  for (const Stroke& stroke : drawing_.strokes()) draw_stroke(draw_list, stroke, p0, side);
  draw_list->AddRect(p0, p1, ImGui::GetColorU32(ImGuiCol_Border));
  draw_list->PopClipRect();
}

// A stroke as the raster has it (drawing.cpp: capsules, round ends), drawn cheaply: one thick polyline per
// run of gentle turns, a disc at both ends and at each sharp turn. A disc at every point looked the same
// but cost a software renderer (and slow phones) a frame rate that fell as the stroke grew.
void App::draw_stroke(ImDrawList* draw_list, const Stroke& stroke, ImVec2 origin, float side) {
  const float radius = 0.5f * stroke.width * side;
  const std::vector<Point>& points = stroke.points;
  auto at = [&](std::size_t i) { return ImVec2(origin.x + points[i].x * side, origin.y + points[i].y * side); };
  draw_list->AddCircleFilled(at(0), radius, ink_color());
  if (points.size() < 2) return;
  draw_list->AddCircleFilled(at(points.size() - 1), radius, ink_color());
  std::size_t run_start = 0;
  for (std::size_t i = 1; i < points.size(); ++i) {
    bool sharp = false;
    if (i + 1 < points.size()) {
      const float ax = points[i].x - points[i - 1].x, ay = points[i].y - points[i - 1].y;
      const float bx = points[i + 1].x - points[i].x, by = points[i + 1].y - points[i].y;
      const float lengths = std::sqrt((ax * ax + ay * ay) * (bx * bx + by * by));
      sharp = lengths > 0.f && (ax * bx + ay * by) < 0.85f * lengths;  // turns of more than about 30 degrees
    }
    if (!sharp && i + 1 < points.size()) continue;
    for (std::size_t k = run_start; k <= i; ++k) draw_list->PathLineTo(at(k));
    draw_list->PathStroke(ink_color(), ImDrawFlags_None, 2.f * radius);
    if (sharp) draw_list->AddCircleFilled(at(i), radius, ink_color());
    run_start = i;
  }
}

void App::draw_prediction_panel() {
  if (!catalog_.has_model()) {
    if (pending_model_ >= 0)
      ImGui::TextWrapped(tr("Loading model %s ..."), catalog_.entries()[std::size_t(pending_model_)].name.c_str());
    else
      ImGui::TextWrapped(tr("No model is loaded, so nothing can be predicted. %s"), services_.open_files_hint());
    return;
  }
  if (empty_) {
    ImGui::TextWrapped("%s", tr("Draw a digit (0 to 9): the prediction appears here while you draw."));
    return;
  }
  const int label = prediction_.label;
  const float top = label >= 0 && std::size_t(label) < prediction_.probabilities.size()
                        ? prediction_.probabilities[std::size_t(label)] : 0.f;
  const bool unsure = top < kUnsureBelow;
  const std::string name = tr(class_name(label));

  ImGui::PushFont(font_big_);
  const bool fits = ImGui::CalcTextSize(name.c_str()).x < ImGui::GetContentRegionAvail().x * 0.7f;
  if (!fits) ImGui::PopFont();
  if (unsure) ImGui::PushStyleColor(ImGuiCol_Text, warning_color(options_.theme));
  ImGui::TextUnformatted(name.c_str());
  if (unsure) ImGui::PopStyleColor();
  if (fits) ImGui::PopFont();
  ImGui::SameLine();
  ImGui::BeginGroup();
  const int second = runner_up();
  if (unsure) {
    ImGui::TextColored(warning_color(options_.theme), "%s", tr("? unsure"));
    if (second >= 0)  // what the model hesitates between
      ImGui::TextWrapped(tr("%s %s or %s %s"), name.c_str(), percent_text(top).c_str(), tr(class_name(second)),
                         percent_text(prediction_.probabilities[std::size_t(second)]).c_str());
    else
      ImGui::TextWrapped(tr("only %s for %s"), percent_text(top).c_str(), name.c_str());
  } else {
    ImGui::Text(tr("%s sure"), percent_text(top).c_str());
  }
  ImGui::TextDisabled("%.2f ms", latency_ms_);
  ImGui::EndGroup();

  // Ten bars, one row each, drawn directly so that they fit the panel's height.
  float label_width = 0.f;
  for (std::size_t i = 0; i < prediction_.probabilities.size(); ++i)
    label_width = std::max(label_width, ImGui::CalcTextSize(tr(class_name(int(i)))).x);
  const ImGuiStyle& style = ImGui::GetStyle();
  const std::size_t count = prediction_.probabilities.size();
  const ImVec2 available = ImGui::GetContentRegionAvail();
  const float text_height = ImGui::GetTextLineHeight();
  const float row = std::clamp(available.y / float(std::max<std::size_t>(count, 1)), text_height + 2.f,
                               text_height * 2.2f);
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::Dummy(ImVec2(available.x, row * float(count)));
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const float bar_x = origin.x + label_width + style.ItemSpacing.x;
  const float bar_width = std::max(10.f, origin.x + available.x - bar_x);
  const ImU32 text_color = ImGui::GetColorU32(ImGuiCol_Text);
  const ImU32 track_color = ImGui::GetColorU32(ImGuiCol_FrameBg);
  const ImU32 bar_color = ImGui::GetColorU32(ImGuiCol_PlotHistogram, 0.55f);
  const ImU32 top_color = ImGui::ColorConvertFloat4ToU32(unsure ? warning_color(options_.theme)
                                                                : ImGui::GetStyleColorVec4(ImGuiCol_ButtonActive));
  for (std::size_t i = 0; i < count; ++i) {
    const float p = std::clamp(prediction_.probabilities[i], 0.f, 1.f);
    const float y = origin.y + row * float(i);
    const float bar_height = row - std::max(2.f, row * 0.2f);
    const float bar_y = y + (row - bar_height) * 0.5f;
    const std::string name_i = tr(class_name(int(i)));
    draw_list->AddText(ImVec2(origin.x + label_width - ImGui::CalcTextSize(name_i.c_str()).x,
                              y + (row - text_height) * 0.5f), text_color, name_i.c_str());
    draw_list->AddRectFilled(ImVec2(bar_x, bar_y), ImVec2(bar_x + bar_width, bar_y + bar_height), track_color);
    draw_list->AddRectFilled(ImVec2(bar_x, bar_y), ImVec2(bar_x + bar_width * p, bar_y + bar_height),
                             int(i) == label ? top_color : bar_color);
    char overlay[16];
    std::snprintf(overlay, sizeof overlay, "%.1f %%", double(p) * 100.0);
    draw_list->AddText(ImVec2(bar_x + style.FramePadding.x, y + (row - text_height) * 0.5f), text_color, overlay);
  }
}

void App::draw_input_panel() {
  ImGui::TextDisabled("%s", tr("28 x 28, as the model sees it"));
  const ImVec2 available = ImGui::GetContentRegionAvail();
  const float side = std::max(28.f, std::floor(std::min(available.x, available.y) / 28.f) * 28.f);
  const float cell = side / 28.f;
  ImGui::SetCursorPosX(ImGui::GetCursorPosX() + std::max(0.f, std::floor((available.x - side) * 0.5f)));
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::Dummy(ImVec2(side, side));
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  draw_list->AddRectFilled(p0, ImVec2(p0.x + side, p0.y + side), IM_COL32(0, 0, 0, 255));
  if (!empty_ && preprocessed_.image28.size() == 28 * 28) {
    for (int y = 0; y < 28; ++y) {
      for (int x = 0; x < 28; ++x) {
        const float v = std::clamp(preprocessed_.image28[std::size_t(y * 28 + x)], 0.f, 1.f);
        if (v <= 0.f) continue;
        const int level = int(std::lround(v * 255.f));
        const ImVec2 a(p0.x + float(x) * cell, p0.y + float(y) * cell);
        draw_list->AddRectFilled(a, ImVec2(a.x + cell, a.y + cell), IM_COL32(level, level, level, 255));
      }
    }
  } else {
    const char* text = tr("empty");
    const ImVec2 size = ImGui::CalcTextSize(text);
    draw_list->AddText(ImVec2(p0.x + (side - size.x) * 0.5f, p0.y + (side - size.y) * 0.5f),
                       IM_COL32(120, 120, 120, 255), text);
  }
}

void App::draw_model_panel() {
  const std::vector<ModelEntry>& entries = catalog_.entries();
  if (entries.empty()) ImGui::TextWrapped("%s", tr("weights/manifest.json lists no models."));
  for (std::size_t i = 0; i < entries.size(); ++i) {
    const ModelEntry& entry = entries[i];
    std::string label = entry.label.empty() ? entry.name : entry.label;
    if (entry.is_default) label += tr("  (default)");
    if (entry.user_file && entry.label.empty()) label += tr("  (your file)");
    if (int(i) == pending_model_) label += tr("  loading...");
    label += "##model" + std::to_string(i);
    if (ImGui::Selectable(label.c_str(), int(i) == catalog_.active_index()) && int(i) != catalog_.active_index())
      request_model(int(i));
  }
  ImGui::Separator();
  if (const ModelEntry* entry = catalog_.active_entry()) {
    const LoadedWeights& loaded = catalog_.active();
    ImGui::Text(tr("Architecture: %s"), entry->architecture.c_str());
    ImGui::Text(tr("Dataset: %s"), entry->dataset.c_str());
    ImGui::Text(tr("Test accuracy: %s"), format_accuracy(entry->test_accuracy).c_str());
    ImGui::Text(tr("Size: %s, %s"), format_bytes(entry->bytes).c_str(), entry->dtype.c_str());
    ImGui::Text(tr("Parameters: %lld"), static_cast<long long>(parameter_count(loaded.model)));
    if (!loaded.model.card.recipe.empty()) ImGui::TextWrapped(tr("Trained: %s"), loaded.model.card.recipe.c_str());
    if (loaded.has_self_test)
      ImGui::Text(tr("Self-test: passed (largest difference %.2g)"), double(loaded.self_test_max_abs_diff));
    if (entry->user_file && pytorch::is_imported(loaded.model.card)) draw_import_assumptions();
  }
  ImGui::Spacing();
  if (services_.can_open_files() && ImGui::Button(widgets::labelled(tr("Open weights file..."), "open_file").c_str()))
    services_.open_file_picker();
  ImGui::TextWrapped("%s", services_.open_files_hint());
  if (!last_error_.empty()) {
    ImGui::PushStyleColor(ImGuiCol_Text, error_color(options_.theme));
    ImGui::TextWrapped(tr("Last file rejected: %s"), last_error_.c_str());
    ImGui::PopStyleColor();
  }
}

namespace {
bool is_elementwise_activation(LayerKind kind) {
  return kind == LayerKind::relu || kind == LayerKind::sigmoid || kind == LayerKind::tanh || kind == LayerKind::leaky_relu;
}
}  // namespace

void App::draw_import_assumptions() {
  const Model& model = catalog_.active().model;
  // The normalisations people use: the tutorial's, PyTorch's MNIST example's, and none.
  struct Normalization { float mean, std_dev; const char* label; };
  const Normalization normalizations[] = {{0.5f, 0.5f, tr("Normalize(0.5, 0.5): the tutorial's")},
                                          {0.1307f, 0.3081f, tr("Normalize(0.1307, 0.3081): PyTorch's MNIST example")},
                                          {0.f, 1.f, tr("none: pixels in [0, 1]")}};
  struct Activation { LayerKind kind; const char* label; };
  static const Activation activations[] = {{LayerKind::relu, "ReLU"}, {LayerKind::sigmoid, "sigmoid"},
                                           {LayerKind::tanh, "tanh"}, {LayerKind::leaky_relu, "leaky ReLU"}};
  LayerKind current = LayerKind::relu;
  bool has_linear_activation = false;  // an activation right after a linear layer (what a state_dict cannot say)
  for (std::size_t i = 1; i < model.layers.size(); ++i)
    if (is_elementwise_activation(model.layers[i].kind) && model.layers[i - 1].kind == LayerKind::linear) {
      current = model.layers[i].kind;
      has_linear_activation = true;
    }
  ImGui::Spacing();
  ImGui::TextWrapped("%s", tr("Not in the PyTorch file, so assumed (change them if your model used others):"));
  ImGui::TextUnformatted(tr("Input normalisation:"));
  float mean = model.card.normalize_mean, std_dev = model.card.normalize_std;
  bool changed = false;
  for (const Normalization& n : normalizations)
    // Selectables rather than radio buttons: the demo links them already (its download budget).
    if (ImGui::Selectable(n.label, mean == n.mean && std_dev == n.std_dev) && !(mean == n.mean && std_dev == n.std_dev)) {
      mean = n.mean, std_dev = n.std_dev;
      changed = true;
    }
  LayerKind wanted = current;
  if (has_linear_activation) {
    ImGui::TextUnformatted(tr("Between the linear layers:"));
    for (std::size_t i = 0; i < sizeof activations / sizeof activations[0]; ++i) {
      if (i) ImGui::SameLine();
      const ImVec2 size(ImGui::CalcTextSize(activations[i].label).x, 0.f);
      if (ImGui::Selectable(activations[i].label, current == activations[i].kind, 0, size) &&
          current != activations[i].kind) {
        wanted = activations[i].kind;
        changed = true;
      }
    }
  }
  if (changed) (void)set_import_assumptions(mean, std_dev, wanted);
}

Status App::set_import_assumptions(float mean, float std_dev, LayerKind activation) {
  const ModelEntry* entry = catalog_.active_entry();
  if (!entry || !entry->user_file || !pytorch::is_imported(catalog_.active().model.card))
    return make_error(ErrorCode::bad_argument, "model", 0, "the model in use was not imported from PyTorch");
  if (!(std_dev > 0.f) || !std::isfinite(mean))
    return make_error(ErrorCode::bad_argument, "normalize", 0, "the normalisation needs a finite mean and a std above 0");
  Model edited = catalog_.active().model;
  edited.card.normalize_mean = mean;
  edited.card.normalize_std = std_dev;
  // The importer's recipe ends with what it assumed: say what holds now.
  std::string& recipe = edited.card.recipe;
  recipe = recipe.substr(0, recipe.find(". Assumed")) +
           format_text(". Assumed, as the file does not say, and changed in the page: input Normalize((%.4g,), (%.4g,)), "
                       "%s after each linear layer.", double(mean), double(std_dev), layer_kind_name(activation));
  for (std::size_t i = 1; i < edited.layers.size(); ++i)
    if (is_elementwise_activation(edited.layers[i].kind) && edited.layers[i - 1].kind == LayerKind::linear)
      edited.layers[i].kind = activation;
  Status replaced = catalog_.replace_active_model(std::move(edited));
  if (!replaced) {
    user_file_failed(catalog_.active_entry()->name, replaced.error().to_string(), replaced.error().code);
    return replaced;
  }
  ++model_generation_;  // the drawing is read again, panels recompute
  services_.state_changed();
  return Ok{};
}

// ---- the state the page reports -------------------------------------------------------------------------

std::string App::model_input_json() const {
  if (empty_ || drawing_.empty() || preprocessed_.image28.size() != 28 * 28) return "null";
  JsonWriter json;
  json.begin_array();
  for (float value : preprocessed_.image28) json.number(value);
  json.end_array();
  return json.text();
}

std::string App::status_sentence() const {
  if (!catalog_.has_model()) return pending_model_ >= 0 ? tr("Loading the model.") : tr("No model is loaded.");
  if (empty_ || drawing_.empty()) return tr("The drawing is empty: draw a digit.");
  for (PanelId id : options_.panels) {
    const std::size_t slot = std::size_t(id);
    if (slot >= teaching_.size() || !teaching_[slot]) continue;
    std::string sentence = teaching_[slot]->status_sentence();
    if (!sentence.empty()) return sentence;
  }
  const int label = prediction_.label;
  const float top = label >= 0 && std::size_t(label) < prediction_.probabilities.size()
                        ? prediction_.probabilities[std::size_t(label)] : 0.f;
  const int second = runner_up();
  const std::string shown = format_text(tr("Prediction: %s (%s)"), tr(class_name(label)), percent_text(top).c_str());
  const std::string or_second =
      second < 0 ? shown
                 : format_text(tr("%s or %s (%s)"), shown.c_str(), tr(class_name(second)),
                               percent_text(prediction_.probabilities[std::size_t(second)]).c_str());
  return top < kUnsureBelow ? format_text(tr("%s, unsure"), or_second.c_str()) : or_second;
}

std::string App::state_json() const {
  // An emptied drawing (clear, undo) has no guess at once, before the next frame predicts again.
  const bool predicting = catalog_.has_model() && !empty_ && prediction_.label >= 0 && !drawing_.empty();
  const float top = predicting ? prediction_.probabilities[std::size_t(prediction_.label)] : 0.f;
  JsonWriter json;
  json.begin_object();
  json.key("ready").boolean(catalog_.has_model()).key("loading").boolean(pending_model_ >= 0);
  json.key("model");
  if (catalog_.has_model()) json.string(catalog_.active_entry()->name);
  else json.null();
  json.key("empty").boolean(!predicting);
  json.key("prediction");
  if (predicting) json.integer(prediction_.label);
  else json.null();
  json.key("label");
  if (predicting) json.string(class_name(prediction_.label));
  else json.null();
  json.key("probabilities").begin_array();
  if (predicting)
    for (float probability : prediction_.probabilities) json.number(probability);
  json.end_array();
  json.key("top_probability");
  if (predicting) json.number(top);
  else json.null();
  json.key("unsure").boolean(predicting && top < kUnsureBelow);
  json.key("latency_ms").number(latency_ms_);
  // Preprocess + forward time of every prediction so far (the benchmark reads it).
  std::vector<float> sorted = latencies_ms_;
  std::sort(sorted.begin(), sorted.end());
  auto quantile = [&](double q) { return sorted.empty() ? 0.0 : double(sorted[std::size_t(q * double(sorted.size() - 1))]); };
  json.key("latency_summary_ms").begin_object();
  json.key("median").number(quantile(0.5)).key("p95").number(quantile(0.95));
  json.key("max").number(sorted.empty() ? 0.0 : double(sorted.back())).end_object();
  json.key("predictions").integer(std::int64_t(prediction_count_));
  json.key("frames").integer(std::int64_t(frames_drawn_));
  json.key("strokes").integer(std::int64_t(drawing_.strokes().size()));
  // The shown prediction belongs to the drawing as it is now (tests wait for this after a stroke).
  const bool up_to_date = !catalog_.has_model() || (predicted_revision_ == drawing_.revision() &&
                                                    predicted_generation_ == model_generation_ &&
                                                    !drawing_.stroke_in_progress());
  json.key("up_to_date").boolean(up_to_date);
  json.key("error");
  if (last_error_.empty()) json.null();
  else json.string(last_error_);
  json.key("messages").begin_array();
  for (const std::string& message : messages_) json.string(message);
  json.end_array().key("models").begin_array();
  for (const ModelEntry& entry : catalog_.entries()) json.string(entry.name);
  json.end_array().key("panels").begin_array();
  for (PanelId id : options_.panels) json.string(panel_info(id).name);
  json.end_array().key("available_panels").begin_array();
  for (const PanelInfo& info : panel_list()) json.string(info.name);
  json.end_array();
  json.key("embed").boolean(options_.embed);
  json.key("language").string(language_code(current_language()));
  json.key("drawing_rect").rect(drawing_rect_);
  json.key("copy_link_rect").rect(copy_link_rect_);  // the menu's "Copy link" (none with embed=1)
  json.key("status").string(status_sentence());
  // What each shown teaching panel displays (its own JSON object; docs/embedding.md lists the fields).
  json.key("panel_state").begin_object();
  for (PanelId id : options_.panels) {
    const std::size_t slot = std::size_t(id);
    if (slot >= teaching_.size() || !teaching_[slot]) continue;
    json.key(panel_info(id).name);
    teaching_[slot]->write_state(json);
  }
  json.end_object().end_object();
  return json.text();
}

}  // namespace digitlab::app
