// SHA-256 (FIPS 180-4) for checking shipped files against weights/manifest.json in native and wasm tests.
// Read next: tests/shipped/test_shipped_weights.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace digitlab::testing {

// Lower-case hex digest, as sha256sum prints it.
std::string sha256_hex(const std::vector<std::uint8_t>& bytes);

}  // namespace digitlab::testing
