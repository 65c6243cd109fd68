// The tiling rules of layout.hpp. Read next: app/app.cpp (which gives each rect to an ImGui window).
#include "common/layout.hpp"

#include <algorithm>

namespace digitlab::app {

namespace {

// Splits area among panels by weight: side by side when the area is wider than tall, else stacked.
void split_by_weight(const std::vector<PanelId>& panels, const std::vector<std::size_t>& slots, Rect area,
                     float gap, std::vector<Rect>& out) {
  if (slots.empty()) return;
  float total = 0.f;
  for (std::size_t slot : slots) total += panel_info(panels[slot]).weight;
  const bool side_by_side = area.width >= area.height * 1.2f;
  const float length = (side_by_side ? area.width : area.height) - gap * float(slots.size() - 1);
  float at = side_by_side ? area.x : area.y;
  for (std::size_t i = 0; i < slots.size(); ++i) {
    const bool last = i + 1 == slots.size();
    float size = length * panel_info(panels[slots[i]]).weight / total;
    Rect rect = area;
    if (side_by_side) {
      rect.x = at;
      rect.width = last ? area.x + area.width - at : size;
      at += size + gap;
    } else {
      rect.y = at;
      rect.height = last ? area.y + area.height - at : size;
      at += size + gap;
    }
    out[slots[i]] = rect;
  }
}

}  // namespace

std::vector<Rect> layout_panels(const std::vector<PanelId>& panels, Rect area, float gap) {
  std::vector<Rect> out(panels.size(), area);
  if (panels.empty()) return out;
  area.width = std::max(area.width, 1.f);
  area.height = std::max(area.height, 1.f);
  // A gap never eats a tiny area (an iframe a few pixels high must still get positive sizes).
  gap = std::clamp(gap, 0.f, std::min(area.width, area.height) * 0.05f);

  std::size_t draw_slot = panels.size();
  std::vector<std::size_t> others;
  for (std::size_t i = 0; i < panels.size(); ++i) {
    if (panels[i] == PanelId::draw && draw_slot == panels.size())
      draw_slot = i;
    else
      others.push_back(i);
  }
  if (draw_slot == panels.size() || others.empty()) {
    if (draw_slot != panels.size()) out[draw_slot] = area;
    split_by_weight(panels, others, area, gap, out);
    return out;
  }

  // The drawing panel is about square (its toolbar takes a little height); the rest goes to the others.
  const bool draw_first = draw_slot == 0;
  Rect draw = area, rest = area;
  if (area.width >= area.height) {
    draw.width = std::min(area.width * 0.6f, area.height * 1.0f);
    rest.width = area.width - draw.width - gap;
    if (draw_first) rest.x = area.x + draw.width + gap;
    else draw.x = area.x + rest.width + gap;
  } else {
    draw.height = std::min(area.height * 0.6f, area.width * 1.1f);
    rest.height = area.height - draw.height - gap;
    if (draw_first) rest.y = area.y + draw.height + gap;
    else draw.y = area.y + rest.height + gap;
  }
  out[draw_slot] = draw;
  split_by_weight(panels, others, rest, gap, out);
  return out;
}

}  // namespace digitlab::app
