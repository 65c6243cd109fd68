// The train panel (wasm/teaching/panel_train.cpp) headless: Start fetches the chosen dataset's test subset,
// trains the tutorial's MLP on it a budget per frame, prints the tutorial's log lines, the loss falls, the
// held-out accuracy is measured after each epoch, and the run ends with per-class accuracy and a confusion
// matrix; Pause stops the work (the panel is no longer busy), Resume goes on, Reset forgets the run; a
// missing subset gives a sentence and Start tries again. Side by side: a comparison's runs share the frames
// and each has its curves, log and legend; each preset makes its runs; custom runs stop at four. The full training set: offered when the site's index lists it,
// downloaded on Start, held out on the whole shipped subset; a missing or corrupt one is a sentence.
// Read next: band_images.hpp, test_train_run.cpp (one run alone).
#include <catch2/catch.hpp>

#include <regex>
#include <string>

#include "app/app.hpp"
#include "app_harness.hpp"
#include "band_images.hpp"
#include "teaching/train_run.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

std::vector<std::uint8_t> band_images(std::vector<std::uint8_t>* labels) { return testing::band_images(1000, labels); }

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

// Feeds the chosen dataset's subset (1,000 band images) and draws frames until the panel runs.
void feed_subset(StartedApp& started, const std::string& dataset = "mnist") {
  std::vector<std::uint8_t> labels;
  const std::vector<std::uint8_t> images = band_images(&labels);
  started.app.asset_arrived(test_subset_images_path(dataset), ByteSpan(gzip_stored(images)));
  started.app.asset_arrived(test_subset_labels_path(dataset), ByteSpan(gzip_stored(labels)));
}

void answer_index(StartedApp& started, const std::string& text) {
  started.app.asset_arrived(kTrainingSetsIndexPath, ByteSpan(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
  started.imgui.frame(started.app);
}

// Opens a combo box the panel reports and picks its line `index`.
void pick(StartedApp& started, const std::string& setting, int index) {
  // On the box, left of its label (the reported rectangle includes the label).
  const json box = train_state(started.app)["setting_rects"][setting];
  started.imgui.click(started.app, box["x"].get<float>() + 20.f, box["y"].get<float>() + box["height"].get<float>() * 0.5f);
  started.imgui.frame(started.app);  // the popup's first frame places it; the next draws it there
  const json lines = train_state(started.app)["open_choices"];
  INFO(lines.dump());
  REQUIRE(int(lines.size()) > index);
  started.imgui.click_center(started.app, lines[std::size_t(index)]);
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
  // Before Start only the site's index of full training sets (a few bytes) is fetched.
  REQUIRE(started.services.asset_fetches.size() == 1);
  CHECK(started.services.asset_fetches[0] == kTrainingSetsIndexPath);
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

TEST_CASE("train panel: learning rates side by side share the frames, each with its curve, log and legend",
          "[app][ui][panels][train]") {
  StartedApp started({entry("main", true)}, "panels=train");
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  json t = train_state(app);
  REQUIRE(t["compare_rects"].size() == 6);
  imgui.click_center(app, t["compare_rects"][1]);  // learning rates
  t = train_state(app);
  CHECK(t["compare"] == "learning_rates");
  imgui.click_center(app, t["start_rect"]);
  feed_subset(started);
  for (int i = 0; i < 10 && train_state(app)["status"] != "running"; ++i) imgui.frame(app);
  t = train_state(app);
  REQUIRE(t["status"] == "running");
  REQUIRE(t["runs"].size() == 3);
  CHECK(t["runs"][0]["label"] == "lr 0.1");
  CHECK(t["runs"][1]["label"] == "lr 0.01");
  CHECK(t["runs"][2]["label"] == "lr 0.001");
  // Round-robin: a few frames in, every run has stepped, and none is more than a step or so ahead.
  for (int i = 0; i < 400 && train_state(app)["runs"][2]["global_step"] < 3; ++i) imgui.frame(app);
  t = train_state(app);
  std::int64_t least = 1 << 30, most = 0;
  for (const json& run : t["runs"]) {
    least = std::min<std::int64_t>(least, run["global_step"]);
    most = std::max<std::int64_t>(most, run["global_step"]);
  }
  CHECK(least >= 2);
  CHECK(most - least <= 2);

  for (int i = 0; i < 6000 && train_state(app)["status"] == "running"; ++i) imgui.frame(app);
  t = train_state(app);
  INFO(t.dump());
  REQUIRE(t["status"] == "done");
  started.services.now += 1.0;
  CHECK_FALSE(app.busy());
  for (const json& run : t["runs"]) {
    CHECK(run["status"] == "done");
    CHECK(run["global_step"] == 65);
    CHECK(run["accuracies"].size() == 5);
    CHECK(run["log_lines"] == 30);
    CHECK(run["has_model"] == true);
    CHECK(run["training_seconds"].get<double>() > 0.0);
  }
  // The same seed and data: the runs differ only by the rate, and so do their losses.
  CHECK(t["runs"][0]["epoch_losses"][0] != t["runs"][2]["epoch_losses"][0]);
  // The rate the tutorial uses learns the bands; 0.001 is still far behind after 5 epochs.
  CHECK(t["runs"][1]["epoch_losses"][4].get<double>() < t["runs"][2]["epoch_losses"][4].get<double>());
  // The first run is also reported at the top level, as a single run is.
  CHECK(t["learning_rate"].get<double>() == Approx(0.01));  // the first run's choice, which the preset varies
  CHECK(t["accuracies"] == t["runs"][0]["accuracies"]);
}

TEST_CASE("train panel: custom runs are added and removed, at most four", "[app][ui][panels][train]") {
  StartedApp started({entry("main", true)}, "panels=train");
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  imgui.click_center(app, train_state(app)["compare_rects"][5]);  // custom: the first run and a copy of it
  for (int i = 0; i < 4; ++i) {
    imgui.frame(app);  // a click that added a line moved what is below it: the next frame lays it out
    imgui.click_center(app, train_state(app)["add_run_rect"]);
  }
  imgui.frame(app);
  imgui.click_center(app, train_state(app)["start_rect"]);
  feed_subset(started);
  for (int i = 0; i < 10 && train_state(app)["status"] != "running"; ++i) imgui.frame(app);
  const json t = train_state(app);
  INFO(t.dump());
  REQUIRE(t["status"] == "running");
  CHECK(t["runs"].size() == 4);  // the "+" button stops at four
  imgui.click_center(app, t["reset_rect"]);
  CHECK(train_state(app)["runs"].empty());
}

TEST_CASE("train panel: the full training set is offered when the site has it, downloaded on Start, tested on "
          "every shipped test image", "[app][ui][panels][train]") {
  StartedApp started({entry("main", true)}, "panels=train");
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  CHECK(train_state(app)["train_size_choices"].size() == 4);  // the index has not answered yet
  answer_index(started, "mnist 6000\n");
  json t = train_state(app);
  CHECK(t["training_sets"] == json::array({"mnist"}));
  CHECK(t["train_size_choices"] == json::array({100, 200, 400, 800, 6000}));
  pick(started, "train_images", 4);
  imgui.click_center(app, train_state(app)["start_rect"]);
  REQUIRE(fetched(started.services, training_images_path("mnist")));
  REQUIRE(fetched(started.services, training_labels_path("mnist")));
  feed_subset(started);
  imgui.frame(app);  // parses the subset
  imgui.frame(app);
  t = train_state(app);
  CHECK(t["status"] == "loading");
  CHECK(t["downloading"] == true);  // the asset store cannot say how far: the panel says "Downloading ..."
  std::vector<std::uint8_t> labels;
  const std::vector<std::uint8_t> images = band_images(6000, &labels);
  app.asset_arrived(training_images_path("mnist"), ByteSpan(gzip_stored(images)));
  app.asset_arrived(training_labels_path("mnist"), ByteSpan(gzip_stored(labels)));
  for (int i = 0; i < 10 && train_state(app)["status"] == "loading"; ++i) imgui.frame(app);
  t = train_state(app);
  INFO(t.dump());
  REQUIRE(t["status"] == "running");
  CHECK(t["data_source"] == "training_set");
  CHECK(t["train_images"] == 6000);
  CHECK(t["held_out_images"] == 1000);
  CHECK(t["steps_per_epoch"] == 94);  // ceil(6000 / 64)
  for (int i = 0; i < 50; ++i) imgui.frame(app);
  CHECK(train_state(app)["global_step"] > 0);
  imgui.click_center(app, train_state(app)["reset_rect"]);
  CHECK(train_state(app)["status"] == "idle");
}

TEST_CASE("train panel: a missing or corrupt training set is a sentence; the subset still trains",
          "[app][ui][panels][train]") {
  StartedApp started({entry("main", true)}, "panels=train");
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  answer_index(started, "mnist 60000\n");
  CHECK(train_state(app)["train_size_choices"].size() == 6);
  pick(started, "train_images", 5);  // 60,000 (all)
  imgui.click_center(app, train_state(app)["start_rect"]);
  feed_subset(started);
  imgui.frame(app);
  app.asset_failed(training_images_path("mnist"), "HTTP 404 Not Found");
  imgui.frame(app);
  json t = train_state(app);
  CHECK(t["status"] == "failed");
  CHECK(t["problem"].get<std::string>().find("HTTP 404") != std::string::npos);
  CHECK(t["problem"].get<std::string>().find("800 images or fewer") != std::string::npos);
  started.services.now += 1.0;
  CHECK_FALSE(app.busy());

  // Start again: fetched again, and this time the bytes are not a training set.
  const std::size_t fetches = started.services.asset_fetches.size();
  imgui.click_center(app, t["start_rect"]);
  CHECK(started.services.asset_fetches.size() > fetches);
  const std::string html = "<html>Not found</html>";
  app.asset_arrived(training_images_path("mnist"), ByteSpan(reinterpret_cast<const std::uint8_t*>(html.data()), html.size()));
  app.asset_arrived(training_labels_path("mnist"), ByteSpan(reinterpret_cast<const std::uint8_t*>(html.data()), html.size()));
  for (int i = 0; i < 5 && train_state(app)["status"] == "loading"; ++i) imgui.frame(app);
  t = train_state(app);
  CHECK(t["status"] == "failed");
  CHECK(t["problem"].get<std::string>().find("damaged") != std::string::npos);
  CHECK(t["problem"].get<std::string>().find(training_images_path("mnist")) != std::string::npos);

  // 800 images: the shipped subset, which is already there.
  pick(started, "train_images", 3);
  imgui.click_center(app, train_state(app)["start_rect"]);
  for (int i = 0; i < 5 && train_state(app)["status"] == "loading"; ++i) imgui.frame(app);
  t = train_state(app);
  CHECK(t["status"] == "running");
  CHECK(t["data_source"] == "test_subset");
  CHECK(t["train_images"] == 800);
}

TEST_CASE("train panel: a site without training sets (its index answers 404) offers the shipped subset only", "[app][ui][panels][train]") {
  StartedApp started({entry("main", true)}, "panels=train");
  started.imgui.frame(started.app);
  started.app.asset_failed(kTrainingSetsIndexPath, "HTTP 404 Not Found");
  started.imgui.frame(started.app);
  const json t = train_state(started.app);
  CHECK(t["index_state"] == "failed");
  CHECK(t["training_sets"].empty());
  CHECK(t["train_size_choices"] == json::array({100, 200, 400, 800}));
  CHECK(t["problem"] == "");  // not an error: the panel says which data it trains on
}

TEST_CASE("train panel: a site built with DIGITLAB_WEB_TRAINING_SETS=OFF (an empty index) offers the subset only",
          "[app][ui][panels][train]") {
  StartedApp off({entry("main", true)}, "panels=train");
  off.imgui.frame(off.app);
  answer_index(off, "");
  const json o = train_state(off.app);
  CHECK(o["index_state"] == "ready");
  CHECK(o["training_sets"].empty());
  CHECK(o["train_size_choices"] == json::array({100, 200, 400, 800}));
}

TEST_CASE("train panel: each preset makes the runs of the tutorial's comparison, named by what differs",
          "[app][ui][panels][train]") {
  StartedApp started({entry("main", true)}, "panels=train");
  Headless& imgui = started.imgui;
  App& app = started.app;
  imgui.frame(app);
  const std::vector<std::pair<int, std::vector<std::string>>> presets = {
      {2, {"batch 16", "batch 64", "batch 256"}},
      {3, {"SGD, lr 0.01", "Adam, lr 0.001"}},
      {4, {"no scheduler", "StepLR"}},
  };
  bool fed = false;
  for (const auto& [button, labels] : presets) {
    imgui.click_center(app, train_state(app)["compare_rects"][std::size_t(button)]);
    imgui.frame(app);
    imgui.click_center(app, train_state(app)["start_rect"]);
    if (!fed) feed_subset(started), fed = true;
    for (int i = 0; i < 10 && train_state(app)["status"] != "running"; ++i) imgui.frame(app);
    const json t = train_state(app);
    INFO(t.dump());
    REQUIRE(t["status"] == "running");
    REQUIRE(t["runs"].size() == labels.size());
    for (std::size_t r = 0; r < labels.size(); ++r) CHECK(t["runs"][r]["label"] == labels[r]);
    imgui.click_center(app, t["pause_rect"]);
    imgui.click_center(app, train_state(app)["reset_rect"]);
    imgui.frame(app);
    REQUIRE(train_state(app)["status"] == "idle");
  }
}
