// The teaching panels' drawing helpers (widgets.hpp). Read next: panel_*.cpp.
#include "teaching/widgets.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "imgui.h"

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

}  // namespace widgets

}  // namespace digitlab::app
