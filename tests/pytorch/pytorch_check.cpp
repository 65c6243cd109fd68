// The core's side of the tests against PyTorch: `logits` loads a .pth through digitlab::pytorch::load_pytorch
// and compares the core's logits with PyTorch's on the same inputs (files from torch_logits.py); `roundtrip`
// imports a .pth and exports it again (for check_roundtrip.py). Read next: run_tests.sh, shared/src/pytorch_export.cpp.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "digitlab/bytes.hpp"
#include "digitlab/pytorch.hpp"

namespace {

using namespace digitlab;

// Logits agree when |core - torch| <= kAbsolute + kRelative * |torch| for every logit: float32 sums in
// another order (Eigen vs oneDNN/OpenBLAS) differ in the last bits, about 1e-6 here.
constexpr double kAbsolute = 1e-4, kRelative = 1e-4;

bool read_floats(const std::string& path, std::vector<float>* out) {
  auto bytes = read_file(path, 1ull << 30);
  if (!bytes || bytes.value().size() % 4 != 0) {
    std::fprintf(stderr, "cannot read %s as float32: %s\n", path.c_str(),
                 bytes ? "size is not a multiple of 4" : bytes.error().to_string().c_str());
    return false;
  }
  out->resize(bytes.value().size() / 4);
  std::memcpy(out->data(), bytes.value().data(), bytes.value().size());  // little-endian machines only
  return true;
}

std::string base_name(const std::string& path) {
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

Result<LoadedWeights> load(const std::string& path) {
  auto bytes = read_file(path, 1ull << 30);
  if (!bytes) return bytes.error();
  pytorch::ImportOptions options;
  options.source = base_name(path);
  return pytorch::load_pytorch(ByteSpan(bytes.value()), options);
}

int logits(const std::string& model_path, const std::string& inputs_path, const std::string& logits_path) {
  auto loaded = load(model_path);
  if (!loaded) {
    std::fprintf(stderr, "FAIL: %s: %s\n", model_path.c_str(), loaded.error().to_string().c_str());
    return 1;
  }
  const Model& model = loaded.value().model;
  std::vector<float> inputs, expected;
  if (!read_floats(inputs_path, &inputs) || !read_floats(logits_path, &expected)) return 1;
  const std::size_t input_size = 28 * 28, classes = model.card.class_names.size();
  const std::size_t count = inputs.size() / input_size;
  if (count == 0 || expected.size() != count * classes) {
    std::fprintf(stderr, "FAIL: %zu inputs but %zu logits for %zu classes\n", count, expected.size(), classes);
    return 1;
  }
  double worst = 0, worst_core = 0;
  std::size_t worst_input = 0, worst_class = 0;
  bool passed = true;
  for (std::size_t i = 0; i < count; ++i) {
    auto prediction = forward(model, inputs.data() + i * input_size, input_size);
    if (!prediction) {
      std::fprintf(stderr, "FAIL: forward on input %zu: %s\n", i, prediction.error().to_string().c_str());
      return 1;
    }
    for (std::size_t c = 0; c < classes; ++c) {
      const double reference = expected[i * classes + c], ours = prediction.value().logits[c];
      const double difference = std::fabs(ours - reference);
      const double excess = difference - (kAbsolute + kRelative * std::fabs(reference));
      if (!(difference <= worst)) {
        worst = std::isnan(difference) ? INFINITY : difference;
        worst_input = i;
        worst_class = c;
        worst_core = ours;
      }
      if (!(excess <= 0)) passed = false;
    }
  }
  std::printf("%s %s (%s): %zu inputs, max |logit diff| %.3g at input %zu class %zu (torch %.6f, core %.6f); "
              "tolerance %.0e + %.0e x |torch|\n",
              passed ? "PASS" : "FAIL", base_name(model_path).c_str(), model.card.architecture.c_str(), count, worst,
              worst_input, worst_class, double(expected[worst_input * classes + worst_class]),
              worst_core, kAbsolute, kRelative);
  return passed ? 0 : 1;
}

int roundtrip(const std::string& in_path, const std::string& out_path) {
  auto loaded = load(in_path);
  if (!loaded) {
    std::fprintf(stderr, "FAIL: %s: %s\n", in_path.c_str(), loaded.error().to_string().c_str());
    return 1;
  }
  auto bytes = pytorch::export_state_dict(loaded.value().model);
  if (!bytes) {
    std::fprintf(stderr, "FAIL: export: %s\n", bytes.error().to_string().c_str());
    return 1;
  }
  std::FILE* file = std::fopen(out_path.c_str(), "wb");
  if (!file || std::fwrite(bytes.value().data(), 1, bytes.value().size(), file) != bytes.value().size() ||
      std::fclose(file) != 0) {
    std::fprintf(stderr, "FAIL: cannot write %s\n", out_path.c_str());
    return 1;
  }
  std::printf("exported %s (%s) to %s, %zu bytes\n", in_path.c_str(), loaded.value().model.card.architecture.c_str(),
              out_path.c_str(), bytes.value().size());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string command = argc > 1 ? argv[1] : "";
  if (command == "logits" && argc == 5) return logits(argv[2], argv[3], argv[4]);
  if (command == "roundtrip" && argc == 4) return roundtrip(argv[2], argv[3]);
  std::fprintf(stderr,
               "usage: pytorch_check logits MODEL.pth INPUTS.f32 LOGITS.f32\n"
               "       pytorch_check roundtrip IN.pth OUT.pth\n");
  return 2;
}
