// Draw augmentation (see augment.hpp): one affine_grid + grid_sample for the whole batch, then stroke
// thickness with 3x3 max-pools; pen digits drawn from stroke templates and mixed into batches by label.
// Read next: trainer.cpp, which draws the parameters per epoch.
#include "augment.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <vector>

#include <nlohmann/json.hpp>

#include "digitlab/catmull_rom.hpp"
#include "digitlab/preprocess.hpp"

namespace digitlab::trainer {

torch::Tensor augment_drawn(const torch::Tensor& pixels, const torch::Tensor& uniforms, const DrawAugmentation& spec) {
  namespace F = torch::nn::functional;
  const std::int64_t n = pixels.size(0), height = pixels.size(2), width = pixels.size(3);
  torch::Tensor u = uniforms.to(torch::kFloat32);
  auto between = [&](int column, double lo, double hi) { return u.select(1, column) * (hi - lo) + lo; };
  const double pi = 3.14159265358979323846;
  torch::Tensor angle = between(0, -spec.max_rotation_degrees, spec.max_rotation_degrees) * (pi / 180.0);
  torch::Tensor scale = between(1, spec.min_scale, spec.max_scale);
  torch::Tensor shear = between(2, -spec.max_shear, spec.max_shear);
  // Shifts in grid units: the grid spans [-1, 1] over the image.
  torch::Tensor shift_x = between(3, -spec.max_shift_pixels, spec.max_shift_pixels) * (2.0 / double(width));
  torch::Tensor shift_y = between(4, -spec.max_shift_pixels, spec.max_shift_pixels) * (2.0 / double(height));

  // The grid maps output coordinates to input ones, so this is the inverse of the warp applied to the
  // digit: rotating/scaling the sampling grid by (angle, 1/scale) draws the digit rotated by -angle and
  // scaled by `scale`; both signs are drawn symmetrically, so that is fine.
  torch::Tensor cos_a = torch::cos(angle) / scale, sin_a = torch::sin(angle) / scale;
  torch::Tensor theta = torch::stack({torch::stack({cos_a, -sin_a + shear * cos_a, shift_x}, 1),
                                      torch::stack({sin_a, cos_a + shear * sin_a, shift_y}, 1)},
                                     1);  // (N, 2, 3)
  torch::Tensor images = pixels.to(torch::kFloat32) / 255.0;
  torch::Tensor grid = F::affine_grid(theta, {n, 1, height, width}, /*align_corners=*/false);
  torch::Tensor warped = F::grid_sample(images, grid,
                                        F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));

  // Stroke thickness: a bolder pen keeps the stroke and adds a softer rim; a finer pen drops the faint rim
  // and darkens what is left, as MNIST's anti-aliased scans do.
  torch::Tensor pen = u.select(1, 5).view({n, 1, 1, 1});
  torch::Tensor dilated = F::max_pool2d(warped, F::MaxPool2dFuncOptions(3).stride(1).padding(1));
  torch::Tensor thick = torch::maximum(warped, dilated * 0.7);
  torch::Tensor thin = ((warped - 0.4) / 0.6).clamp(0.0, 1.0);
  torch::Tensor result = torch::where(pen < spec.thicken_probability, thick,
                                      torch::where(pen > 1.0 - spec.thin_probability, thin, warped));
  return (result * 255.0).round().clamp(0, 255).to(torch::kUInt8);
}

torch::Tensor flip_horizontally(const torch::Tensor& pixels, const torch::Tensor& flips) {
  torch::Tensor mirrored = pixels.flip({3});
  torch::Tensor choose = (flips < 0.5).view({-1, 1, 1, 1});
  return torch::where(choose, mirrored, pixels);
}

// ---- pen digits ----------------------------------------------------------------------------------------

namespace {

struct PenPoint {
  float x = 0, y = 0;
};
using PenStroke = std::vector<PenPoint>;
struct PenTemplate {
  bool smooth = false;
  std::vector<PenStroke> strokes;  // unit box, y down
};

Result<std::vector<std::vector<PenTemplate>>> load_pen_templates(const std::string& path) {
  std::ifstream in(path);
  if (!in)
    return make_error(ErrorCode::io, "augment.pen", 0,
                      "cannot read the pen templates " + path + ": run the trainer from the repository root");
  std::vector<std::vector<PenTemplate>> by_digit(10);
  try {
    const nlohmann::json json = nlohmann::json::parse(in);
    for (int digit = 0; digit <= 9; ++digit) {
      for (const auto& style : json.at("digits").at(std::to_string(digit))) {
        PenTemplate t;
        t.smooth = style.at("smooth").get<bool>();
        for (const auto& stroke : style.at("strokes")) {
          PenStroke s;
          for (const auto& p : stroke) s.push_back({p.at(0).get<float>(), p.at(1).get<float>()});
          if (!s.empty()) t.strokes.push_back(std::move(s));
        }
        if (!t.strokes.empty()) by_digit[std::size_t(digit)].push_back(std::move(t));
      }
      if (by_digit[std::size_t(digit)].empty())
        return make_error(ErrorCode::bad_value, "augment.pen", 0,
                          path + " has no stroke template for the digit " + std::to_string(digit));
    }
  } catch (const nlohmann::json::exception& error) {
    return make_error(ErrorCode::bad_value, "augment.pen", 0,
                      path + " is not a digit template file ({\"digits\": {\"0\": [{\"smooth\", \"strokes\"}]}}): " +
                          error.what());
  }
  return by_digit;
}

// One capsule with a one-pixel anti-aliased edge, ink keeps the maximum: wasm/common/drawing.cpp's pen.
void paint_capsule(Canvas& canvas, PenPoint a, PenPoint b, float radius) {
  const float reach = radius + 1.f;
  const int x0 = std::max(0, int(std::floor(std::min(a.x, b.x) - reach)));
  const int y0 = std::max(0, int(std::floor(std::min(a.y, b.y) - reach)));
  const int x1 = std::min(int(canvas.width) - 1, int(std::ceil(std::max(a.x, b.x) + reach)));
  const int y1 = std::min(int(canvas.height) - 1, int(std::ceil(std::max(a.y, b.y) + reach)));
  const float dx = b.x - a.x, dy = b.y - a.y, length_squared = dx * dx + dy * dy;
  for (int y = y0; y <= y1; ++y)
    for (int x = x0; x <= x1; ++x) {
      const float px = float(x) + 0.5f - a.x, py = float(y) + 0.5f - a.y;
      const float t = length_squared > 0.f ? std::clamp((px * dx + py * dy) / length_squared, 0.f, 1.f) : 0.f;
      const float ex = px - t * dx, ey = py - t * dy;
      const float coverage = std::clamp(radius + 0.5f - std::sqrt(ex * ex + ey * ey), 0.f, 1.f);
      float& ink = canvas.ink[std::size_t(y) * std::size_t(canvas.width) + std::size_t(x)];
      ink = std::max(ink, coverage);
    }
}

// One random drawing of a template on a side x side raster: the placement ranges are wider than the
// evaluation grid's (tests/support/digit_style_set.cpp) on every axis.
Canvas draw_pen_digit(const PenTemplate& t, std::mt19937_64& rng, int side) {
  auto uniform = [&](float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); };
  const float height = uniform(0.35f, 0.9f), aspect = uniform(0.5f, 1.05f), slant = uniform(-0.25f, 0.4f);
  const float angle = uniform(-12.f, 12.f) * 3.14159265f / 180.f, pen = uniform(0.025f, 0.12f);
  const float jitter = uniform(0.f, 0.05f);
  const float width = height * aspect;
  const float margin = pen + std::abs(slant) * height * 0.5f;
  const float left = uniform(margin, std::max(margin, 1.f - width - margin));
  const float top = uniform(pen, std::max(pen, 1.f - height - pen));
  const float cx = left + width * 0.5f, cy = top + height * 0.5f, c = std::cos(angle), s = std::sin(angle);
  Canvas canvas;
  canvas.width = canvas.height = side;
  canvas.ink.assign(std::size_t(side) * std::size_t(side), 0.f);
  for (const PenStroke& control : t.strokes) {
    // Each stroke may also sit a little off where the template puts it (a 7's bar, a 4's stem).
    const float shift_x = uniform(-0.03f, 0.03f), shift_y = uniform(-0.03f, 0.03f);
    PenStroke jittered;
    for (PenPoint p : control)
      jittered.push_back({p.x + shift_x + uniform(-jitter, jitter), p.y + shift_y + uniform(-jitter, jitter)});
    PenStroke path = t.smooth ? catmull_rom(jittered, 8) : jittered;
    PenPoint last{};
    for (std::size_t i = 0; i < path.size(); ++i) {
      const float x = left + path[i].x * width + slant * (0.5f - path[i].y) * height, y = top + path[i].y * height;
      const float rx = cx + c * (x - cx) - s * (y - cy), ry = cy + s * (x - cx) + c * (y - cy);
      const PenPoint here{rx * float(side), ry * float(side)};
      paint_capsule(canvas, i == 0 ? here : last, here, 0.5f * pen * float(side));
      last = here;
    }
  }
  return canvas;
}

}  // namespace

Result<PenDigits> render_pen_digits(const std::string& templates_path, std::int64_t per_digit, std::uint64_t seed) {
  auto templates = load_pen_templates(templates_path);
  if (!templates) return templates.error();
  PenDigits pool;
  pool.per_digit = per_digit;
  pool.images = torch::zeros({10 * per_digit, 1, 28, 28}, torch::kUInt8);
  std::uint8_t* out = pool.images.data_ptr<std::uint8_t>();
  std::mt19937_64 rng(seed * 0x9E3779B97F4A7C15ull + 0x5EED);
  const ModelCard card;  // only image28 is kept: the trainer normalises itself
  for (int digit = 0; digit <= 9; ++digit) {
    const auto& styles = templates.value()[std::size_t(digit)];
    for (std::int64_t i = 0; i < per_digit; ++i) {
      const PenTemplate& t = styles[std::size_t(i) % styles.size()];  // every style equally often
      auto image = preprocess_canvas(draw_pen_digit(t, rng, 280), card);
      if (!image)
        return make_error(ErrorCode::bad_value, "augment.pen", 0,
                          "a pen drawing of " + std::to_string(digit) + " came out empty: " + image.error().to_string());
      std::uint8_t* row = out + (digit * per_digit + i) * 784;
      for (int p = 0; p < 784; ++p)
        row[p] = std::uint8_t(std::lround(std::clamp(image.value().image28[std::size_t(p)], 0.f, 1.f) * 255.f));
    }
  }
  return pool;
}

torch::Tensor mix_pen_digits(const torch::Tensor& pixels, const torch::Tensor& labels, const torch::Tensor& uniforms,
                             const PenDigits& pool, double fraction) {
  torch::Tensor u = uniforms.to(torch::kFloat32);
  torch::Tensor replace = (u.select(1, 0) < fraction).view({-1, 1, 1, 1});
  torch::Tensor which = (u.select(1, 1) * double(pool.per_digit)).to(torch::kInt64).clamp(0, pool.per_digit - 1);
  torch::Tensor pick = labels.to(torch::kInt64) * pool.per_digit + which;
  return torch::where(replace, pool.images.index_select(0, pick), pixels);
}

}  // namespace digitlab::trainer
