// The core's training speed natively on one thread (the core starts none), for train_speed.mjs: per model,
// a warm-up, then steps until --min-steps are done and --seconds have passed, timed by the wall clock and
// by this process's CPU time; one JSON line each. Read next: train_speed_core.cpp.
//
//   build/native/tests/train_speed_core [--data-dir DIR] [--count N] [--batch N] [--warmup N]
//                                        [--min-steps N] [--seconds S] MODEL...
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string>
#include <vector>

#include "digitlab/idx.hpp"
#include "train_speed_core.hpp"

int main(int argc, char** argv) {
  std::string data_dir = DIGITLAB_DATA_DIR "/mnist";
  int count = 10000, batch = 64, warmup = 3, min_steps = 10;
  double min_seconds = 5.0;
  std::vector<std::string> models;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--data-dir" && has_value) data_dir = argv[++i];
    else if (arg == "--count" && has_value) count = std::atoi(argv[++i]);
    else if (arg == "--batch" && has_value) batch = std::atoi(argv[++i]);
    else if (arg == "--warmup" && has_value) warmup = std::atoi(argv[++i]);
    else if (arg == "--min-steps" && has_value) min_steps = std::atoi(argv[++i]);
    else if (arg == "--seconds" && has_value) min_seconds = std::atof(argv[++i]);
    else if (!arg.empty() && arg[0] != '-') models.push_back(arg);
    else {
      std::fprintf(stderr, "train_speed_core: unknown or incomplete option '%s'\n"
                           "usage: train_speed_core [--data-dir DIR] [--count N] [--batch N] [--warmup N] "
                           "[--min-steps N] [--seconds S] MODEL...\n", arg.c_str());
      return 2;
    }
  }
  if (models.empty()) models = {"mlp", "mlp-deep", "cnn"};
  auto data = digitlab::load_idx_dataset(data_dir, "train");
  if (!data.ok()) {
    std::fprintf(stderr, "train_speed_core: %s\n", data.error().to_string().c_str());
    return 1;
  }
  if (count <= 0 || count > static_cast<int>(data.value().size())) count = static_cast<int>(data.value().size());
  for (const std::string& model : models) {
    const auto failed = [&] {
      std::fprintf(stderr, "train_speed_core: %s: %s\n", model.c_str(), digitlab_train_speed_error());
      return 1;
    };
    if (digitlab_train_speed_begin(model.c_str(), data.value().images.pixels.data(),
                                   data.value().labels.labels.data(), count, batch) != 0)
      return failed();
    // As train_speed_engines.mjs does: the warm-up's first step gives first_loss.
    if (digitlab_train_speed_steps(1) < 0) return failed();
    const float first_loss = digitlab_train_speed_last_loss();
    if (warmup > 1 && digitlab_train_speed_steps(warmup - 1) < 0) return failed();
    using Clock = std::chrono::steady_clock;
    const Clock::time_point start = Clock::now();
    const std::clock_t cpu_start = std::clock();
    int steps = 0;
    long long images = 0;
    double seconds = 0.0;
    while (steps < min_steps || seconds < min_seconds) {
      const int done = digitlab_train_speed_steps(1);
      if (done < 0) return failed();
      images += done;
      ++steps;
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
    }
    const double cpu_seconds = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
    std::printf("{\"model\":\"%s\",\"steps\":%d,\"images\":%lld,\"seconds\":%.4f,\"cpu_seconds\":%.4f,"
                "\"first_loss\":%.5f,\"last_loss\":%.5f}\n",
                model.c_str(), steps, images, seconds, cpu_seconds, first_loss, digitlab_train_speed_last_loss());
    std::fflush(stdout);
    digitlab_train_speed_end();
  }
  return 0;
}
