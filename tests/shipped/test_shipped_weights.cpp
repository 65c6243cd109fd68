// Every file in weights/ against weights/manifest.json: bytes and sha256 match, it loads, its self-test
// passes, its logits match the core's double reference, the Eigen core reproduces the recorded test
// accuracy, each run record and sweep in weights/runs/ agrees with its entry, and the shipped default reads
// drawn digits.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "digitlab/idx.hpp"
#include "digitlab/preprocess.hpp"
#include "digitlab/reference.hpp"
#include "digitlab/weights.hpp"
#include "support/sha256.hpp"
#include "support/synthetic_digits.hpp"

using namespace digitlab;
using namespace digitlab::testing;

namespace {

const std::string kWeightsDir = DIGITLAB_SOURCE_DIR "/weights";

nlohmann::json read_manifest() {
  std::ifstream in(kWeightsDir + "/manifest.json");
  REQUIRE(in);
  return nlohmann::json::parse(in);
}

LoadedWeights load_shipped(const std::string& file) {
  auto bytes = read_file(kWeightsDir + "/" + file, 64u << 20);
  REQUIRE(bytes.ok());
  auto loaded = load_weights(ByteSpan(bytes.value()));
  INFO(file << ": " << (loaded.ok() ? std::string("ok") : loaded.error().to_string()));
  REQUIRE(loaded.ok());
  return std::move(loaded.value());
}

std::string data_folder(const std::string& dataset) {
  return std::string(DIGITLAB_DATA_DIR) + (dataset == "mnist" ? "/mnist" : "/fashion-mnist");
}

// Correct predictions of the Eigen core over a whole test set.
int correct_on_test_set(const Model& model, const IdxDataset& test) {
  int correct = 0;
  std::vector<float> input(784);
  const float mean = model.card.normalize_mean, std = model.card.normalize_std;
  for (std::uint32_t i = 0; i < test.size(); ++i) {
    const std::uint8_t* pixels = test.images.image(i);
    for (int p = 0; p < 784; ++p) input[std::size_t(p)] = (float(pixels[p]) / 255.f - mean) / std;
    auto prediction = forward(model, input.data(), input.size());
    REQUIRE(prediction.ok());
    correct += prediction.value().label == test.labels.labels[i];
  }
  return correct;
}

// Targets for the float32 models: the tutorial's own results (its recipe reproduced) as the floor, and what
// the shipped models must reach through better recipes (issue 5: MNIST CNN 99.5, MNIST MLP 98.3, Fashion
// CNN 93.0, Fashion MLP 89.5 %). The test requires the target and prints the margin over both.
struct Targets {
  double floor, aim;
};
Targets targets(const std::string& dataset, const std::string& architecture) {
  static const std::map<std::string, Targets> table = {{"mnist/cnn", {0.990, 0.995}},
                                                       {"mnist/mlp", {0.974, 0.983}},
                                                       {"fashion-mnist/cnn", {0.915, 0.930}},
                                                       {"fashion-mnist/mlp", {0.875, 0.895}}};
  auto it = table.find(dataset + "/" + architecture);
  return it == table.end() ? Targets{0.0, 0.0} : it->second;
}

}  // namespace

TEST_CASE("the manifest lists every shipped file once, with one default") {
  nlohmann::json manifest = read_manifest();
  const auto& models = manifest.at("models");
  REQUIRE(models.size() >= 4);
  int defaults = 0;
  std::vector<std::string> names;
  for (const auto& entry : models) {
    defaults += entry.value("default", false) ? 1 : 0;
    names.push_back(entry.at("name").get<std::string>());
    for (const char* key : {"file", "dataset", "architecture", "dtype", "test_accuracy", "bytes", "sha256", "command"})
      CHECK(entry.contains(key));
  }
  CHECK(defaults == 1);
  std::sort(names.begin(), names.end());
  CHECK(std::adjacent_find(names.begin(), names.end()) == names.end());
}

TEST_CASE("every shipped file matches its size and sha256, loads and passes its self-test") {
  const nlohmann::json manifest = read_manifest();  // kept alive: the loop walks inside it
  for (const auto& entry : manifest.at("models")) {
    const std::string file = entry.at("file").get<std::string>();
    INFO(file);
    auto bytes = read_file(kWeightsDir + "/" + file, 64u << 20);
    REQUIRE(bytes.ok());
    CHECK(bytes.value().size() == entry.at("bytes").get<std::uint64_t>());
    CHECK(sha256_hex(bytes.value()) == entry.at("sha256").get<std::string>());
    LoadedWeights loaded = load_shipped(file);
    CHECK(loaded.has_self_test);
    CHECK(loaded.model.card.dataset == entry.at("dataset").get<std::string>());
    CHECK(loaded.model.card.architecture == entry.at("architecture").get<std::string>());
  }
}

TEST_CASE("the Eigen core reproduces each file's recorded test accuracy, and the targets hold") {
  std::map<std::string, IdxDataset> test_sets;
  std::map<std::string, double> float32_accuracy;  // by dataset/architecture
  nlohmann::json models = read_manifest().at("models");
  // float32 first, so quantised files can be compared with their float32 sibling.
  std::stable_sort(models.begin(), models.end(), [](const auto& a, const auto& b) {
    return (a.at("dtype") == "float32") > (b.at("dtype") == "float32");
  });
  for (const auto& entry : models) {
    const std::string file = entry.at("file").get<std::string>();
    const std::string dataset = entry.at("dataset").get<std::string>();
    const std::string architecture = entry.at("architecture").get<std::string>();
    const std::string dtype = entry.at("dtype").get<std::string>();
    if (!test_sets.count(dataset)) {
      auto test = load_idx_dataset(data_folder(dataset), "t10k");
      REQUIRE(test.ok());
      test_sets.emplace(dataset, std::move(test.value()));
    }
    LoadedWeights loaded = load_shipped(file);
    const IdxDataset& test = test_sets.at(dataset);
    double accuracy = double(correct_on_test_set(loaded.model, test)) / test.size();
    double recorded = entry.at("test_accuracy").get<double>();
    INFO(file << ": Eigen core " << accuracy * 100 << " %, manifest " << recorded * 100 << " %");
    CHECK(std::abs(accuracy - recorded) < 0.5 / test.size());
    const std::string key = dataset + "/" + architecture;
    if (dtype == "float32") {
      float32_accuracy[key] = accuracy;
      const Targets t = targets(dataset, architecture);
      CHECK(accuracy >= t.floor);
      CHECK(accuracy >= t.aim);
      WARN(file << ": " << accuracy * 100 << " % (tutorial " << t.floor * 100 << " %, target " << t.aim * 100
                << " %: " << (accuracy >= t.aim ? "reached" : "NOT reached") << ")");
    } else if (float32_accuracy.count(key)) {
      double loss = float32_accuracy[key] - accuracy;
      INFO(dtype << " loses " << loss * 100 << " points against float32");
      CHECK(loss <= (dtype == "float16" ? 0.001 : 0.003) + 1e-9);
    }
  }
}

// Trained weights are sparse after their ReLUs in ways seeded ones are not, so the core takes other
// skipping paths on them: the logits of each shipped file on real test digits against the core's double
// reference (reference.hpp), |core - reference| <= 1e-4 * max(1, |reference|), the largest printed.
TEST_CASE("each shipped model's logits match the double-precision reference on test digits") {
  std::map<std::string, IdxDataset> test_sets;
  const nlohmann::json manifest = read_manifest();
  for (const auto& entry : manifest.at("models")) {
    const std::string file = entry.at("file").get<std::string>();
    const std::string dataset = entry.at("dataset").get<std::string>();
    if (!test_sets.count(dataset)) {
      auto test = load_idx_dataset(data_folder(dataset), "t10k");
      REQUIRE(test.ok());
      test_sets.emplace(dataset, std::move(test.value()));
    }
    const IdxDataset& test = test_sets.at(dataset);
    const LoadedWeights loaded = load_shipped(file);
    const Model& model = loaded.model;
    const float mean = model.card.normalize_mean, std = model.card.normalize_std;
    double largest = 0;
    std::uint32_t worst_image = 0;
    std::size_t worst_logit = 0;
    std::vector<float> input(784);
    for (std::uint32_t i = 0; i < 10; ++i) {
      const std::uint8_t* pixels = test.images.image(i);
      for (int p = 0; p < 784; ++p) input[std::size_t(p)] = (float(pixels[p]) / 255.f - mean) / std;
      auto core = forward(model, input.data(), input.size());
      auto plain = reference::forward(model, input.data(), input.size());
      REQUIRE(core.ok());
      REQUIRE(plain.ok());
      REQUIRE(core.value().logits.size() == plain.value().logits.size());
      for (std::size_t k = 0; k < plain.value().logits.size(); ++k) {
        const double expected = plain.value().logits[k];
        const double d = std::fabs(double(core.value().logits[k]) - expected) / std::max(1.0, std::fabs(expected));
        if (!(d <= largest)) {  // a NaN counts as the largest
          largest = std::isnan(d) ? INFINITY : d;
          worst_image = i;
          worst_logit = k;
        }
      }
    }
    INFO(file << ": largest scaled |logit diff| vs the double reference " << largest << " (test image "
              << worst_image << ", logit " << worst_logit << ")");
    CHECK(largest <= 1e-4);
    std::printf("%-22s largest scaled logit |diff| vs double reference over 10 test digits: %.3g\n", file.c_str(),
                largest);
  }
}

// The run records (weights/runs/, the training panel draws them): each "record" names a file that exists,
// parses, and describes the model it is listed for. A float32 file's record is its own training run: same
// weights bytes and recipe, and the test accuracy LibTorch measured equals the Eigen core's in the manifest
// to within one image (float rounding). A float16/int8 file points to its float32 source's record, so the
// bytes and accuracy compared are the source's (its own accuracy is checked against float32 above).
TEST_CASE("every manifest record exists, parses, and agrees with its model; every sweep parses") {
  const nlohmann::json manifest = read_manifest();
  std::map<std::string, nlohmann::json> float32_by_record;
  for (const auto& entry : manifest.at("models"))
    if (entry.value("dtype", "") == "float32" && entry.contains("record"))
      float32_by_record[entry.at("record").get<std::string>()] = entry;
  int records = 0;
  for (const auto& entry : manifest.at("models")) {
    const std::string name = entry.at("name").get<std::string>();
    INFO(name);
    REQUIRE(entry.contains("record"));  // every shipped model was trained by the zoo and has one
    const std::string record_file = entry.at("record").get<std::string>();
    INFO("record " << record_file);
    REQUIRE(float32_by_record.count(record_file) == 1);
    const nlohmann::json& source = float32_by_record.at(record_file);
    auto bytes = read_file(kWeightsDir + "/" + record_file, 16u << 20);
    REQUIRE(bytes.ok());
    const nlohmann::json record = nlohmann::json::parse(bytes.value().begin(), bytes.value().end(), nullptr, false);
    REQUIRE_FALSE(record.is_discarded());
    CHECK(record.at("format") == "digitlab-run-record-1");
    CHECK(record.at("recipe") == entry.at("recipe"));
    CHECK(record.at("weights").at("bytes").get<std::uint64_t>() == source.at("bytes").get<std::uint64_t>());
    const double recorded = record.at("test").at("accuracy").get<double>();
    const double listed = source.at("test_accuracy").get<double>();
    INFO("record (LibTorch) " << recorded * 100 << " %, manifest (Eigen core) " << listed * 100 << " %");
    CHECK(std::abs(recorded - listed) <= 1.5e-4);
    CHECK(record.at("epochs").size() == record.at("config").at("epochs").get<std::size_t>());
    CHECK(record.at("losses").size() > 0);
    CHECK(record.at("config").at("data_dir").get<std::string>().rfind('/', 0) != 0);  // no machine's absolute path
    ++records;
  }
  CHECK(records >= 4);

  REQUIRE(manifest.contains("sweeps"));
  for (const auto& sweep : manifest.at("sweeps")) {
    const std::string file = sweep.at("file").get<std::string>();
    INFO(file);
    auto bytes = read_file(kWeightsDir + "/" + file, 16u << 20);
    REQUIRE(bytes.ok());
    const nlohmann::json table = nlohmann::json::parse(bytes.value().begin(), bytes.value().end(), nullptr, false);
    REQUIRE_FALSE(table.is_discarded());
    CHECK(table.at("format") == "digitlab-sweep-1");
    CHECK(table.at("command") == sweep.at("command"));
    const auto& runs = table.at("runs");
    REQUIRE(runs.size() > 1);
    double best = 0;
    int best_run = 0;
    for (const auto& run : runs) {
      const double accuracy = run.at("test_accuracy").get<double>();
      CHECK(accuracy >= 0.0);
      CHECK(accuracy <= 1.0);
      if (accuracy > best) best = accuracy, best_run = run.at("run").get<int>();
    }
    CHECK(table.at("best_run").get<int>() == best_run);
  }
}

TEST_CASE("the shipped default reads synthetic pen drawings of every digit (>= 90 %)") {
  std::string default_file;
  const nlohmann::json manifest = read_manifest();
  for (const auto& entry : manifest.at("models"))
    if (entry.value("default", false)) default_file = entry.at("file").get<std::string>();
  REQUIRE(!default_file.empty());
  LoadedWeights loaded = load_shipped(default_file);
  REQUIRE(loaded.model.card.dataset == "mnist");

  const std::vector<DigitTemplate> templates = load_digit_templates();
  int correct = 0, total = 0;
  int per_digit_correct[10] = {}, per_digit_total[10] = {};
  std::string misread;
  for (const DigitTemplate& t : templates) {
    for (std::uint32_t variant = 0; variant < 12; ++variant) {
      Canvas canvas = blank_canvas(280, 280);
      Placement placement = random_placement(variant * 7919u + std::uint32_t(t.digit) * 101u + 3u, 280, 280);
      draw_strokes(canvas, place_strokes(t, placement), placement.pen_width);
      auto input = preprocess_canvas(canvas, loaded.model.card);
      REQUIRE(input.ok());
      auto prediction = forward(loaded.model, input.value().input.data(), input.value().input.size());
      REQUIRE(prediction.ok());
      bool right = prediction.value().label == t.digit;
      correct += right, total += 1;
      per_digit_correct[t.digit] += right, per_digit_total[t.digit] += 1;
      if (!right)
        misread += " " + std::to_string(t.digit) + "(" + t.style + ")->" + std::to_string(prediction.value().label);
    }
  }
  std::string per_digit;
  for (int d = 0; d < 10; ++d)
    per_digit += " " + std::to_string(d) + ":" + std::to_string(per_digit_correct[d]) + "/" + std::to_string(per_digit_total[d]);
  double accuracy = double(correct) / total;
  INFO(default_file << " read " << correct << "/" << total << " drawings; per digit" << per_digit << "; misread" << misread);
  CHECK(accuracy >= 0.90);
  WARN("synthetic drawings: " << correct << "/" << total << " (" << accuracy * 100 << " %) per digit" << per_digit);
}
