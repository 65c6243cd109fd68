#!/usr/bin/python3
"""Makes one language's site files from its table (wasm/i18n/README.md): lang/<code>.txt, the table the app
reads, and lang/<code>.otf, the subset of a CJK font holding exactly the characters its texts use.
Read next: check_translations.py (the checks), web/page.js (what fetches them).

Usage: build_language.py TABLE.tsv CODE FONT.ttc FONT_NUMBER OUT_DIR
Needs Debian's python3-fonttools (run with /usr/bin/python3).
"""
import gzip
import io
import sys

# Chinese adds at most this much to a page's download (issue 17): the table and the font, gzipped.
BUDGET_GZIP_BYTES = 100_000
# The font's units per em are lowered until the two fit: outlines drawn at 13-65 px lose nothing visible
# at 256 units, and little at 128 (one unit is 0.2 px at 26 px).
UNITS_PER_EM_TRIED = (1000, 512, 256, 128)
# ImGui's own font (ProggyClean) draws these; everything else comes from the subset.
PIXEL_FONT = set(range(0x20, 0x7F)) | set(range(0xA0, 0x100))


def read_table(path):
    """[(english, translation, is_data)] in file order; raises ValueError naming the line."""
    entries, data_part = [], False
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip('\n')
            if line == '#@ data':
                data_part = True
                continue
            if not line or line.startswith('#'):
                continue
            fields = line.split('\t')
            if len(fields) != 2 or not fields[0] or not fields[1]:
                raise ValueError(f'{path}:{number}: not "english<TAB>translation"')
            entries.append((unescape(fields[0], path, number), unescape(fields[1], path, number), data_part))
    return entries


def unescape(text, path, number):
    out, i = [], 0
    while i < len(text):
        c = text[i]
        if c == '\\':
            nxt = text[i + 1] if i + 1 < len(text) else ''
            if nxt not in 'nt\\' or not nxt:
                raise ValueError(f'{path}:{number}: bad escape (only \\n, \\t and \\\\ are allowed)')
            out.append({'n': '\n', 't': '\t', '\\': '\\'}[nxt])
            i += 2
        else:
            out.append(c)
            i += 1
    return ''.join(out)


def escape(text):
    return text.replace('\\', '\\\\').replace('\n', '\\n').replace('\t', '\\t')


def table_text(code, entries):
    lines = [f'digitlab-translations 1 {code}']
    lines += [f'{escape(e)}\t{escape(t)}' for e, t, data in entries if not data]
    lines.append('#@ data')
    lines += [f'{escape(e)}\t{escape(t)}' for e, t, data in entries if data]
    return ('\n'.join(lines) + '\n').encode('utf-8')


def subset_font(font_path, font_number, characters, units_per_em):
    from fontTools import subset
    from fontTools.ttLib import TTFont
    from fontTools.ttLib.scaleUpem import scale_upem
    options = subset.Options()
    options.font_number = font_number
    options.hinting = False
    options.desubroutinize = True  # bigger raw, smaller gzipped
    options.layout_features = []   # ImGui does no shaping
    options.name_IDs = [0, 1, 2, 13, 14]  # copyright, family, style, licence and its URL (the OFL asks)
    options.drop_tables += ['BASE', 'GDEF', 'GPOS', 'GSUB', 'VORG', 'vhea', 'vmtx', 'DSIG']
    font = TTFont(font_path, fontNumber=font_number)
    missing = [c for c in characters if ord(c) not in font.getBestCmap()]
    if missing:
        raise ValueError(f'{font_path} (font {font_number}) has no glyph for ' +
                         ', '.join(f'U+{ord(c):04X} {c}' for c in missing[:20]) +
                         ': change the translation, or choose a font that has them')
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=''.join(characters))
    subsetter.subset(font)
    if units_per_em != font['head'].unitsPerEm:
        scale_upem(font, units_per_em)
    # ImGui (stb_truetype) sizes a font by hhea's ascent minus descent; Noto Sans CJK's span 1.448 em, which
    # would draw ideographs at 9 px beside the 13 px pixel font. Spanning exactly one em, the em is the size
    # asked for. (Placement does not change: merged glyphs use the pixel font's baseline.)
    hhea = font['hhea']
    hhea.ascent = round(units_per_em * 0.88)
    hhea.descent = hhea.ascent - units_per_em
    hhea.lineGap = 0
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def main(argv):
    if len(argv) != 6:
        sys.exit(__doc__)
    table_path, code, font_path, font_number, out_dir = argv[1], argv[2], argv[3], int(argv[4]), argv[5]
    try:
        entries = read_table(table_path)
    except (OSError, ValueError) as e:
        sys.exit(f'build_language: {e}')
    text = table_text(code, entries)
    characters = sorted({c for _, t, _ in entries for c in t if ord(c) not in PIXEL_FONT and c not in '\n\t'})
    table_gzip = len(gzip.compress(text, 9))
    for units_per_em in UNITS_PER_EM_TRIED:
        try:
            font = subset_font(font_path, font_number, characters, units_per_em)
        except (OSError, ValueError) as e:
            sys.exit(f'build_language: {e}')
        total = table_gzip + len(gzip.compress(font, 9))
        if total <= BUDGET_GZIP_BYTES:
            break
    with open(f'{out_dir}/{code}.txt', 'wb') as f:
        f.write(text)
    with open(f'{out_dir}/{code}.otf', 'wb') as f:
        f.write(font)
    print(f'{code}: {len(entries)} texts, {len(characters)} glyphs, {units_per_em} units per em; '
          f'{total} B gzipped (table {table_gzip}, font {total - table_gzip}; budget {BUDGET_GZIP_BYTES})')
    if total > BUDGET_GZIP_BYTES:
        print(f'build_language: warning: {code} is over its budget even at {units_per_em} units per em; '
              'the check i18n.tables fails', file=sys.stderr)


if __name__ == '__main__':
    main(sys.argv)
