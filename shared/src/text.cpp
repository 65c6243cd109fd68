// text.hpp: thousands separators and printf into a std::string. Read next: digitlab/text.hpp.
#include "digitlab/text.hpp"

#include <cstdarg>
#include <cstdio>

namespace digitlab {

std::string with_thousands(std::int64_t value) {
  // Through uint64 so that INT64_MIN has a magnitude too.
  const std::uint64_t magnitude = value < 0 ? 0 - std::uint64_t(value) : std::uint64_t(value);
  const std::string digits = std::to_string(magnitude);
  std::string out = value < 0 ? "-" : "";
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string format_text(const char* format, ...) {
  char small[256];
  std::va_list arguments;
  va_start(arguments, format);
  const int length = std::vsnprintf(small, sizeof small, format, arguments);
  va_end(arguments);
  if (length < 0) return std::string();
  if (std::size_t(length) < sizeof small) return std::string(small, std::size_t(length));
  std::string text(std::size_t(length) + 1, '\0');
  va_start(arguments, format);
  std::vsnprintf(&text[0], text.size(), format, arguments);
  va_end(arguments);
  text.resize(std::size_t(length));
  return text;
}

}  // namespace digitlab
