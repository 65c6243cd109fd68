// The training run (see trainer.hpp). Sections: 1. environment  2. evaluation  3. the run: its phases
// (data, network, resume, checkpoints, epoch draws, epoch end, final report, outputs), then train(), which
// runs them in order with the step loop inline  4. weights file and run record.
// Read next: checkpoint.cpp, evaluate.cpp.
#include "trainer.hpp"

#include "augment.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <torch/version.h>
#if defined(DIGITLAB_TRAINER_CUDA)
#include <ATen/cuda/CUDAContext.h>  // only when this LibTorch has CUDA (native/CMakeLists.txt)
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime_api.h>
#endif

#include "atomic_file.hpp"
#include "distributed.hpp"
#include "process_setup.hpp"
#include "checkpoint.hpp"
#include "console.hpp"
#include "digitlab/architectures.hpp"
#include "digitlab/weights.hpp"
#include "export.hpp"

namespace digitlab::trainer {

using Clock = std::chrono::steady_clock;

static double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---- 1. Environment ----------------------------------------------------------------------------------------

Result<RunEnvironment> prepare_environment(const std::string& device, int threads) {
  RunEnvironment environment;
  environment.libtorch_version = fmt::format("{}.{}.{}", TORCH_VERSION_MAJOR, TORCH_VERSION_MINOR, TORCH_VERSION_PATCH);
  const bool cuda = torch::cuda::is_available();
#if defined(DIGITLAB_TRAINER_CUDA)
  if (cuda) {
    const auto* properties = at::cuda::getCurrentDeviceProperties();
    int runtime = 0;
    cudaRuntimeGetVersion(&runtime);  // 13000 for CUDA 13.0
    environment.cuda = fmt::format("CUDA {}.{} (runtime), {} device(s): {}", runtime / 1000, (runtime % 1000) / 10,
                                   torch::cuda::device_count(), properties->name);
  } else {
    environment.cuda = "CUDA built in but no GPU available";
  }
#else
  environment.cuda = "no CUDA in this LibTorch (CPU build)";
#endif
  if (device == "cuda" && !cuda)
    return make_error(ErrorCode::bad_argument, "device", 0,
                      "--device cuda was asked for but " + environment.cuda + "; use --device cpu or auto");
  if (device != "auto" && device != "cpu" && device != "cuda")
    return make_error(ErrorCode::bad_argument, "device", 0, "unknown device '" + device + "': choose auto, cpu or cuda");
  environment.device = (device == "cuda" || (device == "auto" && cuda)) ? torch::Device(torch::kCUDA)
                                                                         : torch::Device(torch::kCPU);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  environment.threads = threads > 0 ? threads : cores;
  at::set_num_threads(environment.threads);
  if (environment.device.is_cpu()) {
    // Every CPU kernel we use is deterministic for a fixed thread count; this makes LibTorch refuse (rather
    // than silently use) any that is not, so "same seed, same bytes" stays true.
    at::globalContext().setDeterministicAlgorithms(true, false);
  } else {
    at::globalContext().setBenchmarkCuDNN(true);  // GPU runs aim for speed, not bit-reproducibility
  }
  environment.blas = blas_description();
  return environment;
}

nlohmann::json RunEnvironment::to_json() const {
  return {{"device", device.str()}, {"threads", threads}, {"libtorch", libtorch_version}, {"cuda", cuda},
          {"blas", blas}};
}

std::vector<std::string> RunEnvironment::header_lines() const {
  std::vector<std::string> lines = {fmt::format("Using {} device", device.is_cuda() ? "cuda" : "cpu"),
                                    fmt::format("LibTorch {}, {}, {} CPU thread{}", libtorch_version, cuda, threads,
                                                threads == 1 ? "" : "s")};
  if (!blas.empty()) lines.push_back("BLAS: " + blas);
  return lines;
}

// ---- 2. Evaluation -------------------------------------------------------------------------------------------

torch::Tensor predict_logits(NetworkImpl& network, const torch::Tensor& images, const Normalizer& normalizer,
                             std::int64_t chunk) {
  c10::InferenceMode inference;  // no autograd bookkeeping at all, unlike NoGradGuard
  network.eval();
  std::vector<torch::Tensor> parts;
  for (std::int64_t start = 0; start < images.size(0); start += chunk) {
    const std::int64_t end = std::min(images.size(0), start + chunk);
    parts.push_back(network.forward(normalizer(images.slice(0, start, end))).to(torch::kCPU, torch::kFloat32));
  }
  return torch::cat(parts).contiguous();
}

Evaluation evaluate_logits(const torch::Tensor& logits, const torch::Tensor& labels, int classes) {
  Evaluation evaluation;
  torch::Tensor predicted = logits.argmax(1).to(torch::kCPU, torch::kInt64).contiguous();
  torch::Tensor truth = labels.to(torch::kCPU, torch::kInt64).contiguous();
  evaluation.count = predicted.size(0);
  evaluation.confusion.assign(classes, std::vector<std::int64_t>(classes, 0));
  const std::int64_t* p = predicted.data_ptr<std::int64_t>();
  const std::int64_t* t = truth.data_ptr<std::int64_t>();
  evaluation.predictions.assign(p, p + evaluation.count);
  for (std::int64_t i = 0; i < evaluation.count; ++i) {
    if (t[i] >= 0 && t[i] < classes && p[i] >= 0 && p[i] < classes) ++evaluation.confusion[t[i]][p[i]];
    if (p[i] == t[i])
      ++evaluation.correct;
    else
      evaluation.misclassified.push_back(i);
  }
  evaluation.accuracy = evaluation.count > 0 ? double(evaluation.correct) / double(evaluation.count) : 0.0;
  return evaluation;
}

// ---- 3. The run --------------------------------------------------------------------------------------------

namespace {

// What the loop carries between steps and what a checkpoint stores of it (as JSON, next to the tensors).
struct Progress {
  int epoch = 0;                 // 0-based epoch in progress
  std::int64_t step = 0;         // next step within it
  std::int64_t global_step = 0;  // steps done in all
  std::int64_t window_steps = 0; // steps since the last loss log line
  double train_seconds = 0;      // of the epoch in progress, before a resume
  std::vector<LossPoint> losses;
  std::vector<EpochRecord> epochs;
};

nlohmann::json to_json(const LossPoint& point) {
  return {{"epoch", point.epoch}, {"step", point.step}, {"global_step", point.global_step}, {"loss", point.loss},
          {"mean_loss", point.mean_loss}};
}

nlohmann::json to_json(const EpochRecord& record) {
  return {{"epoch", record.epoch},
          {"learning_rate", record.learning_rate},
          {"train_loss", record.train_loss},
          {"test_accuracy", record.test_accuracy},
          {"train_seconds", record.train_seconds},
          {"eval_seconds", record.eval_seconds},
          {"images_per_second", record.images_per_second}};
}

nlohmann::json to_json(const Progress& progress) {
  nlohmann::json losses = nlohmann::json::array(), epochs = nlohmann::json::array();
  for (const auto& point : progress.losses) losses.push_back(to_json(point));
  for (const auto& record : progress.epochs) epochs.push_back(to_json(record));
  return {{"epoch", progress.epoch}, {"step", progress.step}, {"global_step", progress.global_step},
          {"window_steps", progress.window_steps}, {"train_seconds", progress.train_seconds},
          {"losses", losses}, {"epochs", epochs}};
}

Progress progress_from_json(const nlohmann::json& json) {
  Progress progress;
  progress.epoch = json.at("epoch").get<int>();
  progress.step = json.at("step").get<std::int64_t>();
  progress.global_step = json.at("global_step").get<std::int64_t>();
  progress.window_steps = json.at("window_steps").get<std::int64_t>();
  progress.train_seconds = json.at("train_seconds").get<double>();
  for (const auto& point : json.at("losses"))
    progress.losses.push_back({point.at("epoch").get<int>(), point.at("step").get<std::int64_t>(),
                               point.at("global_step").get<std::int64_t>(), point.at("loss").get<double>(),
                               point.at("mean_loss").get<double>()});
  for (const auto& record : json.at("epochs"))
    progress.epochs.push_back({record.at("epoch").get<int>(), record.at("learning_rate").get<double>(),
                               record.at("train_loss").get<double>(), record.at("test_accuracy").get<double>(),
                               record.at("train_seconds").get<double>(), record.at("eval_seconds").get<double>(),
                               record.at("images_per_second").get<double>()});
  return progress;
}

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainOptions& options,
                                                        const std::vector<torch::Tensor>& parameters) {
  namespace optim = torch::optim;
  if (options.optimizer == "adam")
    return std::make_unique<optim::Adam>(parameters,
                                         optim::AdamOptions(options.learning_rate).weight_decay(options.weight_decay));
  if (options.optimizer == "adamw")
    return std::make_unique<optim::AdamW>(
        parameters, optim::AdamWOptions(options.learning_rate).weight_decay(options.weight_decay));
  return std::make_unique<optim::SGD>(
      parameters,
      optim::SGDOptions(options.learning_rate).momentum(options.momentum).weight_decay(options.weight_decay));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double learning_rate) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(learning_rate);
}

// The printing side of a run: silent in quiet mode except one line per epoch; a progress bar only when
// asked for or on a terminal.
class RunLog {
 public:
  // silent: a data-parallel worker other than rank 0 prints nothing but its errors.
  RunLog(const TrainOptions& options, bool silent)
      : quiet_(options.quiet || silent),
        silent_(silent),
        prefix_(options.log_prefix),
        bar_(!quiet_ && options.progress != "off" && (options.progress == "on" || is_terminal(stderr))) {}
  void line(const std::string& text) {
    if (!quiet_) bar_.print_line(prefix_ + text);
  }
  void always(const std::string& text) {
    if (!silent_) bar_.print_line(prefix_ + text);
  }
  ProgressBar& bar() { return bar_; }

 private:
  bool quiet_, silent_;
  std::string prefix_;
  ProgressBar bar_;
};

// The phases of a run, in the order train() runs them: data, network, resume, per epoch the draws and
// (after the step loop, which stays in train()) the evaluation and the checkpoint, then the final report
// and the outputs.

// The two splits, on the device.
struct RunData {
  DeviceSplit train, test;
};

// One uint8 tensor per split, on the device; fills the result's data fields.
Result<RunData> load_run_data(const TrainOptions& options, const DatasetInfo& dataset, const torch::Device& device,
                              TrainResult& result, RunLog& log) {
  const auto load_started = Clock::now();
  auto train_split = load_split(options.data_dir, "train", options.limit_train, device);
  if (!train_split) return train_split.error();
  auto test_split = load_split(options.data_dir, "t10k", options.limit_test, device);
  if (!test_split) return test_split.error();
  RunData data{std::move(train_split).value(), std::move(test_split).value()};
  result.load_seconds = seconds_since(load_started);
  result.train_images = data.train.size();
  result.test_images = data.test.size();
  const std::int64_t batch = std::int64_t(options.batch_size) * options.world_size;  // all workers' images
  result.steps_per_epoch = (data.train.size() + batch - 1) / batch;  // the last batch may be short
  log.line(fmt::format("Data: {} ({}), {} training and {} test images, loaded in {:.2f}s", dataset.card_name,
                       options.data_dir, with_thousands(data.train.size()), with_thousands(data.test.size()),
                       result.load_seconds));
  return data;
}

// The architecture with the dataset's card, as a LibTorch network on the device, initialised the way
// PyTorch does from the seed.
struct RunNetwork {
  Model spec;
  Network network;
};

Result<RunNetwork> build_run_network(const TrainOptions& options, const DatasetInfo& dataset,
                                     const torch::Device& device, RunLog& log) {
  torch::manual_seed(options.seed);
  Model spec = make_architecture(options.model).value();
  spec.card.dataset = dataset.card_name;
  spec.card.class_names = dataset.class_names;
  auto built = build_network(spec);
  if (!built) return built.error();
  Network network = built.value();
  network->to(device);
  if (device.is_cpu() && options.channels_last) network->use_channels_last();
  if (options.print_model) {
    std::ostringstream text;
    network->print_summary(text, "NeuralNetwork");
    std::string printed = text.str();
    if (!printed.empty() && printed.back() == '\n') printed.pop_back();
    log.line(printed);
  }
  log.line("Recipe: " + options.recipe() + ", normalise (x/255 - 0.5)/0.5");
  return RunNetwork{std::move(spec), network};
}

// What the step loop carries besides the network and the optimizer, all of it in a checkpoint.
struct LoopState {
  Progress progress;
  // The data order has its own generator, so dropout draws (torch's default generator) never shift it.
  torch::Generator data_generator;
  torch::Tensor epoch_start_state;  // data_generator's state at the start of the epoch in progress
  // Per-epoch loss sums on the device: reading a loss back every step would stall a GPU.
  torch::Tensor loss_sums;          // (2) float64: the epoch's sum, the log window's sum
};

LoopState start_loop_state(const TrainOptions& options, const torch::Device& device) {
  LoopState state{Progress{}, at::detail::createCPUGenerator(options.seed),
                  torch::Tensor(), torch::zeros({2}, torch::TensorOptions().dtype(torch::kFloat64).device(device))};
  state.epoch_start_state = state.data_generator.get_state();
  return state;
}

// --resume: the network, the optimizer, the generators and the progress as the checkpoint left them.
Status resume_run(const TrainOptions& options, NetworkImpl& network, torch::optim::Optimizer& optimizer,
                  const torch::Device& device, LoopState& loop, TrainResult& result, RunLog& log) {
  CheckpointState state;
  if (auto loaded = load_checkpoint(options.resume, network, optimizer, options.recipe_json(), &state); !loaded)
    return loaded.error();
  try {
    loop.progress = progress_from_json(state.progress);
  } catch (const nlohmann::json::exception& error) {
    return make_error(ErrorCode::bad_value, "checkpoint.progress", 0,
                      options.resume + " has unreadable progress data: " + error.what());
  }
  loop.data_generator.set_state(state.data_generator_state);
  loop.epoch_start_state = state.data_generator_state;
  at::Generator default_generator = at::detail::getDefaultCPUGenerator();  // a handle: shares the state
  {
    std::lock_guard<std::mutex> lock(default_generator.mutex());
    default_generator.set_state(state.default_generator_state);
  }
  loop.loss_sums = state.loss_sums.to(device);
  result.resumed_from = options.resume;
  log.line(fmt::format("Resumed from {} at epoch {}, step {} ({} steps done)", options.resume, loop.progress.epoch + 1,
                       loop.progress.step, loop.progress.global_step));
  return Ok{};
}

Status save_run_checkpoint(const TrainOptions& options, NetworkImpl& network, torch::optim::Optimizer& optimizer,
                           const LoopState& loop) {
  CheckpointState state;
  state.recipe = options.recipe_json();
  state.progress = to_json(loop.progress);
  state.data_generator_state = loop.epoch_start_state;
  state.default_generator_state = at::detail::getDefaultCPUGenerator().get_state();
  state.loss_sums = loop.loss_sums;
  return save_checkpoint(options.checkpoint, network, optimizer, state);
}

// The epoch's order (and augmentation draws) from the generator as it was at the epoch's start, so a
// resumed run redraws exactly what the interrupted one drew.
struct EpochDraws {
  torch::Tensor order, shifts, draw_uniforms, flip_uniforms, pen_uniforms;  // empty when that augmentation is off
};

EpochDraws draw_epoch(const Augmentation& augmentation, std::int64_t images, const torch::Device& device,
                      LoopState& loop) {
  EpochDraws draws;
  loop.data_generator.set_state(loop.epoch_start_state);
  draws.order = torch::randperm(images, loop.data_generator).to(device);
  if (augmentation.max_shift > 0)
    draws.shifts = torch::randint(0, 2 * augmentation.max_shift + 1, {images, 2}, loop.data_generator).to(device);
  if (augmentation.draw) draws.draw_uniforms = torch::rand({images, kDrawParameters}, loop.data_generator).to(device);
  if (augmentation.flip) draws.flip_uniforms = torch::rand({images}, loop.data_generator).to(device);
  // Drawn after the others, so that recipes without pen draw what they always drew.
  if (augmentation.pen_fraction > 0)
    draws.pen_uniforms = torch::rand({images, kPenParameters}, loop.data_generator).to(device);
  return draws;
}

void evaluate_run(NetworkImpl& network, const RunData& data, const Normalizer& normalizer, const DatasetInfo& dataset,
                  TrainResult& result) {
  const auto eval_started = Clock::now();
  torch::Tensor logits = predict_logits(network, data.test.images, normalizer);
  result.test = evaluate_logits(logits, data.test.labels, static_cast<int>(dataset.class_names.size()));
  result.test.seconds = seconds_since(eval_started);
}

// After an epoch's steps: test accuracy, the epoch's record and its line.
void finish_epoch(const TrainOptions& options, NetworkImpl& network, const RunData& data, const Normalizer& normalizer,
                  const DatasetInfo& dataset, double learning_rate, double train_seconds, LoopState& loop,
                  TrainResult& result, RunLog& log) {
  evaluate_run(network, data, normalizer, dataset, result);
  network.train();

  EpochRecord record;
  record.epoch = loop.progress.epoch + 1;
  record.learning_rate = learning_rate;
  record.train_loss = loop.loss_sums[0].item<double>() / double(result.steps_per_epoch);
  record.test_accuracy = result.test.accuracy;
  record.train_seconds = train_seconds;
  record.eval_seconds = result.test.seconds;
  record.images_per_second = data.train.size() / std::max(train_seconds, 1e-9);
  loop.progress.epochs.push_back(record);
  const std::string epoch_line =
      fmt::format("Epoch [{}/{}] done: train loss {:.4f}, test accuracy {:.2f} % ({}/{}), {:.2f} s/epoch ({} img/s), "
                  "eval {:.2f}s",
                  record.epoch, options.epochs, record.train_loss, 100 * record.test_accuracy,
                  with_thousands(result.test.correct), with_thousands(result.test.count), train_seconds,
                  with_thousands(static_cast<std::int64_t>(record.images_per_second)), record.eval_seconds);
  if (options.quiet) log.always(epoch_line); else log.line(epoch_line);
}

// Per-class accuracy and the confusion matrix of the final model.
void report_final_test(const TrainOptions& options, const DatasetInfo& dataset, const TrainResult& result,
                       RunLog& log) {
  const auto& names = dataset.class_names;
  if (options.quiet) return;
  std::string per_class = "Per-class test accuracy:";
  for (std::size_t c = 0; c < names.size(); ++c) {
    std::int64_t total = 0;
    for (std::int64_t v : result.test.confusion[c]) total += v;
    // "Coat (4)" for Fashion-MNIST; MNIST's class names are already their indices.
    const std::string label = names[c] == std::to_string(c) ? names[c] : fmt::format("{} ({})", names[c], c);
    per_class += fmt::format("\n  {:>15}: {:6.2f} %  ({}/{})", label,
                             total ? 100.0 * result.test.confusion[c][c] / total : 0.0,
                             result.test.confusion[c][c], total);
  }
  log.line(per_class);
  std::string matrix = render_confusion_matrix(result.test.confusion, names);
  if (!matrix.empty() && matrix.back() == '\n') matrix.pop_back();
  log.line("Confusion matrix (rows: true class, columns: predicted):\n" + matrix);
  log.line(fmt::format("Test accuracy: {:.2f} % ({} of {} test images, {} misclassified)",
                       100 * result.test.accuracy, with_thousands(result.test.correct),
                       with_thousands(result.test.count), with_thousands(result.test.misclassified.size())));
}

// The weights file (read back through the core first: its self-test compares the core's logits with the
// ones the writer stored) and the run record.
Status write_run_outputs(const TrainOptions& options, const RunData& data, const Normalizer& normalizer,
                         Clock::time_point run_started, TrainResult& result, RunLog& log) {
  auto bytes = weights_bytes(result.model, normalizer.image(data.test.images[0]));
  if (!bytes) return bytes.error();
  auto reloaded = load_weights(bytes.value());
  if (!reloaded) {
    Error error = reloaded.error();
    error.message = "the weights file just written does not read back: " + error.message;
    return error;
  }
  result.self_test_max_abs_diff = reloaded.value().self_test_max_abs_diff;
  result.weights_bytes = static_cast<std::int64_t>(bytes.value().size());
  if (auto written = write_file_atomically(options.output, bytes.value()); !written) return written.error();
  result.total_seconds = seconds_since(run_started);
  if (auto written = write_file_atomically(options.record, run_record(result).dump(2) + "\n"); !written)
    return written.error();
  log.line(fmt::format("Wrote {} ({} bytes, self-test max |logit diff| {:.2g}) and the run record {}",
                       options.output, with_thousands(result.weights_bytes), result.self_test_max_abs_diff,
                       options.record));
  return Ok{};
}

// ---- Data-parallel runs (distributed.hpp) ----

// This worker's device (its own GPU, by LOCAL_RANK) and its place in the group; prints the run's shape.
Result<std::shared_ptr<DataParallel>> join_run(const WorldInfo& world, const TrainOptions& options,
                                               TrainResult& result) {
  torch::Device& device = result.environment.device;
  if (device.is_cuda()) {
    const int gpus = static_cast<int>(torch::cuda::device_count());
    if (world.local_rank >= gpus)
      return make_error(ErrorCode::bad_argument, "LOCAL_RANK", 0,
                        fmt::format("LOCAL_RANK={} but this machine has {} GPU(s): start at most {} worker(s) here "
                                    "(one GPU each), or use --device cpu",
                                    world.local_rank, gpus, gpus));
    device = torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(world.local_rank));
#if defined(DIGITLAB_TRAINER_CUDA)
    c10::cuda::set_device(static_cast<c10::DeviceIndex>(world.local_rank));
#endif
  }
  auto parallel = DataParallel::connect(world, device, std::chrono::seconds(options.dist_timeout));
  if (!parallel) return parallel.error();
  result.rank = world.rank;
  result.world_size = world.world_size;
  result.backend = parallel.value()->backend();
  return parallel;
}

// What every worker must share before the first step: the recipe, the data (a fingerprint of it) and, when
// resuming, the progress. Differences are errors on every rank.
Status check_replicas_agree(DataParallel& parallel, const TrainOptions& options, const RunData& data) {
  nlohmann::json same = options.recipe_json();
  same["log_every"] = options.log_every;
  same["checkpoint_every"] = options.checkpoint_every;
  same["stop_after_steps"] = options.stop_after_steps;
  same["resume"] = !options.resume.empty();
  same["train_images"] = data.train.size();
  same["test_images"] = data.test.size();
  same["train_fingerprint"] = data.train.images.sum(torch::kInt64).item<std::int64_t>() * 31 +
                              data.train.labels.sum(torch::kInt64).item<std::int64_t>();
  return parallel.check_same(same, "recipe and data");
}

// A step must give every worker at least one image (a batch-norm layer cannot train on none).
Status check_shards(const TrainOptions& options, std::int64_t train_images) {
  const std::int64_t global = std::int64_t(options.batch_size) * options.world_size;
  const std::int64_t last = train_images % global;
  if (train_images < options.world_size || (last != 0 && last < options.world_size))
    return make_error(ErrorCode::bad_argument, "limit-train", 0,
                      fmt::format("{} training images in steps of {} leave a last step of {} image(s) for {} workers: "
                                  "each needs at least one; change --limit-train or --batch-size",
                                  train_images, global, last == 0 ? train_images : last, options.world_size));
  return Ok{};
}

template <class BatchNorm>
torch::Tensor synchronised(const torch::Tensor& input, BatchNorm& layer, DataParallel& parallel) {
  return sync_batch_norm(input, layer.weight, layer.bias, layer.running_mean, layer.running_var,
                         layer.num_batches_tracked, layer.options.eps(), layer.options.momentum().value_or(0.1),
                         parallel);
}

// Dropout on workers other than rank 0 draws from its own stream per step (rank 0 keeps the single-process
// one), so replicas drop different units and a resumed run redraws the same masks.
void seed_worker_dropout(std::uint64_t seed, int rank, std::int64_t global_step) {
  std::uint64_t mixed = seed ^ (0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(rank));
  mixed += 0xBF58476D1CE4E5B9ull * static_cast<std::uint64_t>(global_step + 1);
  mixed ^= mixed >> 31;
  torch::manual_seed(mixed);
}

}  // namespace

Result<TrainResult> train(TrainOptions options) {
  const auto run_started = Clock::now();
  options.resolve_defaults();
  if (auto valid = options.validate(); !valid) return valid.error();
  auto world = world_from_environment();
  if (!world) return world.error();
  if (world.value()) options.world_size = world.value()->world_size;
  if (options.sync_batch_norm && !world.value())
    return make_error(ErrorCode::bad_argument, "sync-bn", 0,
                      "--sync-bn synchronises batch norm across data-parallel workers: start them with --nproc N "
                      "or torchrun, or leave it out");
  const DatasetInfo dataset = find_dataset(options.dataset).value();
  const Schedule schedule = parse_schedule(options.scheduler).value();
  const Augmentation augmentation = parse_augmentation(options.augmentation).value();

  auto environment = prepare_environment(options.device, options.threads);
  if (!environment) return environment.error();
  TrainResult result;
  result.options = options;
  result.environment = environment.value();
  std::shared_ptr<DataParallel> parallel;  // set in a data-parallel run
  if (world.value()) {
    auto joined = join_run(*world.value(), options, result);
    if (!joined) return joined.error();
    parallel = joined.value();
  }
  const torch::Device device = result.environment.device;
  const int rank = result.rank, world_size = result.world_size;
  RunLog log(options, rank != 0);
  for (const auto& line : result.environment.header_lines()) log.line(line);
  if (parallel)
    log.line(fmt::format("Data-parallel: {} workers over {} (rendezvous {}:{}), {} images per worker per step, {} "
                         "in all{}",
                         world_size, result.backend, world.value()->master_addr, world.value()->master_port,
                         options.batch_size, options.batch_size * world_size,
                         options.sync_batch_norm ? ", synchronised batch norm" : ""));

  auto loaded_data = load_run_data(options, dataset, device, result, log);
  if (parallel) {
    Status loaded = loaded_data ? Status(Ok{}) : Status(loaded_data.error());
    if (loaded) loaded = check_shards(options, loaded_data.value().train.size());
    if (Status agreed = parallel->agree(loaded, "loading the data"); !agreed) return agreed.error();
    if (Status same = check_replicas_agree(*parallel, options, loaded_data.value()); !same) return same.error();
  }
  if (!loaded_data) return loaded_data.error();
  const RunData& data = loaded_data.value();
  const DeviceSplit& train_data = data.train;
  auto built = build_run_network(options, dataset, device, log);
  if (!built) return built.error();
  const Model& spec = built.value().spec;
  Network network = built.value().network;
  auto optimizer = make_optimizer(options, network->parameters());
  const Normalizer normalizer(spec.card.normalize_mean, spec.card.normalize_std, device);
  LoopState loop = start_loop_state(options, device);
  Progress& progress = loop.progress;
  if (parallel) {
    // Every replica starts from rank 0's weights (they are equal already when the seed is: this makes sure).
    std::vector<torch::Tensor> floats;
    for (const auto& parameter : network->parameters()) floats.push_back(parameter);
    for (const auto& buffer : network->buffers())
      if (buffer.is_floating_point()) floats.push_back(buffer);
    if (Status sent = parallel->broadcast_from_rank0(floats); !sent) return sent.error();
  }
  if (!options.resume.empty()) {
    Status resumed = resume_run(options, *network, *optimizer, device, loop, result, log);
    if (parallel) {
      // Each worker reads the checkpoint itself (rank 0 wrote it: a shared folder, or a copy on each machine).
      resumed = parallel->agree(resumed, "reading the checkpoint");
      if (resumed) resumed = parallel->check_same({{"global_step", loop.progress.global_step}}, "resumed progress");
    }
    if (!resumed) return resumed.error();
  }
  std::unique_ptr<GradientAverager> averager;
  if (parallel) {
    averager = std::make_unique<GradientAverager>(parallel, network->parameters());
    result.allreduce_bytes_per_step = averager->bytes_per_step();
    log.line(fmt::format("Gradients: averaged in {} bucket(s) launched during the backward pass, {} bytes "
                         "all-reduced per worker per step",
                         averager->bucket_count(), with_thousands(result.allreduce_bytes_per_step)));
    if (options.sync_batch_norm)
      network->set_training_batch_norm([parallel](const torch::Tensor& input, torch::nn::Module& layer) {
        if (auto* two_d = layer.as<torch::nn::BatchNorm2dImpl>()) return synchronised(input, *two_d, *parallel);
        return synchronised(input, *layer.as<torch::nn::BatchNorm1dImpl>(), *parallel);
      });
  }

  // --augment pen: drawn once from the seed, so a resumed run draws the same ones.
  PenDigits pen_digits;
  if (augmentation.pen_fraction > 0) {
    auto rendered = render_pen_digits(kPenTemplates, kPenDigitsPerClass, options.seed);
    if (!rendered) return rendered.error();
    pen_digits = std::move(rendered.value());
    pen_digits.images = pen_digits.images.to(device);
  }

  const std::int64_t batch = std::int64_t(options.batch_size) * world_size, steps_per_epoch = result.steps_per_epoch;
  const std::int64_t total_steps = steps_per_epoch * options.epochs;
  for (; progress.epoch < options.epochs; ++progress.epoch) {
    const int epoch = progress.epoch;
    const EpochDraws draws = draw_epoch(augmentation, train_data.size(), device, loop);
    network->train();
    log.bar().start(fmt::format("Epoch {}/{}", epoch + 1, options.epochs), steps_per_epoch, progress.step);
    const auto epoch_started = Clock::now();
    const std::int64_t first_step = progress.step;
    double learning_rate = options.learning_rate;
    std::string last_loss;
    // The step loop.
    for (; progress.step < steps_per_epoch; ++progress.step) {
      // This worker's share of the step: the single-process batch of world x batch_size images cut into
      // contiguous, disjoint pieces, one per rank (all of it in a single-process run).
      const std::int64_t step_start = progress.step * batch;
      const std::int64_t step_images = std::min(train_data.size(), step_start + batch) - step_start;
      const std::int64_t start = step_start + rank * step_images / world_size;
      const std::int64_t end = step_start + (rank + 1) * step_images / world_size;
      learning_rate = schedule.learning_rate(options.learning_rate, epoch, double(progress.global_step) / total_steps);
      set_learning_rate(*optimizer, learning_rate);

      torch::Tensor indices = draws.order.slice(0, start, end);
      torch::Tensor pixels = train_data.images.index_select(0, indices);
      if (augmentation.flip) pixels = flip_horizontally(pixels, draws.flip_uniforms.slice(0, start, end));
      if (augmentation.pen_fraction > 0)
        pixels = mix_pen_digits(pixels, train_data.labels.index_select(0, indices),
                                draws.pen_uniforms.slice(0, start, end), pen_digits, augmentation.pen_fraction);
      if (augmentation.draw) pixels = augment_drawn(pixels, draws.draw_uniforms.slice(0, start, end));
      if (augmentation.max_shift > 0)
        pixels = shift_images(pixels, draws.shifts.slice(0, start, end), augmentation.max_shift);
      torch::Tensor inputs = normalizer(pixels);
      torch::Tensor targets = train_data.labels.index_select(0, indices);

      if (rank > 0) seed_worker_dropout(options.seed, rank, progress.global_step);
      torch::Tensor detached;  // the step's loss: the mean over all workers' images
      try {
        // Gradients set to "none" rather than zero-filled: backward() then writes them fresh, no fill pass.
        for (auto& parameter : network->parameters()) parameter.mutable_grad() = torch::Tensor();
        torch::Tensor loss = torch::nn::functional::cross_entropy(network->forward(inputs), targets);
        if (averager) {
          // Scaled by this worker's share of the step, so that the average over workers is the mean over
          // the step's images even when the last step does not split evenly.
          const std::int64_t mine = end - start;
          if (mine * world_size != step_images) loss = loss * (double(mine * world_size) / double(step_images));
          averager->begin_step(loss);
          loss.backward();
          detached = averager->finish();
        } else {
          loss.backward();
          detached = loss.detach();
        }
      } catch (const std::exception& error) {
        if (!parallel) throw;
        return parallel->explain(error, fmt::format("epoch {}, step {} (the gradient all-reduce)", epoch + 1,
                                                    progress.step + 1));
      }
      optimizer->step();

      loop.loss_sums.add_(detached.to(torch::kFloat64));  // into both sums: the epoch's and the log window's
      ++progress.global_step;
      ++progress.window_steps;
      if ((progress.step + 1) % options.log_every == 0) {
        const double value = detached.item<double>();
        const double mean = loop.loss_sums[1].item<double>() / double(progress.window_steps);
        progress.losses.push_back({epoch + 1, progress.step + 1, progress.global_step, value, mean});
        loop.loss_sums[1].zero_();
        progress.window_steps = 0;
        last_loss = fmt::format("loss {:.4f}", value);
        log.line(fmt::format("Epoch [{}/{}], Step [{}/{}], Loss: {:.4f}", epoch + 1, options.epochs,
                             progress.step + 1, steps_per_epoch, value));
      }
      log.bar().update(progress.step + 1, (progress.step + 1 - first_step) * batch, last_loss);

      const bool stop_here = options.stop_after_steps > 0 && progress.global_step == options.stop_after_steps;
      const bool periodic = options.checkpoint_every > 0 && progress.global_step % options.checkpoint_every == 0;
      if (options.write_outputs && (stop_here || periodic)) {
        // The checkpoint resumes at the next step, with this epoch's training time so far. Rank 0 writes it.
        const double elapsed = seconds_since(epoch_started);
        ++progress.step;
        progress.train_seconds += elapsed;
        Status saved = rank == 0 ? save_run_checkpoint(options, *network, *optimizer, loop) : Status(Ok{});
        progress.train_seconds -= elapsed;
        --progress.step;
        if (parallel) saved = parallel->agree(saved, "writing the checkpoint");
        if (!saved) return saved.error();
      }
      if (stop_here) {
        log.bar().finish();
        log.always(fmt::format("Stopped after {} steps as asked (--stop-after-steps); checkpoint: {}\n"
                               "Continue with the same options and --resume {}",
                               progress.global_step, options.checkpoint, options.checkpoint));
        result.stopped_early = true;
        result.losses = progress.losses;
        result.epochs = progress.epochs;
        result.total_seconds = seconds_since(run_started);
        return result;
      }
    }
    if (device.is_cuda()) torch::cuda::synchronize();
    const double train_seconds = progress.train_seconds + seconds_since(epoch_started);
    log.bar().finish();
    // Rank 0 evaluates; the others go on to the next epoch and wait for it in the first all-reduce.
    if (rank == 0)
      finish_epoch(options, *network, data, normalizer, dataset, learning_rate, train_seconds, loop, result, log);

    // On to the next epoch; the checkpoint taken here resumes at its first step.
    loop.loss_sums.zero_();
    progress.step = 0;
    progress.window_steps = 0;
    progress.train_seconds = 0;
    loop.epoch_start_state = loop.data_generator.get_state();
    if (options.write_outputs) {
      ++progress.epoch;
      Status saved = rank == 0 ? save_run_checkpoint(options, *network, *optimizer, loop) : Status(Ok{});
      --progress.epoch;
      if (parallel) saved = parallel->agree(saved, "writing the checkpoint");
      if (!saved) return saved.error();
    }
  }
  result.losses = progress.losses;
  result.epochs = progress.epochs;
  if (rank != 0) {
    // Rank 0 writes the outputs; the others wait for it, so every worker reports the run's outcome.
    if (Status done = parallel->agree(Ok{}, "writing the outputs"); !done) return done.error();
    result.total_seconds = seconds_since(run_started);
    return result;
  }
  // Resumed from the checkpoint of the last epoch: the final model has not been evaluated in this process.
  if (result.test.count == 0) evaluate_run(*network, data, normalizer, dataset, result);
  report_final_test(options, dataset, result, log);

  // Export: the card says what the file is and how it was made.
  ModelCard card = spec.card;
  card.recipe = options.recipe();
  card.test_accuracy = options.limit_test == 0 ? static_cast<float>(result.test.accuracy) : -1.f;
  card.trainer_version = std::string(DIGITLAB_TRAINER_VERSION) + " (LibTorch " + result.environment.libtorch_version + ")";
  result.model = export_model(*network, card);
  result.total_seconds = seconds_since(run_started);
  Status written = options.write_outputs ? write_run_outputs(options, data, normalizer, run_started, result, log)
                                         : Status(Ok{});
  if (parallel) written = parallel->agree(written, "writing the outputs");
  if (!written) return written.error();
  return result;
}

// ---- 4. Weights file and run record ------------------------------------------------------------------------

Result<std::vector<std::uint8_t>> weights_bytes(const Model& model, const std::vector<float>& self_test_input) {
  WriteOptions write_options;
  write_options.dtype = DType::float32;
  write_options.self_test_input = self_test_input;
  return write_weights(model, write_options);
}

nlohmann::json run_record(const TrainResult& result) {
  nlohmann::json losses = nlohmann::json::array(), epochs = nlohmann::json::array();
  for (const auto& point : result.losses) losses.push_back(to_json(point));
  for (const auto& record : result.epochs) epochs.push_back(to_json(record));
  std::vector<double> per_class;
  for (std::size_t c = 0; c < result.test.confusion.size(); ++c) {
    std::int64_t total = 0;
    for (std::int64_t v : result.test.confusion[c]) total += v;
    per_class.push_back(total ? double(result.test.confusion[c][c]) / double(total) : 0.0);
  }
  double train_seconds = 0;
  for (const auto& record : result.epochs) train_seconds += record.train_seconds;
  return {
      {"format", "digitlab-run-record-1"},
      {"trainer_version", DIGITLAB_TRAINER_VERSION},
      {"recipe", result.options.recipe()},
      {"config", result.options.to_json()},
      {"environment", result.environment.to_json()},
      {"data", {{"train_images", result.train_images}, {"test_images", result.test_images},
                {"steps_per_epoch", result.steps_per_epoch}}},
      {"losses", losses},
      {"epochs", epochs},
      {"timings", {{"load_seconds", result.load_seconds}, {"train_seconds", train_seconds},
                   {"total_seconds", result.total_seconds},
                   {"seconds_per_epoch", result.epochs.empty() ? 0.0 : train_seconds / result.epochs.size()}}},
      {"test", {{"accuracy", result.test.accuracy}, {"correct", result.test.correct}, {"count", result.test.count},
                {"class_names", result.model.card.class_names}, {"per_class_accuracy", per_class},
                {"confusion_matrix", result.test.confusion}, {"misclassified", result.test.misclassified}}},
      {"weights", {{"path", result.options.output}, {"bytes", result.weights_bytes},
                   {"self_test_max_abs_diff", result.self_test_max_abs_diff}}},
      {"resumed_from", result.resumed_from},
      {"distributed", result.backend.empty()
                          ? nlohmann::json(nullptr)
                          : nlohmann::json{{"world_size", result.world_size},
                                           {"backend", result.backend},
                                           {"batch_per_worker", result.options.batch_size},
                                           {"sync_batch_norm", result.options.sync_batch_norm},
                                           {"allreduce_bytes_per_step", result.allreduce_bytes_per_step}}},
  };
}

}  // namespace digitlab::trainer
