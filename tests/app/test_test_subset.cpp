// The test subsets and their evaluation (wasm/teaching/test_subset.hpp) without ImGui: parsing the two gz idx
// assets, missing and corrupt files, the confusion matrix against a hand count, the time budget, the
// per-model cache and one classification shared by two panels. Read next: test_panel_confusion.cpp.
#include <catch2/catch.hpp>

#include <cmath>

#include "teaching/test_subset.hpp"
#include "test_subset_fixture.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

ModelEntry model_entry(const std::string& name, const std::string& dataset, float accuracy = -1.f) {
  ModelEntry entry;
  entry.name = name;
  entry.file = name + ".dlw";
  entry.dataset = dataset;
  entry.test_accuracy = accuracy;
  return entry;
}

// An asset store whose fetches are recorded and answered by the test.
struct Site {
  std::vector<std::string> fetched;
  AssetStore assets{[this](const std::string& path) { fetched.push_back(path); }};
  void serve_subset(const std::string& dataset) {
    assets.arrived(test_subset_images_path(dataset), subset_images_gz());
    assets.arrived(test_subset_labels_path(dataset), subset_labels_gz());
  }
};

}  // namespace

TEST_CASE("a gzipped idx subset parses; corrupt or mismatched files say which file and why", "[app][subset]") {
  Result<TestSubset> subset = parse_test_subset("mnist", subset_images_gz(), subset_labels_gz());
  REQUIRE(subset.ok());
  CHECK(subset.value().size() == 12);
  CHECK(subset.value().images.rows == 28);
  CHECK(subset.value().labels.labels[10] == 8);
  CHECK(subset.value().images.image(10)[3] == 255);

  std::vector<std::uint8_t> corrupt = subset_images_gz();
  corrupt[10] = 0x07;  // the first block's type becomes 11 (reserved)
  Result<TestSubset> bad = parse_test_subset("mnist", corrupt, subset_labels_gz());
  REQUIRE_FALSE(bad.ok());
  INFO(bad.error().to_string());
  CHECK(bad.error().code == ErrorCode::bad_gzip);
  CHECK(bad.error().message.find("data/mnist/test-subset-images-idx3-ubyte.gz") != std::string::npos);

  Result<TestSubset> fewer = parse_test_subset("mnist", subset_images_gz(), gzip_stored(idx_labels({1, 2, 3})));
  REQUIRE_FALSE(fewer.ok());
  CHECK(fewer.error().code == ErrorCode::count_mismatch);
  CHECK(fewer.error().message.find("12 images") != std::string::npos);

  CHECK(no_subset_message("fashion-mnist") ==
        "The site has no test subset for fashion-mnist: rebuild it with the wasm preset (make demo).");
}

TEST_CASE("idx pixels are normalised as the model card says", "[app][subset]") {
  ModelCard card = make_mnist_card("x");
  card.normalize_mean = 0.1307f;
  card.normalize_std = 0.3081f;
  const std::uint8_t pixels[3] = {0, 128, 255};
  float input[3];
  normalize_idx_image(pixels, 3, card, input);
  for (int i = 0; i < 3; ++i) {
    const float expected = (float(pixels[i]) / 255.f - 0.1307f) / 0.3081f;
    INFO("pixel " << i << ": " << input[i] << " vs " << expected);
    CHECK(input[i] == expected);
  }
}

TEST_CASE("the confusion matrix and accuracy match a hand count", "[app][subset]") {
  Site site;
  ModelCatalog catalog;
  catalog.add(model_entry("reader", "mnist"));
  REQUIRE(catalog.load(0, pixel_reader_weights()).ok());
  SubsetEvaluator evaluator;

  SubsetView view = evaluator.update(catalog, site.assets, 1);
  CHECK(view.loading);
  CHECK(view.evaluation == nullptr);
  CHECK(view.problem.find("Loading the mnist test subset") != std::string::npos);
  CHECK(site.fetched == std::vector<std::string>{test_subset_images_path("mnist"), test_subset_labels_path("mnist")});

  site.serve_subset("mnist");
  view = evaluator.finish(catalog, site.assets);
  REQUIRE(view.evaluation != nullptr);
  INFO(view.problem);
  const SubsetEvaluation& e = *view.evaluation;
  CHECK(e.complete());
  CHECK(e.done == 12);
  CHECK(e.correct == 10);
  CHECK(e.misclassified() == 2);
  CHECK(e.accuracy() == Approx(10.0 / 12.0));
  const auto expected = expected_confusion();
  int differences = 0;
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p)
      if (int(e.count(t, p)) != expected[std::size_t(t)][std::size_t(p)]) {
        ++differences;
        UNSCOPED_INFO("cell (" << t << ", " << p << "): " << e.count(t, p) << ", expected "
                               << expected[std::size_t(t)][std::size_t(p)]);
      }
  CHECK(differences == 0);
  // Row-normalised: true 8 was read as 8 once and as 3 once; an empty row stays 0.
  CHECK(e.normalized(8, 8) == Approx(0.5));
  CHECK(e.normalized(8, 3) == Approx(0.5));
  CHECK(e.normalized(3, 3) == Approx(1.0));
  for (int t = 0; t < 10; ++t) {
    float row = 0.f;
    for (int p = 0; p < 10; ++p) row += e.normalized(t, p);
    CHECK(row == Approx(1.0));
  }
  CHECK(e.predicted[10] == 3);
  // Softmax of logits (+1, -1 x 9): the top probability is e / (e + 9/e).
  const double top = std::exp(1.0) / (std::exp(1.0) + 9.0 * std::exp(-1.0));
  CHECK(e.confidence(10) == Approx(top).epsilon(1e-5));
  CHECK(site.fetched.size() == 2);  // nothing fetched twice
}

TEST_CASE("a step classifies what fits its budget; two panels in one frame classify once", "[app][subset]") {
  Site site;
  ModelCatalog catalog;
  catalog.add(model_entry("reader", "mnist"));
  REQUIRE(catalog.load(0, pixel_reader_weights()).ok());
  site.serve_subset("mnist");
  SubsetEvaluator evaluator;
  // A zero budget still makes progress: one image per frame.
  SubsetView view = evaluator.update(catalog, site.assets, 1, 0.0);
  REQUIRE(view.evaluation != nullptr);
  CHECK(view.evaluation->done == 1);
  view = evaluator.update(catalog, site.assets, 1, 0.0);  // the other panel, same frame
  CHECK(view.evaluation->done == 1);
  view = evaluator.update(catalog, site.assets, 2, 0.0);
  CHECK(view.evaluation->done == 2);
  CHECK_FALSE(view.evaluation->finished());
  view = evaluator.update(catalog, site.assets, 3, 10.0);  // a generous budget finishes the 12
  CHECK(view.evaluation->complete());
  CHECK(view.evaluation->seconds >= 0.0);
}

TEST_CASE("results are cached per model: switching back is instant, a new dataset loads its subset",
          "[app][subset]") {
  Site site;
  ModelCatalog catalog;
  catalog.add(model_entry("reader", "mnist", 0.9f));
  catalog.add(model_entry("reader-2", "mnist", 0.8f));
  catalog.add(model_entry("fashion-reader", "fashion-mnist", 0.7f));
  REQUIRE(catalog.load(0, pixel_reader_weights()).ok());
  site.serve_subset("mnist");
  SubsetEvaluator evaluator;
  const SubsetEvaluation* first = evaluator.finish(catalog, site.assets).evaluation;
  REQUIRE(first != nullptr);

  REQUIRE(catalog.load(1, pixel_reader_weights()).ok());
  SubsetView view = evaluator.update(catalog, site.assets, 10, 0.0);
  REQUIRE(view.evaluation != nullptr);
  CHECK(view.evaluation != first);
  CHECK(view.evaluation->done == 1);  // a fresh evaluation for the other model

  REQUIRE(catalog.activate(0));
  view = evaluator.update(catalog, site.assets, 11, 0.0);
  CHECK(view.evaluation == first);  // the same results, already complete
  CHECK(view.evaluation->complete());
  CHECK(evaluator.cached_evaluations() == 2);

  REQUIRE(catalog.load(2, pixel_reader_weights("fashion-mnist")).ok());
  view = evaluator.update(catalog, site.assets, 12);
  CHECK(view.dataset == "fashion-mnist");
  CHECK(view.loading);
  CHECK(site.fetched.back() == test_subset_labels_path("fashion-mnist"));
  site.serve_subset("fashion-mnist");
  view = evaluator.finish(catalog, site.assets);
  REQUIRE(view.evaluation != nullptr);
  CHECK(view.evaluation->complete());
  CHECK(view.card->class_names[3] == "Dress");
  CHECK(site.fetched.size() == 2);  // the mnist files were served before anyone asked
}

TEST_CASE("a missing or corrupt subset becomes one sentence; retry fetches again", "[app][subset]") {
  Site site;
  ModelCatalog catalog;
  catalog.add(model_entry("reader", "mnist"));
  REQUIRE(catalog.load(0, pixel_reader_weights()).ok());
  SubsetEvaluator evaluator;
  (void)evaluator.update(catalog, site.assets, 1);
  site.assets.failed(test_subset_images_path("mnist"), "HTTP 404 Not Found");
  SubsetView view = evaluator.update(catalog, site.assets, 2);
  CHECK_FALSE(view.loading);
  CHECK(view.evaluation == nullptr);
  INFO(view.problem);
  CHECK(view.problem.find("The site has no test subset for mnist") == 0);
  CHECK(view.problem.find("HTTP 404") != std::string::npos);
  CHECK(view.problem.find("make demo") != std::string::npos);

  evaluator.retry(site.assets, "mnist");
  view = evaluator.update(catalog, site.assets, 3);
  CHECK(view.loading);
  CHECK(site.fetched.size() == 3);  // the images again (the labels are still there)
  std::vector<std::uint8_t> corrupt = subset_images_gz();
  corrupt[corrupt.size() - 8] ^= 0xff;  // the CRC-32 no longer matches
  site.assets.arrived(test_subset_images_path("mnist"), corrupt);
  site.assets.arrived(test_subset_labels_path("mnist"), subset_labels_gz());
  view = evaluator.update(catalog, site.assets, 4);
  INFO(view.problem);
  CHECK(view.problem.find("The mnist test subset is damaged") == 0);
  CHECK(view.problem.find("checksum_mismatch") != std::string::npos);
  CHECK(view.evaluation == nullptr);
}

TEST_CASE("a model of another dataset or shape is named, not classified", "[app][subset]") {
  Site site;
  ModelCatalog catalog;
  catalog.add(model_entry("letters", "emnist"));
  REQUIRE(catalog.load(0, pixel_reader_weights("emnist")).ok());
  SubsetEvaluator evaluator;
  SubsetView view = evaluator.update(catalog, site.assets, 1);
  CHECK(view.problem.find("trained on 'emnist'") != std::string::npos);
  CHECK(site.fetched.empty());

  ModelCatalog empty;
  view = evaluator.update(empty, site.assets, 2);
  CHECK(view.loading);
  CHECK(view.evaluation == nullptr);
}

TEST_CASE("the dataset picker's model: the most accurate shipped one", "[app][subset]") {
  ModelCatalog catalog;
  catalog.add(model_entry("mnist-mlp", "mnist", 0.986f));
  catalog.add(model_entry("mnist-cnn", "mnist", 0.9956f));
  catalog.add(model_entry("mnist-cnn-f16", "mnist", 0.9956f));
  catalog.add(model_entry("fashion-mlp", "fashion-mnist", 0.90f));
  catalog.add(model_entry("fashion-cnn", "fashion-mnist", 0.92f));
  CHECK(best_model_for_dataset(catalog, "mnist") == 1);
  CHECK(best_model_for_dataset(catalog, "fashion-mnist") == 4);
  CHECK(best_model_for_dataset(catalog, "emnist") == -1);
  CHECK(with_thousands(0) == "0");
  CHECK(with_thousands(999) == "999");
  CHECK(with_thousands(1000) == "1,000");
  CHECK(with_thousands(1234567) == "1,234,567");
}

TEST_CASE("panels of one app share an evaluator; another app gets its own", "[app][subset]") {
  Site one, two;
  std::shared_ptr<SubsetEvaluator> a = shared_subset_evaluator(one.assets);
  std::shared_ptr<SubsetEvaluator> b = shared_subset_evaluator(one.assets);
  std::shared_ptr<SubsetEvaluator> c = shared_subset_evaluator(two.assets);
  CHECK(a == b);
  CHECK(a != c);
}
