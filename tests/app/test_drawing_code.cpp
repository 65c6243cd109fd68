// The drawing code of shared links (drawing=1...): the format pinned against a hand-worked example,
// seeded random round trips, and damaged or oversized codes, each refused with its own message.
// Read next: wasm/common/drawing_code.hpp, test_url_options.cpp (the drawing= parameter).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "common/drawing_code.hpp"

using namespace digitlab::app;

namespace {

// The format's numbers written by hand (an independent writer): zigzag, 5 bits per digit, low first.
std::string code_of(const std::vector<long>& numbers) {
  static const char digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out = "1.";
  for (long n : numbers) {
    unsigned long z = n < 0 ? (static_cast<unsigned long>(-n) << 1) - 1 : static_cast<unsigned long>(n) << 1;
    do {
      out += digits[(z & 31) | (z >> 5 ? 32 : 0)];
      z >>= 5;
    } while (z);
  }
  return out;
}

std::vector<Stroke> random_strokes(std::mt19937& random) {
  std::uniform_int_distribution<int> stroke_count(1, 12), point_count(1, 120);
  std::uniform_real_distribution<float> width(0.005f, 0.5f), start(-0.2f, 1.2f), step(-0.03f, 0.03f);
  std::vector<Stroke> strokes(std::size_t(stroke_count(random)));
  for (Stroke& stroke : strokes) {
    stroke.width = width(random);
    Point p{start(random), start(random)};
    for (int i = point_count(random); i > 0; --i) {
      stroke.points.push_back(p);
      p = {std::clamp(p.x + step(random), -1.f, 2.f), std::clamp(p.y + step(random), -1.f, 2.f)};
    }
  }
  return strokes;
}

std::string refusal(const std::string& code) {
  std::string problem;
  const std::vector<Stroke> strokes = decode_drawing(code, &problem);
  CHECK(strokes.empty());
  CHECK(problem.find("The canvas starts empty") != std::string::npos);
  return problem;
}

}  // namespace

TEST_CASE("drawing code: the documented format, worked by hand", "[app][drawing_code]") {
  // One stroke, width 287/4096 (the 0.07 pen), from (0.5, 0.25) to (0.5, 0.75).
  const std::vector<Stroke> strokes{{{{0.5f, 0.25f}, {0.5f, 0.75f}}, 287.f / 4096.f}};
  CHECK(code_of({1, 287, 2, 2048, 1024, 0, 2048}) == "1.C-REggEggCAggE");  // the writer above, by hand
  CHECK(encode_drawing(strokes) == "1.C-REggEggCAggE");
  CHECK(encode_drawing({}).empty());

  std::string problem;
  const std::vector<Stroke> back = decode_drawing(code_of({2, 287, 1, 100, -3, 40, 2, -5, 7, 4000, -4000}), &problem);
  INFO(problem);
  REQUIRE(back.size() == 2);
  CHECK(back[0].width == 287.f / 4096.f);
  CHECK(back[0].points.size() == 1);
  CHECK(back[0].points[0].x == 100.f / 4096.f);
  CHECK(back[0].points[0].y == -3.f / 4096.f);
  CHECK(back[1].width == 40.f / 4096.f);
  REQUIRE(back[1].points.size() == 2);
  CHECK(back[1].points[0].x == 95.f / 4096.f);  // deltas carry on from the previous stroke's last point
  CHECK(back[1].points[1].x == 4095.f / 4096.f);
  CHECK(back[1].points[1].y == -3996.f / 4096.f);
}

TEST_CASE("drawing code: random drawings survive within the grid step, and re-encode the same", "[app][drawing_code]") {
  const float half_step = 0.5f / float(kDrawingGrid) + 1e-6f;
  for (unsigned seed = 1; seed <= 60; ++seed) {
    std::mt19937 random(seed);
    const std::vector<Stroke> strokes = random_strokes(random);
    const std::string code = encode_drawing(strokes);
    std::string problem;
    const std::vector<Stroke> back = decode_drawing(code, &problem);
    INFO("seed " << seed << ": " << problem);
    REQUIRE(back.size() == strokes.size());
    float worst = 0.f;
    std::size_t worst_stroke = 0, worst_point = 0;
    for (std::size_t s = 0; s < strokes.size(); ++s) {
      REQUIRE(back[s].points.size() == strokes[s].points.size());
      worst = std::max(worst, std::fabs(back[s].width - strokes[s].width));
      for (std::size_t i = 0; i < strokes[s].points.size(); ++i) {
        const float d = std::max(std::fabs(back[s].points[i].x - strokes[s].points[i].x),
                                 std::fabs(back[s].points[i].y - strokes[s].points[i].y));
        if (d > worst) worst = d, worst_stroke = s, worst_point = i;
      }
    }
    INFO("largest difference " << worst << " at stroke " << worst_stroke << " point " << worst_point);
    CHECK(worst <= half_step);
    CHECK(encode_drawing(back) == code);  // stable: decoding loses nothing the code holds
    CHECK(code.size() <= kMaxDrawingChars);
  }
}

TEST_CASE("drawing code: what a Drawing holds comes back exactly, ink and all", "[app][drawing_code]") {
  std::mt19937 random(7);
  Drawing original(56), restored(56);
  for (const Stroke& stroke : random_strokes(random)) {
    original.begin_stroke(stroke.points[0], stroke.width);
    for (const Point& p : stroke.points) original.extend_stroke(p);
    original.end_stroke();
  }
  std::string problem;
  for (const Stroke& stroke : decode_drawing(encode_drawing(original.strokes()), &problem)) {
    restored.begin_stroke(stroke.points[0], stroke.width);
    for (const Point& p : stroke.points) restored.extend_stroke(p);
    restored.end_stroke();
  }
  INFO(problem);
  REQUIRE(restored.strokes().size() == original.strokes().size());
  for (std::size_t s = 0; s < original.strokes().size(); ++s) {
    CHECK(restored.strokes()[s].width == original.strokes()[s].width);
    CHECK(restored.strokes()[s].points.size() == original.strokes()[s].points.size());
  }
  float worst = 0.f;
  for (std::size_t i = 0; i < original.canvas().ink.size(); ++i)
    worst = std::max(worst, std::fabs(original.canvas().ink[i] - restored.canvas().ink[i]));
  CHECK(worst == 0.f);
}

TEST_CASE("drawing code: damaged and oversized codes are refused, each saying what is wrong", "[app][drawing_code]") {
  const std::string one_point = code_of({1, 287, 1, 2048, 2048});
  CHECK(refusal("").find("does not start with 1.") != std::string::npos);
  CHECK(refusal("CgAB").find("does not start with 1.") != std::string::npos);
  CHECK(refusal("2.C-REggEggCAggE").find("version '2' is not 1") != std::string::npos);
  CHECK(refusal("1.C-R*ggEggCAggE").find("character 6 ('*') is not A-Z a-z 0-9 - _") != std::string::npos);
  CHECK(refusal("1.C-R ggEggCAggE").find("character 6 (' ')") != std::string::npos);  // a '+' decoded to ' '
  CHECK(refusal("1.C-REggEggCAg").find("is cut short") != std::string::npos);   // cut inside a number
  CHECK(refusal("1.C-REggEgg").find("is cut short") != std::string::npos);      // cut between points
  CHECK(refusal("1.gggggggC").find("a number is too large") != std::string::npos);
  CHECK(refusal(code_of({0})).find("the stroke count is 0, outside 1..200") != std::string::npos);
  CHECK(refusal(code_of({201})).find("the stroke count is 201, outside 1..200") != std::string::npos);
  CHECK(refusal(code_of({1, 19, 1, 0, 0})).find("a pen width is 19, outside 20..2048") != std::string::npos);
  CHECK(refusal(code_of({1, 2049, 1, 0, 0})).find("a pen width is 2049") != std::string::npos);
  CHECK(refusal(code_of({1, 287, 0})).find("a point count is 0, outside 1..2000") != std::string::npos);
  CHECK(refusal(code_of({1, 287, 2, 0, 0, -4097, 0})).find("a point is out of range") != std::string::npos);
  CHECK(refusal(code_of({1, 287, 1, 0, 8193})).find("a point is out of range") != std::string::npos);
  CHECK(refusal(one_point + "A").find("goes on after its last stroke") != std::string::npos);
  CHECK(refusal(code_of({2, 287, 1500}) + std::string(3000, 'A') + code_of({287, 501}).substr(2))
            .find("over 2000 points") != std::string::npos);
  CHECK(refusal("1." + std::string(kMaxDrawingChars, 'A')).find("8002 characters, over 8000") !=
        std::string::npos);
  // Just inside the limits is still a drawing.
  std::string problem;
  CHECK(decode_drawing(code_of({1, 20, 1, -4096, 8192}), &problem).size() == 1);
  CHECK(problem.empty());
}
