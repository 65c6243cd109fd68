// `digitlab bench`: seconds per training epoch with the tutorial's recipe, per model, dataset and thread
// count, measured by the same train() the program runs (no outputs written). A program that prints
// figures; docs/benchmarks.md records them next to the tutorial's own PyTorch code. Read next: main.cpp.
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "atomic_file.hpp"
#include "commands.hpp"
#include "console.hpp"
#include "trainer.hpp"

namespace digitlab::trainer {

int run_bench(const BenchOptions& options) {
  TextTable table;
  table.header = {"model", "dataset", "threads", "epochs", "s/epoch", "img/s", "test acc %"};
  nlohmann::json results = nlohmann::json::array();
  std::string environment_line;
  for (const auto& dataset : options.datasets)
    for (const auto& model : options.models)
      for (int threads : options.threads) {
        TrainOptions run;
        run.dataset = dataset;
        run.model = model;
        run.epochs = options.epochs;
        run.threads = threads;
        run.device = options.device;
        run.data_dir = options.data_dir;
        run.limit_train = options.limit_train;
        run.channels_last = options.channels_last;
        run.quiet = true;
        run.print_model = false;
        run.write_outputs = false;
        run.progress = "off";
        std::cout << fmt::format("bench: {} on {}, {} thread(s), {} epoch(s)\n", model, dataset, threads,
                                 options.epochs);
        std::cout.flush();
        auto result = train(run);
        if (!result) {
          std::fprintf(stderr, "digitlab bench: error: %s\n", describe(result.error()).c_str());
          return kExitError;
        }
        const TrainResult& done = result.value();
        if (environment_line.empty()) environment_line = done.environment.header_lines().back();
        double seconds = 0;
        for (const auto& epoch : done.epochs) seconds += epoch.train_seconds;
        const double per_epoch = seconds / std::max<std::size_t>(done.epochs.size(), 1);
        table.rows.push_back({model, dataset, std::to_string(done.environment.threads), std::to_string(options.epochs),
                              fmt::format("{:.2f}", per_epoch),
                              with_thousands(static_cast<std::int64_t>(done.train_images / per_epoch)),
                              fmt::format("{:.2f}", 100 * done.test.accuracy)});
        nlohmann::json epochs = nlohmann::json::array();
        for (const auto& epoch : done.epochs) epochs.push_back(epoch.train_seconds);
        results.push_back({{"model", model}, {"dataset", dataset}, {"threads", done.environment.threads},
                           {"device", done.environment.device.str()}, {"epochs", options.epochs},
                           {"train_images", done.train_images}, {"seconds_per_epoch", per_epoch},
                           {"epoch_seconds", epochs}, {"test_accuracy", done.test.accuracy},
                           {"channels_last", options.channels_last}, {"environment", done.environment.to_json()}});
      }
  std::cout << "\n" << environment_line << "\n" << table.render();
  if (!options.json.empty()) {
    if (auto written = write_file_atomically(options.json, results.dump(2) + "\n"); !written) {
      std::fprintf(stderr, "digitlab bench: error: %s\n", describe(written.error()).c_str());
      return kExitError;
    }
  }
  return kExitOk;
}

}  // namespace digitlab::trainer
