// preprocess_canvas on synthetic drawings (blobs, strokes, bars, huge and 1x1 canvases) and on MNIST test
// digits placed on a big canvas; plus its errors. Read next: shared/src/preprocess.cpp.
#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/idx.hpp"
#include "digitlab/preprocess.hpp"

using namespace digitlab;

namespace {

Canvas blank_canvas(std::int64_t w, std::int64_t h) {
  Canvas c;
  c.width = w;
  c.height = h;
  c.ink.assign(static_cast<std::size_t>(w * h), 0.f);
  return c;
}

void fill_disk(Canvas& c, double cx, double cy, double r) {
  for (std::int64_t y = 0; y < c.height; ++y)
    for (std::int64_t x = 0; x < c.width; ++x)
      if ((x + 0.5 - cx) * (x + 0.5 - cx) + (y + 0.5 - cy) * (y + 0.5 - cy) <= r * r) c.ink[y * c.width + x] = 1.f;
}

void fill_rect(Canvas& c, std::int64_t x0, std::int64_t y0, std::int64_t w, std::int64_t h, float ink = 1.f) {
  for (std::int64_t y = y0; y < y0 + h; ++y)
    for (std::int64_t x = x0; x < x0 + w; ++x) c.ink[y * c.width + x] = ink;
}

struct Moments {
  double mass = 0, cx = 0, cy = 0;
  std::int64_t min_x = 28, min_y = 28, max_x = -1, max_y = -1;  // extent of ink > 0.01
};

Moments moments(const std::vector<float>& image28) {
  Moments m;
  for (int y = 0; y < 28; ++y)
    for (int x = 0; x < 28; ++x) {
      const double v = image28[y * 28 + x];
      m.mass += v;
      m.cx += v * (x + 0.5);
      m.cy += v * (y + 0.5);
      if (v > 0.01) {
        m.min_x = std::min<std::int64_t>(m.min_x, x), m.max_x = std::max<std::int64_t>(m.max_x, x);
        m.min_y = std::min<std::int64_t>(m.min_y, y), m.max_y = std::max<std::int64_t>(m.max_y, y);
      }
    }
  m.cx /= m.mass;
  m.cy /= m.mass;
  return m;
}

// MNIST's convention (and ours): the centre of mass falls in [14, 15) on both axes.
bool centred(double c) { return c >= 14.0 - 1e-5 && c < 15.0; }

Preprocessed run(const Canvas& c, const ModelCard& card = make_mnist_card("mlp"), PreprocessOptions options = {}) {
  auto r = preprocess_canvas(c, card, options);
  if (!r) FAIL(r.error().to_string());
  const Preprocessed& p = r.value();
  REQUIRE(p.image28.size() == 784);
  REQUIRE(p.input.size() == 784);
  REQUIRE(p.image20.size() == 400);
  for (float v : p.image28) REQUIRE((v >= 0.f && v <= 1.f));
  return r.value();
}

}  // namespace

TEST_CASE("a centred blob stays centred and fills the 20x20 box", "[preprocess]") {
  Canvas c = blank_canvas(280, 280);
  fill_disk(c, 140, 140, 60);
  const Preprocessed p = run(c);
  const Moments m = moments(p.image28);
  INFO("centre of mass " << m.cx << ", " << m.cy);
  CHECK(centred(m.cx));
  CHECK(centred(m.cy));
  CHECK(p.box_w == 120);
  CHECK(p.box_h == 120);
  CHECK(p.box_x == 80);
  CHECK(p.box_y == 80);
  CHECK(m.max_x - m.min_x + 1 == 20);
  CHECK(m.max_y - m.min_y + 1 == 20);
  // Area averaging: the disk's edge pixels are grey, not just 0 or 1.
  int grey = 0;
  for (float v : p.image28) grey += (v > 0.05f && v < 0.95f) ? 1 : 0;
  CHECK(grey >= 8);
}

TEST_CASE("an off-centre stroke is moved to the centre", "[preprocess]") {
  Canvas c = blank_canvas(300, 200);
  fill_rect(c, 20, 10, 12, 150);   // a tall stroke near the left edge
  fill_rect(c, 32, 10, 40, 12);    // with a flag at the top: mass is lopsided
  const Preprocessed p = run(c);
  CHECK(p.box_x == 20);
  CHECK(p.box_y == 10);
  CHECK(p.box_w == 52);
  CHECK(p.box_h == 150);
  const Moments m = moments(p.image28);
  INFO("centre of mass after the shift " << m.cx << ", " << m.cy << "; before " << p.center_x << ", " << p.center_y);
  CHECK(centred(m.cx));
  CHECK(centred(m.cy));
  // Before the shift the box was centred, so the mass sat left of and above the centre.
  CHECK(p.center_x < 13.5f);
  CHECK(p.center_y < 13.5f);
  // Without centring the box stays centred and the centre of mass stays where it was.
  PreprocessOptions no_shift;
  no_shift.center_of_mass = false;
  const Preprocessed q = run(c, make_mnist_card("mlp"), no_shift);
  const Moments n = moments(q.image28);
  CHECK(n.cx == Approx(q.center_x).margin(1e-4));
  CHECK(n.cy == Approx(q.center_y).margin(1e-4));
  CHECK(n.min_y == 4);  // a 20-pixel-high digit centred in 28
  CHECK(n.max_y == 23);
}

TEST_CASE("the aspect ratio is kept", "[preprocess]") {
  Canvas c = blank_canvas(400, 300);
  fill_rect(c, 100, 130, 200, 40);  // 5:1 bar
  const Preprocessed p = run(c);
  const Moments m = moments(p.image28);
  CHECK(m.max_x - m.min_x + 1 == 20);
  CHECK(m.max_y - m.min_y + 1 == 4);
  // The same bar standing up.
  Canvas t = blank_canvas(300, 400);
  fill_rect(t, 130, 100, 40, 200);
  const Moments mt = moments(run(t).image28);
  CHECK(mt.max_x - mt.min_x + 1 == 4);
  CHECK(mt.max_y - mt.min_y + 1 == 20);
}

TEST_CASE("huge and 1x1 canvases work", "[preprocess]") {
  Canvas huge = blank_canvas(4000, 3000);
  fill_disk(huge, 1000, 2200, 700);
  fill_disk(huge, 1000, 2200, 500);  // (still a filled disk; the point is the size)
  const Preprocessed p = run(huge);
  const Moments m = moments(p.image28);
  INFO("centre of mass " << m.cx << ", " << m.cy);
  CHECK(centred(m.cx));
  CHECK(centred(m.cy));
  CHECK(p.box_w == 1400);

  Canvas dot = blank_canvas(1, 1);
  dot.ink[0] = 1.f;
  const Preprocessed d = run(dot);
  double total = 0;
  for (float v : d.image28) total += v;
  CHECK(total == Approx(400.0));  // one pixel of ink fitted to 20x20
  CHECK(d.image28[14 * 28 + 14] == 1.f);
  CHECK(d.image28[0] == 0.f);
}

TEST_CASE("an MNIST test digit placed on a big canvas preprocesses back to itself", "[preprocess][mnist]") {
  auto images = load_idx_images(std::string(DIGITLAB_DATA_DIR) + "/mnist/t10k-images-idx3-ubyte");
  if (!images) {
    WARN("MNIST not found (" << images.error().to_string() << "): run scripts/setup");
    return;
  }
  const ModelCard card = make_mnist_card("mlp");
  double worst_mean = 0;
  int worst = -1;
  for (std::uint32_t i = 0; i < 200; ++i) {
    const std::uint8_t* digit = images.value().image(i);
    Canvas c = blank_canvas(300, 200);
    const int ox = 37 + static_cast<int>(i % 50), oy = 91 + static_cast<int>(i % 13);
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) c.ink[(oy + y) * 300 + ox + x] = digit[y * 28 + x] / 255.f;
    const Preprocessed p = run(c, card);
    double diff = 0;
    for (int k = 0; k < 784; ++k) diff += std::fabs(p.image28[k] - digit[k] / 255.0);
    diff /= 784;
    if (diff > worst_mean) worst_mean = diff, worst = static_cast<int>(i);
    // The normalised input is the card's formula applied to image28.
    CHECK(p.input[100] == (p.image28[100] - card.normalize_mean) / card.normalize_std);
  }
  std::printf("MNIST digits on a 300x200 canvas: largest mean |image28 - original| over 200 digits = %.4f (digit %d)\n",
              worst_mean, worst);
  INFO("largest mean absolute pixel difference " << worst_mean << " at test digit " << worst);
  // Their boxes are 20 pixels on the longer side and their centres of mass already in pixel (14, 14), so
  // they come back unchanged unless faint pixels widen the box.
  CHECK(worst_mean <= 0.02);
}

TEST_CASE("the model card's normalisation is applied", "[preprocess]") {
  Canvas c = blank_canvas(50, 50);
  fill_rect(c, 10, 10, 20, 30, 0.8f);
  ModelCard card = make_mnist_card("cnn");
  card.normalize_mean = 0.1307f;
  card.normalize_std = 0.3081f;
  const Preprocessed p = run(c, card);
  for (std::size_t i = 0; i < 784; ++i) REQUIRE(p.input[i] == (p.image28[i] - 0.1307f) / 0.3081f);
  CHECK(p.input[0] == (0.f - 0.1307f) / 0.3081f);  // blank paper: what forward() skips
}

TEST_CASE("bad canvases give clear errors, never crashes", "[preprocess][errors]") {
  const ModelCard card = make_mnist_card("mlp");
  {
    auto r = preprocess_canvas(blank_canvas(100, 80), card);
    REQUIRE_FALSE(r);
    CHECK(r.error().code == ErrorCode::empty_input);
    CHECK(r.error().message.find("draw") != std::string::npos);
  }
  {
    Canvas faint = blank_canvas(100, 80);
    faint.ink[5] = 0.01f;  // below the default empty threshold (0.05 full-ink pixels)
    CHECK(preprocess_canvas(faint, card).error().code == ErrorCode::empty_input);
  }
  {
    Canvas bad = blank_canvas(10, 10);
    bad.ink.pop_back();
    CHECK(preprocess_canvas(bad, card).error().code == ErrorCode::bad_argument);
    CHECK(preprocess_canvas(Canvas{}, card).error().code == ErrorCode::bad_argument);
    Canvas negative;
    negative.width = -3;
    negative.height = 5;
    CHECK(preprocess_canvas(negative, card).error().code == ErrorCode::bad_argument);
    Canvas overflow;
    overflow.width = std::int64_t{1} << 40;
    overflow.height = std::int64_t{1} << 40;
    CHECK(preprocess_canvas(overflow, card).error().code == ErrorCode::bad_argument);
  }
  {
    ModelCard other = card;
    other.input_height = 32;
    Canvas c = blank_canvas(10, 10);
    c.ink[55] = 1.f;
    CHECK(preprocess_canvas(c, other).error().code == ErrorCode::bad_argument);
    other = card;
    other.normalize_std = 0.f;
    CHECK(preprocess_canvas(c, other).error().code == ErrorCode::bad_value);
  }
  {
    // NaN, infinities and out-of-range ink are clamped to [0, 1].
    Canvas c = blank_canvas(30, 30);
    fill_rect(c, 5, 5, 10, 15);
    c.ink[0] = std::numeric_limits<float>::quiet_NaN();
    c.ink[1] = std::numeric_limits<float>::infinity();
    c.ink[2] = -5.f;
    c.ink[3] = 7.f;
    auto r = preprocess_canvas(c, card);
    REQUIRE(r);
    for (float v : r.value().input) CHECK(std::isfinite(v));
  }
}
