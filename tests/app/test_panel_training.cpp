// The training panel (wasm/teaching/panel_training.cpp) headless: the active model's record fetched and drawn
// (the shipped weights/runs files), switching models, the sentences for no record, a 404 and a corrupt
// file, and the sweep table sorted by a click on its header. Read next: test_training_record.cpp.
#include <catch2/catch.hpp>

#include <string>

#include "app/app.hpp"
#include "app_harness.hpp"
#include "digitlab/bytes.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

std::vector<std::uint8_t> shipped(const std::string& relative) {
  auto bytes = read_file(std::string(DIGITLAB_SOURCE_DIR) + "/weights/" + relative, 16u << 20);
  INFO(relative << ": " << (bytes ? std::string("ok") : bytes.error().to_string()));
  REQUIRE(bytes.ok());
  return bytes.value();
}

ByteSpan span_of(const std::string& text) { return ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()); }

ModelEntry with_record(const std::string& name, const std::string& record, bool is_default = false) {
  ModelEntry e = entry(name, is_default);
  e.record = record;
  return e;
}

bool fetched(const FakeServices& services, const std::string& path) {
  for (const std::string& p : services.asset_fetches)
    if (p == path) return true;
  return false;
}

json panel_state(const App& app) {
  json state = state_of(app);
  REQUIRE(state["panel_state"].contains("training"));
  return state["panel_state"]["training"];
}

const char* kSweep = R"({"format": "digitlab-sweep-1", "name": "tiny", "about": "three runs", "command": "digitlab sweep",
  "dataset": "mnist", "model": "mlp", "epochs": 1, "seed": 1, "threads": 1, "train_images": 60000, "test_images": 10000,
  "runs": [
    {"run": 1, "optimizer": "sgd", "learning_rate": 0.1, "batch_size": 64, "scheduler": "none", "epochs": 1,
     "test_accuracy": 0.90, "train_loss": 0.3, "seconds_per_epoch": 5.0},
    {"run": 2, "optimizer": "adam", "learning_rate": 0.001, "batch_size": 256, "scheduler": "none", "epochs": 1,
     "test_accuracy": 0.97, "train_loss": 0.1, "seconds_per_epoch": 3.0},
    {"run": 3, "optimizer": "adam", "learning_rate": 0.01, "batch_size": 64, "scheduler": "none", "epochs": 1,
     "test_accuracy": 0.93, "train_loss": 0.2, "seconds_per_epoch": 7.0}]})";

}  // namespace

TEST_CASE("training panel: the active model's record gives curves; switching model switches them",
          "[app][ui][panels][training]") {
  StartedApp started({with_record("cnn", "runs/mnist-cnn.json", true), with_record("mlp", "runs/mnist-mlp.json")}, "panels=training");
  Headless& imgui = started.imgui;
  FakeServices& services = started.services;
  App& app = started.app;
  imgui.frame(app);
  CHECK(panel_state(app)["record"] == "none");  // no model yet
  CHECK(panel_state(app)["message"].get<std::string>().find("No model is loaded yet") != std::string::npos);

  app.weights_arrived(0, tiny_weights(1));
  imgui.frame(app);
  REQUIRE(fetched(services, "weights/runs/mnist-cnn.json"));
  CHECK(panel_state(app)["record"] == "loading");
  app.asset_arrived("weights/runs/mnist-cnn.json", ByteSpan(shipped("runs/mnist-cnn.json")));
  for (int i = 0; i < 2; ++i) imgui.frame(app);
  json state = panel_state(app);
  INFO(state.dump());
  CHECK(state["record_loaded"] == true);
  CHECK(state["model"] == "cnn");
  CHECK(state["epochs"] == 8);
  CHECK(state["loss_points"] == 72);  // 938 steps per epoch, a point every 100: 9 per epoch
  CHECK(state["final_accuracy"].get<double>() == Approx(0.9952));
  CHECK(state["scheduler"] == "cosine");
  // Cosine: the rate falls every epoch.
  const json rates = state["learning_rates"];
  REQUIRE(rates.size() == 8);
  for (std::size_t i = 1; i < rates.size(); ++i) CHECK(rates[i].get<double>() < rates[i - 1].get<double>());

  std::string why;
  REQUIRE(app.select_model("mlp", &why));
  app.weights_arrived(1, tiny_weights(2));
  imgui.frame(app);
  REQUIRE(fetched(services, "weights/runs/mnist-mlp.json"));
  app.asset_arrived("weights/runs/mnist-mlp.json", ByteSpan(shipped("runs/mnist-mlp.json")));
  imgui.frame(app);
  state = panel_state(app);
  CHECK(state["model"] == "mlp");
  CHECK(state["epochs"] == 12);
  CHECK(state["loss_points"] == 108);
  CHECK(state["final_accuracy"].get<double>() == Approx(0.986));

  // Back to the first: read from the panel's cache, nothing fetched again.
  const std::size_t fetch_count = services.asset_fetches.size();
  REQUIRE(app.select_model("cnn", &why));
  imgui.frame(app);
  CHECK(panel_state(app)["epochs"] == 8);
  CHECK(services.asset_fetches.size() == fetch_count);
}

TEST_CASE("training panel: a clear sentence for a user file, a missing record, a 404 and a corrupt record",
          "[app][ui][panels][training]") {
  Headless imgui;
  FakeServices services;
  App app(services);
  app.catalog().add(with_record("listed", "", true));
  app.catalog().add(with_record("gone", "runs/gone.json"));
  app.catalog().add(with_record("broken", "runs/broken.json"));
  app.start("panels=training");
  app.weights_arrived(0, tiny_weights(1));
  imgui.frame(app);
  CHECK(panel_state(app)["record"] == "none");
  CHECK(panel_state(app)["message"].get<std::string>().find("lists no training record for listed") != std::string::npos);

  std::string why;
  REQUIRE(app.select_model("gone", &why));
  app.weights_arrived(1, tiny_weights(2));
  imgui.frame(app);
  app.asset_failed("weights/runs/gone.json", "HTTP 404 Not Found");
  imgui.frame(app);
  json state = panel_state(app);
  CHECK(state["record"] == "failed");
  CHECK(state["record_loaded"] == false);
  CHECK(state["epochs"] == 0);
  CHECK(state["message"].get<std::string>().find("Could not load the training record weights/runs/gone.json (HTTP 404") !=
        std::string::npos);

  REQUIRE(app.select_model("broken", &why));
  app.weights_arrived(2, tiny_weights(3));
  imgui.frame(app);
  app.asset_arrived("weights/runs/broken.json", span_of("<html>not found</html>"));
  imgui.frame(app);
  state = panel_state(app);
  CHECK(state["record"] == "failed");
  CHECK(state["message"].get<std::string>().find("is not a training record") != std::string::npos);

  REQUIRE(app.open_user_file("mine.dlw", ByteSpan(tiny_weights(4))).ok());
  imgui.frame(app);
  state = panel_state(app);
  CHECK(state["record"] == "none");
  CHECK(state["message"].get<std::string>().find("opened from a file") != std::string::npos);
  CHECK(state_of(app)["messages"].empty());
}

TEST_CASE("training panel: the sweep table, best run first, re-sorted by a click on a column header",
          "[app][ui][panels][training]") {
  Headless imgui;
  FakeServices services;
  App app(services);
  app.catalog().add(with_record("main", "", true));
  app.catalog().add_sweep({"tiny", "runs/sweep-tiny.json", "three runs"});
  app.start("panels=training");
  app.weights_arrived(0, tiny_weights(1));
  imgui.frame(app);
  REQUIRE(fetched(services, "weights/runs/sweep-tiny.json"));
  CHECK(panel_state(app)["sweep_rows"] == 0);
  app.asset_arrived("weights/runs/sweep-tiny.json", span_of(kSweep));
  for (int i = 0; i < 2; ++i) imgui.frame(app);
  json state = panel_state(app);
  INFO(state.dump());
  CHECK(state["sweeps"] == 1);
  CHECK(state["sweep"] == "tiny");
  CHECK(state["sweep_rows"] == 3);
  CHECK(state["sort_column"] == "test acc %");
  CHECK(state["sort_descending"] == true);
  CHECK(state["first_row_run"] == 2);
  CHECK(state["best_run"] == 2);
  REQUIRE(state["columns"].size() == 8);

  // Click "s/epoch" (ascending: run 2 at 3 s first), then again (descending: run 3 at 7 s first).
  const json rect = state["columns"][7]["rect"];
  CHECK(state["columns"][7]["name"] == "s/epoch");
  imgui.mouse = ImVec2(rect["x"].get<float>() + rect["width"].get<float>() * 0.5f,
                       rect["y"].get<float>() + rect["height"].get<float>() * 0.5f);
  auto click = [&] {
    imgui.frame(app);  // hover
    imgui.mouse_down = true;
    imgui.frame(app);
    imgui.mouse_down = false;
    imgui.frame(app);
  };
  click();
  state = panel_state(app);
  CHECK(state["sort_column"] == "s/epoch");
  CHECK(state["sort_descending"] == false);
  CHECK(state["first_row_run"] == 2);
  click();
  state = panel_state(app);
  CHECK(state["sort_descending"] == true);
  CHECK(state["first_row_run"] == 3);
}
