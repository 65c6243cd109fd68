// `digitlab sweep`: the tutorial's comparisons (learning rates, batch sizes, SGD vs Adam, StepLR) as one
// grid of training runs. Prints and saves the results table (Markdown and CSV) and keeps the best model.
// Read next: graph.cpp.
#include <iostream>
#include <optional>

#include <fmt/format.h>

#include "atomic_file.hpp"
#include "commands.hpp"
#include "console.hpp"
#include "trainer.hpp"

namespace digitlab::trainer {

namespace {

int sweep_error(const Error& error) {
  std::fprintf(stderr, "digitlab sweep: error: %s\n", describe(error).c_str());
  return kExitError;
}

}  // namespace

int run_sweep(SweepOptions options) {
  TrainOptions& base = options.base;
  base.resolve_defaults();
  if (options.out_dir.empty()) options.out_dir = "build/sweep/" + base.dataset + "-" + base.model;
  // Every combination is checked before the first one trains: a typo must not surface an hour in.
  std::vector<TrainOptions> grid;
  for (const auto& optimizer : options.optimizers)
    for (double learning_rate : options.learning_rates)
      for (int batch_size : options.batch_sizes)
        for (const auto& scheduler : options.schedulers) {
          TrainOptions run = base;
          run.optimizer = optimizer;
          run.learning_rate = learning_rate;
          run.batch_size = batch_size;
          run.scheduler = scheduler;
          run.quiet = true;
          run.print_model = false;
          run.write_outputs = false;
          run.progress = "off";
          run.output = options.out_dir + "/best.dlw";
          run.record = options.out_dir + "/best.dlw.json";
          if (auto valid = run.validate(); !valid) return sweep_error(valid.error());
          grid.push_back(run);
        }
  if (grid.empty()) return sweep_error(make_error(ErrorCode::bad_argument, "grid", 0, "the grid is empty"));

  std::cout << fmt::format("Sweep: {} runs of {} on {}, {} epoch(s) each, seed {}; results in {}\n", grid.size(),
                           base.model, base.dataset, base.epochs, base.seed, options.out_dir);
  TextTable table;
  table.header = {"run", "optimizer", "lr", "batch", "scheduler", "epochs", "test acc %", "train loss", "s/epoch"};
  std::optional<TrainResult> best;
  std::size_t best_index = 0;
  for (std::size_t i = 0; i < grid.size(); ++i) {
    const TrainOptions& run = grid[i];
    std::cout << fmt::format("[{}/{}] {}\n", i + 1, grid.size(), run.recipe());
    auto result = train(run);
    if (!result) return sweep_error(result.error());
    const TrainResult& done = result.value();
    double seconds = 0;
    for (const auto& epoch : done.epochs) seconds += epoch.train_seconds;
    table.rows.push_back({std::to_string(i + 1), run.optimizer, fmt::format("{:g}", run.learning_rate),
                          std::to_string(run.batch_size), run.scheduler, std::to_string(run.epochs),
                          fmt::format("{:.2f}", 100 * done.test.accuracy),
                          fmt::format("{:.4f}", done.epochs.empty() ? 0.0 : done.epochs.back().train_loss),
                          fmt::format("{:.2f}", seconds / std::max<std::size_t>(done.epochs.size(), 1))});
    if (!best || done.test.accuracy > best->test.accuracy) {
      best = done;
      best_index = i;
    }
  }
  table.rows[best_index][0] += " (best)";

  std::cout << "\n" << table.render();
  const std::string markdown =
      fmt::format("# Sweep: {} on {}\n\nEach run: {} epoch(s), seed {}, {} training images; test accuracy on {} "
                  "test images.\n\n{}\nBest: run {} ({}), test accuracy {:.2f} %.\n",
                  base.model, base.dataset, base.epochs, base.seed, best->train_images, best->test_images,
                  table.render_markdown(), best_index + 1, best->options.recipe(), 100 * best->test.accuracy);
  if (auto written = write_file_atomically(options.out_dir + "/sweep.md", markdown); !written)
    return sweep_error(written.error());
  if (auto written = write_file_atomically(options.out_dir + "/sweep.csv", table.render_csv()); !written)
    return sweep_error(written.error());

  // The best model: weights file (with the first test image as self-test input) and its run record.
  auto test = load_split(best->options.data_dir, "t10k", 1, torch::kCPU);
  if (!test) return sweep_error(test.error());
  const Normalizer normalizer(best->model.card.normalize_mean, best->model.card.normalize_std, torch::kCPU);
  auto bytes = weights_bytes(best->model, normalizer.image(test.value().images[0]));
  if (!bytes) return sweep_error(bytes.error());
  best->weights_bytes = static_cast<std::int64_t>(bytes.value().size());
  if (auto written = write_file_atomically(best->options.output, bytes.value()); !written)
    return sweep_error(written.error());
  if (auto written = write_file_atomically(best->options.record, run_record(*best).dump(2) + "\n"); !written)
    return sweep_error(written.error());
  std::cout << fmt::format("\nBest: run {} ({:.2f} %). Wrote {}/sweep.md, {}/sweep.csv, {} and {}\n", best_index + 1,
                           100 * best->test.accuracy, options.out_dir, options.out_dir, best->options.output,
                           best->options.record);
  return kExitOk;
}

}  // namespace digitlab::trainer
