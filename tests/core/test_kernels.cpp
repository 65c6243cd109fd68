// The convolution kernel's two choices that whole-model tests may not reach: per input pixel, skipping
// blank paper or zeros (with the pixel's bias-map share taken off), and the 8-float (AVX2) kernel next to
// the 4-float one. Each against the core's double-precision reference (reference.hpp), and the two
// kernels bit for bit.
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
#include "digitlab/reference.hpp"

using namespace digitlab;

namespace {

struct ConvCase {
  int in_channels, out_channels, kernel, stride, padding, height, width;
};

// The core's reference convolution (reference.hpp) on channels-last data: input (h, w, in_channels), output
// (out_h, out_w, out_channels), max-pooled over pool x pool windows (sizes floor) when pool > 0.
std::vector<double> reference_conv(const ConvCase& c, const std::vector<float>& weight, const std::vector<float>& bias,
                                   const std::vector<float>& input, int pool) {
  Layer conv = make_conv2d_layer(c.in_channels, c.out_channels, c.kernel, c.stride, c.padding);
  conv.tensors[0].values = weight;
  conv.tensors[1].values = bias;
  reference::Activation chw{{c.in_channels, c.height, c.width}, std::vector<double>(input.size())};
  for (int y = 0; y < c.height; ++y)
    for (int x = 0; x < c.width; ++x)
      for (int ch = 0; ch < c.in_channels; ++ch)
        chw.values[(static_cast<std::size_t>(ch) * c.height + y) * c.width + x] =
            input[(static_cast<std::size_t>(y) * c.width + x) * c.in_channels + ch];
  reference::Activation out = reference::conv2d(conv, chw);
  if (pool > 0) out = reference::max_pool2d(make_max_pool2d_layer(pool, pool), out);
  const std::int64_t channels = out.dims[0], height = out.dims[1], width = out.dims[2];
  std::vector<double> hwc(out.values.size());
  for (std::int64_t ch = 0; ch < channels; ++ch)
    for (std::int64_t y = 0; y < height; ++y)
      for (std::int64_t x = 0; x < width; ++x) hwc[(y * width + x) * channels + ch] = out.values[(ch * height + y) * width + x];
  return hwc;
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
    for (int pool : {0, 2, 3}) {
      if (pool > packed.out_h || pool > packed.out_w) continue;
      INFO(name << ", pool " << pool);
      const std::vector<float> narrow = run_conv(packed, input, pool, false);
      const std::vector<float> wide = run_conv(packed, input, pool, true);
      CHECK(same_bits(narrow, wide));
      const std::vector<double> reference = reference_conv(c, weight, bias, input, pool);
      REQUIRE(reference.size() == narrow.size());
      double worst = 0;
      std::size_t where = 0;
      for (std::size_t i = 0; i < narrow.size(); ++i) {
        const double d = std::fabs(narrow[i] - reference[i]) / std::max(1.0, std::fabs(reference[i]));
        if (!(d <= worst)) {  // a NaN counts as the largest
          worst = std::isnan(d) ? 1e300 : d;
          where = i;
        }
      }
      INFO("at index " << where << " (out_h, out_w, out_channels): core " << narrow[where] << ", reference "
                       << reference[where]);
      INFO("largest scaled difference from the reference: " << worst);
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
