// Whole-file reads with a size budget, and recognising files of the wrong kind for better messages.
// Read next: inflate.cpp.
#include "digitlab/bytes.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace digitlab {

Result<std::vector<std::uint8_t>> read_file(const std::string& path, std::uint64_t max_bytes) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) return make_error(ErrorCode::io, "path", 0, "cannot open " + path + ": " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  std::uint8_t chunk[1 << 16];
  for (;;) {
    std::size_t n = std::fread(chunk, 1, sizeof chunk, file);
    if (n == 0) break;
    if (bytes.size() + n > max_bytes) {
      std::fclose(file);
      return make_error(ErrorCode::over_budget, "path", bytes.size(),
                        path + " is larger than the " + std::to_string(max_bytes) + "-byte limit for this kind of file");
    }
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  bool failed = std::ferror(file) != 0;
  std::fclose(file);
  if (failed) return make_error(ErrorCode::io, "path", bytes.size(), "error while reading " + path);
  return bytes;
}

static bool starts_with(ByteSpan bytes, const char* prefix) {
  std::size_t n = std::strlen(prefix);
  return bytes.size >= n && std::memcmp(bytes.data, prefix, n) == 0;
}

std::string sniff_file_kind(ByteSpan bytes) {
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n")) return "a PNG image";
  if (starts_with(bytes, "\x89" "DLW")) return "a digitlab weights file";
  if (bytes.size >= 2 && bytes.data[0] == 0x1f && bytes.data[1] == 0x8b) return "a gzip stream";
  if (starts_with(bytes, "PK\x03\x04")) return "a zip archive (a PyTorch .pt/.pth checkpoint is one)";
  if (bytes.size >= 4 && bytes.data[0] == 0 && bytes.data[1] == 0 && bytes.data[2] == 0x08 &&
      (bytes.data[3] == 1 || bytes.data[3] == 3))
    return "an idx file (MNIST data)";
  // Text that looks like a web page or JSON (a server's error page saved instead of the file).
  std::size_t i = 0;
  while (i < bytes.size && i < 64 && (bytes.data[i] == ' ' || bytes.data[i] == '\n' || bytes.data[i] == '\r' ||
                                      bytes.data[i] == '\t' || bytes.data[i] == 0xEF || bytes.data[i] == 0xBB ||
                                      bytes.data[i] == 0xBF))
    ++i;
  ByteSpan rest = bytes.subspan(i, bytes.size - i);
  if (starts_with(rest, "<!") || starts_with(rest, "<html") || starts_with(rest, "<HTML") || starts_with(rest, "<?xml"))
    return "an HTML page (perhaps a server's error page saved instead of the file)";
  if (starts_with(rest, "{") || starts_with(rest, "[")) return "a JSON document";
  return "";
}

}  // namespace digitlab
