// The trainer's "pen" augmentation (issue 16, native/src/augment.cpp): the pen digits it draws from
// tests/data/digit_styles.json are seeded, carry their own labels (the shipped default reads them as those
// digits), and mix_pen_digits replaces exactly the images it should by a drawing of the same digit.
// Read next: native/src/augment.hpp, tests/styles/test_digit_styles.cpp.
#include <fstream>

#include <nlohmann/json.hpp>

#include "augment.hpp"
#include "digitlab/weights.hpp"
#include "options.hpp"

// LibTorch brings glog, whose CHECK() aborts the process; Catch's CHECK() records and carries on.
#undef CHECK
#include <catch2/catch.hpp>

using namespace digitlab;
using namespace digitlab::trainer;

namespace {
const std::string kTemplates = DIGITLAB_SOURCE_DIR "/tests/data/digit_styles.json";
}

TEST_CASE("--augment pen parses with a fraction, only for MNIST, and says what is wrong") {
  REQUIRE(parse_augmentation("draw,pen").ok());
  CHECK(parse_augmentation("draw,pen").value().pen_fraction == Approx(0.1));
  CHECK(parse_augmentation("pen:0.25").value().pen_fraction == Approx(0.25));
  CHECK(parse_augmentation("draw").value().pen_fraction == 0.0);
  CHECK(parse_augmentation("pen:0.9").error().message.find("at most 0.5") != std::string::npos);
  CHECK(parse_augmentation("pen:x").error().message.find("needs a number") != std::string::npos);
  TrainOptions fashion;
  fashion.dataset = "fashion";
  fashion.augmentation = "pen";
  fashion.resolve_defaults();
  auto valid = fashion.validate();
  REQUIRE_FALSE(valid.ok());
  CHECK(valid.error().message.find("mnist only") != std::string::npos);
}

TEST_CASE("pen digits are seeded, inked, and read as their own digit by the shipped default") {
  auto first = render_pen_digits(kTemplates, 40, 1);
  REQUIRE(first.ok());
  const PenDigits& pool = first.value();
  REQUIRE(pool.images.sizes() == torch::IntArrayRef({400, 1, 28, 28}));
  REQUIRE(pool.images.dtype() == torch::kUInt8);
  CHECK(torch::equal(render_pen_digits(kTemplates, 40, 1).value().images, pool.images));
  CHECK_FALSE(torch::equal(render_pen_digits(kTemplates, 40, 2).value().images, pool.images));
  // Every drawing has ink: at least 15 full-ink pixels' worth of the 784 (a thin 1 is about 20).
  CHECK(pool.images.to(torch::kFloat32).sum({1, 2, 3}).min().item<float>() >= 15 * 255.f);

  // The labels: rows [d * 40, (d + 1) * 40) are drawings of d, so the shipped default must read most of
  // them as d (it misreads some styles, which is why the augmentation exists: 90 % is the floor per digit).
  std::ifstream in(DIGITLAB_SOURCE_DIR "/weights/manifest.json");
  REQUIRE(in);
  const nlohmann::json manifest = nlohmann::json::parse(in);  // kept alive: the loop walks inside it
  std::string file;
  for (const auto& entry : manifest.at("models"))
    if (entry.value("default", false)) file = entry.at("file").get<std::string>();
  auto bytes = read_file(DIGITLAB_SOURCE_DIR "/weights/" + file, 64u << 20);
  REQUIRE(bytes.ok());
  auto loaded = load_weights(ByteSpan(bytes.value()));
  REQUIRE(loaded.ok());
  const Model& model = loaded.value().model;
  const std::uint8_t* pixels = pool.images.data_ptr<std::uint8_t>();
  std::vector<float> input(784);
  std::string per_digit;
  int lowest = 40;
  for (int digit = 0; digit <= 9; ++digit) {
    int right = 0;
    for (int i = 0; i < 40; ++i) {
      const std::uint8_t* image = pixels + (digit * 40 + i) * 784;
      for (int p = 0; p < 784; ++p)
        input[std::size_t(p)] = (float(image[p]) / 255.f - model.card.normalize_mean) / model.card.normalize_std;
      auto prediction = forward(model, input.data(), input.size());
      REQUIRE(prediction.ok());
      right += prediction.value().label == digit;
    }
    per_digit += " " + std::to_string(digit) + ":" + std::to_string(right) + "/40";
    lowest = std::min(lowest, right);
  }
  INFO(file << " reads the pen digits" << per_digit);
  CHECK(lowest >= 36);
}

TEST_CASE("mix_pen_digits replaces the images drawn below the fraction by a pen drawing of their label") {
  auto rendered = render_pen_digits(kTemplates, 8, 3);
  REQUIRE(rendered.ok());
  const PenDigits& pool = rendered.value();
  const std::int64_t n = 200;
  torch::Tensor pixels = torch::full({n, 1, 28, 28}, 7, torch::kUInt8);  // not a pen drawing's background
  torch::Tensor labels = torch::arange(n, torch::kInt64) % 10;
  torch::Tensor uniforms = torch::rand({n, kPenParameters}, torch::Generator(at::detail::createCPUGenerator(5)));
  torch::Tensor mixed = mix_pen_digits(pixels, labels, uniforms, pool, 0.3);
  REQUIRE(mixed.sizes() == pixels.sizes());
  int replaced = 0, wrong = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    const bool expect = uniforms[i][0].item<float>() < 0.3f;
    const std::int64_t which = std::min<std::int64_t>(7, std::int64_t(uniforms[i][1].item<float>() * 8));
    const torch::Tensor want = expect ? pool.images[labels[i].item<std::int64_t>() * 8 + which] : pixels[i];
    wrong += !torch::equal(mixed[i], want);
    replaced += expect;
  }
  INFO(replaced << " of " << n << " to be replaced");
  CHECK(wrong == 0);
  CHECK(replaced > 30);
  CHECK(replaced < 90);
}

TEST_CASE("pen templates that cannot be read give a clear error") {
  auto missing = render_pen_digits("no/such/digit_styles.json", 4, 1);
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().code == ErrorCode::io);
  CHECK(missing.error().message.find("repository root") != std::string::npos);
  const std::string partial = DIGITLAB_TEST_OUTPUT_DIR "/pen-templates-without-9.json";
  {
    std::ifstream in(kTemplates);
    nlohmann::json json = nlohmann::json::parse(in);
    json["digits"].erase("9");
    std::ofstream(partial) << json.dump();
  }
  auto without = render_pen_digits(partial, 4, 1);
  REQUIRE_FALSE(without.ok());
  CHECK(without.error().code == ErrorCode::bad_value);
  std::ofstream(partial) << "{\"digits\": 3}";
  auto garbled = render_pen_digits(partial, 4, 1);
  REQUIRE_FALSE(garbled.ok());
  CHECK(garbled.error().message.find("not a digit template file") != std::string::npos);
}
