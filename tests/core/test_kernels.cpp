// The convolution kernel's two choices that whole-model tests may not reach: per input pixel, skipping
// blank paper or zeros (with the pixel's bias-map share taken off), and the 8-float (AVX2) kernel next to
// the 4-float one. Each against a double-precision loop written here, and the two kernels bit for bit.
// Read next: shared/src/kernels.cpp (conv2d_hwc), shared/src/conv_panel.inc.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/kernels.hpp"
#include "digitlab/model.hpp"

using namespace digitlab;

namespace {

struct ConvCase {
  int in_channels, out_channels, kernel, stride, padding, height, width;
};

// out (oh, ow, out_channels), channels-last, from input (h, w, in_channels) channels-last; zero padding.
std::vector<double> reference_conv(const ConvCase& c, const std::vector<float>& weight, const std::vector<float>& bias,
                                   const std::vector<float>& input, int out_h, int out_w) {
  std::vector<double> out(static_cast<std::size_t>(out_h) * out_w * c.out_channels);
  for (int oy = 0; oy < out_h; ++oy)
    for (int ox = 0; ox < out_w; ++ox)
      for (int o = 0; o < c.out_channels; ++o) {
        double sum = bias[o];
        for (int ky = 0; ky < c.kernel; ++ky)
          for (int kx = 0; kx < c.kernel; ++kx) {
            const int iy = oy * c.stride + ky - c.padding, ix = ox * c.stride + kx - c.padding;
            if (iy < 0 || iy >= c.height || ix < 0 || ix >= c.width) continue;
            for (int ch = 0; ch < c.in_channels; ++ch) {
              sum += double(weight[((static_cast<std::size_t>(o) * c.in_channels + ch) * c.kernel + ky) * c.kernel + kx]) *
                     input[(static_cast<std::size_t>(iy) * c.width + ix) * c.in_channels + ch];
            }
          }
        out[(static_cast<std::size_t>(oy) * out_w + ox) * c.out_channels + o] = sum;
      }
  return out;
}

std::vector<float> run_conv(const kernels::PackedConv& packed, const std::vector<float>& input, int pool, bool wide) {
  kernels::set_wide_kernels(wide);
  kernels::Scratch scratch;
  const int out_h = pool > 0 ? packed.out_h / pool : packed.out_h, out_w = pool > 0 ? packed.out_w / pool : packed.out_w;
  std::vector<float> out(static_cast<std::size_t>(out_h) * out_w * packed.out_channels);
  kernels::conv2d_hwc(packed, input.data(), out.data(), nullptr, 0, pool, scratch);
  kernels::set_wide_kernels(true);
  return out;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

}  // namespace

TEST_CASE("conv2d_hwc: per-pixel blank-paper or zero skip, 4- and 8-float kernels, against a double loop",
          "[kernels]") {
  INFO("8-float (AVX2) kernel on this machine: " << (kernels::wide_kernels_active() ? "yes" : "no: 4-float only"));
  // Widths 8/16/24/32 run the 8-float kernel (40: a panel of 32 and one of 8); 12 is not a multiple of 8
  // and stays 4-float; stride 2 and the 3x3 pool take the single-output path.
  const std::vector<ConvCase> cases = {
      {16, 24, 3, 1, 1, 6, 7}, {16, 32, 3, 1, 1, 7, 7}, {8, 40, 3, 1, 1, 8, 9},
      {5, 12, 3, 1, 0, 6, 6},  {16, 16, 3, 2, 1, 9, 8}, {3, 8, 5, 1, 2, 7, 10},
  };
  SeededRandom random(5);
  for (const ConvCase& c : cases) {
    const std::string name = std::to_string(c.in_channels) + "->" + std::to_string(c.out_channels) + " k" +
                             std::to_string(c.kernel) + " s" + std::to_string(c.stride) + " p" + std::to_string(c.padding);
    std::vector<float> weight(static_cast<std::size_t>(c.out_channels) * c.in_channels * c.kernel * c.kernel), bias(c.out_channels);
    for (float& w : weight) w = random.uniform(-0.5f, 0.5f);
    for (float& b : bias) b = random.uniform(-0.5f, 0.5f);
    // Blank paper as a ReLU'd layer sees it: most channels positive, some zero.
    const std::size_t pixels = static_cast<std::size_t>(c.height) * c.width;
    std::vector<float> skip(pixels * c.in_channels);
    for (float& s : skip) s = random.uniform(0.f, 1.f) < 0.8f ? random.uniform(0.1f, 1.f) : 0.f;
    // The input: blank paper, except pixels where ink turned most channels to 0 (zero skip pays there),
    // pixels where every value changed (blank-paper skip pays), and pixels with a few changes.
    std::vector<float> input = skip;
    int zero_pixels = 0;
    for (std::size_t q = 0; q < pixels; ++q) {
      float* x = input.data() + q * c.in_channels;
      const float kind = random.uniform(0.f, 1.f);
      if (kind < 0.3f) {
        ++zero_pixels;
        for (int ch = 0; ch < c.in_channels; ++ch) x[ch] = random.uniform(0.f, 1.f) < 0.8f ? 0.f : random.uniform(0.f, 2.f);
      } else if (kind < 0.5f) {
        for (int ch = 0; ch < c.in_channels; ++ch) x[ch] = random.uniform(0.f, 2.f);
      } else if (kind < 0.7f) {
        x[static_cast<int>(random.uniform(0.f, 0.999f) * c.in_channels)] = 0.f;
      }
    }
    REQUIRE(zero_pixels > 0);
    const kernels::PackedConv packed = kernels::pack_conv2d(weight.data(), bias.data(), c.in_channels, c.out_channels, c.kernel,
                                                            c.stride, c.padding, c.height, c.width, skip.data());
    CHECK_FALSE(packed.skip_share.empty());
    const std::vector<double> reference = reference_conv(c, weight, bias, input, packed.out_h, packed.out_w);
    for (int pool : {0, 2, 3}) {
      if (pool > packed.out_h || pool > packed.out_w) continue;
      INFO(name << ", pool " << pool);
      const std::vector<float> narrow = run_conv(packed, input, pool, false);
      const std::vector<float> wide = run_conv(packed, input, pool, true);
      CHECK(same_bits(narrow, wide));
      // The reference, pooled the same way (max over each window; no activation).
      const int out_h = pool > 0 ? packed.out_h / pool : packed.out_h, out_w = pool > 0 ? packed.out_w / pool : packed.out_w;
      const int p = pool > 0 ? pool : 1;
      double worst = 0;
      for (int y = 0; y < out_h; ++y)
        for (int x = 0; x < out_w; ++x)
          for (int o = 0; o < c.out_channels; ++o) {
            double best = -1e300;
            for (int dy = 0; dy < p; ++dy)
              for (int dx = 0; dx < p; ++dx)
                best = std::max(best, reference[((static_cast<std::size_t>(y) * p + dy) * packed.out_w + x * p + dx) *
                                                    c.out_channels + o]);
            const double got = narrow[(static_cast<std::size_t>(y) * out_w + x) * c.out_channels + o];
            worst = std::max(worst, std::fabs(got - best) / std::max(1.0, std::fabs(best)));
          }
      INFO("largest scaled difference from the double loop: " << worst);
      CHECK(worst <= 1e-5);
    }
  }
}

TEST_CASE("the CNN gives the same bits with the 8-float and the 4-float convolution kernel", "[kernels][architectures]") {
  Model model = make_architecture("cnn", 3).value();
  REQUIRE(prepare(model));
  SeededRandom random(9);
  for (int i = 0; i < 4; ++i) {
    std::vector<float> input(784, -1.f);
    for (int y = 6; y < 22; ++y)
      for (int x = 8 + i; x < 18 + i; ++x)
        if (random.uniform(0.f, 1.f) < 0.5f) input[static_cast<std::size_t>(y) * 28 + x] = random.uniform(-1.f, 1.f);
    kernels::set_wide_kernels(false);
    const auto narrow = forward(model, input.data(), input.size());
    kernels::set_wide_kernels(true);
    const auto wide = forward(model, input.data(), input.size());
    REQUIRE(narrow);
    REQUIRE(wide);
    CHECK(same_bits(narrow.value().logits, wide.value().logits));
  }
}
