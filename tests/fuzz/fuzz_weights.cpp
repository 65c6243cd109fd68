// libFuzzer target: load_weights() on arbitrary bytes must give a runnable model or a documented Error, never
// crash, read out of bounds or allocate past its budget. Read next: shared/src/weights_reader.cpp; runs: docs/fuzzing.md.
//
// Each input is tried twice: as it is (the checks in front of the CRCs: magic, version, sizes, CRCs), and with
// its CRCs re-sealed, so that mutations reach every check behind the checksums (tables, card, shapes,
// budgets, the self-test). A model that loads must run, must survive a float32 write -> load round trip
// exactly, and rewrites in every dtype with a self-test must load and pass it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "digitlab/weights.hpp"
#include "digitlab/weights_format.hpp"

namespace {

using namespace digitlab;

void require(bool condition) {
  if (!condition) __builtin_trap();
}

bool is_input_error(ErrorCode code) {
  switch (code) {
    case ErrorCode::truncated:
    case ErrorCode::bad_magic:
    case ErrorCode::bad_version:
    case ErrorCode::bad_dtype:
    case ErrorCode::bad_dimensions:
    case ErrorCode::size_overflow:
    case ErrorCode::over_budget:
    case ErrorCode::offset_out_of_range:
    case ErrorCode::overlapping:
    case ErrorCode::trailing_bytes:
    case ErrorCode::checksum_mismatch:
    case ErrorCode::self_test_failed:
    case ErrorCode::bad_layer:
    case ErrorCode::shape_mismatch:
    case ErrorCode::bad_value:
    case ErrorCode::count_mismatch:
    case ErrorCode::wrong_file_kind: return true;
    default: return false;
  }
}

// Small budgets keep every run fast: at most 4 M multiply-adds per forward, 64 MiB of memory.
LoadOptions fuzz_options() {
  LoadOptions options;
  options.memory_budget = 64ull << 20;
  options.max_multiply_adds = 4ull << 20;
  return options;
}

bool same_floats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), 4 * a.size()) == 0);
}

void check(const std::uint8_t* data, std::size_t size) {
  Result<LoadedWeights> loaded = load_weights(ByteSpan(data, size), fuzz_options());
  if (!loaded) {
    const Error& e = loaded.error();
    require(is_input_error(e.code));
    require(e.offset <= size);
    require(!e.message.empty());
    return;
  }
  // Loaded means runnable: forward() on any input of the card's size succeeds.
  const Model& model = loaded.value().model;
  const std::size_t input_size =
      static_cast<std::size_t>(model.card.input_channels * model.card.input_height * model.card.input_width);
  std::vector<float> input(input_size, 0.25f);
  Result<Prediction> prediction = forward(model, input.data(), input.size());
  require(prediction.ok());
  require(prediction.value().logits.size() == model.card.class_names.size());
  // Loaded means writable, and float32 rewrites are exact.
  Result<std::vector<std::uint8_t>> written = write_weights(model);
  require(written.ok());
  Result<LoadedWeights> again = load_weights(written.value(), fuzz_options());
  require(again.ok());
  require(again.value().model.layers.size() == model.layers.size());
  for (std::size_t i = 0; i < model.layers.size(); ++i) {
    require(again.value().model.layers[i].tensors.size() == model.layers[i].tensors.size());
    for (std::size_t t = 0; t < model.layers[i].tensors.size(); ++t)
      require(same_floats(again.value().model.layers[i].tensors[t].values, model.layers[i].tensors[t].values));
  }
  // Rewrites in every dtype with a self-test load and pass it (or the writer says why it cannot: a weight too
  // large for float16, a non-finite logit).
  for (DType dtype : {DType::float32, DType::float16, DType::int8}) {
    WriteOptions options;
    options.dtype = dtype;
    options.self_test_input = input;
    Result<std::vector<std::uint8_t>> rewritten = write_weights(model, options);
    if (!rewritten) {
      require(rewritten.error().code == ErrorCode::bad_argument);
      continue;
    }
    Result<LoadedWeights> reread = load_weights(rewritten.value(), fuzz_options());
    require(reread.ok());
    require(reread.value().has_self_test);
    require(reread.value().self_test_max_abs_diff <= 1e-4f);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  check(data, size);
  if (size >= weights_format::kHeaderSize && size <= (1u << 20)) {
    std::vector<std::uint8_t> sealed(data, data + size);
    weights_format::reseal_checksums(sealed);
    check(sealed.data(), sealed.size());
  }
  return 0;
}
