// weights/manifest.json as the page reads it (web/manifest.js, which web/page.js uses): every case of
// tests/data/manifest-cases.json, the same cases test_manifest.cpp runs on the desktop's reader. Plain node,
// no browser: node tests/app/test_manifest.mjs [--cases FILE]. Read next: web/manifest.js, test_manifest.cpp.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {createRequire} from 'node:module';
import {fileURLToPath} from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const source = path.resolve(here, '../..');
const argument = process.argv.indexOf('--cases');
const casesFile = argument > 0 ? process.argv[argument + 1] : path.join(source, 'tests/data/manifest-cases.json');
const {readManifestText} = createRequire(import.meta.url)(path.join(source, 'web/manifest.js'));

const {cases} = JSON.parse(fs.readFileSync(casesFile, 'utf8'));
let failures = 0;
const check = (what, got, want) => {
  try {
    assert.deepStrictEqual(got, want);
  } catch (e) {
    failures += 1;
    console.log(`FAILED: ${what}\n  got  ${JSON.stringify(got)}\n  want ${JSON.stringify(want)}`);
  }
};
// A listed row's missing fields read as their defaults (the case file's "about" says which).
const modelWanted = (row) => ({
  name: row.name ?? '', file: row.file ?? '', architecture: row.architecture ?? '', dataset: row.dataset ?? '',
  dtype: row.dtype ?? '', accuracy: row.test_accuracy ?? -1, bytes: row.bytes ?? 0, sha256: row.sha256 ?? '',
  isDefault: row.default ?? false, record: row.record ?? '',
});
const sweepWanted = (row) => ({name: row.name ?? '', file: row.file ?? '', about: row.about ?? ''});

if (!Array.isArray(cases) || cases.length < 10) {
  console.log(`${casesFile} has ${cases ? cases.length : 'no'} cases; expected at least 10.`);
  process.exit(1);
}
for (const one of cases) {
  // Same as the C++ test: a manifest given as a JSON value is read from its compact text.
  const text = 'text' in one ? one.text : JSON.stringify(one.manifest);
  const got = readManifestText(text);
  check(`${one.name}: problems`, got.problems, one.problems);
  check(`${one.name}: models`, got.models, one.models.map(modelWanted));
  check(`${one.name}: sweeps`, got.sweeps, one.sweeps.map(sweepWanted));
}
console.log(`${cases.length} manifest cases, ${failures} failed (${casesFile})`);
process.exit(failures ? 1 : 0);
