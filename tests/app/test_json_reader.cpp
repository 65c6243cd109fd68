// The JSON reader (wasm/common/json_reader.hpp) on valid and malformed text, and the run record / sweep readers
// (wasm/teaching/training_record.hpp) on the shipped files' shapes and on broken ones.
// Read next: test_panel_training.cpp (the panel that shows them).
#include <catch2/catch.hpp>

#include <string>

#include "common/json_reader.hpp"
#include "teaching/training_record.hpp"

using namespace digitlab;
using namespace digitlab::app;

namespace {

JsonValue parse_ok(const std::string& text) {
  auto parsed = parse_json(text);
  INFO(text << " -> " << (parsed ? std::string("ok") : parsed.error().to_string()));
  REQUIRE(parsed.ok());
  return parsed.value();
}

Error parse_error(const std::string& text, const JsonLimits& limits = {}) {
  auto parsed = parse_json(text, limits);
  INFO(text);
  REQUIRE_FALSE(parsed.ok());
  return parsed.error();
}

}  // namespace

TEST_CASE("json: objects, arrays, strings, numbers, bools and null", "[app][json]") {
  const JsonValue value = parse_ok(
      " {\"a\": [1, -2.5, 3e2, 0, -0.125E-1], \"b\": {\"c\": true, \"d\": false, \"e\": null}, \"s\": \"x\\ty\"} \n");
  REQUIRE(value.is_object());
  CHECK(value.size() == 3);
  CHECK(value.key_at(1) == "b");
  const JsonValue& a = value["a"];
  REQUIRE(a.is_array());
  REQUIRE(a.size() == 5);
  CHECK(a.at(0).as_number() == 1.0);
  CHECK(a.at(1).as_number() == -2.5);
  CHECK(a.at(2).as_number() == 300.0);
  CHECK(a.at(3).as_number() == 0.0);
  CHECK(a.at(4).as_number() == Approx(-0.0125));
  CHECK(value["b"]["c"].as_bool() == true);
  CHECK(value["b"]["d"].is_bool());
  CHECK(value["b"]["d"].as_bool(true) == false);
  CHECK(value["b"]["e"].is_null());
  CHECK(value["b"].find("e") != nullptr);
  CHECK(value["s"].as_string() == "x\ty");
  // Absent members, wrong types and out-of-range indices read as null / the fallback, never crash.
  CHECK(value["missing"].is_null());
  CHECK(value["missing"]["deeper"].at(3).is_null());
  CHECK(value["s"].as_number(7.0) == 7.0);
  CHECK(a.at(99).is_null());
  CHECK(a["key"].is_null());
  CHECK(value.at(0).is_null());
  CHECK(value["a"].as_string().empty());
  CHECK(parse_ok("[]").size() == 0);
  CHECK(parse_ok("{}").is_object());
  CHECK(parse_ok("\"just a string\"").as_string() == "just a string");
  CHECK(parse_ok("\xEF\xBB\xBF[1]").at(0).as_number() == 1.0);  // a byte order mark is skipped
  CHECK(parse_ok("{\"k\": 1, \"k\": 2}")["k"].as_number() == 1.0);  // the first of a repeated key
}

TEST_CASE("json: string escapes, including \\u and surrogate pairs, become UTF-8", "[app][json]") {
  CHECK(parse_ok(R"("\"\\\/\b\f\n\r\t")").as_string() == "\"\\/\b\f\n\r\t");
  CHECK(parse_ok(R"("\u0041\u00e9\u20AC")").as_string() == "A\xC3\xA9\xE2\x82\xAC");
  CHECK(parse_ok(R"("\ud83d\ude00")").as_string() == "\xF0\x9F\x98\x80");
  CHECK(parse_ok("\"caf\xC3\xA9\"").as_string() == "caf\xC3\xA9");  // raw UTF-8 passes through
}

TEST_CASE("json: malformed text gives an error with the byte offset", "[app][json]") {
  struct Case {
    const char* text;
    ErrorCode code;
    std::uint64_t offset;
  };
  const Case cases[] = {
      {"", ErrorCode::truncated, 0},
      {"   ", ErrorCode::truncated, 3},
      {"[1, 2", ErrorCode::truncated, 5},
      {"[1, 2,]", ErrorCode::bad_value, 6},       // trailing comma
      {"{\"a\" 1}", ErrorCode::bad_value, 5},     // missing colon
      {"{a: 1}", ErrorCode::bad_value, 1},        // unquoted key
      {"[01]", ErrorCode::bad_value, 2},          // leading zero
      {"[1.]", ErrorCode::bad_value, 3},
      {"[-]", ErrorCode::bad_value, 2},
      {"[1e]", ErrorCode::bad_value, 3},
      {"[NaN]", ErrorCode::bad_value, 1},
      {"[tru]", ErrorCode::bad_value, 1},
      {"\"abc", ErrorCode::truncated, 4},
      {"\"a\nb\"", ErrorCode::bad_value, 2},      // raw control character
      {"\"\\x\"", ErrorCode::bad_value, 2},       // unknown escape
      {"\"\\u12G4\"", ErrorCode::bad_value, 3},
      {"\"\\udc00\"", ErrorCode::bad_value, 7},   // lone low surrogate
      {"\"\\ud800x\"", ErrorCode::bad_value, 7},  // high surrogate alone
      {"[1] [2]", ErrorCode::trailing_bytes, 4},
      {"[1e999]", ErrorCode::bad_value, 1},       // not a finite double
      {"{\"a\":1,}", ErrorCode::bad_value, 7},
  };
  for (const Case& c : cases) {
    const Error error = parse_error(c.text);
    INFO("text: " << c.text << "  error: " << error.to_string());
    CHECK(error.code == c.code);
    CHECK(error.offset == c.offset);
    CHECK_FALSE(error.message.empty());
  }
}

TEST_CASE("json: the size, depth and value limits hold", "[app][json]") {
  JsonLimits limits;
  limits.max_depth = 4;
  CHECK(parse_json("[[[[1]]]]", limits).ok());
  CHECK(parse_error("[[[[[1]]]]]", limits).code == ErrorCode::over_budget);
  // Deep nesting far past the limit stops at the limit (no stack overflow).
  CHECK(parse_error(std::string(100000, '['), JsonLimits{}).code == ErrorCode::over_budget);
  limits = JsonLimits{};
  limits.max_bytes = 10;
  CHECK(parse_error("[1,2,3,4,5,6]", limits).code == ErrorCode::over_budget);
  limits = JsonLimits{};
  limits.max_values = 3;
  CHECK(parse_json("[1,2]", limits).ok());
  CHECK(parse_error("[1,2,3]", limits).code == ErrorCode::over_budget);
}

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
