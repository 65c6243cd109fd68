// The confusion panel headless (wasm/teaching/panel_confusion.cpp): the matrix it reports against a hand count,
// a click on a cell selecting its images, class names from the model card, and one classification shared
// with the explorer when both are shown. Read next: test_panel_explorer.cpp, test_test_subset.cpp.
#include <catch2/catch.hpp>

#include "app_harness.hpp"
#include "teaching/test_subset.hpp"
#include "test_subset_fixture.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

struct Running {
  Headless imgui;
  FakeServices services;
  App app{services};
  Running(const std::string& query, const std::string& dataset) {
    ModelEntry e = entry("reader", true);
    e.dataset = dataset;
    app.catalog().add(e);
    app.set_ui_scale(1.f);
    app.start(query);
    app.weights_arrived(0, pixel_reader_weights(dataset));
    imgui.frame(app);
    app.asset_arrived(test_subset_images_path(dataset), subset_images_gz());
    app.asset_arrived(test_subset_labels_path(dataset), subset_labels_gz());
    imgui.frame(app);
    imgui.frame(app);
  }
  json panel(const char* name) { return state_of(app)["panel_state"][name]; }
  void click(float x, float y) { imgui.click(app, x, y); }
  // The centre of cell (true t, predicted p) from the matrix's rectangle.
  void click_cell(const json& state, int t, int p) {
    const json& rect = state["matrix_rect"];
    const float cell = state["cell_size"].get<float>();
    REQUIRE(cell > 10.f);
    click(rect["x"].get<float>() + cell * (float(p) + 0.5f), rect["y"].get<float>() + cell * (float(t) + 0.5f));
  }
};

}  // namespace

TEST_CASE("confusion: the matrix matches a hand count; a click on a cell shows its images", "[app][ui][confusion]") {
  Running run("?panels=confusion", "mnist");
  json panel = run.panel("confusion");
  INFO(panel.dump());
  CHECK(panel["evaluated"] == 12);
  CHECK(panel["total"] == 12);
  CHECK(panel["images_loaded"] == 12);
  CHECK(panel["accuracy"].get<double>() == Approx(10.0 / 12.0));
  CHECK(panel["misclassified"] == 2);
  CHECK(panel["class_names"] == json::array({"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}));
  const auto expected = expected_confusion();
  REQUIRE(panel["confusion"].size() == 10);
  for (int t = 0; t < 10; ++t)
    for (int p = 0; p < 10; ++p) {
      INFO("cell (" << t << ", " << p << ")");
      CHECK(panel["confusion"][t][p].get<int>() == expected[std::size_t(t)][std::size_t(p)]);
    }
  CHECK(panel["selected_cell"].is_null());
  CHECK(panel["cell_size"].get<double>() >= 30.0);  // alone in the window the cells are big enough for numbers

  // True 8, predicted 3: image 10.
  run.click_cell(panel, 8, 3);
  panel = run.panel("confusion");
  CHECK(panel["selected_cell"] == json::array({8, 3}));
  CHECK(panel["cell_images"] == 1);
  // The diagonal cell of 4s: one image. A second click on it clears the selection.
  run.click_cell(panel, 4, 4);
  CHECK(run.panel("confusion")["selected_cell"] == json::array({4, 4}));
  CHECK(run.panel("confusion")["cell_images"] == 1);
  run.click_cell(panel, 4, 4);
  CHECK(run.panel("confusion")["selected_cell"].is_null());
  // An empty cell selects, with no images.
  run.click_cell(panel, 0, 9);
  CHECK(run.panel("confusion")["selected_cell"] == json::array({0, 9}));
  CHECK(run.panel("confusion")["cell_images"] == 0);
}

TEST_CASE("confusion: Fashion-MNIST class names from the card; next to the explorer, one shared evaluation",
          "[app][ui][confusion]") {
  Running run("?panels=explorer,confusion", "fashion-mnist");
  json confusion = run.panel("confusion"), explorer = run.panel("explorer");
  INFO(confusion.dump());
  CHECK(confusion["dataset"] == "fashion-mnist");
  CHECK(confusion["class_names"][0] == "T-shirt/top");
  CHECK(confusion["class_names"][9] == "Ankle boot");
  CHECK(confusion["evaluated"] == 12);
  CHECK(explorer["evaluated"] == 12);
  // The same evaluation: the same time spent, not twice the work.
  CHECK(confusion["evaluation_seconds"] == explorer["evaluation_seconds"]);
  CHECK(run.services.asset_fetches.size() == 2);
  CHECK(confusion["confusion"][5][3] == 1);
  run.click_cell(confusion, 5, 3);
  CHECK(run.panel("confusion")["selected_cell"] == json::array({5, 3}));
  CHECK(run.panel("confusion")["cell_images"] == 1);
}

TEST_CASE("confusion: in the dark theme next to the drawing panel it still lays out and works",
          "[app][ui][confusion]") {
  Running run("?panels=draw,confusion&theme=dark", "mnist");
  json panel = run.panel("confusion");
  INFO(panel.dump());
  CHECK(panel["evaluated"] == 12);
  CHECK(panel["cell_size"].get<double>() >= 16.0);
  run.click_cell(panel, 5, 3);
  CHECK(run.panel("confusion")["selected_cell"] == json::array({5, 3}));
  CHECK(run.panel("confusion")["cell_images"] == 1);
}
