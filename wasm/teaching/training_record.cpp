// Run records and sweep tables (training_record.hpp) from their JSON: every field's type is checked
// before it is used, missing optional fields keep their defaults, a record without epochs is refused.
// Read next: panel_training.cpp.
#include "teaching/training_record.hpp"

#include <cmath>

#include "common/json_reader.hpp"

namespace digitlab::app {

namespace {

// Counts from a file: finite and within int range, else the fallback.
int int_of(const JsonValue& value, int fallback = 0) {
  const double number = value.as_number(double(fallback));
  return std::isfinite(number) && std::fabs(number) < 2e9 ? int(number) : fallback;
}

float float_of(const JsonValue& value, float fallback) { return float(value.as_number(double(fallback))); }

Error bad(const std::string& field, std::string message) {
  return make_error(ErrorCode::bad_value, field, 0, std::move(message));
}

}  // namespace

Result<RunRecord> read_run_record(std::string_view json_text) {
  auto parsed = parse_json(json_text);
  if (!parsed) return parsed.error();
  const JsonValue& root = parsed.value();
  const std::string& format = root["format"].as_string();
  if (format != "digitlab-run-record-1")
    return make_error(ErrorCode::wrong_file_kind, "format", 0,
                      format.empty() ? "this is not a digitlab run record (no \"format\": \"digitlab-run-record-1\")"
                                     : "the record's format is " + format + ", this app reads digitlab-run-record-1");

  RunRecord record;
  record.recipe = root["recipe"].as_string();
  const JsonValue& config = root["config"];
  record.model = config["model"].as_string();
  record.dataset = config["dataset"].as_string();
  record.optimizer = config["optimizer"].as_string();
  record.scheduler = config["scheduler"].as_string();
  record.augmentation = config["augmentation"].as_string();
  record.batch_size = int_of(config["batch_size"]);
  const JsonValue& data = root["data"];
  record.steps_per_epoch = int_of(data["steps_per_epoch"]);
  record.train_images = int_of(data["train_images"]);
  record.test_images = int_of(data["test_images"]);

  const JsonValue& epochs = root["epochs"];
  if (!epochs.is_array() || epochs.size() == 0) return bad("epochs", "the record has no \"epochs\" list");
  for (std::size_t i = 0; i < epochs.size(); ++i) {
    const JsonValue& row = epochs.at(i);
    if (!row.is_object() || !row["epoch"].is_number())
      return bad("epochs[" + std::to_string(i) + "]", "an epoch without its number");
    EpochPoint point;
    point.epoch = int_of(row["epoch"]);
    point.test_accuracy = float_of(row["test_accuracy"], -1.f);
    point.learning_rate = float_of(row["learning_rate"], 0.f);
    point.train_loss = float_of(row["train_loss"], 0.f);
    point.train_seconds = float_of(row["train_seconds"], 0.f);
    record.epochs.push_back(point);
  }

  const JsonValue& losses = root["losses"];
  if (!losses.is_null() && !losses.is_array()) return bad("losses", "\"losses\" is not a list");
  for (std::size_t i = 0; i < losses.size(); ++i) {
    const JsonValue& row = losses.at(i);
    if (!row["loss"].is_number()) return bad("losses[" + std::to_string(i) + "]", "a loss point without its \"loss\"");
    LossPoint point;
    point.loss = float_of(row["loss"], 0.f);
    point.mean_loss = float_of(row["mean_loss"], point.loss);
    const int global_step = int_of(row["global_step"]);
    if (record.steps_per_epoch > 0 && global_step > 0)
      point.epoch_position = float(global_step) / float(record.steps_per_epoch);
    else  // no step counts: spread the points evenly over the epochs
      point.epoch_position = float(record.epochs.size()) * float(i + 1) / float(losses.size());
    record.losses.push_back(point);
  }

  const JsonValue& test = root["test"];
  record.test_accuracy = float_of(test["accuracy"], record.epochs.back().test_accuracy);
  record.test_correct = int_of(test["correct"]);
  record.test_count = int_of(test["count"]);
  const JsonValue& timings = root["timings"];
  record.seconds_per_epoch = timings["seconds_per_epoch"].as_number();
  record.total_seconds = timings["total_seconds"].as_number();
  const JsonValue& environment = root["environment"];
  record.threads = int_of(environment["threads"]);
  record.device = environment["device"].as_string();
  record.libtorch = environment["libtorch"].as_string();
  record.weights_bytes = std::int64_t(root["weights"]["bytes"].as_number());
  return record;
}

Result<SweepTable> read_sweep(std::string_view json_text) {
  auto parsed = parse_json(json_text);
  if (!parsed) return parsed.error();
  const JsonValue& root = parsed.value();
  const std::string& format = root["format"].as_string();
  if (format != "digitlab-sweep-1")
    return make_error(ErrorCode::wrong_file_kind, "format", 0,
                      format.empty() ? "this is not a digitlab sweep (no \"format\": \"digitlab-sweep-1\")"
                                     : "the sweep's format is " + format + ", this app reads digitlab-sweep-1");
  SweepTable table;
  table.name = root["name"].as_string();
  table.about = root["about"].as_string();
  table.command = root["command"].as_string();
  table.dataset = root["dataset"].as_string();
  table.model = root["model"].as_string();
  table.epochs = int_of(root["epochs"]);
  table.seed = int_of(root["seed"]);
  table.threads = int_of(root["threads"]);
  table.train_images = int_of(root["train_images"]);
  table.test_images = int_of(root["test_images"]);
  const JsonValue& runs = root["runs"];
  if (!runs.is_array() || runs.size() == 0) return bad("runs", "the sweep has no \"runs\" list");
  for (std::size_t i = 0; i < runs.size(); ++i) {
    const JsonValue& row = runs.at(i);
    if (!row["test_accuracy"].is_number() || !row["learning_rate"].is_number())
      return bad("runs[" + std::to_string(i) + "]", "a run without its learning_rate and test_accuracy");
    SweepRun run;
    run.run = int_of(row["run"], int(i) + 1);
    run.optimizer = row["optimizer"].as_string();
    run.scheduler = row["scheduler"].as_string();
    run.learning_rate = row["learning_rate"].as_number();
    run.batch_size = int_of(row["batch_size"]);
    run.epochs = int_of(row["epochs"], table.epochs);
    run.test_accuracy = row["test_accuracy"].as_number();
    run.train_loss = row["train_loss"].as_number();
    run.seconds_per_epoch = row["seconds_per_epoch"].as_number();
    if (table.best < 0 || run.test_accuracy > table.runs[std::size_t(table.best)].test_accuracy)
      table.best = int(table.runs.size());
    table.runs.push_back(std::move(run));
  }
  return table;
}

const char* sweep_column_name(SweepColumn column) {
  switch (column) {
    case SweepColumn::run: return "run";
    case SweepColumn::optimizer: return "optimizer";
    case SweepColumn::learning_rate: return "lr";
    case SweepColumn::batch_size: return "batch";
    case SweepColumn::scheduler: return "scheduler";
    case SweepColumn::test_accuracy: return "test acc %";
    case SweepColumn::train_loss: return "train loss";
    case SweepColumn::seconds_per_epoch: return "s/epoch";
  }
  return "?";
}

std::vector<int> sorted_sweep_rows(const SweepTable& table, SweepColumn column, bool descending) {
  std::vector<int> order(table.runs.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = int(i);
  // -1, 0, 1 comparing two runs by the column.
  auto compare = [column](const SweepRun& a, const SweepRun& b) {
    auto sign = [](double x, double y) { return x < y ? -1 : (x > y ? 1 : 0); };
    switch (column) {
      case SweepColumn::run: return sign(a.run, b.run);
      case SweepColumn::optimizer: return a.optimizer.compare(b.optimizer) < 0 ? -1 : (a.optimizer == b.optimizer ? 0 : 1);
      case SweepColumn::learning_rate: return sign(a.learning_rate, b.learning_rate);
      case SweepColumn::batch_size: return sign(a.batch_size, b.batch_size);
      case SweepColumn::scheduler: return a.scheduler.compare(b.scheduler) < 0 ? -1 : (a.scheduler == b.scheduler ? 0 : 1);
      case SweepColumn::test_accuracy: return sign(a.test_accuracy, b.test_accuracy);
      case SweepColumn::train_loss: return sign(a.train_loss, b.train_loss);
      case SweepColumn::seconds_per_epoch: return sign(a.seconds_per_epoch, b.seconds_per_epoch);
    }
    return 0;
  };
  // Insertion sort: a sweep has tens of rows, and this is smaller in the browser's download than std::stable_sort.
  for (std::size_t i = 1; i < order.size(); ++i) {
    const int moving = order[i];
    std::size_t j = i;
    for (; j > 0; --j) {
      const int order_of = compare(table.runs[std::size_t(moving)], table.runs[std::size_t(order[j - 1])]);
      if (!(descending ? order_of > 0 : order_of < 0)) break;  // equal rows keep their order
      order[j] = order[j - 1];
    }
    order[j] = moving;
  }
  return order;
}

}  // namespace digitlab::app
