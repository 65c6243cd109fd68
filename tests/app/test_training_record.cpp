// The training panel's readers (wasm/teaching/training_record.hpp), ImGui-free (natively and as WebAssembly
// under node): a run record's curves, epochs and timings, a sweep's runs sorted by any column, and other or
// broken files refused with a reason. Read next: test_panel_training.cpp (the panel that shows them).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "teaching/training_record.hpp"

using namespace digitlab;
using namespace digitlab::app;

namespace {

const char* kRecord = R"({
  "format": "digitlab-run-record-1",
  "recipe": "sgd lr=0.05 momentum=0.9 batch=64 epochs=2 scheduler=cosine augment=none loss=cross_entropy seed=1",
  "config": {"model": "mlp", "dataset": "mnist", "optimizer": "sgd", "scheduler": "cosine", "batch_size": 64,
             "augmentation": "none"},
  "data": {"steps_per_epoch": 200, "train_images": 12800, "test_images": 1000},
  "environment": {"threads": 1, "device": "cpu", "libtorch": "1.13.0"},
  "epochs": [
    {"epoch": 1, "learning_rate": 0.025, "test_accuracy": 0.9, "train_loss": 0.5, "train_seconds": 3.0},
    {"epoch": 2, "learning_rate": 0.0, "test_accuracy": 0.95, "train_loss": 0.2, "train_seconds": 2.0}],
  "losses": [
    {"epoch": 1, "step": 100, "global_step": 100, "loss": 0.8, "mean_loss": 1.2},
    {"epoch": 1, "step": 200, "global_step": 200, "loss": 0.4, "mean_loss": 0.5},
    {"epoch": 2, "step": 100, "global_step": 300, "loss": 0.3, "mean_loss": 0.35}],
  "test": {"accuracy": 0.95, "correct": 950, "count": 1000},
  "timings": {"seconds_per_epoch": 2.5, "total_seconds": 6.0},
  "weights": {"bytes": 31400}
})";

}  // namespace

TEST_CASE("run record: curves, epochs, timings and the final accuracy", "[app][json][record]") {
  auto read = read_run_record(kRecord);
  INFO((read ? std::string("ok") : read.error().to_string()));
  REQUIRE(read.ok());
  const RunRecord& record = read.value();
  CHECK(record.model == "mlp");
  CHECK(record.dataset == "mnist");
  CHECK(record.scheduler == "cosine");
  REQUIRE(record.losses.size() == 3);
  CHECK(record.losses[0].epoch_position == Approx(0.5));  // global step 100 of 200 per epoch
  CHECK(record.losses[2].epoch_position == Approx(1.5));
  CHECK(record.losses[1].mean_loss == Approx(0.5));
  REQUIRE(record.epochs.size() == 2);
  CHECK(record.epochs[0].learning_rate == Approx(0.025));
  CHECK(record.epochs[1].test_accuracy == Approx(0.95));
  CHECK(record.test_accuracy == Approx(0.95));
  CHECK(record.test_correct == 950);
  CHECK(record.threads == 1);
  CHECK(record.seconds_per_epoch == Approx(2.5));
  CHECK(record.weights_bytes == 31400);
}

TEST_CASE("run record: other files and broken records are refused with a reason", "[app][json][record]") {
  auto not_json = read_run_record("<html>404</html>");
  REQUIRE_FALSE(not_json.ok());
  CHECK(not_json.error().code == ErrorCode::bad_value);
  CHECK(not_json.error().offset == 0);

  auto other = read_run_record(R"({"models": []})");
  REQUIRE_FALSE(other.ok());
  CHECK(other.error().code == ErrorCode::wrong_file_kind);

  auto newer = read_run_record(R"({"format": "digitlab-run-record-9", "epochs": [{"epoch": 1}]})");
  REQUIRE_FALSE(newer.ok());
  CHECK(newer.error().message.find("digitlab-run-record-9") != std::string::npos);

  auto no_epochs = read_run_record(R"({"format": "digitlab-run-record-1", "epochs": []})");
  REQUIRE_FALSE(no_epochs.ok());
  CHECK(no_epochs.error().field == "epochs");

  auto bad_loss = read_run_record(
      R"({"format": "digitlab-run-record-1", "epochs": [{"epoch": 1}], "losses": [{"loss": "high"}]})");
  REQUIRE_FALSE(bad_loss.ok());
  CHECK(bad_loss.error().field == "losses[0]");

  // Cut anywhere, the record never reads as valid and never crashes.
  const std::string text = kRecord;
  for (std::size_t cut = 0; cut + 1 < text.size(); cut += 7) CHECK_FALSE(read_run_record(text.substr(0, cut)).ok());
}

TEST_CASE("sweep: runs, the best run, and sorting by any column", "[app][json][sweep]") {
  const char* text = R"({"format": "digitlab-sweep-1", "name": "s", "about": "lr vs optimizer", "epochs": 1,
    "runs": [
      {"run": 1, "optimizer": "sgd", "learning_rate": 0.1, "batch_size": 64, "scheduler": "none",
       "test_accuracy": 0.90, "train_loss": 0.3, "seconds_per_epoch": 5.0},
      {"run": 2, "optimizer": "adam", "learning_rate": 0.001, "batch_size": 256, "scheduler": "step:1:0.5",
       "test_accuracy": 0.97, "train_loss": 0.1, "seconds_per_epoch": 3.0},
      {"run": 3, "optimizer": "adam", "learning_rate": 0.01, "batch_size": 64, "scheduler": "none",
       "test_accuracy": 0.93, "train_loss": 0.2, "seconds_per_epoch": 7.0}]})";
  auto read = read_sweep(text);
  INFO((read ? std::string("ok") : read.error().to_string()));
  REQUIRE(read.ok());
  const SweepTable& table = read.value();
  REQUIRE(table.runs.size() == 3);
  CHECK(table.best == 1);
  CHECK(table.runs[2].epochs == 1);  // from the table when a run does not say
  CHECK(sorted_sweep_rows(table, SweepColumn::test_accuracy, true) == std::vector<int>{1, 2, 0});
  CHECK(sorted_sweep_rows(table, SweepColumn::learning_rate, false) == std::vector<int>{1, 2, 0});
  CHECK(sorted_sweep_rows(table, SweepColumn::optimizer, false) == std::vector<int>{1, 2, 0});  // ties keep run order
  CHECK(sorted_sweep_rows(table, SweepColumn::seconds_per_epoch, true) == std::vector<int>{2, 0, 1});
  CHECK(sorted_sweep_rows(table, SweepColumn::run, false) == std::vector<int>{0, 1, 2});
  CHECK(std::string(sweep_column_name(SweepColumn::test_accuracy)) == "test acc %");

  CHECK(read_sweep(R"({"format": "digitlab-sweep-1", "runs": []})").error().field == "runs");
  CHECK(read_sweep(R"({"format": "digitlab-run-record-1"})").error().code == ErrorCode::wrong_file_kind);
  CHECK(read_sweep(R"({"format": "digitlab-sweep-1", "runs": [{"run": 1}]})").error().field == "runs[0]");
}
