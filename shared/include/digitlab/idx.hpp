// The IDX format of MNIST and Fashion-MNIST (images and labels), raw or gzipped, parsed defensively:
// magic, element type, dimensions and length are checked against the bytes before anything is allocated.
// Read next: dataset loading in native/ (trainer) and tests/core/test_idx.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/bytes.hpp"

namespace digitlab {

struct IdxImages {
  std::uint32_t count = 0, rows = 0, cols = 0;
  std::vector<std::uint8_t> pixels;  // (count, rows, cols), row-major, 0 = background
  const std::uint8_t* image(std::uint32_t i) const { return pixels.data() + std::size_t(i) * rows * cols; }
};

struct IdxLabels {
  std::vector<std::uint8_t> labels;  // (count,), each < num_classes
};

struct IdxLimits {
  std::uint64_t max_bytes = 256ull << 20;  // decompressed size budget
  std::uint32_t num_classes = 10;          // labels must be < this
  std::uint32_t max_side = 4096;           // rows and cols must be in [1, max_side]
};

// From bytes (gzip is detected by its magic and decoded first). Offsets in errors are into the
// decompressed idx stream.
Result<IdxImages> parse_idx_images(ByteSpan bytes, const IdxLimits& limits = {});
Result<IdxLabels> parse_idx_labels(ByteSpan bytes, const IdxLimits& limits = {});

// From files; the error's message names the path.
Result<IdxImages> load_idx_images(const std::string& path, const IdxLimits& limits = {});
Result<IdxLabels> load_idx_labels(const std::string& path, const IdxLimits& limits = {});

// A split of a dataset: images and labels that agree on the count (count_mismatch otherwise).
struct IdxDataset {
  IdxImages images;
  IdxLabels labels;
  std::uint32_t size() const { return images.count; }
};

// dir holds <prefix>-images-idx3-ubyte[.gz] and <prefix>-labels-idx1-ubyte[.gz], prefix "train" or "t10k".
// Errors name the missing file and say to run scripts/setup.
Result<IdxDataset> load_idx_dataset(const std::string& dir, const std::string& prefix, const IdxLimits& limits = {});

}  // namespace digitlab
