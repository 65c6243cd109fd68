// Atomic writes: temporary file next to the target, fsync, rename, fsync of the folder (POSIX). The rename
// is what makes it atomic; the fsyncs make it survive a power cut, not only a killed process.
// Read next: checkpoint.cpp.
#include "atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace digitlab::trainer {

namespace {

Error io_error(const std::string& what, const std::string& path, int error_number) {
  return make_error(ErrorCode::io, "path", 0, what + " " + path + ": " + std::strerror(error_number));
}

}  // namespace

Status write_file_atomically(const std::string& path, const void* data, std::size_t size) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  fs::path folder = target.parent_path();
  if (folder.empty()) folder = ".";
  std::error_code ec;
  fs::create_directories(folder, ec);
  if (ec) return make_error(ErrorCode::io, "path", 0, "cannot create folder " + folder.string() + ": " + ec.message());

  // mkstemp gives a unique name, so two runs writing the same target never share a temporary file.
  std::string temporary = (folder / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  const int fd = ::mkstemp(temporary.data());
  if (fd < 0) return io_error("cannot create a temporary file in", folder.string(), errno);
  ::fchmod(fd, 0644);  // mkstemp makes 0600; weights and records are meant to be shared

  const auto* bytes = static_cast<const std::uint8_t*>(data);
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, bytes + written, size - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error_number = n < 0 ? errno : EIO;
      ::close(fd);
      ::unlink(temporary.c_str());
      return io_error("cannot write", temporary, error_number);
    }
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    const int error_number = errno;
    ::close(fd);
    ::unlink(temporary.c_str());
    return io_error("cannot fsync", temporary, error_number);
  }
  if (::close(fd) != 0) {
    const int error_number = errno;
    ::unlink(temporary.c_str());
    return io_error("cannot close", temporary, error_number);
  }
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    const int error_number = errno;
    ::unlink(temporary.c_str());
    return io_error("cannot rename the temporary file onto", path, error_number);
  }
  // The rename lives in the folder's metadata: sync it too (best effort: some file systems refuse).
  const int folder_fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY);
  if (folder_fd >= 0) {
    ::fsync(folder_fd);
    ::close(folder_fd);
  }
  return Ok{};
}

Status write_file_atomically(const std::string& path, const std::string& text) {
  return write_file_atomically(path, text.data(), text.size());
}

Status write_file_atomically(const std::string& path, const std::vector<std::uint8_t>& bytes) {
  return write_file_atomically(path, bytes.data(), bytes.size());
}

}  // namespace digitlab::trainer
