// One training run, start to finish: data on the device, the network, the optimiser and schedule, the
// loop with the tutorial's log lines, evaluation per epoch, checkpoints and --resume, and the outputs
// (weights file, run record). Read next: trainer.cpp, then checkpoint.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "dataset.hpp"
#include "digitlab/error.hpp"
#include "digitlab/model.hpp"
#include "network.hpp"
#include "options.hpp"

namespace digitlab::trainer {

// Where and how the run computes: chosen once per process, printed in the run header.
struct RunEnvironment {
  torch::Device device = torch::kCPU;
  int threads = 1;
  std::string libtorch_version;  // "1.13.1"
  std::string cuda;              // "CUDA 13.0, NVIDIA H100 ..." or "no CUDA in this LibTorch" / "not available"
  std::string blas;              // OpenBLAS configuration and kernels
  nlohmann::json to_json() const;
  std::vector<std::string> header_lines() const;  // "Using cpu device", versions, threads
};
// device: auto | cpu | cuda (bad_argument when cuda is asked for and not there). threads 0: every core.
// Also makes CPU results reproducible (deterministic algorithms, fixed thread count).
Result<RunEnvironment> prepare_environment(const std::string& device, int threads);

// The loss every log_every steps, as printed: the batch loss at that step and the mean since the last log.
struct LossPoint {
  int epoch = 0;                  // 1-based, as printed
  std::int64_t step = 0;          // 1-based step within the epoch
  std::int64_t global_step = 0;
  double loss = 0, mean_loss = 0;
};

struct EpochRecord {
  int epoch = 0;  // 1-based
  double learning_rate = 0;   // at the epoch's last step
  double train_loss = 0;      // mean over the epoch's batches
  double test_accuracy = 0;   // fraction
  double train_seconds = 0;   // the training steps only (what the benchmark compares)
  double eval_seconds = 0;
  double images_per_second = 0;
};

// Predictions over a split, and what the reports need from them.
struct Evaluation {
  std::int64_t count = 0, correct = 0;
  double accuracy = 0;
  std::vector<std::int64_t> predictions;            // per image
  std::vector<std::vector<std::int64_t>> confusion;  // [true][predicted]
  std::vector<std::int64_t> misclassified;          // test-set indices
  double seconds = 0;
};

// Logits for every image of `images` (uint8 (N,1,28,28) on the network's device) in eval mode and
// inference mode, in chunks; returns (N, classes) float32 on the CPU. Leaves the network in eval mode.
torch::Tensor predict_logits(NetworkImpl& network, const torch::Tensor& images, const Normalizer& normalizer,
                             std::int64_t chunk = 256);
Evaluation evaluate_logits(const torch::Tensor& logits, const torch::Tensor& labels, int classes);

struct TrainResult {
  TrainOptions options;
  RunEnvironment environment;
  std::vector<LossPoint> losses;
  std::vector<EpochRecord> epochs;
  Evaluation test;         // of the final model
  Model model;             // exported, as written to the weights file
  double load_seconds = 0, total_seconds = 0;
  std::int64_t train_images = 0, test_images = 0, steps_per_epoch = 0;
  bool stopped_early = false;  // --stop-after-steps: a checkpoint was written, nothing else
  std::string resumed_from;
  std::int64_t weights_bytes = 0;
  double self_test_max_abs_diff = 0;
  // Data-parallel runs (distributed.hpp): this process's rank; only rank 0 evaluates and writes outputs.
  int rank = 0, world_size = 1;
  std::string backend;                  // "gloo" | "nccl" | "" (single process)
  std::int64_t allreduce_bytes_per_step = 0;
};

// Runs the options (resolve_defaults() and validate() are applied here). Prints the tutorial's output
// unless options.quiet. Started as a torchrun worker (RANK, WORLD_SIZE, ... in the environment), it is one
// replica of a data-parallel run: options.batch_size images per worker per step, rank 0 prints and writes. Errors: bad options, missing or corrupt data, unreadable checkpoint, failed writes.
Result<TrainResult> train(TrainOptions options);

// The run record (JSON) of a finished or stopped run.
nlohmann::json run_record(const TrainResult& result);

// The weights file of the trained model (card filled, self-test input: the first test image).
Result<std::vector<std::uint8_t>> weights_bytes(const Model& model, const std::vector<float>& self_test_input);

}  // namespace digitlab::trainer
