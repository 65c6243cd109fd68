// libFuzzer target: gunzip() and inflate_raw() on arbitrary bytes must return a value or an Error, never
// crash, read out of bounds or exceed the budget. Read next: shared/src/inflate.cpp; longer runs: docs/fuzzing.md.
#include <cstddef>
#include <cstdint>

#include "digitlab/inflate.hpp"

namespace {

constexpr std::uint64_t kBudget = 1 << 20;

bool is_input_error(digitlab::ErrorCode code) {
  using digitlab::ErrorCode;
  return code == ErrorCode::bad_gzip || code == ErrorCode::truncated || code == ErrorCode::checksum_mismatch ||
         code == ErrorCode::over_budget;
}

// The contract, checked on every input: output within budget, errors of the documented kinds pointing
// inside the input, `consumed` within the input.
void require(bool condition) {
  if (!condition) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  digitlab::ByteSpan input(data, size);

  auto gz = digitlab::gunzip(input, kBudget);
  if (gz.ok()) {
    require(gz.value().size() <= kBudget);
  } else {
    require(is_input_error(gz.error().code));
    require(gz.error().offset <= size);
    require(!gz.error().message.empty());
  }

  std::uint64_t consumed = 0;
  auto raw = digitlab::inflate_raw(input, kBudget, &consumed);
  if (raw.ok()) {
    require(raw.value().size() <= kBudget);
    require(consumed <= size);
    // Decoding just the bytes it says it used gives the same output.
    std::uint64_t consumed_again = 0;
    auto again = digitlab::inflate_raw(digitlab::ByteSpan(data, std::size_t(consumed)), kBudget, &consumed_again);
    require(again.ok() && again.value() == raw.value() && consumed_again == consumed);
  } else {
    require(is_input_error(raw.error().code));
    require(raw.error().offset <= size);
  }
  return 0;
}
