// Images an MLP learns in a few epochs, for the train panel's tests: class c inks a 3-pixel-high band at
// rows 2c+3..2c+5, over a stretch of columns that moves with the image's index; idx files (not gzipped).
// Read next: test_train_run.cpp, test_panel_train.cpp.
#pragma once

#include <cstdint>
#include <vector>

#include "test_subset_fixture.hpp"

namespace digitlab::app::testing {

inline std::vector<std::uint8_t> band_images(std::uint32_t count, std::vector<std::uint8_t>* labels) {
  std::vector<std::uint8_t> out = {0, 0, 8, 3};
  put_u32_be(out, count);
  put_u32_be(out, 28);
  put_u32_be(out, 28);
  *labels = {0, 0, 8, 1};
  put_u32_be(*labels, count);
  out.reserve(out.size() + std::size_t(count) * 28 * 28);
  for (std::uint32_t i = 0; i < count; ++i) {
    const int c = int((i * 7) % 10), start = 4 + int(i % 9);
    std::vector<std::uint8_t> image(28 * 28, 0);
    for (int y = 2 * c + 3; y < 2 * c + 6; ++y)
      for (int x = start; x < start + 14; ++x) image[std::size_t(y * 28 + x)] = 255;
    out.insert(out.end(), image.begin(), image.end());
    labels->push_back(std::uint8_t(c));
  }
  return out;
}

}  // namespace digitlab::app::testing
