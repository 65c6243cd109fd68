// The "activations" teaching panel (panels.hpp): sigmoid, tanh, ReLU and leaky ReLU plotted with their
// derivatives (grid, ticks, a hover readout), and softmax with a temperature over a vector the user edits,
// with its probabilities and Jacobian. The maths is in activations.cpp. Read next: activations.hpp.
//
// Sections: plotting (axes, ticks, curves) - the scalar functions - softmax - the panel and its state.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/i18n.hpp"
#include "imgui.h"
#include "teaching/activations.hpp"
#include "teaching/teaching_panel.hpp"
#include "teaching/widgets.hpp"

namespace digitlab::app {

namespace {

constexpr ImU32 kCurveColor = IM_COL32(52, 120, 230, 255);       // f: blue, readable on light and dark
constexpr ImU32 kDerivativeColor = IM_COL32(235, 120, 20, 255);  // f': orange
constexpr double kXMin = -6.0, kXMax = 6.0;

using widgets::item_rect;

// SameLine() when an item `width` wide still fits right of the last one, else a new line.
void same_line_if_fits(float width) {
  const float right = ImGui::GetWindowPos().x + ImGui::GetWindowContentRegionMax().x;
  if (ImGui::GetItemRectMax().x + ImGui::GetStyle().ItemSpacing.x + width <= right) ImGui::SameLine();
}


ImU32 style_color(ImGuiCol id, float alpha = 1.f) {
  ImVec4 c = ImGui::GetStyleColorVec4(id);
  c.w *= alpha;
  return ImGui::ColorConvertFloat4ToU32(c);
}

// ---- plotting ----------------------------------------------------------------------------------------------

// A tick step of 1, 2 or 5 times a power of ten that gives about `count` ticks over `range`.
double nice_step(double range, int count) {
  const double raw = range / std::max(count, 1);
  double power = 1.0;  // the power of ten at or below raw (a loop: pow and log10 would cost wasm size)
  while (power > raw) power /= 10.0;
  while (power * 10.0 <= raw) power *= 10.0;
  const double fraction = raw / power;
  return (fraction < 1.5 ? 1.0 : fraction < 3.5 ? 2.0 : fraction < 7.5 ? 5.0 : 10.0) * power;
}

// A plot area with labelled axes. to_screen maps data to pixels; hovered_x is set when the mouse is over it.
struct Plot {
  ImVec2 p0, p1;  // the data area (inside the margins for tick labels)
  double x_min, x_max, y_min, y_max;
  ImVec2 to_screen(double x, double y) const {
    return ImVec2(p0.x + float((x - x_min) / (x_max - x_min)) * (p1.x - p0.x),
                  p1.y - float((y - y_min) / (y_max - y_min)) * (p1.y - p0.y));
  }
  double x_at(float sx) const { return x_min + double((sx - p0.x) / (p1.x - p0.x)) * (x_max - x_min); }
};

// Draws the frame, grid, ticks and axis labels of a plot of `size` at the cursor; returns the data area.
// *hover receives the x under the mouse (unchanged when the mouse is elsewhere).
Plot begin_plot(const char* id, const char* title, ImVec2 size, double y_min, double y_max, double* hover) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton(id, size);
  const float line = ImGui::GetTextLineHeight();
  Plot plot{ImVec2(origin.x + ImGui::CalcTextSize("-0.25").x + 8.f, origin.y + line + 4.f),
            ImVec2(origin.x + size.x - 6.f, origin.y + size.y - line - 6.f),
            kXMin, kXMax, y_min, y_max};
  draw->AddText(ImVec2(plot.p0.x, origin.y), style_color(ImGuiCol_Text), title);
  draw->AddRectFilled(plot.p0, plot.p1, style_color(ImGuiCol_FrameBg, 0.5f));
  const ImU32 grid = style_color(ImGuiCol_TextDisabled, 0.25f), axis = style_color(ImGuiCol_TextDisabled, 0.9f),
              label = style_color(ImGuiCol_TextDisabled);
  char text[32];
  const double x_step = nice_step(plot.x_max - plot.x_min, 6), y_step = nice_step(y_max - y_min, 5);
  for (double x = std::ceil(plot.x_min / x_step) * x_step; x <= plot.x_max + 1e-9; x += x_step) {
    const ImVec2 a = plot.to_screen(x, y_min), b = plot.to_screen(x, y_max);
    draw->AddLine(a, b, std::abs(x) < 1e-9 ? axis : grid);
    std::snprintf(text, sizeof text, "%g", std::abs(x) < 1e-9 ? 0.0 : x);
    const float w = ImGui::CalcTextSize(text).x;
    draw->AddText(ImVec2(a.x - w * 0.5f, plot.p1.y + 2.f), label, text);
  }
  for (double y = std::ceil(y_min / y_step) * y_step; y <= y_max + 1e-9; y += y_step) {
    const ImVec2 a = plot.to_screen(plot.x_min, y), b = plot.to_screen(plot.x_max, y);
    draw->AddLine(a, b, std::abs(y) < 1e-9 ? axis : grid);
    std::snprintf(text, sizeof text, "%g", std::abs(y) < 1e-9 ? 0.0 : y);
    const ImVec2 t = ImGui::CalcTextSize(text);
    draw->AddText(ImVec2(plot.p0.x - t.x - 4.f, a.y - t.y * 0.5f), label, text);
  }
  draw->AddText(ImVec2(plot.p1.x - ImGui::CalcTextSize("x").x, plot.p1.y - line - 1.f), label, "x");
  draw->AddRect(plot.p0, plot.p1, style_color(ImGuiCol_Border));
  if (ImGui::IsItemHovered()) {
    const ImVec2 mouse = ImGui::GetIO().MousePos;
    if (mouse.x >= plot.p0.x && mouse.x <= plot.p1.x) *hover = plot.x_at(mouse.x);
  }
  return plot;
}

// f (or f' when `derivative`) of a scalar activation as a polyline, one point every 2 pixels.
void plot_curve(const Plot& plot, Activation id, bool derivative, double alpha, ImU32 color, float thickness) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  draw->PushClipRect(plot.p0, plot.p1, true);
  const int samples = std::max(2, int(plot.p1.x - plot.p0.x) / 2);
  for (int i = 0; i <= samples; ++i) {
    const double x = plot.x_min + (plot.x_max - plot.x_min) * double(i) / double(samples);
    draw->PathLineTo(plot.to_screen(x, derivative ? activation_derivative(id, x, alpha) : activation_value(id, x, alpha)));
  }
  draw->PathStroke(color, ImDrawFlags_None, thickness);
  draw->PopClipRect();
}

void plot_marker(const Plot& plot, double x, double y, ImU32 color) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  draw->PushClipRect(plot.p0, plot.p1, true);
  draw->AddLine(plot.to_screen(x, plot.y_min), plot.to_screen(x, plot.y_max), style_color(ImGuiCol_Text, 0.35f));
  draw->AddCircleFilled(plot.to_screen(x, y), 4.f, color);
  draw->PopClipRect();
}

// The y range that shows f and f' of each function with some air.
void value_range(Activation id, float alpha, double* lo, double* hi) {
  switch (id) {
    case Activation::sigmoid: *lo = -0.2, *hi = 1.2; return;
    case Activation::tanh: *lo = -1.25, *hi = 1.25; return;
    case Activation::relu: *lo = -1.5, *hi = 6.0; return;
    default: *lo = std::min(-1.5, -6.0 * double(alpha) - 0.5), *hi = 6.0; return;
  }
}

void derivative_range(Activation id, double* lo, double* hi) {
  if (id == Activation::sigmoid) *lo = -0.05, *hi = 0.3;
  else *lo = -0.2, *hi = 1.2;
}

// ---- the panel -------------------------------------------------------------------------------------------

class Panel final : public TeachingPanel {
 public:
  void draw(PanelContext& context) override {
    context_has_logits_ = context.has_prediction && !context.prediction.logits.empty();
    draw_chooser();
    ImGui::Separator();
    const ActivationInfo& info = activation_info(selected_);
    // The title large with the formulas beside it when there is room; otherwise plain, formulas below.
    const bool wide = ImGui::GetContentRegionAvail().x >= 760.f * context.ui_scale;
    if (wide) ImGui::PushFont(context.big_font);
    ImGui::TextUnformatted(info.title);
    if (wide) ImGui::PopFont(), ImGui::SameLine(0.f, 24.f * context.ui_scale);
    ImGui::BeginGroup();
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kCurveColor), "%s", info.formula);
    ImGui::TextColored(ImGui::ColorConvertU32ToFloat4(kDerivativeColor), "%s", info.derivative);
    ImGui::EndGroup();
    ImGui::TextWrapped("%s", tr(info.note));  // the notes are in the tables' data section
    if (selected_ == Activation::softmax) draw_softmax(context);
    else draw_scalar(context);
  }

  void write_state(JsonWriter& json) const override {
    auto list = [&json](const char* name, const std::vector<double>& values) {
      json.key(name).begin_array();
      for (double value : values) json.number(value);
      json.end_array();
    };
    json.begin_object();
    json.key("function").string(activation_info(selected_).name);
    json.key("alpha").number(alpha_).key("temperature").number(temperature_);
    const std::vector<double> z(inputs_, inputs_ + count_), p = softmax(z, temperature_);
    const std::vector<double> jacobian = softmax_jacobian(p, temperature_);
    std::vector<double> diagonal(p.size());
    double sum = 0;
    for (std::size_t i = 0; i < p.size(); ++i) diagonal[i] = jacobian[i * p.size() + i], sum += p[i];
    list("inputs", z);
    list("probabilities", p);
    json.key("probability_sum").number(sum);
    list("jacobian_diagonal", diagonal);
    if (std::isfinite(readout_x_)) {
      json.key("readout").begin_object();
      json.key("x").number(readout_x_);
      json.key("f").number(activation_value(selected_, readout_x_, alpha_));
      json.key("derivative").number(activation_derivative(selected_, readout_x_, alpha_));
      json.end_object();
    }
    json.key("controls").begin_object();
    for (const auto& control : controls_)
      if (control.second.width > 0) json.key(control.first).rect(control.second);
    json.end_object().end_object();
  }

 private:
  void draw_chooser() {
    int index = 0;
    for (const ActivationInfo& info : activation_list()) {
      if (index++) ImGui::SameLine();
      if (ImGui::RadioButton(info.title, selected_ == info.id)) selected_ = info.id;
      set_control(info.name, item_rect());
    }
  }

  void draw_scalar(PanelContext& context) {
    const float scale = context.ui_scale;
    if (selected_ == Activation::leaky_relu) {
      ImGui::SetNextItemWidth(220.f * scale);
      ImGui::SliderFloat(widgets::labelled(tr("alpha (slope for x < 0)"), "alpha").c_str(), &alpha_, 0.f, 1.f, "%.2f");
      set_control("alpha", item_rect());
    } else {
      set_control("alpha", Rect{});
    }
    ImGui::Checkbox(widgets::labelled(tr("Show the other functions faintly"), "ghosts").c_str(), &ghosts_);

    const ImVec2 available = ImGui::GetContentRegionAvail();
    const float line = ImGui::GetTextLineHeightWithSpacing();
    const bool side_by_side = available.x >= 560.f * scale;
    const float spacing = ImGui::GetStyle().ItemSpacing.x;
    const float plot_height =
        std::max(120.f * scale, side_by_side ? available.y - 2.f * line : (available.y - 2.f * line) * 0.5f - 4.f);
    const ImVec2 size(side_by_side ? std::floor((available.x - spacing) * 0.5f) : available.x, std::floor(plot_height));

    double f_lo, f_hi, d_lo, d_hi;
    value_range(selected_, alpha_, &f_lo, &f_hi);
    derivative_range(selected_, &d_lo, &d_hi);
    const Activation id = selected_;
    const double alpha = alpha_;
    double hover = NAN;
    const Plot f_plot = begin_plot("f plot", "f(x)", size, f_lo, f_hi, &hover);
    set_control("f_plot", Rect{f_plot.p0.x, f_plot.p0.y, f_plot.p1.x - f_plot.p0.x, f_plot.p1.y - f_plot.p0.y});
    if (side_by_side) ImGui::SameLine();
    const Plot d_plot = begin_plot("derivative plot", tr("f'(x), the slope"), size, d_lo, d_hi, &hover);
    if (ghosts_) {
      for (const ActivationInfo& other : activation_list()) {
        if (other.id == id || other.id == Activation::softmax) continue;
        const ImU32 faint = style_color(ImGuiCol_TextDisabled, 0.45f);
        plot_curve(f_plot, other.id, false, alpha, faint, 1.f);
        plot_curve(d_plot, other.id, true, alpha, faint, 1.f);
      }
    }
    plot_curve(f_plot, id, false, alpha, kCurveColor, 2.5f);
    plot_curve(d_plot, id, true, alpha, kDerivativeColor, 2.5f);
    if (std::isfinite(hover)) readout_x_ = hover;
    if (std::isfinite(readout_x_)) {
      plot_marker(f_plot, readout_x_, activation_value(id, readout_x_, alpha), kCurveColor);
      plot_marker(d_plot, readout_x_, activation_derivative(id, readout_x_, alpha), kDerivativeColor);
      ImGui::Text("x = %.3f    f(x) = %.4f    f'(x) = %.4f%s", readout_x_, activation_value(id, readout_x_, alpha),
                  activation_derivative(id, readout_x_, alpha), std::isfinite(hover) ? "" : tr("   (last point hovered)"));
    } else {
      ImGui::TextDisabled("%s", tr("Move the mouse over a plot to read x, f(x) and f'(x)."));
    }
  }

  void draw_softmax(PanelContext& context) {
    const float scale = context.ui_scale;
    ImGui::SetNextItemWidth(220.f * scale);
    ImGui::SliderFloat(widgets::labelled(tr("temperature T"), "temperature").c_str(), &temperature_, 0.1f, 10.f, "%.2f",
                       ImGuiSliderFlags_Logarithmic);
    set_control("temperature", item_rect());
    const std::string values = widgets::labelled(tr("values"), "values");
    same_line_if_fits(90.f * scale + ImGui::CalcTextSize(values.c_str(), nullptr, true).x + ImGui::CalcTextSize(" ").x + 8.f);
    ImGui::SetNextItemWidth(90.f * scale);
    float count = float(count_);  // a float slider: SliderInt would add its own template to the wasm
    if (ImGui::SliderFloat(values.c_str(), &count, 2.f, float(kMaxInputs), "%.0f")) count_ = std::clamp(int(count + 0.5f), 2, kMaxInputs);
    const std::string reset = widgets::labelled(tr("Reset"), "reset");
    same_line_if_fits(ImGui::CalcTextSize(reset.c_str(), nullptr, true).x + 8.f);
    if (ImGui::Button(reset.c_str())) reset_inputs();
    if (context_has_logits_) {
      const std::string use_logits = widgets::labelled(tr("Use the drawing's logits"), "use_logits");
      same_line_if_fits(ImGui::CalcTextSize(use_logits.c_str(), nullptr, true).x + 8.f);
      if (ImGui::Button(use_logits.c_str())) {
        const std::vector<float>& logits = context.prediction.logits;
        count_ = std::min<int>(kMaxInputs, int(logits.size()));
        for (int i = 0; i < count_; ++i) inputs_[i] = std::clamp(logits[std::size_t(i)], -kInputLimit, kInputLimit);
      }
      set_control("use_logits", item_rect());
    } else {
      set_control("use_logits", Rect{});
    }

    const std::vector<double> z(inputs_, inputs_ + count_), p = softmax(z, temperature_);
    const std::vector<double> jacobian = softmax_jacobian(p, temperature_);
    const ImVec2 available = ImGui::GetContentRegionAvail();
    const float line = ImGui::GetTextLineHeightWithSpacing();
    const float spacing = ImGui::GetStyle().ItemSpacing.x;
    const bool wide = available.x >= 700.f * scale;
    const float block_height = std::max(140.f * scale, wide ? available.y - 2.f * line : (available.y - 3.f * line) * 0.5f);

    // Inputs: one vertical slider per z_i (drag to edit).
    const float column = std::floor(std::min(52.f * scale, ((wide ? available.x * 0.3f : available.x * 0.5f) / float(count_)) - spacing));
    ImGui::BeginGroup();
    ImGui::TextUnformatted(tr("Inputs z (drag)"));
    for (int i = 0; i < count_; ++i) {
      if (i) ImGui::SameLine();
      ImGui::PushID(i);
      ImGui::BeginGroup();
      ImGui::VSliderFloat("##z", ImVec2(column, block_height - 2.f * line), &inputs_[i], -kInputLimit, kInputLimit,
                          column >= ImGui::CalcTextSize("-0.0").x + 6.f ? "%.1f" : "");
      if (i == 0) set_control("z0", item_rect());
      char label[16];
      std::snprintf(label, sizeof label, "z%d", i);
      const float w = ImGui::CalcTextSize(label).x;
      ImGui::SetCursorPosX(ImGui::GetCursorPosX() + std::max(0.f, std::floor((column - w) * 0.5f)));
      ImGui::TextUnformatted(label);
      ImGui::EndGroup();
      ImGui::PopID();
    }
    ImGui::EndGroup();
    ImGui::SameLine(0.f, 3.f * spacing);

    // Probabilities: bars with their values.
    const float bars_width = wide ? available.x * 0.3f : available.x * 0.45f;
    ImGui::BeginGroup();
    double sum = 0;
    for (double v : p) sum += v;
    ImGui::Text(tr("Probabilities p (sum %.4f)"), sum);
    {
      ImDrawList* draw = ImGui::GetWindowDrawList();
      const ImVec2 origin = ImGui::GetCursorScreenPos();
      const float height = block_height - 2.f * line;
      ImGui::Dummy(ImVec2(bars_width, height + line));
      const float slot = bars_width / float(count_);
      const float bar = std::max(4.f, slot * 0.7f);
      draw->AddLine(ImVec2(origin.x, origin.y + height), ImVec2(origin.x + bars_width, origin.y + height),
                    style_color(ImGuiCol_Border));
      for (int i = 0; i < count_; ++i) {
        const float x = origin.x + slot * float(i) + (slot - bar) * 0.5f;
        const float top = origin.y + height - float(p[std::size_t(i)]) * (height - line);
        draw->AddRectFilled(ImVec2(x, top), ImVec2(x + bar, origin.y + height), kCurveColor);
        char text[16];
        std::snprintf(text, sizeof text, "%.2f", p[std::size_t(i)]);
        const float w = ImGui::CalcTextSize(text).x;
        // Every value when they fit side by side, else only the ones tall enough to matter.
        if (w <= slot - 2.f || p[std::size_t(i)] >= 0.1)
          draw->AddText(ImVec2(x + (bar - w) * 0.5f, top - line), style_color(ImGuiCol_Text), text);
        std::snprintf(text, sizeof text, "p%d", i);
        draw->AddText(ImVec2(x + (bar - ImGui::CalcTextSize(text).x) * 0.5f, origin.y + height + 2.f),
                      style_color(ImGuiCol_TextDisabled), text);
      }
    }
    ImGui::EndGroup();
    if (wide) ImGui::SameLine(0.f, 3.f * spacing);

    // The Jacobian: dp_i/dz_j as a grid coloured by sign and size, the diagonal p_i (1 - p_i) / T.
    ImGui::BeginGroup();
    ImGui::TextUnformatted(tr("Jacobian dp_i/dz_j (row i, column j)"));
    {
      double largest = 1e-12;
      for (double v : jacobian) largest = std::max(largest, std::abs(v));
      const ImVec2 room = ImGui::GetContentRegionAvail();
      const float cell = std::floor(std::max(8.f, std::min((room.x - 4.f) / float(count_), (block_height - 3.f * line) / float(count_))));
      ImDrawList* draw = ImGui::GetWindowDrawList();
      const ImVec2 origin = ImGui::GetCursorScreenPos();
      ImGui::Dummy(ImVec2(cell * float(count_), cell * float(count_)));
      const bool numbers = ImGui::CalcTextSize("-0.000").x < cell - 2.f;
      for (int i = 0; i < count_; ++i) {
        for (int j = 0; j < count_; ++j) {
          const double v = jacobian[std::size_t(i * count_ + j)] / largest;  // in [-1, 1]
          const int level = int(std::lround(std::abs(v) * 200.0));
          const ImU32 color = v >= 0 ? IM_COL32(30, 60 + level * 3 / 4, 40 + level, 255)
                                     : IM_COL32(60 + level, 35, 30, 255);
          const ImVec2 a(origin.x + cell * float(j), origin.y + cell * float(i));
          draw->AddRectFilled(a, ImVec2(a.x + cell - 1.f, a.y + cell - 1.f), color);
          if (numbers) {
            char text[16];
            const double value = jacobian[std::size_t(i * count_ + j)];
            if (std::abs(value) < 5e-4) std::snprintf(text, sizeof text, "0");
            else std::snprintf(text, sizeof text, "%.3f", value);
            const ImVec2 t = ImGui::CalcTextSize(text);
            draw->AddText(ImVec2(a.x + (cell - t.x) * 0.5f, a.y + (cell - t.y) * 0.5f), IM_COL32(235, 235, 235, 255), text);
          }
        }
      }
      ImGui::TextWrapped("%s", tr("Diagonal p_i (1 - p_i) / T > 0 (teal): raising z_i raises p_i. Off-diagonal -p_i p_j / T < 0 (red): it lowers every other p_j."));
    }
    ImGui::EndGroup();
  }

  void reset_inputs() {
    static const float defaults[kMaxInputs] = {2.f, 1.f, 0.1f, -1.f, 3.f, 0.5f, -2.f, 1.5f, 0.f, -0.5f};
    for (int i = 0; i < kMaxInputs; ++i) inputs_[i] = defaults[i];
    count_ = 6;
    temperature_ = 1.f;
  }

  void set_control(const char* name, Rect box) {
    for (auto& control : controls_)
      if (std::string(control.first) == name) {
        control.second = box;
        return;
      }
    controls_.emplace_back(name, box);
  }

  static constexpr int kMaxInputs = 10;
  static constexpr float kInputLimit = 10.f;
  Activation selected_ = Activation::sigmoid;
  float alpha_ = 0.1f;
  float temperature_ = 1.f;
  float inputs_[kMaxInputs] = {2.f, 1.f, 0.1f, -1.f, 3.f, 0.5f, -2.f, 1.5f, 0.f, -0.5f};
  int count_ = 6;
  bool ghosts_ = true;
  bool context_has_logits_ = false;
  double readout_x_ = NAN;  // the last x hovered over a plot
  std::vector<std::pair<const char*, Rect>> controls_;  // where the controls were drawn (for tests)
};

}  // namespace

std::unique_ptr<TeachingPanel> make_activations_panel() { return std::make_unique<Panel>(); }

}  // namespace digitlab::app
