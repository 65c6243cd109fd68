// Compares two parity_probe outputs (native and WebAssembly): the same cases, the same predicted classes,
// max |logit difference| <= 1e-4 (and the same for probabilities and preprocessed images). Prints the
// largest difference it saw and how many values were bit-identical. Read next: tests/parity.cmake.
//
//   parity_compare NATIVE.txt WASM.txt
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Entry {
  std::vector<std::string> tokens;  // after "<kind> <name>"
};
using Table = std::map<std::string, Entry>;  // key: "<kind> <name>"

bool read_table(const char* path, Table& table) {
  std::ifstream file(path);
  if (!file) {
    std::fprintf(stderr, "cannot read %s\n", path);
    return false;
  }
  std::string line;
  while (std::getline(file, line)) {
    std::istringstream words(line);
    std::string kind, name, token;
    if (!(words >> kind >> name)) continue;
    Entry entry;
    while (words >> token) entry.tokens.push_back(token);
    table[kind + " " + name] = entry;
  }
  return !table.empty();
}

float from_bits(const std::string& hex) {
  const std::uint32_t bits = static_cast<std::uint32_t>(std::stoul(hex, nullptr, 16));
  float v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: parity_compare NATIVE.txt WASM.txt\n");
    return 2;
  }
  Table native, wasm;
  if (!read_table(argv[1], native) || !read_table(argv[2], wasm)) return 1;
  int failures = 0, labels = 0;
  std::map<std::string, double> largest;  // per kind
  std::map<std::string, std::string> where;
  std::size_t values = 0, identical = 0;
  for (const auto& [key, a] : native) {
    auto found = wasm.find(key);
    if (found == wasm.end()) {
      std::printf("MISSING in wasm output: %s\n", key.c_str());
      ++failures;
      continue;
    }
    const Entry& b = found->second;
    const std::string kind = key.substr(0, key.find(' '));
    if (kind == "label") {
      ++labels;
      if (a.tokens != b.tokens) {
        std::printf("DIFFERENT CLASS %s: native %s, wasm %s\n", key.c_str(), a.tokens[0].c_str(), b.tokens[0].c_str());
        ++failures;
      }
      continue;
    }
    if (a.tokens.size() != b.tokens.size()) {
      std::printf("DIFFERENT SIZE %s\n", key.c_str());
      ++failures;
      continue;
    }
    for (std::size_t i = 1; i < a.tokens.size(); ++i) {  // token 0 is the count
      ++values;
      identical += a.tokens[i] == b.tokens[i] ? 1 : 0;
      const double d = std::fabs(double(from_bits(a.tokens[i])) - double(from_bits(b.tokens[i])));
      const double recorded = std::isnan(d) ? (a.tokens[i] == b.tokens[i] ? 0.0 : INFINITY) : d;
      if (recorded > largest[kind] || !where.count(kind)) {
        if (recorded >= largest[kind]) {
          largest[kind] = recorded;
          where[kind] = key.substr(key.find(' ') + 1) + "[" + std::to_string(i - 1) + "]";
        }
      }
    }
  }
  for (const auto& [key, b] : wasm) {
    if (!native.count(key)) {
      std::printf("MISSING in native output: %s\n", key.c_str());
      ++failures;
    }
  }
  std::printf("parity native vs wasm: %d cases, %zu values, %zu bit-identical\n", labels, values, identical);
  for (const auto& [kind, d] : largest) {
    std::printf("  largest |%s difference| = %.3g (at %s)\n", kind.c_str(), d, where[kind].c_str());
    if (!(d <= 1e-4)) {
      std::printf("  FAIL: %s differ by more than 1e-4\n", kind.c_str());
      ++failures;
    }
  }
  if (failures) std::printf("FAILED: %d problem(s)\n", failures);
  return failures ? 1 : 0;
}
