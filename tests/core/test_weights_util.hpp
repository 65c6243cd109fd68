// Shared by the weights tests: a tiny model that uses every tensor-carrying layer kind, comparisons that
// print the evidence, and byte-editing helpers that re-seal the CRCs. Read next: test_weights.cpp.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/weights.hpp"
#include "digitlab/weights_format.hpp"

namespace weights_test {

using namespace digitlab;
namespace wf = digitlab::weights_format;

// conv 1->2 (3x3, pad 1), batch_norm, leaky_relu, max_pool 2x2, flatten, dropout, linear 8->3, softmax,
// on a 1x4x4 input: 8 tensors, every parameter field in use, about 1.4 KB as float32.
inline Model tiny_model(std::uint64_t seed = 7) {
  Model model;
  model.card.architecture = "tiny-test";
  model.card.dataset = "synthetic";
  model.card.class_names = {"zero", "one", "two"};
  model.card.input_channels = 1;
  model.card.input_height = 4;
  model.card.input_width = 4;
  model.card.normalize_mean = 0.1307f;
  model.card.normalize_std = 0.3081f;
  model.card.recipe = "none: random weights (seed " + std::to_string(seed) + ")";
  model.card.test_accuracy = 0.25f;
  model.card.trainer_version = "test";
  model.layers.push_back(make_conv2d_layer(1, 2, 3, 1, 1));
  model.layers.push_back(make_batch_norm_layer(2, 1e-3f));
  model.layers.push_back(make_leaky_relu_layer(0.05f));
  model.layers.push_back(make_max_pool2d_layer(2, 2));
  model.layers.push_back(make_simple_layer(LayerKind::flatten));
  model.layers.push_back(make_dropout_layer(0.25f));
  model.layers.push_back(make_linear_layer(8, 3));
  model.layers.push_back(make_simple_layer(LayerKind::softmax));
  randomize_parameters(model, seed);
  return model;
}

inline std::vector<float> seeded_input(std::size_t size, std::uint64_t seed) {
  SeededRandom random(seed);
  std::vector<float> input(size);
  for (float& v : input) v = random.uniform(-1.f, 1.f);
  return input;
}

inline std::size_t input_size(const Model& model) {
  return static_cast<std::size_t>(model.card.input_channels * model.card.input_height * model.card.input_width);
}

// The tiny model written as float32 with a self-test.
inline const std::vector<std::uint8_t>& tiny_file() {
  static const std::vector<std::uint8_t> bytes = [] {
    Model model = tiny_model();
    WriteOptions options;
    options.self_test_input = seeded_input(input_size(model), 11);
    Result<std::vector<std::uint8_t>> written = write_weights(model, options);
    if (!written) FAIL(written.error().to_string());
    return written.value();
  }();
  return bytes;
}

// Where the records are, from a (valid) header.
inline std::size_t layer_record(const std::vector<std::uint8_t>&, std::size_t i) {
  return wf::kHeaderSize + i * wf::kLayerRecordSize;
}
inline std::size_t tensor_record(const std::vector<std::uint8_t>& bytes, std::size_t k) {
  const wf::FileHeader h = wf::decode_header(bytes.data());
  return wf::kHeaderSize + h.layer_count * wf::kLayerRecordSize + k * wf::kTensorRecordSize;
}
inline std::size_t card_offset(const std::vector<std::uint8_t>& bytes) {
  const wf::FileHeader h = wf::decode_header(bytes.data());
  return tensor_record(bytes, h.tensor_count);
}
inline std::size_t self_test_offset(const std::vector<std::uint8_t>& bytes) {
  return card_offset(bytes) + wf::decode_header(bytes.data()).card_size;
}

// Edits a decoded record, writes it back and re-seals both CRCs so the edit reaches the check under test.
inline std::vector<std::uint8_t> with_header(std::vector<std::uint8_t> bytes,
                                             const std::function<void(wf::FileHeader&)>& edit) {
  wf::FileHeader h = wf::decode_header(bytes.data());
  edit(h);
  wf::encode_header(h, bytes.data());
  wf::reseal_checksums(bytes);
  return bytes;
}
inline std::vector<std::uint8_t> with_layer(std::vector<std::uint8_t> bytes, std::size_t i,
                                            const std::function<void(wf::LayerRecord&)>& edit) {
  wf::LayerRecord r = wf::decode_layer(bytes.data() + layer_record(bytes, i));
  edit(r);
  wf::encode_layer(r, bytes.data() + layer_record(bytes, i));
  wf::reseal_checksums(bytes);
  return bytes;
}
inline std::vector<std::uint8_t> with_tensor(std::vector<std::uint8_t> bytes, std::size_t k,
                                             const std::function<void(wf::TensorRecord&)>& edit) {
  wf::TensorRecord r = wf::decode_tensor(bytes.data() + tensor_record(bytes, k));
  edit(r);
  wf::encode_tensor(r, bytes.data() + tensor_record(bytes, k));
  wf::reseal_checksums(bytes);
  return bytes;
}
inline std::vector<std::uint8_t> with_bytes(std::vector<std::uint8_t> bytes, std::size_t at, const void* data,
                                            std::size_t n) {
  std::memcpy(bytes.data() + at, data, n);
  wf::reseal_checksums(bytes);
  return bytes;
}
inline std::vector<std::uint8_t> with_f32(std::vector<std::uint8_t> bytes, std::size_t at, float value) {
  return with_bytes(std::move(bytes), at, &value, 4);  // the tests run on little-endian machines only (x86, wasm)
}
inline std::vector<std::uint8_t> with_u32(std::vector<std::uint8_t> bytes, std::size_t at, std::uint32_t value) {
  const std::uint8_t le[4] = {std::uint8_t(value), std::uint8_t(value >> 8), std::uint8_t(value >> 16),
                              std::uint8_t(value >> 24)};
  return with_bytes(std::move(bytes), at, le, 4);
}

inline std::vector<std::uint8_t> text_bytes(const std::string& text) { return {text.begin(), text.end()}; }

// Loads bytes that must be rejected with `code`; returns the error for further checks.
inline Error expect_rejected(const std::vector<std::uint8_t>& bytes, ErrorCode code, const LoadOptions& options = {}) {
  Result<LoadedWeights> loaded = load_weights(bytes, options);
  if (loaded.ok()) {
    FAIL_CHECK("expected " << error_code_name(code) << " but the file loaded");
    return Error{};
  }
  INFO("error: " << loaded.error().to_string());
  CHECK(error_code_name(loaded.error().code) == std::string(error_code_name(code)));
  CHECK_FALSE(loaded.error().message.empty());
  CHECK(loaded.error().offset <= bytes.size());
  return loaded.error();
}

// Exact equality of two models, naming the first difference.
inline std::string first_difference(const Model& a, const Model& b) {
  const ModelCard &x = a.card, &y = b.card;
  if (x.architecture != y.architecture || x.dataset != y.dataset || x.class_names != y.class_names ||
      x.input_channels != y.input_channels || x.input_height != y.input_height || x.input_width != y.input_width ||
      x.recipe != y.recipe || x.trainer_version != y.trainer_version ||
      std::memcmp(&x.normalize_mean, &y.normalize_mean, 4) != 0 ||
      std::memcmp(&x.normalize_std, &y.normalize_std, 4) != 0 ||
      std::memcmp(&x.test_accuracy, &y.test_accuracy, 4) != 0)
    return "model card";
  if (a.layers.size() != b.layers.size()) return "layer count";
  for (std::size_t i = 0; i < a.layers.size(); ++i) {
    const Layer &l = a.layers[i], &m = b.layers[i];
    const std::string name = "layer[" + std::to_string(i) + "]";
    if (l.kind != m.kind || l.in_features != m.in_features || l.out_features != m.out_features ||
        l.in_channels != m.in_channels || l.out_channels != m.out_channels || l.kernel != m.kernel ||
        l.stride != m.stride || l.padding != m.padding || l.channels != m.channels ||
        std::memcmp(&l.alpha, &m.alpha, 4) != 0 || std::memcmp(&l.eps, &m.eps, 4) != 0 ||
        std::memcmp(&l.dropout_p, &m.dropout_p, 4) != 0)
      return name + " parameters";
    if (l.tensors.size() != m.tensors.size()) return name + " tensor count";
    for (std::size_t t = 0; t < l.tensors.size(); ++t) {
      if (l.tensors[t].shape != m.tensors[t].shape) return name + " tensor " + std::to_string(t) + " shape";
      if (l.tensors[t].values.size() != m.tensors[t].values.size() ||
          std::memcmp(l.tensors[t].values.data(), m.tensors[t].values.data(), 4 * l.tensors[t].values.size()) != 0)
        return name + " tensor " + std::to_string(t) + " values";
    }
  }
  return "";
}

}  // namespace weights_test
