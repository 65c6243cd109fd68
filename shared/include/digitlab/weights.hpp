// Reading and writing digitlab weights files (format: docs/weights-format.md, declared in
// weights_format.hpp). The reader never throws or aborts: any bytes give a Model or an Error.
#pragma once

#include <cstdint>
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
  std::uint64_t memory_budget = 512ull << 20;  // bytes the loaded model may occupy
  bool run_self_test = true;
};

struct LoadedWeights {
  Model model;
  DType dtype = DType::float32;
  bool has_self_test = false;
  float self_test_max_abs_diff = 0.f;  // largest |logit difference| seen by the self-test
};

Result<LoadedWeights> load_weights(ByteSpan bytes, const LoadOptions& options = {});

}  // namespace digitlab
