// Weights files that must NOT load, each with its expected ErrorCode: truncations, bit flips, crafted fields
// (with re-sealed CRCs so they reach the check under test), files of other kinds. Read next: tests/fuzz/fuzz_weights.cpp.
#include "digitlab/inflate.hpp"
#include "test_weights_util.hpp"

using namespace weights_test;

namespace {

// Tensor records of the tiny model, in file order.
enum TinyTensor { conv_weight = 0, conv_bias = 1, norm_gamma = 2, norm_var = 5, linear_weight = 6, linear_bias = 7 };
enum TinyLayer { conv = 0, norm = 1, leaky = 2, pool = 3, linear = 6 };

wf::TensorRecord tensor_at(const std::vector<std::uint8_t>& bytes, std::size_t k) {
  return wf::decode_tensor(bytes.data() + tensor_record(bytes, k));
}

// A gzip file holding `data` in stored (uncompressed) DEFLATE blocks: what `gzip` would produce, minus the
// compression, built here so the test needs no compressor.
std::vector<std::uint8_t> gzip_stored(const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> out = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff};
  auto put16 = [&](std::uint32_t v) {
    out.push_back(std::uint8_t(v));
    out.push_back(std::uint8_t(v >> 8));
  };
  std::size_t at = 0;
  do {
    const std::size_t n = std::min<std::size_t>(65535, data.size() - at);
    out.push_back(at + n == data.size() ? 1 : 0);  // BFINAL, BTYPE 00 (stored)
    put16(std::uint32_t(n));
    put16(std::uint32_t(~n) & 0xFFFF);
    out.insert(out.end(), data.begin() + static_cast<std::ptrdiff_t>(at),
               data.begin() + static_cast<std::ptrdiff_t>(at + n));
    at += n;
  } while (at < data.size());
  const std::uint32_t crc = crc32(data), size = std::uint32_t(data.size());
  put16(crc & 0xFFFF), put16(crc >> 16), put16(size & 0xFFFF), put16(size >> 16);
  return out;
}

}  // namespace

TEST_CASE("the tiny valid file loads (the malformed files below are all edits of it)", "[weights]") {
  Result<LoadedWeights> loaded = load_weights(tiny_file());
  REQUIRE(loaded.ok());
  CHECK(loaded.value().has_self_test);
  CHECK(tiny_file().size() < 2048);
}

TEST_CASE("every truncation of a valid file is rejected as truncated", "[weights]") {
  const std::vector<std::uint8_t>& full = tiny_file();
  int wrong = 0;
  for (std::size_t n = 0; n < full.size(); ++n) {
    std::vector<std::uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    Result<LoadedWeights> loaded = load_weights(cut);
    if (loaded.ok() || loaded.error().code != ErrorCode::truncated) {
      if (wrong++ < 3) FAIL_CHECK("length " << n << ": " << (loaded.ok() ? "loaded" : loaded.error().to_string()));
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("every single-bit flip of the header has one predictable code", "[weights]") {
  const std::vector<std::uint8_t>& valid = tiny_file();
  int wrong = 0;
  for (std::size_t bit = 0; bit < 8 * wf::kHeaderSize; ++bit) {
    std::vector<std::uint8_t> bytes = valid;
    bytes[bit / 8] ^= std::uint8_t(1u << (bit % 8));
    const std::size_t at = bit / 8;
    const ErrorCode expected = at < 8    ? ErrorCode::bad_magic
                               : at < 12 ? ErrorCode::bad_version
                                         : ErrorCode::checksum_mismatch;
    Result<LoadedWeights> loaded = load_weights(bytes);
    if (loaded.ok() || loaded.error().code != expected) {
      if (wrong++ < 3)
        FAIL_CHECK("bit " << bit << ": expected " << error_code_name(expected) << ", got "
                          << (loaded.ok() ? "a loaded model" : loaded.error().to_string()));
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("every single-bit flip after the header is a checksum mismatch", "[weights]") {
  const std::vector<std::uint8_t>& valid = tiny_file();
  int wrong = 0;
  for (std::size_t bit = 8 * wf::kHeaderSize; bit < 8 * valid.size(); ++bit) {
    std::vector<std::uint8_t> bytes = valid;
    bytes[bit / 8] ^= std::uint8_t(1u << (bit % 8));
    Result<LoadedWeights> loaded = load_weights(bytes);
    if (loaded.ok() || loaded.error().code != ErrorCode::checksum_mismatch) {
      if (wrong++ < 3) FAIL_CHECK("bit " << bit << ": " << (loaded.ok() ? "loaded" : loaded.error().to_string()));
    }
  }
  CHECK(wrong == 0);
}

TEST_CASE("files of other kinds are named, with what to do", "[weights]") {
  SECTION("a PNG image") {
    const Error e = expect_rejected(text_bytes("\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), ErrorCode::wrong_file_kind);
    CHECK(e.message.find("PNG image, not a digitlab weights file") != std::string::npos);
  }
  SECTION("an HTML error page") {
    const Error e = expect_rejected(text_bytes("<!DOCTYPE html>\n<html><body>404 Not Found</body></html>\n"),
                                    ErrorCode::wrong_file_kind);
    CHECK(e.message.find("download") != std::string::npos);
  }
  SECTION("a gzipped valid file: gunzip it") {
    const std::vector<std::uint8_t> gz = gzip_stored(tiny_file());
    const Error e = expect_rejected(gz, ErrorCode::wrong_file_kind);
    CHECK(e.message.find("gunzip") != std::string::npos);
    Result<std::vector<std::uint8_t>> unzipped = gunzip(gz, 1 << 20);  // and doing so gives the loadable file
    REQUIRE(unzipped.ok());
    CHECK(load_weights(unzipped.value()).ok());
  }
  SECTION("a PyTorch checkpoint (zip)") {
    const Error e =
        expect_rejected(text_bytes(std::string("PK\x03\x04", 4) + "archive/data.pkl"), ErrorCode::wrong_file_kind);
    CHECK(e.message.find("digitlab import") != std::string::npos);  // the way to convert it
  }
  SECTION("MNIST data") {
    expect_rejected(text_bytes(std::string("\0\0\x08\x03\0\0\x27\x10", 8)), ErrorCode::wrong_file_kind);
  }
  SECTION("random text") {
    const Error e = expect_rejected(
        text_bytes("hello, this is not a model at all......................................"), ErrorCode::bad_magic);
    CHECK(e.message.find("68 65 6C 6C 6F") != std::string::npos);  // shows the bytes it found
  }
  SECTION("a weights file mangled by a text-mode transfer (CR LF -> LF)") {
    std::vector<std::uint8_t> bytes = tiny_file();
    bytes.erase(bytes.begin() + 4);  // the CR of the magic's CR LF
    const Error e = expect_rejected(bytes, ErrorCode::bad_magic);
    CHECK(e.message.find("binary mode") != std::string::npos);
  }
  SECTION("an empty file") {
    const Error e = expect_rejected({}, ErrorCode::truncated);
    CHECK(e.message.find("empty") != std::string::npos);
  }
}

TEST_CASE("crafted header fields reach their own checks", "[weights]") {
  const std::vector<std::uint8_t>& valid = tiny_file();
  SECTION("wrong magic") {
    std::vector<std::uint8_t> bytes = valid;
    bytes[3] = 'X';
    expect_rejected(bytes, ErrorCode::bad_magic);
  }
  SECTION("a newer version, with valid checksums") {
    const Error e =
        expect_rejected(with_header(valid, [](wf::FileHeader& h) { h.version = 2; }), ErrorCode::bad_version);
    CHECK(e.offset == wf::header_field::version);
    CHECK(e.message.find("version 2") != std::string::npos);
  }
  SECTION("reserved header bytes set") {
    expect_rejected(with_header(valid, [](wf::FileHeader& h) { h.reserved[5] = 1; }), ErrorCode::bad_value);
  }
  SECTION("another header size") {
    expect_rejected(with_header(valid, [](wf::FileHeader& h) { h.header_size = 128; }), ErrorCode::bad_value);
  }
  SECTION("trailing bytes after the declared end") {
    std::vector<std::uint8_t> bytes = valid;
    bytes.push_back(0);
    const Error e = expect_rejected(bytes, ErrorCode::trailing_bytes);
    CHECK(e.offset == valid.size());
  }
  SECTION("bytes after the last tensor, even when file_size counts them") {
    std::vector<std::uint8_t> bytes = valid;
    bytes.resize(bytes.size() + 64, 0);
    expect_rejected(with_header(bytes, [&](wf::FileHeader& h) { h.file_size = bytes.size(); }),
                    ErrorCode::trailing_bytes);
  }
  SECTION("no layers") {
    expect_rejected(with_header(valid, [](wf::FileHeader& h) { h.layer_count = 0; }), ErrorCode::bad_dimensions);
  }
  SECTION("an implausible layer count") {
    expect_rejected(with_header(valid, [](wf::FileHeader& h) { h.layer_count = 0xFFFFFFFFu; }),
                    ErrorCode::bad_dimensions);
  }
  SECTION("tensor count disagrees with the layers") {
    expect_rejected(with_header(valid, [](wf::FileHeader& h) { h.tensor_count -= 1; }), ErrorCode::count_mismatch);
  }
  SECTION("a card that runs past the end of the file") {
    expect_rejected(with_header(valid, [](wf::FileHeader& h) { h.card_size = 0xFFFFFFF0u; }),
                    ErrorCode::offset_out_of_range);
  }
}

TEST_CASE("crafted layer and tensor records reach their own checks", "[weights]") {
  const std::vector<std::uint8_t>& valid = tiny_file();
  SECTION("an unknown layer kind") {
    const Error e =
        expect_rejected(with_layer(valid, leaky, [](wf::LayerRecord& r) { r.kind = 99; }), ErrorCode::bad_layer);
    CHECK(e.field == "layer[2].kind");
    CHECK(e.offset == layer_record(valid, leaky));
  }
  SECTION("a wrong tensor count for the kind") {
    expect_rejected(with_layer(valid, pool, [](wf::LayerRecord& r) { r.tensor_count = 1; }), ErrorCode::bad_layer);
  }
  SECTION("a NaN layer parameter") {
    expect_rejected(with_layer(valid, leaky, [](wf::LayerRecord& r) { r.alpha = NAN; }), ErrorCode::bad_value);
  }
  SECTION("an unknown dtype") {
    const Error e = expect_rejected(with_tensor(valid, conv_weight, [](wf::TensorRecord& r) { r.dtype = 7; }),
                                    ErrorCode::bad_dtype);
    CHECK(e.field == "layer[0].weight.dtype");
  }
  SECTION("dimensions whose product overflows 64 bits") {
    const Error e = expect_rejected(
        with_tensor(valid, conv_weight,
                    [](wf::TensorRecord& r) { r.dims[0] = r.dims[1] = r.dims[2] = r.dims[3] = 0xFFFFFFFFu; }),
        ErrorCode::size_overflow);
    CHECK(e.field == "layer[0].weight.dims");
  }
  SECTION("a zero dimension") {
    expect_rejected(with_tensor(valid, conv_bias, [](wf::TensorRecord& r) { r.dims[0] = 0; }),
                    ErrorCode::bad_dimensions);
  }
  SECTION("rank 5") {
    expect_rejected(with_tensor(valid, conv_bias, [](wf::TensorRecord& r) { r.rank = 5; }), ErrorCode::bad_dimensions);
  }
  SECTION("a tensor shape that does not fit its layer, named") {
    const Error e = expect_rejected(with_tensor(valid, linear_weight, [](wf::TensorRecord& r) { r.dims[1] = 7; }),
                                    ErrorCode::shape_mismatch);
    CHECK(e.message.find("layer[6].weight: expected (3, 8), found (3, 7)") == 0);
  }
  SECTION("an offset past the end of the file") {
    expect_rejected(
        with_tensor(valid, linear_bias, [&](wf::TensorRecord& r) { r.offset = (valid.size() / 64 + 10) * 64; }),
        ErrorCode::offset_out_of_range);
  }
  SECTION("an offset so large that offset + size overflows") {
    expect_rejected(with_tensor(valid, linear_bias, [](wf::TensorRecord& r) { r.offset = UINT64_MAX - 63; }),
                    ErrorCode::offset_out_of_range);
  }
  SECTION("a misaligned offset") {
    expect_rejected(with_tensor(valid, linear_bias, [](wf::TensorRecord& r) { r.offset -= 4; }), ErrorCode::bad_value);
  }
  SECTION("two tensors sharing bytes") {
    const std::uint64_t gamma_offset = tensor_at(valid, norm_gamma).offset;
    const Error e = expect_rejected(with_tensor(valid, norm_var, [&](wf::TensorRecord& r) { r.offset = gamma_offset; }),
                                    ErrorCode::overlapping);
    CHECK(e.message.find("overlaps layer[1].gamma") != std::string::npos);
  }
  SECTION("a tensor inside the tables") {
    expect_rejected(with_tensor(valid, conv_bias, [](wf::TensorRecord& r) { r.offset = 64; }), ErrorCode::overlapping);
  }
  SECTION("a NaN weight") {
    expect_rejected(with_f32(valid, tensor_at(valid, linear_weight).offset + 4 * 5, NAN), ErrorCode::bad_value);
  }
  SECTION("a negative int8 scale") {
    WriteOptions int8;
    int8.dtype = DType::int8;
    std::vector<std::uint8_t> bytes = write_weights(tiny_model(), int8).value();
    REQUIRE(tensor_at(bytes, linear_weight).dtype == 2);
    const Error e =
        expect_rejected(with_f32(bytes, tensor_at(bytes, linear_weight).offset + 4, -0.5f), ErrorCode::bad_value);
    CHECK(e.message.find("scale of row 1") != std::string::npos);
  }
  SECTION("an int8 scale so large that scale * q overflows to infinity (found by fuzzing)") {
    WriteOptions int8;
    int8.dtype = DType::int8;
    std::vector<std::uint8_t> bytes = write_weights(tiny_model(), int8).value();
    const Error e = expect_rejected(with_f32(bytes, tensor_at(bytes, linear_weight).offset, 3e38f), ErrorCode::bad_value);
    CHECK(e.field == "layer[6].weight");
    CHECK(e.message.find("inf") != std::string::npos);
    CHECK(e.offset >= tensor_at(bytes, linear_weight).offset + 4 * 3);  // points at the int8 value, after the scales
  }
  SECTION("consistent tensors for a layer that no longer chains (infer_shapes)") {
    std::vector<std::uint8_t> bytes = with_layer(valid, linear, [](wf::LayerRecord& r) { r.in_features = 2; });
    bytes = with_tensor(bytes, linear_weight, [](wf::TensorRecord& r) { r.dims[1] = 2; });
    const Error e = expect_rejected(bytes, ErrorCode::shape_mismatch);
    CHECK(e.offset == layer_record(bytes, linear));
  }
}

TEST_CASE("crafted card and self-test sections reach their own checks", "[weights]") {
  const std::vector<std::uint8_t>& valid = tiny_file();
  const std::size_t card = card_offset(valid), self_test = self_test_offset(valid);
  SECTION("a card string that is not UTF-8") {
    const std::uint8_t bad[2] = {0xC0, 0x80};  // an overlong NUL
    expect_rejected(with_bytes(valid, card + wf::kCardFixedSize + 4, bad, 2), ErrorCode::bad_value);
  }
  SECTION("a string length past the end of the card") {
    expect_rejected(with_u32(valid, card + wf::kCardFixedSize, 5000), ErrorCode::bad_value);
    expect_rejected(with_u32(valid, card + wf::kCardFixedSize, 400), ErrorCode::truncated);
  }
  SECTION("normalize_std zero") { expect_rejected(with_f32(valid, card + 16, 0.f), ErrorCode::bad_value); }
  SECTION("a self-test whose logits the weights do not give") {
    const std::size_t first_logit = self_test + 8 + 4 * 16;
    float stored;
    std::memcpy(&stored, valid.data() + first_logit + 4, 4);
    const Error e = expect_rejected(with_f32(valid, first_logit + 4, stored + 0.5f), ErrorCode::self_test_failed);
    CHECK(e.message.find("logit 1") != std::string::npos);
    LoadOptions skip;
    skip.run_self_test = false;
    CHECK(load_weights(with_f32(valid, first_logit + 4, stored + 0.5f), skip).ok());
  }
  SECTION("a self-test within tolerance passes and reports its difference") {
    const std::size_t first_logit = self_test + 8 + 4 * 16;
    float stored;
    std::memcpy(&stored, valid.data() + first_logit, 4);
    Result<LoadedWeights> loaded = load_weights(with_f32(valid, first_logit, stored + 5e-5f));
    REQUIRE(loaded.ok());
    CHECK(loaded.value().self_test_max_abs_diff > 4e-5f);
  }
  SECTION("a self-test with the wrong input size") {
    expect_rejected(with_u32(valid, self_test, 15), ErrorCode::count_mismatch);
  }
}

TEST_CASE("budgets are enforced before allocating or running", "[weights]") {
  const std::vector<std::uint8_t>& valid = tiny_file();
  LoadOptions tight;
  tight.memory_budget = 1000;
  const Error e = expect_rejected(valid, ErrorCode::over_budget, tight);
  CHECK(e.message.find("budget") != std::string::npos);
  LoadOptions slow;
  slow.max_multiply_adds = 100;
  expect_rejected(valid, ErrorCode::over_budget, slow);
  // A small file describing a huge network: conv 1->64 (9x9, pad 4) then a global max-pool, written for a
  // 4x4 input, then edited to a 512x512 input (and pool): 64*512*512*81 = 1.4e9 multiply-adds and 64 MiB of
  // activations from a 22 KB file.
  Model model;
  model.card = tiny_model().card;
  model.card.class_names = {"a", "b"};
  model.layers = {make_conv2d_layer(1, 64, 9, 1, 4), make_max_pool2d_layer(4, 4), make_simple_layer(LayerKind::flatten),
                  make_linear_layer(64, 2)};
  randomize_parameters(model, 5);
  std::vector<std::uint8_t> wide = write_weights(model).value();
  REQUIRE(load_weights(wide).ok());
  const std::size_t card = card_offset(wide);
  wide = with_u32(wide, card + 4, 512);
  wide = with_u32(wide, card + 8, 512);
  wide = with_layer(wide, 1, [](wf::LayerRecord& r) { r.kernel = r.stride = 512; });
  const Error cost = expect_rejected(wide, ErrorCode::over_budget);
  CHECK(cost.message.find("multiply-adds") != std::string::npos);
  LoadOptions patient;
  patient.max_multiply_adds = UINT64_MAX;
  patient.memory_budget = 32 << 20;
  REQUIRE(load_weights(wide, patient).ok() == false);
  const Error memory = expect_rejected(wide, ErrorCode::over_budget, patient);
  CHECK(memory.message.find("activations") != std::string::npos);
}
