// Per-digit latency of the inference core (batch 1, one thread): median and p90 over thousands of runs
// after a warm-up, for mlp, mlp-deep and cnn, natively and as WebAssembly under node. Read next:
// docs/benchmarks.md (recorded results), shared/include/digitlab/kernels.hpp (what is being timed).
//
//   build/<native>/tests/bench_core [--runs N] [--warmup N] [--model NAME] [--weights FILE]... [--wasm-file PATH]
//                                    [--profile] [--cpu-clock] [--no-wide]
//   node --no-experimental-fetch build/wasm/tests/bench_core.js --wasm-file build/wasm/tests/bench_core.wasm
#include <Eigen/Core>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "digitlab/architectures.hpp"
#include "digitlab/idx.hpp"
#include "digitlab/kernels.hpp"
#include "digitlab/model.hpp"
#include "digitlab/weights.hpp"

using namespace digitlab;

namespace {

struct Options {
  int runs = 3000, warmup = 300;
  std::string model;      // empty: all three
  std::vector<std::string> weights;  // trained weights files, timed after (or, with --model none, instead of) the three
  std::string wasm_file;  // print its size
  bool profile = false;   // per-layer costs
  bool cpu_clock = false;  // time with std::clock() (CPU time: ignores time sliced away on a busy machine)
};

struct Stats {
  double median = 0, p90 = 0, mean = 0, min = 0;
  // Each input's fastest call (the inputs are cycled, so each runs runs/inputs times), then the median
  // and p90 over the inputs: what each digit costs when nothing else disturbs it. On a shared machine
  // the plain median moves by 10-50 % between runs; this moves by a few %.
  double best_median = 0, best_p90 = 0;
};

Stats summarise(std::vector<double> us) {
  std::sort(us.begin(), us.end());
  Stats s;
  s.min = us.front();
  s.median = us[us.size() / 2];
  s.p90 = us[us.size() * 9 / 10];
  for (double v : us) s.mean += v;
  s.mean /= static_cast<double>(us.size());
  return s;
}

// Times `run(input)` once per call, cycling through the inputs; returns microseconds per call.
template <class Run>
Stats time_it(const Options& options, const std::vector<std::vector<float>>& inputs, Run run) {
  using clock = std::chrono::steady_clock;
  volatile int sink = 0;
  for (int i = 0; i < options.warmup; ++i) sink = sink + run(inputs[i % inputs.size()]);
  std::vector<double> us;
  us.reserve(static_cast<std::size_t>(options.runs));
  if (options.cpu_clock) {
    // std::clock() ticks too coarsely for one call: time batches of 20 and spread them.
    for (int i = 0; i < options.runs; i += 20) {
      const std::clock_t start = std::clock();
      for (int j = 0; j < 20; ++j) sink = sink + run(inputs[(i + j) % inputs.size()]);
      const double per_call = 1e6 * double(std::clock() - start) / CLOCKS_PER_SEC / 20;
      for (int j = 0; j < 20; ++j) us.push_back(per_call);
    }
    (void)sink;
    return summarise(std::move(us));
  }
  std::vector<double> best(inputs.size(), 1e300);
  for (int i = 0; i < options.runs; ++i) {
    const auto start = clock::now();
    sink = sink + run(inputs[i % inputs.size()]);
    us.push_back(std::chrono::duration<double, std::micro>(clock::now() - start).count());
    best[i % inputs.size()] = std::min(best[i % inputs.size()], us.back());
  }
  (void)sink;
  if (static_cast<std::size_t>(options.runs) < inputs.size()) best.resize(static_cast<std::size_t>(options.runs));
  Stats s = summarise(std::move(us));
  const Stats per_input = summarise(std::move(best));
  s.best_median = per_input.median;
  s.best_p90 = per_input.p90;
  return s;
}

// The MNIST test digits, normalised as the models expect; synthetic digit-like inputs if the data is missing.
std::vector<std::vector<float>> mnist_inputs(std::size_t count, const ModelCard& card, std::string& source) {
  std::vector<std::vector<float>> inputs;
  auto images = load_idx_images(std::string(DIGITLAB_DATA_DIR) + "/mnist/t10k-images-idx3-ubyte");
  if (images && images.value().rows == 28 && images.value().cols == 28) {
    source = "MNIST t10k digits";
    for (std::uint32_t i = 0; i < count && i < images.value().count; ++i) {
      std::vector<float> x(784);
      for (int p = 0; p < 784; ++p) {
        x[p] = (images.value().image(i)[p] / 255.f - card.normalize_mean) / card.normalize_std;
      }
      inputs.push_back(std::move(x));
    }
    return inputs;
  }
  source = "synthetic strokes (MNIST not found: run scripts/setup)";
  SeededRandom random(7);
  for (std::size_t i = 0; i < count; ++i) {
    std::vector<float> x(784, -1.f);
    for (int y = 6; y < 22; ++y)
      for (int col = 9; col < 19; ++col)
        if (random.uniform(0.f, 1.f) < 0.4f) x[y * 28 + col] = random.uniform(-1.f, 1.f);
    inputs.push_back(std::move(x));
  }
  return inputs;
}

std::vector<std::vector<float>> dense_inputs(std::size_t count) {
  SeededRandom random(11);
  std::vector<std::vector<float>> inputs(count, std::vector<float>(784));
  for (auto& x : inputs)
    for (float& v : x) v = random.uniform(-1.f, 1.f);
  return inputs;
}

// What a plain Eigen implementation does for an MLP: y = W x + b with W viewed in place as (out, in).
// Kept as the baseline the core's kernels must beat (see kernels.hpp).
struct EigenMlp {
  using Matrix = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  std::vector<Eigen::Map<const Matrix>> weights;
  std::vector<Eigen::Map<const Eigen::VectorXf>> biases;
  explicit EigenMlp(const Model& model) {
    for (const Layer& layer : model.layers) {
      if (layer.kind != LayerKind::linear) continue;
      weights.emplace_back(layer.tensors[0].values.data(), layer.out_features, layer.in_features);
      biases.emplace_back(layer.tensors[1].values.data(), layer.out_features);
    }
  }
  int run(const std::vector<float>& input) const {
    Eigen::VectorXf x = Eigen::Map<const Eigen::VectorXf>(input.data(), static_cast<Eigen::Index>(input.size()));
    for (std::size_t i = 0; i < weights.size(); ++i) {
      Eigen::VectorXf y = weights[i] * x + biases[i];
      if (i + 1 < weights.size()) y = y.cwiseMax(0.f);
      x.swap(y);
    }
    Eigen::Index best;
    x.maxCoeff(&best);
    return static_cast<int>(best);
  }
};

// Per-layer cost: the median time of each prefix of the model minus the previous prefix's. A prefix that
// ends on an image gets a global max-pool + flatten so that its output (and the softmax forward() always
// runs on it) stays small. Fused layers show up in the layer that runs them.
void profile_layers(const Model& model, const Options& options, const std::vector<std::vector<float>>& inputs) {
  auto shapes = infer_shapes(model);
  if (!shapes) return;
  double previous = 0;
  for (std::size_t n = 1; n <= model.layers.size(); ++n) {
    Model prefix = model;
    prefix.layers.resize(n);
    prefix.card.class_names.clear();
    const auto& dims = shapes.value()[n - 1].dims;
    if (dims.size() == 3) {
      prefix.layers.push_back(make_max_pool2d_layer(std::min(dims[1], dims[2]), std::max(dims[1], dims[2])));
      prefix.layers.push_back(make_simple_layer(LayerKind::flatten));
    }
    if (!prepare(prefix)) continue;
    const Stats s = time_it(options, inputs, [&](const std::vector<float>& x) {
      auto r = forward(prefix, x.data(), x.size());
      return r ? static_cast<int>(r.value().logits.size()) : -1;
    });
    // The minimum: on a busy machine it is the least disturbed figure for small differences.
    std::printf("  layers 0..%-2zu  %-12s %8.1f us total (min), %+8.1f us\n", n - 1,
                layer_kind_name(model.layers[n - 1].kind), s.min, s.min - previous);
    previous = s.min;
  }
}

void print_row(const char* model, const char* input, const Options& o, const Stats& s) {
  std::printf("%-14s %-13s %6d %9.1f %9.1f %9.1f %9.1f", model, input, o.runs, s.median, s.p90, s.mean, s.min);
  if (s.best_median > 0) std::printf(" %9.1f %9.1f\n", s.best_median, s.best_p90);
  else std::printf(" %9s %9s\n", "-", "-");  // --cpu-clock times batches, not single inputs
}

// prepare() timing, then forward() on digits and on dense inputs (and the plain-Eigen baseline for MLPs).
bool bench_model(const std::string& name, Model& model, const Options& options,
                 const std::vector<std::vector<float>>& digits, const std::vector<std::vector<float>>& dense,
                 bool eigen_baseline) {
  // prepare() once per model load: packing, and one run on blank paper for the skip images.
  std::vector<double> prepare_us;
  for (int i = 0; i < 5; ++i) {
    const auto start = std::chrono::steady_clock::now();
    if (Status s = prepare(model); !s) {
      std::fprintf(stderr, "prepare failed: %s\n", s.error().to_string().c_str());
      return false;
    }
    prepare_us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count());
  }
  std::sort(prepare_us.begin(), prepare_us.end());
  std::printf("%-14s prepare() once per load: %.1f ms (median of 5)\n", name.c_str(), prepare_us[2] / 1000);
  auto run = [&](const std::vector<float>& x) {
    auto r = forward(model, x.data(), x.size());
    return r ? r.value().label : -1;
  };
  if (options.profile) {
    std::printf("%s, per layer on 'mnist' (medians of prefixes):\n", name.c_str());
    profile_layers(model, options, digits);
  }
  print_row(name.c_str(), "mnist", options, time_it(options, digits, run));
  print_row(name.c_str(), "dense-random", options, time_it(options, dense, run));
  if (eigen_baseline) {
    const EigenMlp eigen(model);
    const std::string label = name + "/eigen";
    print_row(label.c_str(), "mnist", options, time_it(options, digits, [&](const std::vector<float>& x) {
                return eigen.run(x);
              }));
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--runs" && has_value) options.runs = std::max(1, std::atoi(argv[++i]));
    else if (arg == "--warmup" && has_value) options.warmup = std::max(0, std::atoi(argv[++i]));
    else if (arg == "--model" && has_value) options.model = argv[++i];
    else if (arg == "--weights" && has_value) options.weights.push_back(argv[++i]);
    else if (arg == "--wasm-file" && has_value) options.wasm_file = argv[++i];
    else if (arg == "--profile") options.profile = true;
    else if (arg == "--cpu-clock") options.cpu_clock = true;
    else if (arg == "--no-wide") kernels::set_wide_kernels(false);
    else {
      std::fprintf(stderr, "usage: bench_core [--runs N] [--warmup N] [--model mlp|mlp-deep|cnn|none] [--weights FILE]...\n"
                           "                  [--wasm-file PATH] [--profile] [--cpu-clock] [--no-wide]\n");
      return 2;
    }
  }
  std::printf("digitlab core benchmark: per-digit latency in microseconds, batch 1, one thread\n");
  std::printf("build: %s, %d-bit pointers, compiler %s, Eigen SIMD: %s\n", DIGITLAB_BENCH_BUILD,
              static_cast<int>(sizeof(void*) * 8), __VERSION__, Eigen::SimdInstructionSetsInUse());
  std::printf("convolutions: %s\n", kernels::wide_kernels_active() ? "8-float vectors (AVX2)" : "4-float vectors");
  if (!options.wasm_file.empty()) {
    std::ifstream file(options.wasm_file, std::ios::binary | std::ios::ate);
    if (file) std::printf("wasm file: %s, %lld bytes\n", options.wasm_file.c_str(), static_cast<long long>(file.tellg()));
    else std::printf("wasm file: %s not readable\n", options.wasm_file.c_str());
  }
  std::string source;
  const std::vector<std::vector<float>> digits = mnist_inputs(100, make_mnist_card("mlp"), source);
  const std::vector<std::vector<float>> dense = dense_inputs(100);
  std::printf("inputs: 'mnist' = %s (100, cycled); 'dense-random' = uniform [-1, 1] (no skippable inputs)\n",
              source.c_str());
  std::printf("weights: architectures.cpp, seed 1 (untrained; ReLU sparsity of trained models may differ)\n\n");
  if (options.cpu_clock) std::printf("clock: std::clock() CPU time, batches of 20 (p90 is of batch means)\n");
  std::printf("'best' columns: each input's fastest call, median and p90 over the inputs (noise-resistant)\n");
  std::printf("%-14s %-13s %6s %9s %9s %9s %9s %9s %9s\n", "model", "input", "runs", "median", "p90", "mean", "min",
              "best-med", "best-p90");

  for (const std::string& name : architecture_names()) {
    if (!options.model.empty() && options.model != name) continue;
    Model model = make_architecture(name, 1).value();
    if (!bench_model(name, model, options, digits, dense, /*eigen_baseline=*/name != "cnn")) return 1;
  }
  for (const std::string& path : options.weights) {
    auto loaded = load_weights_file(path);
    if (!loaded) {
      std::fprintf(stderr, "bench_core: %s\n", loaded.error().to_string().c_str());
      return 1;
    }
    Model& model = loaded.value().model;
    std::string ignored;
    const auto inputs = mnist_inputs(100, model.card, ignored);
    const std::string base = path.substr(path.find_last_of('/') + 1);
    std::printf("%s: trained, %s, %s\n", base.c_str(), model.card.architecture.c_str(), model.card.dataset.c_str());
    if (!bench_model(base, model, options, inputs, dense, /*eigen_baseline=*/false)) return 1;
  }
  return 0;
}
