// The model catalog: loading is all-or-nothing, a rejected file leaves the model in use untouched and
// hands back the loader's error; user files join the list. Read next: wasm/common/model_catalog.hpp.
#include <catch2/catch.hpp>

#include "digitlab/architectures.hpp"
#include "common/model_catalog.hpp"

using namespace digitlab;
using namespace digitlab::app;

namespace {

// A small real weights file: Flatten + Linear 784-10 with seeded weights.
std::vector<std::uint8_t> tiny_weights(std::uint64_t seed) {
  Model model;
  model.card = make_mnist_card("tiny-linear");
  model.card.dataset = "mnist";
  model.layers = {make_simple_layer(LayerKind::flatten), make_linear_layer(784, 10)};
  randomize_parameters(model, seed);
  Result<std::vector<std::uint8_t>> bytes = write_weights(model);
  INFO((bytes ? std::string() : bytes.error().to_string()));
  REQUIRE(bytes);
  return bytes.value();
}

ModelEntry entry(const std::string& name, bool is_default = false) {
  ModelEntry e;
  e.name = name;
  e.file = name + ".dlw";
  e.is_default = is_default;
  return e;
}

}  // namespace

TEST_CASE("the default is the entry marked default, else the first", "[app][catalog]") {
  ModelCatalog catalog;
  CHECK(catalog.default_index() == -1);
  catalog.add(entry("a"));
  catalog.add(entry("b", true));
  CHECK(catalog.default_index() == 1);
  CHECK(catalog.find("a") == 0);
  CHECK(catalog.find("nope") == -1);
  ModelCatalog plain;
  plain.add(entry("x"));
  CHECK(plain.default_index() == 0);
}

TEST_CASE("a good file becomes the model; a bad one changes nothing and says why", "[app][catalog]") {
  ModelCatalog catalog;
  catalog.add(entry("a", true));
  catalog.add(entry("b"));
  const std::vector<std::uint8_t> good = tiny_weights(1);
  REQUIRE(catalog.load(0, good));
  REQUIRE(catalog.has_model());
  CHECK(catalog.active_index() == 0);
  // The file's card fills what the manifest row left empty.
  CHECK(catalog.entries()[0].architecture == "tiny-linear");
  CHECK(catalog.entries()[0].dtype == "float32");
  CHECK(catalog.entries()[0].bytes == good.size());
  const Model* before = &catalog.active().model;

  std::vector<std::uint8_t> junk(good.size(), 0x5a);
  Status rejected = catalog.load(1, junk);
  REQUIRE_FALSE(rejected);
  INFO(rejected.error().to_string());
  CHECK(rejected.error().code == ErrorCode::bad_magic);
  CHECK(rejected.error().to_string().rfind("bad_magic at byte 0", 0) == 0);
  CHECK(catalog.active_index() == 0);
  CHECK(&catalog.active().model == before);
  CHECK_FALSE(catalog.is_loaded(1));

  std::vector<std::uint8_t> truncated(good.begin(), good.begin() + std::ptrdiff_t(good.size() / 2));
  Status cut = catalog.load(1, truncated);
  REQUIRE_FALSE(cut);
  CHECK(cut.error().code == ErrorCode::truncated);
  CHECK(catalog.active_index() == 0);

  CHECK(catalog.load(7, good).error().code == ErrorCode::bad_argument);
  CHECK(catalog.load(-1, good).error().code == ErrorCode::bad_argument);
}

TEST_CASE("files above the app's limit are refused before reading them", "[app][catalog]") {
  ModelCatalog catalog;
  catalog.add(entry("a"));
  const std::uint8_t byte = 0;
  Status status = catalog.load(0, ByteSpan(&byte, kMaxWeightsBytes + 1));  // never read: refused by size
  REQUIRE_FALSE(status);
  CHECK(status.error().code == ErrorCode::over_budget);
  CHECK(status.error().message.find("64.0 MB") != std::string::npos);
}

TEST_CASE("loaded models stay cached and switch back without their bytes", "[app][catalog]") {
  ModelCatalog catalog;
  catalog.add(entry("a"));
  catalog.add(entry("b"));
  catalog.add(entry("c"));
  REQUIRE(catalog.load(0, tiny_weights(1)));
  REQUIRE(catalog.load(1, tiny_weights(2)));
  CHECK(catalog.active_index() == 1);
  CHECK(catalog.activate(0));
  CHECK(catalog.active_index() == 0);
  CHECK_FALSE(catalog.activate(2));  // never loaded
  CHECK_FALSE(catalog.activate(9));
  CHECK(catalog.active_index() == 0);
}

TEST_CASE("user files join the list, replace their namesake, and a bad one leaves no trace", "[app][catalog]") {
  ModelCatalog catalog;
  catalog.add(entry("shipped", true));
  REQUIRE(catalog.load(0, tiny_weights(1)));
  int index = -1;
  REQUIRE(catalog.load_user_file("mine.dlw", tiny_weights(3), &index));
  CHECK(index == 1);
  CHECK(catalog.entries().size() == 2);
  CHECK(catalog.entries()[1].user_file);
  CHECK(catalog.active_index() == 1);
  CHECK(catalog.default_index() == 0);  // a user file is never the default

  const std::uint64_t first_serial = catalog.load_serial(1);
  CHECK(first_serial > catalog.load_serial(0));
  REQUIRE(catalog.load_user_file("mine.dlw", tiny_weights(4), &index));
  CHECK(index == 1);
  CHECK(catalog.entries().size() == 2);
  CHECK(catalog.load_serial(1) > first_serial);  // a new model there: caches of results start afresh

  const std::uint64_t serial = catalog.load_serial(1);
  Status bad = catalog.load_user_file("broken.dlw", std::vector<std::uint8_t>{1, 2, 3});
  REQUIRE_FALSE(bad);
  CHECK(catalog.entries().size() == 2);
  CHECK(catalog.active_index() == 1);
  CHECK(catalog.find("broken.dlw") == -1);
  CHECK(catalog.load_serial(1) == serial);
  CHECK(catalog.load_serial(2) == 0);  // no such entry

  // A trained model comes in as its weights file, with a label for the list.
  REQUIRE(catalog.load_user_file("your-model", tiny_weights(5), &index, "your model: tiny"));
  CHECK(index == 2);
  CHECK(catalog.entries()[2].label == "your model: tiny");
  CHECK(catalog.entries()[2].user_file);
}

TEST_CASE("sizes and accuracies read well", "[app][catalog]") {
  CHECK(format_bytes(512) == "512 bytes");
  CHECK(format_bytes(2048) == "2 KB");
  CHECK(format_bytes(3828712) == "3.7 MB");
  CHECK(format_accuracy(0.9894f) == "98.94 %");
  CHECK(format_accuracy(-1.f) == "unknown");
  CHECK(format_accuracy(std::nanf("")) == "unknown");
}
