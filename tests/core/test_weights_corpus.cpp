// The committed fuzz seeds (tests/fuzz/corpus/weights/) are golden files: each must be what the writer produces
// today on this platform, the broken ones must fail with their code. Read next: tests/fuzz/fuzz_weights.cpp.
// Every byte must match except the stored self-test logits, which come from forward() on the writing machine
// and may differ in the last bits between platforms (then the CRCs differ too): those are compared with the
// loader's tolerance, and the largest difference is printed.
#include <cstdio>

#include "test_weights_util.hpp"

using namespace weights_test;

namespace {

const std::string kCorpus = std::string(DIGITLAB_SOURCE_DIR) + "/tests/fuzz/corpus/weights/";
const std::string kRegenerated = std::string(DIGITLAB_TEST_OUTPUT_DIR) + "/";

// flatten, linear 16->8, tanh, linear 8->4, sigmoid on a 1x4x4 input, without a self-test.
Model small_mlp() {
  Model model = tiny_model();
  model.card.architecture = "mlp-small";
  model.card.class_names = {"n", "e", "s", "w"};
  model.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(16, 8), make_simple_layer(LayerKind::tanh),
                  make_linear_layer(8, 4), make_simple_layer(LayerKind::sigmoid)};
  randomize_parameters(model, 21);
  return model;
}

std::vector<std::uint8_t> written(const Model& model, DType dtype, bool self_test) {
  WriteOptions options;
  options.dtype = dtype;
  if (self_test) options.self_test_input = seeded_input(input_size(model), 11);
  return write_weights(model, options).value();
}

struct Seed {
  const char* name;
  std::vector<std::uint8_t> bytes;
  ErrorCode expected;  // ok for the valid ones
};

std::vector<Seed> seeds() {
  const std::vector<std::uint8_t> tiny = written(tiny_model(), DType::float32, true);
  std::vector<std::uint8_t> flipped = tiny;
  flipped[900] ^= 0x10;
  const std::uint64_t gamma = wf::decode_tensor(tiny.data() + tensor_record(tiny, 2)).offset;
  const std::size_t first_logit = self_test_offset(tiny) + 8 + 4 * 16;
  float stored;
  std::memcpy(&stored, tiny.data() + first_logit, 4);
  const std::vector<std::uint8_t> failing = with_f32(tiny, first_logit, stored + 1.f);
  return {
      {"tiny-f32.dlw", tiny, ErrorCode::ok},
      {"tiny-f16.dlw", written(tiny_model(), DType::float16, true), ErrorCode::ok},
      {"tiny-int8.dlw", written(tiny_model(), DType::int8, true), ErrorCode::ok},
      {"mlp-small.dlw", written(small_mlp(), DType::float32, false), ErrorCode::ok},
      {"broken-truncated.dlw", std::vector<std::uint8_t>(tiny.begin(), tiny.begin() + 700), ErrorCode::truncated},
      {"broken-bit-flip.dlw", flipped, ErrorCode::checksum_mismatch},
      {"broken-overlap.dlw", with_tensor(tiny, 3, [&](wf::TensorRecord& r) { r.offset = gamma; }),
       ErrorCode::overlapping},
      {"broken-self-test.dlw", failing, ErrorCode::self_test_failed},
  };
}

// "" when `committed` is `fresh` up to self-test logits within tolerance; else what differs.
std::string golden_difference(const std::vector<std::uint8_t>& committed, const std::vector<std::uint8_t>& fresh,
                              float* largest_logit_difference) {
  *largest_logit_difference = 0.f;
  if (committed.size() != fresh.size()) {
    return "size " + std::to_string(committed.size()) + " vs " + std::to_string(fresh.size()) + " bytes";
  }
  std::size_t logits_begin = fresh.size(), logits_end = fresh.size();
  const wf::FileHeader h = wf::decode_header(fresh.data());
  if (h.self_test_size > 0 && fresh.size() >= h.file_size) {
    const std::size_t at = self_test_offset(fresh);
    std::uint32_t inputs;
    std::memcpy(&inputs, fresh.data() + at, 4);
    logits_begin = at + 8 + 4 * std::size_t(inputs);
    logits_end = at + h.self_test_size;
  }
  for (std::size_t i = 0; i < fresh.size(); ++i) {
    const bool crc = (i >= wf::header_field::body_crc && i < wf::header_field::body_crc + 4) ||
                     (i >= wf::header_field::header_crc && i < wf::kHeaderSize);
    if (crc || (i >= logits_begin && i < logits_end)) continue;
    if (committed[i] != fresh[i]) return "byte " + std::to_string(i);
  }
  for (std::size_t i = logits_begin; i + 4 <= logits_end; i += 4) {
    float a, b;
    std::memcpy(&a, committed.data() + i, 4);
    std::memcpy(&b, fresh.data() + i, 4);
    const float difference = std::fabs(a - b);
    if (!(difference <= *largest_logit_difference)) *largest_logit_difference = difference;
    if (!(difference <= wf::kSelfTestAbsTolerance + wf::kSelfTestRelTolerance * std::fabs(b)))
      return "self-test logit at byte " + std::to_string(i) + ": " + std::to_string(a) + " vs " + std::to_string(b);
  }
  return "";  // the CRCs follow from the rest; the loader checks them on every valid seed
}

std::vector<std::uint8_t> read_all(const std::string& path) {
  std::vector<std::uint8_t> bytes;
  if (std::FILE* f = std::fopen(path.c_str(), "rb")) {
    std::uint8_t chunk[4096];
    std::size_t n;
    while ((n = std::fread(chunk, 1, sizeof chunk, f)) > 0) bytes.insert(bytes.end(), chunk, chunk + n);
    std::fclose(f);
  }
  return bytes;
}

}  // namespace

TEST_CASE("the committed weights seeds are the writer's output today, byte for byte, on every platform", "[weights]") {
  std::vector<std::string> stale;
  for (const Seed& seed : seeds()) {
    INFO("seed " << seed.name);
    CHECK(seed.bytes.size() < 20 * 1024);
    Result<LoadedWeights> loaded = load_weights(seed.bytes);
    CHECK((loaded.ok() ? ErrorCode::ok : loaded.error().code) == seed.expected);
    float logit_difference = 0.f;
    const std::string difference = golden_difference(read_all(kCorpus + seed.name), seed.bytes, &logit_difference);
    if (logit_difference > 0.f)
      WARN(seed.name << ": self-test logits differ from the committed file's by up to " << logit_difference);
    if (!difference.empty()) {
      UNSCOPED_INFO(seed.name << ": " << difference);
      stale.push_back(seed.name);
    }
    // Always written, so that the seeds can be refreshed by copying (see the message below).
    if (std::FILE* out = std::fopen((kRegenerated + seed.name).c_str(), "wb")) {
      std::fwrite(seed.bytes.data(), 1, seed.bytes.size(), out);
      std::fclose(out);
    }
  }
  if (!stale.empty()) {
    std::string copy = "cd " + kRegenerated + " && cp";
    for (const std::string& name : stale) copy += " " + name;
    FAIL_CHECK(
        "seed files differ from the writer's output. If the format or the seeded weights changed on "
        "purpose, update them: "
        << copy << " " << kCorpus);
  }
}
