// Strokes to ink: each segment is painted as a capsule with an anti-aliased edge into the raster, so a
// stroke costs only its own pixels while the user draws; undo repaints from the stroke list.
// Read next: app/app.cpp (which feeds pointer events in and hands canvas() to preprocess_canvas).
#include "common/drawing.hpp"

#include <algorithm>
#include <cmath>

namespace digitlab::app {

namespace {

bool is_finite(Point p) { return std::isfinite(p.x) && std::isfinite(p.y); }

float snap(float value) { return std::round(value * float(kDrawingGrid)) / float(kDrawingGrid); }

// Pointer positions far outside the area carry no ink; clamping keeps the arithmetic small.
Point clamp_point(Point p) {
  return {snap(std::clamp(p.x, -1.f, 2.f)), snap(std::clamp(p.y, -1.f, 2.f))};
}

// Moves shorter than this (fraction of the side) add no point: a resting pen must not grow the stroke.
constexpr float kMinStep = 0.002f;

}  // namespace

Drawing::Drawing(int raster_side) {
  raster_side = std::max(raster_side, 1);
  canvas_.width = raster_side;
  canvas_.height = raster_side;
  canvas_.ink.assign(std::size_t(raster_side) * std::size_t(raster_side), 0.f);
}

void Drawing::begin_stroke(Point p, float width) {
  if (in_progress_) end_stroke();
  if (!is_finite(p)) return;
  if (!std::isfinite(width)) width = 0.07f;
  Stroke stroke;
  stroke.width = snap(std::clamp(width, 0.005f, 0.5f));
  stroke.points.push_back(clamp_point(p));
  strokes_.push_back(std::move(stroke));
  in_progress_ = true;
  paint_segment(strokes_.back().points[0], strokes_.back().points[0], strokes_.back().width);
  ++revision_;
}

void Drawing::extend_stroke(Point p) {
  if (!in_progress_ || !is_finite(p)) return;
  Stroke& stroke = strokes_.back();
  p = clamp_point(p);
  const Point last = stroke.points.back();
  if (std::hypot(p.x - last.x, p.y - last.y) < kMinStep) return;
  stroke.points.push_back(p);
  paint_segment(last, p, stroke.width);
  ++revision_;
}

void Drawing::end_stroke() { in_progress_ = false; }

void Drawing::undo() {
  in_progress_ = false;
  if (strokes_.empty()) return;
  strokes_.pop_back();
  repaint();
}

void Drawing::clear() {
  in_progress_ = false;
  if (strokes_.empty()) return;
  strokes_.clear();
  repaint();
}

void Drawing::repaint() {
  std::fill(canvas_.ink.begin(), canvas_.ink.end(), 0.f);
  for (const Stroke& stroke : strokes_) {
    paint_segment(stroke.points[0], stroke.points[0], stroke.width);
    for (std::size_t i = 1; i < stroke.points.size(); ++i)
      paint_segment(stroke.points[i - 1], stroke.points[i], stroke.width);
  }
  ++revision_;
}

// Coverage of pixel centre c by the capsule around segment ab with radius r (all in raster pixels):
// 1 inside, 0 outside, a one-pixel linear ramp across the edge. Ink keeps the maximum, so overlapping
// segments of one stroke do not darken where they join.
void Drawing::paint_segment(Point a, Point b, float width) {
  const float side = float(canvas_.width);
  const float ax = a.x * side, ay = a.y * side, bx = b.x * side, by = b.y * side;
  const float radius = 0.5f * width * side;
  const float reach = radius + 1.f;
  const int x0 = std::max(0, int(std::floor(std::min(ax, bx) - reach)));
  const int y0 = std::max(0, int(std::floor(std::min(ay, by) - reach)));
  const int x1 = std::min(int(canvas_.width) - 1, int(std::ceil(std::max(ax, bx) + reach)));
  const int y1 = std::min(int(canvas_.height) - 1, int(std::ceil(std::max(ay, by) + reach)));
  const float dx = bx - ax, dy = by - ay;
  const float length_squared = dx * dx + dy * dy;
  for (int y = y0; y <= y1; ++y) {
    for (int x = x0; x <= x1; ++x) {
      const float px = float(x) + 0.5f - ax, py = float(y) + 0.5f - ay;
      float t = length_squared > 0.f ? (px * dx + py * dy) / length_squared : 0.f;
      t = std::clamp(t, 0.f, 1.f);
      const float ex = px - t * dx, ey = py - t * dy;
      const float coverage = std::clamp(radius + 0.5f - std::sqrt(ex * ex + ey * ey), 0.f, 1.f);
      float& ink = canvas_.ink[std::size_t(y) * std::size_t(canvas_.width) + std::size_t(x)];
      ink = std::max(ink, coverage);
    }
  }
}

}  // namespace digitlab::app
