// The IDX reader: the real MNIST and Fashion-MNIST files load with their known counts, and malformed files
// are each rejected with the expected error code. Runs natively, under ASan/UBSan and in wasm under node.
#include <catch2/catch.hpp>

#include <array>
#include <string>
#include <vector>

#include "digitlab/idx.hpp"

using namespace digitlab;
using Bytes = std::vector<std::uint8_t>;

namespace {

std::array<int, 10> class_counts(const IdxLabels& labels) {
  std::array<int, 10> counts{};
  for (std::uint8_t label : labels.labels) counts[label]++;
  return counts;
}

void put_u32_be(Bytes& b, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) b.push_back(std::uint8_t(v >> shift));
}

Bytes images_file(std::uint32_t count, std::uint32_t rows, std::uint32_t cols, std::size_t data_bytes) {
  Bytes b = {0, 0, 0x08, 3};
  put_u32_be(b, count);
  put_u32_be(b, rows);
  put_u32_be(b, cols);
  for (std::size_t i = 0; i < data_bytes; ++i) b.push_back(std::uint8_t(i * 7));
  return b;
}

Bytes labels_file(const Bytes& labels) {
  Bytes b = {0, 0, 0x08, 1};
  put_u32_be(b, std::uint32_t(labels.size()));
  b.insert(b.end(), labels.begin(), labels.end());
  return b;
}

// "gzip -n" of the 12-byte text "hello world\n" with its last two bytes cut: a valid start, then nothing.
const Bytes kTruncatedGzip = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03,
                              0xcb, 0x48, 0xcd, 0xc9, 0xc9, 0x57, 0x28, 0xcf, 0x2f, 0xca};

template <class T>
ErrorCode code_of(const Result<T>& r) {
  return r.ok() ? ErrorCode::ok : r.error().code;
}

}  // namespace

TEST_CASE("real MNIST loads with its known sizes and per-class counts") {
  auto train = load_idx_dataset(DIGITLAB_DATA_DIR "/mnist", "train");
  INFO((train.ok() ? std::string() : train.error().to_string()));
  REQUIRE(train.ok());
  CHECK(train.value().size() == 60000);
  CHECK(train.value().images.rows == 28);
  CHECK(train.value().images.cols == 28);
  CHECK(class_counts(train.value().labels) ==
        std::array<int, 10>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949});

  auto test = load_idx_dataset(DIGITLAB_DATA_DIR "/mnist", "t10k");
  REQUIRE(test.ok());
  CHECK(test.value().size() == 10000);
  CHECK(class_counts(test.value().labels) ==
        std::array<int, 10>{980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009});
  // The first test image is a 7 whose ink sums to 18454 (checked with Python on the raw file).
  CHECK(test.value().labels.labels[0] == 7);
  long ink = 0;
  for (int i = 0; i < 784; ++i) ink += test.value().images.image(0)[i];
  CHECK(ink == 18454);
}

TEST_CASE("real Fashion-MNIST (gzipped) loads with 6,000 / 1,000 items per class") {
  auto train = load_idx_dataset(DIGITLAB_DATA_DIR "/fashion-mnist", "train");
  INFO((train.ok() ? std::string() : train.error().to_string()));
  REQUIRE(train.ok());
  CHECK(train.value().size() == 60000);
  std::array<int, 10> six_thousand;
  six_thousand.fill(6000);
  CHECK(class_counts(train.value().labels) == six_thousand);

  auto test = load_idx_dataset(DIGITLAB_DATA_DIR "/fashion-mnist", "t10k");
  REQUIRE(test.ok());
  CHECK(test.value().size() == 10000);
  std::array<int, 10> thousand;
  thousand.fill(1000);
  CHECK(class_counts(test.value().labels) == thousand);
}

TEST_CASE("a well-formed small file parses") {
  auto images = parse_idx_images(images_file(2, 3, 4, 24));
  REQUIRE(images.ok());
  CHECK(images.value().count == 2);
  CHECK(images.value().image(1)[0] == std::uint8_t(12 * 7));
  auto labels = parse_idx_labels(labels_file({0, 9, 3}));
  REQUIRE(labels.ok());
  CHECK(labels.value().labels == Bytes{0, 9, 3});
}

TEST_CASE("malformed idx files are rejected with the expected error") {
  struct Case {
    const char* name;
    Bytes bytes;
    bool labels;
    ErrorCode expected;
    std::uint64_t offset;
  };
  Bytes wrong_magic = images_file(1, 2, 2, 4);
  wrong_magic[1] = 0x42;
  Bytes float_type = images_file(1, 2, 2, 4);
  float_type[2] = 0x0D;
  Bytes label_ten = labels_file({1, 2, 10, 3});
  Bytes png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13};
  Bytes garbage_gzip = {0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  Bytes zero_rows = images_file(1, 0, 28, 0);
  Bytes header_cut = images_file(1, 28, 28, 0);
  header_cut.resize(10);

  std::vector<Case> cases = {
      {"empty file", {}, false, ErrorCode::truncated, 0},
      {"cut inside the header", header_cut, false, ErrorCode::truncated, 10},
      {"data cut short", images_file(60000, 28, 28, 100), false, ErrorCode::truncated, 116},
      {"wrong magic", wrong_magic, false, ErrorCode::bad_magic, 0},
      {"float32 elements", float_type, false, ErrorCode::bad_dtype, 2},
      {"a labels file read as images", labels_file({1, 2}), false, ErrorCode::bad_dimensions, 3},
      {"an images file read as labels", images_file(1, 2, 2, 4), true, ErrorCode::bad_dimensions, 3},
      {"label 10 of 10 classes", label_ten, true, ErrorCode::bad_value, 10},
      {"zero rows", zero_rows, false, ErrorCode::bad_dimensions, 8},
      {"trailing bytes", images_file(1, 2, 2, 5), false, ErrorCode::trailing_bytes, 20},
      {"a PNG image", png, false, ErrorCode::wrong_file_kind, 0},
      {"gzip of garbage", garbage_gzip, false, ErrorCode::bad_gzip, 10},
      {"truncated gzip", kTruncatedGzip, true, ErrorCode::truncated, 20},
      {"more data than the budget", images_file(100000, 4096, 4096, 0), false, ErrorCode::over_budget, 4},
  };
  for (const Case& c : cases) {
    ErrorCode got;
    std::string text;
    if (c.labels) {
      auto r = parse_idx_labels(c.bytes);
      got = code_of(r);
      text = r.ok() ? "accepted" : r.error().to_string();
    } else {
      auto r = parse_idx_images(c.bytes);
      got = code_of(r);
      text = r.ok() ? "accepted" : r.error().to_string();
    }
    INFO(c.name << ": " << text);
    CHECK(error_code_name(got) == std::string(error_code_name(c.expected)));
    if (got == c.expected && got != ErrorCode::bad_gzip && got != ErrorCode::truncated) {
      auto r = c.labels ? parse_idx_labels(c.bytes).error() : parse_idx_images(c.bytes).error();
      CHECK(r.offset == c.offset);
    }
  }
}

TEST_CASE("dimensions whose product overflows 64 bits are rejected before any allocation") {
  IdxLimits limits;
  limits.max_side = 0xFFFFFFFFu;
  auto r = parse_idx_images(images_file(0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu, 0), limits);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::size_overflow);
}

TEST_CASE("images and labels that disagree on the count are a count_mismatch") {
  // A dataset folder made of a 2-image file and a 3-label file.
  Bytes images = images_file(2, 28, 28, 2 * 784);
  Bytes labels = labels_file({1, 2, 3});
  auto write = [](const std::string& path, const Bytes& b) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    REQUIRE(f);
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
  };
  // The output folder exists (made at configure time); keep files flat in it.
  write(DIGITLAB_TEST_OUTPUT_DIR "/mismatch-images-idx3-ubyte", images);
  write(DIGITLAB_TEST_OUTPUT_DIR "/mismatch-labels-idx1-ubyte", labels);
  auto r = load_idx_dataset(DIGITLAB_TEST_OUTPUT_DIR, "mismatch");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::count_mismatch);
  CHECK(r.error().message.find("2 images") != std::string::npos);
  CHECK(r.error().message.find("3 labels") != std::string::npos);
}

TEST_CASE("a missing dataset names the file and says to run scripts/setup") {
  auto r = load_idx_dataset(DIGITLAB_TEST_OUTPUT_DIR "/no-such-folder", "train");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::io);
  CHECK(r.error().message.find("train-images-idx3-ubyte") != std::string::npos);
  CHECK(r.error().message.find("scripts/setup") != std::string::npos);
}
