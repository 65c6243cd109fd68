#!/usr/bin/python3
"""Checks the translation tables against the sources and the built fonts (the ctest test i18n.tables):
every text the sources show through tr() has an entry in every table and no entry is stale; a format
string's translation keeps its conversions in order; every character of every text the app draws is in
the font that draws it; each language's download stays within its budget. Prints the evidence on failure.
Read next: README.md beside this file, build_language.py.

Usage: check_translations.py REPO_ROOT BUILT_LANG_DIR
"""
import gzip
import html
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from build_language import BUDGET_GZIP_BYTES, PIXEL_FONT, read_table  # noqa: E402

LANGUAGES = ('zh-Hant', 'zh-Hans')
CPP_TR = re.compile(r'\btr\(\s*"((?:[^"\\\n]|\\.)*)"\s*\)')
JS_TR = re.compile(r'''\btr\(\s*(['"])((?:(?!\1)[^\\\n]|\\.)*)\1\s*[,)]''')
HTML_TR = re.compile(r'<(\w+)\b([^>]*)\bdata-tr(?![-\w])([^>]*)>(.*?)</\1>', re.S)
HTML_LABEL = re.compile(r'<\w+\b[^>]*\bdata-tr-label\b[^>]*>', re.S)
ARIA_LABEL = re.compile(r'\baria-label="([^"]*)"')
C_CONVERSION = re.compile(r'%[-+ #0]*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|z|j|t|L)?[diouxXeEfFgGcsp%]')
C_ESCAPES = {'n': '\n', 't': '\t', '"': '"', "'": "'", '\\': '\\', '?': '?'}


def decode_c(text, where):
    out, i = [], 0
    while i < len(text):
        if text[i] == '\\':
            nxt = text[i + 1]
            if nxt not in C_ESCAPES:
                raise ValueError(f'{where}: escape \\{nxt} in a tr() text: write the character itself')
            out.append(C_ESCAPES[nxt])
            i += 2
        else:
            out.append(text[i])
            i += 1
    return ''.join(out)


def source_texts(root):
    """{text: (kind, 'file:line')}, kind 'app' (drawn by ImGui) or 'page' (drawn by the browser)."""
    texts = {}
    for folder, kinds in (('wasm', ('.cpp', '.hpp')), ('web', ('.js', '.html'))):
        for base, _, files in os.walk(os.path.join(root, folder)):
            for name in sorted(files):
                if not name.endswith(kinds):
                    continue
                path = os.path.join(base, name)
                source = open(path, encoding='utf-8').read()
                rel = os.path.relpath(path, root)
                line_of = lambda m: f'{rel}:{source.count(chr(10), 0, m.start()) + 1}'  # noqa: E731
                if name.endswith(('.cpp', '.hpp')):
                    for m in CPP_TR.finditer(source):
                        texts.setdefault(decode_c(m.group(1), line_of(m)), ('app', line_of(m)))
                elif name.endswith('.js'):
                    for m in JS_TR.finditer(source):
                        texts.setdefault(decode_c(m.group(2), line_of(m)), ('page', line_of(m)))
                else:
                    for m in HTML_TR.finditer(source):
                        text = ' '.join(html.unescape(re.sub(r'<[^>]+>', '', m.group(4))).split())
                        texts.setdefault(text, ('page', line_of(m)))
                    for m in HTML_LABEL.finditer(source):
                        label = ARIA_LABEL.search(m.group(0))
                        if label:
                            texts.setdefault(html.unescape(label.group(1)), ('page', line_of(m)))
    return texts


def conversions(text, kind):
    return [c for c in C_CONVERSION.findall(text)] if kind == 'app' else re.findall(r'%s', text)


def main(argv):
    if len(argv) != 3:
        sys.exit(__doc__)
    root, built = argv[1], argv[2]
    problems = []
    try:
        texts = source_texts(root)
    except ValueError as e:
        sys.exit(f'FAIL: {e}')
    app_texts = {t for t, (kind, _) in texts.items() if kind == 'app'}
    for text in sorted(app_texts):
        bad = sorted({c for c in text if ord(c) not in PIXEL_FONT and c not in '\n\t'})
        if bad:
            problems.append(f'{texts[text][1]}: the English text {text!r} has {bad}, which ImGui\'s font lacks '
                            '(it has Latin-1 only): write them in ASCII')
    for code in LANGUAGES:
        table_path = os.path.join(root, 'wasm', 'i18n', f'{code}.tsv')
        try:
            entries = read_table(table_path)
        except (OSError, ValueError) as e:
            problems.append(str(e))
            continue
        table = {}
        for english, translation, data in entries:
            if english in table:
                problems.append(f'{code}.tsv: {english!r} is there twice')
            table[english] = (translation, data)
        missing = [t for t in texts if t not in table]
        for text in missing[:40]:
            problems.append(f'{code}.tsv has no entry for {text!r} ({texts[text][1]})')
        if len(missing) > 40:
            problems.append(f'{code}.tsv: and {len(missing) - 40} more texts without an entry')
        for english, (translation, data) in table.items():
            if not data and english not in texts:
                problems.append(f'{code}.tsv: {english!r} is not a tr() text in the sources any more (stale; move '
                                'texts that come from data below "#@ data")')
            kind = texts.get(english, ('app', ''))[0]
            if conversions(english, kind) != conversions(translation, kind):
                problems.append(f'{code}.tsv: {english!r} has the conversions {conversions(english, kind)}, its '
                                f'translation {translation!r} has {conversions(translation, kind)}')
        font_path = os.path.join(built, f'{code}.otf')
        table_file = os.path.join(built, f'{code}.txt')
        try:
            from fontTools.ttLib import TTFont
            cmap = set(TTFont(font_path).getBestCmap())
            size = len(gzip.compress(open(font_path, 'rb').read(), 9)) + \
                len(gzip.compress(open(table_file, 'rb').read(), 9))
        except OSError as e:
            problems.append(f'{code}: the built files are missing ({e}): build the site (make demo) first')
            continue
        glyphless = {}
        for english, (translation, data) in table.items():
            if not data and texts.get(english, ('page',))[0] != 'app':
                continue  # the page's own texts are drawn by the browser's fonts
            for c in translation:
                if ord(c) not in PIXEL_FONT and ord(c) not in cmap and c not in '\n\t':
                    glyphless.setdefault(c, english)
        for c, english in list(glyphless.items())[:20]:
            problems.append(f'{code}: U+{ord(c):04X} {c} (in the translation of {english!r}) is in no font the app '
                            f'draws with ({font_path})')
        print(f'{code}: {len(table)} entries, {len(cmap)} glyphs in {code}.otf, {size} B gzipped '
              f'(budget {BUDGET_GZIP_BYTES})')
        if size > BUDGET_GZIP_BYTES:
            problems.append(f'{code}: the table and font are {size} B gzipped, over the budget of {BUDGET_GZIP_BYTES}')
    print(f'{len(texts)} texts in the sources ({len(app_texts)} drawn by the app, {len(texts) - len(app_texts)} '
          'by the page)')
    if problems:
        print(f'FAIL: {len(problems)} problems')
        for p in problems:
            print('  ' + p)
        sys.exit(1)
    print('ok: every text has its translations, conversions and glyphs')


if __name__ == '__main__':
    main(sys.argv)
