// The user's drawing: strokes in drawing-area coordinates, undo, and the ink raster that goes to
// preprocess_canvas. No ImGui, GL or platform code here. Read next: drawing.cpp, then app/app.hpp.
#pragma once

#include <cstdint>
#include <vector>

#include "digitlab/preprocess.hpp"

namespace digitlab::app {

// Points and widths are kept on a grid of 1/kDrawingGrid of the side (0.07 raster pixels at 280), so a
// drawing put in a link (drawing_code.hpp) comes back exactly, and so does its prediction.
inline constexpr int kDrawingGrid = 4096;

// A position in the square drawing area: (0,0) top-left, (1,1) bottom-right.
struct Point {
  float x = 0, y = 0;
};

struct Stroke {
  std::vector<Point> points;
  float width = 0.07f;  // pen diameter as a fraction of the drawing area's side
};

class Drawing {
 public:
  // raster_side: the ink raster is (raster_side, raster_side); 280 is ten times MNIST's 28.
  explicit Drawing(int raster_side = 280);

  // A stroke is a press, any number of moves and a release. extend/end without begin are ignored, so
  // stray pointer events (a release that started outside the area) do no harm.
  void begin_stroke(Point p, float width);
  void extend_stroke(Point p);
  void end_stroke();
  bool stroke_in_progress() const { return in_progress_; }

  void undo();   // removes the last stroke (the one in progress, if any)
  void clear();
  bool empty() const { return strokes_.empty(); }

  const std::vector<Stroke>& strokes() const { return strokes_; }
  const Canvas& canvas() const { return canvas_; }  // (raster_side, raster_side), ink in [0,1]
  // Increases whenever the ink changes: the app predicts again only when it moved.
  std::uint64_t revision() const { return revision_; }

 private:
  void paint_segment(Point a, Point b, float width);
  void repaint();

  std::vector<Stroke> strokes_;
  Canvas canvas_;
  bool in_progress_ = false;
  std::uint64_t revision_ = 0;
};

}  // namespace digitlab::app
