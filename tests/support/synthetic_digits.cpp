// Synthetic pen drawings of digits (see synthetic_digits.hpp). Read next: the tests that use them,
// tests/core/test_segment.cpp and tests/shipped/test_shipped_weights.cpp.
#include "support/synthetic_digits.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "digitlab/catmull_rom.hpp"

#include <nlohmann/json.hpp>

namespace digitlab::testing {

std::vector<DigitTemplate> load_digit_templates(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  nlohmann::json json = nlohmann::json::parse(in);
  std::vector<DigitTemplate> templates;
  for (int digit = 0; digit <= 9; ++digit) {
    for (const auto& style : json.at("digits").at(std::to_string(digit))) {
      DigitTemplate t;
      t.digit = digit;
      t.style = style.at("name").get<std::string>();
      t.smooth = style.at("smooth").get<bool>();
      for (const auto& stroke : style.at("strokes")) {
        Stroke s;
        for (const auto& p : stroke) s.push_back({p.at(0).get<float>(), p.at(1).get<float>()});
        t.strokes.push_back(std::move(s));
      }
      templates.push_back(std::move(t));
    }
  }
  return templates;
}

Placement random_placement(std::uint32_t seed, float canvas_width, float canvas_height) {
  std::mt19937 rng(seed);
  auto uniform = [&](float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); };
  Placement p;
  float side = std::min(canvas_width, canvas_height);
  p.height = side * uniform(0.45f, 0.85f);
  p.aspect = uniform(0.6f, 0.95f);
  p.slant = uniform(-0.15f, 0.3f);
  p.pen_width = side * uniform(0.035f, 0.075f);
  p.jitter = uniform(0.0f, 0.03f);
  float width = p.height * p.aspect;
  float margin = p.pen_width + std::abs(p.slant) * p.height * 0.5f;
  p.left = uniform(margin, std::max(margin, canvas_width - width - margin));
  p.top = uniform(p.pen_width, std::max(p.pen_width, canvas_height - p.height - p.pen_width));
  p.seed = seed;
  return p;
}


std::vector<Stroke> place_strokes(const DigitTemplate& digit, const Placement& placement) {
  std::mt19937 rng(placement.seed * 2654435761u + 17u);
  std::uniform_real_distribution<float> noise(-placement.jitter, placement.jitter);
  float width = placement.height * placement.aspect;
  std::vector<Stroke> placed;
  for (const Stroke& control : digit.strokes) {
    Stroke jittered;
    for (Point p : control) jittered.push_back({p.x + noise(rng), p.y + noise(rng)});
    Stroke path = digit.smooth ? catmull_rom(jittered, 8) : jittered;
    Stroke out;
    for (Point p : path) {
      float x = placement.left + p.x * width + placement.slant * (0.5f - p.y) * placement.height;
      float y = placement.top + p.y * placement.height;
      out.push_back({x, y});
    }
    placed.push_back(std::move(out));
  }
  return placed;
}

Canvas blank_canvas(std::int64_t width, std::int64_t height) {
  Canvas canvas;
  canvas.width = width;
  canvas.height = height;
  canvas.ink.assign(std::size_t(width * height), 0.f);
  return canvas;
}

static float distance_to_segment(Point p, Point a, Point b) {
  float dx = b.x - a.x, dy = b.y - a.y;
  float length2 = dx * dx + dy * dy;
  float t = length2 > 0 ? std::clamp(((p.x - a.x) * dx + (p.y - a.y) * dy) / length2, 0.f, 1.f) : 0.f;
  float ex = p.x - (a.x + t * dx), ey = p.y - (a.y + t * dy);
  return std::sqrt(ex * ex + ey * ey);
}

void draw_strokes(Canvas& canvas, const std::vector<Stroke>& strokes, float pen_width) {
  float radius = pen_width * 0.5f;
  for (const Stroke& stroke : strokes) {
    for (std::size_t i = 0; i < stroke.size(); ++i) {
      Point a = stroke[i], b = stroke[i + 1 < stroke.size() ? i + 1 : i];
      auto x0 = std::max<std::int64_t>(0, std::int64_t(std::floor(std::min(a.x, b.x) - radius - 1)));
      auto x1 = std::min<std::int64_t>(canvas.width - 1, std::int64_t(std::ceil(std::max(a.x, b.x) + radius + 1)));
      auto y0 = std::max<std::int64_t>(0, std::int64_t(std::floor(std::min(a.y, b.y) - radius - 1)));
      auto y1 = std::min<std::int64_t>(canvas.height - 1, std::int64_t(std::ceil(std::max(a.y, b.y) + radius + 1)));
      for (std::int64_t y = y0; y <= y1; ++y)
        for (std::int64_t x = x0; x <= x1; ++x) {
          float d = distance_to_segment({float(x) + 0.5f, float(y) + 0.5f}, a, b);
          float ink = std::clamp(radius + 0.5f - d, 0.f, 1.f);
          float& pixel = canvas.ink[std::size_t(y * canvas.width + x)];
          pixel = std::max(pixel, ink);
        }
    }
  }
}

}  // namespace digitlab::testing
