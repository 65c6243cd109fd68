// The "preprocess" teaching panel (panels.hpp): the drawing taken to the model's 28x28 input one step at a
// time (raw raster with its bounding box, the box, the 20x20 fit, the centre of mass before the shift,
// the final input), with the model's answer for the input each step would give, and a "skip centring"
// toggle. The work is in preprocess_steps.cpp, cached on (model, drawing, toggle). Read next: preprocess_steps.hpp.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/i18n.hpp"
#include "imgui.h"
#include "teaching/preprocess_steps.hpp"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"

namespace digitlab::app {

namespace {



constexpr ImU32 kBoxColor = IM_COL32(255, 80, 60, 255);     // the bounding box, on the black image
constexpr ImU32 kMarkColor = IM_COL32(80, 200, 255, 255);   // centres

void cross(ImDrawList* draw, ImVec2 at, float size, ImU32 color) {
  draw->AddLine(ImVec2(at.x - size, at.y), ImVec2(at.x + size, at.y), color, 2.f);
  draw->AddLine(ImVec2(at.x, at.y - size), ImVec2(at.x, at.y + size), color, 2.f);
}

class Panel final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override {
    if (ImGui::Checkbox(widgets::labelled(tr("Skip centring (no centre-of-mass shift)"), "skip_centring").c_str(), &skip_centring_))
      key_valid_ = false;
    toggle_box_ = widgets::item_rect();
    const char* why = tr("(MNIST digits were centred this way; see what the model says without it)");
    if (ImGui::GetItemRectMax().x + ImGui::CalcTextSize(why).x + 16.f <=
        ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x) {
      ImGui::SameLine();
      ImGui::TextDisabled("%s", why);
    }

    widgets::canvas_beside(context);
    ImGui::BeginGroup();
    draw_steps(context);
    ImGui::EndGroup();
  }

  void write_state(JsonWriter& json) const override {
    json.begin_object();
    json.key("skip_centring").boolean(skip_centring_);
    json.key("toggle").rect(toggle_box_);
    json.key("error");
    if (error_.empty()) json.null();
    else json.string(error_);
    if (has_steps_) {
      const Preprocessed& p = steps_.centred;
      // In the source image's pixels, not display units.
      json.key("box").rect({float(p.box_x), float(p.box_y), float(p.box_w), float(p.box_h)});
      json.key("center_of_mass").begin_array().number(p.center_x).number(p.center_y).end_array();
      json.key("shift").begin_array().integer(steps_.shift_x).integer(steps_.shift_y).end_array();
      json.key("final").begin_object().key("label").integer(steps_.final_step().label);
      json.key("class").string(class_of(steps_.final_step().label));
      json.key("probability").number(steps_.final_step().probability).key("centred").boolean(!skip_centring_);
      json.end_object();
    }
    json.key("steps").begin_array();
    for (std::size_t i = 0; has_steps_ && i < steps_.steps.size(); ++i) {
      const PreprocessStep& step = steps_.steps[i];
      double ink = 0;
      for (float v : step.image28) ink += v;
      json.begin_object().key("name").string(step.name).key("label").integer(step.label);
      json.key("class").string(class_of(step.label)).key("probability").number(step.probability);
      json.key("ink").number(ink).end_object();
    }
    json.end_array();
    json.end_object();
  }

 private:
  std::string class_of(int label) const {
    if (label >= 0 && std::size_t(label) < class_names_.size()) return class_names_[std::size_t(label)];  // the state's: English
    return label >= 0 ? std::to_string(label) : "?";
  }

  void update(PanelContext& context) {
    const std::uint64_t revision = context.drawing.revision();
    if (key_valid_ && revision == revision_ && context.model_generation == generation_) return;
    // Four forward passes per update: while a stroke is drawn, at most ten updates a second.
    if (key_valid_ && context.model_generation == generation_ && context.drawing.stroke_in_progress() &&
        context.now - computed_at_ < 0.1)
      return;
    key_valid_ = true, revision_ = revision, generation_ = context.model_generation, computed_at_ = context.now;
    has_steps_ = false;
    error_.clear();
    if (!context.catalog.has_model() || context.drawing.empty()) return;
    const Model& model = context.catalog.active().model;
    class_names_ = model.card.class_names;
    Result<PreprocessSteps> steps = preprocess_steps(context.drawing.canvas(), model, skip_centring_);
    if (!steps) {
      if (steps.error().code != ErrorCode::empty_input) error_ = steps.error().to_string();
      return;
    }
    steps_ = std::move(steps).value();
    has_steps_ = true;
  }

  void draw_steps(PanelContext& context) {
    update(context);
    if (!context.catalog.has_model()) {
      ImGui::TextWrapped("%s", tr("No model is loaded yet: pick one in the Model panel (or wait for the default) to see its answer after each step."));
      return;
    }
    if (!error_.empty()) {
      ImGui::TextWrapped(tr("This model cannot take a drawing (it needs a 1x28x28 input): %s"), error_.c_str());
      return;
    }
    if (!has_steps_) {
      ImGui::TextWrapped("%s", tr("Draw a digit: this panel shows how it becomes the 28x28 image the model reads, step by step, and what the model would answer after each step. Try one small and in a corner."));
      return;
    }
    const float scale = context.ui_scale;
    const ImVec2 room = ImGui::GetContentRegionAvail();
    const float spacing = ImGui::GetStyle().ItemSpacing.x;
    const float line = ImGui::GetTextLineHeightWithSpacing();
    // Five columns when there is room, else three then two.
    const int columns = room.x >= 5.f * 130.f * scale ? 5 : 3;
    const int rows = columns == 5 ? 1 : 2;
    const float column_w = std::floor((room.x - spacing * float(columns - 1)) / float(columns));
    const float text_rows = columns == 5 ? 6.f : 8.5f;  // narrow columns wrap their captions more
    const float side = std::floor(std::max(56.f, std::min(column_w, (room.y - 3.f * line) / float(rows) - text_rows * line)));
    const Preprocessed& p = steps_.centred;
    const Canvas& canvas = context.drawing.canvas();
    ImDrawList* draw = ImGui::GetWindowDrawList();
    // The five columns' words (captions with numbers made first), then one plain loop draws them: a generic
    // lambda per column would be a template instantiated five times in the wasm.
    char fit_caption[192], mass_caption[256], final_caption[256];  // room for Chinese (3 bytes a character)
    std::snprintf(fit_caption, sizeof fit_caption, tr("box %lldx%lld scaled so its longer side is 20, aspect kept"),
                  (long long)p.box_w, (long long)p.box_h);
    std::snprintf(mass_caption, sizeof mass_caption,
                  tr("placed by its box; centre of mass (blue) at (%.1f, %.1f), the middle (+) is (14.5, 14.5)"), p.center_x,
                  p.center_y);
    if (skip_centring_) std::snprintf(final_caption, sizeof final_caption, "%s", tr("centring skipped: the image of step 4 as is"));
    else std::snprintf(final_caption, sizeof final_caption, tr("shifted by (%lld, %lld) pixels: what the model reads"),
                       (long long)steps_.shift_x, (long long)steps_.shift_y);
    const char* titles[5] = {tr("1. Raw drawing"), tr("2. Bounding box"), tr("3. Fit into 20x20"), tr("4. Centre of mass"),
                             skip_centring_ ? tr("5. Final (not centred)") : tr("5. Final 28x28")};
    const char* captions[5] = {columns == 5 ? tr("the 280x280 ink and its bounding box (red). Squashed to 28x28, the model gets:")
                                            : tr("the 280x280 ink and its bounding box (red), squashed to 28x28 for the model"),
                               tr("the box alone, stretched to 28x28 (the aspect ratio is lost)"), fit_caption, mass_caption,
                               final_caption};
    const PreprocessStep* predicted[5] = {&steps_.steps[0], &steps_.steps[1], nullptr, &steps_.steps[2], &steps_.final_step()};
    const float k28 = side / 28.f;
    for (int c = 0; c < 5; ++c) {
      if (c % columns) ImGui::SameLine(0.f, spacing);
      ImGui::BeginGroup();
      ImGui::PushID(c);
      ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + column_w);
      ImGui::TextUnformatted(titles[c]);
      const ImVec2 p0 = ImGui::GetCursorScreenPos();
      const ImVec2 middle(p0.x + 14.5f * k28, p0.y + 14.5f * k28);
      if (c == 0) {  // the raw raster (280x280 shown at a lower resolution) with the bounding box
        const int shown = int(std::min<std::int64_t>(canvas.width, std::max(28, int(side / 2.f))));
        const std::vector<float> small = area_resize(canvas, 0, 0, canvas.width, canvas.height, shown, shown);
        widgets::gray_image("image", small.data(), shown, shown, side / float(shown));
        const float k = side / float(canvas.width);
        draw->AddRect(ImVec2(p0.x + float(p.box_x) * k, p0.y + float(p.box_y) * k),
                      ImVec2(p0.x + float(p.box_x + p.box_w) * k, p0.y + float(p.box_y + p.box_h) * k), kBoxColor, 0.f, 0, 2.f);
      } else if (c == 2) {
        widgets::gray_image("image", p.image20.data(), 20, 20, side / 20.f);
      } else {
        widgets::gray_image("image", predicted[c]->image28.data(), 28, 28, k28);
        if (c >= 3) cross(draw, middle, 4.f, IM_COL32(200, 200, 200, 255));
        if (c == 3) cross(draw, ImVec2(p0.x + p.center_x * k28, p0.y + p.center_y * k28), 7.f, kMarkColor);
      }
      ImGui::Dummy(ImVec2(column_w, 1.f));
      if (const PreprocessStep* step = predicted[c]) {
        const bool agrees = step->label == steps_.final_step().label;
        ImGui::Text(tr("Model: %s (%.0f %%)"), tr(class_of(step->label)), 100.0 * step->probability);
        const ImVec2 q = ImGui::GetCursorScreenPos();
        const float bar = column_w * 0.9f;
        draw->AddRectFilled(q, ImVec2(q.x + bar, q.y + 6.f), ImGui::GetColorU32(ImGuiCol_FrameBg));
        draw->AddRectFilled(q, ImVec2(q.x + bar * step->probability, q.y + 6.f),
                            ImGui::GetColorU32(agrees ? ImGuiCol_PlotHistogram : ImGuiCol_PlotLines));
        ImGui::Dummy(ImVec2(bar, 8.f));
      } else {
        ImGui::TextDisabled("%s", tr("(not a model input)"));
        ImGui::Dummy(ImVec2(column_w, 8.f));
      }
      ImGui::TextDisabled("%s", captions[c]);
      if (c == 0 && columns == 5)
        widgets::gray_image("input", steps_.steps[0].image28.data(), 28, 28, std::max(1.f, std::floor(side / 56.f)));
      ImGui::PopTextWrapPos();
      ImGui::PopID();
      ImGui::EndGroup();
    }
    ImGui::Spacing();
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + room.x);
    const PreprocessStep& placed = steps_.steps[2], &centred = steps_.steps[3];
    if (steps_.shift_x == 0 && steps_.shift_y == 0)
      ImGui::TextWrapped("%s", tr("Centring moved nothing: this drawing's centre of mass was already in the middle pixel."));
    else
      ImGui::TextWrapped(tr("Without centring the model reads %s (%.0f %%); centred, %s (%.0f %%). The networks learnt from centred digits, so an off-centre input can change their answer."),
                         tr(class_of(placed.label)), 100.0 * placed.probability, tr(class_of(centred.label)),
                         100.0 * centred.probability);
    ImGui::PopTextWrapPos();
  }

  bool skip_centring_ = false;
  bool key_valid_ = false, has_steps_ = false;
  std::uint64_t revision_ = 0, generation_ = 0;
  double computed_at_ = -1.0;
  PreprocessSteps steps_;
  std::vector<std::string> class_names_;
  std::string error_;
  Rect toggle_box_;
};

}  // namespace

std::unique_ptr<TeachingPanel> make_preprocess_panel() { return std::make_unique<Panel>(); }

}  // namespace digitlab::app
