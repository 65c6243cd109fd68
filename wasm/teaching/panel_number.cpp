// The "number" teaching panel (panels.hpp): draw a whole number; the core splits the drawing into digits
// (segment.hpp: connected groups of ink, left to right), reads each one, and the panel shows the number,
// each digit's box over the drawing, the 28x28 image each digit became, its label and confidence.
// Read next: shared/include/digitlab/segment.hpp, tests/app/test_panel_number.cpp.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/i18n.hpp"
#include "digitlab/segment.hpp"
#include "digitlab/text.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"

namespace digitlab::app {

namespace {

// While a stroke is being drawn, read the number at most this often (a finished stroke is read at once).
constexpr double kReadEverySeconds = 0.1;
// The drawing's thumbnail (shown when the draw panel is, so the boxes have something to sit on).
constexpr int kThumbnailSide = 70;

// The model's classes are the digits 0-9 (an MNIST model, or a user file trained on digits).
bool reads_digits(const ModelCard& card) {
  if (card.class_names.size() != 10) return card.class_names.empty() && card.dataset == "mnist";
  for (std::size_t i = 0; i < 10; ++i)
    if (card.class_names[i] != std::to_string(i)) return false;
  return true;
}

int percent(float probability) { return int(std::lround(double(probability) * 100.0)); }

class NumberPanel final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override;
  void write_state(JsonWriter& json) const override;
  std::string status_sentence() const override {
    if (status_ != Status::read || reading_.text.empty()) return "";
    return format_text(reading_.confidence < kUnsureBelow ? tr("Number: %s (%d %%, unsure)") : tr("Number: %s (%d %%)"),
                       reading_.text.c_str(), percent(reading_.confidence));
  }

 private:
  enum class Status { no_model, not_digits, empty, error, read };

  void update(PanelContext& context);
  void draw_boxes(ImVec2 origin, float side) const;
  void draw_thumbnail(float side);
  void draw_reading(PanelContext& context);
  void draw_digits(PanelContext& context);

  // What the reading was made from.
  std::uint64_t read_generation_ = ~0ull, read_revision_ = ~0ull;
  double read_time_ = -1.0;

  Status status_ = Status::no_model;
  std::string model_name_;
  std::string error_;           // Status::error: the core's sentence
  NumberReading reading_;
  int raster_side_ = 280;       // the drawing's raster, for boxes in screen units
  std::vector<float> thumbnail_;  // (kThumbnailSide, kThumbnailSide), the drawing averaged down
  int digit_model_ = -1;          // a catalog entry that reads digits, for the "switch" button
};

void NumberPanel::update(PanelContext& context) {
  const Drawing& drawing = context.drawing;
  if (read_generation_ == context.model_generation && read_revision_ == drawing.revision()) return;
  if (drawing.stroke_in_progress() && read_time_ >= 0 && context.now - read_time_ < kReadEverySeconds) return;
  read_generation_ = context.model_generation;
  read_revision_ = drawing.revision();
  read_time_ = context.now;
  reading_ = NumberReading{};
  error_.clear();

  const Canvas& canvas = drawing.canvas();
  raster_side_ = int(canvas.width);
  thumbnail_.assign(std::size_t(kThumbnailSide) * kThumbnailSide, 0.f);
  const std::int64_t step = std::max<std::int64_t>(1, canvas.width / kThumbnailSide);
  for (std::int64_t y = 0; y < canvas.height; ++y)
    for (std::int64_t x = 0; x < canvas.width; ++x) {
      const std::int64_t tx = x / step, ty = y / step;
      if (tx >= kThumbnailSide || ty >= kThumbnailSide) continue;
      thumbnail_[std::size_t(ty * kThumbnailSide + tx)] += canvas.ink[std::size_t(y * canvas.width + x)] / float(step * step);
    }

  digit_model_ = -1;
  const std::vector<ModelEntry>& entries = context.catalog.entries();
  for (std::size_t i = 0; i < entries.size(); ++i)
    if (entries[i].dataset == "mnist" && (digit_model_ < 0 || entries[i].is_default)) digit_model_ = int(i);

  if (!context.catalog.has_model()) {
    status_ = Status::no_model;
    model_name_.clear();
    return;
  }
  const Model& model = context.catalog.active().model;
  model_name_ = context.catalog.active_entry()->name;
  if (!reads_digits(model.card)) {
    status_ = Status::not_digits;
    return;
  }
  if (drawing.empty()) {
    status_ = Status::empty;
    return;
  }
  auto reading = read_number(model, canvas);
  if (!reading.ok()) {
    status_ = reading.error().code == ErrorCode::empty_input ? Status::empty : Status::error;
    error_ = reading.error().message;
    return;
  }
  status_ = Status::read;
  reading_ = std::move(reading.value());
}

// Each digit's box (and its label) over a picture of the drawing that is side x side at origin.
void NumberPanel::draw_boxes(ImVec2 origin, float side) const {
  if (status_ != Status::read || raster_side_ <= 0) return;
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  const float k = side / float(raster_side_);
  const ImU32 color = ImGui::GetColorU32(ImGuiCol_PlotLinesHovered);
  draw_list->PushClipRect(origin, ImVec2(origin.x + side, origin.y + side), true);
  for (std::size_t i = 0; i < reading_.regions.size(); ++i) {
    const DigitRegion& region = reading_.regions[i];
    const ImVec2 a(origin.x + float(region.x) * k, origin.y + float(region.y) * k);
    const ImVec2 b(a.x + float(region.width) * k, a.y + float(region.height) * k);
    draw_list->AddRect(a, b, color, 0.f, 0, 2.f);
    const Prediction& prediction = reading_.predictions[i];
    char label[32];
    std::snprintf(label, sizeof label, "%d", prediction.label);
    const float text_height = ImGui::GetTextLineHeight();
    const float y = a.y >= origin.y + text_height + 2.f ? a.y - text_height - 1.f : a.y + 2.f;
    draw_list->AddText(ImVec2(a.x + 2.f, y), color, label);
  }
  draw_list->PopClipRect();
}

void NumberPanel::draw_thumbnail(float side) {
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  widgets::gray_image("drawing thumbnail", thumbnail_.data(), kThumbnailSide, kThumbnailSide, side / kThumbnailSide);
  draw_boxes(origin, side);
}

void NumberPanel::draw_reading(PanelContext& context) {
  switch (status_) {
    case Status::no_model:
      ImGui::TextWrapped("%s", tr("No model is loaded yet: wait for it, or pick one in the Model panel."));
      return;
    case Status::not_digits: {
      ImGui::TextWrapped(tr("%s reads clothes (Fashion-MNIST), not digits: switch to an MNIST model to read a number."),
                         model_name_.c_str());
      if (digit_model_ >= 0) {
        const std::string label = format_text(tr("Use %s"), context.catalog.entries()[std::size_t(digit_model_)].name.c_str());
        if (ImGui::Button(label.c_str())) context.select_model(digit_model_);
      }
      return;
    }
    case Status::empty:
      ImGui::TextWrapped("%s", tr("Draw a number of two or more digits, side by side."));
      return;
    case Status::error:
      ImGui::TextWrapped(tr("The drawing could not be split into digits: %s"), error_.c_str());
      return;
    case Status::read: break;
  }

  ImGui::TextUnformatted(tr("The number is"));
  if (context.big_font) ImGui::PushFont(context.big_font);
  ImGui::TextUnformatted(reading_.text.c_str());
  if (context.big_font) ImGui::PopFont();
  ImGui::Text(tr("Confidence %d %%"), percent(reading_.confidence));
  ImGui::TextDisabled("%s", tr("(every digit's probability multiplied)"));
  if (reading_.confidence < 0.6f) ImGui::TextWrapped("%s", tr("Unsure: redraw the digit with the lowest confidence."));
}

// Each digit as the model saw it (its 28x28 input), with its label and confidence; wraps at the edge.
void NumberPanel::draw_digits(PanelContext& context) {
  const ImGuiStyle& style = ImGui::GetStyle();
  ImGui::Spacing();
  ImGui::TextUnformatted(tr("Each digit as the model sees it:"));
  const float cell = std::floor(2.f * context.ui_scale);
  const float item_width = std::max(28.f * cell, ImGui::CalcTextSize("9  100 %").x);
  const float right = ImGui::GetCursorScreenPos().x + ImGui::GetContentRegionAvail().x;
  for (std::size_t i = 0; i < reading_.inputs.size(); ++i) {
    if (i > 0) {
      ImGui::SameLine(0.f, style.ItemSpacing.x * 2.f);
      if (ImGui::GetCursorScreenPos().x + item_width > right) ImGui::NewLine();
    }
    ImGui::PushID(int(i));
    ImGui::BeginGroup();
    widgets::gray_image("digit", reading_.inputs[i].image28.data(), 28, 28, cell);
    const Prediction& prediction = reading_.predictions[i];
    ImGui::Text("%d  %d %%", prediction.label, percent(prediction.probabilities[std::size_t(prediction.label)]));
    ImGui::EndGroup();
    ImGui::PopID();
  }
}

void NumberPanel::draw(PanelContext& context) {
  update(context);
  const float scale = context.ui_scale;
  const ImGuiStyle& style = ImGui::GetStyle();
  const ImVec2 available = ImGui::GetContentRegionAvail();
  const float line = ImGui::GetTextLineHeightWithSpacing();

  // The drawing with each digit's box: the panel's own drawing area when the draw panel is not shown,
  // else a thumbnail of the drawing. Beside it, the number.
  const float reserve = line * 3.f;  // the hint below
  if (!context.draw_panel_shown) {
    const float side = std::floor(std::max(120.f * scale, std::min(available.x * 0.55f, available.y - reserve)));
    const ImVec2 origin = ImGui::GetCursorScreenPos();
    context.draw_canvas(side);
    draw_boxes(origin, side);
  } else {
    const float side = std::floor(std::max(70.f, std::min(available.x * 0.4f, 140.f * scale)));
    draw_thumbnail(side);
  }
  ImGui::SameLine(0.f, style.ItemSpacing.x * 2.f);
  ImGui::BeginGroup();
  ImGui::PushTextWrapPos(0.f);
  draw_reading(context);
  ImGui::PopTextWrapPos();
  if (status_ == Status::read) draw_digits(context);
  ImGui::EndGroup();
  ImGui::Spacing();
  ImGui::PushTextWrapPos(0.f);
  ImGui::TextDisabled("%s", tr("Leave a clear gap between digits: touching digits are read as one. Write them small and side by side; strokes that stand above one another count as one digit."));
  ImGui::PopTextWrapPos();
}

void NumberPanel::write_state(JsonWriter& json) const {
  static const char* const names[] = {"no_model", "not_digits", "empty", "error", "read"};
  json.begin_object();
  json.key("status").string(names[int(status_)]).key("model").string(model_name_).key("text").string(reading_.text);
  json.key("confidence").number(status_ == Status::read ? reading_.confidence : 0.0);
  json.key("digits").begin_array();
  for (std::size_t i = 0; i < reading_.regions.size() && i < reading_.predictions.size(); ++i) {
    const DigitRegion& region = reading_.regions[i];
    const Prediction& prediction = reading_.predictions[i];
    json.begin_object().key("label").integer(prediction.label);
    json.key("confidence").number(prediction.probabilities[std::size_t(prediction.label)]);
    // In the drawing's pixels (the grid digits are cut from), not display units.
    json.key("box").rect({float(region.x), float(region.y), float(region.width), float(region.height)});
    json.end_object();
  }
  json.end_array().key("error").string(error_).end_object();
}

}  // namespace

std::unique_ptr<TeachingPanel> make_number_panel() { return std::make_unique<NumberPanel>(); }

}  // namespace digitlab::app
