// `digitlab eval`: one weights file, two implementations. LibTorch rebuilds the torch network from the
// file; the Eigen core (digitlab::forward, what the web app runs) reads the same Model. Both see the same
// normalised test images; predictions must be identical and logits within the tolerance.
// Read next: sweep.cpp.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "console.hpp"
#include "dataset.hpp"
#include "digitlab/bytes.hpp"
#include "digitlab/weights.hpp"
#include "export.hpp"
#include "trainer.hpp"

namespace digitlab::trainer {

namespace {

using Clock = std::chrono::steady_clock;

int eval_error(const Error& error) {
  std::fprintf(stderr, "digitlab eval: error: %s\n", describe(error).c_str());
  return kExitError;
}

}  // namespace

int run_eval(const EvalOptions& options) {
  auto bytes = read_file(options.weights, 1ull << 30);
  if (!bytes) return eval_error(bytes.error());
  auto loaded = load_weights(bytes.value());
  if (!loaded) {
    Error error = loaded.error();
    error.message = options.weights + ": " + error.message;
    return eval_error(error);
  }
  const Model& model = loaded.value().model;
  const ModelCard& card = model.card;
  if (card.input_channels != 1 || card.input_height != 28 || card.input_width != 28)
    return eval_error(make_error(ErrorCode::shape_mismatch, "card.input", 0,
                                 fmt::format("{} takes {}x{}x{} inputs; eval runs MNIST-style 1x28x28 test sets",
                                             options.weights, card.input_channels, card.input_height,
                                             card.input_width)));

  auto dataset = find_dataset(options.dataset.empty() ? card.dataset : options.dataset);
  if (!dataset) {
    Error error = dataset.error();
    error.message += " (the model card says '" + card.dataset + "'; pass --dataset)";
    return eval_error(error);
  }
  std::string data_dir = options.data_dir;
  if (data_dir.empty()) {
    const char* root = std::getenv("DIGITLAB_DATA_DIR");
    data_dir = std::string(root && *root ? root : DIGITLAB_DEFAULT_DATA_DIR) + "/" + dataset.value().folder;
  }
  if (card.class_names.size() != dataset.value().class_names.size())
    return eval_error(make_error(ErrorCode::shape_mismatch, "card.class_names", 0,
                                 fmt::format("the model has {} classes, {} has {}", card.class_names.size(),
                                             dataset.value().card_name, dataset.value().class_names.size())));

  auto environment = prepare_environment(options.device, options.threads);
  if (!environment) return eval_error(environment.error());
  const torch::Device device = environment.value().device;
  auto split = load_split(data_dir, "t10k", options.limit, device);
  if (!split) return eval_error(split.error());
  const DeviceSplit& test = split.value();
  const Normalizer normalizer(card.normalize_mean, card.normalize_std, device);
  const int classes = static_cast<int>(card.class_names.size());

  // LibTorch: the network rebuilt from the file's layer list, its tensors imported.
  auto built = build_network(model);
  if (!built) return eval_error(built.error());
  Network network = built.value();
  if (auto imported = import_model(*network, model); !imported) return eval_error(imported.error());
  network->to(device);
  if (device.is_cpu()) network->use_channels_last();
  auto torch_started = Clock::now();
  torch::Tensor torch_logits = predict_logits(*network, test.images, normalizer);
  const double torch_seconds = std::chrono::duration<double>(Clock::now() - torch_started).count();
  const Evaluation torch_eval = evaluate_logits(torch_logits, test.labels, classes);

  // The Eigen core, one image at a time (as the web app runs it), on the same normalised inputs, with its
  // weights packed once as the app does after loading.
  Model core_model = model;
  if (auto prepared = prepare(core_model); !prepared) return eval_error(prepared.error());
  torch::Tensor inputs = normalizer(test.images).to(torch::kCPU).contiguous();
  const std::int64_t count = test.size(), input_size = inputs.numel() / std::max<std::int64_t>(count, 1);
  torch::Tensor core_logits = torch::empty({count, classes}, torch::kFloat32);
  auto core_started = Clock::now();
  for (std::int64_t i = 0; i < count; ++i) {
    auto prediction = forward(core_model, inputs.data_ptr<float>() + i * input_size, static_cast<std::size_t>(input_size));
    if (!prediction) {
      Error error = prediction.error();
      error.message = fmt::format("the core failed on test image {}: {}", i, error.message);
      return eval_error(error);
    }
    std::copy(prediction.value().logits.begin(), prediction.value().logits.end(),
              core_logits.data_ptr<float>() + i * classes);
  }
  const double core_seconds = std::chrono::duration<double>(Clock::now() - core_started).count();
  const Evaluation core_eval = evaluate_logits(core_logits, test.labels, classes);

  // Agreement: identical predictions, and the largest logit difference with where it is.
  std::int64_t agree = 0, worst_image = 0, worst_class = 0;
  double worst = 0;
  std::vector<std::int64_t> disagreements;
  const float* a = torch_logits.data_ptr<float>();
  const float* b = core_logits.data_ptr<float>();
  for (std::int64_t i = 0; i < count; ++i) {
    if (torch_eval.predictions[i] == core_eval.predictions[i])
      ++agree;
    else
      disagreements.push_back(i);
    for (int c = 0; c < classes; ++c) {
      const double difference = std::fabs(double(a[i * classes + c]) - double(b[i * classes + c]));
      if (!(difference <= worst)) {  // also catches NaN
        worst = std::isnan(difference) ? INFINITY : difference;
        worst_image = i;
        worst_class = c;
      }
    }
  }
  const bool passed = agree == count && worst <= options.tolerance;

  if (options.json) {
    nlohmann::json json = {
        {"weights", options.weights},
        {"dataset", dataset.value().card_name},
        {"images", count},
        {"environment", environment.value().to_json()},
        {"libtorch", {{"accuracy", torch_eval.accuracy}, {"correct", torch_eval.correct}, {"seconds", torch_seconds}}},
        {"core", {{"accuracy", core_eval.accuracy}, {"correct", core_eval.correct}, {"seconds", core_seconds}}},
        {"agreement", {{"identical_predictions", agree}, {"disagreements", disagreements}}},
        {"max_abs_logit_diff", worst},
        {"max_abs_logit_diff_at", {{"image", worst_image}, {"class", worst_class}}},
        {"tolerance", options.tolerance},
        {"confusion_matrix", core_eval.confusion},
        {"passed", passed}};
    std::cout << json.dump(2) << "\n";
  } else {
    for (const auto& line : environment.value().header_lines()) std::cout << line << "\n";
    std::cout << fmt::format("Weights: {} ({}, {}, card accuracy {})\n", options.weights, card.architecture,
                             card.dataset,
                             card.test_accuracy >= 0 ? fmt::format("{:.2f} %", 100.0 * card.test_accuracy) : "unknown");
    std::cout << fmt::format("Test set: {} ({} images)\n", data_dir, with_thousands(count));
    std::cout << fmt::format("LibTorch:    accuracy {:.2f} % ({}/{}), {:.3f}s ({:.1f} us/image, in batches)\n",
                             100 * torch_eval.accuracy, torch_eval.correct, count, torch_seconds,
                             1e6 * torch_seconds / std::max<std::int64_t>(count, 1));
    std::cout << fmt::format("Eigen core:  accuracy {:.2f} % ({}/{}), {:.3f}s ({:.1f} us/image, one at a time)\n",
                             100 * core_eval.accuracy, core_eval.correct, count, core_seconds,
                             1e6 * core_seconds / std::max<std::int64_t>(count, 1));
    std::cout << fmt::format("Agreement:   {}/{} identical predictions; max |logit diff| {:.3g} at image {} class {} "
                             "(tolerance {:g})\n",
                             agree, count, worst, worst_image, worst_class, options.tolerance);
    if (!disagreements.empty()) {
      std::string list;
      for (std::size_t i = 0; i < disagreements.size() && i < 20; ++i)
        list += (i ? ", " : "") + std::to_string(disagreements[i]);
      std::cout << "Disagreeing images: " << list << (disagreements.size() > 20 ? ", ..." : "") << "\n";
    }
    std::cout << (passed ? "PASS: LibTorch and the Eigen core agree\n"
                         : "FAIL: LibTorch and the Eigen core disagree (see above)\n");
  }
  return passed ? kExitOk : kExitCheckFailed;
}

}  // namespace digitlab::trainer
