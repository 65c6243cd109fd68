// The "saliency" teaching panel (panels.hpp): where the model looks, for your drawing. The saliency map
// (the gradient of the predicted class's logit with respect to each pixel's ink), occlusion (a patch slid
// over the input, how much the class's probability drops at each place, computed a few passes per frame)
// and the nudge (the smallest gradient-sign change that makes the network change its mind, and how big it
// is). The maths is in saliency.cpp, recomputed when the model input or the model changes.
// Read next: saliency.hpp, docs/teaching.md ("Where the model looks").
//
// Sections: colours - the panel (controls, update, images) - its state.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "common/i18n.hpp"
#include "digitlab/text.hpp"
#include "imgui.h"
#include "teaching/saliency.hpp"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"

namespace digitlab::app {

namespace {

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Work per frame (occlusion's forward passes, the nudge's steps): a 60 Hz frame has 16.7 ms and ImGui
// needs a few of them. One piece always runs: a CNN nudge step (a forward and two backward passes).
constexpr double kWorkBudgetSeconds = 0.010;
constexpr int kSide = 28;
const int kPatchSizes[] = {4, 6};
const int kStepSizes[] = {1, 2, 4, 8};  // nudge step, in pixel levels of 255

// ---- colours ---------------------------------------------------------------------------------------------

// A signed value over `largest` as a colour: blue below 0, red-orange above, `alpha` of it over what is under.
ImU32 signed_color(float value, float largest, float alpha = 1.f) {
  const float t = largest > 0.f ? std::clamp(value / largest, -1.f, 1.f) : 0.f;
  const float a = std::fabs(t);
  return t >= 0.f ? IM_COL32(255, int(110 - 60 * a), int(60 - 30 * a), int(255 * alpha * a))
                  : IM_COL32(int(70 - 40 * a), int(150 + 20 * a), 255, int(255 * alpha * a));
}

// A 28x28 map of signed values over the dimmed ink, `cell` px per pixel, at the cursor.
void signed_map(const char* id, const std::vector<float>& ink, const std::vector<float>& values, float largest,
                float cell) {
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton(id, ImVec2(cell * kSide, cell * kSide));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  draw->AddRectFilled(p0, ImVec2(p0.x + cell * kSide, p0.y + cell * kSide), IM_COL32(0, 0, 0, 255));
  for (int y = 0; y < kSide; ++y)
    for (int x = 0; x < kSide; ++x) {
      const std::size_t i = std::size_t(y * kSide + x);
      const ImVec2 a(p0.x + float(x) * cell, p0.y + float(y) * cell), b(a.x + cell, a.y + cell);
      const int level = int(std::lround(std::clamp(ink[i], 0.f, 1.f) * 90.f));  // the drawing, dim
      if (level > 0) draw->AddRectFilled(a, b, IM_COL32(level, level, level, 255));
      if (i < values.size() && values[i] != 0.f) draw->AddRectFilled(a, b, signed_color(values[i], largest));
    }
}

// The colour bar: -largest (blue) .. 0 .. +largest (red), its ends labelled.
void signed_legend(float largest, float width) {
  char low[32], high[32];
  std::snprintf(low, sizeof low, "%+.2g", -double(largest));
  std::snprintf(high, sizeof high, "%+.2g", double(largest));
  ImGui::TextUnformatted(low);
  ImGui::SameLine();
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const float bar = std::max(30.f, width - ImGui::CalcTextSize(low).x - ImGui::CalcTextSize(high).x - 16.f);
  const float h = ImGui::GetTextLineHeight();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  draw->AddRectFilled(ImVec2(p0.x, p0.y + 2.f), ImVec2(p0.x + bar, p0.y + h - 2.f), IM_COL32(0, 0, 0, 255));
  for (int i = 0; i < 32; ++i) {
    const float x0 = p0.x + bar * float(i) / 32.f, x1 = p0.x + bar * float(i + 1) / 32.f;
    draw->AddRectFilled(ImVec2(x0, p0.y + 2.f), ImVec2(x1 + 1.f, p0.y + h - 2.f), signed_color(float(i) / 15.5f - 1.f, 1.f));
  }
  ImGui::Dummy(ImVec2(bar, h));
  ImGui::SameLine();
  ImGui::TextUnformatted(high);
}

std::uint64_t fingerprint(const std::vector<float>& values) {  // FNV-1a over the floats' bytes
  std::uint64_t hash = 1469598103934665603ull;
  for (float v : values) {
    std::uint32_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    for (int k = 0; k < 4; ++k) hash = (hash ^ ((bits >> (8 * k)) & 0xffu)) * 1099511628211ull;
  }
  return hash;
}

// ---- the panel -------------------------------------------------------------------------------------------

class Panel final : public TeachingPanel {
 public:
  bool busy() const override {
    return has_work_ && error_.empty() && ((occlusion_.started() && !occlusion_.finished()) ||
                                           (nudge_.started() && !nudge_.finished()));
  }

  void draw(PanelContext& context) override {
    draw_controls(context);
    widgets::canvas_beside(context);
    ImGui::BeginGroup();
    // The frame that computes the saliency map (a backward pass) leaves occlusion and the nudge to the next.
    if (!update(context)) work(context);
    draw_results(context);
    ImGui::EndGroup();
  }

  void write_state(JsonWriter& json) const override {
    json.begin_object();
    json.key("model");
    if (model_name_.empty()) json.null();
    else json.string(model_name_);
    json.key("has_drawing").boolean(has_work_);
    json.key("error");
    if (error_.empty()) json.null();
    else json.string(error_);
    json.key("updates").integer(updates_);
    json.key("controls").begin_object().key("patch").rect(patch_box_);
    json.key("step").rect(step_box_).key("target").rect(target_box_);
    json.key("patch_options").begin_array();  // the open combo's 4x4 and 6x6 items
    for (const Rect& option : patch_options_) json.rect(option);
    json.end_array().end_object();
    if (has_saliency_) {
      json.key("label").integer(saliency_.label).key("class").string(class_of(saliency_.label));
      json.key("probability").number(saliency_.probability);
      json.key("saliency").begin_object().key("of").string("logit").key("logit").number(saliency_.logit);
      json.key("largest").number(saliency_.largest);
      json.key("top_pixel").begin_array().integer(top_pixel_ % kSide).integer(top_pixel_ / kSide).end_array();
      json.key("map").rect(saliency_box_).end_object();
    }
    if (occlusion_.started()) {
      const std::vector<float>& drops = occlusion_.drops();
      float largest = 0.f, on_background = 0.f;
      int largest_at = 0, background_positions = 0;
      for (int i = 0; i < occlusion_.done(); ++i) {
        if (drops[std::size_t(i)] > largest) largest = drops[std::size_t(i)], largest_at = i;
        if (occlusion_.ink_under()[std::size_t(i)] == 0.f) {
          ++background_positions;
          on_background = std::max(on_background, std::fabs(drops[std::size_t(i)]));
        }
      }
      const OcclusionOptions& o = occlusion_.options();
      json.key("occlusion").begin_object().key("patch").integer(o.patch).key("stride").integer(o.stride);
      json.key("fill").string(o.fill == 0.f ? "background" : "grey");
      json.key("positions").integer(occlusion_.positions()).key("done").integer(occlusion_.done());
      json.key("finished").boolean(occlusion_.finished()).key("baseline").number(occlusion_.baseline());
      json.key("largest_drop").number(largest);
      json.key("largest_drop_at").begin_array().integer((largest_at % occlusion_.columns()) * o.stride)
          .integer((largest_at / occlusion_.columns()) * o.stride).end_array();
      json.key("background_positions").integer(background_positions).key("background_largest_change").number(on_background);
      json.key("milliseconds").number(1000.0 * occlusion_.seconds()).key("frames").integer(occlusion_frames_);
      json.key("drops").begin_array();
      for (int i = 0; i < occlusion_.done(); ++i) json.number(drops[std::size_t(i)]);
      json.end_array().end_object();
    }
    if (nudge_.started()) {
      json.key("nudge").begin_object().key("step_255").number(255.0 * nudge_.options().step);
      json.key("target").integer(nudge_.options().target).key("finished").boolean(nudge_.finished());
      json.key("changed").boolean(nudge_.changed()).key("steps").integer(nudge_.steps());
      json.key("label").integer(nudge_.label()).key("class").string(class_of(nudge_.label()));
      json.key("probability").number(nudge_.probability());
      json.key("linf_255").number(nudge_.linf_255()).key("l2_255").number(nudge_.l2_255());
      json.key("pixels_changed").integer(nudge_.pixels_changed());
      json.key("milliseconds").number(1000.0 * nudge_.seconds());
      // Both images as 0..255 levels, so that a test can measure the change itself.
      json.key("original").begin_array();
      for (float v : nudge_.original()) json.integer(std::lround(255.f * v));
      json.end_array().key("nudged").begin_array();
      for (float v : nudge_.image()) json.integer(std::lround(255.f * v));
      json.end_array().end_object();
    }
    json.key("longest_slice_ms").number(1000.0 * longest_slice_);
    json.end_object();
  }

 private:
  std::string class_of(int label) const {  // as the card spells it (the state's: English)
    if (label >= 0 && std::size_t(label) < class_names_.size()) return class_names_[std::size_t(label)];
    return label >= 0 ? std::to_string(label) : "?";
  }

  void draw_controls(PanelContext& context) {
    const float scale = context.ui_scale;
    char patch_name[16];
    std::snprintf(patch_name, sizeof patch_name, "%dx%d", kPatchSizes[patch_], kPatchSizes[patch_]);
    ImGui::SetNextItemWidth(70.f * scale);
    // The combo's rectangle is the last item right after a BeginCombo that stays closed.
    const bool patch_open = ImGui::BeginCombo(widgets::labelled(tr("Patch"), "patch").c_str(), patch_name);
    if (!patch_open) patch_box_ = widgets::item_rect();  // (open, the last item is the popup's)
    patch_options_.clear();
    if (patch_open) {
      for (int i = 0; i < 2; ++i) {
        std::snprintf(patch_name, sizeof patch_name, "%dx%d", kPatchSizes[i], kPatchSizes[i]);
        if (ImGui::Selectable(patch_name, i == patch_) && i != patch_) patch_ = i, restart_occlusion_ = true;
        patch_options_.push_back(widgets::item_rect());
      }
      ImGui::EndCombo();
    }
    ImGui::SameLine(0.f, 3.f * ImGui::GetStyle().ItemSpacing.x);
    char step_name[16];
    std::snprintf(step_name, sizeof step_name, "%d/255", kStepSizes[step_]);
    ImGui::SetNextItemWidth(80.f * scale);
    const bool step_open = ImGui::BeginCombo(widgets::labelled(tr("Nudge step"), "step").c_str(), step_name);
    if (!step_open) step_box_ = widgets::item_rect();
    if (step_open) {
      for (int i = 0; i < 4; ++i) {
        std::snprintf(step_name, sizeof step_name, "%d/255", kStepSizes[i]);
        if (ImGui::Selectable(step_name, i == step_) && i != step_) step_ = i, restart_nudge_ = true;
      }
      ImGui::EndCombo();
    }
    ImGui::SameLine();
    ImGui::SetNextItemWidth(120.f * scale);
    const std::string target_name = target_ < 0 ? std::string(tr("any other")) : std::string(tr(class_of(target_)));
    const bool target_open = ImGui::BeginCombo(widgets::labelled(tr("towards"), "target").c_str(), target_name.c_str());
    if (!target_open) target_box_ = widgets::item_rect();
    if (target_open) {
      if (ImGui::Selectable(tr("any other"), target_ < 0) && target_ >= 0) target_ = -1, restart_nudge_ = true;
      for (int c = 0; c < int(class_names_.size()); ++c) {
        ImGui::PushID(c);
        if (ImGui::Selectable(tr(class_of(c)), c == target_) && c != target_) target_ = c, restart_nudge_ = true;
        ImGui::PopID();
      }
      ImGui::EndCombo();
    }
  }

  // Starts again when the model input, the model or a choice changed; true when it computed something.
  bool update(PanelContext& context) {
    const bool has_model = context.catalog.has_model();
    model_name_ = has_model && context.catalog.active_entry() ? context.catalog.active_entry()->name : "";
    const std::uint64_t key = fingerprint(context.preprocessed.image28) ^ (context.model_generation * 0x9e3779b97f4a7c15ull) ^
                              (context.has_prediction ? 1u : 0u) ^ (has_model ? 2u : 0u);
    if (key_valid_ && key == key_ && !restart_occlusion_ && !restart_nudge_) return false;
    // A forward and a backward pass per update: while a stroke is drawn, at most five a second.
    if (key_valid_ && key != key_ && context.drawing.stroke_in_progress() && context.now - computed_at_ < 0.2) return false;
    const bool input_changed = !key_valid_ || key != key_;
    key_valid_ = true, key_ = key, computed_at_ = context.now;
    if (input_changed) {
      has_work_ = has_saliency_ = false;
      error_.clear();
      occlusion_ = Occlusion{}, nudge_ = Nudge{};
      occlusion_frames_ = 0;
      if (!has_model) return true;
      const Model& model = context.catalog.active().model;
      class_names_ = model.card.class_names;
      if (target_ >= int(class_names_.size())) target_ = -1;
      if (Status fits = check_image_model(model, context.preprocessed.image28); !fits) {
        error_ = fits.error().to_string();
        return true;
      }
      if (!context.has_prediction) return true;
      image_ = context.preprocessed.image28;
      has_work_ = true;
      ++updates_;
      Result<Saliency> saliency = compute_saliency(model, image_);
      if (!saliency) {
        error_ = saliency.error().to_string();
        return true;
      }
      saliency_ = std::move(saliency).value();
      has_saliency_ = true;
      top_pixel_ = 0;
      for (std::size_t i = 0; i < saliency_.gradient.size(); ++i)
        if (std::fabs(saliency_.gradient[i]) > std::fabs(saliency_.gradient[std::size_t(top_pixel_)])) top_pixel_ = int(i);
      restart_occlusion_ = restart_nudge_ = true;
    }
    if (!has_work_ || !error_.empty()) {
      restart_occlusion_ = restart_nudge_ = false;
      return true;
    }
    const Model& model = context.catalog.active().model;
    if (restart_occlusion_) {
      OcclusionOptions options;
      options.patch = kPatchSizes[patch_];
      occlusion_frames_ = 0;
      if (Status started = occlusion_.start(model, image_, options); !started) error_ = started.error().to_string();
    }
    if (restart_nudge_) {
      NudgeOptions options;
      options.step = float(kStepSizes[step_]) / 255.f;
      options.target = target_;
      if (Status started = nudge_.start(model, image_, options); !started) error_ = started.error().to_string();
    }
    restart_occlusion_ = restart_nudge_ = false;
    return true;
  }

  // This frame's share of occlusion and the nudge, in that order.
  // The model is the active one, whose generation update() has just checked.
  void work(PanelContext& context) {
    if (!busy() || !context.catalog.has_model()) return;
    const Model& model = context.catalog.active().model;
    const Clock::time_point start = Clock::now();
    if (!occlusion_.finished()) {
      if (Status advanced = occlusion_.advance(model, kWorkBudgetSeconds); !advanced) error_ = advanced.error().to_string();
      ++occlusion_frames_;
    } else if (!nudge_.finished()) {
      if (Status advanced = nudge_.advance(model, kWorkBudgetSeconds); !advanced) error_ = advanced.error().to_string();
    }
    longest_slice_ = std::max(longest_slice_, seconds_since(start));
  }

  void draw_results(PanelContext& context) {
    if (!context.catalog.has_model()) {
      ImGui::TextWrapped("%s", tr("No model is loaded yet: wait for it, or pick one in the Model panel."));
      return;
    }
    if (!error_.empty()) {
      ImGui::PushStyleColor(ImGuiCol_Text, widgets::error_color(context.options.theme));
      ImGui::TextWrapped(tr("This model cannot be explained here: %s"), error_.c_str());
      ImGui::PopStyleColor();
      return;
    }
    if (!has_saliency_) {
      ImGui::TextWrapped("%s", tr("Draw a digit: see which pixels the answer depends on, and the smallest change that alters it."));
      return;
    }
    const float scale = context.ui_scale;
    const float spacing = ImGui::GetStyle().ItemSpacing.x;
    const ImVec2 room = ImGui::GetContentRegionAvail();
    const float column_w = std::floor(std::min(190.f * scale, (room.x - 2.f * spacing) / 3.f));
    const float cell = std::max(1.f, std::floor(column_w / float(kSide)));
    const float line = ImGui::GetTextLineHeightWithSpacing();
    const std::string label = tr(class_of(saliency_.label));

    // Row 1: the input, the saliency map, the occlusion map.
    ImGui::BeginGroup();
    ImGui::Text(tr("Model: %s (%.0f %%)"), label.c_str(), 100.0 * saliency_.probability);
    widgets::gray_image("input", image_.data(), kSide, kSide, cell);
    ImGui::EndGroup();
    ImGui::SameLine(0.f, spacing);
    ImGui::BeginGroup();
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + column_w);
    ImGui::TextUnformatted(tr("Saliency (logit gradient)"));
    signed_map("saliency", image_, saliency_.gradient, saliency_.largest, cell);
    saliency_box_ = widgets::item_rect();
    if (ImGui::IsItemHovered()) hover_value(saliency_.gradient, saliency_box_, cell, "%+.3g");
    signed_legend(saliency_.largest, column_w);
    ImGui::TextDisabled(tr("red: more ink here raises %s; blue: lowers it"), label.c_str());
    ImGui::PopTextWrapPos();
    ImGui::EndGroup();
    ImGui::SameLine(0.f, spacing);
    ImGui::BeginGroup();
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + column_w);
    const OcclusionOptions& o = occlusion_.options();
    ImGui::Text(tr("Occlusion (%dx%d patch)"), o.patch, o.patch);
    const std::vector<float> drops = occlusion_.pixel_map();
    float largest = 0.f;
    for (float d : drops) largest = std::max(largest, std::fabs(d));
    signed_map("occlusion", image_, drops, std::max(largest, 1e-6f), cell);
    const Rect occlusion_box = widgets::item_rect();
    if (ImGui::IsItemHovered()) hover_value(drops, occlusion_box, cell, "%+.3f");
    if (!occlusion_.finished()) {
      char progress[64];
      std::snprintf(progress, sizeof progress, "%d / %d", occlusion_.done(), occlusion_.positions());
      ImGui::ProgressBar(float(occlusion_.done()) / float(std::max(1, occlusion_.positions())), ImVec2(column_w, 0.f), progress);
    } else {
      signed_legend(largest, column_w);
    }
    ImGui::TextDisabled(tr("red: blanking it lowers p(%s); blue: raises it"), label.c_str());
    ImGui::PopTextWrapPos();
    ImGui::EndGroup();

    // Row 2: the nudge.
    if (!nudge_.started() || nudge_.image().size() != image_.size()) return;
    ImGui::Spacing();
    ImGui::BeginGroup();
    ImGui::TextUnformatted(tr("Nudged input"));
    widgets::gray_image("nudged", nudge_.image().data(), kSide, kSide, cell);
    ImGui::EndGroup();
    ImGui::SameLine(0.f, spacing);
    ImGui::BeginGroup();
    ImGui::TextUnformatted(tr("Change"));
    std::vector<float> difference(nudge_.image().size());
    float moved = 0.f;
    for (std::size_t i = 0; i < difference.size(); ++i) {
      difference[i] = nudge_.image()[i] - nudge_.original()[i];
      moved = std::max(moved, std::fabs(difference[i]));
    }
    signed_map("change", image_, difference, std::max(moved, 1e-6f), cell);
    ImGui::TextDisabled("%s", tr("red: ink added; blue: removed"));
    ImGui::EndGroup();
    ImGui::SameLine(0.f, spacing);
    ImGui::BeginGroup();
    ImGui::PushTextWrapPos(ImGui::GetCursorPosX() + std::max(column_w, room.x - 2.f * (column_w + spacing)));
    ImGui::Dummy(ImVec2(1.f, line));
    const std::string now = tr(class_of(nudge_.label()));
    if (!nudge_.finished()) {
      ImGui::Text(tr("Nudging... step %d: %s (%.0f %%)"), nudge_.steps(), now.c_str(), 100.0 * nudge_.probability());
    } else if (nudge_.changed()) {
      ImGui::Text(tr("Now %s (%.0f %%) after %d steps"), now.c_str(), 100.0 * nudge_.probability(), nudge_.steps());
    } else {
      ImGui::TextWrapped(tr("Still %s after %d steps: it would not change its mind."), now.c_str(), nudge_.steps());
    }
    ImGui::Text(tr("Largest pixel change: %.0f of 255"), nudge_.linf_255());
    ImGui::Text(tr("L2 size: %.0f (pixels 0-255), %d pixels"), nudge_.l2_255(), nudge_.pixels_changed());
    ImGui::TextDisabled(tr("Each step moves each pixel %d/255 by the gradient's sign."), kStepSizes[step_]);
    ImGui::PopTextWrapPos();
    ImGui::EndGroup();
  }

  // The value under the mouse in a 28x28 map, as a tooltip.
  static void hover_value(const std::vector<float>& values, const Rect& box, float cell, const char* format) {
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    const int x = int((mouse.x - box.x) / cell), y = int((mouse.y - box.y) / cell);
    if (x < 0 || y < 0 || x >= kSide || y >= kSide || std::size_t(y * kSide + x) >= values.size()) return;
    ImGui::BeginTooltip();
    ImGui::Text("(%d, %d)", x, y);
    ImGui::Text(format, double(values[std::size_t(y * kSide + x)]));
    ImGui::EndTooltip();
  }

  int patch_ = 1, step_ = 1, target_ = -1;
  bool restart_occlusion_ = false, restart_nudge_ = false;
  bool key_valid_ = false, has_work_ = false, has_saliency_ = false;
  std::uint64_t key_ = 0;
  double computed_at_ = -1.0;
  std::string model_name_, error_;
  std::vector<std::string> class_names_;
  std::vector<float> image_;      // the model input's ink (28x28) the results are for
  Saliency saliency_;
  int top_pixel_ = 0;
  Occlusion occlusion_;
  Nudge nudge_;
  int occlusion_frames_ = 0;
  std::int64_t updates_ = 0;
  double longest_slice_ = 0;
  Rect patch_box_, step_box_, target_box_, saliency_box_;
  std::vector<Rect> patch_options_;
};

}  // namespace

std::unique_ptr<TeachingPanel> make_saliency_panel() { return std::make_unique<Panel>(); }

}  // namespace digitlab::app
