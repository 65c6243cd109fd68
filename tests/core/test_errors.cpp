// Error formatting and file sniffing: what users read when a file is rejected.
#include <catch2/catch.hpp>

#include <string>

#include "digitlab/bytes.hpp"

using namespace digitlab;

TEST_CASE("an error prints its code, offset, field and message on one line") {
  Error e = make_error(ErrorCode::bad_magic, "header.magic", 0, "not a weights file");
  CHECK(e.to_string() == "bad_magic at byte 0 (header.magic): not a weights file");
}

TEST_CASE("sniff_file_kind recognises the files people drop by mistake") {
  auto kind = [](const std::string& s) {
    return sniff_file_kind(ByteSpan(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
  };
  CHECK(kind("\x89PNG\r\n\x1a\n....") == "a PNG image");
  CHECK(kind("  <!DOCTYPE html><html>").find("HTML page") == 0 + 3);
  CHECK(kind(std::string("\x1f\x8b\x08\0", 4)) == "a gzip stream");
  CHECK(kind(std::string("\0\0\x08\x03", 4)) == "an idx file (MNIST data)");
  CHECK(kind("hello") == "");
}

TEST_CASE("checked arithmetic reports overflow") {
  std::uint64_t out = 0;
  CHECK(checked_mul(1ull << 32, 1ull << 31, &out));
  CHECK_FALSE(checked_mul(1ull << 32, 1ull << 32, &out));
  CHECK_FALSE(checked_add(UINT64_MAX, 1, &out));
}

TEST_CASE("read_file names the path of a missing file") {
  auto r = read_file("/nonexistent/digitlab.bin", 1024);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::io);
  CHECK(r.error().message.find("/nonexistent/digitlab.bin") != std::string::npos);
}
