// Reading and writing digitlab weights files (format: docs/weights-format.md, declared in
// weights_format.hpp). The reader never throws or aborts: any bytes give a Model or an Error.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/bytes.hpp"
#include "digitlab/model.hpp"

namespace digitlab {

enum class DType : std::uint8_t { float32 = 0, float16 = 1, int8 = 2 };  // int8: per-output-channel scales

struct WriteOptions {
  DType dtype = DType::float32;  // for weight matrices/kernels; biases and norms stay float32
  // Optional self-test: one input (the model's input size); the writer computes and stores the logits
  // of the model as it will be read back (after quantisation), and the reader checks them on load.
  std::vector<float> self_test_input;
};

// Canonical: the same model and options give byte-identical files.
Result<std::vector<std::uint8_t>> write_weights(const Model& model, const WriteOptions& options = {});

struct LoadOptions {
  std::uint64_t memory_budget = 512ull << 20;  // bytes the loaded model may occupy (weights + activations)
  bool run_self_test = true;
  // A model that needs more multiply-adds per input is refused (over_budget): a small file can describe a
  // network that would take minutes per digit (a wide conv over a big input). The CNN needs about 8.3 M.
  std::uint64_t max_multiply_adds = 1ull << 30;
};

struct LoadedWeights {
  Model model;
  DType dtype = DType::float32;
  bool has_self_test = false;
  float self_test_max_abs_diff = 0.f;  // largest |logit difference| seen by the self-test
  std::uint64_t multiply_adds = 0;     // per input, as counted against LoadOptions::max_multiply_adds
};

Result<LoadedWeights> load_weights(ByteSpan bytes, const LoadOptions& options = {});

// read_file (at most memory_budget bytes) + load_weights; errors name the path.
Result<LoadedWeights> load_weights_file(const std::string& path, const LoadOptions& options = {});

}  // namespace digitlab
