// One error type for every bad input the core sees (idx files, gzip streams, weights files, drawings).
// The core never throws or aborts on bad bytes: it returns Result<T>. Read next: bytes.hpp.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace digitlab {

// Stable numeric codes: tests and the web page match on them, so only append.
enum class ErrorCode : std::uint16_t {
  ok = 0,
  io = 1,                   // the file could not be opened or read
  truncated = 2,            // fewer bytes than the header promises
  bad_magic = 3,            // not this kind of file at all
  bad_version = 4,          // a format version this build does not read
  bad_dtype = 5,            // element type / tensor dtype not supported
  bad_dimensions = 6,       // a zero, negative or implausible dimension
  size_overflow = 7,        // sizes whose product overflows 64 bits
  over_budget = 8,          // would allocate more than the memory budget allows
  offset_out_of_range = 9,  // a section or tensor points past the end of the file
  overlapping = 10,         // two sections or tensors share bytes
  trailing_bytes = 11,      // bytes after the declared end of the file
  checksum_mismatch = 12,   // a stored CRC does not match the bytes
  self_test_failed = 13,    // the embedded self-test produced other logits
  bad_layer = 14,           // unknown layer kind or bad layer parameters
  shape_mismatch = 15,      // layer shapes do not chain, or a tensor has the wrong shape
  bad_value = 16,           // a field holds a value outside its allowed range (label > 9, NaN, ...)
  count_mismatch = 17,      // e.g. images and labels files disagree on the item count
  bad_gzip = 18,            // a corrupt gzip / deflate stream
  wrong_file_kind = 19,     // a recognisable file of another kind (PNG, HTML, gzip, idx ...)
  empty_input = 20,         // an empty canvas: nothing to classify
  bad_argument = 21,        // a caller passed something invalid (not from a file)
  bad_archive = 22,         // a ZIP container (torch.save) that is malformed or uses what we do not read
  bad_pickle = 23,          // a pickle stream that is malformed, too big, or uses an opcode we do not run
  forbidden_global = 24,    // a pickle names a class or function outside the allowlist (never executed)
  unknown_architecture = 25,  // tensor names and shapes match no architecture digitlab knows
};

const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::ok;
  std::string field;         // what was being read: "header.magic", "layer[3].out_features", ...
  std::uint64_t offset = 0;  // byte offset in the input where the problem is
  std::string message;       // what is wrong and what to do about it

  // "bad_magic at byte 0 (header.magic): ... " -- one line for logs and the page.
  std::string to_string() const;
};

inline Error make_error(ErrorCode code, std::string field, std::uint64_t offset, std::string message) {
  return Error{code, std::move(field), offset, std::move(message)};
}

// A value or an Error; deliberately tiny (C++17 has no std::expected).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::move(value)) {}
  Result(Error error) : state_(std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  const Error& error() const { return std::get<1>(state_); }

 private:
  std::variant<T, Error> state_;
};

// Result<void>: success or an Error.
struct Ok {};
using Status = Result<Ok>;

}  // namespace digitlab
