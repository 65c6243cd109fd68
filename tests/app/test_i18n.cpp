// The translation table behind tr() (wasm/common/i18n.hpp): lookups by the English text, escapes, the "#@ data"
// part, refusal of a damaged table whole (English stays), and the characters the font subset must hold.
// Read next: wasm/i18n/README.md, tests/browser/languages.test.mjs (the same in the page).
#include <catch2/catch.hpp>

#include <string>

#include "common/i18n.hpp"

using namespace digitlab::app;

namespace {
const std::string kTable =
    "digitlab-translations 1 zh-Hant\n"
    "Clear\t清除\n"
    "# a comment\n"
    "\n"
    "%d of %d images\t第 %d 張，共 %d 張\n"
    "Two\\nlines\t兩\\n行\n"
    "#@ data\n"
    "Bag\t包包\n";
}  // namespace

TEST_CASE("tr() gives the table's text for an English one, and the English itself otherwise", "[app][i18n]") {
  clear_translations();
  CHECK(std::string(tr("Clear")) == "Clear");
  CHECK(current_language() == Language::english);
  std::string error;
  REQUIRE(set_translations(kTable, error));
  CHECK(error.empty());
  CHECK(current_language() == Language::traditional_chinese);
  CHECK(std::string(language_code(current_language())) == "zh-Hant");
  CHECK(std::string(tr("Clear")) == "清除");
  CHECK(std::string(tr("%d of %d images")) == "第 %d 張，共 %d 張");
  CHECK(std::string(tr("Two\nlines")) == "兩\n行");
  CHECK(std::string(tr(std::string("Bag"))) == "包包");  // a text from data (a class name)
  CHECK(std::string(tr("Not in the table")) == "Not in the table");
  clear_translations();
  CHECK(std::string(tr("Clear")) == "Clear");
}

TEST_CASE("the characters of the translations, and of the data part alone", "[app][i18n]") {
  std::string error;
  REQUIRE(set_translations(kTable, error));
  const std::u32string all = translated_characters(false), data = translated_characters(true);
  CHECK(data == U"包");
  for (const char32_t c : std::u32string(U"清除第張共兩行包，%d\n")) CHECK(all.find(c) != std::u32string::npos);
  for (std::size_t i = 1; i < all.size(); ++i) CHECK(all[i - 1] < all[i]);  // each once, sorted
  clear_translations();
}

TEST_CASE("a damaged table is refused whole, with the reason, and the shown language stays", "[app][i18n]") {
  std::string error;
  REQUIRE(set_translations(kTable, error));
  const struct { const char* table; const char* says; } cases[] = {
      {"", "not a digitlab translation table"},
      {"<html>404</html>\n", "not a digitlab translation table"},
      {"digitlab-translations 1 fr\nClear\tEffacer\n", "\"fr\""},
      {"digitlab-translations 1 zh-Hans\nClear 清除\n", "line 2"},
      {"digitlab-translations 1 zh-Hans\nA\tB\tC\n", "line 2"},
      {"digitlab-translations 1 zh-Hans\nOk\t好\nBad\\q\t坏\n", "line 3"},
      {"digitlab-translations 1 zh-Hans\n\t空\n", "empty"},
  };
  for (const auto& c : cases) {
    INFO(c.table);
    error.clear();
    CHECK_FALSE(set_translations(c.table, error));
    CHECK(error.find(c.says) != std::string::npos);
    CHECK(std::string(tr("Clear")) == "清除");  // the earlier table is kept
  }
  clear_translations();
}
