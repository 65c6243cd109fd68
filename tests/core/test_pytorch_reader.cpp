// Real PyTorch files (written at build time by tests/pytorch/make_fixtures.py with Debian's python3-torch)
// read through the core: every tensor's name, dtype, shape and value against what PyTorch wrote beside
// it (X.expected), with a tolerance of 0. Read next: test_pytorch_malformed.cpp, shared/src/pickle.cpp.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstring>
#include <sstream>

#include "digitlab/pytorch.hpp"

using namespace digitlab;
using namespace digitlab::pytorch;

namespace {

const std::string kFixtures = DIGITLAB_PYTORCH_FIXTURES;

bool fixtures_missing() {
  if (!kFixtures.empty()) return false;
  WARN("skipped: python3-torch is not installed, so no real PyTorch files were written (apt-get install python3-torch)");
  return true;
}

std::vector<std::uint8_t> read_fixture(const std::string& name) {
  Result<std::vector<std::uint8_t>> bytes = read_file(kFixtures + "/" + name, 1ull << 30);
  if (!bytes) FAIL(bytes.error().to_string());
  return bytes.value();
}

struct Expected {
  std::string root, unwrapped;
  std::vector<NamedTensor> tensors;
};

// The format make_fixtures.py documents: "DLEX", version, root, unwrapped, tensors.
Expected read_expected(const std::string& name) {
  const std::vector<std::uint8_t> bytes = read_fixture(name + ".expected");
  std::size_t at = 0;
  auto need = [&](std::size_t n) {
    if (bytes.size() - at < n) FAIL(name << ".expected is cut off at byte " << at);
  };
  auto u32 = [&] {
    need(4);
    const std::uint32_t v = load_u32_le(bytes.data() + at);
    at += 4;
    return v;
  };
  auto i64 = [&] {
    need(8);
    const std::int64_t v = static_cast<std::int64_t>(load_u64_le(bytes.data() + at));
    at += 8;
    return v;
  };
  auto str = [&] {
    const std::uint32_t n = u32();
    need(n);
    std::string s(reinterpret_cast<const char*>(bytes.data() + at), n);
    at += n;
    return s;
  };
  need(4);
  REQUIRE(std::string(reinterpret_cast<const char*>(bytes.data()), 4) == "DLEX");
  at = 4;
  REQUIRE(u32() == 1);
  Expected expected;
  expected.root = str();
  expected.unwrapped = str();
  const std::uint32_t count = u32();
  for (std::uint32_t k = 0; k < count; ++k) {
    NamedTensor t;
    t.name = str();
    need(1);
    t.dtype = static_cast<TensorDType>(bytes[at++]);
    const std::uint32_t dims = u32();
    std::uint64_t numel = 1;
    for (std::uint32_t d = 0; d < dims; ++d) {
      t.shape.push_back(i64());
      numel *= std::uint64_t(t.shape.back());
    }
    if (t.dtype == TensorDType::int64) {
      for (std::uint64_t i = 0; i < numel; ++i) t.integers.push_back(i64());
    } else {
      need(4 * numel);
      t.values.resize(numel);
      if (numel > 0) std::memcpy(t.values.data(), bytes.data() + at, 4 * numel);
      at += 4 * numel;
    }
    expected.tensors.push_back(std::move(t));
  }
  REQUIRE(at == bytes.size());
  return expected;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::ostringstream out;
  out << "(";
  for (std::size_t d = 0; d < shape.size(); ++d) out << (d ? ", " : "") << shape[d];
  out << ")";
  return out.str();
}

// Reads `name` and compares it with name.expected: tolerance 0 (float32 as saved, and float16 / bfloat16 /
// float64 converted exactly as PyTorch's .float() does); prints the largest difference and where.
void check_fixture(const std::string& name, const std::string& container) {
  INFO("fixture " << name);
  const Expected expected = read_expected(name);
  Result<StateDict> read = read_state_dict(read_fixture(name));
  if (!read) FAIL(read.error().to_string());
  const StateDict& state = read.value();
  CHECK(state.container == container);
  CHECK(state.root == expected.root);
  CHECK(state.unwrapped == expected.unwrapped);
  REQUIRE(state.tensors.size() == expected.tensors.size());
  double largest = 0;
  std::string where;
  std::size_t differing = 0;
  for (std::size_t k = 0; k < expected.tensors.size(); ++k) {
    const NamedTensor& want = expected.tensors[k];
    const NamedTensor& got = state.tensors[k];
    INFO("tensor " << k << " '" << want.name << "'");
    CHECK(got.name == want.name);
    CHECK(tensor_dtype_name(got.dtype) == std::string(tensor_dtype_name(want.dtype)));
    CHECK(shape_text(got.shape) == shape_text(want.shape));
    CHECK(got.integers == want.integers);
    REQUIRE(got.values.size() == want.values.size());
    for (std::size_t i = 0; i < want.values.size(); ++i) {
      const double diff = std::fabs(double(got.values[i]) - double(want.values[i]));
      if (got.values[i] != want.values[i]) {
        ++differing;
        if (!(diff <= largest)) largest = diff, where = want.name + "[" + std::to_string(i) + "]";
      }
    }
    CHECK(state.find(want.name) == &got);
  }
  INFO("largest difference " << largest << " at " << where << " (" << differing << " values differ; tolerance 0)");
  CHECK(differing == 0);
}

}  // namespace

TEST_CASE("the tutorial's state_dicts saved by PyTorch read exactly", "[pytorch][fixtures]") {
  if (fixtures_missing()) return;
  check_fixture("mlp.pth", "torch.save zip");
  check_fixture("deep_mlp.pth", "torch.save zip");
  check_fixture("cnn.pth", "torch.save zip");
  // The CNN's registration order (conv, fc, then batch norms) is kept, and num_batches_tracked is an int64 scalar.
  Result<StateDict> cnn = read_state_dict(read_fixture("cnn.pth"));
  REQUIRE(cnn.ok());
  const NamedTensor* tracked = cnn.value().find("batch_norm1.num_batches_tracked");
  REQUIRE(tracked != nullptr);
  CHECK(tracked->dtype == TensorDType::int64);
  CHECK(tracked->shape.empty());
  CHECK(tracked->integers.size() == 1);
  CHECK(cnn.value().find("conv4.weight") == nullptr);
}

TEST_CASE("checkpoint dicts and wrapper prefixes are unwrapped, and say so", "[pytorch][fixtures]") {
  if (fixtures_missing()) return;
  check_fixture("checkpoint.pth", "torch.save zip");
  check_fixture("data_parallel.pth", "torch.save zip");
  check_fixture("compiled_checkpoint.pth", "torch.save zip");
}

TEST_CASE("views: shared storages, offsets, transposes, broadcasts, parameters, scalars, empty tensors", "[pytorch][fixtures]") {
  if (fixtures_missing()) return;
  check_fixture("views.pth", "torch.save zip");
}

TEST_CASE("float16, bfloat16, float64 and int64 tensors", "[pytorch][fixtures]") {
  if (fixtures_missing()) return;
  check_fixture("dtypes.pth", "torch.save zip");
}

TEST_CASE(".safetensors files", "[pytorch][fixtures]") {
  if (fixtures_missing()) return;
  check_fixture("mlp.safetensors", "safetensors");
  check_fixture("dtypes.safetensors", "safetensors");
}

TEST_CASE("the layouts newer PyTorch versions write, rebuilt from real files", "[pytorch][fixtures]") {
  if (fixtures_missing()) return;
  // archive/ root, byteorder, .data/serialization_id, .format_version, .storage_alignment, storages in
  // reverse key order, 64-byte aligned data; one with data descriptors and saturated Zip64 end values.
  check_fixture("cnn_newer_layout.pth", "torch.save zip");
  check_fixture("views_newer_layout.pth", "torch.save zip");
}

TEST_CASE("torch.save(model) and pre-1.6 files are refused with how to re-save them", "[pytorch][fixtures]") {
  if (fixtures_missing()) return;
  Result<StateDict> whole = read_state_dict(read_fixture("whole_module.pth"));
  REQUIRE(!whole.ok());
  CHECK(whole.error().code == ErrorCode::forbidden_global);
  CHECK(whole.error().message.find("__main__.NeuralNetwork") != std::string::npos);
  CHECK(whole.error().message.find("torch.save(model.state_dict(), \"model.pth\")") != std::string::npos);
  Result<StateDict> legacy = read_state_dict(read_fixture("legacy.pth"));
  REQUIRE(!legacy.ok());
  CHECK(legacy.error().code == ErrorCode::bad_version);
  CHECK(legacy.error().message.find("before PyTorch 1.6") != std::string::npos);
}

TEST_CASE("a real file with one storage byte changed fails its CRC", "[pytorch][fixtures]") {
  if (fixtures_missing()) return;
  std::vector<std::uint8_t> bytes = read_fixture("mlp.pth");
  bytes[bytes.size() / 2] ^= 0x40;
  Result<StateDict> read = read_state_dict(bytes);
  REQUIRE(!read.ok());
  CHECK(read.error().code == ErrorCode::checksum_mismatch);
}
