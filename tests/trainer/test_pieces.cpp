// The trainer's small parts: option validation messages, learning-rate schedules, the normalisation table,
// shift augmentation, atomic writes, tables and the DOT graph. Read next: tests/trainer/test_training.cpp.
#include <sys/stat.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "atomic_file.hpp"
#include "commands.hpp"
#include "console.hpp"
#include "dataset.hpp"
#include "digitlab/architectures.hpp"
#include "network.hpp"
#include "options.hpp"

// LibTorch brings glog, whose CHECK() aborts the process; Catch's CHECK() records and carries on.
#undef CHECK
#include <catch2/catch.hpp>

using namespace digitlab;
using namespace digitlab::trainer;

TEST_CASE("the defaults are the tutorial's recipe", "[options]") {
  TrainOptions options;
  CHECK(options.epochs == 5);
  CHECK(options.batch_size == 64);
  CHECK(options.learning_rate == 0.01);
  CHECK(options.momentum == 0.9);
  CHECK(options.optimizer == "sgd");
  CHECK(options.scheduler == "none");
  options.resolve_defaults();
  CHECK(options.validate().ok());
  CHECK(options.recipe() ==
        "sgd lr=0.01 momentum=0.9 batch=64 epochs=5 scheduler=none augment=none loss=cross_entropy seed=1");
  CHECK(options.output == "build/weights/mnist-mlp.dlw");
  CHECK(options.checkpoint == "build/weights/mnist-mlp.dlw.ckpt");
}

TEST_CASE("bad options are refused with a message naming the option and the allowed values", "[options]") {
  struct Case {
    std::function<void(TrainOptions&)> change;
    std::string field, message;
  };
  const std::vector<Case> cases = {
      {[](TrainOptions& o) { o.model = "resnet"; }, "model", "choose mlp, mlp-deep or cnn"},
      {[](TrainOptions& o) { o.dataset = "cifar"; }, "dataset", "choose mnist or fashion"},
      {[](TrainOptions& o) { o.epochs = 0; }, "epochs", "--epochs 0 must be 1 to 10000"},
      {[](TrainOptions& o) { o.batch_size = -3; }, "batch-size", "--batch-size -3"},
      {[](TrainOptions& o) { o.learning_rate = -0.1; }, "lr", "must be a positive number"},
      {[](TrainOptions& o) { o.momentum = 1.5; }, "momentum", "must be in [0, 1)"},
      {[](TrainOptions& o) { o.optimizer = "lbfgs"; }, "optimizer", "choose sgd, adam or adamw"},
      {[](TrainOptions& o) { o.scheduler = "step:0:0.1"; }, "scheduler", "STEP must be at least 1"},
      {[](TrainOptions& o) { o.scheduler = "step:2:1.5"; }, "scheduler", "GAMMA must be in (0, 1]"},
      {[](TrainOptions& o) { o.scheduler = "linear"; }, "scheduler", "use none, cosine or step:STEP:GAMMA"},
      {[](TrainOptions& o) { o.augmentation = "rotate"; }, "augment", "unknown augmentation 'rotate'"},
      {[](TrainOptions& o) { o.augmentation = "draw,spin"; }, "augment", "use none, or a comma-separated list"},
      {[](TrainOptions& o) { o.augmentation = "shift:20"; }, "augment", "1 to 8 pixels"},
      {[](TrainOptions& o) { o.device = "tpu"; }, "device", "choose auto, cpu or cuda"},
  };
  for (const Case& c : cases) {
    TrainOptions options;
    c.change(options);
    options.resolve_defaults();
    auto status = options.validate();
    INFO("expected a refusal mentioning '" << c.message << "'");
    REQUIRE_FALSE(status.ok());
    CHECK(status.error().code == ErrorCode::bad_argument);
    CHECK(status.error().field == c.field);
    CHECK_THAT(status.error().message, Catch::Contains(c.message));
  }
}

TEST_CASE("learning-rate schedules follow PyTorch's StepLR and CosineAnnealingLR", "[options]") {
  auto step = parse_schedule("step:2:0.1");
  REQUIRE(step.ok());
  CHECK(step.value().learning_rate(0.01, 0, 0.0) == Approx(0.01));
  CHECK(step.value().learning_rate(0.01, 1, 0.3) == Approx(0.01));
  CHECK(step.value().learning_rate(0.01, 2, 0.5) == Approx(0.001));
  CHECK(step.value().learning_rate(0.01, 4, 0.9) == Approx(0.0001));
  auto cosine = parse_schedule("cosine");
  REQUIRE(cosine.ok());
  CHECK(cosine.value().learning_rate(0.1, 0, 0.0) == Approx(0.1));
  CHECK(cosine.value().learning_rate(0.1, 2, 0.5) == Approx(0.05));
  CHECK(cosine.value().learning_rate(0.1, 4, 1.0) == Approx(0.0).margin(1e-12));
  CHECK(parse_schedule("none").value().learning_rate(0.3, 7, 0.7) == 0.3);
}

TEST_CASE("normalisation is torchvision's ToTensor + Normalize(0.5, 0.5), bit for bit", "[dataset]") {
  const Normalizer normalizer(0.5f, 0.5f, torch::kCPU);
  torch::Tensor pixels = torch::arange(256, torch::kInt32).to(torch::kUInt8).view({1, 1, 16, 16});
  torch::Tensor values = normalizer(pixels).contiguous();
  REQUIRE(values.scalar_type() == torch::kFloat32);
  for (int v = 0; v < 256; ++v) {
    const float expected = (static_cast<float>(v) / 255.f - 0.5f) / 0.5f;
    INFO("pixel " << v);
    CHECK(values.data_ptr<float>()[v] == expected);
  }
  CHECK(values.data_ptr<float>()[0] == -1.f);
  CHECK(values.data_ptr<float>()[255] == 1.f);
}

TEST_CASE("shift augmentation moves each image by its own offset and fills with background", "[dataset]") {
  // Two 28x28 images with one bright pixel each.
  torch::Tensor pixels = torch::zeros({2, 1, 28, 28}, torch::kUInt8);
  pixels[0][0][10][10] = 255;
  pixels[1][0][5][20] = 200;
  // Offsets in [0, 2*max_shift]: offset max_shift is no move; the window starts at the offset.
  torch::Tensor offsets = torch::tensor({2, 2, 0, 4}, torch::kInt64).view({2, 2});
  torch::Tensor shifted = shift_images(pixels, offsets, 2);
  REQUIRE(shifted.sizes() == pixels.sizes());
  CHECK(shifted[0][0][10][10].item<int>() == 255);  // (2, 2): unchanged
  CHECK(shifted.sum().item<int>() == 455);
  // Image 1: window starts 0 rows and 4 cols into the padded image: content moves down 2 and left 2.
  CHECK(shifted[1][0][7][18].item<int>() == 200);
  // A pixel pushed out of the frame disappears; the new border is background.
  torch::Tensor edge = torch::zeros({1, 1, 28, 28}, torch::kUInt8);
  edge[0][0][0][27] = 255;
  CHECK(shift_images(edge, torch::tensor({4, 0}, torch::kInt64).view({1, 2}), 2).sum().item<int>() == 0);
}

TEST_CASE("atomic writes replace the file whole and leave no temporary files", "[files]") {
  namespace fs = std::filesystem;
  const fs::path folder = fs::path(DIGITLAB_TEST_OUTPUT_DIR) / "trainer-atomic";
  fs::remove_all(folder);
  const std::string path = (folder / "nested" / "file.bin").string();
  REQUIRE(write_file_atomically(path, std::string("first version")).ok());
  REQUIRE(write_file_atomically(path, std::string("second")).ok());
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "second");
  std::size_t entries = 0;
  for (const auto& entry : fs::directory_iterator(folder / "nested")) {
    INFO("left behind: " << entry.path());
    ++entries;
  }
  CHECK(entries == 1);
  struct stat info {};
  REQUIRE(::stat(path.c_str(), &info) == 0);
  CHECK((info.st_mode & 0777) == 0644);

  // A folder that cannot exist (a file is in the way): an io error naming the path, nothing written.
  std::ofstream(folder / "blocker") << "x";
  auto refused = write_file_atomically((folder / "blocker" / "weights.dlw").string(), std::string("data"));
  REQUIRE_FALSE(refused.ok());
  CHECK(refused.error().code == ErrorCode::io);
  CHECK_THAT(refused.error().message, Catch::Contains("blocker"));
}

TEST_CASE("numbers, tables and the confusion matrix print as documented", "[console]") {
  CHECK(with_thousands(669706) == "669,706");
  CHECK(with_thousands(999) == "999");
  CHECK(with_thousands(-1234567) == "-1,234,567");
  CHECK(format_duration(3.25) == "3.2s");
  CHECK(format_duration(75) == "1m15s");
  TextTable table;
  table.header = {"name", "value"};
  table.rows = {{"a,b", "1"}, {"q\"uote", "22"}};
  CHECK(table.render_csv() == "name,value\n\"a,b\",1\n\"q\"\"uote\",22\n");
  CHECK(table.render_markdown() == "| name | value |\n|---|---|\n| a,b | 1 |\n| q\"uote | 22 |\n");
  const std::string matrix = render_confusion_matrix({{3, 1}, {0, 4}}, {"Coat", "Bag"});
  CHECK_THAT(matrix, Catch::Contains("Coat 0"));
  CHECK_THAT(matrix, Catch::Contains("75.00 %"));
  CHECK_THAT(matrix, Catch::Contains("100.00 %"));
}

TEST_CASE("the printed model lists every layer with PyTorch's names and parameter counts", "[network]") {
  auto built = build_network(make_cnn(1));
  REQUIRE(built.ok());
  std::ostringstream text;
  built.value()->print_summary(text, "NeuralNetwork");
  const std::string printed = text.str();
  CHECK_THAT(printed, Catch::Contains("(0): Conv2d(1, 32, kernel_size=[3, 3]"));
  CHECK_THAT(printed, Catch::Contains("BatchNorm2d(32"));
  CHECK_THAT(printed, Catch::Contains("(12): Flatten"));
  CHECK_THAT(printed, Catch::Contains("Linear(in_features=1152, out_features=512, bias=True)"));
  CHECK_THAT(printed, Catch::Contains("Dropout(p=0.4"));
  // PyTorch's count for the tutorial's CNN: convolutions, batch norms (gamma, beta) and the linear layers.
  const std::int64_t expected = (32 * 9 + 32) + 64 + (64 * 32 * 9 + 64) + 128 + (128 * 64 * 9 + 128) + 256 +
                                (1152 * 512 + 512) + 1024 + (512 * 512 + 512) + 1024 + (512 * 10 + 10);
  CHECK(built.value()->parameter_total() == expected);
  CHECK_THAT(printed, Catch::Contains("Total parameters: " + with_thousands(expected)));
}

TEST_CASE("the DOT graph has a node per layer and edges labelled with shapes", "[graph]") {
  Model model = make_cnn(1);
  auto shapes = infer_shapes(model);
  REQUIRE(shapes.ok());
  const std::string dot = graph_dot(model, shapes.value());
  CHECK(dot.rfind("digraph \"cnn\" {", 0) == 0);
  CHECK_THAT(dot, Catch::Contains("layer0 [label=\"0: Conv2d 1 → 32, 3x3, pad 1"));
  CHECK_THAT(dot, Catch::Contains("layer2 -> layer3 [label=\" 32x28x28\"]"));  // into the first pool
  CHECK_THAT(dot, Catch::Contains("layer12 -> layer13 [label=\" 1152\"]"));
  CHECK_THAT(dot, Catch::Contains("output [label=\"logits\\n10 classes\""));
  CHECK(dot.back() == '\n');
}
