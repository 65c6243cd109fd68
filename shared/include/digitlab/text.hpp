// Small text helpers every part of digitlab words its numbers with: the trainer's console, `digitlab info`,
// the app and its panels. One copy, so "1,234,567" reads the same in the terminal and in the page.
// Read next: shared/src/text.cpp.
#pragma once

#include <cstdint>
#include <string>

namespace digitlab {

// 1234567 -> "1,234,567"; -1000 -> "-1,000".
std::string with_thousands(std::int64_t value);

// printf into a std::string (sentences with numbers and names, without a chain of operator+; smaller in
// the browser than iostreams or fmt).
std::string format_text(const char* format, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

}  // namespace digitlab
