// The app's texts in the reader's language (English, Traditional or Simplified Chinese). Every text is
// written in English in the source and shown through tr(); the other languages are tables the page fetches
// only when one is shown. Read next: wasm/i18n/README.md (the table, the font subset), web/page.js.
#pragma once

#include <string>
#include <string_view>

namespace digitlab::app {

// The languages the app is written in. English is the source text itself: it needs no table.
enum class Language { english, traditional_chinese, simplified_chinese };

// "en", "zh-Hant", "zh-Hans": the `?lang=` values, the <html lang> and the table's file name.
const char* language_code(Language language);

// The language a code names (en, zh-Hant, zh-Hans, in any letter case: the `lang=` values); false if none.
bool language_from_code(std::string_view code, Language& language);

// The shown language's text for `english` (a format string keeps its % conversions in the same order), or
// `english` itself when English is shown or the table has no entry for it. Never fails, never allocates:
// the returned pointer lives until the next set_translations() (so: use it at once, like a literal).
const char* tr(const char* english);
const char* tr(const std::string& english);

// Replaces the table with `table`'s text (the format wasm/i18n/README.md gives: a first line
// "digitlab-translations 1 <code>", then "english<TAB>translation" lines with \n, \t and \\ escaped; the
// entries after a line "#@ data" are texts that come from data; other lines starting with '#' are skipped).
// A table that does not parse is refused whole (the app keeps English) with `error` saying why.
bool set_translations(std::string table, std::string& error);
void clear_translations();  // back to English
Language current_language();

// Every character the table's translations draw, each once (the font subset has them all); with
// `data_only`, those of the texts that come from data (the table's "#@ data" part: class names), which the
// predicted label's big font needs.
std::u32string translated_characters(bool data_only);

}  // namespace digitlab::app
