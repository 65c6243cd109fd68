// The translation table behind tr(): parsed once in place, then looked up by the English text. No ImGui.
// Read next: i18n.hpp, wasm/i18n/README.md.
#include "i18n.hpp"

#include <algorithm>
#include <cctype>
#include <vector>

namespace digitlab::app {
namespace {

struct Table {
  std::string text;  // the table's bytes, unescaped in place: every english and translation ends in '\0'
  // (english, translation), both in `text`, sorted by english: a sorted vector is a few hundred bytes of wasm
  // where a hash map is kilobytes, and a lookup is ~10 comparisons.
  std::vector<std::pair<std::string_view, const char*>> entries;
  std::vector<const char*> data_translations;                  // those of the "#@ data" part
  Language language = Language::english;
};

Table& table() {
  static Table the_table;
  return the_table;
}

// Unescapes one field in place (from `begin` up to `end`), writes its '\0' and returns its length.
std::size_t unescape(std::string& text, std::size_t begin, std::size_t end, bool& ok) {
  std::size_t out = begin;
  for (std::size_t i = begin; i < end; ++i) {
    char c = text[i];
    if (c == '\\') {
      if (i + 1 >= end) { ok = false; break; }
      const char next = text[++i];
      c = next == 'n' ? '\n' : next == 't' ? '\t' : next == '\\' ? '\\' : '\0';
      if (c == '\0') { ok = false; break; }
    }
    text[out++] = c;
  }
  text[out] = '\0';
  return out - begin;
}

}  // namespace

const char* language_code(Language language) {
  switch (language) {
    case Language::traditional_chinese: return "zh-Hant";
    case Language::simplified_chinese: return "zh-Hans";
    case Language::english: break;
  }
  return "en";
}

bool language_from_code(std::string_view code, Language& language) {
  for (const Language candidate : {Language::english, Language::traditional_chinese, Language::simplified_chinese}) {
    const std::string_view name = language_code(candidate);
    bool same = name.size() == code.size();
    for (std::size_t i = 0; same && i < name.size(); ++i)
      same = std::tolower(static_cast<unsigned char>(code[i])) == std::tolower(static_cast<unsigned char>(name[i]));
    if (same) {
      language = candidate;
      return true;
    }
  }
  return false;
}

const char* tr(const char* english) {
  const Table& t = table();
  if (t.entries.empty() || english == nullptr) return english;
  const std::string_view key(english);
  const auto found = std::lower_bound(t.entries.begin(), t.entries.end(), key,
                                      [](const auto& entry, std::string_view k) { return entry.first < k; });
  return found != t.entries.end() && found->first == key ? found->second : english;
}

const char* tr(const std::string& english) { return tr(english.c_str()); }

bool set_translations(std::string text, std::string& error) {
  constexpr std::string_view kMagic = "digitlab-translations 1 ";
  const std::size_t first_end = text.find('\n');
  if (text.compare(0, kMagic.size(), kMagic) != 0 || first_end == std::string::npos) {
    error = "not a digitlab translation table (it must start with \"digitlab-translations 1 <language>\"); "
            "rebuild the site with the wasm preset";
    return false;
  }
  const std::string code = text.substr(kMagic.size(), first_end - kMagic.size());
  Language language = Language::english;
  // The build writes the code exactly as language_code() spells it.
  if (!language_from_code(code, language) || language == Language::english || code != language_code(language)) {
    error = "the translation table is for \"" + code.substr(0, 20) + "\"; the app has zh-Hant and zh-Hans";
    return false;
  }
  std::string t = std::move(text);
  t.push_back('\n');  // every line, the last included, ends in '\n' (its '\0' goes there)
  struct Field { std::size_t english, translation; bool data; };  // offsets into t
  std::vector<Field> fields;
  bool data_part = false;
  int line_number = 1;
  for (std::size_t start = first_end + 1; start < t.size(); ++line_number) {
    const std::size_t end = t.find('\n', start);
    if (end == start || t[start] == '#') {  // blank lines and comments
      if (t.compare(start, end - start, "#@ data") == 0) data_part = true;
      start = end + 1;
      continue;
    }
    const std::size_t tab = t.find('\t', start);
    if (tab == std::string::npos || tab > end || t.find('\t', tab + 1) < end) {
      error = "line " + std::to_string(line_number + 1) + " of the translation table is not \"english<TAB>translation\"";
      return false;
    }
    bool ok = true;
    const std::size_t english_length = unescape(t, start, tab, ok);
    const std::size_t translation_length = unescape(t, tab + 1, end, ok);
    if (!ok || english_length == 0 || translation_length == 0) {
      error = "line " + std::to_string(line_number + 1) + " of the translation table has an empty text or a bad "
              "escape (only \\n, \\t and \\\\ are allowed)";
      return false;
    }
    fields.push_back({start, tab + 1, data_part});
    start = end + 1;
  }
  Table& live = table();
  live = Table{};
  live.language = language;
  live.text = std::move(t);  // the fields are offsets, so they hold in the moved text too
  live.entries.reserve(fields.size());
  for (const Field& field : fields) {
    const char* translation = live.text.data() + field.translation;
    live.entries.emplace_back(std::string_view(live.text.data() + field.english), translation);
    if (field.data) live.data_translations.push_back(translation);
  }
  std::sort(live.entries.begin(), live.entries.end());
  return true;
}

void clear_translations() { table() = Table{}; }

Language current_language() { return table().language; }

std::u32string translated_characters(bool data_only) {
  std::vector<const char*> texts = table().data_translations;
  if (!data_only)
    for (const auto& entry : table().entries) texts.push_back(entry.second);
  std::u32string out;
  for (const char* translation : texts) {
    for (const unsigned char* p = reinterpret_cast<const unsigned char*>(translation); *p;) {
      char32_t c = *p;
      int more = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
      if (more > 0) c &= 0x3Fu >> more;
      ++p;
      for (; more > 0 && (*p & 0xC0) == 0x80; --more, ++p) c = (c << 6) | (*p & 0x3Fu);
      out.push_back(c);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace digitlab::app
