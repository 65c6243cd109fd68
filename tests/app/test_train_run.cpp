// TrainRun (wasm/teaching/train_run.hpp) without ImGui, natively and as WebAssembly: a run trains to the end
// a piece at a time, logs the tutorial's lines, measures the held-out accuracy after each epoch and hands over
// its model only when done; a piece that would pass the frame's budget waits (the first of a frame never
// does); a refused Trainer is a sentence; the legends name what differs; the training-set index and idx
// files parse, and a corrupt download names its file. Read next: band_images.hpp, test_panel_train.cpp.
#include <catch2/catch.hpp>

#include <regex>

#include "band_images.hpp"
#include "teaching/train_run.hpp"

using namespace digitlab;
using namespace digitlab::app;
using namespace digitlab::app::testing;

namespace {

std::shared_ptr<LabelledImages> band_set(std::uint32_t count) {
  std::vector<std::uint8_t> labels;
  const std::vector<std::uint8_t> images = band_images(count, &labels);
  auto parsed = parse_labelled_images("mnist", ByteSpan(gzip_stored(images)), "images.gz", ByteSpan(labels), "labels");
  REQUIRE(parsed.ok());
  return std::make_shared<LabelledImages>(std::move(parsed.value()));
}

// Runs pieces, one "frame" of budget_seconds at a time, until the run stops; returns the frames used.
int run_to_end(TrainRun& run, double budget_seconds) {
  int frames = 0;
  while (run.running() && frames < 100000) {
    const TrainRun::Clock::time_point start = TrainRun::Clock::now();
    run.frame_started(start);
    int pieces = 0;
    while (run.run_piece(start, budget_seconds, pieces)) ++pieces;
    ++frames;
  }
  return frames;
}

}  // namespace

TEST_CASE("TrainRun trains to the end in pieces, logs, evaluates each epoch and then hands over its model",
          "[app][train]") {
  const auto data = band_set(300);
  const ImageSet all = data->view();
  RunSettings settings;
  settings.epochs = 3;
  settings.batch_size = 32;
  settings.train_images = 200;
  TrainRun run;
  REQUIRE(run.begin(settings, data, all.slice(0, 200), all.slice(200, 100)));
  CHECK(run.running());
  CHECK(run.steps_per_epoch() == 7);  // ceil(200 / 32)
  CHECK(run.total_steps() == 21);
  CHECK(run.model() == nullptr);
  const int frames = run_to_end(run, 0.012);
  INFO(run.problem());
  REQUIRE(run.status() == TrainRun::Status::done);
  CHECK(frames > 1);
  CHECK(run.global_step() == 21);
  REQUIRE(run.epoch_losses().size() == 3);
  REQUIRE(run.accuracies().size() == 3);
  CHECK(run.epoch_losses()[2] < run.epoch_losses()[0]);
  CHECK(run.losses().size() == 21);
  CHECK(run.final_evaluation().count == 100);
  CHECK(run.per_class_accuracy().size() == 10);
  // Every 2 steps (about five times an epoch of 7), the epoch's last step, and the held-out line.
  CHECK(run.log().size() == 3 * (3 + 1 + 1));
  CHECK(std::regex_match(run.log().front(), std::regex(R"(Epoch \[1/3\], Step \[2/7\], Loss: \d+\.\d{4})")));
  CHECK(run.log().back().find("accuracy on the 100 held-out images") != std::string::npos);
  CHECK(run.snapshot_seconds().size() == 1);  // one model copy: the trained model, once done (none per epoch)
  CHECK(run.training_seconds() > 0.0);
  // The finished model is the trained one: evaluated again it gives the run's final accuracy.
  const Model* model = run.model();
  REQUIRE(model != nullptr);
  CHECK(model->card.dataset == "mnist");
  auto again = evaluate(*model, all.slice(200, 100));
  REQUIRE(again.ok());
  CHECK(again.value().correct == run.final_evaluation().correct);
  CHECK_FALSE(run.run_piece(TrainRun::Clock::now(), 1.0, 0));  // nothing left to do
}

TEST_CASE("TrainRun keeps to the frame's budget: a piece that would not fit waits, the first always runs",
          "[app][train]") {
  const auto data = band_set(120);
  const ImageSet all = data->view();
  RunSettings settings;
  settings.epochs = 1;
  TrainRun run;
  REQUIRE(run.begin(settings, data, all.slice(0, 100), all.slice(100, 20)));
  const auto start = TrainRun::Clock::now();
  CHECK(run.run_piece(start, 0.0, 0));        // a frame's first piece runs whatever the budget
  CHECK_FALSE(run.run_piece(start, 0.0, 1));  // the next would pass a budget of 0
  CHECK(run.run_piece(start, 10.0, 1));       // and fits in a generous one
}

TEST_CASE("TrainRun: a Trainer that refuses is a sentence, not a crash", "[app][train]") {
  const auto data = band_set(300);
  RunSettings settings;
  settings.epochs = 0;  // the Trainer refuses: no epochs
  TrainRun run;
  CHECK_FALSE(run.begin(settings, data, data->view(), data->view()));
  CHECK(run.status() == TrainRun::Status::failed);
  CHECK_FALSE(run.problem().empty());
  CHECK_FALSE(run.run_piece(TrainRun::Clock::now(), 1.0, 0));
  settings.architecture = "no-such-model";
  CHECK_FALSE(run.begin(settings, data, data->view(), data->view()));
  CHECK_FALSE(run.problem().empty());
}

TEST_CASE("describe_difference names what differs between the compared runs", "[app][train]") {
  RunSettings a, b, c;
  b.learning_rate = 0.1;
  c.learning_rate = 0.001;
  CHECK(describe_difference(b, {a, b, c}) == "lr 0.1");
  CHECK(describe_difference(c, {a, b, c}) == "lr 0.001");
  RunSettings adam = a;
  adam.optimizer = OptimizerKind::adam;
  adam.learning_rate = 0.001;
  CHECK(describe_difference(adam, {a, adam}) == "Adam, lr 0.001");
  CHECK(describe_difference(a, {a, adam}) == "SGD, lr 0.01");
  RunSettings step = a;
  step.scheduler = Schedule::Kind::step;
  CHECK(describe_difference(step, {a, step}) == "StepLR");
  CHECK(describe_difference(a, {a, step}) == "no scheduler");
  RunSettings small = a;
  small.batch_size = 16;
  CHECK(describe_difference(small, {a, small}) == "batch 16");
  // Alone, or identical to the others: the whole recipe.
  CHECK(describe_difference(a, {a}) == "mlp, SGD, lr 0.01, batch 64, no scheduler, 5 epochs");
  CHECK(describe_difference(a, {a, a}) == describe_difference(a, {a}));
}

TEST_CASE("the training-set index and the idx files: what parses, and a corrupt download named", "[app][train]") {
  const std::string index = "mnist 60000\nfashion-mnist 60000\nbroken line\n\n";
  const auto sets = parse_training_sets_index(std::vector<std::uint8_t>(index.begin(), index.end()));
  REQUIRE(sets.size() == 2);
  CHECK(sets[0].dataset == "mnist");
  CHECK(sets[1].images == 60000);
  CHECK(parse_training_sets_index({}).empty());
  CHECK(training_images_path("mnist") == "data/mnist/train-images-idx3-ubyte.gz");
  CHECK(training_labels_path("fashion-mnist") == "data/fashion-mnist/train-labels-idx1-ubyte.gz");

  std::vector<std::uint8_t> labels;
  std::vector<std::uint8_t> gz = gzip_stored(band_images(20, &labels));
  gz.resize(gz.size() / 2);  // a download cut short
  auto cut = parse_labelled_images("mnist", ByteSpan(gz), training_images_path("mnist"), ByteSpan(labels), "labels");
  REQUIRE_FALSE(cut.ok());
  CHECK(cut.error().to_string().find("data/mnist/train-images-idx3-ubyte.gz") != std::string::npos);
  const std::vector<std::uint8_t> html = {'<', 'h', 't', 'm', 'l', '>'};
  CHECK_FALSE(parse_labelled_images("mnist", ByteSpan(html), "images", ByteSpan(labels), "labels").ok());
  std::vector<std::uint8_t> other_labels;
  const std::vector<std::uint8_t> images = band_images(20, &other_labels);
  band_images(19, &labels);
  auto mismatch = parse_labelled_images("mnist", ByteSpan(images), "images", ByteSpan(labels), "labels");
  REQUIRE_FALSE(mismatch.ok());
  CHECK(mismatch.error().code == ErrorCode::count_mismatch);
}
