// A tiny test subset whose results are known by hand, for the test-subset, explorer and confusion tests:
// images that each light one pixel, a linear model that reads that pixel as its class, and idx files
// wrapped in gzip (stored blocks, with the core's CRC-32) the way the site ships them.
// Read next: test_test_subset.cpp, test_panel_explorer.cpp, test_panel_confusion.cpp.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/inflate.hpp"
#include "digitlab/weights.hpp"

namespace digitlab::app::testing {

// Image i lights pixel kLooksLike[i] of the first row; the model says that pixel's index. So image 10 (a
// "3" by the model) labelled 8 and image 11 (a "3") labelled 5 are the two mistakes.
inline const std::vector<int> kLooksLike = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 3, 3};
inline const std::vector<int> kLabels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 8, 5};

// The confusion counts those give, row = true class, written out by hand.
inline std::vector<std::vector<int>> expected_confusion() {
  std::vector<std::vector<int>> counts(10, std::vector<int>(10, 0));
  for (int c = 0; c < 10; ++c) counts[std::size_t(c)][std::size_t(c)] = 1;
  counts[8][3] = 1;  // image 10
  counts[5][3] = 1;  // image 11
  return counts;
}

inline void put_u32_be(std::vector<std::uint8_t>& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::uint8_t(v >> shift));
}

inline std::vector<std::uint8_t> idx_images(const std::vector<int>& looks_like) {
  std::vector<std::uint8_t> out = {0, 0, 8, 3};
  put_u32_be(out, std::uint32_t(looks_like.size()));
  put_u32_be(out, 28);
  put_u32_be(out, 28);
  for (int lit : looks_like) {
    std::vector<std::uint8_t> image(28 * 28, 0);
    image[std::size_t(lit)] = 255;
    out.insert(out.end(), image.begin(), image.end());
  }
  return out;
}

inline std::vector<std::uint8_t> idx_labels(const std::vector<int>& labels) {
  std::vector<std::uint8_t> out = {0, 0, 8, 1};
  put_u32_be(out, std::uint32_t(labels.size()));
  for (int label : labels) out.push_back(std::uint8_t(label));
  return out;
}

// A valid gzip file holding raw in stored (uncompressed) DEFLATE blocks.
inline std::vector<std::uint8_t> gzip_stored(const std::vector<std::uint8_t>& raw) {
  std::vector<std::uint8_t> out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255};
  std::size_t position = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, raw.size() - position);
    out.push_back(position + n == raw.size() ? 1 : 0);  // BFINAL, BTYPE 00
    out.push_back(std::uint8_t(n));
    out.push_back(std::uint8_t(n >> 8));
    out.push_back(std::uint8_t(~n));
    out.push_back(std::uint8_t(~n >> 8));
    out.insert(out.end(), raw.begin() + std::ptrdiff_t(position), raw.begin() + std::ptrdiff_t(position + n));
    position += n;
  } while (position < raw.size());
  const std::uint32_t crc = crc32(ByteSpan(raw)), size = std::uint32_t(raw.size());
  for (int shift = 0; shift < 32; shift += 8) out.push_back(std::uint8_t(crc >> shift));
  for (int shift = 0; shift < 32; shift += 8) out.push_back(std::uint8_t(size >> shift));
  return out;
}

inline std::vector<std::uint8_t> subset_images_gz() { return gzip_stored(idx_images(kLooksLike)); }
inline std::vector<std::uint8_t> subset_labels_gz() { return gzip_stored(idx_labels(kLabels)); }

// Linear 784 -> 10 with weight (k, k) = 1: the input is -1 everywhere but +1 at the lit pixel, so logit k
// is +1 for the lit pixel's index and -1 for the others.
inline Model pixel_reader_model(const std::string& dataset = "mnist") {
  Model model;
  model.card = make_mnist_card("pixel-reader");
  model.card.dataset = dataset;
  if (dataset == "fashion-mnist")
    model.card.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  model.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(784, 10)};
  std::vector<float>& weight = model.layers[1].tensors[0].values;  // (10, 784)
  for (int k = 0; k < 10; ++k) weight[std::size_t(k) * 784 + std::size_t(k)] = 1.f;
  return model;
}

inline std::vector<std::uint8_t> pixel_reader_weights(const std::string& dataset = "mnist") {
  return write_weights(pixel_reader_model(dataset)).value();
}

}  // namespace digitlab::app::testing
