// Crash-safe file writes: every file the trainer writes (weights, run records, checkpoints, sweep tables)
// goes through write_file_atomically. Read next: checkpoint.hpp (the largest user).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "digitlab/error.hpp"

namespace digitlab::trainer {

// Writes bytes to a temporary file in the same folder, fsyncs it, renames it over path and fsyncs the
// folder: a crash at any moment leaves either the previous file or the complete new one, never a half
// written file. Creates missing parent folders. Errors: io, naming the path and the OS reason.
Status write_file_atomically(const std::string& path, const void* data, std::size_t size);
Status write_file_atomically(const std::string& path, const std::string& text);
Status write_file_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes);

}  // namespace digitlab::trainer
