// Splitting a drawn number into digits: synthetic multi-digit drawings come apart into the right boxes,
// left to right, whatever the strokes' order, and a blank drawing is reported as empty.
#include <catch2/catch.hpp>

#include <algorithm>
#include <random>

#include "digitlab/architectures.hpp"
#include "digitlab/segment.hpp"
#include "support/synthetic_digits.hpp"

using namespace digitlab;
using namespace digitlab::testing;

namespace {

struct DrawnNumber {
  Canvas canvas;
  std::vector<int> digits;
  std::vector<std::pair<float, float>> x_ranges;  // each digit's horizontal extent in pixels
};

// Draws the given digits side by side on one canvas, each with its own random style and placement.
DrawnNumber draw_number(const std::vector<int>& digits, std::uint32_t seed) {
  static const std::vector<DigitTemplate> templates = load_digit_templates();
  std::mt19937 rng(seed);
  const float cell = 160, gap = 24;
  DrawnNumber number;
  number.canvas = blank_canvas(std::int64_t(digits.size() * (cell + gap) + gap), 220);
  number.digits = digits;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    std::vector<const DigitTemplate*> styles;
    for (const auto& t : templates)
      if (t.digit == digits[i]) styles.push_back(&t);
    const DigitTemplate& style = *styles[rng() % styles.size()];
    Placement p = random_placement(rng(), cell, 200);
    p.left += gap + float(i) * (cell + gap);
    p.top += 10;
    auto strokes = place_strokes(style, p);
    draw_strokes(number.canvas, strokes, p.pen_width);
    float lo = 1e9f, hi = -1e9f;
    for (const auto& s : strokes)
      for (Point q : s) lo = std::min(lo, q.x - p.pen_width / 2), hi = std::max(hi, q.x + p.pen_width / 2);
    number.x_ranges.push_back({lo, hi});
  }
  return number;
}

}  // namespace

TEST_CASE("multi-digit drawings split into one region per digit, left to right") {
  std::mt19937 rng(7);
  int checked = 0;
  for (int trial = 0; trial < 40; ++trial) {
    std::vector<int> digits(2 + rng() % 3);
    for (int& d : digits) d = int(rng() % 10);
    DrawnNumber number = draw_number(digits, 1000 + trial);
    auto regions = segment_digits(number.canvas);
    INFO("trial " << trial << (regions.ok() ? "" : ": " + regions.error().to_string()));
    REQUIRE(regions.ok());
    REQUIRE(regions.value().size() == digits.size());
    for (std::size_t i = 0; i < digits.size(); ++i) {
      const DigitRegion& r = regions.value()[i];
      float centre = float(r.x) + float(r.width) / 2;
      INFO("digit " << i << " (" << digits[i] << ") drawn over x " << number.x_ranges[i].first << ".."
                    << number.x_ranges[i].second << ", region x " << r.x << " width " << r.width);
      CHECK(centre > number.x_ranges[i].first);
      CHECK(centre < number.x_ranges[i].second);
      CHECK(r.canvas.ink.size() == std::size_t(r.width * r.height));
      ++checked;
    }
  }
  CHECK(checked >= 80);
}

TEST_CASE("a digit's crop holds only its own ink") {
  DrawnNumber number = draw_number({1, 1}, 3);
  auto regions = segment_digits(number.canvas);
  REQUIRE(regions.ok());
  REQUIRE(regions.value().size() == 2);
  float total = 0;
  for (const auto& r : regions.value())
    for (float v : r.canvas.ink) total += v;
  float drawn = 0;
  for (float v : number.canvas.ink) drawn += v;
  CHECK(total == Approx(drawn).epsilon(0.02));
}

TEST_CASE("segmenting a blank drawing reports empty input, a wrong-sized canvas a bad argument") {
  Canvas blank = blank_canvas(100, 50);
  auto r = segment_digits(blank);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::empty_input);
  Canvas wrong = blank;
  wrong.ink.pop_back();
  CHECK(segment_digits(wrong).error().code == ErrorCode::bad_argument);
}

TEST_CASE("read_number classifies every digit and joins the labels") {
  Model model = make_mlp(1);
  DrawnNumber number = draw_number({4, 2}, 11);
  auto reading = read_number(model, number.canvas);
  INFO((reading.ok() ? std::string() : reading.error().to_string()));
  REQUIRE(reading.ok());
  CHECK(reading.value().text.size() == 2);
  CHECK(reading.value().predictions.size() == 2);
  CHECK(reading.value().confidence > 0.f);
  CHECK(reading.value().confidence <= 1.f);
  // Each digit's model input is kept for the number panel: the one the prediction was made from.
  REQUIRE(reading.value().inputs.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    const Preprocessed& input = reading.value().inputs[i];
    CHECK(input.image28.size() == 28u * 28u);
    auto again = forward(model, input.input.data(), input.input.size());
    REQUIRE(again.ok());
    CHECK(again.value().logits == reading.value().predictions[i].logits);
  }
}
