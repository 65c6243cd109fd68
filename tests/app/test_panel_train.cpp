// The train panel (wasm/teaching/panel_train.cpp) headless: Start fetches the chosen dataset's test subset,
// trains the tutorial's MLP on it a budget per frame, prints the tutorial's log lines, the loss falls, the
// held-out accuracy is measured after each epoch, and the run ends with per-class accuracy and a confusion
// matrix; Pause stops the work (the panel is no longer busy), Resume goes on, Reset forgets the run; a
// missing subset gives a sentence and Start tries again. Read next: test_subset_fixture.hpp.
#include <catch2/catch.hpp>

#include <regex>
#include <string>

#include "app/app.hpp"
#include "app_harness.hpp"
#include "test_subset_fixture.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

json train_state(const App& app) {
  json state = state_of(app);
  REQUIRE(state["panel_state"].contains("train"));
  return state["panel_state"]["train"];
}

bool fetched(const FakeServices& services, const std::string& path) {
  for (const std::string& p : services.asset_fetches)
    if (p == path) return true;
  return false;
}

}  // namespace

TEST_CASE("train panel: Start trains the MLP on the subset, logs, measures, pauses, resumes and resets",
          "[app][ui][panels][train]") {
  StartedApp started({entry("main", true)}, "panels=train");
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  json t = train_state(app);
  CHECK(t["status"] == "idle");
  CHECK(started.services.asset_fetches.empty());  // nothing fetched before Start
  started.services.now += 1.0;  // past the App's own settling time after a change: only the panel counts
  CHECK_FALSE(app.busy());

  imgui.click_center(app, t["start_rect"]);
  t = train_state(app);
  CHECK(t["status"] == "loading");
  const std::string images_path = test_subset_images_path("mnist"), labels_path = test_subset_labels_path("mnist");
  REQUIRE(fetched(started.services, images_path));
  REQUIRE(fetched(started.services, labels_path));
  std::vector<std::uint8_t> labels;
  const std::vector<std::uint8_t> images = band_images(&labels);
  app.asset_arrived(images_path, ByteSpan(gzip_stored(images)));
  app.asset_arrived(labels_path, ByteSpan(gzip_stored(labels)));
  imgui.frame(app);  // parses the subset
  CHECK(train_state(app)["status"] == "loading");
  imgui.frame(app);  // creates the Trainer (each in a frame of its own)
  t = train_state(app);
  CHECK(t["global_step"] == 0);
  CHECK(t["status"] == "running");
  CHECK(t["train_images"] == 800);
  CHECK(t["held_out_images"] == 200);
  CHECK(t["steps_per_epoch"] == 13);  // ceil(800 / 64)
  started.services.now += 1.0;
  CHECK(app.busy());

  // Pause part-way: no more steps, not busy; Resume carries on.
  for (int i = 0; i < 400 && train_state(app)["global_step"] < 5; ++i) imgui.frame(app);
  t = train_state(app);
  REQUIRE(t["global_step"] >= 5);
  imgui.click_center(app, t["pause_rect"]);
  t = train_state(app);
  CHECK(t["status"] == "paused");
  started.services.now += 1.0;  // past the App's own settling time after a change: only the panel counts
  CHECK_FALSE(app.busy());
  const std::int64_t paused_at = t["global_step"];
  for (int i = 0; i < 5; ++i) imgui.frame(app);
  CHECK(train_state(app)["global_step"] == paused_at);
  imgui.click_center(app, t["start_rect"]);  // Resume
  CHECK(train_state(app)["status"] == "running");

  for (int i = 0; i < 3000 && train_state(app)["status"] == "running"; ++i) imgui.frame(app);
  t = train_state(app);
  INFO(t.dump());
  REQUIRE(t["status"] == "done");
  started.services.now += 1.0;  // past the App's own settling time after a change: only the panel counts
  CHECK_FALSE(app.busy());
  CHECK(t["global_step"] == 65);
  CHECK(t["epoch_losses"].size() == 5);
  CHECK(t["accuracies"].size() == 5);
  // The tutorial's line, "Epoch [1/5], Step [3/13], Loss: 2.2843", every 3 steps here and at each epoch's end.
  const std::regex tutorial_line(R"(Epoch \[1/5\], Step \[3/13\], Loss: \d+\.\d{4})");
  CHECK(std::regex_match(t["first_log_line"].get<std::string>(), tutorial_line));
  CHECK(t["log_lines"] == 5 * (4 + 1 + 1));  // steps 3, 6, 9, 12, 13 and the held-out line, each epoch
  CHECK(t["epoch_losses"][4].get<double>() < 0.5 * t["epoch_losses"][0].get<double>());
  CHECK(t["accuracy"].get<double>() > 0.9);  // bands are easy
  REQUIRE(t["per_class_accuracy"].size() == 10);
  REQUIRE(t["confusion"].size() == 10);
  std::int64_t total = 0;
  for (const json& row : t["confusion"])
    for (const json& count : row) total += count.get<std::int64_t>();
  CHECK(total == 200);
  CHECK(t["images_per_second"].get<double>() > 0.0);

  imgui.click_center(app, t["reset_rect"]);
  t = train_state(app);
  CHECK(t["status"] == "idle");
  CHECK(t["log_lines"] == 0);
  CHECK(t["loss"].is_null());
  CHECK(t["accuracy"].is_null());
}

TEST_CASE("train panel: a missing test subset is a sentence, and Start fetches it again", "[app][ui][panels][train]") {
  StartedApp started({entry("main", true)}, "panels=train");
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  imgui.click_center(app, train_state(app)["start_rect"]);
  app.asset_failed(test_subset_images_path("mnist"), "HTTP 404");
  imgui.frame(app);
  json t = train_state(app);
  CHECK(t["status"] == "failed");
  CHECK(t["problem"].get<std::string>().find("HTTP 404") != std::string::npos);
  started.services.now += 1.0;  // past the App's own settling time after a change: only the panel counts
  CHECK_FALSE(app.busy());
  const std::size_t fetches = started.services.asset_fetches.size();
  imgui.click_center(app, t["start_rect"]);
  CHECK(started.services.asset_fetches.size() > fetches);
  CHECK(train_state(app)["status"] == "loading");
}
