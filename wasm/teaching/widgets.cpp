// The teaching panels' drawing helpers (widgets.hpp). Read next: panel_*.cpp.
#include "teaching/widgets.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "common/i18n.hpp"
#include "imgui.h"
#include "teaching/teaching_panel.hpp"

namespace digitlab::app {

namespace widgets {

namespace {

template <typename Pixel, typename ToLevel>
bool image(const char* id, const Pixel* values, int width, int height, float cell, ToLevel level_of) {
  const ImVec2 p0 = ImGui::GetCursorScreenPos();
  const ImVec2 size(cell * float(width), cell * float(height));
  const bool clicked = ImGui::InvisibleButton(id, ImVec2(std::max(size.x, 1.f), std::max(size.y, 1.f)));
  ImDrawList* draw_list = ImGui::GetWindowDrawList();
  draw_list->AddRectFilled(p0, ImVec2(p0.x + size.x, p0.y + size.y), IM_COL32(0, 0, 0, 255));
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const int level = level_of(values[std::size_t(y) * std::size_t(width) + std::size_t(x)]);
      if (level <= 0) continue;
      const ImVec2 a(p0.x + float(x) * cell, p0.y + float(y) * cell);
      draw_list->AddRectFilled(a, ImVec2(a.x + cell, a.y + cell), IM_COL32(level, level, level, 255));
    }
  }
  return clicked;
}

}  // namespace

bool gray_image(const char* id, const float* values, int width, int height, float cell) {
  return image(id, values, width, height, cell,
               [](float v) { return int(std::lround(std::clamp(v, 0.f, 1.f) * 255.f)); });
}

bool gray_image_u8(const char* id, const std::uint8_t* values, int width, int height, float cell) {
  return image(id, values, width, height, cell, [](std::uint8_t v) { return int(v); });
}

std::uint32_t heat_color(float value) {
  // Five stops of viridis, linearly interpolated.
  static const float stops[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  const float t = std::clamp(std::isfinite(value) ? value : 0.f, 0.f, 1.f) * 4.f;
  const int i = std::min(3, int(t));
  const float f = t - float(i);
  auto mix = [&](int c) { return int(std::lround(stops[i][c] + (stops[i + 1][c] - stops[i][c]) * f)); };
  return IM_COL32(mix(0), mix(1), mix(2), 255);
}

ImVec4 error_color(Theme theme) {
  return theme == Theme::dark ? ImVec4(1.f, 0.45f, 0.45f, 1.f) : ImVec4(0.75f, 0.05f, 0.05f, 1.f);
}

Rect item_rect() {
  const ImVec2 a = ImGui::GetItemRectMin(), b = ImGui::GetItemRectMax();
  return {a.x, a.y, b.x - a.x, b.y - a.y};
}

std::string labelled(const char* shown, const char* id) { return std::string(shown) + "###" + id; }

void canvas_beside(PanelContext& context) {
  if (context.draw_panel_shown) return;
  const float side = std::floor(std::min(150.f * context.ui_scale, ImGui::GetContentRegionAvail().x * 0.2f));
  ImGui::BeginGroup();
  ImGui::TextUnformatted(tr("Draw here"));
  context.draw_canvas(side);
  ImGui::EndGroup();
  ImGui::SameLine(0.f, 2.f * ImGui::GetStyle().ItemSpacing.x);
}

// ---- charts (the training and train panels) ----------------------------------------------------------

ImU32 style_color(ImGuiCol id, float alpha) {
  ImVec4 c = ImGui::GetStyleColorVec4(id);
  c.w *= alpha;
  return ImGui::ColorConvertFloat4ToU32(c);
}

// ---- plotting ------------------------------------------------------------------------------------------------

namespace {

// A tick step of 1, 2 or 5 times a power of ten that gives about `count` ticks over `range`.
double nice_step(double range, int count) {
  const double raw = range / std::max(count, 1);
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  const double fraction = raw / power;
  return (fraction < 1.5 ? 1.0 : fraction < 3.5 ? 2.0 : fraction < 7.5 ? 5.0 : 10.0) * power;
}

void format_tick(char* buffer, std::size_t size, double value, double step) {
  if (std::fabs(value) < step * 1e-6) value = 0;
  const int decimals = step >= 1 ? 0 : std::min(6, int(std::ceil(-std::log10(step) - 1e-9)));
  std::snprintf(buffer, size, "%.*f", decimals, value);
}


}  // namespace

// Lays out a chart of the given outer size at the cursor and draws its frame, grid, ticks and labels.
// x ticks are whole epochs (at most about 8 labelled).
Chart begin_chart(const char* id, ImVec2 size, const char* title, const char* y_label, const char* x_label,
                  double x_min, double x_max, double y_min, double y_max, bool y_percent) {
  Chart chart;
  chart.x_min = x_min, chart.x_max = x_max > x_min ? x_max : x_min + 1;
  chart.y_min = y_min, chart.y_max = y_max > y_min ? y_max : y_min + 1;
  const ImVec2 origin = ImGui::GetCursorScreenPos();
  ImGui::InvisibleButton(id, size);
  chart.hovered = ImGui::IsItemHovered();
  ImDrawList* draw = ImGui::GetWindowDrawList();
  const float line = ImGui::GetTextLineHeight();
  const float left = ImGui::CalcTextSize("0.0000").x + 6.f;
  chart.p0 = ImVec2(origin.x + left, origin.y + line * 1.3f);
  chart.p1 = ImVec2(origin.x + size.x - 8.f, origin.y + size.y - line * 2.2f);
  const ImU32 text = style_color(ImGuiCol_Text), faint = style_color(ImGuiCol_TextDisabled),
              grid = style_color(ImGuiCol_TextDisabled, 0.25f);

  // The y label over the tick labels, the title centred over the data area.
  draw->AddText(ImVec2(origin.x, origin.y), faint, y_label);
  const float title_width = ImGui::CalcTextSize(title).x;
  draw->AddText(ImVec2(std::max(chart.p0.x, (chart.p0.x + chart.p1.x - title_width) * 0.5f), origin.y), text, title);
  draw->AddRectFilled(chart.p0, chart.p1, style_color(ImGuiCol_FrameBg, 0.5f));
  char label[32];
  const double y_step = nice_step(chart.y_max - chart.y_min, 4);
  for (double y = std::ceil(chart.y_min / y_step - 1e-9) * y_step; y <= chart.y_max + y_step * 1e-6; y += y_step) {
    const ImVec2 at = chart.to_screen(chart.x_min, y);
    draw->AddLine(ImVec2(chart.p0.x, at.y), ImVec2(chart.p1.x, at.y), grid);
    format_tick(label, sizeof label, y_percent ? 100 * y : y, y_percent ? 100 * y_step : y_step);
    const ImVec2 label_size = ImGui::CalcTextSize(label);
    draw->AddText(ImVec2(chart.p0.x - label_size.x - 4.f, at.y - label_size.y * 0.5f), faint, label);
  }
  const double x_step = std::max(1.0, nice_step(chart.x_max - chart.x_min, 8));
  for (double x = std::ceil(chart.x_min / x_step - 1e-9) * x_step; x <= chart.x_max + 1e-6; x += x_step) {
    const ImVec2 at = chart.to_screen(x, chart.y_min);
    draw->AddLine(ImVec2(at.x, chart.p0.y), ImVec2(at.x, chart.p1.y), grid);
    std::snprintf(label, sizeof label, "%.0f", std::fabs(x) < 1e-9 ? 0.0 : x);  // never "-0"
    const ImVec2 label_size = ImGui::CalcTextSize(label);
    draw->AddText(ImVec2(at.x - label_size.x * 0.5f, chart.p1.y + 2.f), faint, label);
  }
  draw->AddRect(chart.p0, chart.p1, faint);
  // The x label centred under the tick labels.
  const ImVec2 x_label_size = ImGui::CalcTextSize(x_label);
  draw->AddText(ImVec2((chart.p0.x + chart.p1.x - x_label_size.x) * 0.5f, chart.p1.y + line + 3.f), faint, x_label);
  return chart;
}

void polyline(const Chart& chart, const std::vector<ImVec2>& data, ImU32 color, float thickness) {
  std::vector<ImVec2> points;
  points.reserve(data.size());
  for (const ImVec2& point : data) points.push_back(chart.to_screen(point.x, point.y));
  ImDrawList* draw = ImGui::GetWindowDrawList();
  draw->PushClipRect(chart.p0, chart.p1, true);
  draw->AddPolyline(points.data(), int(points.size()), color, ImDrawFlags_None, thickness);
  draw->PopClipRect();
}

void markers(const Chart& chart, const std::vector<ImVec2>& data, ImU32 color, float radius) {
  ImDrawList* draw = ImGui::GetWindowDrawList();
  for (const ImVec2& point : data) draw->AddCircleFilled(chart.to_screen(point.x, point.y), radius, color);
}

// A legend entry: a short line in the series' colour, then its text, on the current line.
void legend(ImU32 color, const char* text) {
  const ImVec2 at = ImGui::GetCursorScreenPos();
  const float line = ImGui::GetTextLineHeight();
  ImGui::GetWindowDrawList()->AddLine(ImVec2(at.x, at.y + line * 0.5f), ImVec2(at.x + line * 1.2f, at.y + line * 0.5f),
                                      color, 3.f);
  ImGui::Dummy(ImVec2(line * 1.4f, line));
  ImGui::SameLine(0, 2.f);
  ImGui::TextUnformatted(text);
}

// Index of the point nearest the mouse along x, -1 when the chart is not hovered.
int hovered_point(const Chart& chart, const std::vector<ImVec2>& data) {
  if (!chart.hovered || data.empty()) return -1;
  const double x = chart.x_at(ImGui::GetIO().MousePos.x);
  int best = 0;
  for (std::size_t i = 1; i < data.size(); ++i)
    if (std::fabs(data[i].x - x) < std::fabs(data[std::size_t(best)].x - x)) best = int(i);
  ImGui::GetWindowDrawList()->AddCircle(chart.to_screen(data[std::size_t(best)].x, data[std::size_t(best)].y), 5.f,
                                        style_color(ImGuiCol_Text), 0, 1.5f);
  return best;
}

}  // namespace widgets

}  // namespace digitlab::app
