// Layout: panels tile the area without overlapping, in the order asked, the drawing panel about square.
// Read next: wasm/common/layout.hpp.
#include <catch2/catch.hpp>

#include <algorithm>

#include "common/layout.hpp"

using namespace digitlab::app;

namespace {

bool overlap(const Rect& a, const Rect& b) {
  return a.x < b.x + b.width - 0.01f && b.x < a.x + a.width - 0.01f && a.y < b.y + b.height - 0.01f &&
         b.y < a.y + a.height - 0.01f;
}

std::string describe(const std::vector<Rect>& rects) {
  std::string text;
  for (const Rect& r : rects)
    text += "(" + std::to_string(r.x) + "," + std::to_string(r.y) + " " + std::to_string(r.width) + "x" +
            std::to_string(r.height) + ") ";
  return text;
}

}  // namespace

TEST_CASE("any panel list tiles any area", "[app][layout]") {
  const std::vector<std::vector<PanelId>> lists = {
      {PanelId::draw},
      {PanelId::draw, PanelId::prediction},
      {PanelId::prediction, PanelId::draw},
      {PanelId::draw, PanelId::prediction, PanelId::input, PanelId::model},
      {PanelId::model, PanelId::input},
      {PanelId::prediction},
  };
  const std::vector<Rect> areas = {{0, 0, 1100, 720}, {0, 30, 400, 900}, {0, 0, 2000, 300}, {0, 0, 1, 1}};
  for (const auto& panels : lists) {
    for (const Rect& area : areas) {
      const std::vector<Rect> rects = layout_panels(panels, area, 4.f);
      INFO(describe(rects) << " in " << area.width << "x" << area.height);
      REQUIRE(rects.size() == panels.size());
      for (std::size_t i = 0; i < rects.size(); ++i) {
        CHECK(rects[i].width > 0.f);
        CHECK(rects[i].height > 0.f);
        CHECK(rects[i].x >= area.x - 0.01f);
        CHECK(rects[i].y >= area.y - 0.01f);
        CHECK(rects[i].x + rects[i].width <= area.x + std::max(area.width, 1.f) + 0.01f);
        CHECK(rects[i].y + rects[i].height <= area.y + std::max(area.height, 1.f) + 0.01f);
        for (std::size_t j = i + 1; j < rects.size(); ++j) CHECK_FALSE(overlap(rects[i], rects[j]));
      }
    }
  }
}

TEST_CASE("the drawing panel is about square and comes where the list puts it", "[app][layout]") {
  const std::vector<PanelId> panels = {PanelId::draw, PanelId::prediction, PanelId::input};
  const std::vector<Rect> wide = layout_panels(panels, {0, 0, 1100, 720}, 0.f);
  INFO(describe(wide));
  CHECK(wide[0].x == 0.f);
  CHECK(wide[0].width == Approx(660.f));  // 60 % of the width, at most the height
  CHECK(wide[1].x == Approx(660.f));
  const std::vector<Rect> tall = layout_panels(panels, {0, 0, 400, 900}, 0.f);
  CHECK(tall[0].y == 0.f);
  CHECK(tall[0].height == Approx(440.f));  // 1.1 x the width: room for the toolbar
  const std::vector<Rect> last = layout_panels({PanelId::prediction, PanelId::draw}, {0, 0, 1100, 720}, 0.f);
  CHECK(last[1].x > last[0].x);
}
