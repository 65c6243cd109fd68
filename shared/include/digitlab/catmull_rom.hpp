// A pen stroke's control points smoothed into a Catmull-Rom spline through them: how the hand-made digit
// templates (tests/data/digit_strokes.json, digit_styles.json) become strokes, for the trainer's pen
// augmentation and the tests' synthetic drawings alike. Header-only: any point type with float x, y.
// Read next: native/src/augment.cpp, tests/support/synthetic_digits.cpp.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace digitlab {

// samples_per_segment points between each pair of control points, then the last control point; strokes
// of fewer than three points come back as they are.
template <class Point>
std::vector<Point> catmull_rom(const std::vector<Point>& control, int samples_per_segment) {
  if (control.size() < 3) return control;
  std::vector<Point> out;
  auto at = [&](std::ptrdiff_t i) {
    return control[std::size_t(std::clamp<std::ptrdiff_t>(i, 0, std::ptrdiff_t(control.size()) - 1))];
  };
  for (std::size_t i = 0; i + 1 < control.size(); ++i) {
    const std::ptrdiff_t k = std::ptrdiff_t(i);
    const Point p0 = at(k - 1), p1 = at(k), p2 = at(k + 1), p3 = at(k + 2);
    for (int s = 0; s < samples_per_segment; ++s) {
      const float t = float(s) / float(samples_per_segment), t2 = t * t, t3 = t2 * t;
      auto blend = [&](float a, float b, float c, float d) {
        return 0.5f * (2 * b + (-a + c) * t + (2 * a - 5 * b + 4 * c - d) * t2 + (-a + 3 * b - 3 * c + d) * t3);
      };
      out.push_back({blend(p0.x, p1.x, p2.x, p3.x), blend(p0.y, p1.y, p2.y, p3.y)});
    }
  }
  out.push_back(control.back());
  return out;
}

}  // namespace digitlab
