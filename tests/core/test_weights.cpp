// Weights files that should load: round trips (float32 exact, float16 and int8 within stated bounds),
// canonical bytes, the self-test, the codecs. Read next: test_weights_malformed.cpp (files that must not).
#include <algorithm>
#include <cstdio>

#include "digitlab/crc32.hpp"
#include "test_weights_util.hpp"

using namespace weights_test;

namespace {

std::vector<std::uint8_t> write_or_fail(const Model& model, const WriteOptions& options = {}) {
  Result<std::vector<std::uint8_t>> written = write_weights(model, options);
  if (!written) FAIL(written.error().to_string());
  return written.value();
}

LoadedWeights load_or_fail(const std::vector<std::uint8_t>& bytes, const LoadOptions& options = {}) {
  Result<LoadedWeights> loaded = load_weights(bytes, options);
  if (!loaded) FAIL(loaded.error().to_string());
  return loaded.value();
}

float ldexp_f(double mantissa, int exponent) { return static_cast<float>(std::ldexp(mantissa, exponent)); }

std::uint32_t bits_of(float f) {
  std::uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

}  // namespace

// ---- float16 and int8 codecs -------------------------------------------------------------------------------

TEST_CASE("float16: known values, ties to even, overflow, subnormals, inf and NaN", "[weights]") {
  struct Case {
    float value;
    std::uint16_t half;
  };
  const Case cases[] = {
      {0.f, 0x0000},
      {-0.f, 0x8000},
      {1.f, 0x3C00},
      {-2.f, 0xC000},
      {0.5f, 0x3800},
      {65504.f, 0x7BFF},  // largest half
      {65519.99f, 0x7BFF},
      {65520.f, 0x7C00},  // the halfway point to 2^16 ties to even = inf
      {1e6f, 0x7C00},
      {-1e6f, 0xFC00},
      {ldexp_f(1, -14), 0x0400},                       // smallest normal
      {ldexp_f(1, -24), 0x0001},                       // smallest subnormal
      {ldexp_f(1, -25), 0x0000},                       // half of it: tie, to even (zero)
      {ldexp_f(1.5, -25), 0x0001},                     // above the tie
      {ldexp_f(3, -25), 0x0002},                       // 1.5 subnormal units: tie, to even (2)
      {ldexp_f(1023, -24) + ldexp_f(1, -25), 0x0400},  // largest subnormal + half a unit: tie carries to normal
      {1.f + ldexp_f(1, -11), 0x3C00},                 // tie between 1 and 1+2^-10: to even
      {1.f + ldexp_f(3, -11), 0x3C02},                 // tie between 1+2^-10 and 1+2^-9: to even
      {1.f + ldexp_f(1, -11) + ldexp_f(1, -20), 0x3C01},
      {INFINITY, 0x7C00},
      {-INFINITY, 0xFC00},
  };
  for (const Case& c : cases) {
    INFO("value " << c.value << " (bits 0x" << std::hex << bits_of(c.value) << ")");
    CHECK(wf::float_to_half(c.value) == c.half);
  }
  const std::uint16_t nan = wf::float_to_half(NAN);
  CHECK((nan & 0x7C00) == 0x7C00);
  CHECK((nan & 0x03FF) != 0);
  CHECK(std::isnan(wf::half_to_float(0x7E00)));
  CHECK(wf::half_to_float(0x7C00) == INFINITY);
  CHECK(wf::half_to_float(0x0001) == ldexp_f(1, -24));
  CHECK(wf::half_to_float(0x03FF) == ldexp_f(1023, -24));
}

TEST_CASE("float16: all 65536 halves decode exactly and encode back to themselves", "[weights]") {
  int mismatches = 0;
  std::uint32_t first_bad = 0;
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const std::uint32_t exponent = (h >> 10) & 0x1F, mantissa = h & 0x3FF;
    const float decoded = wf::half_to_float(std::uint16_t(h));
    const double sign = (h & 0x8000) ? -1.0 : 1.0;
    bool ok;
    if (exponent == 31) {
      ok = mantissa == 0 ? decoded == float(sign * INFINITY) : std::isnan(decoded);
      const std::uint16_t again = wf::float_to_half(decoded);
      ok = ok && (mantissa == 0 ? again == h : ((again & 0x7C00) == 0x7C00 && (again & 0x3FF) != 0));
    } else {
      const double exact = exponent == 0 ? sign * std::ldexp(double(mantissa), -24)
                                         : sign * std::ldexp(1.0 + mantissa / 1024.0, int(exponent) - 15);
      ok = double(decoded) == exact && std::signbit(decoded) == bool(h & 0x8000) && wf::float_to_half(decoded) == h;
    }
    if (!ok && mismatches++ == 0) first_bad = h;
  }
  INFO("first mismatch at half 0x" << std::hex << first_bad);
  CHECK(mismatches == 0);
}

TEST_CASE("float16: every midpoint between neighbouring halves rounds to the even one", "[weights]") {
  int mismatches = 0;
  std::uint32_t first_bad = 0;
  for (std::uint32_t h = 0; h < 0x7BFF; ++h) {  // positive finite pairs (h, h+1); negatives by the sign bit
    const double a = wf::half_to_float(std::uint16_t(h)), b = wf::half_to_float(std::uint16_t(h + 1));
    const float middle = static_cast<float>((a + b) / 2);  // 12 significant bits: exact in float32
    const std::uint16_t even = (h & 1) ? std::uint16_t(h + 1) : std::uint16_t(h);
    const bool ok = double(middle) == (a + b) / 2 && wf::float_to_half(middle) == even &&
                    wf::float_to_half(std::nextafter(middle, 0.f)) == h &&
                    wf::float_to_half(std::nextafter(middle, INFINITY)) == h + 1 &&
                    wf::float_to_half(-middle) == (even | 0x8000);
    if (!ok && mismatches++ == 0) first_bad = h;
  }
  INFO("first mismatch between halves 0x" << std::hex << first_bad << " and its successor");
  CHECK(mismatches == 0);
}

TEST_CASE("int8: symmetric per-row scales, max|w| maps to 127, error within half a step", "[weights]") {
  const std::uint64_t rows = 5, row_size = 33;
  std::vector<float> values = seeded_input(rows * row_size, 3);
  for (std::uint64_t i = 0; i < row_size; ++i) values[2 * row_size + i] = 0.f;     // an all-zero row
  for (std::uint64_t i = 0; i < row_size; ++i) values[3 * row_size + i] *= 1e-3f;  // a small row
  values[4 * row_size + 7] = -40.f;                                                // an outlier
  std::vector<float> scales(rows);
  std::vector<std::int8_t> q(values.size());
  wf::quantize_int8(values.data(), rows, row_size, scales.data(), q.data());
  CHECK(scales[2] == 0.f);
  double worst_ratio = 0;
  std::size_t worst = 0;
  for (std::uint64_t r = 0; r < rows; ++r) {
    float largest = 0.f;
    int largest_q = 0;
    for (std::uint64_t i = 0; i < row_size; ++i) {
      largest = std::max(largest, std::fabs(values[r * row_size + i]));
      largest_q = std::max(largest_q, std::abs(int(q[r * row_size + i])));
      CHECK(q[r * row_size + i] >= -127);
    }
    CHECK(scales[r] == largest / 127.f);
    if (largest > 0) CHECK(largest_q == 127);
    for (std::uint64_t i = 0; i < row_size && scales[r] > 0; ++i) {
      const double error = std::fabs(double(q[r * row_size + i]) * scales[r] - values[r * row_size + i]);
      const double ratio = error / scales[r];
      if (ratio > worst_ratio) worst_ratio = ratio, worst = r * row_size + i;
    }
  }
  INFO("largest |dequantised - w| / scale = " << worst_ratio << " at element " << worst);
  CHECK(worst_ratio <= 0.5 + 1e-5);
  const float tie[] = {127.f, 0.5f, 1.5f, -2.5f};  // scale exactly 1: q = round-half-even(w)
  float scale = 0;
  std::int8_t tq[4];
  wf::quantize_int8(tie, 1, 4, &scale, tq);
  CHECK(scale == 1.f);
  CHECK((tq[0] == 127 && tq[1] == 0 && tq[2] == 2 && tq[3] == -2));
}

// ---- Round trips -------------------------------------------------------------------------------------------

TEST_CASE("float32 round trip is exact for the tiny model and the tutorial's three networks", "[weights]") {
  std::vector<Model> models = {tiny_model(), make_mlp(2), make_cnn(3), make_mlp_deep(4)};
  for (const Model& model : models) {
    INFO("architecture " << model.card.architecture);
    const std::vector<std::uint8_t> bytes = write_or_fail(model);
    const LoadedWeights loaded = load_or_fail(bytes);
    CHECK(first_difference(model, loaded.model) == "");
    CHECK(loaded.dtype == DType::float32);
    CHECK_FALSE(loaded.has_self_test);
    CHECK(parameter_count(loaded.model) == parameter_count(model));
    // float32 files hold 4 bytes per stored value plus a little metadata and 64-byte alignment padding.
    std::uint64_t values = 0, tensors = 0;
    for (const Layer& layer : model.layers)
      for (const Tensor& tensor : layer.tensors) values += tensor.values.size(), ++tensors;
    CHECK(bytes.size() >= 4 * values);
    CHECK(bytes.size() <= 4 * values + 64 * tensors + 4096);
  }
}

TEST_CASE("float16 round trip: every value within 2^-11 relative (+2^-25 absolute) of the original", "[weights]") {
  for (const Model& model : {tiny_model(), make_cnn(5)}) {
    WriteOptions options;
    options.dtype = DType::float16;
    const LoadedWeights loaded = load_or_fail(write_or_fail(model, options));
    CHECK(loaded.dtype == DType::float16);
    double worst = 0;
    std::string where;
    for (std::size_t i = 0; i < model.layers.size(); ++i) {
      for (std::size_t t = 0; t < model.layers[i].tensors.size(); ++t) {
        const auto& a = model.layers[i].tensors[t].values;
        const auto& b = loaded.model.layers[i].tensors[t].values;
        REQUIRE(a.size() == b.size());
        const bool quantised =
            t == 0 && (model.layers[i].kind == LayerKind::linear || model.layers[i].kind == LayerKind::conv2d);
        for (std::size_t k = 0; k < a.size(); ++k) {
          const double bound = quantised ? std::fabs(a[k]) * std::ldexp(1.0, -11) + std::ldexp(1.0, -25) : 0.0;
          const double excess = std::fabs(double(a[k]) - b[k]) - bound;  // > 0: out of bounds
          if (excess > worst || (worst == 0 && excess > 0))
            worst = excess,
            where = "layer[" + std::to_string(i) + "] tensor " + std::to_string(t) + " [" + std::to_string(k) + "]";
        }
      }
    }
    INFO(model.card.architecture << ": largest excess over the bound " << worst << " at " << where);
    CHECK(worst <= 0);
  }
}

TEST_CASE("int8 round trip: every weight within half a quantisation step, biases and norms exact", "[weights]") {
  for (const Model& model : {tiny_model(), make_mlp(6), make_cnn(7)}) {
    WriteOptions options;
    options.dtype = DType::int8;
    const std::vector<std::uint8_t> bytes = write_or_fail(model, options);
    const LoadedWeights loaded = load_or_fail(bytes);
    CHECK(loaded.dtype == DType::int8);
    double worst = 0;  // largest |error| / (max|row| / 127)
    std::string where;
    for (std::size_t i = 0; i < model.layers.size(); ++i) {
      const Layer& layer = model.layers[i];
      for (std::size_t t = 0; t < layer.tensors.size(); ++t) {
        const auto& a = layer.tensors[t].values;
        const auto& b = loaded.model.layers[i].tensors[t].values;
        REQUIRE(a.size() == b.size());
        const bool quantised = t == 0 && (layer.kind == LayerKind::linear || layer.kind == LayerKind::conv2d);
        if (!quantised) {
          CHECK(std::memcmp(a.data(), b.data(), 4 * a.size()) == 0);
          continue;
        }
        const std::size_t rows = static_cast<std::size_t>(layer.tensors[t].shape[0]), row_size = a.size() / rows;
        for (std::size_t r = 0; r < rows; ++r) {
          float largest = 0;
          for (std::size_t k = 0; k < row_size; ++k) largest = std::max(largest, std::fabs(a[r * row_size + k]));
          const double step = largest / 127.0;
          for (std::size_t k = 0; k < row_size && step > 0; ++k) {
            const double ratio = std::fabs(double(a[r * row_size + k]) - b[r * row_size + k]) / step;
            if (ratio > worst) worst = ratio, where = "layer[" + std::to_string(i) + "] row " + std::to_string(r);
          }
        }
      }
    }
    INFO(model.card.architecture << ": largest |error| / step = " << worst << " at " << where);
    CHECK(worst <= 0.5 + 1e-4);
    // weights take one byte each (plus a float scale per output): much smaller than float32
    if (parameter_count(model) > 100000) CHECK(bytes.size() * 3 < write_or_fail(model).size());
  }
}

// ---- Canonical bytes ---------------------------------------------------------------------------------------

TEST_CASE("the writer is canonical: same model, same bytes; zero padding; 64-byte aligned tensors", "[weights]") {
  const Model model = make_cnn(8);
  for (DType dtype : {DType::float32, DType::float16, DType::int8}) {
    WriteOptions options;
    options.dtype = dtype;
    options.self_test_input = seeded_input(input_size(model), 9);
    const std::vector<std::uint8_t> first = write_or_fail(model, options);
    const std::vector<std::uint8_t> second = write_or_fail(model, options);
    INFO("dtype " << wf::dtype_name(dtype));
    CHECK(first == second);
    // Every byte is metadata, tensor data or zero padding.
    const wf::FileHeader h = wf::decode_header(first.data());
    CHECK(std::memcmp(first.data(), wf::kMagic, 8) == 0);
    CHECK(h.version == 1);
    CHECK(h.header_size == 64);
    CHECK(h.file_size == first.size());
    std::vector<bool> used(first.size(), false);
    const std::size_t metadata_end = self_test_offset(first) + h.self_test_size;
    std::fill(used.begin(), used.begin() + static_cast<std::ptrdiff_t>(metadata_end), true);
    for (std::size_t k = 0; k < h.tensor_count; ++k) {
      const wf::TensorRecord r = wf::decode_tensor(first.data() + tensor_record(first, k));
      CHECK(r.offset % 64 == 0);
      std::uint64_t elements = 0, size = 0;
      REQUIRE(wf::tensor_data_size(r, &elements, &size));
      std::fill(used.begin() + static_cast<std::ptrdiff_t>(r.offset),
                used.begin() + static_cast<std::ptrdiff_t>(r.offset + size), true);
    }
    std::size_t nonzero_padding = 0;
    for (std::size_t i = 0; i < first.size(); ++i) nonzero_padding += !used[i] && first[i] != 0;
    CHECK(nonzero_padding == 0);
  }
  // Reading and writing again gives the same bytes (float32 and float16: decoding is exact).
  for (DType dtype : {DType::float32, DType::float16}) {
    WriteOptions options;
    options.dtype = dtype;
    const std::vector<std::uint8_t> bytes = write_or_fail(model, options);
    CHECK(write_or_fail(load_or_fail(bytes).model, options) == bytes);
  }
}

TEST_CASE("a known file's header bytes are stable (format version 1)", "[weights]") {
  const std::vector<std::uint8_t>& bytes = tiny_file();
  const std::uint8_t expected_start[16] = {0x89, 'D', 'L', 'W', 0x0D, 0x0A, 0x1A, 0x0A, 1, 0, 0, 0, 64, 0, 0, 0};
  CHECK(std::memcmp(bytes.data(), expected_start, 16) == 0);
  const wf::FileHeader h = wf::decode_header(bytes.data());
  CHECK(h.layer_count == 8);
  CHECK(h.tensor_count == 8);
  CHECK(sniff_file_kind(bytes) == "a digitlab weights file");
  CHECK(crc32(ByteSpan(bytes.data(), 60)) == h.header_crc);
  CHECK(crc32(ByteSpan(bytes.data() + 64, bytes.size() - 64)) == h.body_crc);
}

// ---- Self-test ---------------------------------------------------------------------------------------------

TEST_CASE("the self-test stores the logits of the model as read back, and passes on load", "[weights]") {
  for (const Model& model : {tiny_model(), make_cnn(10)}) {
    for (DType dtype : {DType::float32, DType::float16, DType::int8}) {
      INFO(model.card.architecture << " " << wf::dtype_name(dtype));
      WriteOptions options;
      options.dtype = dtype;
      options.self_test_input = seeded_input(input_size(model), 12);
      const std::vector<std::uint8_t> bytes = write_or_fail(model, options);
      const LoadedWeights loaded = load_or_fail(bytes);
      CHECK(loaded.has_self_test);
      INFO("self-test max |diff| " << loaded.self_test_max_abs_diff);
      CHECK(loaded.self_test_max_abs_diff <= 1e-5f);
      // The stored logits are those of the loaded (quantised) model, not of the float32 original.
      const std::size_t classes = model.card.class_names.size();
      const std::size_t logits_at = self_test_offset(bytes) + 8 + 4 * options.self_test_input.size();
      std::vector<float> stored(classes);
      std::memcpy(stored.data(), bytes.data() + logits_at, 4 * classes);
      const Prediction as_read =
          forward(loaded.model, options.self_test_input.data(), options.self_test_input.size()).value();
      const Prediction original =
          forward(model, options.self_test_input.data(), options.self_test_input.size()).value();
      float largest = 0, largest_vs_original = 0;
      for (std::size_t i = 0; i < classes; ++i) {
        largest = std::max(largest, std::fabs(stored[i] - as_read.logits[i]));
        largest_vs_original = std::max(largest_vs_original, std::fabs(stored[i] - original.logits[i]));
      }
      INFO("stored vs as-read " << largest << ", stored vs float32 original " << largest_vs_original);
      CHECK(largest == 0.f);
      if (dtype == DType::int8) CHECK(largest_vs_original > 0.f);
      LoadOptions skip;
      skip.run_self_test = false;
      CHECK(load_or_fail(bytes, skip).self_test_max_abs_diff == 0.f);
    }
  }
}

// ---- The writer refuses what it could not store ----------------------------------------------------------

TEST_CASE("write_weights refuses models it cannot store, naming the field", "[weights]") {
  auto refused = [](const Model& model, const WriteOptions& options, ErrorCode code, const std::string& field_part) {
    Result<std::vector<std::uint8_t>> written = write_weights(model, options);
    REQUIRE_FALSE(written.ok());
    INFO(written.error().to_string());
    CHECK(written.error().code == code);
    CHECK(written.error().field.find(field_part) != std::string::npos);
  };
  Model nan_weight = tiny_model();
  nan_weight.layers[6].tensors[0].values[3] = NAN;
  refused(nan_weight, {}, ErrorCode::bad_argument, "layer[6].weight");
  Model big = tiny_model();
  big.layers[0].tensors[0].values[0] = 70000.f;
  WriteOptions half;
  half.dtype = DType::float16;
  refused(big, half, ErrorCode::bad_argument, "layer[0].weight");
  CHECK(write_weights(big, {}).ok());  // fine as float32
  Model unnamed = tiny_model();
  unnamed.card.class_names.clear();
  refused(unnamed, {}, ErrorCode::bad_argument, "card.class_names");
  Model newline = tiny_model();
  newline.card.recipe = "two\nlines";
  refused(newline, {}, ErrorCode::bad_argument, "card.recipe");
  WriteOptions short_input;
  short_input.self_test_input = {1.f, 2.f};
  refused(tiny_model(), short_input, ErrorCode::bad_argument, "self_test_input");
  Model broken = tiny_model();
  broken.layers[6].in_features = 9;  // no longer chains from the flatten's 8 outputs
  refused(broken, {}, ErrorCode::shape_mismatch, "layer[6]");
}

TEST_CASE("load_weights_file names the path", "[weights]") {
  Result<LoadedWeights> missing = load_weights_file("/nonexistent/model.dlw");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::io);
  CHECK(missing.error().message.find("/nonexistent/model.dlw") != std::string::npos);
  const std::string path = std::string(DIGITLAB_TEST_OUTPUT_DIR) + "/weights-test-tiny.dlw";
  std::FILE* file = std::fopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  std::fwrite(tiny_file().data(), 1, tiny_file().size() - 1, file);  // one byte short
  std::fclose(file);
  Result<LoadedWeights> cut = load_weights_file(path);
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().code == ErrorCode::truncated);
  CHECK(cut.error().message.find(path) == 0);
}
