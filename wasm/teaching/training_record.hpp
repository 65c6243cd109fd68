// What the training panel shows, read from the site's JSON files: a model's run record (the trainer's
// --record, format digitlab-run-record-1, shipped as weights/runs/<model>.json) and a sweep's results
// (weights/runs/sweep-<name>.json, format digitlab-sweep-1, written by scripts/train-zoo.mjs from the
// trainer's sweep.csv). No ImGui. Read next: panel_training.cpp (how they are drawn), common/json_reader.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "digitlab/error.hpp"

namespace digitlab::app {

struct LossPoint {
  float epoch_position = 0.f;  // x: epochs done when the loss was logged (1.5 = half-way through epoch 2)
  float loss = 0.f;            // that one batch's loss (noisy)
  float mean_loss = 0.f;       // the mean over the steps since the last point (smooth)
};

struct EpochPoint {
  int epoch = 0;                // 1-based
  float test_accuracy = -1.f;   // fraction, < 0 unknown
  float learning_rate = 0.f;    // the rate used during this epoch
  float train_loss = 0.f;       // mean over the epoch
  float train_seconds = 0.f;
};

struct RunRecord {
  std::string recipe;  // "sgd lr=0.05 momentum=0.9 batch=64 epochs=8 scheduler=cosine ..."
  std::string model, dataset, optimizer, scheduler, augmentation;
  int batch_size = 0, steps_per_epoch = 0, train_images = 0, test_images = 0;
  std::vector<LossPoint> losses;  // every 100 steps
  std::vector<EpochPoint> epochs;
  float test_accuracy = -1.f;  // the final model's, fraction
  int test_correct = 0, test_count = 0;
  double seconds_per_epoch = 0, total_seconds = 0;
  int threads = 0;
  std::string device, libtorch;
  std::int64_t weights_bytes = 0;
};

// Errors: the JSON reader's (bad_value, truncated, ... with the byte offset), wrong_file_kind when the
// "format" is not digitlab-run-record-1, bad_value when epochs are missing or a field has a wrong type.
Result<RunRecord> read_run_record(std::string_view json_text);

struct SweepRun {
  int run = 0;  // 1-based, in the order the sweep trained them
  std::string optimizer, scheduler;
  double learning_rate = 0;
  int batch_size = 0, epochs = 0;
  double test_accuracy = 0;  // fraction
  double train_loss = 0;     // last epoch's mean
  double seconds_per_epoch = 0;
};

struct SweepTable {
  std::string name, about, command, dataset, model;
  int epochs = 0, seed = 0, threads = 0, train_images = 0, test_images = 0;
  std::vector<SweepRun> runs;
  int best = -1;  // index into runs of the highest test accuracy (the first on ties)
};

Result<SweepTable> read_sweep(std::string_view json_text);

// The table's columns, in display order.
enum class SweepColumn { run, optimizer, learning_rate, batch_size, scheduler, test_accuracy, train_loss, seconds_per_epoch };
inline constexpr int kSweepColumnCount = 8;
const char* sweep_column_name(SweepColumn column);  // the header: "lr", "test acc %"
// Row order for the table: indices into table.runs sorted by column (ties keep the run order).
std::vector<int> sorted_sweep_rows(const SweepTable& table, SweepColumn column, bool descending);

}  // namespace digitlab::app
