// Names and one-line formatting of errors. Read next: bytes.cpp.
#include "digitlab/error.hpp"

namespace digitlab {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::ok: return "ok";
    case ErrorCode::io: return "io";
    case ErrorCode::truncated: return "truncated";
    case ErrorCode::bad_magic: return "bad_magic";
    case ErrorCode::bad_version: return "bad_version";
    case ErrorCode::bad_dtype: return "bad_dtype";
    case ErrorCode::bad_dimensions: return "bad_dimensions";
    case ErrorCode::size_overflow: return "size_overflow";
    case ErrorCode::over_budget: return "over_budget";
    case ErrorCode::offset_out_of_range: return "offset_out_of_range";
    case ErrorCode::overlapping: return "overlapping";
    case ErrorCode::trailing_bytes: return "trailing_bytes";
    case ErrorCode::checksum_mismatch: return "checksum_mismatch";
    case ErrorCode::self_test_failed: return "self_test_failed";
    case ErrorCode::bad_layer: return "bad_layer";
    case ErrorCode::shape_mismatch: return "shape_mismatch";
    case ErrorCode::bad_value: return "bad_value";
    case ErrorCode::count_mismatch: return "count_mismatch";
    case ErrorCode::bad_gzip: return "bad_gzip";
    case ErrorCode::wrong_file_kind: return "wrong_file_kind";
    case ErrorCode::empty_input: return "empty_input";
    case ErrorCode::bad_argument: return "bad_argument";
    case ErrorCode::bad_archive: return "bad_archive";
    case ErrorCode::bad_pickle: return "bad_pickle";
    case ErrorCode::forbidden_global: return "forbidden_global";
    case ErrorCode::unknown_architecture: return "unknown_architecture";
  }
  return "unknown";
}

std::string Error::to_string() const {
  std::string text = error_code_name(code);
  text += " at byte " + std::to_string(offset);
  if (!field.empty()) text += " (" + field + ")";
  text += ": " + message;
  return text;
}

}  // namespace digitlab
