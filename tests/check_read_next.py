#!/usr/bin/env python3
# Every file named after "Read next:" in the tree must exist (relative to the file, the repository root,
# wasm/, shared/include/ or tests/): the reading order a file gives stays true. Prints each stale
# pointer and exits 1 if there is one. Usage: tests/check_read_next.py [ROOT]. Read next: tests/CMakeLists.txt.
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
tops = ['shared', 'native', 'wasm', 'tests', 'scripts', 'web', 'docs']
files = []
for t in tops:
    for d, ds, fs in os.walk(os.path.join(root, t)):
        ds[:] = [x for x in ds if x not in ('node_modules', 'build')]
        files += [os.path.join(d, f) for f in fs]
files += [os.path.join(root, f) for f in ('README.md', 'CMakeLists.txt', 'Makefile')]
allpaths = set(os.path.relpath(f, root) for f in files)
tok = re.compile(r'`?([A-Za-z0-9_./*-]+\.(?:cpp|hpp|html|h|inc|md|mjs|json|js|py|sh|cmake|txt)(?![A-Za-z0-9])|[A-Za-z0-9_./-]+/|scripts/[a-z0-9-]+|CMakeLists\.txt)`?')
bad = 0
for f in files:
    try: lines = open(f, encoding='utf-8').read().split('\n')
    except Exception: continue
    for i, line in enumerate(lines):
        if 'Read next' not in line: continue
        text = line[line.index('Read next'):]
        # the pointer may continue on the next comment lines
        j = i + 1
        while j < len(lines) and j < i + 3 and re.match(r'\s*(//|#)\s', lines[j]) and not re.search(r'[.]\s*$', text.rstrip(' )')):
            text += ' ' + lines[j]; j += 1
        text = text.split(':', 1)[1] if ':' in text else text
        rel = os.path.relpath(f, root); d = os.path.dirname(rel)
        for m in tok.finditer(text):
            name = m.group(1).rstrip('.,;)')
            if not name or name.startswith('http'): continue
            cands = [os.path.normpath(os.path.join(d, name)), os.path.normpath(name)] + [os.path.normpath(os.path.join(r, name)) for r in ('wasm', 'shared/include', 'tests')]
            found = None
            for c in cands:
                if '*' in c:
                    import glob
                    if glob.glob(os.path.join(root, c)): found = c; break
                elif os.path.exists(os.path.join(root, c)): found = c; break
            if found: continue
            base = os.path.basename(name.rstrip('/'))
            elsewhere = [p for p in allpaths if p.endswith('/' + name) or os.path.basename(p) == base]
            bad += 1
            print(f'{rel}:{i+1}: {name!r} -> ' + ('MISSING' if not elsewhere else 'not relative; exists as ' + ', '.join(sorted(elsewhere)[:3])))
print(bad, 'unresolved')
sys.exit(1 if bad else 0)
