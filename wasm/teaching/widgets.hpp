// Small ImGui drawing helpers the teaching panels (and the App) share: grey-level images, a heat colour ramp,
// the error text colour, the last item's rectangle for write_state(), and line charts. ImGui code (like every panel_*.cpp).
// Read next: widgets.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/rect.hpp"
#include "common/url_options.hpp"
#include "imgui.h"


namespace digitlab::app {

struct PanelContext;

namespace widgets {
// A grey-level image (values in [0,1], row-major width x height) drawn at the cursor, cell px per pixel;
// returns true when clicked. Inverted: white ink on black, as MNIST.
bool gray_image(const char* id, const float* values, int width, int height, float cell);
// Same for uint8 pixels (0..255).
bool gray_image_u8(const char* id, const std::uint8_t* values, int width, int height, float cell);
// A value in [0,1] as a colour from dark blue to yellow (a perceptual ramp, like viridis).
std::uint32_t heat_color(float value);
// The colour of error sentences (a rejected file, a panel's problem), readable on the theme's background.
ImVec4 error_color(Theme theme);
// The last ImGui item's rectangle, display units (panels report it in write_state(): tests click it).
Rect item_rect();
// "shown###id": a translated label (tr()) whose ImGui ID stays `id` in every language. Measure it with
// ImGui::CalcTextSize(label.c_str(), nullptr, true), which stops at the "###".
std::string labelled(const char* shown, const char* id);
// For a panel about the drawing shown without the draw panel: a "Draw here" canvas (a fifth of the width, at
// most 150 px) in a group, and the cursor to its right for what the panel shows. Nothing when the draw
// panel is shown.
void canvas_beside(PanelContext& context);

// ---- charts: a framed data area with ticks, grid and labels (the training and train panels) -------------
ImU32 style_color(ImGuiCol id, float alpha = 1.f);  // the theme's colour, with alpha scaled
// A chart: a title line, a framed data area with ticks and grid, an x label under the axis. to_screen maps
// data to pixels; hovered is true when the mouse is over the data area.
struct Chart {
  ImVec2 p0, p1;  // the data area
  double x_min = 0, x_max = 1, y_min = 0, y_max = 1;
  bool hovered = false;
  ImVec2 to_screen(double x, double y) const {
    return ImVec2(p0.x + float((x - x_min) / (x_max - x_min)) * (p1.x - p0.x),
                  p1.y - float((y - y_min) / (y_max - y_min)) * (p1.y - p0.y));
  }
  double x_at(float screen_x) const { return x_min + double((screen_x - p0.x) / (p1.x - p0.x)) * (x_max - x_min); }
};
// Lays out a chart of the given outer size at the cursor and draws its frame, grid, ticks and labels.
// x ticks are whole numbers (at most about 8 labelled).
Chart begin_chart(const char* id, ImVec2 size, const char* title, const char* y_label, const char* x_label,
                  double x_min, double x_max, double y_min, double y_max, bool y_percent = false);
void polyline(const Chart& chart, const std::vector<ImVec2>& data, ImU32 color, float thickness);
void markers(const Chart& chart, const std::vector<ImVec2>& data, ImU32 color, float radius);
// A legend entry: a short line in the series' colour, then its text, on the current line.
void legend(ImU32 color, const char* text);
// Index of the point nearest the mouse along x (ringed), -1 when the chart is not hovered.
int hovered_point(const Chart& chart, const std::vector<ImVec2>& data);
}  // namespace widgets

}  // namespace digitlab::app
