// The explorer panel headless (wasm/teaching/panel_explorer.cpp): it fetches the subset, classifies it, labels and
// counts the images, the misclassified filter and a click on an image; a missing or corrupt subset is one
// sentence. The subset and model are test_subset_fixture.hpp's, whose answers are known by hand.
// Read next: test_panel_confusion.cpp.
#include <catch2/catch.hpp>

#include "app_harness.hpp"
#include "digitlab/train.hpp"  // evaluate: the expected counts
#include "teaching/test_subset.hpp"
#include "test_subset_fixture.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

ModelEntry dataset_entry(const std::string& name, const std::string& dataset, float accuracy, bool is_default = false) {
  ModelEntry e = entry(name, is_default);
  e.dataset = dataset;
  e.test_accuracy = accuracy;
  return e;
}


}  // namespace

TEST_CASE("explorer: classifies the subset, labels and counts it, filters the mistakes", "[app][ui][explorer]") {
  StartedApp started({dataset_entry("reader", "mnist", 0.9f, true)}, "?panels=explorer");
  Headless& imgui = started.imgui;
  FakeServices& services = started.services;
  App& app = started.app;
  app.weights_arrived(0, pixel_reader_weights());
  imgui.frame(app);
  json panel = state_of(app)["panel_state"]["explorer"];
  INFO(panel.dump());
  CHECK(panel["dataset"] == "mnist");
  CHECK(panel["images_loaded"] == 0);
  CHECK(panel["problem"].get<std::string>().find("Loading the mnist test subset") != std::string::npos);
  REQUIRE(services.asset_fetches ==
          std::vector<std::string>{test_subset_images_path("mnist"), test_subset_labels_path("mnist")});

  app.asset_arrived(test_subset_images_path("mnist"), subset_images_gz());
  app.asset_arrived(test_subset_labels_path("mnist"), subset_labels_gz());
  for (int i = 0; i < 20 && state_of(app)["panel_state"]["explorer"]["evaluated"] != 12; ++i) imgui.frame(app);
  imgui.frame(app);
  panel = state_of(app)["panel_state"]["explorer"];
  INFO(panel.dump());
  CHECK(panel["images_loaded"] == 12);
  CHECK(panel["evaluated"] == 12);
  CHECK(panel["total"] == 12);
  CHECK(panel["accuracy"].get<double>() == Approx(10.0 / 12.0));
  CHECK(panel["misclassified"] == 2);
  CHECK(panel["count_text"] == "2 of 12 misclassified");
  CHECK(panel["only_misclassified"] == false);
  CHECK(panel["shown"] == 12);
  CHECK(panel["on_page"] == 12);  // all fit on one page at 1100 x 720
  CHECK(panel["first_on_page"] == 0);
  CHECK(panel["problem"] == "");
  CHECK(services.asset_fetches.size() == 2);

  // The filter leaves the two mistakes, in test-set order: image 10 (an 8 read as 3) first.
  imgui.click_center(app, panel["filter_rect"]);
  panel = state_of(app)["panel_state"]["explorer"];
  CHECK(panel["only_misclassified"] == true);
  CHECK(panel["shown"] == 2);
  CHECK(panel["first_on_page"] == 10);

  // Clicking an image selects it (its probabilities are drawn beside the grid).
  imgui.click_center(app, panel["first_tile_rect"]);
  panel = state_of(app)["panel_state"]["explorer"];
  CHECK(panel["selected_image"] == 10);
  CHECK(panel["selected_label"] == 8);
  CHECK(panel["selected_predicted"] == 3);

  // Off again: all twelve.
  imgui.click_center(app, panel["filter_rect"]);
  CHECK(state_of(app)["panel_state"]["explorer"]["shown"] == 12);
}

TEST_CASE("explorer: a missing or corrupt subset is one sentence saying what to do", "[app][ui][explorer]") {
  StartedApp started({dataset_entry("reader", "mnist", 0.9f, true)}, "?panels=explorer");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, pixel_reader_weights());
  imgui.frame(app);

  SECTION("missing") {
    app.asset_failed(test_subset_images_path("mnist"), "HTTP 404 Not Found");
    imgui.frame(app);
    const json panel = state_of(app)["panel_state"]["explorer"];
    INFO(panel.dump());
    CHECK(panel["problem"].get<std::string>().find("The site has no test subset for mnist (") == 0);
    CHECK(panel["problem"].get<std::string>().find("make demo") != std::string::npos);
    CHECK(panel["evaluated"] == 0);
  }
  SECTION("corrupt") {
    std::vector<std::uint8_t> corrupt = subset_labels_gz();
    corrupt[10] = 0x07;  // a reserved block type
    app.asset_arrived(test_subset_images_path("mnist"), subset_images_gz());
    app.asset_arrived(test_subset_labels_path("mnist"), corrupt);
    imgui.frame(app);
    const json panel = state_of(app)["panel_state"]["explorer"];
    INFO(panel.dump());
    CHECK(panel["problem"].get<std::string>().find("The mnist test subset is damaged") == 0);
    CHECK(panel["problem"].get<std::string>().find("bad_gzip") != std::string::npos);
    CHECK(panel["images_loaded"] == 0);
  }
  // Either way the app goes on drawing frames.
  imgui.frame(app);
}

TEST_CASE("explorer: the dataset picker switches to that dataset's best model and its subset",
          "[app][ui][explorer]") {
  StartedApp started({dataset_entry("reader", "mnist", 0.9f, true), dataset_entry("fashion-worse", "fashion-mnist", 0.5f), dataset_entry("fashion-reader", "fashion-mnist", 0.8f)}, "?panels=explorer");
  Headless& imgui = started.imgui;
  FakeServices& services = started.services;
  App& app = started.app;
  app.weights_arrived(0, pixel_reader_weights());
  app.asset_arrived(test_subset_images_path("mnist"), subset_images_gz());
  app.asset_arrived(test_subset_labels_path("mnist"), subset_labels_gz());
  imgui.frame(app);
  imgui.frame(app);

  // Open the combo (the first widget of the panel's window), then pick its second line.
  const json rect = state_of(app)["panel_state"]["explorer"]["dataset_rect"];
  INFO(rect.dump());
  const float x = rect["x"].get<float>() + 20.f, y = rect["y"].get<float>() + rect["height"].get<float>() * 0.5f;
  imgui.click(app, x, y);
  const float line = ImGui::GetTextLineHeight() + ImGui::GetStyle().ItemSpacing.y;
  imgui.click(app, x, rect["y"].get<float>() + rect["height"].get<float>() + ImGui::GetStyle().WindowPadding.y +
                         line * 1.5f);
  REQUIRE(services.fetches.size() == 2);
  CHECK(services.fetches.back().first == 2);  // fashion-reader, the more accurate fashion model
  app.weights_arrived(2, pixel_reader_weights("fashion-mnist"));
  imgui.frame(app);
  json panel = state_of(app)["panel_state"]["explorer"];
  CHECK(panel["dataset"] == "fashion-mnist");
  CHECK(panel["model"] == "fashion-reader");
  CHECK(services.asset_fetches.back() == test_subset_labels_path("fashion-mnist"));
  app.asset_arrived(test_subset_images_path("fashion-mnist"), subset_images_gz());
  app.asset_arrived(test_subset_labels_path("fashion-mnist"), subset_labels_gz());
  imgui.frame(app);
  imgui.frame(app);
  panel = state_of(app)["panel_state"]["explorer"];
  INFO(panel.dump());
  CHECK(panel["evaluated"] == 12);
  CHECK(panel["misclassified"] == 2);
}

// A user file replaced by another of the same name, again and again (the catalog frees the old model each
// time, so a new one may land at a freed one's address): each is evaluated afresh, never served an older
// model's results.
TEST_CASE("explorer: each replacement of a user file is evaluated afresh", "[app][ui][explorer]") {
  StartedApp started({dataset_entry("reader", "mnist", 0.9f, true)}, "?panels=explorer");
  Headless& imgui = started.imgui;
  App& app = started.app;
  app.weights_arrived(0, pixel_reader_weights());
  app.asset_arrived(test_subset_images_path("mnist"), subset_images_gz());
  app.asset_arrived(test_subset_labels_path("mnist"), subset_labels_gz());
  const std::vector<std::uint8_t> images = idx_images(kLooksLike), labels = idx_labels(kLabels);
  const ImageSet subset{images.data() + 16, labels.data() + 8, kLabels.size(), 1, 28, 28};
  for (std::uint64_t seed : {1, 2, 3, 4, 5, 6}) {
    const std::vector<std::uint8_t> file = seed % 2 ? pixel_reader_weights() : tiny_weights(seed);
    REQUIRE(app.open_user_file("mine.dlw", file).ok());
    auto expected = evaluate(app.catalog().active().model, subset);
    REQUIRE(expected.ok());
    imgui.frame(app);
    for (int i = 0; i < 20 && state_of(app)["panel_state"]["explorer"]["evaluated"] != 12; ++i) imgui.frame(app);
    const json panel = state_of(app)["panel_state"]["explorer"];
    INFO("file " << seed << ": " << panel.dump());
    CHECK(panel["model"] == "mine.dlw");
    CHECK(panel["misclassified"] == 12 - expected.value().correct);
  }
}
